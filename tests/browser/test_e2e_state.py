"""What a session remembers, in a real headless Chromium against `streamlit run app.py`: an uploaded
H5OINA's own band contrast survives F5 (the sidebar, the Clusters page); an ROI set on Latent maps is
said on Clusters and Rank; and the server logs no widget set twice (a default and a Session State
value) after page switches and reloads."""
from __future__ import annotations

import time

import pytest

from steps import extract_with_the_demo_model, metric, open_page, panel, upload_data
from streamlit_server import settle


SCAN_MAP = "Band Contrast (the scan's own map)"
SET_TWICE = "was created with a default value but also had its value set via the Session State API"


@pytest.fixture(scope="module")
def server(app_url, shared_server):
    """The shared server: (url, its log file, where this module's part of the log starts)."""
    return app_url, shared_server[1], shared_server[1].stat().st_size


@pytest.fixture
def tab(server, browser):
    page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    page.set_default_timeout(90_000)
    page.goto(server[0])
    page.wait_for_selector("h1:has-text('Data')")
    settle(page)
    return page


def sidebar(page) -> str:
    return page.locator("[data-testid=stSidebar]").inner_text()


def choose(page, label: str, option: str):
    page.locator("[data-testid=stSelectbox]", has_text=label).first.click()
    page.get_by_role("option", name=option).first.click()
    settle(page)


def type_number(page, label: str, value: str):
    """Type a number into the number input labelled `label`, as a user does, and let the app take it."""
    field = page.get_by_label(label, exact=True)
    field.click()
    field.press("Control+a")
    field.type(value)
    field.press("Enter")
    time.sleep(1.5)  # the value reaches the server after a short delay, then the script reruns
    settle(page)


def reload(page):
    """F5: a new session on the same workspace URL."""
    page.reload()
    page.wait_for_selector("h1")
    settle(page)


def test_f5_keeps_the_scans_own_band_contrast_and_the_roi_is_said_where_it_applies(tab, server, h5oina_small):
    page = tab
    upload_data(page, h5oina_small)
    page.locator("[data-testid=stSidebar]").get_by_text(f"Band contrast: {SCAN_MAP}").wait_for(timeout=60_000)
    extract_with_the_demo_model(page, h5oina_small)

    reload(page)  # F5 on the Extract page
    assert f"Band contrast: {SCAN_MAP}" in sidebar(page), sidebar(page)
    open_page(page, "Clusters", "Clusters")
    assert page.get_by_text("Choose band contrast").count() == 0
    panel(page, "clusters_scatter")
    assert metric(page, "Pixels") == "180"
    reload(page)  # F5 on the Clusters page itself
    panel(page, "clusters_scatter")
    assert metric(page, "Pixels") == "180" and f"Band contrast: {SCAN_MAP}" in sidebar(page)

    open_page(page, "Latent maps", "Latent maps")  # an ROI: the x range's left end one step right
    thumb = page.locator("[data-testid=stSlider]", has_text="ROI x range").get_by_role("slider").first
    thumb.focus()
    thumb.press("ArrowRight")
    line = "ROI: x 1.5–21 µm, y 0–16.5 µm (168 of 180 pixels) — set on Latent maps"
    page.get_by_text(line).wait_for(timeout=60_000)
    settle(page)
    for title, heading in (("Clusters", "Clusters"), ("Rank", "Rank latent dimensions")):
        open_page(page, title, heading)
        page.get_by_text(line).wait_for(timeout=60_000)
    page.get_by_role("button", name="Clear ROI").click()
    settle(page)
    assert page.get_by_text("ROI: x").count() == 0
    open_page(page, "Clusters", "Clusters")
    assert page.get_by_text("ROI: x").count() == 0 and metric(page, "Pixels") == "180"


def test_the_server_logs_no_widget_set_twice_after_page_switches_and_reloads(tab, server):
    page, (_, log_path, start) = tab, server
    open_page(page, "UMAP", "UMAP")
    page.get_by_role("button", name="Extract the demo latents now").click()
    panel(page, "umap_scatter")
    settle(page)
    page.get_by_text("Embedding parameters").click()
    type_number(page, "Neighbours", "12")
    type_number(page, "Neighbours of a clicked point", "5")
    for title, heading in (("Latent maps", "Latent maps"), ("Data", "Data"), ("UMAP", "UMAP"),
                           ("Clusters", "Clusters"), ("Rank", "Rank latent dimensions")):
        open_page(page, title, heading)
    open_page(page, "UMAP", "UMAP")
    reload(page)  # the settings come back from the workspace
    panel(page, "umap_scatter")
    page.get_by_text("Embedding parameters").click()
    assert page.get_by_label("Neighbours", exact=True).input_value() == "12"
    assert page.get_by_label("Neighbours of a clicked point", exact=True).input_value() == "5"
    for title, heading in (("Latent maps", "Latent maps"), ("Clusters", "Clusters"), ("UMAP", "UMAP")):
        open_page(page, title, heading)
    text = log_path.read_bytes()[start:].decode(errors="replace")
    assert SET_TWICE not in text, text
