"""What a session remembers, in a real headless Chromium against `streamlit run app.py`: an uploaded
H5OINA's own band contrast survives F5 (the sidebar, the Clusters page); an ROI set on Latent maps is
said on Clusters and Rank; an ROI set on Latent maps in another tab is shown and computed on the Clusters
page open in a first tab, and opened by a new context on the Clusters page's URL, fitted and mapped; and
the server logs no widget set twice (a default and a Session State value) after page switches and reloads."""
from __future__ import annotations

import time

import pytest

from steps import (choose, extract_with_the_demo_model, metric, new_tab, open_page, panel, press, slider_values,
                   upload_data, workspace_of)
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


def clusters_shown(page, method: str, rows: str, roi: tuple[list, list], banner: str | None):
    """The Clusters page shows the ROI `roi` (x, y as its sliders write them) and says and maps what it computed
    from it: `method` fitted on all `rows` rows, as many on the map, and the ROI's banner (None: none)."""
    panel(page, "clusters_map")
    assert (slider_values(page, "ROI x range"), slider_values(page, "ROI y range")) == roi
    assert metric(page, "Pixels") == rows
    page.get_by_text(f"Fit: {method} fitted on all {rows} rows").wait_for(timeout=30_000)
    assert page.locator(".lp-root[data-key=clusters_map]").get_attribute("data-rows") == rows.replace(",", "")
    if banner:
        page.get_by_text(banner).wait_for(timeout=30_000)
    assert page.get_by_text("ROI: x").count() == (1 if banner else 0)


def test_an_roi_set_in_another_tab_is_shown_computed_and_opened_by_a_new_context(server, browser):
    """Issue 38: an ROI set on Latent maps in one tab reached the Clusters page open in another tab, but not its
    sliders: the page fitted the ROI under sliders reading the whole scan, and on its next run the browser sent
    the whole scan back, as a change made on Clusters, into the workspace a new context then opened."""
    url = server[0]
    first = new_tab(browser, url)
    open_page(first, "UMAP", "UMAP")
    first.get_by_role("button", name="Extract the demo latents now").click()
    panel(first, "umap_scatter")
    open_page(first, "Clusters", "Clusters")
    whole = (["0.00", "88.50"], ["0.00", "58.50"])
    clusters_shown(first, "gmm", "2,400", whole, None)

    second = new_tab(browser, f"{url}/?workspace={workspace_of(first)}")  # another browser context
    open_page(second, "Latent maps", "Latent maps")
    press(second, "ROI x range", 0, "ArrowRight", 7)
    press(second, "ROI y range", 1, "ArrowLeft", 20)
    banner = "ROI: x 10.5–88.5 µm, y 0–28.5 µm (1,060 of 2,400 pixels) — set on Latent maps"
    second.get_by_text(banner).wait_for(timeout=60_000)
    roi = (["10.50", "88.50"], ["0.00", "28.50"])

    choose(first, "Method", "kmeans")  # the first tab's next run takes the ROI in, and shows it
    clusters_shown(first, "kmeans", "1,060", roi, banner)
    choose(first, "Method", "gmm")  # its browser sends back what it shows
    clusters_shown(first, "gmm", "1,060", roi, banner)

    third = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    third.set_default_timeout(90_000)
    third.goto(f"{url}/clusters?workspace={workspace_of(first)}")
    third.wait_for_selector("h1:has-text('Clusters')")
    settle(third)
    clusters_shown(third, "gmm", "1,060", roi, banner)
    open_page(third, "Rank", "Rank latent dimensions")
    third.get_by_text(banner).wait_for(timeout=60_000)


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
