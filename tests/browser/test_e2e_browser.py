"""End to end in a real headless Chromium against `streamlit run app.py` on 127.0.0.1.

One browser session walks the demo as a new user would: the Data page opens on the demo scan, an
extraction with the built-in demo VAE, the UMAP (box-select shows images), the latent maps (ROI
sliders), the clusters (a box on the scatter highlights the map, and the reverse), the cluster
CSV download, and the ranking. Screenshots of every page go to tests/artifacts/ (git-ignored).

Chromium comes from the Debian packages `chromium` and `chromium-driver`; Playwright only drives
it (`playwright install` is never needed).
"""
from __future__ import annotations

import csv


from latentcore.demo import DEMO_SCAN
from latentcore.outputs import latents_path_for
from steps import download_png, metric, open_page, panel, panel_click_row, panel_drag, shoot, umap_box, upload_data
from streamlit_server import settle


# -- the walk-through (in file order: one browser session) ----------------------------------------

def test_data_page_opens_on_the_demo_and_takes_uploads(page, bandcontrast_csv):
    settle(page)
    assert metric(page, "Format") == "h5ebsd"
    assert metric(page, "Items") == "2,400"
    assert metric(page, "Grid") == "40 x 60"
    page.locator("[data-testid=stImage] img").nth(5).wait_for()  # the first six patterns
    # plotly.js fetched and compiled while the Data page is read (the analysis pages' first charts need it), unseen
    page.locator(".st-key-charts_preload .js-plotly-plot .main-svg").first.wait_for(state="attached")
    assert page.locator(".st-key-charts_preload").is_hidden()
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(bandcontrast_csv))
    page.get_by_text("ni_grains_bandcontrast.csv: a band-contrast table").wait_for()  # the upload's toast
    settle(page)
    shoot(page, "1_data")


def test_extract_with_the_demo_model(page):
    open_page(page, "Extract", "Extract latents")
    page.get_by_text("vae (vae); input: 1 channel(s), size (60, 60)").wait_for()  # the demo VAE, loaded
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text(f"Wrote {latents_path_for(DEMO_SCAN, model='demo-vae').name}").wait_for()
    settle(page)
    assert page.get_by_text("all 2,400 rows").count() >= 1
    assert page.get_by_role("button", name="Download the latents file").count() == 1
    shoot(page, "2_extract")


def test_umap_box_selection_shows_images_and_rows(page):
    open_page(page, "UMAP", "UMAP")
    umap_box(page, 0.01, 0.01, 0.99, 0.99)  # every point
    page.locator("h3", has_text="Selected: 2,400 points").wait_for(timeout=30_000)
    page.locator("[data-testid=stImage] img").nth(5).wait_for()  # the gallery of patterns
    shoot(page, "3_umap")
    download_png(page, "Figure (PNG, 300 dpi)", "3_umap_download")


def test_maps_roi_sliders_shrink_the_maps(page):
    open_page(page, "Latent maps", "Latent maps")
    caption = page.get_by_text("pixels on a").first
    assert "2,400 pixels on a grid of 40 rows x 60 columns" in caption.inner_text()
    thumb = page.locator('input[aria-label="ROI x range (µm) — start"]').first
    thumb.focus()
    for _ in range(10):  # x from 0 up by ten steps of 1.5
        page.keyboard.press("ArrowRight")
    page.get_by_text("ROI x 15 to 88.5 µm, y 0 to 58.5 µm: 2,000 pixels on a grid of 40 rows x 50 columns").wait_for(timeout=30_000)
    settle(page)
    # the grid of maps, the reference map, the grains' distributions and the histogram of the map to click on (the
    # page before's charts may linger a moment)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length == 4", timeout=30_000)
    page.set_viewport_size({"width": 1600, "height": 1000})  # two maps a row, each wide enough to read
    page.wait_for_timeout(1000)
    widths = page.locator(".js-plotly-plot").first.evaluate(
        "g => Object.keys(g._fullLayout).filter(k => /^xaxis[0-9]*$/.test(k)).map(k => g._fullLayout[k]._length)")
    page.set_viewport_size({"width": 1500, "height": 1800})
    assert len(widths) == 8 and min(widths) >= 240, widths
    page.get_by_role("button", name="Clear selection").last.click()  # the UMAP's selection, kept until now
    page.get_by_text("No pixel selected yet").wait_for()
    settle(page)
    panel(page, "maps_picker")  # the map to click on: a point panel of the ROI's pixels
    panel_click_row(page, "maps_picker", 1020)  # about its middle
    page.get_by_text("Pixel row").wait_for(timeout=30_000)  # a click on the map shows that pixel's pattern
    settle(page)
    assert "the first of" not in page.get_by_text("Pixel row").inner_text()
    page.get_by_text("its pattern", exact=True).wait_for()  # the image caption
    shoot(page, "4_maps")
    download_png(page, "Maps (PNG, 300 dpi)", "4_maps_download")


def selected_ids(page, key: str) -> list[int]:
    """The rows a point panel highlights, as the file's row ids (the panel's own `row_ids`)."""
    return page.evaluate(f"""() => {{ const p = window.__latentPanels.panels[{key!r}];
                                     return Array.from(p.selectedRows(), (r) => p.arrays.row_ids[r]); }}""")


def test_clusters_selections_link_scatter_and_map(page):
    open_page(page, "Clusters", "Clusters")
    panel(page, "clusters_map")
    assert metric(page, "Pixels") == "2,000"  # the ROI set on the maps page holds here too
    panel_drag(page, "clusters_scatter", [(0.02, 0.02), (0.98, 0.5)])  # a box over the upper half of the scatter
    selected = int(metric(page, "Selected here").replace(",", ""))
    assert 0 < selected < 2000
    on_scatter = selected_ids(page, "clusters_scatter")
    assert len(on_scatter) == selected and selected_ids(page, "clusters_map") == on_scatter  # the map shows them
    shoot(page, "5_clusters_scatter_selection")

    panel_drag(page, "clusters_map", [(0.08, 0.08), (0.5, 0.5)])  # the top left of the map
    after = int(metric(page, "Selected here").replace(",", ""))
    assert 0 < after < 2000 and after != selected
    on_map = selected_ids(page, "clusters_map")
    assert len(on_map) == after and selected_ids(page, "clusters_scatter") == on_map
    shoot(page, "6_clusters_map_selection")

    open_page(page, "UMAP", "UMAP")  # the session holds the same rows of the file: the UMAP page's table flags them
    with page.expect_download() as download:
        page.get_by_role("button", name="Table (CSV)").click()
    with open(download.value.path()) as f:
        flagged = [int(row["row"]) for row in csv.DictReader(f) if row["selected"] == "True"]
    assert flagged == on_map
    open_page(page, "Clusters", "Clusters")


def test_cluster_csv_download_has_the_columns(page):
    button = page.get_by_role("button", name="cluster_assignments__")
    with page.expect_download(timeout=120_000) as download:
        button.click()
    name = download.value.suggested_filename
    assert name.startswith("cluster_assignments__gmm_dim0_") and name.endswith(".csv")
    with open(download.value.path()) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["row", "x_um", "y_um", "latent_0", "bandcontrast", "cluster"]  # joins the UMAP table by row
    assert len(rows) == 1 + 2000  # the ROI's pixels (the ROI set on the Maps page holds here too)
    download_png(page, "cluster_latent_bc__", "6_clusters_download")


def test_rank_page_scores_the_dimensions(page):
    open_page(page, "Rank", "Rank latent dimensions")
    page.wait_for_selector("[data-testid=stDataFrame]")
    page.locator(".js-plotly-plot").nth(1).wait_for()  # band contrast, the default: its bar chart and top maps
    settle(page)
    shoot(page, "7_rank")


def test_an_uploaded_h5oina_is_clustered_against_its_own_band_contrast(page, h5oina_small):
    open_page(page, "Data", "Data")
    upload_data(page, h5oina_small)
    page.wait_for_function(  # the picker shows the scan's own map, not the demo's table
        """() => Array.from(document.querySelectorAll('[data-testid=stSelectbox] input'))
                 .some(i => i.value === "Band Contrast (the scan's own map)")""", timeout=60_000)
    settle(page)
    shoot(page, "8_h5oina_data")
    open_page(page, "Extract", "Extract latents")
    page.get_by_text("resized (bilinear) from 40 x 40 to the model's 60 x 60").wait_for()
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text(f"Wrote {latents_path_for(h5oina_small, model='demo-vae').name}").wait_for()
    settle(page)
    open_page(page, "Clusters", "Clusters")
    panel(page, "clusters_map")
    assert metric(page, "Pixels") == "180"
    shoot(page, "8_h5oina_clusters")
    download_png(page, "cluster_latent_bc__", "8_h5oina_clusters_download")
    open_page(page, "Latent maps", "Latent maps")
    page.get_by_text("Scale bar").first.click()
    settle(page)
    shoot(page, "9_h5oina_maps")
    download_png(page, "Maps (PNG, 300 dpi)", "9_h5oina_maps_download")
