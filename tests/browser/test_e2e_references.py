"""The EBSD reference maps in a real headless Chromium against `streamlit run app.py`: an uploaded Oxford
H5OINA scan (simulated grains, with orientations) is extracted, the Latent maps page shows the references
panel (IPF map and its colour key, as plotly renders them), and the grain-boundary switch draws the
boundaries over the latent maps (lines between pixels, on the click map too); over an ROI the reference map
spans what the latent maps span; a pixel clicked there is announced on Clusters, with a button to clear it; the
one-phase scan's grain and KAM maps (of order 1, then 2); a box's orientations and misorientation angles on the UMAP
page. Screenshots go to tests/artifacts/
(git-ignored), `refs_*.png`, `kam_grains_*.png` and `orientations_*.png`; the server and browser are
tests/browser/conftest.py's, the steps tests/browser/steps.py's."""
from __future__ import annotations

import time

import numpy as np
import pytest

from latentcore.data import open_source
from steps import (ARTIFACTS, choose, download_png, drawn_outside, extract_with_the_demo_model, metric, open_page,
                   panel, new_tab, panel_click_row, press, shoot, trace_names, umap_box, upload_data)
from streamlit_server import settle



def test_references_panel_and_boundary_overlay_on_an_uploaded_oxford_scan(page, grains_h5oina):
    upload_data(page, grains_h5oina)
    extract_with_the_demo_model(page, grains_h5oina)
    open_page(page, "Latent maps", "Latent maps")
    page.get_by_text("Reference maps").first.wait_for()
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".some(g => (g.data || []).some(t => t.name === 'key'))")  # the IPF colour key drawn
    names = trace_names(page)
    assert any(n[:2] == ["IPF z", "key"] for n in names), names
    maps = next(n for n in names if n and str(n[0]).startswith("dim"))
    assert "grain boundaries" not in maps
    assert drawn_outside(page, page.locator(".st-key-maps_grid .js-plotly-plot")) == []
    shoot(page, "refs_1_panel")
    page.get_by_text("Boundaries", exact=True).first.click()
    settle(page)
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".some(g => (g.data || []).some(t => t.name === 'grain boundaries'))")
    maps = next(n for n in trace_names(page) if n and str(n[0]).startswith("dim"))
    assert maps.count("grain boundaries") == sum(1 for n in maps if str(n).startswith("dim")) > 0  # one each
    assert page.locator(".js-plotly-plot g.scatterlayer path.js-line").count() > 0  # plotly drew the lines
    shoot(page, "refs_2_boundaries")


# the x range of a chart's axes, as plotly laid it out: the latent maps' first subplot, the reference map's map
X_RANGE = """(name) => { const g = Array.from(document.querySelectorAll('.js-plotly-plot'))
    .find(g => (g.data || []).length && String(g.data[0].name).startsWith(name));
    return g ? g._fullLayout.xaxis.range : null; }"""
CLICK_MAP_LINES = "() => window.__latentPanels.panels.maps_picker.arrays.lines_x?.length || 0"  # boundary points


def test_over_an_roi_the_reference_map_lines_up_with_the_latent_maps_and_a_click_is_said_on_clusters(page):
    """Follows the test above (the same tab: the scan extracted, the boundaries on)."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    press(page, "ROI x range", 0, "ArrowRight", 3)  # x 4.5 to 15 µm: 7 of 15 columns
    press(page, "ROI x range", 1, "ArrowLeft", 4)
    press(page, "ROI y range", 0, "ArrowRight", 2)
    page.get_by_text("ROI x 4.5 to 15").first.wait_for()
    latent, reference = page.evaluate(X_RANGE, "dim"), page.evaluate(X_RANGE, "IPF z")
    assert latent == pytest.approx([3.75, 15.75]) and reference == pytest.approx(latent), (latent, reference)
    panel(page, "maps_picker")
    assert page.evaluate(CLICK_MAP_LINES) > 0  # the boundaries on the click map
    page.locator(".st-key-maps_grid").evaluate("e => e.scrollIntoView({block: 'start'})")  # maps and references
    time.sleep(0.5)
    page.screenshot(path=str(ARTIFACTS / "refs_3_roi_1600x1000.png"))
    with page.expect_download(timeout=120_000) as download:  # the reference maps as cropped, the ROI recorded
        page.get_by_role("button", name="Reference maps (NPZ)").click()
    assert download.value.suggested_filename == "references__roi4.5-15_3-16.5.npz"
    with np.load(download.value.path()) as npz:
        assert list(npz["roi"]) == [4.5, 15, 3, 16.5] and npz["ipf_z"].shape == (10, 8, 3)
        assert (npz["x"][0], npz["x"][-1], npz["y"][0]) == (4.5, 15, 3)
    settle(page)
    download_png(page, "IPF z (PNG, 300 dpi)", "refs_3_ipf_z_roi")
    panel(page, "maps_picker").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "refs_4_click_map_1600x1000.png"))
    panel_click_row(page, "maps_picker", 10)  # one pixel, as a person clicks it
    page.get_by_text("Pixel row").first.wait_for()

    open_page(page, "Clusters", "Clusters")
    notice = page.get_by_text("1 pixel selected on Latent maps (the click map)")
    notice.wait_for(timeout=60_000)
    page.wait_for_function("() => window.__latentPanels?.panels?.clusters_map?.root.isConnected")
    notice.evaluate("e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -120); }")  # it, and the map
    time.sleep(0.5)
    page.screenshot(path=str(ARTIFACTS / "refs_5_clusters_notice_1600x1000.png"))
    page.locator(".st-key-clusters_elsewhere_clear button").click()
    settle(page)
    assert notice.count() == 0 and metric(page, "Selected here") == "0"
    page.get_by_role("button", name="Clear ROI").click()  # as the next module expects to find the app
    settle(page)


def shoot_chart(page, trace: str, name: str):
    """A 1600 x 1000 view with the reference chart whose first trace is `trace` in it."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    chart = page.locator(".js-plotly-plot").filter(has=page.locator(".heatmaplayer")).nth(
        [n[0] if n else None for n in trace_names(page)].index(trace))
    chart.scroll_into_view_if_needed()
    page.mouse.wheel(0, 250)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_grains_and_kam_are_reference_maps_of_a_one_phase_scan(page):
    """Follows the tests above (the same tab, the scan extracted, the ROI cleared): the one-phase scan offers no
    phase map but `Indexed`, draws the grains (their size on hover) and the KAM with its colour bar, and says how
    each is made."""
    page.set_viewport_size({"width": 1500, "height": 1800})  # the module's (a screenshot above made it 1000 high)
    open_page(page, "Latent maps", "Latent maps")
    page.get_by_text("Reference maps").first.wait_for()
    settle(page)
    page.locator("[data-testid=stSelectbox]", has_text="Reference map").first.click()
    page.get_by_role("option").first.wait_for()  # the list opens after the click
    offered = [o.inner_text() for o in page.get_by_role("option").all()]
    page.keyboard.press("Escape")
    assert "Phases" not in offered and {"Grains", "Kernel average misorientation", "Indexed"} <= set(offered), offered
    choose(page, "Reference map", "Grains")
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".some(g => (g.data || []).some(t => t.name === 'grains'))")
    page.get_by_text("Grains: points joined through edge neighbours").wait_for()
    shoot_chart(page, "grains", "kam_grains_1_grains")
    choose(page, "Reference map", "Kernel average misorientation")
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".some(g => (g.data || []).some(t => t.name === 'KAM (°)'))")
    page.get_by_text("Kernel average misorientation of order 1: the mean misorientation").wait_for()
    assert page.locator(".js-plotly-plot .colorbar").count() > 0
    shoot_chart(page, "KAM (°)", "kam_grains_2_kam")
    choose(page, "KAM order", "2 (12 neighbours)")
    page.get_by_text("Kernel average misorientation of order 2: the mean misorientation").wait_for()
    shoot_chart(page, "KAM (°)", "kam_grains_3_kam_order2")


ORIENTATION_PANELS = """() => { const g = Array.from(document.querySelectorAll('.js-plotly-plot')).find(g =>
    ((g.layout || {}).annotations || []).some(a => a.text === '{111} pole figure'));
    if (!g) return null;
    const markers = g._fullData.filter(t => t.mode === 'markers');
    return {titles: g.layout.annotations.map(a => a.text), axes: markers.map(t => t.xaxis),
            points: markers.map(t => t.x.length)}; }"""


def test_a_box_on_the_umap_shows_its_orientations_beside_the_scans_and_its_pole_figures(app_url, browser,
                                                                                       grains_h5oina):
    """At 1600 x 1000 on the UMAP page: a box on the scatter, the Orientations switch and sample direction x draw
    the box's inverse pole figure (its points in their IPF colours) beside the whole scan's (grey) and its {100} and
    {111} pole figures over the scan's; the figure downloads as a 300 dpi PNG; under it the box's misorientation
    angles (correlated, uncorrelated, Mackenzie's curve), a 300 dpi PNG too. Screenshots
    `orientations_umap_box_ipf_x_beside_scan_and_pole_figures.png`, `orientations_umap_box_misorientation_angles.png`."""
    page = new_tab(browser, app_url)  # a workspace of its own: the module's holds this upload
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    upload_data(page, grains_h5oina)
    extract_with_the_demo_model(page, grains_h5oina)
    open_page(page, "UMAP", "UMAP")
    panel(page, "umap_scatter")
    settle(page)
    umap_box(page, 0.02, 0.02, 0.6, 0.98)
    page.wait_for_function("() => [...document.querySelectorAll('h3')].some(h => /^Selected: [1-9]/.test(h.innerText))")
    heading = page.locator("h3", has_text="Selected:").first.inner_text()  # "Selected: 97 points"
    selected = int(heading.split()[1].replace(",", ""))
    assert selected > 0
    page.get_by_text("Orientations: inverse and direct pole figures").click()
    settle(page)
    page.locator(".st-key-umap_orient_direction").get_by_text("x", exact=True).click()
    settle(page)
    page.wait_for_function(f"() => ({ORIENTATION_PANELS})()?.titles.some(t => t.startsWith('Selection: IPF-x'))")
    drawn = page.evaluate(f"({ORIENTATION_PANELS})()")
    assert drawn["axes"] == ["x", "x2", "x3", "x3", "x4", "x4"]  # the selection, the scan; scan then selection poles
    box, scan, _, box_100, _, box_111 = drawn["points"]
    with open_source(grains_h5oina) as reader:
        indexed = int((reader.orientations().phase_id >= 0).sum())
    assert 0 < box <= selected and scan == indexed  # beside every indexed point of the scan
    assert (box_100, box_111) == (3 * box, 4 * box)  # 3 {100} and 4 {111} poles a point, upper hemisphere
    page.set_viewport_size({"width": 1600, "height": 1000})
    chart = page.locator(".st-key-umap_orient_chart")
    chart.scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    page.screenshot(path=str(ARTIFACTS / "orientations_umap_box_ipf_x_beside_scan_and_pole_figures.png"))
    download_png(page, "Figure (PNG, 300 dpi)", "orientations_download")
    angles = page.locator(".st-key-umap_orient_angles_chart")  # under the pole figures, on by default
    angles.scroll_into_view_if_needed()
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(g => "
                           "((g.layout || {}).annotations || []).some(a => a.text.startsWith('Correlated: neighbouring')))")
    page.mouse.move(0, 0)
    page.screenshot(path=str(ARTIFACTS / "orientations_umap_box_misorientation_angles.png"))
    download_png(page, "Misorientation angles (PNG, 300 dpi)", "misorientations_download")
