"""kikuchipy's h5ebsd: `<scan>/EBSD/Data/patterns` (N, sy, sx) and `<scan>/EBSD/Header/{n_rows,
n_columns, step_x, step_y}`; x, y from `<scan>/EBSD/CrystalMap/crystal_map/data/{x,y}` when stored,
else from the header grid (row-major)."""
from __future__ import annotations

from ..errors import InputError
from ._hdf5 import find_scan, sniff_h5
from ._scan import ScanLayout, ScanReader, required_header
from .base import register

PATTERNS = "EBSD/Data/patterns"
CRYSTAL_MAP = "EBSD/CrystalMap/crystal_map/data"


@register
class H5ebsdReader(ScanReader):
    format_name = "h5ebsd"
    extensions = (".h5", ".hdf5", ".h5ebsd")
    description = "EBSD scan in kikuchipy's h5ebsd layout"

    @classmethod
    def sniff(cls, path):
        return sniff_h5(path, lambda f: find_scan(f, PATTERNS) is not None)

    def _layout(self, f):
        scan = find_scan(f, PATTERNS, self.scan)
        if scan is None:
            raise InputError(f"not an h5ebsd file: no '<scan>/{PATTERNS}' dataset", self.path)
        n_rows, n_columns, step_x, step_y = required_header(
            f[f"{scan}/EBSD/Header"], ("n_rows", "n_columns", "step_x", "step_y"), self.path)
        return ScanLayout(scan, f"{scan}/{PATTERNS}", int(n_rows), int(n_columns), float(step_x),
                          float(step_y), x=f"{scan}/{CRYSTAL_MAP}/x", y=f"{scan}/{CRYSTAL_MAP}/y")
