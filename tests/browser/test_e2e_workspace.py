"""Workspaces in a real headless Chromium against `streamlit run app.py`: two browser contexts (two
users). A reload restores the first one's latents and selection from the URL; the second one sees
nothing of them. Also: a click on a point of the UMAP scatter selects it in the default box mode."""
from __future__ import annotations


from steps import new_tab, open_page, panel, panel_click_row, umap_box, workspace_of
from streamlit_server import settle




def test_reload_restores_a_workspace_that_another_user_never_sees(app_url, browser):
    first = new_tab(browser, app_url)
    first_id = workspace_of(first)
    open_page(first, "UMAP", "UMAP")
    first.get_by_role("button", name="Extract the demo latents now").click()
    panel(first, "umap_scatter")
    settle(first)
    panel_click_row(first, "umap_scatter", 10)
    first.locator("h3", has_text="Selected: 1 point").wait_for(timeout=30_000)
    umap_box(first, 0.02, 0.02, 0.6, 0.98)
    first.wait_for_function("() => [...document.querySelectorAll('h3')].some("
                            "h => h.innerText.startsWith('Selected:') && !/Selected: 1 point\\b/.test(h.innerText))",
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
