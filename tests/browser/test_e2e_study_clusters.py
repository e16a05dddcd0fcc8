"""The Clusters page on a study of three small simulated scans (tests/study_scans.py) in real headless Chromium: one
clustering of every row on the scatter and each scan's clusters on its own map; a box drawn on the scatter, and the
rows each source's map highlights, as the mouse is released and after the page's rerun, are that source's share of
the scatter's selection, as many as the server counts for it."""
from __future__ import annotations

import re

from steps import explore_study, open_page, panel, panel_call, panel_drag, settle, shoot, tab_with_study

ROWS = 192  # each scan's


def test_a_box_on_a_studys_clusters_is_highlighted_on_each_sources_own_map(app_url, shared_server, browser):
    tab, _ = tab_with_study(browser, shared_server)
    explore_study(tab)
    open_page(tab, "Clusters", "Clusters")
    for key in ("clusters_scatter", "clusters_map_p", "clusters_map_q", "clusters_map_r"):
        panel(tab, key)
    tab.get_by_text("How much of each cluster is in each source").first.wait_for()

    panel_drag(tab, "clusters_scatter", [(0.1, 0.1), (0.6, 0.7)], wait=False)
    at_once = tab.evaluate("() => Object.fromEntries(['scatter', 'map_p', 'map_q', 'map_r'].map("
                           "(k) => [k, window.__latentPanels.panels['clusters_' + k].selectedRows()]))")
    chosen = at_once["scatter"]  # the study's rows
    assert 0 < len(chosen) < 3 * ROWS
    for index, name in enumerate("pqr"):  # each map shows its block of them as the mouse is released, no rerun yet
        own = [row - index * ROWS for row in chosen if index * ROWS <= row < (index + 1) * ROWS]
        assert at_once[f"map_{name}"] == own
    settle(tab)
    for index, name in enumerate("pqr"):  # each map: its own source's rows of the selection, by row within it
        own = sorted(row - index * ROWS for row in chosen if index * ROWS <= row < (index + 1) * ROWS)
        tab.wait_for_function(f"() => window.__latentPanels.panels.clusters_map_{name}.selectedRows().length == "
                              f"{len(own)}")
        assert panel_call(tab, f"clusters_map_{name}", "selectedRows") == own
        said = tab.get_by_text(re.compile(f"^{name}: [0-9,]+ of its {ROWS} rows selected")).first.inner_text()
        assert said.startswith(f"{name}: {len(own)} of its")  # the server's count for that source
    panel(tab, "clusters_map_q").scroll_into_view_if_needed()
    shoot(tab, "study_clusters_maps")
