"""EDAX HDF5: `<scan>/EBSD/Data/{Pattern, X Position, Y Position, IQ, CI, ...}` and
`<scan>/EBSD/Header/{nRows, nColumns, Step X, Step Y}`. Top-level names start with a space
(" Manufacturer") and some numbers are big-endian; h5py returns them native."""
from __future__ import annotations

from ..errors import InputError
from ._hdf5 import find_scan, sniff_h5
from ._scan import ScanLayout, ScanReader, required_header
from .base import register

PATTERNS = "EBSD/Data/Pattern"


@register
class EdaxReader(ScanReader):
    format_name = "edax"
    extensions = (".h5", ".hdf5", ".oh5")
    description = "EBSD scan in EDAX's HDF5 layout (IQ and CI as scan maps)"

    @classmethod
    def sniff(cls, path):
        return sniff_h5(path, lambda f: find_scan(f, PATTERNS) is not None)

    def _layout(self, f):
        scan = find_scan(f, PATTERNS, self.scan)
        if scan is None:
            raise InputError(f"not an EDAX file: no '<scan>/{PATTERNS}' dataset", self.path)
        n_rows, n_columns, step_x, step_y = required_header(
            f[f"{scan}/EBSD/Header"], ("nRows", "nColumns", "Step X", "Step Y"), self.path)
        data = f"{scan}/EBSD/Data"
        return ScanLayout(scan, f"{scan}/{PATTERNS}", int(n_rows), int(n_columns), float(step_x),
                          float(step_y), x=f"{data}/X Position", y=f"{data}/Y Position",
                          maps_group=data, not_maps=("X Position", "Y Position"))
