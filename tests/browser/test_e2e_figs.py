"""The scan panels' scales in a real headless Chromium against `streamlit run app.py`: the UMAP
page's scan panel (a point panel) draws a colour bar (band contrast) and the Clusters map a legend with
counts, as the browser renders them (not only as the figure's JSON says). Screenshots go to tests/artifacts/
(git-ignored), `figs_*.png`. The server, browser and helpers are tests/browser/test_e2e_browser.py's."""
from __future__ import annotations

import time

from latentcore.demo import DEMO_SCAN
from latentcore.outputs import latents_path_for
from steps import ARTIFACTS, open_page, panel, shoot
from streamlit_server import settle


def chart(page, index: int):
    return page.locator(".js-plotly-plot").nth(index)


def texts(locator) -> list[str]:
    """The text of SVG elements (inner_text is for HTML)."""
    return [t.strip() for t in locator.evaluate_all("els => els.map(e => e.textContent || '')")]


def test_umap_scan_panel_draws_a_colour_bar(page):
    open_page(page, "Extract", "Extract latents")
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text(f"Wrote {latents_path_for(DEMO_SCAN, model='demo-vae').name}").wait_for()
    settle(page)
    open_page(page, "UMAP", "UMAP")
    scan = page.locator(".lp-root[data-key=umap_map]")  # the point panel's colour bar, under the map
    panel(page, "umap_map").scroll_into_view_if_needed()
    assert scan.locator(".lp-cb-title").inner_text() == "band contrast"
    assert [scan.locator(f".lp-cb-{end}").inner_text() for end in ("low", "high")] == ["0", "255"]
    assert scan.locator(".lp-cb").bounding_box()["width"] >= 200
    assert page.locator(".js-plotly-plot").count() == 1  # the histogram
    shoot(page, "figs_umap_band_contrast")


def test_clusters_map_draws_a_legend_with_counts(page):
    open_page(page, "Clusters", "Clusters")
    panel(page, "clusters_map").scroll_into_view_if_needed()
    entries = page.locator(".lp-root[data-key=clusters_map] .lp-item").all_inner_texts()
    assert [e.split(" (")[0] for e in entries] == ["cluster 0", "cluster 1", "cluster 2"], entries
    assert sum(int(e.split("(")[1].rstrip(")").replace(",", "")) for e in entries) == 2400
    time.sleep(0.5)
    shoot(page, "figs_clusters")


def test_rank_maps_colour_bars_leave_the_next_axis_title_alone(page):
    open_page(page, "Rank", "Rank latent dimensions")
    maps = chart(page, 1)
    maps.scroll_into_view_if_needed()
    maps.locator("g.colorbar").first.wait_for()
    titles = maps.locator("g.colorbar .cbtitle text, g.colorbar text.cbtitle")
    y_titles = maps.locator("g.infolayer text[class^='y'][class$='title'], g.ytick text")  # ytitle, y2title, ...
    boxes = [titles.nth(i).bounding_box() for i in range(titles.count())]
    axis_boxes = [y_titles.nth(i).bounding_box() for i in range(y_titles.count())]

    def overlap(a, b):
        return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
            a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]
    assert boxes and not [(a, b) for a in boxes for b in axis_boxes if overlap(a, b)]
    assert texts(titles)[0] == "band contrast"  # the reference map's own value, then "latent value"
    maps.screenshot(path=str(ARTIFACTS / "figs_rank_maps.png"))
    shoot(page, "figs_rank")
