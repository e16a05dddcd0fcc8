"""The door holds from the first request: real headless Chromium against freshly started `streamlit run
app.py` servers that nobody has opened yet, visited first at a page's own URL (a bookmark).

Until a run of app.py reaches `st.navigation`, Streamlit runs a `pages/` file alone for its URL; every
page's first call (ui.widgets.access.require_app) sends that run back through app.py's gate, session and
workspace. With sign-in configured, a visitor who is not signed in sees only the sign-in page at every
URL. Without sign-in, on every interface (the README's start command), a visitor at 127.0.0.1 (an
IPv4-mapped address to a server listening on IPv6 too) gets the app, and one who reached the server by
another host name is refused at every URL."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from steps import open_page
from streamlit_server import CHROMIUM, CHROMIUM_ARGS, NAV_LINKS, WATCH_NAV, free_port, serve, settle



REPO = Path(__file__).resolve().parents[2]
PAGES = [path.stem for path in sorted((REPO / "pages").glob("*.py"))]  # their URLs: /data, /extract, ...
FIRST = "train"  # the bookmark opened first on a fresh server


@pytest.fixture(scope="module")
def chromium(playwright):
    # "lab-server.test" reaches this machine's loopback: a host name that is not this computer's
    browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                         args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP lab-server.test 127.0.0.1"])
    yield browser
    browser.close()


# The texts the main area showed, in order, each with when it first did (the page's clock)
WATCH_MAIN = """
window.__main = [];
new MutationObserver(() => {
  const text = document.querySelector('[data-testid=stMain]')?.innerText.trim();
  if (text && (window.__main.length === 0 || window.__main.at(-1)[0] !== text)) window.__main.push([text, performance.now()]);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def visit(browser, url: str):
    """A new browser context (a new visitor) at `url`, once the app has stopped running."""
    tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    tab.set_default_timeout(90_000)
    tab.add_init_script(WATCH_NAV)
    tab.add_init_script(WATCH_MAIN)
    tab.goto(url)
    tab.wait_for_selector("h1")
    settle(tab)
    return tab


def headings(tab) -> list[str]:
    return [text.strip() for text in tab.locator("h1").all_inner_texts()]


def assert_only_the_door(tab, says: str):
    """Nothing of the app: its title, `says`, no page, no sidebar navigation, no traceback."""
    assert headings(tab) == ["Latent Explorer"], headings(tab)
    assert tab.get_by_text(says).count() >= 1
    assert tab.locator(NAV_LINKS).count() == tab.locator("[data-testid=stSidebarNav]").count() == 0
    assert tab.locator("[data-testid=stFileUploader]").count() == 0
    assert tab.locator("[data-testid=stException]").count() == 0
    assert "workspace=" not in tab.url


def test_signed_out_every_page_url_shows_the_sign_in_page_from_the_first_request(tmp_path, chromium):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[auth]\nredirect_uri = "{url}/oauth2callback"\ncookie_secret = "{os.urandom(16).hex()}"\n'
                       'client_id = "latent-explorer"\nclient_secret = "x"\n'
                       'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n')
    with serve(tmp_path / "server", args=("--secrets.files", str(secrets)), port=port) as (_, log):
        for name in [FIRST, *[page for page in PAGES if page != FIRST]]:
            tab = visit(chromium, f"{url}/{name}")
            assert_only_the_door(tab, "This server is shared: sign in to see your workspaces.")
            assert tab.get_by_role("button").count() == tab.get_by_role("button", name="Sign in").count() == 1, name
            tab.context.close()
        assert not (tmp_path / "server" / "sessions" / "workspaces").exists()  # no workspace was opened
    assert "Traceback" not in log.read_text(), log.read_text()


def test_without_sign_in_this_computer_gets_the_app_and_another_host_name_is_refused(tmp_path, chromium):
    with serve(tmp_path, address=None) as (url, log):  # every interface, as the README starts it
        tab = visit(chromium, f"{url}/{FIRST}")
        assert headings(tab) == ["Train a VAE"] and "workspace=" in tab.url
        first = tab.evaluate("window.__main")[0][0]  # the page's run alone, before app.py's: it says it is starting
        assert "Starting Latent Explorer" in first and tab.get_by_text("Starting Latent Explorer").count() == 0, first
        shown = tab.evaluate("window.__nav")  # the app's navigation from the first paint, never Streamlit's own list
        assert shown["app"] is not None and not shown["raw"], shown  # (app, clusters, ... umap: the pages/ files)
        assert tab.locator(NAV_LINKS).all_inner_texts()[-1].endswith("Train")
        open_page(tab, "Latent maps", "Latent maps")  # the way every browser test walks (steps.open_page)
        tab.context.close()
        tab = visit(chromium, f"{url}/data")
        assert headings(tab) == ["Data"]
        tab.get_by_text("2,400").first.wait_for()  # the demo scan's items: the session was set up
        tab.context.close()
        port = url.rsplit(":", 1)[1]
        for name in PAGES:
            tab = visit(chromium, f"http://lab-server.test:{port}/{name}")
            assert_only_the_door(tab, "serves only this computer")
            assert tab.get_by_text(f"reached as lab-server.test:{port}").count() == 1, name
            tab.context.close()
    assert "Traceback" not in log.read_text(), log.read_text()


def test_a_fresh_servers_first_visitor_is_told_it_is_starting_from_the_first_paint(tmp_path, chromium):
    """Issue 55: the first run on a new server loads the app's libraries for seconds (6-7 at load 6) before a page
    draws; the main area says so from its first text on, and the line is gone once the page is drawn. The sidebar
    drawn before the page does not wait for torch's import (`sources.devices_if_loaded`): its device line is
    filled in after the page."""
    with serve(tmp_path) as (url, log):
        tab = visit(chromium, url)
        shown = [text for text, _ in tab.evaluate("window.__main")]
        assert "Starting Latent Explorer: loading its libraries" in shown[0], shown  # (after its icon's name)
        assert headings(tab) == ["Data"] and tab.get_by_text("Starting Latent Explorer").count() == 0
        sidebar = tab.locator("[data-testid=stSidebar]").inner_text()  # torch's answer drawn after the page
        assert "Device: CPU" in sidebar or "Device: GPU" in sidebar, sidebar
        tab.context.close()
        tab = visit(chromium, url)  # the server's libraries are loaded: the next visitor is not told
        assert not any("Starting Latent Explorer" in text for text, _ in tab.evaluate("window.__main"))
        tab.context.close()
    assert "Traceback" not in log.read_text(), log.read_text()
