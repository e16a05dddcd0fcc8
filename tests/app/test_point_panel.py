"""The point panel's Python side (ui/widgets/point_panel/): the binary payload as the browser reads it, the
selection shapes resolved over the coordinates the browser drew, and every message from the browser checked: a
forged one is refused in one line on the page, never a traceback. The cases both sides must resolve alike are in
test_point_panel_golden.py; the browser side is tested in node (tests/js/) and Chromium
(tests/browser/test_e2e_point_panels.py)."""
from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from matplotlib.path import Path as PolygonPath

from latentcore.analysis.maps import Grid
from latentcore.errors import InputError
from ui.figures import plots
from ui.widgets import point_panel
from ui.widgets.point_panel import element, geometry as panel_geometry

RNG = np.random.default_rng(7)
X, Y = RNG.normal(size=5000) * 3, RNG.normal(size=5000)


def test_the_payload_carries_the_arrays_and_header_as_the_browser_reads_them():
    geometry, header, arrays = point_panel.scatter_geometry(X, Y)
    codes = RNG.integers(0, 6, len(X)).astype(np.uint8)
    data = point_panel.payload({**header, "title": "t"}, {**arrays, "codes": codes, "values": X.astype(np.float32)})
    read, got = point_panel.read_payload(data)
    assert read["title"] == "t" and read["kind"] == "scatter" and len(data) % 4 == 0
    assert read["contract"] == point_panel.CONTRACT  # the protocol travels with every panel
    assert np.array_equal(got["codes"], codes) and np.array_equal(got["values"], X.astype(np.float32))
    low, high = read["x_range"]  # the browser's positions: low + q * (high - low) / 65535, in float64
    assert np.array_equal(low + got["qx"] * ((high - low) / 65535), geometry.x)
    assert np.abs(geometry.x - X).max() <= (high - low) / 65535  # the quantisation: within one step
    again = point_panel.payload({**header, "title": "t"}, {**arrays, "codes": codes, "values": X.astype(np.float32)})
    assert again == data  # the same message: Streamlit sends it once, then a reference
    assert point_panel.read_payload(point_panel.payload({**header, "title": "u"}, arrays))[0]["digest"] != read["digest"]
    with pytest.raises(TypeError, match="array qx is float32: the contract says"):
        point_panel.payload(header, {"qx": X.astype(np.float32)})


def shape(message: dict) -> dict:
    return point_panel.read_shape(message)


def test_a_scan_map_travels_as_grid_cells_at_the_pixel_centres():
    grid = Grid(10.0, 20.0, 1.5, 2.0, 4, 5)
    cells = (np.array([0, 0, 3, 2]), np.array([0, 4, 1, 2]))
    geometry, header, arrays = point_panel.grid_geometry(grid, cells)
    assert list(arrays["cell"]) == [0, 4, 16, 12] and header["grid"]["nx"] == 5 and header["y_down"]
    assert list(geometry.x) == [10.0, 16.0, 11.5, 13.0] and list(geometry.y) == [20.0, 20.0, 26.0, 24.0]


def test_a_click_map_in_grid_order_sends_4_bytes_a_pixel_and_its_codes_are_made_of_its_values():
    """A scan map's click map (rows the grid's cells in order, a continuous colour of its values) sends neither cells,
    row ids nor codes: its float32 values, 4 bytes a pixel; read as the browser reads it, its codes are Python's.
    Codes that are not those of the values (a categorical colour) still travel."""
    ny, nx = 150, 200
    values = np.random.default_rng(0).normal(size=ny * nx)
    values[::97] = np.nan
    points = point_panel.grid_geometry(Grid(0, 0, 0.5, 0.5, ny, nx), np.divmod(np.arange(ny * nx), nx))
    colour = plots.continuous_colour(values, "latent 3", vmin=-2.0, vmax=2.5)
    sent = point_panel.message("click", points, colour, group="g", values=values, row_ids=np.arange(ny * nx))
    assert len(sent) <= 4 * ny * nx + 16_000
    header, arrays = point_panel.read_payload(sent)
    assert sorted(name for name, *_ in header["arrays"]) == ["values"]
    assert np.array_equal(arrays["codes"], colour.codes)
    categorical = plots.Colour(np.zeros(ny * nx, np.uint8), ["#000000"], legend={"all": "#000000"})
    header, arrays = point_panel.read_payload(point_panel.message("click", points, categorical, group="g",
                                                                  values=values))
    assert "codes" in [name for name, *_ in header["arrays"]] and not arrays["codes"].any()


def test_box_and_lasso_find_the_rows_inside_and_a_click_its_row():
    geometry = point_panel.Geometry(X, Y)
    box = point_panel.rows_in(shape({"shape": "box", "x": [-1.0, 2.0], "y": [-0.5, 0.5]}), geometry)
    assert np.array_equal(box, np.flatnonzero((X >= -1) & (X <= 2) & (Y >= -0.5) & (Y <= 0.5)))
    xs, ys = [-4.0, 3.0, 1.0, -2.0, 0.5], [-1.5, -1.0, 1.2, 0.8, 0.0]  # not convex
    lasso = point_panel.rows_in(shape({"shape": "lasso", "x": xs, "y": ys}), geometry)
    expected = np.flatnonzero(PolygonPath(np.column_stack([xs, ys])).contains_points(np.column_stack([X, Y])))
    assert 100 < len(lasso) and np.array_equal(lasso, expected)  # no point lies on an edge here
    assert list(point_panel.rows_in(shape({"shape": "click", "row": 17, "x": [0.0], "y": [0.0]}), geometry)) == [17]
    with pytest.raises(InputError, match="a click on row 5,000: there are 5,000 rows"):
        point_panel.rows_in(shape({"shape": "click", "row": 5000, "x": [0.0], "y": [0.0]}), geometry)


def inside_polygon(px, py, xs, ys) -> bool:
    """The even-odd rule, one point at a time (the brute-force reference)."""
    inside, j = False, len(xs) - 1
    for i in range(len(xs)):
        if (ys[i] > py) != (ys[j] > py) and px < (xs[j] - xs[i]) * (py - ys[i]) / (ys[j] - ys[i]) + xs[i]:
            inside = not inside
        j = i
    return inside


def test_a_lasso_takes_the_rows_a_point_by_point_even_odd_rule_takes_even_on_its_edges_and_vertices():
    grid = np.arange(0, 6.5, 0.5)  # points on the vertices and edges of lassos with integer vertices
    x, y = (a.ravel() for a in np.meshgrid(grid, grid))
    for seed in range(40):
        rng = np.random.default_rng(seed)
        xs, ys = rng.integers(0, 7, (2, rng.integers(3, 41))).astype(float)  # under 8 vertices and over: banded
        lasso = {"shape": "lasso", "x": xs.tolist(), "y": ys.tolist()}
        found = point_panel.rows_in(shape(lasso), point_panel.Geometry(x, y))
        bounds = (x >= xs.min()) & (x <= xs.max()) & (y >= ys.min()) & (y <= ys.max())
        expected = [i for i in range(len(x)) if bounds[i] and inside_polygon(x[i], y[i], xs, ys)]
        assert found.tolist() == expected, (xs, ys)


BOX = {"shape": "box", "x": [0.0, 1.0], "y": [0.0, 1.0]}
FORGED = [  # a message from a hostile browser, and what the line refusing it says
    ("box", "a selection that is 'box', not a shape"),
    (["box", [0, 1], [0, 1]], "a selection that is ['box', [0, 1], [0, 1]], not a shape"),
    (7, "a selection that is 7, not a shape"),
    ({**BOX, "x": ["0", "1"]}, "a box whose x holds '0', not a number"),
    ({**BOX, "y": [{"a": 1}, {}]}, "a box whose y holds {'a': 1}, not a number"),
    ({**BOX, "x": "0,1"}, "a box whose x is '0,1': it needs a list of 2 numbers"),
    ({**BOX, "x": {"0": 0, "1": 1}}, "a box whose x is {'0': 0, '1': 1}: it needs a list of 2 numbers"),
    ({**BOX, "x": [True, False]}, "a box whose x holds True, not a number"),
    ({**BOX, "x": [0.0]}, "a box whose x is 1 values: it needs a list of 2 numbers"),
    ({"shape": "lasso", "x": [0, 1, 2, 3], "y": [0, 1, 2]}, "a lasso of 4 x and 3 y values: it needs pairs"),
    ({**BOX, "x": [0, 10 ** 400]}, "a box whose x holds a value that is not a finite number"),
    ({**BOX, "y": [0.0, float("nan")]}, "a box whose y holds a value that is not a finite number"),
    ({**BOX, "y": [0.0, float("inf")]}, "not a finite number"),
    ({"shape": "lasso", "x": [0.0] * 1_000_000, "y": [0.0] * 1_000_000},
     "a lasso whose x is 1,000,000 values: it needs a list of 3 to 5,000 numbers"),
    ({"shape": "circle", "x": [0.0], "y": [0.0]}, "unknown shape 'circle': it may be a box, lasso, click, line"),
    ({"shape": "line", "x": [0.0], "y": [0.0, 1.0]}, "a line whose x is 1 values: it needs a list of 2 numbers"),
    ({"shape": "line", "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 2.0]}, "a line whose x is 3 values: it needs a list of 2"),
    ({"shape": "line", "x": [0.0, 1.0], "y": [0.0, -float("inf")]}, "a line whose y holds a value that is not"),
    ({"shape": "line", "x": "0,1", "y": [0.0, 1.0]}, "a line whose x is '0,1': it needs a list of 2 numbers"),
    ({**BOX, "shape": ["box"]}, "unknown shape ['box']"),
    ({**BOX, "op": "xor"}, "a selection that would 'xor' rows: it may only replace, add, remove"),
    ({**BOX, "op": {"add": 1}}, "a selection that would {'add': 1} rows"),
    ({**BOX, "count": "12"}, "a selection whose count is '12', not a whole number"),
    ({**BOX, "path": "/etc/passwd"}, "a selection with unknown fields ['path']"),
    ({"shape": "click", "row": "7", "x": [0.0], "y": [0.0]}, "a click on row '7', not a row number"),
    ({"shape": "click", "row": 1.0, "x": [0.0], "y": [0.0]}, "a click on row 1.0, not a row number"),
    ({"shape": "click", "row": -1, "x": [0.0], "y": [0.0]}, "a click on row -1, not a row number"),
]


@pytest.mark.parametrize("message, says", FORGED)
def test_a_forged_selection_is_refused_in_one_short_line(message, says):
    with pytest.raises(InputError, match=re.escape(says)) as refused:
        point_panel.read_shape(message)
    assert len(str(refused.value)) < 160 and "\n" not in str(refused.value)


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
    monkeypatch.setattr(element, "_PANEL", lambda **kwargs: sent.update(kwargs))
    chosen = np.arange(0, 10_000, 3)
    point_panel.overlay("o", "g", 10_000, chosen)
    bits = np.unpackbits(np.frombuffer(base64.b64decode(sent["data"]["bits"]), np.uint8), bitorder="little")
    assert np.array_equal(np.flatnonzero(bits[:10_000]), chosen) and sent["data"]["count"] == len(chosen)
    assert sent["data"]["bit_order"] == point_panel.CONTRACT["mask_bit_order"] == "little"
    point_panel.overlay("o", "g", 10_000, [4, 2], marks={"p": [{"x": np.array([1.5]), "y": [2], "name": "m"}]})
    assert sent["data"]["rows"] == [4, 2] and sent["data"]["marks"]["p"][0]["x"] == [1.5]


def test_above_max_points_a_scatter_is_binned_and_a_shape_takes_every_row_inside(monkeypatch):
    monkeypatch.setattr(panel_geometry, "MAX_POINTS", 1000)
    geometry, header, arrays = point_panel.scatter_geometry(X, Y)
    binned, grid = geometry.binned, header["grid"]
    assert header["binned"] and grid["nx"] == grid["ny"] == panel_geometry.SCATTER_BINS
    assert arrays["count"].sum() == len(X) and np.all(arrays["count"] > 0) and np.all(np.diff(arrays["cell"]) > 0)
    column, row = binned.cell % grid["nx"], binned.cell // grid["nx"]  # each row in its cell (as quantised)
    step_x, step_y = np.ptp(X) / 65535, np.ptp(Y) / 65535
    assert np.all(np.abs(X - (grid["x0"] + column * grid["dx"])) <= grid["dx"] / 2 + step_x)
    assert np.all(np.abs(Y - (grid["y0"] + row * grid["dy"])) <= grid["dy"] / 2 + step_y)
    box = point_panel.rows_in(shape({"shape": "box", "x": [-1.0, 2.0], "y": [-0.5, 0.5]}), geometry)
    assert np.array_equal(box, np.flatnonzero((X >= -1) & (X <= 2) & (Y >= -0.5) & (Y <= 0.5)))  # exact rows
    position = int(np.argmax(arrays["count"]))  # a click on a cell: its row nearest the click
    in_cell = np.flatnonzero(binned.cell == arrays["cell"][position])
    at = (X[in_cell[0]] + 1e-6, Y[in_cell[0]])
    click = {"shape": "click", "row": position, "x": [at[0]], "y": [at[1]]}
    assert list(point_panel.rows_in(shape(click), geometry)) == [in_cell[0]] and len(in_cell) > 1
    with pytest.raises(InputError, match=f"there are {len(arrays['cell']):,} rows"):
        point_panel.rows_in(shape({**click, "row": len(arrays["cell"])}), geometry)
    shown = binned.positions(box)  # the cells shown selected: those holding a selected row
    assert set(arrays["cell"][shown]) == set(binned.cell[box])


def test_a_binned_panel_colours_each_cell_as_most_of_its_rows_or_their_mean(monkeypatch):
    monkeypatch.setattr(panel_geometry, "MAX_POINTS", 1000)
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
    monkeypatch.setattr(panel_geometry, "MAX_POINTS", 10)
    monkeypatch.setattr(panel_geometry, "MAX_CELLS", 20)
    grid = Grid(10.0, 20.0, 1.5, 2.0, 9, 10)  # 9 rows of 10 pixels: blocks of 3 x 3, 3 x 4 of them
    row, column = np.divmod(np.arange(90), 10)
    geometry, header, arrays = point_panel.grid_geometry(grid, (row, column))
    g = header["grid"]
    assert header["block"] == 3 and (g["nx"], g["ny"]) == (4, 3) and (g["dx"], g["dy"]) == (4.5, 6.0)
    assert (g["x0"], g["y0"]) == (11.5, 22.0)  # the first block's centre: pixels 0-2
    assert list(arrays["count"]) == [9, 9, 9, 3] * 3 and geometry.x[13] == 14.5  # rows keep their own position
    box = point_panel.rows_in(shape({"shape": "box", "x": [13.0, 16.0], "y": [20.0, 22.0]}), geometry)
    assert list(box) == [2, 3, 4, 12, 13, 14]
    line = point_panel.rows_in(shape({"shape": "line", "x": [23.5, 10.0], "y": [24.0, 24.0]}), geometry)
    assert list(line) == list(range(29, 19, -1))  # a line takes the pixels, not the blocks: row 2, right to left


def test_zoomed_in_a_binned_scatter_shows_the_rows_in_the_view_as_points_and_resolves_shapes_over_them(monkeypatch):
    monkeypatch.setattr(panel_geometry, "MAX_POINTS", 1000)
    overview = point_panel.scatter_geometry(X, Y)
    view = {"x0": -1.0, "x1": 1.0, "y0": -0.5, "y1": 0.5}
    geometry, header, arrays = point_panel.zoomed(overview, view)
    in_view = np.flatnonzero((X >= -1) & (X <= 1) & (Y >= -0.5) & (Y <= 0.5))
    assert 100 < len(in_view) <= 1000 and np.array_equal(geometry.rows, in_view)
    assert header["kind"] == "scatter" and header["zoomed"] and header["view"] == view and len(arrays["qx"]) == len(in_view)
    assert point_panel.zoomed(overview, dict(view)) is point_panel.zoomed(overview, view)  # kept for the last view
    shown = point_panel.rows_in(shape({"shape": "box", "x": [0.0, 1.0], "y": [-0.5, 0.0]}), geometry)
    expected = np.flatnonzero((X >= 0) & (X <= 1) & (Y >= -0.5) & (Y <= 0))
    near_edge = set(np.flatnonzero(np.minimum.reduce([abs(X), abs(X - 1), abs(Y), abs(Y + 0.5)]) < 1e-3))
    assert len(expected) > 50 and set(geometry.rows[shown]) ^ set(expected) <= near_edge  # quantised over the view
    wide = point_panel.zoomed(overview, {"x0": -3.0, "x1": 3.0, "y0": -3.0, "y1": 3.0})  # more than MAX_POINTS
    assert wide[1]["binned"] and wide[1]["zoomed"] and wide[2]["count"].sum() == len(wide[0].rows) > 1000
    empty = point_panel.zoomed(overview, {"x0": 100.0, "x1": 101.0, "y0": 0.0, "y1": 1.0})
    assert empty is overview  # nothing in the view: the whole panel


@pytest.mark.parametrize("view, says", [
    (None, "a view that is None: it needs x0, x1, y0 and y1"), ("x", "a view that is 'x'"),
    ({"x0": 0}, "a view that is {'x0': 0}: it needs x0, x1, y0 and y1"),
    ({"x0": 0, "x1": 1, "y0": 0, "y1": 1, "z": 2}, "it needs x0, x1, y0 and y1"),
    ({"x0": 1, "x1": 0, "y0": 0, "y1": 1}, "a view from x 1 to 0, y 0 to 1: it needs finite edges"),
    ({"x0": 0, "x1": float("nan"), "y0": 0, "y1": 1}, "it needs finite edges, each range from low to high"),
    ({"x0": 0, "x1": 1, "y0": 0, "y1": [1]}, "a view whose y1 is [1], not a number"),
    ({"x0": 0, "x1": 1, "y0": 0, "y1": "3"}, "a view whose y1 is '3', not a number"),
])
def test_a_view_from_the_browser_that_is_not_one_is_refused(view, says):
    with pytest.raises(InputError, match=re.escape(says)):
        point_panel.read_view(view)
    assert point_panel.read_view({"x0": 0, "x1": 1.5, "y0": -2, "y1": 3}) == {"x0": 0, "x1": 1.5, "y0": -2, "y1": 3}


# -- on the page: a forged message is refused in one line, the page drawn, the selection kept ----------------

def test_every_forged_message_to_a_page_gets_one_line_and_changes_nothing(private_folders):
    from driving import REPO, extracted, go, new_app, texts

    at = go(extracted(new_app()), "umap")
    at.session_state["selection"] = np.array([3, 5])
    at.run()
    forged = [{"shape": message} for message, _ in FORGED] + [{"view": "x"}, {"view": {"x0": 1, "x1": 0}}]
    for key in ("umap_scatter", "umap_map"):
        for message in forged:
            at.session_state[key] = message  # the component's state, as the browser sets it
            at.run()
            assert not at.exception, (message, at.exception)
            lines = [w.value for w in at.warning]
            assert len(lines) == 1 and lines[0].startswith("The browser sent a"), (message, lines)
            shown = texts(at.warning) + texts(at.error) + texts(at.markdown) + texts(at.caption)
            assert "\n" not in lines[0] and str(REPO) not in shown and "Traceback" not in shown
            assert at.session_state["selection"].tolist() == [3, 5] and at.subheader[0].value == "Selected: 2 points"
        at.session_state[key] = {}
    at.session_state["umap_scatter"] = {"shape": {"shape": "click", "row": 7, "x": [0.0], "y": [0.0], "op": "add"}}
    at.run()  # a message that is one is taken
    assert not at.warning and at.session_state["selection"].tolist() == [3, 5, 7]
