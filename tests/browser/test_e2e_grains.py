"""The grain table in a real headless Chromium against `streamlit run app.py`: on an uploaded H5OINA scan with
orientations, the Latent maps page lists the grains; a grain's id typed below the table selects its pixels (the page
says which grain, the sidebar counts its pixels) and the UMAP page's scan map and scatter show exactly those pixels
selected. Screenshots at 1600 x 1000 in tests/artifacts/ (git-ignored): `grains_1600x1000_table_and_picked_grain`,
`grains_1600x1000_umap_shows_the_grain`."""
from __future__ import annotations

import numpy as np

from latentcore.analysis.ebsd.grains import grain_table
from latentcore.analysis.ebsd.scan_points import scan_points
from steps import extract_with_the_demo_model, open_page, panel, panel_call, shoot, upload_data
from streamlit_server import settle


def sidebar_selected(page) -> int:
    text = page.locator("[data-testid=stSidebar]").inner_text()
    return int(text.split("Selected points:", 1)[1].split()[0].replace(",", ""))


def test_a_grain_picked_by_its_id_is_the_selection_of_every_page_1600x1000(page, grains_h5oina):
    upload_data(page, grains_h5oina)
    extract_with_the_demo_model(page, grains_h5oina)
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_page(page, "Latent maps", "Latent maps")
    page.get_by_text("grains: edge neighbours misoriented").first.wait_for()
    assert sidebar_selected(page) == 0
    grains = grain_table(scan_points(grains_h5oina)).grain_of_row  # the latents' rows are the scan's
    grain = int(np.bincount(grains[grains >= 0]).argmax())  # the largest
    number = page.locator(".st-key-maps_grain input").first
    number.scroll_into_view_if_needed()
    number.fill(str(grain))
    number.press("Enter")
    settle(page)
    page.locator(".st-key-maps_grain_select button").first.click()
    page.wait_for_function("() => /Selected: grain \\d+/.test(document.body.innerText)")
    settle(page)
    pixels = int((grains == grain).sum())
    assert page.get_by_text("Selected: grain").first.inner_text() == f"Selected: grain {grain} ({pixels:,} pixels)."
    assert pixels > 1 and sidebar_selected(page) == pixels
    page.get_by_text("Selected: grain").first.scroll_into_view_if_needed()
    shoot(page, "grains_1600x1000_table_and_picked_grain")

    open_page(page, "UMAP", "UMAP")
    for key in ("umap_map", "umap_scatter"):
        panel(page, key)
        page.wait_for_function(f"() => window.__latentPanels.panels[{key!r}].selectedRows().length > 0")
        assert sorted(panel_call(page, key, "selectedRows")) == [int(r) for r in (grains == grain).nonzero()[0]]
    assert sidebar_selected(page) == pixels
    assert "selected on Latent maps" in page.locator("[data-testid=stAlert]").first.inner_text()
    shoot(page, "grains_1600x1000_umap_shows_the_grain")
