"""What the browser tests do in a page, as a person would: open a page from the sidebar, drag a box, pick an option,
download a figure, read a metric; screenshots go to tests/artifacts/ (git-ignored)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

from streamlit_server import NAV_LINKS, settle

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WORKSPACE = re.compile(r"[?&]workspace=([A-Za-z0-9_-]{22})")


def open_page(page, title: str, heading: str):
    page.locator(NAV_LINKS, has_text=title).first.click()
    page.wait_for_selector(f"h1:has-text('{heading}')")
    settle(page)
    assert page.locator("[data-testid=stException]").count() == 0, page.locator("[data-testid=stException]").inner_text()


def shoot(page, name: str):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def metric(page, label: str) -> str:
    box = page.locator("[data-testid=stMetric]", has_text=label).first
    return box.locator("[data-testid=stMetricValue]").inner_text().strip()


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


# What plotly drew of a chart (its axes' ticks and titles, colour bars, notes) past the chart's own edges: [] when the
# margins hold it all (ui/figures/maps.py fixes them: plotly does not widen them).
DRAWN_OUTSIDE = """(chart) => { const edge = chart.querySelector('.main-svg').getBoundingClientRect();
    return Array.from(chart.querySelectorAll('.xtick text, .ytick text, .g-xtitle, .g-ytitle, .colorbar, .annotation'))
        .map(e => [e.getAttribute('class'), e.textContent, e.getBoundingClientRect()])
        .filter(([, , r]) => r.width && (r.left < edge.left - 1 || r.right > edge.right + 1 || r.top < edge.top - 1
                                         || r.bottom > edge.bottom + 1))
        .map(([kind, text]) => `${kind}: ${text}`); }"""


def drawn_outside(page, chart) -> list[str]:
    """What of the plotly chart `chart` (a locator of its `.js-plotly-plot`) lies past its edges."""
    return chart.evaluate(DRAWN_OUTSIDE)


def choose(page, label: str, option: str, tries: int = 3):
    """Pick an option of the Streamlit select box whose label is `label`; opened again when a rerun (a page
    polling a worker's job) redrew the box while its list was open."""
    for attempt in range(tries):
        settle(page)
        page.locator("[data-testid=stSelectbox]", has_text=label).first.click()
        try:
            page.get_by_role("option", name=option).first.click(timeout=15_000)
            break
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
    settle(page)


def press(page, label: str, thumb: int, key: str, times: int):
    """Move thumb `thumb` of the range slider labelled `label` by `times` grid steps with the keyboard, as a person
    holding the key does: the first step seen on the thumb's value (its size), the others pressed at once, and any key
    the slider lost (redrawn by a rerun under it, on a loaded machine) pressed again once the app has stopped running,
    until the thumb has moved `times` steps. (A key at a time, each waiting for the rerun, took 0.8-1.1 s a step.)"""
    slider = page.locator("[data-testid=stSlider]", has_text=label).first
    handle = slider.get_by_role("slider").nth(thumb)
    shown = slider.locator("[data-testid=stSliderThumbValue]").nth(thumb)
    start = shown.inner_text()
    handle.press(key)
    expect(shown).not_to_have_text(start, timeout=5_000)  # found again each time: a rerun may redraw it
    step = float(shown.inner_text()) - float(start)
    for _ in range(3):
        left = times - round((float(shown.inner_text()) - float(start)) / step)
        if left <= 0:
            break
        handle.focus()
        for _ in range(left):
            page.keyboard.press(key)  # to the focused thumb, not waiting for it to be still between keys
        settle(page)
    moved = round((float(shown.inner_text()) - float(start)) / step)
    assert moved == times, f"{label}: thumb {thumb} moved {moved} steps of {step:g} from {start}, not {times}"
    settle(page)


def slider_values(page, label: str) -> list[str]:
    """The values the slider labelled `label` shows (a range slider: both ends), as written on its thumbs."""
    slider = page.locator("[data-testid=stSlider]", has_text=label).first
    slider.locator("[data-testid=stSliderThumbValue]").first.wait_for()  # a page still drawing has no thumbs yet
    return slider.locator("[data-testid=stSliderThumbValue]").all_inner_texts()


def upload_data(page, path: Path):
    """Upload a data file on the Data page and make it the session's data."""
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(path))
    page.get_by_text(f"{path.name}: a data file").wait_for()
    settle(page)
    choose(page, "Data file", path.name)


def extract_with_the_demo_model(page, source: Path):
    """Extract the session's data with the demo VAE on the Extract page; wait for its latents file."""
    from latentcore.outputs import latents_path_for

    open_page(page, "Extract", "Extract latents")
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text(f"Wrote {latents_path_for(source, model='demo-vae').name}").wait_for()
    settle(page)


def label_selection(tab, name: str):
    """Name the selection in the labels panel and label it."""
    box = tab.get_by_label("Label the selection as")
    box.fill(name)
    box.press("Enter")
    settle(tab)
    tab.get_by_role("button", name="selected rows").filter(has_text="Label the").click()
    settle(tab)


def workspace_of(page) -> str:
    match = WORKSPACE.search(page.url)
    assert match, page.url
    return match.group(1)


def new_tab(browser, url, viewport=(1400, 1600)):
    tab = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}).new_page()
    tab.set_default_timeout(90_000)
    tab.goto(url)
    tab.wait_for_selector("h1:has-text('Data')")
    settle(tab)
    return tab


def tab_with_study(browser, shared_server, names=("p", "q", "r"), orientations: bool = False):
    """A new tab (1600 x 1000) whose workspace holds the latents of the simulated scans `names`
    (tests/study_scans.py; with `orientations`, the scans' kept in them), as three extractions with one model leave
    them, and their study `three`, on the Data page that lists it; returns (tab, {name: latents path})."""
    from latentcore.study import make_study, write_study
    from study_scans import scan_latents

    url, log = shared_server
    tab = new_tab(browser, url, (1600, 1000))
    folder = log.parent / "sessions" / "workspaces" / workspace_of(tab)
    paths = scan_latents(folder / "latents" / "scans", names, scans=folder / "scans" if orientations else None)
    write_study(make_study("three", [str(p) for p in paths.values()]), folder, root=folder)
    open_page(tab, "UMAP", "UMAP")  # back to the Data page: it lists the saved study
    open_page(tab, "Data", "Data")
    return tab, paths


def explore_study(tab):
    """The Data page's "Explore this study": the study open on the UMAP page."""
    tab.get_by_role("button", name="Explore this study").click()
    tab.wait_for_selector("h1:has-text('UMAP')")
    settle(tab)


# -- point panels (ui/widgets/point_panel/): the canvas scatters and scan maps -----------------------------

def panel(page, key: str):
    """The point panel drawn under `key`, once drawn."""
    page.wait_for_function(f"() => window.__latentPanels?.panels?.[{key!r}]?.root.isConnected")
    return page.locator(f".lp-root[data-key={key}] .lp-shape")


def panel_call(page, key: str, method: str, *args):
    return page.evaluate(f"(a) => window.__latentPanels.panels[{key!r}].{method}(...a)", list(args))


def panel_tool(page, key: str, tool: str):
    page.locator(f".lp-root[data-key={key}] button", has_text=tool).click()


def panel_drag(page, key: str, points, modifier: str | None = None, wait: bool = True):
    """Press at the first of `points` (fractions of the panel's canvas), move through the rest, release (with
    `modifier` held: Shift adds, Alt removes); then wait for the page's rerun (unless not `wait`)."""
    canvas = panel(page, key)
    canvas.scroll_into_view_if_needed()
    area = canvas.bounding_box()
    at = [(area["x"] + fx * area["width"], area["y"] + fy * area["height"]) for fx, fy in points]
    if modifier:
        page.keyboard.down(modifier)
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()
    if modifier:
        page.keyboard.up(modifier)
    if wait:
        settle(page)  # the shape is sent at the release: settle() waits for its run


def panel_click_row(page, key: str, row: int):
    panel(page, key).scroll_into_view_if_needed()
    page.mouse.click(*panel_call(page, key, "clientOf", row))
    settle(page)


def umap_box(page, fx0, fy0, fx1, fy1, modifier: str | None = None):
    """Drag a box over fractions of the UMAP page's scatter (its canvas, axes included)."""
    panel_drag(page, "umap_scatter", [(fx0, fy0), (fx1, fy1)], modifier)
