"""A study of three small simulated scans (tests/study_scans.py) in real headless Chromium: picked on the Data page,
its one embedding on the UMAP page with each source's own scan map; a box drawn on the embedding, and the rows each
source's map then highlights are the server's selected (source, row) pairs, as its table download flags them; a
member deleted while the study's page is open is one line on the next box and the next page, with a link to the Data
page, where the study is made again."""
from __future__ import annotations

import io

import pandas as pd
from playwright.sync_api import expect

from steps import (explore_study, open_page, panel, panel_call, panel_drag, panel_tool, shoot, tab_with_study,
                   umap_box)
from streamlit_server import settle


def server_table(page) -> pd.DataFrame:
    with page.expect_download() as download:
        page.get_by_role("button", name="Table (CSV)").click()
    return pd.read_csv(io.StringIO(open(download.value.path()).read()))


def test_a_box_on_a_studys_embedding_is_highlighted_on_each_sources_own_map(app_url, shared_server, browser):
    tab, _ = tab_with_study(browser, shared_server)
    tab.get_by_text("three (3 sources) · pca · 576 rows").scroll_into_view_if_needed()
    shoot(tab, "study_data_page")
    explore_study(tab)
    tab.get_by_text("fitted on every one of the 576 rows").first.wait_for()
    for key in ("umap_scatter", "umap_map_p", "umap_map_q", "umap_map_r"):
        panel(tab, key)
    tab.wait_for_function("() => !window.__latentPanels.panels.umap_scatter.header.title.includes('still fitting')")

    umap_box(tab, 0.15, 0.1, 0.65, 0.6)
    tab.wait_for_function("() => [...document.querySelectorAll('h3')].some(h => h.innerText.startsWith('Selected:'))")
    table = server_table(tab)
    assert list(table.columns[:6]) == ["source", "row", "x_um", "y_um", "umap_0", "umap_1"]
    chosen = table[table["selected"]]
    assert 0 < len(chosen) < 576 and chosen["source"].nunique() > 1  # the box holds rows of several scans
    for name in "pqr":  # each map highlights its own source's chosen rows (positions on it: rows in the source)
        tab.wait_for_function(f"() => window.__latentPanels.panels.umap_map_{name}.selectedRows().length == "
                              f"{int((chosen['source'] == name).sum())}")
        assert panel_call(tab, f"umap_map_{name}", "selectedRows") == sorted(chosen.loc[chosen["source"] == name,
                                                                                         "row"].tolist())
    panel(tab, "umap_scatter").scroll_into_view_if_needed()
    shoot(tab, "study_umap_scatter")
    panel(tab, "umap_map_r").scroll_into_view_if_needed()
    shoot(tab, "study_umap_maps")


def test_a_member_deleted_while_a_studys_page_is_open_is_one_line_on_the_next_action(app_url, shared_server,
                                                                                        browser):
    """Issue 53: the member of a study open on the UMAP page is deleted on disk; the next box on the scatter and the
    next page each say so in one line naming the member and the way out, with no traceback and no server path."""
    tab, paths = tab_with_study(browser, shared_server, ("p", "q"))
    explore_study(tab)
    panel(tab, "umap_map_q")

    paths["q"].unlink()
    line = "q__pca_latents.h5: member q is missing: restore the file, or make the study again on the Data page " \
           "without it"
    umap_box(tab, 0.15, 0.1, 0.65, 0.6)
    settle(tab)
    alerts = tab.locator("[data-testid=stAlertContentError] [data-testid=stMarkdownContainer]")
    expect(alerts.first).to_have_text(line)
    shoot(tab, "study_member_deleted_umap")
    open_page(tab, "Clusters", "Clusters")
    expect(alerts).to_have_text([line])
    body = tab.locator("body").inner_text()
    assert tab.locator("[data-testid=stException]").count() == 0 and str(shared_server[1].parent) not in body
    shoot(tab, "study_member_deleted_clusters")
    tab.get_by_role("link", name="Make or pick the latents again on the Data page").click()
    tab.wait_for_selector("h1:has-text('Data')")


def test_a_line_drawn_on_a_studys_source_map_is_that_sources_profile_over_its_own_grain_boundaries(
        app_url, shared_server, browser):
    """Issue 51, item 3: each source's map of a study draws its own scan's grain boundaries, and a line drawn there
    with the Line tool gives the profile of that source's pixels (its own row numbers), marked on its map only."""
    import numpy as np

    from latentcore.latents import read_latents

    tab, paths = tab_with_study(browser, shared_server, ("p", "q"), orientations=True)
    explore_study(tab)
    panel(tab, "umap_map_q")
    tab.get_by_text("Boundaries").first.click()
    tab.wait_for_function("() => ['p', 'q'].every(name => "
                          "window.__latentPanels.panels[`umap_map_${name}`].arrays.lines_x?.length > 3)")
    panel_tool(tab, "umap_map_q", "Line")
    panel_drag(tab, "umap_map_q", [(0.1, 0.15), (0.5, 0.5), (0.9, 0.85)])
    in_browser = tab.evaluate("window.__latentPanels.timing.umap_map_q.line_rows")
    button = tab.get_by_role("button", name="Profile (CSV)")
    button.scroll_into_view_if_needed()
    with tab.expect_download() as download:
        button.click()
    table = pd.read_csv(io.StringIO(open(download.value.path()).read()))
    assert len(in_browser) > 10 and table["row"].tolist() == in_browser  # q's pixels, by q's own row numbers
    q = read_latents(paths["q"])
    np.testing.assert_allclose(table["x_um"], q.x[in_browser], atol=1e-4)
    line_marks = "m => m.symbol === 'line'"
    assert tab.evaluate(f"window.__latentPanels.panels.umap_map_q.marks.filter({line_marks}).length") == 1
    assert tab.evaluate(f"window.__latentPanels.panels.umap_map_p.marks.filter({line_marks}).length") == 0
    panel(tab, "umap_map_q").scroll_into_view_if_needed()
    shoot(tab, "study_line_profile_on_a_sources_map")
