"""Linked selections. Every panel shows the session's selection (global row ids, `state.selection`)
and writes to it. Plotly's `point_index` counts within one trace, so each figure keeps, per trace,
the global row id of each of its points (`TraceRows`); a point may also carry its row id in
`customdata`, which arrives in the browser as a number, a list or a dict {"0": id}."""
from __future__ import annotations

import json

import numpy as np
import streamlit as st
from matplotlib.path import Path as PolygonPath

from latentcore.arrays import unique
from latentcore.data.base import display_units

from ..compute import latent_space
from ..figures import density, plots
from ..kept import Kept, digest
from ..session import state
from . import common, point_panel

CHART_CONFIG = {"displaylogo": False}
# the charts (and the query) a selection is made on: their key -> (page, panel), to say where a selection came from
ORIGINS = {"maps_picker": ("Latent maps", "the click map"), "maps_labels_map": ("Latent maps", "the labels map"),
           "maps_grains": ("Latent maps", "the grain table"),
           "clusters_map": ("Clusters", "the scan map"), "clusters_scatter": ("Clusters", "the scatter"),
           "umap_scatter": ("UMAP", "the embedding"), "umap_map": ("UMAP", "the scan map"),
           "umap_query": ("UMAP", "the nearest-neighbours query"),
           "compare_a": ("Compare", "the first embedding"), "compare_b": ("Compare", "the second embedding")}
_RASTERS = Kept(8)  # content digest of (x, y) -> Raster with its click targets, shared by reruns and sessions


def _raster(x, y) -> density.Raster:
    """The raster of these coordinates, built once (binning and click targets cost ~1 s at 1M)."""
    key = digest(x) + digest(y)
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)

    def make():
        raster = density.Raster.of(x, y)
        raster.targets = raster.click_targets()
        return raster
    return _RASTERS.get(key, make)


def _customdata_row(value):
    if isinstance(value, dict):
        value = value.get("0", next(iter(value.values()), None))
    elif isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else int(value)


def event_row_ids(points, trace_rows: dict[int, np.ndarray]) -> np.ndarray:
    """Global row ids of selected plotly points: customdata when present, else the trace's row ids
    at `point_index`. Points of traces without row ids (decorations) are ignored."""
    ids = []
    for point in points:
        row = _customdata_row(point.get("customdata"))
        if row is None:
            rows = trace_rows.get(int(point.get("curve_number", 0)))
            index = point.get("point_index", point.get("point_number"))
            if rows is None or index is None or not 0 <= int(index) < len(rows):
                continue
            row = int(rows[int(index)])
        ids.append(row)
    return unique(np.asarray(ids, dtype=np.int64))


def rows_in_shapes(selection, x, y, row_ids) -> np.ndarray:
    """Row ids whose (x, y) lie in the event's boxes or lassos (for image-like panels, where
    plotly selects no points, only the drawn shape comes back)."""
    x, y = np.asarray(x), np.asarray(y)
    inside = np.zeros(len(x), bool)
    for box in selection.get("box", []) or []:
        x0, x1 = sorted(box["x"][:2])
        y0, y1 = sorted(box["y"][:2])
        inside |= (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    for lasso in selection.get("lasso", []) or []:
        polygon = PolygonPath(np.column_stack([lasso["x"], lasso["y"]]))
        inside |= polygon.contains_points(np.column_stack([x, y]))
    return np.asarray(row_ids)[inside]


def take_event(event, key: str, to_row_ids) -> bool:
    """Store a new, non-empty selection event of chart `key` as the session's selection.
    An event seen before (a rerun for another reason) changes nothing; so does an empty one, since
    a chart redrawn with a new highlight comes back empty. Returns True when the selection changed."""
    selection = (event or {}).get("selection") or {}
    if not (selection.get("points") or selection.get("box") or selection.get("lasso")):
        return False
    signature = json.dumps(selection, sort_keys=True, default=str)
    if state.seen_event(key) == signature:
        return False
    state.set_selection(to_row_ids(selection), origin=key)  # forgets every chart's last event
    state.set_seen_event(key, signature)
    return True


def scatter_png_figure(x, y, colour, row_ids, chosen, *, marks=(), **layout):
    """The plotly figure of (x, y) for the PNG download: every point
    up to `density.DENSITY_ABOVE`, a raster above."""
    row_ids = np.asarray(row_ids)
    if len(row_ids) > density.DENSITY_ABOVE:
        positions = np.flatnonzero(plots.is_chosen(row_ids, chosen)) if len(chosen) else None
        return density.density_figure(_raster(x, y), colour, row_ids, positions, marks=marks, **layout)[0]
    return plots.scatter_figure(x, y, colour, row_ids, chosen, marks=marks, **layout)[0]


def row_query(lat_stamp: tuple, lat, n_rows: int, key: str):
    """Any row's nearest neighbours: pick it by its number or, on a scan, by the position nearest a point
    (x, y); "Show" makes it the selection (one row: the page shows its neighbours; Undo goes back)."""
    on_scan = lat.x is not None and lat.y is not None
    ways = {"row": "a row number", **({"position": "a position (x, y)"} if on_scan else {})}
    cols = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    by = cols[0].radio("Nearest neighbours of", list(ways), format_func=ways.get, horizontal=True,
                       key=f"{key}_query_by")
    if by == "position":
        unit = display_units(lat.units)
        for col, name, values in ((cols[1], "x", lat.x), (cols[2], "y", lat.y)):
            low, high = float(np.nanmin(values)), float(np.nanmax(values))
            col.number_input(f"{name} ({unit})", low, high, state.setting(f"{key}_query_{name}", low, bounds=(low, high)),
                             key=f"{key}_query_{name}")
    else:
        cols[1].number_input(f"Row (0 to {n_rows - 1:,})", 0, n_rows - 1,
                             state.setting(f"{key}_query_row", 0, bounds=(0, n_rows - 1)), key=f"{key}_query_row")

    def show():
        if state.widget_value(f"{key}_query_by") == "position":
            row = latent_space.row_at(lat_stamp, state.widget_value(f"{key}_query_x"),
                                      state.widget_value(f"{key}_query_y"))
        else:
            row = int(state.widget_value(f"{key}_query_row"))
        state.set_selection([row], origin=f"{key}_query")

    cols[3].button("Show", key=f"{key}_query_run", on_click=show, icon=":material/search:",
                   help="Select this row: its nearest neighbours in the latent space are listed below and marked "
                        "on the scatter.")


def where_made(origin: str) -> str:
    """"on Latent maps (the click map)" for a selection made by chart `origin`."""
    if origin not in ORIGINS:
        return "earlier (kept with the workspace)" if not origin else f"elsewhere ({origin})"
    page, panel = ORIGINS[origin]
    return f"on {page} ({panel})"


def made_elsewhere(page: str, noun: str = "pixel"):
    """Say so when the shared selection, which veils this page's maps, was made on another page (`page`: this
    page's key prefix, "clusters"), with one button to clear it; nothing when there is none or it was made here."""
    chosen, origin = state.selection(), state.selection_origin()
    if not len(chosen) or origin.startswith(f"{page}_"):
        return
    cols = st.columns([5, 1], vertical_alignment="center")
    one = len(chosen) == 1
    cols[0].info(f"{len(chosen):,} {noun}{'' if one else 's'} selected {where_made(origin)}: the maps below show "
                 f"{'it' if one else 'them'} and veil the rest.", icon=":material/select:")
    cols[1].button("Clear selection", key=f"{page}_elsewhere_clear", on_click=state.clear_selection,
                   icon=":material/deselect:")


# -- point panels (point_panel.js): the selection drawn in the browser, sent back as its shape -----------

_POINTS = Kept(8)  # content digest of a panel's coordinates -> (Geometry, header, arrays), shared by sessions


def scatter_points(x, y):
    """A scatter's rows as a point panel draws them (quantised once per coordinates)."""
    binned = len(x) > point_panel.MAX_POINTS
    return _POINTS.get(f"scatter{binned}" + digest(x) + digest(y), lambda: point_panel.scatter_geometry(x, y))


def zoomed_points(key: str, points):
    """A binned scatter's points in the view the browser keeps for panel `key` (`point_panel.zoomed`), else as
    they are."""
    geometry, header, _ = points
    view = point_panel.valid_view((state.widget_value(key) or {}).get("view"))
    if geometry.binned is None or header.get("y_down") or view is None:
        return points
    return point_panel.zoomed(points, view)


def map_points(grid, cells):
    """A scan map's rows on their grid cells, as a point panel draws them."""
    binned = len(cells[0]) > point_panel.MAX_POINTS
    return _POINTS.get(f"grid{grid}{binned}" + digest(cells[0]) + digest(cells[1]),
                       lambda: point_panel.grid_geometry(grid, cells))


def take_shapes(geometries: dict, row_ids=None) -> bool:
    """Apply a shape just drawn on one of a page's point panels (key -> its Geometry as drawn) before
    anything is drawn, so this run shows it; `row_ids`: the global row id of each of the panels' rows, when
    they show a part of the rows. Returns True when one came."""
    for key, geometry in geometries.items():
        shape = (state.widget_value(key) or {}).get("select")
        if shape:
            with common.user_errors():
                rows = point_panel.rows_in(shape, geometry)
                rows = rows if geometry.rows is None else geometry.rows[rows]  # zoomed in: a part shown
                rows = rows if row_ids is None else np.asarray(row_ids, np.int64)[rows]
                state.set_selection(point_panel.combine(shape.get("op", "replace"), rows, state.selection()),
                                    origin=key)
            return True
    return False
