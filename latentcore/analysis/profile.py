"""A line profile: the values of a scan along a line drawn on it, against the distance along the line.

    line = Line.parse("0,0,30,20")             from (x0, y0) to (x1, y1), in the scan's units
    line_cells(line, grid)                     (grid rows, grid columns) of the pixels the line passes through
    rows_along(line, grid, cells)              the rows on those pixels, in order (`cells`: each row's (row, column))
    line_profile(line, grid, cells, x, y, units=..., orientations=..., bandcontrast=..., latents=..., dims=...)
                                               the table: `row`, `x_um`, `y_um`, `distance_um`, the misorientations,
                                               `bandcontrast`, `latent_<d>` (one row per pixel along the line)
    write_profile(table, line, out_dir, ...)   `profile_names(line)`: the CSV, its figure (PNG) and a JSON report

The pixels of a line (the point panel's "line" shape resolves the same, ui/widgets/point_panel/shapes.mjs's
`lineCells`, on the tests' golden cases): in grid steps, u = (x - x0) / step_x + 1/2 and v likewise, so pixel
(row, column) is [column, column + 1) x [row, row + 1). The segment from its first point to its last, at
t = 0 .. 1, is cut where it crosses a pixel edge (u or v an integer from 0 to the grid's columns or rows: t =
(k - u0) / (u1 - u0)); each piece between two cuts lies in the pixel of its middle t (floor of its u and v). The
pieces' pixels in order of t, those outside the grid left out, a pixel repeated next to itself once: every pixel
the segment passes through, each once; one it only touches at a corner is not among them. A line of no length
is its first point's pixel; one whose ends are too far out for float64 arithmetic holds none. A line partly outside
the scan keeps the pixels inside it; one on no pixel holding a row is refused, naming the scan's extent.

The values along it: the distance of each pixel's centre, projected on the line, from the first pixel's; the
misorientation (symmetry-reduced, degrees) of each pixel to the first indexed pixel along the line and to the
pixel before it (NaN where either is not indexed, of another phase, or of a phase without a Laue group here);
band contrast (or the scan map chosen in its place) and chosen latent dimensions.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..columns import (BANDCONTRAST, MISORIENTATION_TO_FIRST, MISORIENTATION_TO_PREVIOUS, ROW, coordinate_names,
                       distance_name, latent_name)
from ..errors import InputError
from ..storage import sha256_file
from ..versions import package_versions
from .artifacts.common import VERSION_PACKAGES, now, write_csv, write_json
from ._validation import check_dimensions
from .ebsd import orientation as ori
from .ebsd.scan_references import laue_of
from .maps import Grid


@dataclasses.dataclass(frozen=True)
class Line:
    """A straight line from (x0, y0) to (x1, y1), in the scan's units."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self):
        if not all(math.isfinite(v) for v in self.to_list()):
            raise InputError(f"a line's ends must be finite numbers like 0,0,30,20, got {self.to_list()}")

    @classmethod
    def parse(cls, text: str) -> Line:
        """`"x0,y0,x1,y1"` as on the command line."""
        try:
            values = [float(part) for part in str(text).split(",")]
        except ValueError:
            values = []
        if len(values) != 4:
            raise InputError(f"a line must be four numbers x0,y0,x1,y1 like 0,0,30,20 (its first point, then its "
                             f"last), got {str(text)[:60]!r}")
        return cls(*values)

    def to_list(self) -> list[float]:
        return [self.x0, self.y0, self.x1, self.y1]

    @property
    def length(self) -> float:
        return math.hypot(self.x1 - self.x0, self.y1 - self.y0)

    def tag(self) -> str:
        """`from0_0_to30_20`: the line's part of its files' names."""
        return f"from{self.x0:g}_{self.y0:g}_to{self.x1:g}_{self.y1:g}"


def line_cells(line: Line, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(grid rows, grid columns) of the pixels the line passes through, in order from its first point (the rule
    of the module docstring)."""
    u0, u1 = (line.x0 - grid.x0) / grid.step_x + 0.5, (line.x1 - grid.x0) / grid.step_x + 0.5
    v0, v1 = (line.y0 - grid.y0) / grid.step_y + 0.5, (line.y1 - grid.y0) / grid.step_y + 0.5
    none = np.empty(0, np.int64)
    if not all(math.isfinite(v) for v in (u0, u1, v0, v1)):
        return none, none
    cuts = np.unique(np.concatenate([[0.0, 1.0], _cuts(u0, u1, grid.n_columns), _cuts(v0, v1, grid.n_rows)]))
    middle = (cuts[:-1] + cuts[1:]) / 2
    with np.errstate(over="ignore", invalid="ignore"):  # u1 - u0 may overflow: no pixel is then inside
        columns, rows = np.floor(u0 + middle * (u1 - u0)), np.floor(v0 + middle * (v1 - v0))
    inside = (columns >= 0) & (columns < grid.n_columns) & (rows >= 0) & (rows < grid.n_rows)
    rows, columns = rows[inside].astype(np.int64), columns[inside].astype(np.int64)
    again = np.zeros(len(rows), bool)  # a pixel next to itself: a piece too short for its middle to leave it
    again[1:] = (rows[1:] == rows[:-1]) & (columns[1:] == columns[:-1])
    return rows[~again], columns[~again]


def _cuts(a: float, b: float, n: int) -> np.ndarray:
    """The t where a coordinate going from `a` to `b` crosses an integer k strictly between them, 0 <= k <= n."""
    low, high = min(a, b), max(a, b)
    first, last = max(0, math.floor(low) + 1), min(n, math.ceil(high) - 1)
    if first > last:  # before arange: a far end is a huge integer
        return np.empty(0)
    k = np.arange(first, last + 1, dtype=np.float64)
    with np.errstate(over="ignore"):
        return (k - a) / (b - a)


def rows_along(line: Line, grid: Grid, cells) -> np.ndarray:
    """The rows (positions in `cells`, each row's (grid row, grid column)) on the line's pixels, in order; a
    pixel without a row is left out."""
    row, column = (np.asarray(c, np.int64) for c in cells)
    row_at = np.full(grid.n_rows * grid.n_columns, -1, np.int64)
    row_at[row * grid.n_columns + column] = np.arange(len(row))
    on_line = row_at[np.ravel_multi_index(line_cells(line, grid), grid.shape)]
    return on_line[on_line >= 0]


def line_profile(line: Line, grid: Grid, cells, x, y, *, units: str | None = None, orientations=None,
                 bandcontrast=None, latents=None, dims=()) -> pd.DataFrame:
    """One row per pixel along the line (`rows_along`): `row`, `x_um`, `y_um`, `distance_um` (the scan's unit),
    with `orientations` (a data.orientations.ScanOrientations of every row) the misorientations to the first
    indexed pixel and to the previous pixel in degrees, `bandcontrast` (a value per row), and `latent_<d>` of
    `latents` (N, D) for each of `dims`."""
    rows = rows_along(line, grid, cells)
    if not len(rows):
        raise _off_the_scan(line, grid, units)
    x_name, y_name = coordinate_names(units)
    px, py = np.asarray(x, np.float64)[rows], np.asarray(y, np.float64)[rows]
    table = {ROW: rows, x_name: px, y_name: py, distance_name(units): _distances(line, px, py)}
    if orientations is not None:
        table[MISORIENTATION_TO_FIRST], table[MISORIENTATION_TO_PREVIOUS] = misorientations_along(orientations, rows)
    if bandcontrast is not None:
        table[BANDCONTRAST] = np.asarray(bandcontrast, np.float64)[rows]
    if len(dims):
        dims = check_dimensions(dims, np.shape(latents)[1])
        values = np.asarray(latents[rows][:, dims], np.float64) if len(rows) else np.empty((0, len(dims)))
        table.update({latent_name(d): values[:, i] for i, d in enumerate(dims)})
    return pd.DataFrame(table)


def _off_the_scan(line: Line, grid: Grid, units: str | None) -> InputError:
    """A line on no pixel holding a row (outside the scan, or only over its empty pixels): a profile of nothing,
    refused naming the scan's extent (its pixels' edges, as `line_cells` counts them)."""
    from ..data.base import display_units

    x_edges = grid.x0 - grid.step_x / 2, grid.x0 + (grid.n_columns - 0.5) * grid.step_x
    y_edges = grid.y0 - grid.step_y / 2, grid.y0 + (grid.n_rows - 0.5) * grid.step_y
    return InputError(f"the line from ({line.x0:g}, {line.y0:g}) to ({line.x1:g}, {line.y1:g}) passes through no "
                      f"pixel of the scan that holds a point; the scan's pixels cover x {x_edges[0]:g} to "
                      f"{x_edges[1]:g} and y {y_edges[0]:g} to {y_edges[1]:g} {display_units(units)}: draw the line "
                      "across them")


def _distances(line: Line, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each pixel centre's position along the line (its projection) from the first pixel's."""
    if not len(x) or line.length == 0:
        return np.zeros(len(x))
    ex, ey = (line.x1 - line.x0) / line.length, (line.y1 - line.y0) / line.length
    return (x - x[0]) * ex + (y - y[0]) * ey


def misorientations_along(orientations, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(to the first indexed pixel, to the previous pixel) in degrees, symmetry-reduced, for the rows in order;
    NaN where a pixel or the one it is compared with is not indexed, of another phase, or of a phase without a
    Laue group here."""
    laue = {k: laue_of(p) for k, p in orientations.phases.items()}
    phase = np.asarray(orientations.phase_id)[rows]
    phase = np.where(np.isin(phase, [k for k, group in laue.items() if group]), phase, -1)  # -1: not indexed here
    euler = np.asarray(orientations.euler, np.float64)[rows]
    to_first, to_previous = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    indexed = np.flatnonzero(phase >= 0)
    if len(indexed):
        first = indexed[0]
        same = np.flatnonzero(phase == phase[first])
        to_first[same] = _angles(euler[np.full(len(same), first)], euler[same], laue[int(phase[first])])
    pairs = np.flatnonzero((phase[1:] >= 0) & (phase[1:] == phase[:-1])) + 1
    for p in np.unique(phase[pairs]):
        mine = pairs[phase[pairs] == p]
        to_previous[mine] = _angles(euler[mine - 1], euler[mine], laue[int(p)])
    return to_first, to_previous


def _angles(a: np.ndarray, b: np.ndarray, laue: str) -> np.ndarray:
    return np.degrees(ori.misorientation_angles(a, b, laue)) if len(a) else np.empty(0)


def profile_names(line: Line) -> dict[str, str]:
    """The files of a line profile: `line_profile__{tag}.csv`, `.png` (its figure) and `.json` (its report), the
    tag naming the line (`Line.tag`)."""
    tag = f"line_profile__{line.tag()}"
    return {"table": f"{tag}.csv", "figure": f"{tag}.png", "report": f"{tag}.json"}


def profile_report(line: Line, table: pd.DataFrame, grid: Grid, units: str | None, inputs: dict, **more) -> dict:
    """What a profile's JSON report records: the line, its pixels, the grid, the rule, the inputs and versions."""
    return {"kind": "line_profile", "created": now(), "line": line.to_list(), "units": units,
            "length": line.length, "pixels": len(table), "grid": grid.to_dict(),
            "pixels_along": "every grid pixel the segment passes through, in order (not one it only touches at a "
                            "corner); pixels without a row left out",
            "distance": "each pixel centre projected on the line, from the first pixel's",
            "misorientation": "symmetry-reduced, degrees: to the first indexed pixel along the line and to the "
                              "previous pixel (NaN where either is not indexed or of another phase)",
            "columns": list(table.columns), "inputs": inputs, **more,
            "versions": package_versions(VERSION_PACKAGES)}


def write_profile(table: pd.DataFrame, line: Line, out_dir, report: dict, figure=None, *, dpi: float = 300) -> dict:
    """The CSV, the figure (a plotly figure, or None) as a PNG and the report, in `out_dir`; the report as
    written (its `outputs`, with the CSV's SHA-256, and the PNG's engine)."""
    from ..figures import write_png

    out, names = Path(out_dir), profile_names(line)
    write_csv(out / names["table"], table)
    engine = write_png(figure, out / names["figure"], dpi=dpi) if figure is not None else None
    outputs = {k: v for k, v in names.items() if k != "figure" or engine}
    report = {**report, "outputs": outputs, "table_sha256": sha256_file(out / names["table"]), "figure_engine": engine}
    write_json(out / names["report"], report)
    return report
