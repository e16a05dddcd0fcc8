"""kikuchipy's h5ebsd: `<scan>/EBSD/Data/patterns` (N, sy, sx) and `<scan>/EBSD/Header/{n_rows,
n_columns, step_x, step_y}`; x, y from `<scan>/EBSD/CrystalMap/crystal_map/data/{x,y}` when stored,
else from the header grid (row-major)."""
from __future__ import annotations

from . import orientations
from ._scan import ScanReader
from .base import register

CRYSTAL_MAP = "EBSD/CrystalMap/crystal_map/data"


@register
class H5ebsdReader(ScanReader):
    format_name = "h5ebsd"
    title = "kikuchipy h5ebsd"
    extensions = (".h5", ".hdf5", ".h5ebsd")
    description = "EBSD scan in kikuchipy's h5ebsd layout"
    patterns = ("EBSD/Data/patterns",)
    header = ("n_rows", "n_columns", "step_x", "step_y")
    stored_background = "EBSD/Header/static_background"

    def _extras(self, scan):
        return {"x": f"{scan}/{CRYSTAL_MAP}/x", "y": f"{scan}/{CRYSTAL_MAP}/y"}

    def _orientations(self, f, n):
        scan = self.layout.scan
        return orientations.h5ebsd(f, f"{scan}/EBSD/CrystalMap/crystal_map", n, self.path)
