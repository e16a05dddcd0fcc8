"""Oxford Instruments H5OINA: `<n>/EBSD/Data/{Processed Patterns, Band Contrast, X, Y, ...}` and
`<n>/EBSD/Header/{X Cells, Y Cells, X Step, Y Step}` (scans are numbered groups "1", "2", ...)."""
from __future__ import annotations

from ..errors import InputError
from ._hdf5 import find_scan, sniff_h5
from ._scan import ScanLayout, ScanReader, required_header
from .base import register

PATTERN_NAMES = ("EBSD/Data/Processed Patterns", "EBSD/Data/Unprocessed Patterns")


@register
class OxfordReader(ScanReader):
    format_name = "oxford"
    extensions = (".h5oina", ".h5")
    description = "EBSD scan in Oxford Instruments' H5OINA layout (Band Contrast as a scan map)"

    @classmethod
    def sniff(cls, path):
        return sniff_h5(path, lambda f: any(find_scan(f, name) is not None for name in PATTERN_NAMES))

    def _layout(self, f):
        for patterns in PATTERN_NAMES:  # processed patterns when the file has them
            scan = find_scan(f, patterns, self.scan)
            if scan is not None:
                break
        else:
            raise InputError(f"not an H5OINA file: no '<n>/{PATTERN_NAMES[0]}' dataset", self.path)
        n_columns, n_rows, step_x, step_y = required_header(
            f[f"{scan}/EBSD/Header"], ("X Cells", "Y Cells", "X Step", "Y Step"), self.path)
        data = f"{scan}/EBSD/Data"
        return ScanLayout(scan, f"{scan}/{patterns}", int(n_rows), int(n_columns), float(step_x),
                          float(step_y), x=f"{data}/X", y=f"{data}/Y", maps_group=data, not_maps=("X", "Y"))
