"""The EBSD reference maps in a real headless Chromium against `streamlit run app.py`: an uploaded Oxford
H5OINA scan (simulated grains, with orientations) is extracted, the Latent maps page shows the references
panel (IPF map and its colour key, as plotly renders them), and the grain-boundary switch draws the
boundaries over the latent maps. Screenshots go to tests/artifacts/ (git-ignored), `refs_*.png`. The
server, browser and helpers are tests/browser/test_e2e_browser.py's."""
from __future__ import annotations

import pytest

from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5oina
from latentcore.outputs import latents_path_for
from steps import choose, open_page, shoot, trace_names
from streamlit_server import settle



@pytest.fixture(scope="module")
def grains_h5oina(tmp_path_factory):
    scan = simulate_scan(ScanSettings(n_rows=12, n_columns=15, pattern_size=40, n_grains=3, seed=5))
    return write_h5oina(scan, tmp_path_factory.mktemp("e2e_grains") / "grains.h5oina")


def test_references_panel_and_boundary_overlay_on_an_uploaded_oxford_scan(page, grains_h5oina):
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(grains_h5oina))
    page.get_by_text("grains.h5oina: a data file").wait_for()
    settle(page)
    choose(page, "Data file", "grains.h5oina")
    open_page(page, "Extract", "Extract latents")
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text(f"Wrote {latents_path_for(grains_h5oina, model='demo-vae').name}").wait_for()
    settle(page)
    open_page(page, "Latent maps", "Latent maps")
    page.get_by_text("Reference maps").first.wait_for()
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".some(g => (g.data || []).some(t => t.name === 'key'))")  # the IPF colour key drawn
    names = trace_names(page)
    assert any(n[:2] == ["IPF z", "key"] for n in names), names
    maps = next(n for n in names if n and str(n[0]).startswith("dim"))
    assert "grain boundaries" not in maps
    shoot(page, "refs_1_panel")
    page.get_by_text("Boundaries", exact=True).first.click()
    settle(page)
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".some(g => (g.data || []).some(t => t.name === 'grain boundaries'))")
    maps = next(n for n in trace_names(page) if n and str(n[0]).startswith("dim"))
    assert maps.count("grain boundaries") == sum(1 for n in maps if str(n).startswith("dim")) > 0
    assert page.locator(".js-plotly-plot g.heatmaplayer").count() > 0  # plotly rendered the overlays
    shoot(page, "refs_2_boundaries")
