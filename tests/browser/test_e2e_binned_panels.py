"""Binned point panels (above `point_panel.geometry.MAX_POINTS` rows; the server started with LATENT_EXPLORER_MAX_POINTS=1000,
so the demo's 2,400 rows are drawn as a big scan's are) in real headless Chromium on the UMAP page: the scatter is
drawn as cells, a box takes exactly the rows inside it over their own coordinates, both panels then show the cells
that hold a selected row, and the hover counts a cell's rows."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from latentcore.demo import DEMO_SCAN
from steps import ARTIFACTS, extract_with_the_demo_model, open_page, panel, panel_call, panel_drag
from streamlit_server import serve, settle, worker_cache
from ui.widgets import point_panel
from ui.widgets.point_panel import geometry


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("e2e_binned"), env={"LATENT_EXPLORER_MAX_POINTS": "1000"},
               cache=worker_cache()) as (url, log):
        yield url
    assert "Traceback" not in log.read_text(), log.read_text()


def server_table(page) -> pd.DataFrame:
    with page.expect_download() as download:
        page.get_by_role("button", name="Table (CSV)").click()
    return pd.read_csv(io.StringIO(open(download.value.path()).read()))


def test_a_box_on_a_binned_scatter_takes_every_row_inside_and_both_panels_show_their_cells(page, monkeypatch):
    monkeypatch.setattr(geometry, "MAX_POINTS", 1000)  # this process bins as the server does
    extract_with_the_demo_model(page, DEMO_SCAN)
    open_page(page, "UMAP", "UMAP")
    panel(page, "umap_scatter")
    panel(page, "umap_map")
    header = page.evaluate("window.__latentPanels.panels.umap_scatter.header")
    assert header["binned"] and header["n"] < 2400
    page.get_by_text("2,400 rows, drawn as a 512 x 512 grid of cells").wait_for()

    panel_drag(page, "umap_scatter", [(0.25, 0.25), (0.8, 0.75)])
    timing = page.evaluate("window.__latentPanels.timing.umap_scatter")
    table = server_table(page)
    x, y = table["umap_0"].to_numpy(), table["umap_1"].to_numpy()
    inside = point_panel.rows_in(point_panel.read_shape(timing["shape"]), point_panel.Geometry(x, y))  # every row's own coordinates
    selected = table.loc[table["selected"], "row"].to_numpy()
    assert timing["count"] > 0 and 0 < len(selected) < 2400 and np.array_equal(selected, inside)

    scatter = point_panel.scatter_geometry(x, y)[0].binned  # the cells holding a selected row, on both panels
    assert panel_call(page, "umap_scatter", "selectedRows") == scatter.positions(selected).tolist()
    pixels = np.round(table["y_um"] / 1.5).astype(int) * 60 + np.round(table["x_um"] / 1.5).astype(int)
    assert panel_call(page, "umap_map", "selectedRows") == np.unique(pixels[selected]).tolist()

    page.set_viewport_size({"width": 1600, "height": 1000})
    counts = page.evaluate("Array.from(window.__latentPanels.panels.umap_scatter.arrays.count)")
    cell = int(np.argmax(counts))
    panel(page, "umap_scatter").scroll_into_view_if_needed()
    page.mouse.move(*panel_call(page, "umap_scatter", "clientOf", cell))
    tip = page.locator(".lp-root[data-key=umap_scatter] .lp-tip")
    tip.wait_for()
    assert tip.inner_text().startswith(f"{counts[cell]} rows in this cell\nUMAP 1 "), tip.inner_text()
    page.screenshot(path=str(ARTIFACTS / "binned_umap_1600x1000.png"))


def test_zoomed_in_a_binned_scatter_shows_the_rows_in_view_as_points_and_a_box_takes_exactly_those(page, monkeypatch):
    monkeypatch.setattr(geometry, "MAX_POINTS", 1000)
    page.set_viewport_size({"width": 1600, "height": 1000})
    canvas = panel(page, "umap_scatter")
    canvas.scroll_into_view_if_needed()
    counts = page.evaluate("Array.from(window.__latentPanels.panels.umap_scatter.arrays.count)")
    page.mouse.move(*panel_call(page, "umap_scatter", "clientOf", int(np.argmax(counts))))
    for _ in range(2):  # the wheel zooms in about the pointer; the view goes to the server when it pauses
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(100)
    page.wait_for_function("() => window.__latentPanels.panels.umap_scatter?.header.zoomed")
    settle(page)
    header = page.evaluate("window.__latentPanels.panels.umap_scatter.header")
    assert header["kind"] == "scatter" and 0 < header["n"] <= 1000  # the rows in the view, as points
    page.get_by_text(f"Zoomed in: the {header['n']:,} rows in this view as points").wait_for()

    # a box over the left half of the points drawn (wherever the zoom put them), so it takes some but not all
    area = canvas.bounding_box()
    drawn_at = np.array([panel_call(page, "umap_scatter", "clientOf", i) for i in range(header["n"])])
    x_cut, (y_low, y_high) = np.median(drawn_at[:, 0]), (drawn_at[:, 1].min() - 3, drawn_at[:, 1].max() + 3)
    fractions = [((drawn_at[:, 0].min() - 3 - area["x"]) / area["width"], (y_low - area["y"]) / area["height"]),
                 ((x_cut - area["x"]) / area["width"], (y_high - area["y"]) / area["height"])]
    panel_drag(page, "umap_scatter", fractions)
    shape = page.evaluate("window.__latentPanels.timing.umap_scatter.shape")
    canvas.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "binned_zoomed_umap_1600x1000.png"))
    table = server_table(page)
    x, y, view = table["umap_0"].to_numpy(), table["umap_1"].to_numpy(), header["view"]
    in_view = np.flatnonzero((x >= view["x0"]) & (x <= view["x1"]) & (y >= view["y0"]) & (y <= view["y1"]))
    drawn = point_panel.scatter_geometry(x[in_view], y[in_view])[0]  # as the browser drew them
    expected = in_view[point_panel.rows_in(point_panel.read_shape(shape), drawn)]
    selected = table.loc[table["selected"], "row"].to_numpy()
    assert 0 < len(selected) and np.array_equal(selected, expected)
    assert panel_call(page, "umap_scatter", "selectedRows") == np.flatnonzero(np.isin(in_view, selected)).tolist()

    page.locator(".lp-root[data-key=umap_scatter] button", has_text="Reset").click()  # back to every row, binned
    page.wait_for_function("() => window.__latentPanels.panels.umap_scatter?.header.binned"
                           " && !window.__latentPanels.panels.umap_scatter.header.zoomed")
