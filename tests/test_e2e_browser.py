"""End to end in a real headless Chromium against `streamlit run app.py` on 127.0.0.1.

One browser session walks the demo as a new user would: the Data page opens on the demo scan, an
extraction with the built-in demo VAE, the UMAP (box-select shows images), the latent maps (ROI
sliders), the clusters (box-select in the scatter highlights the map, and the reverse), the cluster
CSV download, and the ranking. Screenshots of every page go to tests/artifacts/ (git-ignored).

Chromium comes from the Debian packages `chromium` and `chromium-driver`; Playwright only drives
it (`playwright install` is never needed).
"""
from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest

from streamlit_server import CHROMIUM, CHROMIUM_ARGS, RUNNING, free_port, serve, settle  # noqa: F401 (re-exported to other tests)

playwright = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
pytestmark = [pytest.mark.timeout(300),
              # skipped on a developer's machine without Chromium; never in CI, where .ci/run installs it
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                 reason=f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`streamlit run app.py` on a free port, with private working and embedding-cache folders."""
    with serve(tmp_path_factory.mktemp("e2e")) as (url, log):
        yield url
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def page(app_url):
    """One browser tab on the app for a whole test module (other modules import this fixture: a tab of their own)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1500, "height": 1800}, accept_downloads=True)
        tab.set_default_timeout(60_000)
        tab.goto(app_url)
        tab.wait_for_selector("h1:has-text('Data')")
        settle(tab)
        yield tab
        browser.close()


# -- helpers ------------------------------------------------------------------------------------

def open_page(page, title: str, heading: str):
    page.locator("[data-testid=stSidebarNav] a", has_text=title).first.click()
    page.wait_for_selector(f"h1:has-text('{heading}')")
    settle(page)
    assert page.locator("[data-testid=stException]").count() == 0, page.locator("[data-testid=stException]").inner_text()


def shoot(page, name: str):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def metric(page, label: str) -> str:
    box = page.locator("[data-testid=stMetric]", has_text=label).first
    return box.locator("[data-testid=stMetricValue]").inner_text().strip()


def drag_box(page, chart, fx0, fy0, fx1, fy1):
    """Drag a selection box over a fraction of a plotly chart's plot area (choosing the toolbar's
    box tool first where the chart starts in pan mode, as the click-selectable scatters do), the
    mouse button still down: the caller releases it (the benchmark times from there)."""
    chart.scroll_into_view_if_needed()
    chart.hover()
    tool = chart.locator('.modebar-btn[data-title="Box Select"]')
    if tool.count():
        tool.first.click()
    area = chart.locator(".nsewdrag").first.bounding_box()
    x = lambda f: area["x"] + f * area["width"]  # noqa: E731
    y = lambda f: area["y"] + f * area["height"]  # noqa: E731
    page.mouse.move(x(fx0), y(fy0))
    page.mouse.down()
    page.mouse.move(x((fx0 + fx1) / 2), y((fy0 + fy1) / 2), steps=5)
    page.mouse.move(x(fx1), y(fy1), steps=5)


def box_select(page, chart, fx0, fy0, fx1, fy1):
    drag_box(page, chart, fx0, fy0, fx1, fy1)
    page.mouse.up()
    time.sleep(1.5)  # the selection reaches the server after a short delay, then the script reruns
    settle(page)


def download_png(page, button: str, name: str):
    """Click a PNG download button, keep the file in tests/artifacts/ and check it is at 300 dpi."""
    from PIL import Image

    target = page.get_by_role("button", name=button).first
    target.scroll_into_view_if_needed()
    with page.expect_download(timeout=120_000) as download:
        target.click()
    path = ARTIFACTS / f"{name}.png"
    download.value.save_as(path)
    with Image.open(path) as image:
        assert image.info["dpi"][0] == pytest.approx(300, abs=0.1) and image.size[0] >= 2000, (image.size, image.info)
    settle(page)


def trace_names(page) -> list[list[str]]:
    return page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                         ".map(g => (g.data || []).map(t => t.name))")


# -- the walk-through (in file order: one browser session) ----------------------------------------

def test_data_page_opens_on_the_demo_and_takes_uploads(page, bandcontrast_csv):
    settle(page)
    assert metric(page, "Format") == "h5ebsd"
    assert metric(page, "Items") == "2,400"
    assert metric(page, "Grid") == "40 x 60"
    page.locator("[data-testid=stImage] img").nth(5).wait_for()  # the first six patterns
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(bandcontrast_csv))
    page.get_by_text("ni_grains_bandcontrast.csv: a band-contrast table").wait_for()  # the upload's toast
    settle(page)
    shoot(page, "1_data")


def test_extract_with_the_demo_model(page):
    open_page(page, "Extract", "Extract latents")
    page.get_by_text("vae (vae); input: 1 channel(s), size (60, 60)").wait_for()  # the demo VAE, loaded
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text("Wrote ni_grains_h5ebsd_latents.h5").wait_for()
    settle(page)
    assert page.get_by_text("all 2,400 rows").count() >= 1
    assert page.get_by_role("button", name="Download the latents file").count() == 1
    shoot(page, "2_extract")


def test_umap_box_selection_shows_images_and_rows(page):
    open_page(page, "UMAP", "UMAP")
    page.wait_for_selector(".js-plotly-plot .nsewdrag")
    chart = page.locator(".js-plotly-plot").first
    box_select(page, chart, 0.02, 0.02, 0.98, 0.98)  # every point
    page.locator("h3", has_text="Selected: 2,400 points").wait_for(timeout=30_000)
    page.locator("[data-testid=stImage] img").nth(5).wait_for()  # the gallery of patterns
    shoot(page, "3_umap")
    download_png(page, "Figure (PNG, 300 dpi)", "3_umap_download")


def test_maps_roi_sliders_shrink_the_maps(page):
    open_page(page, "Latent maps", "Latent maps")
    caption = page.get_by_text("pixels on a").first
    assert "2,400 pixels on a 40 x 60 grid" in caption.inner_text()
    thumb = page.locator('input[aria-label="ROI x range (µm) — start"]').first
    thumb.focus()
    for _ in range(10):  # x from 0 up by ten steps of 1.5
        page.keyboard.press("ArrowRight")
    page.get_by_text("ROI x 15 to 88.5 µm, y 0 to 58.5 µm: 2,000 pixels on a 40 x 50 grid").wait_for(timeout=30_000)
    settle(page)
    # the grid of maps, the map to click on and its histogram (the page before's charts may linger a moment)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length == 3", timeout=30_000)
    page.get_by_role("button", name="Clear selection").last.click()  # the UMAP's selection, kept until now
    page.get_by_text("No pixel selected yet").wait_for()
    settle(page)
    picker = page.locator(".js-plotly-plot").nth(1)
    picker.scroll_into_view_if_needed()
    area = picker.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(area["x"] + 0.5 * area["width"], area["y"] + 0.5 * area["height"])
    page.get_by_text("Pixel row").wait_for(timeout=30_000)  # a click on the map shows that pixel's pattern
    settle(page)
    assert "the first of" not in page.get_by_text("Pixel row").inner_text()
    page.get_by_text("its pattern", exact=True).wait_for()  # the image caption
    shoot(page, "4_maps")
    download_png(page, "Maps (PNG, 300 dpi)", "4_maps_download")


def test_clusters_selections_link_scatter_and_map(page):
    open_page(page, "Clusters", "Clusters")
    page.wait_for_selector(".js-plotly-plot .nsewdrag")
    assert metric(page, "Pixels") == "2,000"  # the ROI set on the maps page holds here too
    charts = page.locator(".js-plotly-plot")
    box_select(page, charts.nth(1), 0.02, 0.02, 0.98, 0.5)  # the upper half of the scatter
    selected = int(metric(page, "Selected here").replace(",", ""))
    assert 0 < selected < 2000
    names = trace_names(page)
    assert "selection" in names[0], names  # the map veils the pixels that are not selected
    assert f"selected ({selected:,})" in names[1], names
    shoot(page, "5_clusters_scatter_selection")

    box_select(page, page.locator(".js-plotly-plot").nth(0), 0.08, 0.08, 0.5, 0.5)  # the top left of the map
    after = int(metric(page, "Selected here").replace(",", ""))
    assert 0 < after < 2000 and after != selected
    assert f"selected ({after:,})" in trace_names(page)[1]
    shoot(page, "6_clusters_map_selection")


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
    page.locator(".js-plotly-plot").nth(3).wait_for()  # per reference map: a bar chart and the top maps
    settle(page)
    shoot(page, "7_rank")


def choose(page, label: str, option: str):
    """Pick an option of the Streamlit select box whose label is `label`."""
    page.locator("[data-testid=stSelectbox]", has_text=label).first.click()
    page.get_by_role("option", name=option).first.click()
    settle(page)


def test_an_uploaded_h5oina_is_clustered_against_its_own_band_contrast(page, h5oina_small):
    open_page(page, "Data", "Data")
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(h5oina_small))
    page.get_by_text("small_scan.h5oina: a data file").wait_for()
    settle(page)
    choose(page, "Data file", "small_scan.h5oina")
    page.wait_for_function(  # the picker shows the scan's own map, not the demo's table
        """() => Array.from(document.querySelectorAll('[data-testid=stSelectbox] input'))
                 .some(i => i.value === "Band Contrast (the scan's own map)")""", timeout=60_000)
    settle(page)
    shoot(page, "8_h5oina_data")
    open_page(page, "Extract", "Extract latents")
    page.get_by_text("resized (bilinear) from 40 x 40 to the model's 60 x 60").wait_for()
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text("Wrote small_scan_latents.h5").wait_for()
    settle(page)
    open_page(page, "Clusters", "Clusters")
    page.wait_for_selector(".js-plotly-plot .nsewdrag")
    assert metric(page, "Pixels") == "180"
    shoot(page, "8_h5oina_clusters")
    download_png(page, "cluster_latent_bc__", "8_h5oina_clusters_download")
    open_page(page, "Latent maps", "Latent maps")
    page.get_by_text("Scale bar").first.click()
    settle(page)
    shoot(page, "9_h5oina_maps")
    download_png(page, "Maps (PNG, 300 dpi)", "9_h5oina_maps_download")
