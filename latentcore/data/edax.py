"""EDAX HDF5: `<scan>/EBSD/Data/{Pattern, X Position, Y Position, IQ, CI, ...}` and
`<scan>/EBSD/Header/{nRows, nColumns, Step X, Step Y}`. Top-level names start with a space
(" Manufacturer") and some numbers are big-endian; h5py returns them native. Only square grids
(`Grid Type` SqrGrid) are read; a hexagonal one is refused, as kikuchipy refuses it."""
from __future__ import annotations

from ..errors import InputError
from ._hdf5 import header_value
from . import orientations
from ._scan import ScanReader
from .base import register


@register
class EdaxReader(ScanReader):
    format_name = "edax"
    title = "EDAX HDF5"
    extensions = (".h5", ".hdf5", ".oh5")
    description = "EBSD scan in EDAX's HDF5 layout (IQ and CI as scan maps)"
    patterns = ("EBSD/Data/Pattern",)
    header = ("nRows", "nColumns", "Step X", "Step Y")

    def _extras(self, scan):
        data = f"{scan}/EBSD/Data"
        return {"x": f"{data}/X Position", "y": f"{data}/Y Position", "maps_group": data,
                "not_maps": ("X Position", "Y Position"), "map_names": ("IQ", "CI", "Fit")}

    def _layout(self, f):
        layout = super()._layout(f)
        grid_type = header_value(f[f"{layout.scan}/EBSD/Header"], "Grid Type", "SqrGrid")
        if grid_type != "SqrGrid":
            raise InputError(f"grid type {grid_type!r}: only square ('SqrGrid') EDAX grids can be read; export the "
                             "scan on a square grid", self.path)
        return layout

    def _orientations(self, f, n):
        scan = self.layout.scan
        return orientations.edax(f, f"{scan}/EBSD/Data", f"{scan}/EBSD/Header", n, self.path)
