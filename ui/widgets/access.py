"""Sign-in and sharing: the page shown instead of the app (`gate`: the sign-in page, or single-user
mode's refusal to serve another computer), the page shown when the URL names a workspace that cannot
open (`blocked_page`), and the sidebar's account panel (who is signed in, single-user mode, a
read-only notice, and the owner's sharing controls). The rules are ui.session.access's.

The door every page goes through (`through_app`, `require_app`): until a run of app.py has called
`st.navigation`, Streamlit serves a URL such as /data by running pages/data.py alone, as its older
multipage apps did with a `pages/` folder, without app.py's gate, session and workspace. Each page's
first call, `require_app()`, sends such a run back through app.py, so that no page runs without it."""
from __future__ import annotations

import contextlib
import threading

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from latentcore.errors import InputError

from ..session import access, lifecycle, visitor
from ..session.workspace import is_valid_id
from . import common

MODE_LABELS = {access.READ: "read-only", access.WRITE: "read-write"}
_this_run = threading.local()  # a page runs in the thread of the script run that started it


@contextlib.contextmanager
def through_app():
    """app.py runs the page inside this block, after its gate, session and workspace."""
    _this_run.inside_app = True
    try:
        yield
    finally:
        _this_run.inside_app = False


def require_app():
    """Every page's first call: a page run without app.py (a page URL opened before any run of app.py)
    draws nothing and runs again through app.py, from then on for every visitor (Streamlit's pages
    folder is read only until the first `st.navigation`, which this does for it)."""
    if not getattr(_this_run, "inside_app", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def gate():
    """The page to show instead of the whole app (a function for st.Page), or None when this visitor
    may use the app: with sign-in configured, the sign-in page until they are signed in; without it,
    the refusal when this server is reached from, or listens on, another computer's address."""
    if visitor.auth_configured():
        return None if visitor.signed_in() else sign_in_page
    return refusal_page if visitor.remote_refusal() else None


def sign_in_page():
    st.title("Latent Explorer")
    if st.user.get("is_logged_in", False):  # signed in, but the provider gave neither e-mail nor sub
        st.error("Your sign-in gave no e-mail address or user id: this server cannot tell whose workspaces "
                 "are yours.", icon=":material/error:")
        st.button("Sign out", on_click=st.logout, key="auth_sign_out")
        return
    st.markdown("This server is shared: sign in to see your workspaces.")
    for provider in visitor.sign_in_providers():
        label = "Sign in" if provider is None else f"Sign in with {provider}"
        st.button(label, on_click=st.login, args=() if provider is None else (provider,), type="primary",
                  key=f"auth_sign_in_{provider or 'default'}", icon=":material/login:")


def refusal_page():
    st.title("Latent Explorer")
    st.error(visitor.remote_refusal(), icon=":material/block:")


def blocked_page():
    """One line on why the workspace the URL names does not open, and a button for a new one."""
    st.title("Latent Explorer")
    stuck = lifecycle.blocked()
    named = f"Workspace `{stuck['id']}`" if is_valid_id(stuck["id"]) else "The workspace in this link"
    if stuck["why"] == "denied":
        st.error(f"{named} is another user's and is not shared with you (signed in as {visitor.user_id()}): ask "
                 "its owner to share it.", icon=":material/lock:")
    else:
        st.error(f"{named} does not exist or has expired.", icon=":material/error:")
    st.button("Start a new workspace", on_click=lifecycle.start_new_workspace, type="primary",
              key="workspace_start_new", icon=":material/add:")
    if visitor.signed_in():
        st.button("Sign out", on_click=st.logout, key="auth_sign_out")


def account_sidebar():
    """Single-user mode, or who is signed in (with a sign-out button), a read-only notice, and the
    owner's sharing panel."""
    with st.sidebar:
        if not visitor.signed_in():
            st.caption("Single-user mode: no sign-in configured, " + (
                f"and {access.ALLOW_REMOTE} is set: anyone who reaches this server opens any workspace link."
                if access.remote_allowed() else "so this server serves only this computer.")
                + " (docs/deployment.md: Sign-in and sharing)")
            return
        st.markdown(f"**Signed in:** {common.plain(visitor.user_name())}")
        st.caption(f"Your id here: `{visitor.user_id()}` (a workspace is shared with you by it).")
        role = visitor.workspace_role()
        if role == access.OWNER:
            sharing_panel()
        else:
            owner = visitor.workspace_access()["owner"]
            if role == access.READ:
                st.info(f"Read-only: {owner} shared this workspace with you. You can look around; nothing you "
                        "change (selection, settings, uploads, latents) is saved.", icon=":material/visibility:")
            else:
                st.caption(f"{owner} shared this workspace with you, read-write.")
        st.button("Sign out", on_click=st.logout, key="auth_sign_out", icon=":material/logout:")


def sharing_panel():
    """The owner shares this workspace's link with named users, read-only or read-write, each named by the id
    they sign in as (a name no sign-in here can give is refused in one line)."""
    with st.expander("Share this workspace", icon=":material/share:"):
        st.caption("People named here open this workspace's link once signed in; nobody else can. Name each by "
                   f"the id they sign in as, which their sidebar shows: {visitor.identity_forms()}.")
        user = st.text_input("User id", key="share_user")
        mode = st.radio("Access", list(MODE_LABELS), format_func=MODE_LABELS.get, horizontal=True,
                        key="share_mode")
        if st.button("Share", key="share_add", icon=":material/person_add:"):
            try:
                visitor.share_workspace(user, mode)
            except (InputError, PermissionError) as exc:
                st.error(str(exc), icon=":material/person_off:")
        shared = visitor.workspace_access()["shared"]
        for n, (name, how) in enumerate(sorted(shared.items())):
            st.markdown(f"{common.plain(name)}: {MODE_LABELS[how]}")
            if st.button("Stop sharing", key=f"share_remove_{n}", help=f"Stop sharing with {common.plain(name)}",
                         icon=":material/person_remove:"):
                visitor.unshare_workspace(name)
                st.rerun()
        if not shared:
            st.caption("Not shared with anyone.")
