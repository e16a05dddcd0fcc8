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
from streamlit_server import CHROMIUM, CHROMIUM_ARGS, serve, settle, watched_contexts, worker_cache

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


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver per test process (its sync API allows one at a time)."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(playwright):
    """One headless Chromium per test process; each module and test opens its own contexts (visitors) in it, each
    watched for settle()."""
    browser = watched_contexts(playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS))
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    """`streamlit run app.py` on a free port with a private working folder and the test process's embedding cache,
    one per test process: every module on it works in workspaces of its own (each new browser context is a new
    one)."""
    with serve(tmp_path_factory.mktemp("e2e"), cache=worker_cache()) as (url, log):
        yield url, log


@pytest.fixture(scope="module")
def app_url(shared_server):
    """The shared server's URL for a module; the module fails if the server logged a traceback meanwhile."""
    url, log = shared_server
    start = log.stat().st_size
    yield url
    with open(log, "rb") as text:
        text.seek(start)
        logged = text.read().decode(errors="replace")
    assert "Traceback" not in logged, logged


@pytest.fixture(scope="module")
def page(app_url, chromium):
    """One browser tab on the app for a whole test module (each module its own context and workspace)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1500, "height": 1800}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(app_url)
    tab.wait_for_selector("h1:has-text('Data')")
    settle(tab)
    yield tab
    context.close()


@pytest.fixture
def browser(chromium):
    """The process's Chromium, for a test that opens contexts of its own (closed after the test)."""
    before = set(chromium.contexts)
    yield chromium
    for context in set(chromium.contexts) - before:
        context.close()
