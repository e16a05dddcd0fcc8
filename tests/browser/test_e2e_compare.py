"""Issue 35, item 1, in a real headless Chromium against `streamlit run app.py`: one scan extracted with two models
gives two latents files, each named by its model; the Compare page offers the other model's latents of that scan,
named by source, model and rows, and not the demo scan's latents (another source)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from latentcore.demo import DEMO_SCAN
from latentcore.models.vae import ConvVAE, VAEConfig
from latentcore.outputs import latents_path_for
from latentcore.storage import sha256_file
from steps import ARTIFACTS, choose, open_page, panel_call, panel_drag
from streamlit_server import settle

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def small_vae(tmp_path_factory) -> Path:
    """A second model for the scan: a small VAE whose checkpoint records no name (it is named by its hash)."""
    path = tmp_path_factory.mktemp("model") / "small_vae.pth"
    torch.manual_seed(0)
    torch.save(ConvVAE(VAEConfig(input_size=60, latent_dim=3, channels=(8, 16))).checkpoint(), path)
    return path


def extract(page, wrote: str):
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text(f"Wrote {wrote}").wait_for(timeout=180_000)
    settle(page)


def test_two_models_of_one_scan_are_compared_by_name_and_another_scans_latents_are_not_offered(
        page, h5oina_small, small_vae):
    short = sha256_file(small_vae)[:12]
    open_page(page, "Extract", "Extract latents")  # the demo scan with the demo VAE: latents of another source
    extract(page, latents_path_for(DEMO_SCAN, model="demo-vae").name)

    open_page(page, "Data", "Data")
    uploader = page.locator("[data-testid=stFileUploaderDropzoneInput]").first
    uploader.set_input_files([str(h5oina_small), str(small_vae)])
    page.get_by_text("small_vae.pth: a model checkpoint").wait_for()
    settle(page)
    choose(page, "Data file", h5oina_small.name)
    open_page(page, "Extract", "Extract latents")
    extract(page, latents_path_for(h5oina_small, model="demo-vae").name)
    choose(page, "Model", small_vae.name)
    page.get_by_text(f"Writes {latents_path_for(h5oina_small, model=short).name}").wait_for()  # not "reused"
    extract(page, latents_path_for(h5oina_small, model=short).name)

    open_page(page, "Compare", "Compare two latents files of small_scan")
    page.get_by_text(f"{short} vs demo-vae").wait_for()
    picker = page.locator("[data-testid=stSelectbox]", has_text="Second latents file").first
    assert picker.locator("input").input_value() == "small_scan · demo-vae · 180 rows"
    picker.get_by_role("button", name="Open").click()
    page.locator("[role=option]").first.wait_for(timeout=10_000)
    offered = [option.strip() for option in page.locator("[role=option]").all_inner_texts()]
    page.keyboard.press("Escape")
    settle(page)
    assert offered == ["small_scan · demo-vae · 180 rows"], offered  # not the demo scan's 2,400 rows
    titles = [page.locator(f".lp-root[data-key={key}] .lp-title").inner_text() for key in ("compare_a", "compare_b")]
    assert titles == [f"small_scan · {short} · 180 rows (first)", "small_scan · demo-vae · 180 rows (second)"]
    panel_drag(page, "compare_a", [(0.2, 0.2), (0.8, 0.8)])  # a box on the first: the same rows on the second
    on_first = panel_call(page, "compare_a", "selectedRows")
    assert 0 < len(on_first) < 180 and panel_call(page, "compare_b", "selectedRows") == on_first
    page.get_by_text(f"Selected: {len(on_first):,} rows").wait_for()
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.evaluate("window.scrollTo(0, 0)")
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "compare_two_models.png"))
