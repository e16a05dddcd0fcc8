"""The quality filter in a real headless Chromium against `streamlit run app.py`: on the demo's latents a scientist
ticks a band-contrast threshold on the Clusters page, sees the mask of the pixels kept and removed and the kept count,
and finds the same filter, and the same count, on the UMAP page. Screenshots go to tests/artifacts/ (git-ignored):
`quality_1_clusters_mask_1600x1000.png` is the Clusters page's filter with its mask as a 1600 x 1000 window shows
it, `quality_2_umap_kept_count_1600x1000.png` the UMAP page with the filter's note."""
from __future__ import annotations

import re

import pandas as pd

from latentcore.demo import DEMO_BANDCONTRAST
from steps import ARTIFACTS, metric, open_page, panel
from streamlit_server import settle

KEPT = int((pd.read_csv(DEMO_BANDCONTRAST)["bandcontrast"] >= 150).sum())
NOTE = f"Quality filter bc ≥ 150: {KEPT:,} of 2,400 points kept"  # Streamlit's markdown shows >= as ≥


def test_a_band_contrast_filter_set_on_clusters_shows_its_mask_and_holds_on_umap(page):
    open_page(page, "Extract", "Extract latents")
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text(re.compile(r"Wrote ni_grains_h5ebsd\S*latents\.h5")).wait_for(timeout=120_000)
    settle(page)
    open_page(page, "Clusters", "Clusters")
    assert metric(page, "Pixels") == "2,400"

    expander = page.locator("[data-testid=stExpander]", has_text="Quality filter").first
    expander.locator("summary").first.click()
    settle(page)  # the expander's opening over: a click during it can be lost
    expander.locator("[data-testid=stCheckbox]", has_text="Keep band contrast at least").first.click()
    settle(page)
    threshold = expander.locator("[data-testid=stNumberInput] input").last
    threshold.fill("150")
    threshold.press("Enter")
    settle(page)
    page.get_by_text(NOTE).first.wait_for(timeout=60_000)
    assert metric(page, "Pixels") == f"{KEPT:,}"  # clustered: the kept pixels only
    mask = page.locator(".js-plotly-plot", has_text="Pixels kept by bc >= 150").first
    mask.wait_for(timeout=60_000)
    settle(page)  # the run over: the mask of the threshold before (10th percentile) is gone, not stale beside it
    legend = mask.evaluate("g => (g.data || []).map(t => t.name).filter(n => /^(kept|removed) /.test(n || ''))")
    assert legend == [f"removed ({2400 - KEPT:,})", f"kept ({KEPT:,})"], legend
    page.set_viewport_size({"width": 1600, "height": 1000})
    settle(page)
    mask.scroll_into_view_if_needed()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "quality_1_clusters_mask_1600x1000.png"))

    open_page(page, "UMAP", "UMAP")
    page.get_by_text(NOTE).first.wait_for(timeout=120_000)  # the same filter, said on this page
    panel(page, "umap_scatter")
    title = page.locator(".lp-root[data-key=umap_scatter] .lp-title").inner_text()
    assert re.match(rf"(UMAP|PCA) of {KEPT:,} latents", title), title  # the kept rows, fitted and shown
    page.screenshot(path=str(ARTIFACTS / "quality_2_umap_kept_count_1600x1000.png"))
    assert page.locator("[data-testid=stException]").count() == 0
