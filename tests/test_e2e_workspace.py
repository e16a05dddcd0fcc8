"""Workspaces in a real headless Chromium against `streamlit run app.py`: two browser contexts (two
users). A reload restores the first one's latents and selection from the URL; the second one sees
nothing of them. Also: a click on a point of the UMAP scatter selects it in the default box mode."""
from __future__ import annotations

import re
import time

import pytest

from test_e2e_browser import (CHROMIUM, CHROMIUM_ARGS, app_url, box_select, open_page,  # noqa: F401 (fixture)
                              playwright, pytestmark, settle)

WORKSPACE = re.compile(r"[?&]workspace=([A-Za-z0-9_-]{22})")


def workspace_of(page) -> str:
    match = WORKSPACE.search(page.url)
    assert match, page.url
    return match.group(1)


def click_point(page, chart, index: int):
    """Click where point `index` of the chart's first trace is drawn."""
    chart.scroll_into_view_if_needed()
    x, y = chart.evaluate("""(g, i) => {
        const d = g._fullData[0], xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis, box = g.getBoundingClientRect();
        return [box.left + xa._offset + xa.l2p(d.x[i]), box.top + ya._offset + ya.l2p(d.y[i])];
    }""", index)
    page.mouse.click(x, y)
    time.sleep(1.5)
    settle(page)


@pytest.fixture
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_tab(browser, url):
    tab = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    tab.set_default_timeout(90_000)
    tab.goto(url)
    tab.wait_for_selector("h1:has-text('Data')")
    settle(tab)
    return tab


def test_reload_restores_a_workspace_that_another_user_never_sees(app_url, browser):  # noqa: F811
    first = new_tab(browser, app_url)
    first_id = workspace_of(first)
    open_page(first, "UMAP", "UMAP")
    first.get_by_role("button", name="Extract the demo latents now").click()
    first.wait_for_selector(".js-plotly-plot .nsewdrag")
    settle(first)
    chart = first.locator(".js-plotly-plot").first
    click_point(first, chart, 10)
    first.locator("h3", has_text="Selected: 1 points").wait_for(timeout=30_000)
    box_select(first, chart, 0.02, 0.02, 0.6, 0.98)
    first.wait_for_function("() => [...document.querySelectorAll('h3')].some("
                            "h => h.innerText.startsWith('Selected:') && !h.innerText.includes('Selected: 1 points'))",
                            timeout=30_000)
    heading = first.locator("h3", has_text="Selected:").first.inner_text()
    count = int(heading.split()[1].replace(",", ""))
    assert 1 < count < 2400

    first.reload()
    first.locator("h3", has_text=heading).wait_for(timeout=60_000)  # latents, embedding and selection are back
    assert workspace_of(first) == first_id

    second = new_tab(browser, app_url)
    assert workspace_of(second) != first_id
    open_page(second, "UMAP", "UMAP")
    second.get_by_text("No latents yet").wait_for()
    second.locator("[data-testid=stSidebar]").get_by_text("not extracted yet").wait_for()
    sidebar = second.locator("[data-testid=stSidebar]").inner_text()
    assert "Latents: not extracted yet" in sidebar and "Selected points: 0" in sidebar, sidebar
