"""The probe's confidence threshold and the whole-vector cluster view in a real headless Chromium (issue 35): two
regions of the UMAP are labelled, the probe with a confidence threshold leaves the uncertain rows `unknown` (grey
on its map, counted); the Clusters page draws whole-vector clusters on the UMAP the UMAP page fitted, and its
figure download is named by that view. Screenshots at 1600 x 1000 go to tests/artifacts/."""
from __future__ import annotations

from steps import ARTIFACTS, download_png, label_selection, metric, open_page, panel, umap_box
from streamlit_server import settle


def shoot_at(tab, locator, name: str):
    """A 1600 x 1000 screenshot with `locator` at the top of the view."""
    locator.scroll_into_view_if_needed()
    locator.evaluate("element => element.scrollIntoView({block: 'start'})")
    tab.wait_for_timeout(800)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_probe_unknown_rows_and_whole_vector_clusters_on_the_umap(app_url, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    tab.set_default_timeout(90_000)
    tab.goto(app_url)
    tab.wait_for_selector("h1:has-text('Data')")
    settle(tab)
    open_page(tab, "UMAP", "UMAP")
    tab.get_by_role("button", name="Extract the demo latents now").click()
    panel(tab, "umap_scatter")
    settle(tab)
    umap_box(tab, 0.02, 0.02, 0.3, 0.98)  # two regions labelled, the middle of the UMAP left out
    label_selection(tab, "left")
    umap_box(tab, 0.7, 0.02, 0.98, 0.98)
    label_selection(tab, "right")

    slider = tab.locator("[data-testid=stSlider]", has_text="Confidence threshold").first
    slider.get_by_role("slider").first.focus()
    for _ in range(18):  # 0 -> 0.9 in steps of 0.05
        tab.keyboard.press("ArrowRight")
    settle(tab)
    tab.get_by_text("Predict", exact=True).click()  # the toggle
    tab.locator("[data-testid=stMetric]", has_text="Unknown rows").wait_for(timeout=120_000)
    settle(tab)
    unknown = int(metric(tab, "Unknown rows").replace(",", ""))
    assert 0 < unknown < 2400
    assert tab.locator("[data-testid=stException]").count() == 0
    maps = tab.locator(".js-plotly-plot", has_text="predicted label").first
    ticks = maps.evaluate("g => g.data[0].colorbar.ticktext")
    assert ticks == ["left", "right", "unknown"]
    shoot_at(tab, tab.locator("[data-testid=stMetric]", has_text="Unknown rows").first, "probe_unknown_rows")

    open_page(tab, "Clusters", "Clusters")
    tab.locator("[data-testid=stRadio]", has_text="Cluster on").get_by_text("whole latent vectors").click()
    settle(tab)
    tab.wait_for_function("() => window.__latentPanels?.panels?.clusters_scatter?.header.x_title === 'UMAP 1'")
    titles = tab.evaluate("() => { const h = window.__latentPanels.panels.clusters_scatter.header;"
                          " return [h.x_title, h.y_title]; }")
    assert titles == ["UMAP 1", "UMAP 2"]  # the UMAP page's fit, not latent 0 against latent 1
    assert tab.locator("[data-testid=stException]").count() == 0
    shoot_at(tab, tab.locator("h1:has-text('Clusters')"), "clusters_whole_vectors_on_umap")
    shoot_at(tab, tab.locator(".lp-root[data-key=clusters_map]"), "clusters_whole_vectors_on_umap_panels")
    download_png(tab, "cluster_umap__", "clusters_whole_vectors_download")
