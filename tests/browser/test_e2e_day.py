"""A scientist's day in a real headless Chromium against `streamlit run app.py`: the Rank PNG has the
dpi asked for in the sidebar; whole latent vectors cluster with no band contrast chosen; and the Train
page shows the estimate of its sized defaults and of the settings changed, before Start, trains, and after a
reload shows the finished run's loss curve, reconstructions and model.
The server, the browser and the helpers are tests/browser/test_e2e_browser.py's."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from steps import ARTIFACTS, choose, metric, open_page
from streamlit_server import settle



def type_number(page, label: str, value: str):
    box = page.locator("[data-testid=stNumberInput]", has_text=label).first.locator("input")
    box.fill(value)
    box.press("Enter")
    settle(page)


def test_the_rank_png_has_the_dpi_asked_for(page):
    open_page(page, "UMAP", "UMAP")
    page.get_by_role("button", name="Extract the demo latents now").click()
    page.locator("h3", has_text="Selected:").wait_for()
    settle(page)
    type_number(page, "PNG downloads: resolution (dpi)", "150")
    open_page(page, "Rank", "Rank latent dimensions")
    page.wait_for_selector("[data-testid=stDataFrame]")
    button = page.get_by_role("button", name="ranking_top__").first
    with page.expect_download(timeout=120_000) as download:
        button.click()
    with Image.open(io.BytesIO(open(download.value.path(), "rb").read())) as image:
        assert image.info["dpi"][0] == pytest.approx(150, abs=0.1)
    settle(page)


def test_whole_latent_vectors_cluster_with_no_band_contrast(page):
    open_page(page, "Data", "Data")
    choose(page, "Band contrast", "none")
    assert "Band contrast: none" in page.locator("[data-testid=stSidebarUserContent]").inner_text()
    open_page(page, "Clusters", "Clusters")
    page.get_by_test_id("stRadioGroup").get_by_text("whole latent vectors").click()
    settle(page)
    page.locator("[data-testid=stMetric]", has_text="Clusters").first.wait_for()
    assert int(metric(page, "Clusters")) >= 2
    assert page.get_by_text("needs band contrast").count() == 0


def test_the_train_page_shows_its_sized_estimate_then_the_finished_run_after_a_reload(page):
    open_page(page, "Train", "Train a VAE")
    page.get_by_text(re.compile(r"Training would take about .* for [1-3][0-9] epochs")).wait_for()  # sized: 10-30
    type_number(page, "Epochs", "1")
    page.get_by_text(re.compile(r"Training would take about .* for 1 epoch of")).wait_for()  # before Start
    assert page.get_by_text("More epochs: 2 epochs: about").count() == 1
    settle(page)
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.get_by_role("button", name="Start training").scroll_into_view_if_needed()
    page.mouse.move(0, 0)  # no tooltip over the form
    page.screenshot(path=str(ARTIFACTS / "train_estimate.png"))
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"(s|min|h) left, in a worker process")).wait_for(timeout=120_000)  # the time left
    page.screenshot(path=str(ARTIFACTS / "train_time_left.png"))
    page.set_viewport_size({"width": 1500, "height": 1800})
    page.get_by_text(re.compile(r"The model \".*\" is now on the Extract page")).wait_for(timeout=240_000)
    settle(page)
    page.reload()
    page.wait_for_selector("h1:has-text('Train a VAE')")
    settle(page)
    page.get_by_role("heading", name="Last finished run").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()  # the loss curve (drawn after the heading)
    assert page.locator("[data-testid=stImage] img").count() >= 1  # the reconstructions
    assert page.get_by_text("the Extract page offers it as").count() == 1
