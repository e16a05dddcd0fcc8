"""Sign-in and sharing in a real headless Chromium against `streamlit run app.py`, signing in through a
real OpenID Connect provider that the test starts on 127.0.0.1 (oidc-provider-mock: a Flask app whose
authorize page asks for the user's `sub`, also given as their e-mail; any client id and secret are
accepted). The app reads its `[auth]` section from a secrets.toml of the test's own
(`--secrets.files`).

An unsigned visitor sees only the sign-in page. Alice and Bob's provider says it verified their
e-mail addresses (`email_verified`); Mallory's claims Alice's address unverified, and she is known only
by her `sub`: Alice's workspace stays closed to her. Alice signs in, extracts the demo latents and selects
points on the UMAP; Bob, signed in another browser context, cannot open her workspace's link. Alice
shares it read-only with Bob from the sidebar: Bob sees her selection, selects other points, and the
saved selection (and state) are unchanged; Alice's reload shows her selection. With a second provider that
says nothing of e-mail addresses being verified, users are `default:SUB`: Alice's share by Bob's address is
refused in one line, by his id it works, and Bob opens her link read-only (sees, changes nothing).

The app also runs with a deployment file (`LATENT_EXPLORER_DEPLOYMENT`) that lends the server's S3
access to a real S3-compatible server on 127.0.0.1 (moto, tests/s3_helpers.py) holding the buckets
lab-shared, alice-data, bob-data and secret, allowing everyone lab-shared and Alice also alice-data
(`[users."alice@example.org".s3]`): the Data page's S3 panel offers Alice exactly lab-shared and
alice-data (and lists what alice-data holds, through the server's access), Bob exactly lab-shared."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import warnings

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from steps import ARTIFACTS, open_page, panel, press, shoot, slider_values, umap_box, workspace_of
from streamlit_server import NAV_LINKS, free_port, serve, settle, worker_cache


with warnings.catch_warnings():  # the mock uses Authlib APIs that Authlib now calls deprecated
    warnings.simplefilter("ignore")
    oidc_provider_mock = pytest.importorskip("oidc_provider_mock")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ALICE, BOB, MALLORY = "alice@example.org", "bob@example.org", "mallory"
BUCKETS = ("lab-shared", "alice-data", "bob-data", "secret")  # on the S3 server
ALLOWED = {ALICE: ["alice-data", "lab-shared"], BOB: ["lab-shared"]}  # by the deployment file


@contextlib.contextmanager
def oidc_provider(users):
    """An OpenID provider on 127.0.0.1 knowing `users`, in a thread of this process; its URL."""
    import werkzeug.serving

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = werkzeug.serving.make_server("127.0.0.1", free_port(), oidc_provider_mock.app(user_claims=users),
                                          threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def provider():
    """A provider that verifies Alice's and Bob's e-mail addresses, and knows Mallory by an e-mail claim nobody
    verified."""
    users = [oidc_provider_mock.User(sub=user, claims={"email": user, "email_verified": True}) for user in (ALICE, BOB)]
    users.append(oidc_provider_mock.User(sub=MALLORY, claims={"email": ALICE}))
    with oidc_provider(users) as url:
        yield url


@contextlib.contextmanager
def signing_in(root, provider_url: str, env: dict):
    """`streamlit run app.py` with sign-in through `provider_url` configured ([auth] in a secrets.toml of its own)
    and `env`; its URL and its workspaces folder."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secrets = root / "secrets.toml"
    secrets.write_text(f'[auth]\nredirect_uri = "{url}/oauth2callback"\ncookie_secret = "{os.urandom(16).hex()}"\n'
                       f'client_id = "latent-explorer"\nclient_secret = "test-secret"\n'
                       f'server_metadata_url = "{provider_url}/.well-known/openid-configuration"\n')
    with serve(root, env, ("--secrets.files", str(secrets)), port, cache=worker_cache()) as (_, log):
        yield url, root / "sessions" / "workspaces"
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def deployment_file(tmp_path_factory, moto_s3):
    """The S3 server's buckets (one object in each), and a deployment file lending the server's
    S3 access to them: lab-shared for everyone, also alice-data for Alice."""
    for bucket in BUCKETS:
        moto_s3.client.create_bucket(Bucket=bucket)
        moto_s3.client.put_object(Bucket=bucket, Key=f"{bucket.split('-')[0]}.txt", Body=bucket.encode())
    path = tmp_path_factory.mktemp("e2e_auth_deployment") / "deployment.toml"
    path.write_text(f'[s3]\nserver_credentials = true\nendpoint_url = "{moto_s3.endpoint}"\nallow = ["lab-shared"]\n\n'
                    f'[users."{ALICE}".s3]\nallow = ["lab-shared", "alice-data"]\n')
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory, provider, deployment_file):
    """`streamlit run app.py` with sign-in configured, and the deployment file (the S3 server's fake
    credentials in its environment, none of this machine's: the moto_s3 fixture's isolated_aws_env);
    its URL and its workspaces folder."""
    # the S3 server's address comes from the deployment file
    env = {"LATENT_EXPLORER_DEPLOYMENT": str(deployment_file), "LATENTCORE_S3_ENDPOINT_URL": None}
    with signing_in(tmp_path_factory.mktemp("e2e_auth"), provider, env) as served:
        yield served


@pytest.fixture(scope="module")
def served_unverified(tmp_path_factory):
    """The app signing in through a provider that says nothing of its users' e-mail addresses being verified
    (so users are `default:SUB`), without a deployment file; its URL and its workspaces folder."""
    users = [oidc_provider_mock.User(sub=user, claims={"email": user}) for user in (ALICE, BOB)]
    with oidc_provider(users) as provider_url, signing_in(tmp_path_factory.mktemp("e2e_unverified"), provider_url,
                                                          {"LATENT_EXPLORER_DEPLOYMENT": None}) as served:
        yield served


def new_tab(browser, url):
    tab = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    tab.set_default_timeout(90_000)
    tab.goto(url)
    return tab


def sign_in(browser, url, user, shown_as=None):
    """A new browser context signed in as `user` (the provider's form: the sub, then Authorize), whom
    the app's sidebar names `shown_as` (else `user`)."""
    tab = new_tab(browser, url)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_selector("input[name=sub]")
    tab.fill("input[name=sub]", user)
    tab.get_by_role("button", name="Authorize").click()
    tab.wait_for_selector("h1:has-text('Data')")
    settle(tab)
    sidebar = tab.locator("[data-testid=stSidebar]")
    sidebar.get_by_text(shown_as or user).first.wait_for()
    return tab


def s3_panel(tab):
    return tab.locator("[data-testid=stExpander]", has_text="Files in S3").first


@contextlib.contextmanager
def shot_on_failure(tab, name: str):
    """The page as it was when a step failed, in tests/artifacts/`name`_failed.png."""
    try:
        yield
    except BaseException:
        shoot(tab, f"{name}_failed")
        raise


def open_dropdown(tab, widget):
    """Open a select box's (or multiselect's) list by its own "Open" button; the options' texts.
    A click that lands while a rerun redraws the widget is lost (seen once in CI): click again."""
    for attempt in range(3):
        widget.get_by_role("button", name="Open").click()
        try:
            tab.locator("[role=option]").first.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            settle(tab)
    return [option.strip() for option in tab.locator("[role=option]").all_inner_texts()]


def offered_buckets(tab, name: str) -> list[str]:
    """Open the Data page's S3 panel and its bucket picker; the buckets offered (the dropdown left
    open for the caller). The screenshot `name` shows the open list, whatever the caller then asserts."""
    panel = s3_panel(tab)
    with shot_on_failure(tab, name):
        panel.locator("summary").first.click()
        panel.get_by_text("Using this server's S3 access").wait_for()
        settle(tab)  # the expander's opening over: a click during it can be lost
        offered = open_dropdown(tab, panel.locator("[data-testid=stSelectbox]", has_text="Bucket"))
    shoot(tab, name)
    return offered


def share(tab, user: str):
    """Share the tab's workspace with `user` from its sidebar (read-only: the panel's default)."""
    sidebar = tab.locator("[data-testid=stSidebar]")
    if not sidebar.get_by_label("User id").is_visible():
        sidebar.get_by_text("Share this workspace").click()
        settle(tab)  # the expander's opening over: a click during it can be lost
    sidebar.get_by_label("User id").fill(user)
    sidebar.get_by_label("User id").press("Enter")  # the value is sent before the click:
    settle(tab)  # a click that blurs the field reruns twice, and the button's click can be lost
    sidebar.get_by_role("button", name="Share", exact=True).click()
    settle(tab)


def demo_box_selection(tab) -> str:
    """Extract the demo on the UMAP page, box most of its scatter; the selection's heading."""
    open_page(tab, "UMAP", "UMAP")
    tab.get_by_role("button", name="Extract the demo latents now").click()
    panel(tab, "umap_scatter")
    settle(tab)
    umap_box(tab, 0.02, 0.02, 0.6, 0.98)
    tab.wait_for_function("() => [...document.querySelectorAll('h3')].some(h => h.innerText.startsWith('Selected:'))",
                          timeout=30_000)
    return selected_heading(tab)


def roi_said(tab, text: str):
    """Wait for the ROI banner saying `text`; failing, say what the page's banners and ROI sliders show."""
    try:
        tab.get_by_text(text).first.wait_for(timeout=60_000)
    except PlaywrightTimeout:
        shoot(tab, "auth_roi_failed")
        raise AssertionError(f"no {text!r}: the page says {tab.locator('[data-testid=stAlert]').all_inner_texts()}, "
                             f"its ROI sliders {slider_values(tab, 'ROI x range')} {slider_values(tab, 'ROI y range')}"
                             ) from None


def selected_heading(tab) -> str:
    return tab.locator("h3", has_text="Selected:").first.inner_text()


def test_sign_in_and_a_workspace_shared_read_only(served, browser):
    url, workspaces = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stranger = new_tab(browser, url)
    stranger.get_by_role("button", name="Sign in").wait_for()
    settle(stranger)
    shoot(stranger, "auth_1_sign_in")
    assert stranger.locator("h1").all_inner_texts() == ["Latent Explorer"]
    assert stranger.locator(NAV_LINKS).count() == 0  # no page of the app to go to
    assert not workspaces.exists() or not any(workspaces.iterdir())  # nothing of the app ran
    stranger.goto(f"{url}/umap")  # nor is a page reached by its URL
    stranger.get_by_role("button", name="Sign in").wait_for()
    settle(stranger)
    assert "UMAP" not in stranger.locator("h1").all_inner_texts()

    alice = sign_in(browser, url, ALICE)
    alice_id = workspace_of(alice)
    assert sorted(offered_buckets(alice, "auth_s3_alice")) == ALLOWED[ALICE]  # not bob-data, not secret
    with shot_on_failure(alice, "auth_s3_alice_list"):
        alice.get_by_role("option", name="alice-data", exact=True).click()
        settle(alice)
        s3_panel(alice).get_by_role("button", name="List objects").click()  # the server's keys, at the S3 server
        objects = s3_panel(alice).locator("[data-testid=stMultiSelect]", has_text="Objects")
        objects.wait_for()
        settle(alice)
        assert [o.split(" (")[0] for o in open_dropdown(alice, objects)] == ["alice.txt"]
        alice.keyboard.press("Escape")
        assert s3_panel(alice).locator("[data-testid=stAlert], [data-testid=stException]").count() == 0
    heading = demo_box_selection(alice)
    assert heading != "Selected: 0 points"
    folder = workspaces / alice_id

    bob = sign_in(browser, url, BOB)
    assert workspace_of(bob) != alice_id
    assert offered_buckets(bob, "auth_s3_bob") == ALLOWED[BOB]
    bob.keyboard.press("Escape")
    bob.goto(f"{url}/?workspace={alice_id}")
    bob.get_by_text("is another user's and is not shared with you").wait_for()
    settle(bob)
    assert bob.locator("h1").all_inner_texts() == ["Latent Explorer"]
    assert bob.get_by_role("button", name="Start a new workspace").count() == 1
    shoot(bob, "auth_2_not_shared")

    share(alice, BOB)  # read-only: the default
    with shot_on_failure(alice, "auth_3_shared"):
        alice.locator("[data-testid=stSidebar]").get_by_text(f"{BOB}: read-only").wait_for()
    settle(alice)
    shoot(alice, "auth_3_shared")
    saved = {name: (folder / name).read_bytes() for name in ("state.json", "selection.npy")}
    assert f"Selected: {len(np.load(folder / 'selection.npy')):,} points" == heading

    bob.reload()
    bob.wait_for_selector("h1:has-text('Data')")
    settle(bob)
    bob.locator("[data-testid=stSidebar]").get_by_text("Read-only").wait_for()
    open_page(bob, "UMAP", "UMAP")
    panel(bob, "umap_scatter")
    bob.locator("h3", has_text=heading).wait_for(timeout=60_000)  # he sees Alice's selection
    umap_box(bob, 0.6, 0.02, 0.98, 0.98)
    bob.wait_for_function("h => [...document.querySelectorAll('h3')].some(e => e.innerText.startsWith('Selected:')"
                          " && e.innerText !== h)", arg=heading, timeout=30_000)
    assert selected_heading(bob) != heading  # his own view changed...
    assert {name: (folder / name).read_bytes() for name in saved} == saved  # ...the workspace did not
    assert workspace_of(bob) == alice_id
    shoot(bob, "auth_4_read_only")

    alice.reload()
    alice.locator("h3", has_text=heading).wait_for(timeout=60_000)

    mallory = sign_in(browser, url, MALLORY, shown_as=f"default:{MALLORY}")  # her e-mail claim says Alice's
    mallory.goto(f"{url}/?workspace={alice_id}")
    mallory.get_by_text("is another user's and is not shared with you").wait_for()
    assert mallory.get_by_text(f"signed in as default:{MALLORY}").count() == 1

    bob.goto(f"{url}/?workspace={'x' * 22}")  # a mistyped (or expired) link: one line, and a way on
    bob.get_by_text(f"Workspace {'x' * 22} does not exist or has expired.").wait_for()
    settle(bob)
    shoot(bob, "auth_5_missing")
    bob.get_by_role("button", name="Start a new workspace").click()
    bob.wait_for_selector("h1:has-text('Data')")
    settle(bob)
    assert workspace_of(bob) not in (alice_id, "x" * 22) and (workspaces / workspace_of(bob)).is_dir()


def test_with_a_provider_that_does_not_verify_e_mail_a_read_only_link_works(served_unverified, browser):
    """Issue 38: with a provider that does not verify e-mail addresses users are `default:SUB`, and sharing by e-mail
    address was taken though it could never match. Alice, `default:alice@example.org`, sharing with Bob's address
    is refused in one line; with his id it works: Bob signs in, opens her link read-only, sees her selection and
    ROI, changes both in his view, cannot share it, and nothing of the workspace changes."""
    url, workspaces = served_unverified
    alice = sign_in(browser, url, ALICE, shown_as=f"default:{ALICE}")
    folder = workspaces / workspace_of(alice)
    heading = demo_box_selection(alice)
    open_page(alice, "Latent maps", "Latent maps")
    press(alice, "ROI x range", 0, "ArrowRight", 7)
    banner = "ROI: x 10.5–88.5 µm, y 0–58.5 µm (2,120 of 2,400 pixels) — set on Latent maps"
    roi_said(alice, banner)

    sidebar = alice.locator("[data-testid=stSidebar]")
    sidebar.get_by_text(f"Your id here: default:{ALICE}").wait_for()
    share(alice, BOB)
    with shot_on_failure(alice, "auth_6_refused"):
        sidebar.get_by_text(f"{BOB} cannot match anyone: no sign-in provider here verifies e-mail addresses").wait_for()
    assert sidebar.get_by_text("default:SUB (SUB: the user's id at their provider)").count() >= 1
    shoot(alice, "auth_6_refused")
    assert json.loads((folder / "access.json").read_text())["shared"] == {}
    share(alice, f"default:{BOB}")
    with shot_on_failure(alice, "auth_7_shared_by_id"):
        sidebar.get_by_text(f"default:{BOB}: read-only").wait_for()
    saved = {name: (folder / name).read_bytes() for name in ("state.json", "selection.npy", "access.json")}

    bob = sign_in(browser, url, BOB, shown_as=f"default:{BOB}")
    bob.goto(f"{url}/?workspace={folder.name}")
    bob.wait_for_selector("h1:has-text('Data')")
    settle(bob)
    bob.locator("[data-testid=stSidebar]").get_by_text("Read-only").wait_for()
    assert bob.locator("[data-testid=stSidebar]").get_by_text("Share this workspace").count() == 0
    open_page(bob, "UMAP", "UMAP")
    panel(bob, "umap_scatter")
    bob.locator("h3", has_text=heading).wait_for(timeout=60_000)  # he sees her selection...
    umap_box(bob, 0.6, 0.02, 0.98, 0.98)
    bob.wait_for_function("h => [...document.querySelectorAll('h3')].some(e => e.innerText.startsWith('Selected:')"
                          " && e.innerText !== h)", arg=heading, timeout=30_000)
    open_page(bob, "Latent maps", "Latent maps")
    roi_said(bob, banner)  # ...and her ROI
    press(bob, "ROI y range", 1, "ArrowLeft", 20)
    roi_said(bob, "ROI: x 10.5–88.5 µm, y 0–28.5 µm")  # his view changed...
    shoot(bob, "auth_8_read_only_by_id")
    assert {name: (folder / name).read_bytes() for name in saved} == saved  # ...the workspace did not
    assert workspace_of(bob) == folder.name

    alice.reload()
    alice.wait_for_selector("h1:has-text('Latent maps')")
    roi_said(alice, banner)
