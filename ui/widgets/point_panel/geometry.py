"""Where a panel's rows are drawn: a scatter's quantised coordinates, a scan map's grid cells, and above MAX_POINTS
rows their bins (`Binned`); each as (Geometry, the header's part, the arrays), the Geometry being the coordinates
the browser computes from the message (`wire.positions`), over which Python resolves a shape."""
from __future__ import annotations

import dataclasses
import os
import weakref

import numpy as np

from ...figures import density, plots
from .contract import CONTRACT
from .shapes import rows_in_view
from .wire import positions

# above this many rows a panel is binned (the browser's memory: 5 bytes a point sent, 16 kept); a lab whose
# browsers have less memory sets LATENT_EXPLORER_MAX_POINTS lower (docs/deployment.md)
MAX_POINTS = int(os.environ.get("LATENT_EXPLORER_MAX_POINTS", 2_000_000))
SCATTER_BINS = 512  # a binned scatter's cells a side: about one a screen pixel of a half-width panel at 1600 px
MAX_CELLS = 1_000_000  # a binned scan map's cells at most (its pixels in blocks of 2 x 2, 3 x 3, ...)


class Binned:
    """A binned panel's rows: each row's cell, the cells that hold a row (sorted) and their counts."""

    def __init__(self, cell: np.ndarray, n_cells: int):
        self.cell, self.n_cells = cell, n_cells
        counts = np.bincount(cell, minlength=n_cells)
        self.occupied = np.flatnonzero(counts)
        self.counts = counts[self.occupied]
        self._last = (None, None)  # the last colour's codes array (weakly) and its cells' codes
        self.zoom = None  # the last view zoomed into and its points (`zoomed`)

    def arrays(self) -> dict:
        return {"cell": self.occupied.astype(np.int32), "count": self.counts.astype(np.int32)}

    def codes(self, colour: plots.Colour) -> np.ndarray:
        """Each occupied cell's code (the NaN code where none of its rows has a value); kept for the last colour."""
        last, codes = self._last
        if last is None or last() is not colour.codes:
            codes = density.cell_colour_codes(self.cell, self.n_cells, colour)[self.occupied]
            nan_code = len(colour.colours) + CONTRACT["nan_code"]
            codes = np.where(np.isnan(codes), nan_code, codes).astype(np.uint8)
            self._last = (weakref.ref(colour.codes), codes)
        return codes

    def positions(self, rows) -> np.ndarray:
        """The positions among the occupied cells of the cells that hold `rows` (counted, not sorted: a box on a
        binned scatter may hold millions of rows)."""
        held = np.bincount(self.cell[np.asarray(rows, np.int64)], minlength=self.n_cells)
        return np.flatnonzero(held[self.occupied])

    def nearest_row(self, position: int, x, y, at) -> int:
        """The row of the cell at `position` nearest the point `at` (x, y)."""
        rows = np.flatnonzero(self.cell == self.occupied[position])
        return int(rows[np.argmin((x[rows] - at[0]) ** 2 + (y[rows] - at[1]) ** 2)])


@dataclasses.dataclass(frozen=True)
class Geometry:
    """The coordinates of a panel's rows as the browser computes them from the payload (float64); for a binned
    panel, every row's own coordinates and its cells; zoomed in, the positions among the panel's rows of those
    shown (`rows`); a scan map's pixel grid (`grid`, a latentcore.analysis.maps.Grid: a line's pixels are on it)."""

    x: np.ndarray
    y: np.ndarray
    binned: Binned | None = None
    rows: np.ndarray | None = None
    grid: object = None

    @property
    def own_group(self) -> bool:
        """Its cells or rows are not its linked panels'."""
        return self.binned is not None or self.rows is not None

    @property
    def drawn(self) -> int:
        """How many points or cells the browser draws: a click names one of them."""
        return len(self.binned.occupied) if self.binned is not None else len(self.x)


def scatter_geometry(x, y) -> tuple[Geometry, dict, dict]:
    """A scatter's rows quantised as they travel: (geometry, the header's part, arrays); binned above MAX_POINTS."""
    qx, qy = plots.Quantiser.of(x), plots.Quantiser.of(y)
    if len(x) > MAX_POINTS:
        return _binned_scatter(np.asarray(x), np.asarray(y), qx, qy)
    header = {"kind": "scatter", "x_range": [qx.low, qx.high], "y_range": [qy.low, qy.high]}
    arrays = {"qx": qx.encode(x), "qy": qy.encode(y)}
    return Geometry(*positions(header, arrays)), header, arrays


def _binned_scatter(x, y, qx, qy) -> tuple[Geometry, dict, dict]:
    binned = Binned(density.cells_of(qx.encode(x), qy.encode(y), SCATTER_BINS), SCATTER_BINS ** 2)
    levels = CONTRACT["levels"]
    step = (levels + 1) / SCATTER_BINS / levels  # a cell's side over the range
    dx, dy = step * (qx.high - qx.low), step * (qy.high - qy.low)
    header = {"kind": "grid", "binned": True, "grid": {"x0": qx.low + dx / 2, "y0": qy.low + dy / 2, "dx": dx,
                                                       "dy": dy, "nx": SCATTER_BINS, "ny": SCATTER_BINS}}
    return Geometry(x, y, binned), header, binned.arrays()


def grid_geometry(grid, cells) -> tuple[Geometry, dict, dict]:
    """A scan map's rows on their grid cells (`cells`: each row's grid row and column); above MAX_POINTS rows,
    in blocks of pixels (at most MAX_CELLS), each row keeping its own position."""
    row, column = (np.asarray(c, np.int64) for c in cells)
    binned = len(row) > MAX_POINTS
    block = max(1, int(np.ceil(np.sqrt(grid.n_rows * grid.n_columns / MAX_CELLS)))) if binned else 1
    nx, ny = -(-grid.n_columns // block), -(-grid.n_rows // block)
    cell = row // block  # then in place: two arrays of every row, not four (10M rows: 80 MB each)
    cell *= nx
    cell += column // block
    header = {"kind": "grid", "y_down": True, "equal": True,
              "grid": {"x0": grid.x0 + (block - 1) / 2 * grid.step_x, "y0": grid.y0 + (block - 1) / 2 * grid.step_y,
                       "dx": block * grid.step_x, "dy": block * grid.step_y, "nx": nx, "ny": ny}}
    if not binned:
        in_order = bool(np.array_equal(cell, np.arange(len(cell))))  # a scan's rows, row-major: sent as none
        header, arrays = {**header, CONTRACT["in_order"]: in_order}, {} if in_order else {"cell": cell.astype(np.int32)}
        return Geometry(*positions({**header, "n": len(cell)}, arrays), grid=grid), header, arrays
    binned = Binned(cell, nx * ny)
    geometry = Geometry(grid.x0 + column * grid.step_x, grid.y0 + row * grid.step_y, binned, grid=grid)
    return geometry, {**header, "binned": True, "block": block}, binned.arrays()


def zoomed(points: tuple, view: dict) -> tuple:
    """A binned scatter's rows inside `view` (a checked view: `shapes.read_view`; as points at most MAX_POINTS, else
    binned over the view), the view in the header; the whole panel when none is inside. Kept for the last view."""
    geometry = points[0]
    last = geometry.binned.zoom
    if last and last[0] == view:
        return last[1]
    x, y = geometry.x, geometry.y
    rows = rows_in_view(view, x, y)
    shown = points
    if len(rows):
        part, header, arrays = scatter_geometry(np.asarray(x)[rows], np.asarray(y)[rows])
        shown = dataclasses.replace(part, rows=rows), {**header, "view": view, "zoomed": True}, arrays
    geometry.binned.zoom = (view, shown)
    return shown
