"""Who may open a workspace, and whether this server may serve anyone but its own computer.

With sign-in configured (Streamlit's OpenID Connect, `[auth]` in `.streamlit/secrets.toml`), every
workspace has an owner: the signed-in user who made it. `access.json` in the workspace's folder holds
`{"owner": USER, "shared": {USER: "read" | "write"}}`, users named by the id `ui.session.visitor.user_id`
gives (their e-mail, lower case, where their provider verified it; else `PROVIDER:SUB`). The owner opens
it; a user it is shared with opens it read-only ("read": they can look, nothing they do is written back)
or read-write ("write": as the owner, except sharing); anyone else is refused. The owner shares by that
id (`share_target`): a name no sign-in here can give (an e-mail address while no provider here vouches
for e-mails, a provider this server does not have) is refused in one line. A workspace without an owner
(made in single-user mode) becomes the workspace of the first signed-in user who opens its link, as
links worked before.

Without sign-in the app is in single-user mode: no owners are checked, and it serves only this
computer (`refusal`): a server listening on another address, or reached by another host, is refused
unless `LATENT_EXPLORER_ALLOW_REMOTE=1`.

Plain files and strings: no Streamlit here (ui.session.state reads the session and calls these).
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
from pathlib import Path

from latentcore.errors import InputError

from .workspace import locked

ACCESS_FILE = "access.json"
VOUCHING_FILE = "email_providers.json"  # in the workspaces' root: the providers seen verifying an e-mail
EMAIL = re.compile(r"[^@\s:]+@[^@\s:]+")
OWNER, READ, WRITE = "owner", "read", "write"
MODES = (READ, WRITE)
ALLOW_REMOTE = "LATENT_EXPLORER_ALLOW_REMOTE"


def read(workspace: Path) -> dict:
    """{"owner": USER or None, "shared": {USER: "read" | "write"}}; an unreadable file reads as no owner."""
    try:
        record = json.loads((Path(workspace) / ACCESS_FILE).read_text())
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict):
        record = {}
    owner = record.get("owner") if isinstance(record.get("owner"), str) and record.get("owner") else None
    shared = record.get("shared") if isinstance(record.get("shared"), dict) else {}
    return {"owner": owner, "shared": {str(u): m for u, m in shared.items() if m in MODES and u != owner}}


def _write(workspace: Path, record: dict):
    """Only under the workspace's lock (`locked`)."""
    target = Path(workspace) / ACCESS_FILE
    tmp = target.with_name(ACCESS_FILE + ".partial")
    tmp.write_text(json.dumps(record, sort_keys=True, indent=1))
    os.replace(tmp, target)


def owned(root: Path, user: str | None) -> list[Path]:
    """The workspaces under `root` that `user` owns (single-user mode, `user` None: every one)."""
    base = Path(root) / "workspaces"
    return [path for path in (base.iterdir() if base.is_dir() else [])
            if path.is_dir() and (user is None or read(path)["owner"] == user)]


def claim(workspace: Path, user: str):
    """Make `user` the owner of a workspace that has none (a new one, or one made in single-user mode)."""
    if read(workspace)["owner"] is not None:
        return  # every signed-in opener claims: an owned workspace's visitor writes nothing, not even the lock
    with locked(workspace):
        if read(workspace)["owner"] is None:
            _write(workspace, {"owner": user, "shared": {}})


def role(workspace: Path, user: str | None) -> str | None:
    """What `user` may do in the workspace: "owner", "write", "read", or None (not theirs, not shared).
    `user` None is single-user mode: the one user owns everything."""
    if user is None:
        return OWNER
    record = read(workspace)
    if record["owner"] == user:
        return OWNER
    return record["shared"].get(user)


def share(workspace: Path, owner: str, user: str, mode: str = READ):
    """The owner shares the workspace with `user`, read-only ("read") or read-write ("write")."""
    user = normalise_user(user)
    if mode not in MODES:
        raise ValueError(f"share mode {mode!r} is not one of {MODES}")
    with _changed_by(owner, workspace) as shared:
        if not user or user == owner:
            raise InputError("name another user to share with")
        shared[user] = mode


def unshare(workspace: Path, owner: str, user: str):
    with _changed_by(owner, workspace) as shared:
        shared.pop(normalise_user(user), None)


@contextlib.contextmanager
def _changed_by(owner: str, workspace: Path):
    """The workspace's sharing ({USER: mode}), changed by its owner alone and written back, under the workspace's
    lock: two tabs sharing at once each change what the other wrote."""
    with locked(workspace):
        record = read(workspace)
        if not owner or record["owner"] != owner:
            raise PermissionError("only the workspace's owner shares it")
        yield record["shared"]
        _write(workspace, record)


def share_target(name, providers, email_providers, owner: str | None = None) -> str:
    """The id to share with for `name` as the owner typed it: `PROVIDER:SUB` of one of this server's sign-in
    `providers`, or an e-mail address (lower case) where one of them vouches for e-mails (`email_providers`:
    trusted by the deployment, or seen verifying one: `vouching_providers`). InputError in one line for a name
    no sign-in here can ever give: saying the forms users sign in as, and `owner`'s own id as an example."""
    name = normalise_user(name)
    provider, prefixed, sub = name.partition(":")
    if (prefixed and provider in providers and sub.strip()) or (EMAIL.fullmatch(name) and email_providers):
        return name
    forms = identity_forms(providers, email_providers)
    if not name:
        raise InputError(f"Name the user to share with: users sign in here as {forms}.")
    why = ("no sign-in provider here verifies e-mail addresses, so users are known as" if EMAIL.fullmatch(name) else
           "users sign in here as")
    yours = f" (yours is {owner})" if owner else ""
    raise InputError(f"{name} cannot match anyone: {why} {forms}; use the id their sidebar shows under "
                     f"Signed in{yours}.")


def identity_forms(providers, email_providers) -> str:
    """The forms of the ids users sign in as on this server, in words."""
    prefixed = " or ".join(f"{provider}:SUB" for provider in providers)
    if not email_providers:
        return f"{prefixed} (SUB: the user's id at their provider)"
    return (f"their e-mail address (signing in with {', '.join(sorted(email_providers))}, which verifies it) or "
            f"{prefixed} (SUB: the user's id at their provider)")


def note_sign_in(root: Path, claims, verified_email_providers=()):
    """Remember the provider of this sign-in when it vouched for the user's e-mail (`user_id` gave the e-mail):
    its users can then be shared with by e-mail address (`vouching_providers`)."""
    provider = str(claims.get("provider") or "default")
    if provider in vouching_providers(root) or not EMAIL.fullmatch(user_id(claims, verified_email_providers) or ""):
        return
    Path(root).mkdir(parents=True, exist_ok=True)
    with locked(root):  # two sign-ins at once each add theirs to what the other wrote
        target, tmp = Path(root) / VOUCHING_FILE, Path(root) / f"{VOUCHING_FILE}.partial"
        tmp.write_text(json.dumps(sorted(vouching_providers(root) | {provider})))
        os.replace(tmp, target)


def vouching_providers(root: Path) -> set[str]:
    """The sign-in providers seen verifying a user's e-mail on this server (`note_sign_in`)."""
    try:
        found = json.loads((Path(root) / VOUCHING_FILE).read_text())
    except (OSError, ValueError):
        return set()
    return {name for name in found if isinstance(name, str)} if isinstance(found, list) else set()


def user_id(claims, verified_email_providers=()) -> str | None:
    """A signed-in user's stable id from their sign-in claims (`provider` names the sign-in section):
    their e-mail address (lower case) when the provider verified it (`email_verified` true) or, saying
    nothing, is trusted to (named in `verified_email_providers`), else `PROVIDER:SUB`, which no e-mail address
    in access.json can equal; None without either. An unverified e-mail claim could name anyone."""
    provider = str(claims.get("provider") or "default")
    email = claims.get("email")
    said = claims.get("email_verified")
    verified = said in (True, "true") or (said is None and provider in verified_email_providers)
    if email and verified:
        return normalise_user(email)
    sub = claims.get("sub")
    return f"{provider}:{sub}" if sub else None


def normalise_user(value) -> str:
    """A user as named in access.json: trimmed, and lower case when it is an e-mail address (a `PROVIDER:SUB`
    keeps its case: a provider's ids may differ in case alone)."""
    value = str(value or "").strip()
    return value.lower() if EMAIL.fullmatch(value) else value


# -- single-user mode serves this computer only ----------------------------------------------------

def is_loopback(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (a port or IPv6 brackets may be attached), and for
    127.0.0.0/8 written as IPv4-mapped IPv6 (::ffff:127.0.0.1: how a server listening on both
    families sees an IPv4 visitor)."""
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


def remote_allowed(environ=os.environ) -> bool:
    """`LATENT_EXPLORER_ALLOW_REMOTE=1`: single-user mode serves other computers too."""
    return environ.get(ALLOW_REMOTE, "").strip().lower() in ("1", "true", "yes")


def refusal(address: str | None, host: str | None, client_ip: str | None, environ=os.environ) -> str | None:
    """Why single-user mode refuses to serve (one line), or None. Refused: a server listening on a
    non-loopback address (`server.address`); one listening on every interface (no address set) when it
    was reached by a non-loopback host name (the Host header) or from a non-loopback client address.
    `LATENT_EXPLORER_ALLOW_REMOTE=1` serves anyway."""
    if remote_allowed(environ):
        return None
    if address and not is_loopback(address):
        reason = f"it listens on {address}"
    elif not address and host and not is_loopback(host):
        reason = f"it was reached as {host}"
    elif not address and client_ip and not is_loopback(client_ip):
        reason = f"it was reached from {client_ip}"
    else:
        return None
    return (f"Latent Explorer is in single-user mode (no sign-in configured) and serves only this computer, but "
            f"{reason}: configure sign-in ([auth] in .streamlit/secrets.toml), listen on 127.0.0.1, or set "
            f"{ALLOW_REMOTE}=1.")
