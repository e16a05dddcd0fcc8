"""Bruker Nano h5ebsd (Esprit): `<scan>/EBSD/Data/RawPatterns` (N, sy, sx), header
`<scan>/EBSD/Header/{NROWS, NCOLS, XSTEP, YSTEP, Grid Type}`, and quality maps (RadonQuality, MAD,
...) beside the patterns. A region of interest (ROI) stores only its own patterns, pattern i at map
row `<scan>/EBSD/SEM/IY`[i] and column `IX`[i] in any order. It is read row-major on the grid of its
bounding box, as kikuchipy reads a rectangular ROI; an ROI of another shape (which kikuchipy refuses)
fills part of that grid, and maps leave the other points empty. Coordinates are those of the grid
nodes (X/Y SAMPLE are not used, as in kikuchipy)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..arrays import unique
from ..errors import InputError
from . import orientations
from ._hdf5 import header_value, read_whole
from ._scan import ScanReader
from .base import register

QUALITY_MAPS = ("RadonQuality", "MAD", "NIndexedBands", "RadonBandCount")


@register
class BrukerReader(ScanReader):
    format_name = "bruker"
    title = "Bruker h5ebsd"
    extensions = (".h5", ".hdf5", ".h5ebsd")
    description = "EBSD scan in Bruker Nano's h5ebsd layout (ROIs of any shape; quality maps as point maps)"
    patterns = ("EBSD/Data/RawPatterns",)
    header = ("NROWS", "NCOLS", "XSTEP", "YSTEP")

    def _layout(self, f):
        layout = super()._layout(f)
        grid_type = header_value(f[f"{layout.scan}/EBSD/Header"], "Grid Type", "isometric")
        if grid_type != "isometric":
            raise InputError(f"grid type {grid_type!r}: only square ('isometric') Bruker grids can be read; export "
                             "the scan on a square grid", self.path)
        layout.maps_group = f"{layout.scan}/EBSD/Data"
        layout.map_names = QUALITY_MAPS  # offered as band contrast, RadonQuality first
        roi = f"{layout.scan}/EBSD/SEM"
        if f"{roi}/IX" not in f or f"{roi}/IY" not in f:
            return layout
        n = self.require(layout.patterns).shape[0]
        rows, columns = (read_whole(f[f"{roi}/{name}"], self.path).astype(np.int64).reshape(-1)
                         for name in ("IY", "IX"))
        if len(rows) != n or len(columns) != n:
            raise InputError(f"ROI positions {roi}/IY, IX have {len(rows)}, {len(columns)} values but "
                             f"{layout.patterns!r} holds {n} patterns: export the scan again", self.path)
        return dataclasses.replace(layout, **self._roi(rows, columns))

    def _roi(self, rows: np.ndarray, columns: np.ndarray) -> dict:
        """ScanLayout fields of an ROI: its bounding box; `order[k]`, the stored pattern of the k-th
        point in row-major order (None when stored so); `points`, their grid nodes (None when the
        ROI fills its box)."""
        rows, columns = rows - rows.min(), columns - columns.min()
        n_rows, n_columns = int(rows.max()) + 1, int(columns.max()) + 1
        flat = rows * n_columns + columns
        shared = len(flat) - unique(flat).size
        if shared:
            raise InputError(f"region of interest IY, IX put {shared} patterns on a point another pattern has: export "
                             "the scan again", self.path)
        order = np.argsort(flat)
        in_order = np.array_equal(order, np.arange(len(flat)))
        return {"n_rows": n_rows, "n_columns": n_columns, "order": None if in_order else order,
                "points": None if len(flat) == n_rows * n_columns else flat[order]}

    def _orientations(self, f, n):
        scan = self.layout.scan
        return orientations.bruker(f, f"{scan}/EBSD/Data", f"{scan}/EBSD/Header", n, self.path)
