"""The grain and KAM reference maps in a real headless Chromium against `streamlit run app.py`: an uploaded
one-phase Oxford H5OINA scan (simulated grains) is extracted; the Latent maps page offers no phase map but
`Indexed`, draws the grains (their size on hover) and the kernel average misorientation with its colour bar
and says how each is made. Screenshots (1600 x 1000) go to tests/artifacts/ (git-ignored), `kam_grains_*.png`."""
from __future__ import annotations

import pytest

from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5oina
from steps import ARTIFACTS, choose, open_page, trace_names
from streamlit_server import settle


@pytest.fixture(scope="module")
def grains_h5oina(tmp_path_factory):
    scan = simulate_scan(ScanSettings(n_rows=12, n_columns=15, pattern_size=40, n_grains=3, seed=5))
    return write_h5oina(scan, tmp_path_factory.mktemp("e2e_kam") / "grains.h5oina")


def shoot_chart(page, trace: str, name: str):
    """A 1600 x 1000 view with the reference chart whose first trace is `trace` in it."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    chart = page.locator(".js-plotly-plot").filter(has=page.locator(".heatmaplayer")).nth(
        [n[0] if n else None for n in trace_names(page)].index(trace))
    chart.scroll_into_view_if_needed()
    page.mouse.wheel(0, 250)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_grains_and_kam_are_reference_maps_of_a_one_phase_scan(page, grains_h5oina):
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(grains_h5oina))
    page.get_by_text("grains.h5oina: a data file").wait_for()
    settle(page)
    choose(page, "Data file", "grains.h5oina")
    open_page(page, "Extract", "Extract latents")
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text("Wrote grains__demo-vae_latents.h5").wait_for()
    settle(page)
    open_page(page, "Latent maps", "Latent maps")
    page.get_by_text("Reference maps").first.wait_for()
    page.locator("[data-testid=stSelectbox]", has_text="Reference map").first.click()
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
    page.get_by_text("Kernel average misorientation: the mean misorientation").wait_for()
    assert page.locator(".js-plotly-plot .colorbar").count() > 0
    shoot_chart(page, "KAM (°)", "kam_grains_2_kam")
