"""Spatial maps of latents and band-contrast masks.

Latents of a scan are rows with coordinates x, y. A `Grid` turns coordinates into (row, column)
indices in one vectorised step, so `spatial_maps` fills a (n_dims, n_rows, n_columns) stack with
one fancy-indexed assignment (NaN where no pixel was extracted), whatever the grid size.
A `Roi` (`roi`) selects x and y ranges, both ends inclusive; `roi_grid` is the crop every map of an ROI goes
through (the latent maps in `spatial_maps`, maps already on a scan grid in `crop_to_roi`), and
`edge_segments` turns flags on the edges between pixels (grain boundaries) into line segments.
`latent_maps_tag` and `latent_maps_names` name the maps' files (`roi_tag`, `smooth_tag`, `dims_tag`: the parts
other results' names share).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..columns import BANDCONTRAST, coordinate_names
from ..data._checks import GRID_TOLERANCE, infer_step
from ..errors import InputError
from ..storage import atomic_path
from ..storage.csv_cells import neutralised_table
from ._validation import check_dimensions, check_matrix, check_some_dimensions, check_vector
from .roi import Roi

MAPS_BLOCK = 1 << 16  # rows copied at once onto the maps: 4 MB at 16 dimensions
INDEX_BLOCK = 1 << 20  # coordinates placed at once on a grid: 8 MB a float64 temporary


# -- the names of results: the CLI and the app name the same output the same way ----------------------

def roi_tag(roi: Roi | None) -> str:
    """`roi0-30_0-20` for an ROI, `full` for none: the ROI part of every result's name."""
    if roi is None:
        return "full"
    return f"roi{roi.x0:g}-{roi.x1:g}_{roi.y0:g}-{roi.y1:g}"


def smooth_tag(sigma: float) -> str:
    """`_smooth1.5` for a Gaussian of sigma 1.5 grid steps, nothing for none."""
    return f"_smooth{float(sigma):g}" if sigma else ""


def dims_tag(dims) -> str:
    """[0, 1, 2, 5, 7, 8] -> `dims0-2_5_7-8`."""
    dims = sorted(int(d) for d in dims)
    runs, start = [], dims[0]
    for previous, current in zip(dims, dims[1:] + [None]):
        if current != previous + 1:
            runs.append(f"{start}" if start == previous else f"{start}-{previous}")
            start = current
    return "dims" + "_".join(runs)


def latent_maps_tag(dims, roi: Roi | None = None, sigma: float = 0.0) -> str:
    """`dims0-2_5_smooth1_roi15-45_6-30`: the dimensions, the smoothing and the ROI of a set of latent maps."""
    return f"{dims_tag(dims)}{smooth_tag(sigma)}_{roi_tag(roi)}"


def latent_maps_names(tag: str) -> dict[str, str]:
    """The files of a set of latent maps (`latent_maps_tag`): NPY stack, NPZ with the grid, PNG, JSON report."""
    return {"maps": f"latent_maps__{tag}.npy", "maps_npz": f"latent_maps__{tag}.npz",
            "figure": f"latent_maps__{tag}.png", "report": f"latent_maps__{tag}.json"}


@dataclasses.dataclass(frozen=True)
class Grid:
    """A regular scan grid: node (r, c) sits at x = x0 + c*step_x, y = y0 + r*step_y."""

    x0: float
    y0: float
    step_x: float
    step_y: float
    n_rows: int
    n_columns: int

    @classmethod
    def from_coordinates(cls, x, y, grid_shape=None) -> "Grid":
        """The bounding grid of the coordinates. With the scan's `grid_shape` (n_rows, n_columns)
        and coordinates that sit on a grid starting at 0 (an ROI of the scan), the whole scan."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if x.size == 0:
            raise InputError("no coordinates: cannot build a map grid; give the x, y of at least one pixel")
        step_x = infer_step(x) or infer_step(y) or 1.0
        step_y = infer_step(y) or step_x
        grid = cls(float(x.min()), float(y.min()), step_x, step_y,
                   int(round((y.max() - y.min()) / step_y)) + 1,
                   int(round((x.max() - x.min()) / step_x)) + 1)
        if grid_shape is not None:
            whole = cls(0.0, 0.0, step_x, step_y, int(grid_shape[0]), int(grid_shape[1]))
            if whole._holds(grid.x0, grid.y0) and whole._holds(x.max(), y.max()):
                return whole
        return grid

    def _holds(self, x: float, y: float) -> bool:
        """(x, y) lies within this grid's extent. Many points do when their least and greatest do: the row and
        column of a coordinate grow with it, rounding included."""
        row, column = self._fractional(x, y)
        return bool(-GRID_TOLERANCE < row < self.n_rows - 1 + GRID_TOLERANCE
                    and -GRID_TOLERANCE < column < self.n_columns - 1 + GRID_TOLERANCE)

    def _fractional(self, x, y):
        return ((np.asarray(y, np.float64) - self.y0) / self.step_y,
                (np.asarray(x, np.float64) - self.x0) / self.step_x)

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_rows, self.n_columns

    @property
    def x_values(self) -> np.ndarray:
        return self.x0 + self.step_x * np.arange(self.n_columns)

    @property
    def y_values(self) -> np.ndarray:
        return self.y0 + self.step_y * np.arange(self.n_rows)

    def map_of(self, values, x, y) -> np.ndarray:
        """`values_map` on this grid (so that figures can place values without importing analysis)."""
        return values_map(values, x, y, self)

    def indices(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every coordinate; an error when one is off the grid. Found in blocks of rows, each
        checked by reductions over its rounding errors: no float64 temporaries of every row (10M rows in a fresh
        process: 1.2 s of their page faults)."""
        x, y = np.asarray(x), np.asarray(y)
        rows, columns = np.empty(x.shape, np.int64), np.empty(x.shape, np.int64)
        flat_x, flat_y, flat_rows, flat_columns = (a.reshape(-1) for a in (x, y, rows, columns))
        for start in range(0, x.size, INDEX_BLOCK):
            part = slice(start, start + INDEX_BLOCK)
            found = self._block_indices(flat_x[part], flat_y[part])
            if found is None:
                return self._checked_indices(x, y)  # names the first offender
            flat_rows[part], flat_columns[part] = found
        return rows, columns

    def _block_indices(self, x, y) -> tuple[np.ndarray, np.ndarray] | None:
        """(row, column) of a block of coordinates, as floats; None when one is off the grid."""
        rows_f, columns_f = self._fractional(x, y)
        rows, columns = np.rint(rows_f), np.rint(columns_f)
        with np.errstate(invalid="ignore"):  # inf - inf: NaN, which fails the check below
            rows_f -= rows  # the rounding errors, in place
            columns_f -= columns
        return (rows, columns) if self._on_grid(rows_f, columns_f, rows, columns) else None

    def _checked_indices(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """`indices` with every row tested: an error naming the first off the grid."""
        rows_f, columns_f = self._fractional(x, y)
        with np.errstate(invalid="ignore"):  # NaN or inf: off the grid, said below
            rows, columns = np.rint(rows_f).astype(np.int64), np.rint(columns_f).astype(np.int64)
        off = ((np.abs(rows_f - rows) > GRID_TOLERANCE) | (np.abs(columns_f - columns) > GRID_TOLERANCE)
               | (rows < 0) | (rows >= self.n_rows) | (columns < 0) | (columns >= self.n_columns))
        if off.any():
            first = int(np.flatnonzero(off)[0])
            raise InputError(f"{int(off.sum())} coordinates are off the {self.n_rows}x{self.n_columns} grid "
                             f"(step {self.step_x:g}, {self.step_y:g}); first: x={np.ravel(x)[first]:g}, "
                             f"y={np.ravel(y)[first]:g}: give coordinates of this scan")
        return rows, columns

    def _on_grid(self, row_errors, column_errors, rows, columns) -> bool:
        """Every rounding error within GRID_TOLERANCE and every (rounded) row and column inside the grid; False
        with a NaN anywhere."""
        return bool(np.abs(row_errors, out=row_errors).max() <= GRID_TOLERANCE
                    and np.abs(column_errors, out=column_errors).max() <= GRID_TOLERANCE
                    and rows.min() >= 0 and rows.max() <= self.n_rows - 1
                    and columns.min() >= 0 and columns.max() <= self.n_columns - 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def spatial_maps(latents, x, y, dims=None, grid: Grid | None = None, roi: Roi | None = None):
    """One map per latent dimension: (len(dims), n_rows, n_columns) float32, NaN where no pixel.

    `roi` keeps the pixels inside it and (without an explicit `grid`) maps only the ROI's extent.
    Returns (maps, grid, dims)."""
    latents = check_matrix(latents, "latents", dtype=None, min_rows=0, finite=False)
    x, y = check_vector(x, "x", len(latents)), check_vector(y, "y", len(latents))
    dims = check_dimensions(dims, latents.shape[1])
    keep, grid, cells = placed_rows(x, y, grid, roi)
    return maps_on(latents, dims, grid, cells, keep), grid, dims


def scan_grid(latents) -> Grid:
    """The grid of a scan's latents (`Grid.from_coordinates` of their x, y and grid shape), inferred once per
    `latents.Latents`: its maps, reference maps and scan points share it (ten million rows: 0.5 s an inference)."""
    if latents._grid is None:
        latents._grid = Grid.from_coordinates(latents.x, latents.y, latents.grid_shape)
    return latents._grid


def grid_cells(latents, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (grid row, grid column) on `grid` (`placed_rows` of every row, one row a pixel, checked), placed once
    per `latents.Latents` and grid: its latent maps and the pages' map panels share them (10M rows: 160 MB each)."""
    if grid not in latents._cells:
        latents._cells[grid] = placed_rows(latents.x, latents.y, grid)[2]
    return latents._cells[grid]


def placed_rows(x, y, grid: Grid | None = None, roi: Roi | None = None) -> tuple[np.ndarray | None, Grid, tuple]:
    """Where `spatial_maps` puts the rows: (the rows kept, a mask: those in `roi`, None for every row; the grid,
    `grid` or else the bounding grid of those kept; each kept row's (grid row, grid column) on it, one row a pixel,
    checked)."""
    keep = None
    if roi is not None:
        keep, roi_map_grid = roi_grid(x, y, roi)
        x, y = np.asarray(x)[keep], np.asarray(y)[keep]
        grid = grid or roi_map_grid
    elif grid is None:  # every row: no mask, no copy of the coordinates
        grid = Grid.from_coordinates(x, y)
    rows, columns = grid.indices(x, y)
    if not _in_order((rows, columns), grid.n_columns):  # rows in the scan's order share no pixel
        _check_unique(rows * grid.n_columns + columns, grid.n_rows * grid.n_columns)
    return keep, grid, (rows, columns)


def maps_on(latents, dims, grid: Grid, cells: tuple, keep: np.ndarray | None = None) -> np.ndarray:
    """(len(dims), n_rows, n_columns) float32: the rows' `dims` at their `cells` (`placed_rows`: those of the rows
    `keep` holds, or of every row), NaN elsewhere. Read in blocks of rows: the transposed copy of every row at once
    (10M x 16) took 3.8 s here, the blocks 0.5 s; rows in the grid's order are copied as slices."""
    maps = np.full((len(dims), *grid.shape), np.nan, dtype=np.float32)
    pixels, dims, done = maps.reshape(len(dims), -1), list(dims), 0
    for start in range(0, len(latents), MAPS_BLOCK):
        block = np.asarray(latents[start:start + MAPS_BLOCK])
        if keep is not None:
            block = block[keep[start:start + MAPS_BLOCK]]
        where, done = _pixels(cells, grid.n_columns, done, done + len(block)), done + len(block)
        if len(where) and where[-1] - where[0] == len(where) - 1 and (np.diff(where) == 1).all():
            pixels[:, where[0]:where[-1] + 1] = block[:, dims].T
        else:
            pixels[:, where] = block[:, dims].T
    return maps


def roi_grid(x, y, roi: Roi | None = None, grid_shape=None) -> tuple[np.ndarray, Grid]:
    """The crop of every map of an ROI: (which points are inside it, the bounding grid of those points).
    Without an ROI, every point and their bounding grid (the whole scan's with the scan's `grid_shape`:
    `Grid.from_coordinates`)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    keep = np.ones(len(x), bool) if roi is None else roi.mask(x, y)
    if roi is not None and not keep.any():
        raise InputError(f"ROI {roi} holds no pixel "
                         f"(x spans {x.min():g}..{x.max():g}, y {y.min():g}..{y.max():g}): choose an ROI within those")
    return keep, Grid.from_coordinates(x[keep], y[keep], grid_shape if roi is None else None)


def crop_to_roi(maps: dict, grid: Grid, x, y, roi: Roi | None = None) -> tuple[dict, Grid]:
    """Maps on a scan's `grid` ((rows, columns[, channels]) each), cropped as `spatial_maps` crops latent
    maps: the points (x, y) inside the ROI (`roi_grid`) carry their values onto the ROI's grid, every
    other pixel is NaN (False in a bool map). Returns (maps, the ROI's grid)."""
    keep, target = roi_grid(x, y, roi)
    x, y = np.asarray(x, np.float64)[keep], np.asarray(y, np.float64)[keep]
    source, cells = grid.indices(x, y), target.indices(x, y)
    out = {}
    for name, values in maps.items():
        values = np.asarray(values)
        fill = False if values.dtype == bool else np.nan
        cropped = np.full((*target.shape, *values.shape[2:]), fill, bool if fill is False else np.float64)
        cropped[cells] = values[source]
        out[name] = cropped
    return out, target


def edge_segments(right, down, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Line segments along the flagged edges between pixels: `right[r, c]` flags the edge between pixel
    (r, c) and (r, c + 1), `down[r, c]` the edge between (r, c) and (r + 1, c) (both (rows, columns); the
    last column of `right` and row of `down` face outside the map and are not drawn). Flagged edges in a
    row of pixels join into one segment. Returns x and y, (x0, x1, NaN) per segment: NaN breaks the line."""
    right, down = np.asarray(right, bool)[:, :-1], np.asarray(down, bool)[:-1]
    lines = []
    for line, first, last in _runs(right.T):  # vertical lines between columns `line` and `line + 1`
        x = grid.x0 + (line + 0.5) * grid.step_x
        lines.append((x, x, grid.y0 + (first - 0.5) * grid.step_y, grid.y0 + (last + 0.5) * grid.step_y))
    for line, first, last in _runs(down):  # horizontal lines between rows `line` and `line + 1`
        y = grid.y0 + (line + 0.5) * grid.step_y
        lines.append((grid.x0 + (first - 0.5) * grid.step_x, grid.x0 + (last + 0.5) * grid.step_x, y, y))
    if not lines:
        return np.empty(0), np.empty(0)
    x0, x1, y0, y1 = np.asarray([np.concatenate(part) for part in zip(*lines)])
    gap = np.full(len(x0), np.nan)
    return np.column_stack([x0, x1, gap]).ravel(), np.column_stack([y0, y1, gap]).ravel()


def _runs(flags: np.ndarray):
    """Each line (row of `flags`) -> (line index, first, last) arrays of its runs of True, one vectorised pass."""
    padded = np.zeros((flags.shape[0], flags.shape[1] + 2), np.int8)
    padded[:, 1:-1] = flags
    step = np.diff(padded, axis=1)
    starts, ends = np.nonzero(step == 1), np.nonzero(step == -1)  # row-major: the n-th start pairs the n-th end
    return [(starts[0], starts[1], ends[1] - 1)] if len(starts[0]) else []


def values_map(values, x, y, grid: Grid) -> np.ndarray:
    """One per-pixel value (band contrast, cluster code...) on the grid, NaN elsewhere."""
    values = np.asarray(values)
    return spatial_maps(values.reshape(-1, 1), x, y, [0], grid)[0][0]


def values_on(values, grid: Grid, cells: tuple) -> np.ndarray:
    """`values_map` of rows already placed: one value per row at its cell on `grid` (`placed_rows`), NaN elsewhere."""
    return maps_on(np.asarray(values).reshape(-1, 1), [0], grid, cells)[0]


def values_at(values_map: np.ndarray, cells: tuple) -> np.ndarray:
    """The map's value at each of `cells` ((grid rows, grid columns), `placed_rows`): the map itself, flat, when they
    are its every pixel in order (a whole scan's rows: no copy of ten million values)."""
    if len(cells[0]) == values_map.size and _in_order(cells, values_map.shape[-1]):
        return values_map.reshape(-1)
    return values_map[cells]


def _pixels(cells: tuple, n_columns: int, start: int, stop: int) -> np.ndarray:
    """The pixels (grid row x n_columns + grid column) of rows start..stop."""
    return cells[0][start:stop] * n_columns + cells[1][start:stop]


def _in_order(cells: tuple, n_columns: int) -> bool:
    """Each row's pixel comes after the one before (a scan's rows in the order it was recorded): then no two rows
    share one, and counting the rows of every pixel can be skipped. Read in blocks: no index of every row."""
    last = -1
    for start in range(0, len(cells[0]), INDEX_BLOCK):
        pixels = _pixels(cells, n_columns, start, start + INDEX_BLOCK)
        if pixels[0] <= last or (np.diff(pixels) <= 0).any():
            return False
        last = pixels[-1]
    return True


def _check_unique(flat_index: np.ndarray, size: int) -> None:
    """One row per grid cell, counted per cell: linear time (np.unique of a million indices took 3.8 s here)."""
    shared = flat_index.size - np.count_nonzero(np.bincount(flat_index, minlength=size))
    if shared:
        raise InputError(f"{shared} pixels share their coordinates with another: a map needs one row per pixel; "
                         "give the latents of one scan")


def parse_dims(text: str, n_dims: int) -> list[int]:
    """`"0,3,5-7"` -> [0, 3, 5, 6, 7] (ranges inclusive), checked against `n_dims`."""
    dims = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            bounds = [int(v) for v in part.split("-", 1)] if part else []
        except ValueError:
            raise InputError(f"dims must be dimensions or ranges like 0,3,5-7; {part[:40]!r} is neither") from None
        dims.extend(_checked_range(part, *bounds, n_dims) if len(bounds) == 2 else bounds)
    return check_dimensions(dims, n_dims)


def _checked_range(part: str, start: int, stop: int, n_dims: int) -> range:
    """Checked before it is expanded: `0-1000000` is one short error, not a million numbers."""
    check_some_dimensions(n_dims)
    if not 0 <= start <= stop < n_dims:
        raise InputError(f"dimension range {part!r} out of range: it must be increasing and within "
                         f"0..{n_dims - 1} (the latents have {n_dims} dimensions): choose a range within those")
    return range(start, stop + 1)


# -- band contrast ------------------------------------------------------------------------------

def bandcontrast_histogram(values, bins: int = 64):
    """(counts, bin edges) of band-contrast values, as numpy.histogram."""
    values = np.asarray(values, np.float64)
    return np.histogram(values[np.isfinite(values)], bins=bins)


def kept_mask(values, x=None, y=None, threshold: float | None = None, keep: str = "above",
              roi: Roi | None = None) -> np.ndarray:
    """Pixels kept by a band-contrast threshold (`keep` "above": value >= threshold, "below":
    value <= threshold) and/or an ROI; with neither, every pixel."""
    values = np.asarray(values, np.float64)
    mask = np.isfinite(values)
    if threshold is not None:
        if keep not in ("above", "below"):
            raise InputError(f"keep must be one of 'above' or 'below', got {keep!r}")
        mask &= values >= threshold if keep == "above" else values <= threshold
    if roi is not None:
        if x is None or y is None:
            raise InputError("an ROI needs the pixels' x and y: pass them, or leave the ROI out")
        mask &= roi.mask(x, y)
    return mask


def export_kept(path, x, y, mask, values=None, value_name: str = BANDCONTRAST, units: str | None = None) -> Path:
    """Write the kept pixels' coordinates: CSV `x_um,y_um[,value]` (their unit in the name) or NPY (k, 2|3) by
    the suffix."""
    path = Path(path)
    mask = np.asarray(mask, bool)
    columns = dict(zip(coordinate_names(units), (np.asarray(x)[mask], np.asarray(y)[mask])))
    if values is not None:
        columns[value_name] = np.asarray(values)[mask]
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, np.column_stack(list(columns.values())).astype(np.float64))
        elif path.suffix.lower() == ".csv":
            neutralised_table(pd.DataFrame(columns)).to_csv(tmp, index=False)
        else:
            raise InputError("kept coordinates are written as .csv or .npy: name the output so", path)
    return path


def slice_to_roi(table: pd.DataFrame, roi: Roi, expected_rows: int, expected_what: str = "the ROI latents"):
    """The rows of a full-field coordinate table (columns x, y) inside `roi`; they must be exactly as
    many as `expected_rows`, else an error that gives both lengths."""
    sliced = table[roi.mask(table["x"].to_numpy(), table["y"].to_numpy())]
    if len(sliced) != expected_rows:
        raise InputError(f"ROI {roi} selects {len(sliced)} rows "
                         f"of the table but {expected_what} have {expected_rows} rows: give the table of the scan "
                         "they came from",
                         table.attrs.get("path"))
    return sliced
