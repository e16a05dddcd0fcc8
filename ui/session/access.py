"""Who may open a workspace, and whether this server may serve anyone but its own computer.

With sign-in configured (Streamlit's OpenID Connect, `[auth]` in `.streamlit/secrets.toml`), every
workspace has an owner: the signed-in user who made it. `access.json` in the workspace's folder holds
`{"owner": USER, "shared": {USER: "read" | "write"}}`, users named by the id `ui.session.state.user_id`
gives (their e-mail, lower case, or their `sub`). The owner opens it; a user it is shared with opens
it read-only ("read": they can look, nothing they do is written back) or read-write ("write": as the
owner, except sharing); anyone else is refused. A workspace without an owner (made in single-user
mode) becomes the workspace of the first signed-in user who opens its link, as links worked before.

Without sign-in the app is in single-user mode: no owners are checked, and it serves only this
computer (`refusal`): a server listening on another address, or reached by another host, is refused
unless `LATENT_EXPLORER_ALLOW_REMOTE=1`.

Plain files and strings: no Streamlit here (ui.session.state reads the session and calls these).
"""
from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

from latentcore.errors import InputError

ACCESS_FILE = "access.json"
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
    target = Path(workspace) / ACCESS_FILE
    tmp = target.with_name(ACCESS_FILE + ".partial")
    tmp.write_text(json.dumps(record, sort_keys=True, indent=1))
    os.replace(tmp, target)


def claim(workspace: Path, user: str):
    """Make `user` the owner of a workspace that has none (a new one, or one made in single-user mode)."""
    record = read(workspace)
    if record["owner"] is None:
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
    record = read(workspace)
    if not owner or record["owner"] != owner:
        raise PermissionError("only the workspace's owner shares it")
    if not user or user == owner:
        raise InputError("name another user to share with")
    record["shared"][user] = mode
    _write(workspace, record)


def unshare(workspace: Path, owner: str, user: str):
    record = read(workspace)
    if not owner or record["owner"] != owner:
        raise PermissionError("only the workspace's owner shares it")
    record["shared"].pop(normalise_user(user), None)
    _write(workspace, record)


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
    """A user as named in access.json: trimmed, and lower case when it is an e-mail address."""
    value = str(value or "").strip()
    return value.lower() if "@" in value else value


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
