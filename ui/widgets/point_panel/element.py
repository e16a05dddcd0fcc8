"""The Streamlit element (components v2, inline, no iframe): `draw` sends a panel's payload, `overlays` its group's
selection and marks. The browser side is the .mjs modules beside, run as one ES module (`bundle`): no build step."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import streamlit as st

from latentcore import figures
from latentcore.data.base import display_units

from ...figures import plots
from .contract import CONTRACT
from .wire import payload, selection_message

HERE = Path(__file__).parent
MODULES = ("wire.mjs", "shapes.mjs", "drawing.mjs", "tools.mjs", "element.mjs")  # each after those it imports


def bundle() -> str:
    """The browser modules as the one module the component runs: in order, their imports of each other dropped and
    their exports plain declarations (element.mjs's default export, the component's entry point, stays). Streamlit
    runs a component's inline JavaScript from a blob URL, where relative imports cannot resolve, and serves an
    asset folder only for an installed package's manifest: hence one module, made here, with no build step."""
    parts = []
    for name in MODULES:
        text = re.sub(r'^import\s*\{[^}]*\}\s*from\s*"\./[\w.]+";\n', "", (HERE / name).read_text(), flags=re.M)
        parts.append(re.sub(r"^export (?!default )", "", text, flags=re.M))
    # every element's message carries the module: without its JSDoc blocks, indentation, blank lines, comment lines
    text = re.sub(r"/\*\*(?:(?!\*/).)*\*/[ \t]*", "", "\n".join(parts), flags=re.S)
    return re.sub(r"^[ \t]*(//[^\n]*)?\n|^[ \t]+", "", text, flags=re.M)


_PANEL = st.components.v2.component("latent_point_panel", html='<div class="lp-root"></div>',
                                    css=(HERE / "point_panel.css").read_text(), js=bundle())


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


def message(key: str, points: tuple, colour: plots.Colour, *, group: str, title: str = "", x_title: str = "",
            y_title: str = "", height: int = 560, point_size: float = 3, units: str | None = "um", values=None,
            value_name: str = "", lines=None, row_ids=None, background: str | None = None,
            follows: tuple | None = None) -> bytes:
    """The message (wire.py's payload) that draws a panel of `points` ((Geometry, header, arrays):
    `geometry.scatter_geometry` or `grid_geometry`) in `colour`, linked to the other panels of `group` (the same
    rows), which share their hover: the row (its id in `row_ids` when the panel shows a part of the rows), its
    position on the group's scan map, and `values` (the colour's values; sent with one panel of a group; a
    continuous colour's codes then stay behind: the browser makes them of the values).
    `lines`: (x, y) polylines with NaN between them (grain boundaries), in the panel's coordinates. A scan
    map's cells without a row show `background` (the maps' NaN colour). The shape drawn on the panel comes back in
    the session state under `key` ("shape"), read before the next run draws anything (`selection.take_shapes`);
    the view of a zoomable panel under "view" (`selection.zoomed_points`). A binned or zoomed panel is a group of
    its own (`draw` says its approximation under it). `follows` (group, first, total): this panel's rows are rows
    first ... of `group`'s `total` (a study's scan map: its source's block of the scatter's rows), so a selection
    made on that group shows here at once, before the page's rerun."""
    geometry, header, arrays = points
    background = background or (figures.NAN_COLOUR if header.get("y_down") else "#ffffff")
    binned, part = geometry.binned, geometry.rows
    if part is not None:  # zoomed in: a part of the panel's rows
        colour = dataclasses.replace(colour, codes=np.asarray(colour.codes)[part])
        values = None if values is None else np.asarray(values)[part]
        row_ids = part if row_ids is None else np.asarray(row_ids)[part]
    group = key if geometry.own_group else group
    codes = colour.codes
    if binned:  # one code a cell, no values (the cell's count instead)
        codes, values, row_ids = binned.codes(colour), None, None
    header = {**header, **colour_header(colour), "n": geometry.drawn, "key": key, "group": group, "title": title,
              "x_title": x_title, "y_title": y_title, "height": height, "point_size": point_size,
              "unit": display_units(units), "value_name": value_name or colour.title,
              "code_names": _code_names(colour), "background": _hex(background),
              **({"follows": dict(zip(("group", "first", "total"), follows))} if follows else {})}
    arrays = {**arrays, "codes": np.asarray(codes)}
    if values is not None:
        arrays["values"] = np.asarray(values, np.float32)
        if _codes_of_values(colour, arrays["codes"], arrays["values"]):
            header[CONTRACT["codes_from_values"]] = True
            del arrays["codes"]
    if row_ids is not None and not np.array_equal(row_ids, np.arange(len(codes))):  # in order: the browser's own
        arrays["row_ids"] = np.asarray(row_ids, np.int32)
    if lines is not None:
        arrays.update(lines_x=np.asarray(lines[0], np.float32), lines_y=np.asarray(lines[1], np.float32))
    return payload(header, arrays)


def draw(key: str, points: tuple, colour: plots.Colour, **options):
    """Draw the panel `message` describes (the same arguments), and say its approximation under it (binned or
    zoomed in)."""
    _PANEL(key=key, data=message(key, points, colour, **options), on_shape_change=lambda: None,
           on_view_change=lambda: None, height="content")
    geometry, header, _ = points
    if geometry.binned or geometry.rows is not None:
        _say_approximation(len(geometry.x), header)


def _codes_of_values(colour: plots.Colour, codes: np.ndarray, values: np.ndarray) -> bool:
    """The codes are the browser's own of these float32 values (a continuous colour's, the contract's
    `codes_from_values`), so they need not travel."""
    return (colour.colorbar is not None and colour.limits is not None and len(colour.colours) == plots.COLOUR_STEPS + 2
            and len(codes) == len(values) and np.array_equal(plots.continuous_codes(values, *colour.limits), codes))


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
        if geometry.binned is not None:
            mine = geometry.binned.positions(mine)
        overlay(f"{key}_overlay", key, geometry.drawn, mine, {key: (marks or {}).get(key, [])})


def overlay(key: str, group: str, n: int, chosen, marks: dict | None = None, row_ids=None):
    """The group's selection as Python holds it (`wire.selection_message`) and its marks (panel key ->
    [{x, y, name, symbol, colour, size}]): what a selection made elsewhere (a row query, Undo, labels) shows.
    `row_ids`: the global row id of each of the group's `n` rows, when they are a part of the rows."""
    chosen = np.asarray(chosen, np.int64)
    if row_ids is not None:  # the group's own positions of the chosen rows among its part
        chosen = np.flatnonzero(plots.is_chosen(row_ids, chosen))
    marks = {panel: [{**mark, "x": np.asarray(mark["x"], float).tolist(), "y": np.asarray(mark["y"], float).tolist()}
                     for mark in panel_marks] for panel, panel_marks in (marks or {}).items()}
    data = {"group": group, "n": int(n), "count": int(len(chosen)), "marks": marks, **selection_message(n, chosen)}
    _PANEL(key=key, data=data, height="content")
