"""One point panel for every scatter and scan map: a Streamlit component (components v2, inline, no iframe)
whose JavaScript (point_panel.js, a plain file: no build step) draws every row on a 2D canvas and selects by
box, lasso or click in the browser, the selection drawn at once on every panel of its group (the linked
panels of a page: the same rows), then sent to Python once, as its shape.

The points travel once: one binary message (a uint32 header length, a JSON header, the typed arrays), which
does not change when the selection does, so Streamlit's message cache sends it again only as a reference. A
scatter's x and y travel as uint16 over their range (1/65,535 of it) and a colour code as uint8: 5 bytes a
point; a scan map's rows as their grid cell (int32) and code. The selection Python holds, and the marks
(nearest neighbours, a new image), travel in a small overlay of the group (`overlay`).

Above MAX_POINTS rows a panel is binned (`Binned`): the browser gets the cells that hold a row (a scatter's
SCATTER_BINS x SCATTER_BINS cells, a scan map's pixels in blocks, at most MAX_CELLS), each in the colour most of
its rows have (or their mean), draws a selection at once over the cells it covers, and Python resolves the shape
over every row's own coordinates; the panel then shows the cells that hold a selected row. Zoomed in (the view
the browser keeps as the panel's state), a binned scatter shows the rows in the view (`zoomed`): as points when
they are at most MAX_POINTS, else binned over the view. A binned or zoomed panel is a group of its own (its cells
or rows are not the linked panel's), so the linked panel shows the selection after the rerun.

A selection comes back as its shape (box corners, lasso vertices in data units, or a clicked row) with how
it combines with the last one (replace; Shift adds; Alt or Ctrl removes). `rows_in` resolves the shape over
the coordinates the browser drew (`Geometry`), with the browser's own arithmetic, so both find the same rows.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import weakref
from pathlib import Path

import numpy as np
import streamlit as st

from latentcore import figures
from latentcore.arrays import unique
from latentcore.data.base import display_units
from latentcore.errors import InputError

from ..figures import density, plots

HERE = Path(__file__).parent
LEVELS = plots.LEVELS  # uint16 steps of a scatter's coordinates
# above this many rows a panel is binned (the browser's memory: 5 bytes a point sent, 16 kept); a lab whose
# browsers have less memory sets LATENT_EXPLORER_MAX_POINTS lower (docs/deployment.md)
MAX_POINTS = int(os.environ.get("LATENT_EXPLORER_MAX_POINTS", 2_000_000))
SCATTER_BINS = 512  # a binned scatter's cells a side: about one a screen pixel of a half-width panel at 1600 px
MAX_CELLS = 1_000_000  # a binned scan map's cells at most (its pixels in blocks of 2 x 2, 3 x 3, ...)
MAX_VERTICES = 5_000  # a lasso from the browser with more is refused (a hostile message)
OPS = ("replace", "add", "remove")
_PANEL = st.components.v2.component("latent_point_panel", html='<div class="lp-root"></div>',
                                    css=(HERE / "point_panel.css").read_text(),
                                    js=(HERE / "point_panel.js").read_text())


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
            codes = np.where(np.isnan(codes), len(colour.colours) - 1, codes).astype(np.uint8)
            self._last = (weakref.ref(colour.codes), codes)
        return codes

    def positions(self, rows) -> np.ndarray:
        """The positions among the occupied cells of the cells that hold `rows`."""
        return np.searchsorted(self.occupied, unique(self.cell[np.asarray(rows, np.int64)]))

    def nearest_row(self, position: int, x, y, at) -> int:
        """The row of the cell at `position` nearest the point `at` (x, y)."""
        rows = np.flatnonzero(self.cell == self.occupied[position])
        return int(rows[np.argmin((x[rows] - at[0]) ** 2 + (y[rows] - at[1]) ** 2)])


@dataclasses.dataclass(frozen=True)
class Geometry:
    """The coordinates of a panel's rows as the browser computes them from the payload (float64); for a binned
    panel, every row's own coordinates and its cells; zoomed in, the positions among the panel's rows of those
    shown (`rows`)."""

    x: np.ndarray
    y: np.ndarray
    binned: Binned | None = None
    rows: np.ndarray | None = None

    @property
    def own_group(self) -> bool:
        """Its cells or rows are not its linked panels'."""
        return self.binned is not None or self.rows is not None


def valid_view(view) -> dict | None:
    """A view the browser sent ({x0, x1, y0, y1}, finite, not empty), or None."""
    try:
        view = {name: float(view[name]) for name in ("x0", "x1", "y0", "y1")}
    except (TypeError, KeyError, ValueError):
        return None
    finite = all(np.isfinite(v) for v in view.values())
    return view if finite and view["x0"] < view["x1"] and view["y0"] < view["y1"] else None


def zoomed(points: tuple, view: dict) -> tuple:
    """A binned scatter's rows inside `view` (as points at most MAX_POINTS, else binned over the view), the view
    in the header; the whole panel when none is inside. Kept for the last view."""
    geometry = points[0]
    last = geometry.binned.zoom
    if last and last[0] == view:
        return last[1]
    x, y = geometry.x, geometry.y
    rows = np.flatnonzero((x >= view["x0"]) & (x <= view["x1"]) & (y >= view["y0"]) & (y <= view["y1"]))
    shown = points
    if len(rows):
        part, header, arrays = scatter_geometry(np.asarray(x)[rows], np.asarray(y)[rows])
        shown = dataclasses.replace(part, rows=rows), {**header, "view": view, "zoomed": True}, arrays
    geometry.binned.zoom = (view, shown)
    return shown


def scatter_geometry(x, y) -> tuple[Geometry, dict, dict]:
    """A scatter's rows quantised as they travel: (geometry, the header's part, arrays); binned above MAX_POINTS."""
    qx, qy = plots.Quantiser.of(x), plots.Quantiser.of(y)
    if len(x) > MAX_POINTS:
        return _binned_scatter(np.asarray(x), np.asarray(y), qx, qy)
    ex, ey = qx.encode(x), qy.encode(y)
    geometry = Geometry(qx.low + ex * ((qx.high - qx.low) / LEVELS), qy.low + ey * ((qy.high - qy.low) / LEVELS))
    return geometry, {"kind": "scatter", "x_range": [qx.low, qx.high], "y_range": [qy.low, qy.high]}, \
        {"qx": ex, "qy": ey}


def _binned_scatter(x, y, qx, qy) -> tuple[Geometry, dict, dict]:
    binned = Binned(density.cells_of(qx.encode(x), qy.encode(y), SCATTER_BINS), SCATTER_BINS ** 2)
    step = (LEVELS + 1) / SCATTER_BINS / LEVELS  # a cell's side over the range
    dx, dy = step * (qx.high - qx.low), step * (qy.high - qy.low)
    header = {"kind": "grid", "binned": True, "grid": {"x0": qx.low + dx / 2, "y0": qy.low + dy / 2, "dx": dx,
                                                       "dy": dy, "nx": SCATTER_BINS, "ny": SCATTER_BINS}}
    return Geometry(x, y, binned), header, binned.arrays()


def grid_geometry(grid, cells) -> tuple[Geometry, dict, dict]:
    """A scan map's rows on their grid cells (`cells`: each row's grid row and column); above MAX_POINTS rows,
    in blocks of pixels (at most MAX_CELLS)."""
    row, column = (np.asarray(c, np.int64) for c in cells)
    geometry = Geometry(grid.x0 + column * grid.step_x, grid.y0 + row * grid.step_y)
    binned = len(row) > MAX_POINTS
    block = max(1, int(np.ceil(np.sqrt(grid.n_rows * grid.n_columns / MAX_CELLS)))) if binned else 1
    nx, ny = -(-grid.n_columns // block), -(-grid.n_rows // block)
    cell = (row // block) * nx + column // block
    header = {"kind": "grid", "y_down": True, "equal": True,
              "grid": {"x0": grid.x0 + (block - 1) / 2 * grid.step_x, "y0": grid.y0 + (block - 1) / 2 * grid.step_y,
                       "dx": block * grid.step_x, "dy": block * grid.step_y, "nx": nx, "ny": ny}}
    if not binned:
        return geometry, header, {"cell": cell.astype(np.int32)}
    binned = Binned(cell, nx * ny)
    return dataclasses.replace(geometry, binned=binned), {**header, "binned": True, "block": block}, binned.arrays()


def _hex(colour) -> str:
    return "#%02x%02x%02x" % plots._rgba(colour)[:3]


def colour_header(colour: plots.Colour) -> dict:
    """The palette (code -> RGBA) and the colour bar (continuous, its limits) or the legend (with counts)."""
    header = {"palette": [list(plots._rgba(c)) for c in colour.colours]}
    if colour.limits is not None and colour.colorbar:
        header["colorbar"] = {"title": colour.title, "low": colour.limits[0], "high": colour.limits[1],
                              "scale": [_hex(c) for c in colour.colours[:255:8]] + [_hex(colour.colours[254])]}
    else:
        header["legend"] = [[str(name), _hex(hue)] for name, hue in list(colour.legend.items())[:40]]
    return header


def payload(header: dict, arrays: dict) -> bytes:
    """The binary message: a uint32 header length, the JSON header (each array's type, offset in the body
    and count; a digest of the whole), then the body, from the next multiple of 4: each array at a multiple
    of 4 bytes."""
    kinds = {np.dtype(np.uint8): "u8", np.dtype(np.uint16): "u16", np.dtype(np.int32): "i32",
             np.dtype(np.float32): "f32"}
    arrays = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    digest = hashlib.sha1(json.dumps(header, sort_keys=True, default=float).encode())
    layout, offset = [], 0
    for name, a in arrays.items():
        digest.update(name.encode() + a.dtype.str.encode() + a.tobytes())
        layout.append([name, kinds[a.dtype], offset, int(a.size)])
        offset = _aligned(offset + a.nbytes)
    text = json.dumps({**header, "digest": digest.hexdigest(), "arrays": layout}, default=float).encode()
    base = _aligned(4 + len(text))
    out = bytearray(base + offset)
    out[:4] = len(text).to_bytes(4, "little")
    out[4:4 + len(text)] = text
    for (_, _, at, _), a in zip(layout, arrays.values()):
        out[base + at:base + at + a.nbytes] = a.tobytes()
    return bytes(out)


def _aligned(n: int) -> int:
    return (n + 3) // 4 * 4


def read_payload(data: bytes) -> tuple[dict, dict]:
    """(header, arrays) of a payload, as the browser reads it."""
    length = int.from_bytes(data[:4], "little")
    header, base = json.loads(data[4:4 + length]), _aligned(4 + length)
    types = {"u8": np.uint8, "u16": np.uint16, "i32": np.int32, "f32": np.float32}
    return header, {name: np.frombuffer(data, types[kind], count, base + offset)
                    for name, kind, offset, count in header["arrays"]}


def rows_in(shape: dict, geometry: Geometry) -> np.ndarray:
    """Row ids inside a selection's shape, over `geometry`, with point_panel.js's arithmetic: a box holds its
    edges; a lasso is the even-odd rule within the vertices' bounds; a click is its row. A malformed shape
    (from a hostile browser) raises InputError."""
    x, y = geometry.x, geometry.y
    kind = shape.get("shape")
    if kind == "click":
        row, drawn = shape.get("row"), len(geometry.binned.occupied) if geometry.binned else len(x)
        if not isinstance(row, int) or not 0 <= row < drawn:
            raise InputError(f"a click on row {row!r}: there are {drawn:,} rows")
        if geometry.binned is not None:  # a cell: its row nearest the click
            xs, ys = _vertices(shape, 1)
            row = geometry.binned.nearest_row(row, x, y, (xs[0], ys[0]))
        return np.array([row], np.int64)
    xs, ys = _vertices(shape, 2 if kind == "box" else 3)
    if kind == "box":
        inside = (x >= xs[0]) & (x <= xs[1]) & (y >= ys[0]) & (y <= ys[1])
    elif kind == "lasso":
        inside = _in_polygon(x, y, xs, ys)
    else:
        raise InputError(f"a selection of unknown shape {kind!r}")
    return np.flatnonzero(inside)


def _vertices(shape: dict, least: int):
    xs, ys = shape.get("x"), shape.get("y")
    if not (isinstance(xs, list) and isinstance(ys, list) and least <= len(xs) == len(ys) <= MAX_VERTICES):
        raise InputError(f"a {shape.get('shape')} needs {least} to {MAX_VERTICES:,} pairs of x and y")
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise InputError(f"a {shape.get('shape')} with a coordinate that is not a finite number")
    return xs, ys


def _in_polygon(x, y, xs, ys) -> np.ndarray:
    inside = np.zeros(len(x), bool)
    near = np.flatnonzero((x >= xs.min()) & (x <= xs.max()) & (y >= ys.min()) & (y <= ys.max()))
    px, py = x[near], y[near]
    odd = np.zeros(len(near), bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(len(xs)):
            j = i - 1  # the previous vertex; the first edge closes the polygon
            crosses = (ys[i] > py) != (ys[j] > py)
            odd ^= crosses & (px < (xs[j] - xs[i]) * (py - ys[i]) / (ys[j] - ys[i]) + xs[i])
    inside[near] = odd
    return inside


def combine(op: str, rows: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The new selection: `rows` (replace), or `rows` added to or removed from `current`."""
    if op == "add":
        return unique(np.concatenate([current, rows]))
    if op == "remove":
        return np.setdiff1d(current, rows)
    if op != "replace":
        raise InputError(f"a selection that would {op!r} rows: it may only {', '.join(OPS)}")
    return unique(rows)


def draw(key: str, points: tuple, colour: plots.Colour, *, group: str, title: str = "", x_title: str = "",
         y_title: str = "", height: int = 560, point_size: float = 3, units: str | None = "um", values=None,
         value_name: str = "", lines=None, row_ids=None):
    """Draw a panel of `points` ((Geometry, header, arrays): `scatter_geometry` or `grid_geometry`) in
    `colour`, linked to the other panels of `group` (the same rows), which share their hover: the row (its
    id in `row_ids` when the panel shows a part of the rows), its position on the group's scan map, and
    `values` (the colour's values; sent with one panel of a group).
    `lines`: (x, y) polylines with NaN between them (grain boundaries), in the panel's coordinates. A scan
    map's cells without a row show the maps' NaN colour. The shape drawn on the panel comes back in the
    session state under `key` ("select"), read before the next run draws anything (`selection.take_shapes`);
    the view of a zoomable panel under "view" (`selection.zoomed_points`). A binned or zoomed panel is a group of
    its own and says its approximation under it."""
    geometry, header, arrays = points
    background = figures.NAN_COLOUR if header.get("y_down") else "#ffffff"
    binned, part = geometry.binned, geometry.rows
    if part is not None:  # zoomed in: a part of the panel's rows
        colour = dataclasses.replace(colour, codes=np.asarray(colour.codes)[part])
        values = None if values is None else np.asarray(values)[part]
        row_ids = part if row_ids is None else np.asarray(row_ids)[part]
    group = key if geometry.own_group else group
    codes = colour.codes
    if binned:  # one code a cell, no values (the cell's count instead)
        codes, values, row_ids = binned.codes(colour), None, None
    header = {**header, **colour_header(colour), "n": len(arrays["cell"]) if binned else len(geometry.x), "key": key,
              "group": group, "title": title, "x_title": x_title, "y_title": y_title, "height": height,
              "point_size": point_size,
              "unit": display_units(units), "value_name": value_name or colour.title,
              "code_names": _code_names(colour), "background": _hex(background)}
    arrays = {**arrays, "codes": np.asarray(codes)}
    if values is not None:
        arrays["values"] = np.asarray(values, np.float32)
    if row_ids is not None:
        arrays["row_ids"] = np.asarray(row_ids, np.int32)
    if lines is not None:
        arrays.update(lines_x=np.asarray(lines[0], np.float32), lines_y=np.asarray(lines[1], np.float32))
    _PANEL(key=key, data=payload(header, arrays), on_select_change=lambda: None, on_view_change=lambda: None,
           height="content")
    if binned or part is not None:
        _say_approximation(len(geometry.x), header)


def _say_approximation(n_rows: int, header: dict):
    """The approximation, said under the panel (a scan map in blocks of one pixel is exact)."""
    if not header.get("binned"):
        st.caption(f"Zoomed in: the {n_rows:,} rows in this view as points (Reset or a double-click: every row).")
        return
    grid = header["grid"]
    if header.get("block") == 1:
        return
    cells = (f"blocks of {header['block']} x {header['block']} pixels" if "block" in header
             else f"a {grid['nx']} x {grid['ny']} grid of cells")
    st.caption(f"{n_rows:,} rows, drawn as {cells} (each in the colour most of its rows have, or their mean); "
               "a selection takes every row inside its shape and shows the cells that hold one.")


def _code_names(colour: plots.Colour) -> list | None:
    """Each code's legend name without its count, for the hover (categorical colours)."""
    if colour.colorbar or not colour.legend:
        return None
    names = [None] * len(colour.colours)
    for name, hue in colour.legend.items():
        if hue in colour.colours:
            names[colour.colours.index(hue)] = str(name).rsplit(" (", 1)[0]
    return names


def overlays(group: str, panels: dict, n: int, chosen, marks: dict | None = None, row_ids=None):
    """The selection on a group's panels (key -> points as drawn), linked panels of `n` rows: one overlay for
    the group; a binned panel, a group of its own, gets one of its own (the cells holding a chosen row)."""
    if not any(geometry.own_group for geometry, _, _ in panels.values()):
        overlay(f"{group}_overlay", group, n, chosen, marks, row_ids)
        return
    chosen = np.asarray(chosen, np.int64)
    shown = chosen if row_ids is None else np.flatnonzero(plots.is_chosen(row_ids, chosen))
    for key, (geometry, _, _) in panels.items():
        mine = shown if geometry.rows is None else np.flatnonzero(plots.is_chosen(geometry.rows, shown))
        drawn = len(geometry.x)
        if geometry.binned is not None:
            mine, drawn = geometry.binned.positions(mine), len(geometry.binned.occupied)
        overlay(f"{key}_overlay", key, drawn, mine, {key: (marks or {}).get(key, [])})


def overlay(key: str, group: str, n: int, chosen, marks: dict | None = None, row_ids=None):
    """The group's selection as Python holds it (rows, or a bit field when many) and its marks (panel key ->
    [{x, y, name, symbol, colour, size}]): what a selection made elsewhere (a row query, Undo, labels) shows.
    `row_ids`: the global row id of each of the group's `n` rows, when they are a part of the rows."""
    chosen = np.asarray(chosen, np.int64)
    if row_ids is not None:  # the group's own positions of the chosen rows among its part
        chosen = np.flatnonzero(plots.is_chosen(row_ids, chosen))
    marks = {panel: [{**mark, "x": np.asarray(mark["x"], float).tolist(), "y": np.asarray(mark["y"], float).tolist()}
                     for mark in panel_marks] for panel, panel_marks in (marks or {}).items()}
    data = {"group": group, "n": int(n), "count": int(len(chosen)), "marks": marks}
    if len(chosen) <= max(64, n // 32):
        data["rows"] = chosen.tolist()
    else:
        mask = np.zeros(n, bool)
        mask[chosen] = True
        data["bits"] = base64.b64encode(np.packbits(mask, bitorder="little").tobytes()).decode()
    _PANEL(key=key, data=data, height="content")
