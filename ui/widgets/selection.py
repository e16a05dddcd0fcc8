"""Linked selections. Every panel shows the session's selection (global row ids, `state.selection`) and writes
to it: a shape drawn on a point panel comes back as a message, is checked, and is resolved over the coordinates
the browser drew (`take_shapes`) before anything is drawn. Where a selection was made (`settings.ORIGINS`), any row's
nearest neighbours (`row_query`), and the scatter's figure for its PNG download."""
from __future__ import annotations

import numpy as np
import streamlit as st

from latentcore.data.base import display_units
from latentcore.errors import InputError

from ..compute import latent_space, sources
from ..figures import density, plots
from ..kept import Kept, digest
from ..session import defaults, state
from ..session.settings import ORIGINS
from . import point_panel

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


def scatter_png_figure(x, y, colour, row_ids, chosen, *, marks=(), **layout):
    """The plotly figure of (x, y) for the PNG download: every point
    up to `density.DENSITY_ABOVE`, a raster above."""
    row_ids = np.asarray(row_ids)
    if len(row_ids) > density.DENSITY_ABOVE:
        positions = np.flatnonzero(plots.is_chosen(row_ids, chosen)) if len(chosen) else None
        return density.density_figure(_raster(x, y), colour, row_ids, positions, marks=marks, **layout)[0]
    return plots.scatter_figure(x, y, colour, row_ids, chosen, marks=marks, **layout)[0]


def row_query(lat_stamp: tuple, lat, key: str):
    """Any row's nearest neighbours: pick it by its number or, on a scan, by the position nearest a point
    (x, y); on a study of several sources, within the source picked (its own rows and grid); "Show" makes it the
    selection (one row: the page shows its neighbours; Undo goes back)."""
    found = sources.members(lat_stamp)
    cols = st.columns([1, 2, 1, 1, 1] if len(found) > 1 else [2, 1, 1, 1], vertical_alignment="bottom")
    source = found[_query_source(cols.pop(0), found, key) if len(found) > 1 else 0]
    on_scan = lat.x is not None and lat.y is not None
    ways = {"row": "a row number", **({"position": "a position (x, y)"} if on_scan else {})}
    by = cols[0].radio("Nearest neighbours of", list(ways), format_func=ways.get, horizontal=True,
                       key=f"{key}_query_by")
    if by == "position":
        unit = display_units(lat.units)
        for col, name, values in ((cols[1], "x", lat.x), (cols[2], "y", lat.y)):
            values = np.asarray(values)[source.start:source.start + source.rows]
            low, high = float(np.nanmin(values)), float(np.nanmax(values))
            col.number_input(f"{name} ({unit})", low, high,
                             defaults.setting(f"{key}_query_{name}", low, bounds=(low, high)),
                             key=f"{key}_query_{name}")
    else:
        last = source.rows - 1
        cols[1].number_input(f"Row (0 to {last:,})", 0, last, defaults.setting(f"{key}_query_row", 0, bounds=(0, last)),
                             key=f"{key}_query_row")

    def show():
        picked = found[min(int(defaults.widget_value(f"{key}_query_source", 0)), len(found) - 1)]
        if defaults.widget_value(f"{key}_query_by") == "position":
            row = latent_space.row_at(picked.stamp, defaults.widget_value(f"{key}_query_x"),
                                      defaults.widget_value(f"{key}_query_y"))
        else:
            row = int(defaults.widget_value(f"{key}_query_row"))
        state.set_selection([picked.start + row], origin=f"{key}_query")

    cols[3].button("Show", key=f"{key}_query_run", on_click=show, icon=":material/search:",
                   help="Select this row: its nearest neighbours in the latent space are listed below and marked "
                        "on the scatter.")


def _query_source(column, found: list, key: str) -> int:
    """The source (its index) whose row the query asks for, picked in `column`."""
    names = [source.name for source in found]
    return int(column.selectbox("Source", range(len(names)), format_func=names.__getitem__,
                                key=f"{key}_query_source",
                                index=defaults.setting_index(f"{key}_query_source", 0, range(len(names)))))


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


# -- point panels (ui/widgets/point_panel/): the selection drawn in the browser, sent back as its shape ------

_POINTS = Kept(8)  # content digest of a panel's coordinates -> (Geometry, header, arrays), shared by sessions


def scatter_points(x, y):
    """A scatter's rows as a point panel draws them (quantised once per coordinates)."""
    return _POINTS.get("scatter" + _limits() + digest(x) + digest(y), lambda: point_panel.scatter_geometry(x, y))


def map_points(grid, cells):
    """A scan map's rows on their grid cells, as a point panel draws them."""
    return _POINTS.get(f"grid{grid}" + _limits() + digest(cells[0]) + digest(cells[1]),
                       lambda: point_panel.grid_geometry(grid, cells))


def _limits() -> str:
    """The binning limits a panel's geometry was made under, part of its key (tests lower them)."""
    return f"{point_panel.geometry.MAX_POINTS}/{point_panel.geometry.MAX_CELLS}"


def _message(key: str, name: str):
    """What panel `key`'s browser side sent under `name` ("shape", "view"), unchecked; None when nothing."""
    value = defaults.widget_value(key)
    return value.get(name) if isinstance(value, dict) else None


def zoomed_points(key: str, points):
    """A binned scatter's points in the view the browser keeps for panel `key` (`point_panel.zoomed`), else as
    they are (a view that is not one is said by `take_shapes`)."""
    geometry, header, _ = points
    message = _message(key, "view")
    if geometry.binned is None or header.get("y_down") or message is None:
        return points
    try:
        return point_panel.zoomed(points, point_panel.read_view(message))
    except InputError:
        return points


def take_shapes(geometries: dict, row_ids=None, scan: tuple | None = None) -> bool:
    """Apply a shape just drawn on one of a page's point panels (key -> its Geometry as drawn) before
    anything is drawn, so this run shows it; `row_ids`: the global row id of each of the panels' rows, when
    they show a part of the rows. A line drawn on a scan map is kept as the session's profile line of that scan
    (`scan`: its latents file's stamp; the selection stays). Every message from the browser is checked first: one
    that is not a shape or a view is refused in one line and changes nothing. Returns True when a shape came."""
    for key in geometries:
        view = _message(key, "view")
        try:
            if view is not None:
                point_panel.read_view(view)
        except InputError as exc:
            _refused("view", exc)
    for key, geometry in geometries.items():
        message = _message(key, "shape")
        if message is None:
            continue
        try:
            shape = point_panel.read_shape(message)
            rows = point_panel.rows_in(shape, geometry)
        except InputError as exc:
            _refused("selection", exc)
            return False
        if shape["shape"] == "line":
            if scan is not None:
                state.set_profile_line([shape["x"][0], shape["y"][0], shape["x"][1], shape["y"][1]], scan)
            return True
        rows = rows if geometry.rows is None else geometry.rows[rows]  # zoomed in: a part shown
        rows = rows if row_ids is None else np.asarray(row_ids, np.int64)[rows]
        state.set_selection(point_panel.combine(shape["op"], rows, state.selection()), origin=key)
        return True
    return False


def _refused(what: str, exc: InputError):
    st.warning(f"The browser sent a {what} that is refused, and nothing changed: {exc}. Draw it again, and reload the "
               "page if this repeats.", icon=":material/block:")
