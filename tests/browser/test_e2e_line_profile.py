"""A line profile drawn with the mouse on the demo's UMAP scan map in real headless Chromium: the Line tool draws the
line on the scan map at once, the browser counts the pixels it passes through by the rule the server resolves, the
profile table under the maps (its CSV) holds exactly those rows in order, the Latent maps page's click map shows the
same line, and the scan maps' scale bars are the round lengths latentcore.figures.nice_length gives for their width."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from latentcore import figures
from latentcore.analysis.maps import Grid
from latentcore.demo import DEMO_SCAN
from steps import ARTIFACTS, extract_with_the_demo_model, open_page, panel, panel_call, panel_drag, panel_tool
from ui.widgets import point_panel


@pytest.fixture(scope="module")
def umap(page):
    extract_with_the_demo_model(page, DEMO_SCAN)
    open_page(page, "UMAP", "UMAP")
    panel(page, "umap_map")
    return page


def browser(page, what: str, key: str = "umap_map"):
    return page.evaluate(f"window.__latentPanels.panels[{key!r}].{what}")


def profile_csv(page) -> pd.DataFrame:
    button = page.get_by_role("button", name="Profile (CSV)")
    button.scroll_into_view_if_needed()
    with page.expect_download() as download:
        button.click()
    return pd.read_csv(io.StringIO(open(download.value.path()).read()))


def server_rows(header, arrays, shape) -> list:
    """The rows `point_panel.rows_in` finds for the line sent, over the scan map the browser drew."""
    g = header["grid"]
    geometry = point_panel.Geometry(*point_panel.positions(header, arrays),
                                    grid=Grid(g["x0"], g["y0"], g["dx"], g["dy"], g["ny"], g["nx"]))
    return point_panel.rows_in(point_panel.read_shape(shape), geometry).tolist()


def test_a_line_drawn_with_the_mouse_gives_the_profile_of_the_pixels_it_passes_through(umap):
    page = umap
    panel_tool(page, "umap_map", "Line")
    panel_drag(page, "umap_map", [(0.15, 0.2), (0.5, 0.5), (0.85, 0.75)])  # released at the last point
    timing = page.evaluate("window.__latentPanels.timing.umap_map")
    shape, in_browser = timing["shape"], timing["line_rows"]
    assert shape["shape"] == "line" and len(in_browser) > 40
    note = page.locator(".lp-root[data-key=umap_map] .lp-note").inner_text()
    assert note.startswith("A line of ") and f"through {len(in_browser)} pixels" in note
    header = browser(page, "header")
    arrays = {"cell": page.evaluate("Array.from(window.__latentPanels.panels.umap_map.arrays.cell)")}
    table = profile_csv(page)
    assert table["row"].tolist() == in_browser == server_rows(header, arrays, shape)
    assert list(table.columns[:4]) == ["row", "x_um", "y_um", "distance_um"]
    assert table["distance_um"].is_monotonic_increasing
    marks = browser(page, "marks")
    assert [m["x"] for m in marks if m["symbol"] == "line"] == [shape["x"]]  # the server's overlay: the line kept
    page.locator("[data-testid=stExpander]", has_text="Line profile").locator(".js-plotly-plot").wait_for()

    bar = browser(page, "scaleBar")
    assert bar["length"] == figures.nice_length(bar["span"]) and bar["length"] <= bar["span"] / 5 < 2.5 * bar["length"]
    assert bar["label"] == f"{bar['length']:g} µm"

    page.set_viewport_size({"width": 1600, "height": 1000})
    page.mouse.move(5, 5)
    page.locator(".lp-root[data-key=umap_map]").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "line_profile_umap_line_on_the_scan_map_with_a_scale_bar_1600x1000.png"))
    expander = page.locator("[data-testid=stExpander]", has_text="Line profile")
    expander.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "line_profile_umap_band_contrast_and_latents_along_the_line_1600x1000.png"))


def test_the_latent_maps_click_map_shows_the_same_line_and_a_scale_bar(umap):
    page = umap
    shape = page.evaluate("window.__latentPanels.timing.umap_map.shape")
    open_page(page, "Latent maps", "Latent maps")
    panel(page, "maps_picker")
    marks = browser(page, "marks", "maps_picker")
    assert [m["x"] for m in marks if m["symbol"] == "line"] == [shape["x"]]
    bar = browser(page, "scaleBar", "maps_picker")
    assert bar["length"] == figures.nice_length(bar["span"])
    assert panel_call(page, "maps_picker", "selectedRows") == []  # a line selects nothing
