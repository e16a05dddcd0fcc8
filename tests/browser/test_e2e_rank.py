"""The Rank page in a real headless Chromium against `streamlit run app.py`: on the demo scan's latents it ranks
against band contrast by default; a `references.npz` (the `references` command's, of the same scan) uploaded on
the page offers its maps, and one picked is ranked and drawn beside its top dimensions. Screenshots go to
tests/artifacts/ (git-ignored), `rank_*.png`; `rank_3_top_1600x1000.png` and `rank_4_maps_1600x1000.png` are the page as a
1600 x 1000 window shows it."""
from __future__ import annotations

import re
import time


from steps import ARTIFACTS, drawn_outside, open_page, shoot
from streamlit_server import settle

TITLES = ("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
          ".map(g => ((g.layout || {}).title || {}).text || '')")


def chart_titles(page) -> list[str]:
    return [re.sub(r"<[^>]+>", "", title) for title in page.evaluate(TITLES)]  # plotly's titles are in <b>


def wait_for_title(page, text: str):
    page.wait_for_function(f"() => ({TITLES})().some(t => t.includes({text!r}))", timeout=120_000)


def test_the_rank_page_ranks_the_maps_of_an_uploaded_references_npz(page, references_npz):
    open_page(page, "Extract", "Extract latents")
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text(re.compile(r"Wrote ni_grains_h5ebsd\S*latents\.h5")).wait_for(timeout=120_000)
    settle(page)
    open_page(page, "Rank", "Rank latent dimensions")
    wait_for_title(page, "band contrast: top 4 by pearson")  # band contrast, by default
    shoot(page, "rank_1_default")

    panel = page.locator("[data-testid=stExpander]", has_text="Reference maps from a file (NPZ)")
    panel.locator("summary").first.click()
    panel.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(references_npz))
    panel.locator("[data-testid=stFileUploader]").get_by_text("references.npz").first.wait_for()
    time.sleep(1.5)  # the upload reaches the server, then the script reruns
    settle(page)
    picker = page.locator("[data-testid=stMultiSelect]", has_text="Reference maps").first
    picker.get_by_role("button", name="Open").click()
    said = page.locator("[data-testid=stAlertContentSuccess]").first.inner_text()  # as drawn, after Markdown
    for name in ("references:adp", "references:vbse_rgb[r]", "references:iq"):  # after the scan's own maps (IPF...)
        picker.locator("input").first.fill(name)
        page.get_by_role("option", name=name, exact=True).wait_for(timeout=10_000)
        assert name in said, said
    page.get_by_role("option", name="references:iq", exact=True).click()
    page.keyboard.press("Escape")
    settle(page)
    wait_for_title(page, "references:iq: top 4 by pearson")
    titles = chart_titles(page)
    assert "references:iq and its top dimensions" in titles and "band contrast and its top dimensions" in titles, titles
    assert page.locator("[data-testid=stAlert] [data-testid=stAlertContentError], [data-testid=stException]") \
        .count() == 0
    shoot(page, "rank_2_upload")
    page.set_viewport_size({"width": 1600, "height": 1000})
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "rank_3_top_1600x1000.png"))
    maps = page.locator(".js-plotly-plot").nth(titles.index("references:iq and its top dimensions"))
    assert drawn_outside(page, maps) == []
    maps.scroll_into_view_if_needed()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "rank_4_maps_1600x1000.png"))
