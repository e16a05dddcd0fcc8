"""The browser tests: a real headless Chromium (Debian's, driven by Playwright) against `streamlit run app.py`.

Every test here is marked `browser` (`pytest -m "not browser"` leaves them out) and skipped on a developer's machine
without Chromium, never in CI, where .ci/run installs it. The modules run one after another on one xdist worker
(tests/conftest.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from steps import ARTIFACTS
from streamlit_server import CHROMIUM, CHROMIUM_ARGS, serve, settle

HERE = Path(__file__).resolve().parent
NO_CHROMIUM = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                 reason=f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(NO_CHROMIUM)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(300))


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`streamlit run app.py` on a free port, with private working and embedding-cache folders."""
    with serve(tmp_path_factory.mktemp("e2e")) as (url, log):
        yield url
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def page(app_url):
    """One browser tab on the app for a whole test module (each module its own)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1500, "height": 1800}, accept_downloads=True)
        tab.set_default_timeout(60_000)
        tab.goto(app_url)
        tab.wait_for_selector("h1:has-text('Data')")
        settle(tab)
        yield tab
        browser.close()


@pytest.fixture
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
