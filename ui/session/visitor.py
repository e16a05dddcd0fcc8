"""Who this session's visitor is and what they may do (ui.session.access has the rules): `auth_configured` (an
`[auth]` section in the secrets: sign-in with Streamlit's OpenID Connect), `user_id` (the signed-in user's stable
id, None in single-user mode), `workspace_role` ("owner", "write" or "read"), `read_only` (nothing is written back
to the workspace: what a read-only visitor makes goes to a scratch folder of their own), `remote_refusal`
(single-user mode serves only this computer); and the owner's sharing of the open workspace."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import streamlit as st

from . import access, deployment, store, workspace


def auth_configured() -> bool:
    """True when the secrets hold an `[auth]` section: visitors sign in (st.login) before anything runs."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all  # noqa: BLE001
        return False


def user_id() -> str | None:
    """The signed-in user's stable id (ui.session.access.user_id: their e-mail address where it is
    verified); None in single-user mode (and before sign-in)."""
    if not auth_configured() or not st.user.get("is_logged_in", False):
        return None
    return access.user_id(st.user, deployment.deployment().verified_email_providers)


def signed_in() -> bool:
    """Signed in, with an id (a provider that gives neither e-mail nor sub signs nobody in)."""
    return user_id() is not None


def user_name() -> str:
    """How to greet the signed-in user: their name, else their id."""
    return str(st.user.get("name") or user_id() or "")


def remote_refusal() -> str | None:
    """In single-user mode, why this server must not serve this visitor (one line), else None."""
    if auth_configured():
        return None
    host = st.context.headers.get("Host") if st.context.headers else None
    if not host and st.context.url:
        host = urlparse(st.context.url).netloc or None
    return access.refusal(st.get_option("server.address"), host, st.context.ip_address)


def workspace_role() -> str | None:
    """"owner", "write" or "read" (ui.session.access); single-user mode: "owner"."""
    return store.get(store.ROLE)


def read_only() -> bool:
    """A read-only visitor: the selection, settings, uploads and latents are not written back."""
    return store.get(store.ROLE) == access.READ


def workspace_access() -> dict:
    """{"owner", "shared": {user: "read" | "write"}} of the open workspace."""
    return access.read(_open_workspace())


def share_workspace(user: str, mode: str = access.READ):
    """The owner shares the open workspace with `user`: "read" (read-only) or "write" (read-write). `user` is
    named as this server knows its users (`access.share_target`: ValueError in one line for a name no sign-in
    here can give)."""
    target = access.share_target(user, sign_in_names(), email_providers(), user_id())
    access.share(_open_workspace(), user_id(), target, mode)


def unshare_workspace(user: str):
    access.unshare(_open_workspace(), user_id(), user)


def _open_workspace() -> Path:
    return Path(store.get(store.WORKDIR))


def sign_in_names() -> list[str]:
    """The names of the sign-in providers as user ids carry them (`PROVIDER:SUB`): "default" for `[auth]` itself."""
    return [provider or "default" for provider in sign_in_providers()]


def email_providers() -> set[str]:
    """The sign-in providers whose users are known by e-mail address: trusted by the deployment, or seen
    verifying one (ui.session.access.vouching_providers)."""
    trusted = set(deployment.deployment().verified_email_providers) | access.vouching_providers(workspace.WORKDIR_ROOT)
    return trusted & set(sign_in_names())


def identity_forms() -> str:
    """The forms of the ids users sign in as here, in words (the sharing panel says them)."""
    return access.identity_forms(sign_in_names(), email_providers())


def sign_in_providers() -> list[str | None]:
    """The providers of the `[auth]` section: None for one given in `[auth]` itself, else the names of
    its `[auth.NAME]` sections (st.login(NAME))."""
    section = st.secrets.get("auth", {})
    named = [name for name, value in section.items() if hasattr(value, "keys")]
    return ([None] if "client_id" in section or not named else []) + named
