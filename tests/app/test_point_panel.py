"""The point panel's Python side (ui/widgets/point_panel.py): the binary payload as the browser reads it, the
selection shapes resolved over the coordinates the browser drew, and hostile shapes refused. The browser side is
tested in Chromium (tests/browser/test_e2e_point_panels.py)."""
from __future__ import annotations

import base64

import numpy as np
import pytest
from matplotlib.path import Path as PolygonPath

from latentcore.analysis.maps import Grid
from latentcore.errors import InputError
from ui.figures import plots
from ui.widgets import point_panel

RNG = np.random.default_rng(7)
X, Y = RNG.normal(size=5000) * 3, RNG.normal(size=5000)


def test_the_payload_carries_the_arrays_and_header_as_the_browser_reads_them():
    geometry, header, arrays = point_panel.scatter_geometry(X, Y)
    codes = RNG.integers(0, 6, len(X)).astype(np.uint8)
    data = point_panel.payload({**header, "title": "t"}, {**arrays, "codes": codes, "values": X.astype(np.float32)})
    read, got = point_panel.read_payload(data)
    assert read["title"] == "t" and read["kind"] == "scatter" and len(data) % 4 == 0
    assert np.array_equal(got["codes"], codes) and np.array_equal(got["values"], X.astype(np.float32))
    low, high = read["x_range"]  # the browser's positions: low + q * (high - low) / 65535, in float64
    assert np.array_equal(low + got["qx"] * ((high - low) / 65535), geometry.x)
    assert np.abs(geometry.x - X).max() <= (high - low) / 65535  # the quantisation: within one step
    again = point_panel.payload({**header, "title": "t"}, {**arrays, "codes": codes, "values": X.astype(np.float32)})
    assert again == data  # the same message: Streamlit sends it once, then a reference
    assert point_panel.read_payload(point_panel.payload({**header, "title": "u"}, arrays))[0]["digest"] != read["digest"]


def test_a_scan_map_travels_as_grid_cells_at_the_pixel_centres():
    grid = Grid(10.0, 20.0, 1.5, 2.0, 4, 5)
    cells = (np.array([0, 0, 3, 2]), np.array([0, 4, 1, 2]))
    geometry, header, arrays = point_panel.grid_geometry(grid, cells)
    assert list(arrays["cell"]) == [0, 4, 16, 12] and header["grid"]["nx"] == 5 and header["y_down"]
    assert list(geometry.x) == [10.0, 16.0, 11.5, 13.0] and list(geometry.y) == [20.0, 20.0, 26.0, 24.0]


def test_box_and_lasso_find_the_rows_inside_and_a_click_its_row():
    geometry = point_panel.Geometry(X, Y)
    box = point_panel.rows_in({"shape": "box", "x": [-1.0, 2.0], "y": [-0.5, 0.5]}, geometry)
    assert np.array_equal(box, np.flatnonzero((X >= -1) & (X <= 2) & (Y >= -0.5) & (Y <= 0.5)))
    xs, ys = [-4.0, 3.0, 1.0, -2.0, 0.5], [-1.5, -1.0, 1.2, 0.8, 0.0]  # not convex
    lasso = point_panel.rows_in({"shape": "lasso", "x": xs, "y": ys}, geometry)
    expected = np.flatnonzero(PolygonPath(np.column_stack([xs, ys])).contains_points(np.column_stack([X, Y])))
    assert 100 < len(lasso) and np.array_equal(lasso, expected)  # no point lies on an edge here
    assert list(point_panel.rows_in({"shape": "click", "row": 17, "x": [0.0], "y": [0.0]}, geometry)) == [17]


@pytest.mark.parametrize("shape, says", [
    ({"shape": "click", "row": 5000}, "a click on row 5000: there are 5,000 rows"),
    ({"shape": "click", "row": "7"}, "a click on row '7'"),
    ({"shape": "box", "x": [0.0], "y": [0.0]}, "a box needs 2 to 5,000 pairs"),
    ({"shape": "lasso", "x": [0.0] * 6000, "y": [0.0] * 6000}, "a lasso needs 3 to 5,000 pairs"),
    ({"shape": "lasso", "x": [0.0, 1.0, "nan"], "y": [0.0, 1.0, 2.0]}, "not a finite number"),
    ({"shape": "circle", "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 2.0]}, "unknown shape 'circle'"),
])
def test_a_malformed_shape_is_refused_in_one_line(shape, says):
    with pytest.raises(InputError, match=says):
        point_panel.rows_in(shape, point_panel.Geometry(X, Y))


def test_shift_adds_alt_removes_and_a_plain_shape_replaces():
    current = np.array([1, 5, 9])
    assert list(point_panel.combine("add", np.array([2, 5]), current)) == [1, 2, 5, 9]
    assert list(point_panel.combine("remove", np.array([5, 7]), current)) == [1, 9]
    assert list(point_panel.combine("replace", np.array([7, 2]), current)) == [2, 7]
    with pytest.raises(InputError, match="may only replace, add, remove"):
        point_panel.combine("xor", current, current)


def test_the_colour_header_has_the_palette_and_a_colour_bar_or_a_legend():
    bar = point_panel.colour_header(plots.continuous_colour(np.linspace(3, 9, 50), "band contrast"))
    assert bar["colorbar"]["title"] == "band contrast" and (bar["colorbar"]["low"], bar["colorbar"]["high"]) == (3, 9)
    assert len(bar["palette"]) == 256 and "legend" not in bar
    legend = point_panel.colour_header(plots.categorical_colour(np.array([0, 1, 1, -1]), "cluster"))
    assert [name for name, _ in legend["legend"]] == ["noise (1)", "cluster 0 (1)", "cluster 1 (2)"]


def test_a_large_selection_travels_as_bits(monkeypatch):
    sent = {}
    monkeypatch.setattr(point_panel, "_PANEL", lambda **kwargs: sent.update(kwargs))
    chosen = np.arange(0, 10_000, 3)
    point_panel.overlay("o", "g", 10_000, chosen)
    bits = np.unpackbits(np.frombuffer(base64.b64decode(sent["data"]["bits"]), np.uint8), bitorder="little")
    assert np.array_equal(np.flatnonzero(bits[:10_000]), chosen) and sent["data"]["count"] == len(chosen)
    point_panel.overlay("o", "g", 10_000, [4, 2], marks={"p": [{"x": np.array([1.5]), "y": [2], "name": "m"}]})
    assert sent["data"]["rows"] == [4, 2] and sent["data"]["marks"]["p"][0]["x"] == [1.5]


def test_above_max_points_a_scatter_is_binned_and_a_shape_takes_every_row_inside(monkeypatch):
    monkeypatch.setattr(point_panel, "MAX_POINTS", 1000)
    geometry, header, arrays = point_panel.scatter_geometry(X, Y)
    binned, grid = geometry.binned, header["grid"]
    assert header["binned"] and grid["nx"] == grid["ny"] == point_panel.SCATTER_BINS
    assert arrays["count"].sum() == len(X) and np.all(arrays["count"] > 0) and np.all(np.diff(arrays["cell"]) > 0)
    column, row = binned.cell % grid["nx"], binned.cell // grid["nx"]  # each row in its cell (as quantised)
    step_x, step_y = np.ptp(X) / 65535, np.ptp(Y) / 65535
    assert np.all(np.abs(X - (grid["x0"] + column * grid["dx"])) <= grid["dx"] / 2 + step_x)
    assert np.all(np.abs(Y - (grid["y0"] + row * grid["dy"])) <= grid["dy"] / 2 + step_y)
    box = point_panel.rows_in({"shape": "box", "x": [-1.0, 2.0], "y": [-0.5, 0.5]}, geometry)
    assert np.array_equal(box, np.flatnonzero((X >= -1) & (X <= 2) & (Y >= -0.5) & (Y <= 0.5)))  # exact rows
    position = int(np.argmax(arrays["count"]))  # a click on a cell: its row nearest the click
    in_cell = np.flatnonzero(binned.cell == arrays["cell"][position])
    at = (X[in_cell[0]] + 1e-6, Y[in_cell[0]])
    click = {"shape": "click", "row": position, "x": [at[0]], "y": [at[1]]}
    assert list(point_panel.rows_in(click, geometry)) == [in_cell[0]] and len(in_cell) > 1
    with pytest.raises(InputError, match=f"there are {len(arrays['cell']):,} rows"):
        point_panel.rows_in({**click, "row": len(arrays["cell"])}, geometry)
    shown = binned.positions(box)  # the cells shown selected: those holding a selected row
    assert set(arrays["cell"][shown]) == set(binned.cell[box])


def test_a_binned_panel_colours_each_cell_as_most_of_its_rows_or_their_mean(monkeypatch):
    monkeypatch.setattr(point_panel, "MAX_POINTS", 1000)
    geometry, _, arrays = point_panel.scatter_geometry(X, Y)
    colour = plots.categorical_colour(RNG.integers(0, 3, len(X)), "c")
    codes = geometry.binned.codes(colour)
    for position in np.flatnonzero(arrays["count"] >= 3)[:50]:
        counts = np.bincount(colour.codes[geometry.binned.cell == arrays["cell"][position]], minlength=3)
        assert counts[codes[position]] == counts.max()
    values = np.where(X > 4, np.nan, X)  # a few cells hold only NaN: the NaN colour
    colour = plots.continuous_colour(values, "v")
    codes = geometry.binned.codes(colour)
    for position in range(len(arrays["cell"])):
        rows = geometry.binned.cell == arrays["cell"][position]
        finite = colour.codes[rows][np.isfinite(values[rows])].astype(float)
        assert codes[position] == (np.rint(finite.mean()) if len(finite) else 255)


def test_a_large_scan_map_is_binned_in_blocks_of_pixels(monkeypatch):
    monkeypatch.setattr(point_panel, "MAX_POINTS", 10)
    monkeypatch.setattr(point_panel, "MAX_CELLS", 20)
    grid = Grid(10.0, 20.0, 1.5, 2.0, 9, 10)  # 9 rows of 10 pixels: blocks of 3 x 3, 3 x 4 of them
    row, column = np.divmod(np.arange(90), 10)
    geometry, header, arrays = point_panel.grid_geometry(grid, (row, column))
    g = header["grid"]
    assert header["block"] == 3 and (g["nx"], g["ny"]) == (4, 3) and (g["dx"], g["dy"]) == (4.5, 6.0)
    assert (g["x0"], g["y0"]) == (11.5, 22.0)  # the first block's centre: pixels 0-2
    assert list(arrays["count"]) == [9, 9, 9, 3] * 3 and geometry.x[13] == 14.5  # rows keep their own position
    box = point_panel.rows_in({"shape": "box", "x": [13.0, 16.0], "y": [20.0, 22.0]}, geometry)
    assert list(box) == [2, 3, 4, 12, 13, 14]


def test_zoomed_in_a_binned_scatter_shows_the_rows_in_the_view_as_points_and_resolves_shapes_over_them(monkeypatch):
    monkeypatch.setattr(point_panel, "MAX_POINTS", 1000)
    overview = point_panel.scatter_geometry(X, Y)
    view = {"x0": -1.0, "x1": 1.0, "y0": -0.5, "y1": 0.5}
    geometry, header, arrays = point_panel.zoomed(overview, view)
    in_view = np.flatnonzero((X >= -1) & (X <= 1) & (Y >= -0.5) & (Y <= 0.5))
    assert 100 < len(in_view) <= 1000 and np.array_equal(geometry.rows, in_view)
    assert header["kind"] == "scatter" and header["zoomed"] and header["view"] == view and len(arrays["qx"]) == len(in_view)
    assert point_panel.zoomed(overview, dict(view)) is point_panel.zoomed(overview, view)  # kept for the last view
    shown = point_panel.rows_in({"shape": "box", "x": [0.0, 1.0], "y": [-0.5, 0.0]}, geometry)
    expected = np.flatnonzero((X >= 0) & (X <= 1) & (Y >= -0.5) & (Y <= 0))
    near_edge = set(np.flatnonzero(np.minimum.reduce([abs(X), abs(X - 1), abs(Y), abs(Y + 0.5)]) < 1e-3))
    assert len(expected) > 50 and set(geometry.rows[shown]) ^ set(expected) <= near_edge  # quantised over the view
    wide = point_panel.zoomed(overview, {"x0": -3.0, "x1": 3.0, "y0": -3.0, "y1": 3.0})  # more than MAX_POINTS
    assert wide[1]["binned"] and wide[1]["zoomed"] and wide[2]["count"].sum() == len(wide[0].rows) > 1000
    empty = point_panel.zoomed(overview, {"x0": 100.0, "x1": 101.0, "y0": 0.0, "y1": 1.0})
    assert empty is overview  # nothing in the view: the whole panel


@pytest.mark.parametrize("view", [None, "x", {"x0": 0}, {"x0": 1, "x1": 0, "y0": 0, "y1": 1},
                                  {"x0": 0, "x1": "nan", "y0": 0, "y1": 1}, {"x0": 0, "x1": 1, "y0": 0, "y1": [1]}])
def test_a_view_from_the_browser_that_is_not_one_is_ignored(view):
    assert point_panel.valid_view(view) is None
    assert point_panel.valid_view({"x0": 0, "x1": 1.5, "y0": -2, "y1": "3"}) == {"x0": 0, "x1": 1.5, "y0": -2, "y1": 3}
