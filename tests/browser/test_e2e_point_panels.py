"""The point panels (ui/widgets/point_panel/) in real headless Chromium on the UMAP page of the demo: box, lasso
and click select in the browser exactly the rows the server's geometry gives for the shape drawn
(`point_panel.rows_in` over the coordinates the browser drew), Shift adds and Alt removes, the linked scan map
highlights the same rows, a lasso too long for one message is simplified in the browser and said, and the hover
names the row and its position in µm."""
from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.maps import Grid
from latentcore.demo import DEMO_SCAN
from steps import (ARTIFACTS, extract_with_the_demo_model, open_page, panel, panel_call, panel_click_row,
                   panel_drag, panel_tool)
from streamlit_server import settle
from ui.widgets import point_panel


@pytest.fixture(scope="module")
def umap(page):
    extract_with_the_demo_model(page, DEMO_SCAN)
    open_page(page, "UMAP", "UMAP")
    panel(page, "umap_scatter")
    panel(page, "umap_map")
    return page


def server_table(page) -> pd.DataFrame:
    """The UMAP table as the server writes it, with its `selected` flags."""
    button = page.get_by_role("button", name="Table (CSV)")
    with page.expect_download() as download:
        button.click()
    return pd.read_csv(io.StringIO(open(download.value.path()).read()))


def geometries(table):
    scatter = point_panel.scatter_geometry(table["umap_0"].to_numpy(), table["umap_1"].to_numpy())[0]
    x, y = table["x_um"].to_numpy(), table["y_um"].to_numpy()
    grid = Grid.from_coordinates(x, y)
    return {"umap_scatter": scatter, "umap_map": point_panel.grid_geometry(grid, grid.indices(x, y))[0]}


def selected_everywhere(page) -> tuple[list, list, list]:
    """The rows highlighted on the scatter and on the map in the browser, and those the server selected."""
    table = server_table(page)
    return (panel_call(page, "umap_scatter", "selectedRows"), panel_call(page, "umap_map", "selectedRows"),
            table.loc[table["selected"], "row"].tolist())


def expected(page, key: str, table, before=()) -> list:
    shape = page.evaluate(f"window.__latentPanels.timing[{key!r}].shape")
    rows = point_panel.rows_in(point_panel.read_shape(shape), geometries(table)[key])
    return point_panel.combine(shape["op"], rows, np.asarray(before, np.int64)).tolist()


def test_box_lasso_and_click_select_the_rows_the_server_finds_on_both_panels(umap):
    page = umap
    panel_drag(page, "umap_scatter", [(0.3, 0.3), (0.75, 0.7)])
    table = server_table(page)
    on_scatter, on_map, on_server = selected_everywhere(page)
    assert 0 < len(on_server) < 2400
    assert on_scatter == on_map == on_server == expected(page, "umap_scatter", table)
    page.locator("h3", has_text=f"Selected: {len(on_server):,} points").wait_for()

    panel_tool(page, "umap_scatter", "Lasso")  # Shift adds a lasso's rows
    panel_drag(page, "umap_scatter", [(0.1, 0.1), (0.5, 0.12), (0.45, 0.5), (0.12, 0.45)], modifier="Shift")
    before = on_server
    on_scatter, on_map, on_server = selected_everywhere(page)
    assert len(on_server) > len(before) and set(before) <= set(on_server)
    assert on_scatter == on_map == on_server == expected(page, "umap_scatter", table, before)

    panel_drag(page, "umap_map", [(0.02, 0.02), (0.5, 0.98)], modifier="Alt")  # Alt removes the scan's left half
    before = on_server
    on_scatter, on_map, on_server = selected_everywhere(page)
    assert len(on_server) < len(before) and set(on_server) <= set(before)
    assert on_scatter == on_map == on_server == expected(page, "umap_map", table, before)

    panel_click_row(page, "umap_scatter", 1234)
    assert selected_everywhere(page) == ([1234], [1234], [1234])
    page.get_by_text("nearest neighbours of row 1234").wait_for()


# a lasso drawn as a person draws one, but of a million moves (each at least 2 px from the last, so each a vertex):
# a circle (centre and radius in px of the panel's canvas) whose radius swings by 3 px at every vertex; the moves are
# dispatched between a real press and release
MILLION_MOVES = """([cx, cy, r]) => {
    const el = window.__latentPanels.panels.umap_scatter.shape, box = el.getBoundingClientRect(), n = 1_000_000;
    for (let i = 1; i < n; i++) {
        const a = 2 * Math.PI * i / n, rr = r + (i % 2 ? 3 : -3);
        el.dispatchEvent(new PointerEvent('pointermove', {clientX: box.left + cx + rr * Math.cos(a),
            clientY: box.top + cy + rr * Math.sin(a), bubbles: true, pointerId: 1, isPrimary: true}));
    } }"""
ON_CANVAS = """() => { const p = window.__latentPanels.panels.umap_scatter, box = p.shape.getBoundingClientRect();
    return Array.from({length: p.header.n}, (_, i) => p.clientOf(i)).map(([x, y]) => [x - box.left, y - box.top]); }"""


def test_a_lasso_too_long_for_one_message_is_simplified_in_the_browser_and_said(umap):
    """A lasso of 10^6 vertices is 37.7 MB of JSON, over the websocket's 25 MB: the connection would drop and the
    selection be lost without a word. The browser simplifies it to the contract's max_vertices and says so."""
    page = umap
    panel_tool(page, "umap_scatter", "Lasso")
    box = panel(page, "umap_scatter").bounding_box()
    cx, cy, r = box["width"] / 2, box["height"] / 2, 0.3 * min(box["width"], box["height"])
    page.mouse.move(box["x"] + cx + r - 3, box["y"] + cy)
    page.mouse.down()
    page.evaluate(MILLION_MOVES, [cx, cy, r])
    page.mouse.up()
    time.sleep(1)
    settle(page)
    note = page.locator(".lp-root[data-key=umap_scatter] .lp-note")
    assert note.inner_text() == (f"A lasso of 1,000,000 vertices, simplified to {point_panel.MAX_VERTICES:,} (a selection "
                                 f"holds at most {point_panel.MAX_VERTICES:,}): the rows inside the simplified outline "
                                 "are selected.")
    shape = page.evaluate("window.__latentPanels.timing.umap_scatter.shape")
    assert len(shape["x"]) == len(shape["y"]) == point_panel.MAX_VERTICES
    table = server_table(page)
    on_scatter, on_map, on_server = selected_everywhere(page)
    assert on_scatter == on_map == on_server == expected(page, "umap_scatter", table) and len(on_server) > 10
    drawn = np.array(page.evaluate(ON_CANVAS))
    away = np.hypot(drawn[:, 0] - cx, drawn[:, 1] - cy)  # each row's distance from the circle's centre, in px
    chosen = np.isin(np.arange(len(drawn)), on_server)
    inside, outside = away < r - 4, away > r + 4
    assert inside.sum() > 10 and outside.sum() > 10
    assert chosen[inside].all() and not chosen[outside].any()  # the outline kept, within its wiggle
    note.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "point_panels_million_vertex_lasso.png"))


def test_hover_names_the_row_and_its_position_in_microns(umap):
    page = umap
    table = server_table(page)
    for key in ("umap_map", "umap_scatter"):
        panel(page, key).scroll_into_view_if_needed()
        page.mouse.move(*panel_call(page, key, "clientOf", 77))
        tip = page.locator(f".lp-root[data-key={key}] .lp-tip")
        tip.wait_for()
        x, y = table.loc[77, ["x_um", "y_um"]]
        assert tip.inner_text().splitlines()[:2] == ["row 77", f"x {x:.4g} µm, y {y:.4g} µm"], tip.inner_text()


def test_the_umap_page_at_1600_by_1000(umap):
    page = umap
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.mouse.move(5, 5)
    page.locator("h1", has_text="UMAP").scroll_into_view_if_needed()
    widths = [panel(page, key).bounding_box()["width"] for key in ("umap_scatter", "umap_map")]
    assert all(w >= 550 for w in widths), widths  # side by side, about half the width each
    page.screenshot(path=str(ARTIFACTS / "point_panels_umap_1600x1000.png"))
