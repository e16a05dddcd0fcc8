"""Sign-in and sharing (ui.session.access): workspace owners and who else may open a workspace, read-only
visitors whose changes are never written back, the sign-in page an unsigned visitor sees and nothing
else, and single-user mode's refusal to serve another computer. The real app script under AppTest with
a signed-in user (AppTest.user), real files on disk; the browser flow with a real OpenID provider is
tests/browser/test_e2e_auth.py."""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit import config
from streamlit.testing.v1 import AppTest

from driving import url_workspace
from latentcore.errors import InputError
from ui.session import access, workspace

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "id",
        "client_secret": "secret", "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}
ALICE, BOB = "alice@example.org", "bob@example.org"


# -- the rules, on files ----------------------------------------------------------------------------

def test_owner_shares_read_only_or_read_write_and_nobody_else_opens(tmp_path):
    _, path = workspace.create(tmp_path)
    assert access.role(path, ALICE) is None and access.role(path, None) == access.OWNER  # None: single-user
    access.claim(path, ALICE)
    (path / workspace.LOCK_FILE).unlink()
    access.claim(path, BOB)  # an owned workspace is not claimed again, and its visitor writes nothing
    assert not (path / workspace.LOCK_FILE).exists()
    assert access.role(path, ALICE) == access.OWNER and access.role(path, BOB) is None
    access.share(path, ALICE, " Bob@Example.org ")  # e-mails compare in lower case; read-only by default
    assert access.role(path, BOB) == access.READ
    access.share(path, ALICE, BOB, access.WRITE)
    assert access.role(path, BOB) == access.WRITE and access.role(path, "carol@example.org") is None
    with pytest.raises(PermissionError):
        access.share(path, BOB, "carol@example.org")  # only the owner shares
    with pytest.raises(PermissionError):
        access.share(path, None, "carol@example.org")  # nor does single-user mode
    with pytest.raises(ValueError):
        access.share(path, ALICE, BOB, "admin")
    with pytest.raises(InputError, match="name another user to share with"):  # the page shows it as it is
        access.share(path, ALICE, ALICE)
    access.unshare(path, ALICE, BOB)
    assert access.role(path, BOB) is None
    assert json.loads((path / access.ACCESS_FILE).read_text()) == {"owner": ALICE, "shared": {}}


def slowed(monkeypatch, name: str):
    """access.`name` (a read) made slow: threads that read, change and write back all read before any writes,
    unless they take turns."""
    read = getattr(access, name)

    def slow_read(*args):
        value = read(*args)
        time.sleep(0.05)
        return value
    monkeypatch.setattr(access, name, slow_read)
    return read


def at_once(target, argument_lists):
    threads = [threading.Thread(target=target, args=args) for args in argument_lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_shares_made_at_once_are_all_kept(tmp_path, monkeypatch):
    """Two tabs of the owner sharing at the same moment: each reads access.json, adds its user, writes it back."""
    _, path = workspace.create(tmp_path)
    access.claim(path, ALICE)
    read = slowed(monkeypatch, "read")
    users = [f"user{k}@example.org" for k in range(6)]
    at_once(access.share, [(path, ALICE, user) for user in users])
    assert read(path) == {"owner": ALICE, "shared": dict.fromkeys(users, access.READ)}


def test_providers_noted_at_once_are_all_kept(tmp_path, monkeypatch):
    read = slowed(monkeypatch, "vouching_providers")
    providers = [f"lab{k}" for k in range(6)]
    at_once(access.note_sign_in, [(tmp_path, {"email": BOB, "email_verified": True, "sub": "b", "provider": provider})
                                  for provider in providers])
    assert read(tmp_path) == set(providers)


def test_a_tampered_access_file_opens_to_nobody_but_its_owner(tmp_path):
    _, path = workspace.create(tmp_path)
    (path / access.ACCESS_FILE).write_text(json.dumps({"owner": ALICE, "shared": {BOB: "admin", "x": 3}}))
    assert access.read(path) == {"owner": ALICE, "shared": {}}
    (path / access.ACCESS_FILE).write_text("not json")
    assert access.read(path)["owner"] is None


@pytest.mark.parametrize("address, host, ip, refused", [
    ("127.0.0.1", None, None, False), ("localhost", "localhost:8501", None, False), ("::1", "[::1]:8501", None, False),
    (None, "localhost:8501", None, False), (None, "127.0.0.1:8501", None, False), (None, None, None, False),
    ("0.0.0.0", "localhost:8501", None, True), ("192.168.1.5", None, None, True), ("::", None, None, True),
    (None, "example.org:8501", None, True), (None, "192.168.1.5:8501", None, True), (None, None, "10.0.0.3", True),
    # a server listening on IPv4 and IPv6 sees an IPv4 visitor as an IPv4-mapped IPv6 address
    (None, "127.0.0.1:8501", "::ffff:127.0.0.1", False), (None, None, "::ffff:127.0.0.2", False),
    (None, None, "::ffff:10.0.0.3", True), ("::ffff:192.168.1.5", None, None, True),
])
def test_single_user_mode_serves_only_loopback(address, host, ip, refused):
    assert (access.refusal(address, host, ip, environ={}) is not None) == refused
    assert access.refusal(address, host, ip, environ={"LATENT_EXPLORER_ALLOW_REMOTE": "1"}) is None


@pytest.mark.parametrize("claims, trusted, expected", [
    ({"email": "Bob@Example.org", "email_verified": True, "sub": "b1"}, (), BOB),
    ({"email": BOB, "email_verified": "true", "sub": "b1"}, (), BOB),  # some providers send a string
    # an e-mail claim the provider did not verify could name anyone: the account is its sub
    ({"email": BOB, "sub": "m1"}, (), "default:m1"),
    ({"email": BOB, "email_verified": False, "sub": "m1"}, ("default",), "default:m1"),
    ({"email": BOB, "sub": "m1", "provider": "lab"}, ("lab",), BOB),  # the deployment trusts this provider
    ({"email": BOB, "sub": "m1", "provider": "other"}, ("lab",), "other:m1"),
    ({"email": BOB, "sub": BOB}, (), f"default:{BOB}"),  # a sub that looks like an address is still a sub
    ({"name": "nobody"}, (), None),
])
def test_a_user_is_their_email_only_where_it_is_verified(claims, trusted, expected):
    assert access.user_id(claims, trusted) == expected


PROVIDERS = ["default", "lab"]  # [auth] itself and [auth.lab]


@pytest.mark.parametrize("name, email_providers, expected", [
    ("default:bob@example.org", set(), "default:bob@example.org"),
    (" default:Bob ", set(), "default:Bob"),  # a sub keeps its case
    ("lab:b1", set(), "lab:b1"),
    (" Bob@Example.org ", {"default"}, BOB),  # a provider here vouches for e-mails
])
def test_a_workspace_is_shared_by_an_id_a_sign_in_here_can_give(name, email_providers, expected):
    assert access.share_target(name, PROVIDERS, email_providers, f"default:{ALICE}") == expected


@pytest.mark.parametrize("name, email_providers, refusal", [
    (BOB, set(), "bob@example.org cannot match anyone: no sign-in provider here verifies e-mail addresses, so users "
                 "are known as default:SUB or lab:SUB (SUB: the user's id at their provider); use the id their "
                 "sidebar shows under Signed in (yours is default:alice@example.org)."),
    ("google:b1", {"default"}, "google:b1 cannot match anyone: users sign in here as their e-mail address (signing "
                               "in with default, which verifies it) or default:SUB or lab:SUB (SUB: the user's id at "
                               "their provider); use the id their sidebar shows under Signed in (yours is "
                               "default:alice@example.org)."),
    ("bob", set(), "bob cannot match anyone: users sign in here as default:SUB or lab:SUB"),
    ("default: ", set(), "default: cannot match anyone"),
    ("  ", set(), "Name the user to share with: users sign in here as default:SUB or lab:SUB"),
])
def test_a_name_no_sign_in_here_can_give_is_refused_in_one_line(name, email_providers, refusal):
    with pytest.raises(ValueError) as refused:
        access.share_target(name, PROVIDERS, email_providers, f"default:{ALICE}")
    assert str(refused.value).startswith(refusal) and "\n" not in str(refused.value), str(refused.value)


def test_a_provider_is_noted_once_it_verifies_an_e_mail(tmp_path):
    access.note_sign_in(tmp_path, {"email": BOB, "sub": BOB})  # not verified: not noted
    access.note_sign_in(tmp_path, {"email": BOB, "sub": "b1", "provider": "lab"}, ("lab",))  # trusted by the deployment
    assert access.vouching_providers(tmp_path) == {"lab"}
    access.note_sign_in(tmp_path, {"email": ALICE, "email_verified": True, "sub": "a1"})
    assert access.vouching_providers(tmp_path) == {"default", "lab"}
    (tmp_path / access.VOUCHING_FILE).write_text('{"default": 1}')  # a broken file vouches for nobody
    assert access.vouching_providers(tmp_path) == set()


# -- the app --------------------------------------------------------------------------------------

def app(user: str | None = None, workspace_id: str | None = None, signed_out: bool = False,
        verified: bool = True) -> AppTest:
    """The app with sign-in configured and `user` signed in (none: single-user mode), their e-mail verified by
    the provider, or (`verified` False) not said to be."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=240)
    if user or signed_out:
        at.secrets["auth"] = AUTH
        at.user = ({"is_logged_in": False} if signed_out else
                   {"is_logged_in": True, "email": user, "sub": user, **({"email_verified": True} if verified else {})})
    if workspace_id:
        at.query_params["workspace"] = workspace_id
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def workspaces() -> list[str]:
    import ui.session.workspace

    base = ui.session.workspace.WORKDIR_ROOT / "workspaces"
    return sorted(p.name for p in base.iterdir()) if base.is_dir() else []


def test_an_unsigned_visitor_sees_only_the_sign_in_page():
    at = run(app(signed_out=True))
    assert [b.label for b in at.button] == ["Sign in"]
    assert [t.value for t in at.title] == ["Latent Explorer"] and not at.sidebar.markdown
    assert workspaces() == [] and "workspace" not in at.query_params  # nothing of the app ran


def test_single_user_mode_says_so_and_refuses_a_non_loopback_address(monkeypatch, default_address):
    at = run(app())
    assert "Single-user mode" in " ".join(c.value for c in at.sidebar.caption)
    made = workspaces()
    config.set_option("server.address", "0.0.0.0", "command-line argument or environment variable")
    assert st.get_option("server.address") == "0.0.0.0"
    refused = run(app())
    assert len(refused.error) == 1 and "single-user mode" in refused.error[0].value
    assert "listens on 0.0.0.0" in refused.error[0].value and not refused.button and not refused.sidebar.markdown
    assert workspaces() == made  # nothing else ran
    monkeypatch.setenv("LATENT_EXPLORER_ALLOW_REMOTE", "1")
    allowed = run(app())
    assert not allowed.error and [t.value for t in allowed.title] == ["Data"]


@pytest.fixture
def default_address():
    yield
    config.set_option("server.address", None, "<default>")


def test_single_user_mode_refuses_a_visitor_who_reached_it_by_another_host():
    at = app()
    at.context = {"url": "http://192.168.1.5:8501/"}
    refused = run(at)
    assert "reached as 192.168.1.5:8501" in refused.error[0].value and workspaces() == []


def test_only_the_owner_and_those_it_is_shared_with_open_a_workspace():
    alice = run(app(ALICE))
    alice_id = url_workspace(alice)
    assert alice.session_state["_workspace_role"] == "owner"
    alice.session_state["selection"] = np.array([5, 6, 7])
    alice.run()
    folder = Path(alice.session_state["workdir"])
    assert access.read(folder)["owner"] == ALICE

    bob = run(app(BOB, alice_id))
    assert len(bob.error) == 1 and "not shared with you" in bob.error[0].value and "workdir" not in bob.session_state
    assert url_workspace(bob) == alice_id  # the link stays; nothing of Alice's workspace is in Bob's session

    alice.sidebar.text_input(key="share_user").input(BOB)
    alice.sidebar.button(key="share_add").click().run()
    assert access.role(folder, BOB) == access.READ
    assert any(BOB in m.value and "read-only" in m.value for m in alice.sidebar.markdown)

    bob = run(app(BOB, alice_id))  # read-only: sees the selection, changes it, and nothing is saved
    assert bob.session_state["selection"].tolist() == [5, 6, 7] and bob.session_state["_workspace_role"] == "read"
    assert any("Read-only" in i.value for i in bob.sidebar.info)
    saved = {name: (folder / name).read_bytes() for name in ("state.json", "selection.npy")}
    bob.session_state["selection"] = np.array([1])
    bob.run()
    bob.sidebar.button(key="sidebar_clear_selection").click().run()
    assert {name: (folder / name).read_bytes() for name in saved} == saved

    alice.sidebar.radio(key="share_mode").set_value("write")
    alice.sidebar.text_input(key="share_user").input(BOB)
    alice.sidebar.button(key="share_add").click().run()
    bob.session_state["selection"] = np.array([2, 3])
    bob.run()  # read-write now (checked on every run): saved
    assert bob.session_state["_workspace_role"] == "write"
    assert np.load(folder / "selection.npy").tolist() == [2, 3]

    alice.sidebar.button(key="share_remove_0").click().run()
    bob.run()  # no longer shared: the next run shows nothing of it
    assert "not shared with you" in bob.error[0].value and "selection" not in bob.session_state


def test_with_a_provider_that_does_not_verify_e_mail_a_workspace_is_shared_by_the_id_users_sign_in_as():
    """Issue 38: such a provider's users are `default:SUB`, and sharing by e-mail address was taken though it could
    never match."""
    alice = run(app(ALICE, verified=False))
    folder, alice_id = Path(alice.session_state["workdir"]), url_workspace(alice)
    sidebar = " ".join(c.value for c in alice.sidebar.caption)
    assert f"Your id here: `default:{ALICE}`" in sidebar and "default:SUB (SUB: the user's id" in sidebar
    alice.session_state["selection"] = np.array([5, 6, 7])
    alice.run()

    alice.sidebar.text_input(key="share_user").input(BOB)
    alice.sidebar.button(key="share_add").click().run()
    assert [e.value for e in alice.error] == [
        f"{BOB} cannot match anyone: no sign-in provider here verifies e-mail addresses, so users are known as "
        f"default:SUB (SUB: the user's id at their provider); use the id their sidebar shows under Signed in "
        f"(yours is default:{ALICE})."]
    assert access.read(folder)["shared"] == {}
    alice.sidebar.text_input(key="share_user").input(f"default:{BOB}")
    alice.sidebar.button(key="share_add").click().run()
    assert not alice.error and access.read(folder)["shared"] == {f"default:{BOB}": access.READ}

    bob = run(app(BOB, alice_id, verified=False))  # he opens it read-only: sees it, changes nothing
    assert bob.session_state["_workspace_role"] == "read" and bob.session_state["selection"].tolist() == [5, 6, 7]
    saved = {name: (folder / name).read_bytes() for name in ("state.json", "selection.npy", access.ACCESS_FILE)}
    bob.session_state["selection"] = np.array([1])
    bob.run()
    assert not bob.sidebar.text_input  # no sharing panel
    assert {name: (folder / name).read_bytes() for name in saved} == saved


def test_a_read_only_visitors_files_go_to_a_scratch_folder_of_their_own():
    alice = run(app(ALICE))
    folder = Path(alice.session_state["workdir"])
    access.share(folder, ALICE, BOB)
    bob = run(app(BOB, url_workspace(alice)))
    bob.switch_page("pages/extract.py").run()
    bob.button(key="extract_run").click().run()
    assert not bob.exception
    latents = Path(bob.session_state["latents"])
    assert latents.exists() and not latents.is_relative_to(folder) and latents.parts[-5] == "scratch"
    assert not (folder / "latents").exists() and json.loads((folder / "state.json").read_text())["latents"] is None


def test_a_users_share_of_the_disk_counts_every_workspace_they_own_and_no_one_elses(tmp_path, monkeypatch):
    deployment = tmp_path / "deployment.toml"
    deployment.write_text("[uploads]\nmax_user_bytes = 30000\n")
    monkeypatch.setenv("LATENT_EXPLORER_DEPLOYMENT", str(deployment))

    def upload(at, name, size):
        at.file_uploader(key="uploads").set_value([(name, b"x" * size, "application/octet-stream")]).run()
        assert not at.exception
        return [e.value for e in at.error]

    bob = run(app(BOB))
    assert upload(bob, "bob.npy", 25_000) == []  # Bob's files are not Alice's
    first = run(app(ALICE))
    assert upload(first, "one.npy", 12_000) == []
    second = run(app(ALICE))  # a workspace of her own again: the share is hers, over both
    assert url_workspace(second) != url_workspace(first)
    refused = upload(second, "two.npy", 20_000)
    taken = re.fullmatch(r"two.npy: 19.5 KB does not fit: your files here take ([\d.]+) KB of this server's 29.3 KB "
                         r"per user; not saved: ask the server's administrator for room \(.*\)", refused[0])
    assert 11.7 < float(taken[1]) < 15  # one.npy (11.7 KB) and her workspaces' own files, not Bob's 24.4 KB
    assert not list(Path(second.session_state["workdir"]).rglob("two.npy*"))
    assert upload(second, "three.npy", 10_000) == []


def test_a_workspace_made_in_single_user_mode_becomes_the_first_signed_in_openers():
    single = run(app())
    folder = Path(single.session_state["workdir"])
    assert access.read(folder)["owner"] is None
    alice = run(app(ALICE, url_workspace(single)))
    assert alice.session_state["_workspace_role"] == "owner" and access.read(folder)["owner"] == ALICE
    assert "not shared with you" in run(app(BOB, url_workspace(single))).error[0].value


def test_a_page_s_job_refuses_a_file_in_another_workspace_though_the_session_names_it(private_folders):
    """A session whose latents path leads into another workspace (as a tampered record or a page's bug could make it):
    the job refuses it before reading, and the page says so, naming the file."""
    from driving import extracted, new_app, run, texts

    owner = extracted(new_app())
    theirs = owner.session_state["latents"]
    other = new_app()
    other.session_state["latents"] = theirs
    other = run(other, "clusters", errors_ok=True)
    assert f"{Path(theirs).name}: outside the folders this session may read" in texts(other.error)
    assert not other.get("plotly_chart") and not other.get("download_button")
