"""The deployment's settings: what S3 a visitor may reach, with whose credentials, and how much they
may upload. One TOML file, named by the environment variable `LATENT_EXPLORER_DEPLOYMENT`:

    [s3]
    server_credentials = false      # true: every visitor uses the server's own AWS chain
    endpoint_url = "https://s3.example.org"   # optional; with server credentials the only endpoint
    allow = ["lab-data/shared", "lab-results"] # bucket or bucket/prefix; "*" = every bucket

    [uploads]
    max_file_bytes = 4_294_967_296  # per uploaded file
    max_files = 100                 # uploaded files per workspace
    max_user_bytes = 107_374_182_400  # every workspace of one user, uploads and S3 downloads counted
    min_free_bytes = 1_073_741_824  # an upload or S3 download never leaves the disk less free

    [users."alice@example.org".s3]  # a signed-in user (ui.session.visitor.user_id()): these keys
    allow = ["lab-data/alice"]      # replace the deployment's for them, one by one
    [users."alice@example.org".uploads]
    max_files = 500

Without the file (the variable unset) the defaults hold: no server credentials (each visitor
enters their own, kept in their session's memory only), no allow-list beyond what those reach, and
the upload limits below. `server_credentials = true` needs an `allow` list (`["*"]` for every
bucket the server reaches), so that lending the server's role is always a written decision. With
server credentials the endpoint is the deployment's (`endpoint_url`, else the environment's, as
`S3Settings.from_env`): a visitor cannot send the server's keys elsewhere.

    [sign_in]
    verified_email_providers = ["lab"]   # providers whose e-mail claims are verified: see below

A signed-in user is known by their e-mail address only when the provider says it verified it
(`email_verified` true in its claims), or when the provider is named in `verified_email_providers`
(its `[auth.NAME]` section's NAME, or "default" for the one in `[auth]` itself); otherwise by the
provider's name and their `sub` (ui.session.access.user_id).

The API: `policy(user)` (that user's `Policy`: `server_credentials`, `endpoint_url`, `access`,
`max_file_bytes`, `max_files`, `max_user_bytes`, `min_free_bytes`), `load(path)` (a file's `Deployment`),
`s3_settings(policy, given)` (the engine settings for a session's S3 calls, or None while it needs credentials).
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

from latentcore.errors import InputError
from latentcore.storage.s3 import S3Access, S3Settings

ENV = "LATENT_EXPLORER_DEPLOYMENT"
MAX_FILE_BYTES = 4 << 30  # as .streamlit/config.toml's server.maxUploadSize (4096 MB)
MAX_FILES = 100
MAX_USER_BYTES = 100 << 30  # a signed-in user's workspaces together (single-user mode: all of them)
MIN_FREE_BYTES = 1 << 30  # room the server keeps for everyone's results
S3_KEYS = {"server_credentials": bool, "endpoint_url": str, "allow": list}
UPLOAD_KEYS = {"max_file_bytes": int, "max_files": int, "max_user_bytes": int, "min_free_bytes": int}
SIGN_IN_KEYS = {"verified_email_providers": list}


@dataclasses.dataclass(frozen=True)
class Policy:
    """What one visitor may do."""

    server_credentials: bool = False
    endpoint_url: str | None = None
    access: S3Access | None = None  # None: no allow-list (their own credentials are the limit)
    max_file_bytes: int = MAX_FILE_BYTES
    max_files: int = MAX_FILES
    max_user_bytes: int = MAX_USER_BYTES
    min_free_bytes: int = MIN_FREE_BYTES


@dataclasses.dataclass(frozen=True)
class Deployment:
    default: Policy
    users: dict  # user id -> Policy
    verified_email_providers: tuple = ()  # sign-in providers whose e-mail claims are verified

    def policy(self, user: str | None) -> Policy:
        return self.users.get(user, self.default) if user is not None else self.default


def _section(table, name: str, keys: dict, where: str) -> dict:
    section = table.get(name, {})
    if not isinstance(section, dict):
        raise InputError(f"[{name}] must be a table: write its settings under a [{name}] line", where)
    for key, value in section.items():
        if key not in keys:
            raise InputError(f"[{name}] has no setting {key!r}: use one of {', '.join(keys)}", where)
        if not isinstance(value, keys[key]) or (keys[key] is int and isinstance(value, bool)):
            raise InputError(f"[{name}] {key} must be a {keys[key].__name__}: correct its value", where)
        if keys[key] is int and value < 0:
            raise InputError(f"[{name}] {key} must not be negative: set 0 or more", where)
    return section


def _policy(s3: dict, uploads: dict, where: str, label: str) -> Policy:
    allow = s3.get("allow")
    server = s3.get("server_credentials", False)
    if server and allow is None:
        raise InputError(f"{label}server_credentials = true needs an allow list: set allow = [\"*\"] for every "
                         "bucket the server reaches, or list them", where)
    try:
        access = None if allow is None else S3Access(tuple(allow))
    except InputError as exc:
        raise InputError(f"{label}allow: {exc}", where) from None
    return Policy(server_credentials=server, endpoint_url=s3.get("endpoint_url") or None, access=access,
                  max_file_bytes=uploads.get("max_file_bytes", MAX_FILE_BYTES),
                  max_files=uploads.get("max_files", MAX_FILES),
                  max_user_bytes=uploads.get("max_user_bytes", MAX_USER_BYTES),
                  min_free_bytes=uploads.get("min_free_bytes", MIN_FREE_BYTES))


def load(path) -> Deployment:
    """Read and check a deployment file; a mistake raises an InputError naming the file and the key."""
    where = str(path)
    try:
        table = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read the deployment settings ({exc.strerror or exc}): check the file's path and "
                         "permissions", where) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: correct the line it names ({exc})", where) from None
    unknown = set(table) - {"s3", "uploads", "users", "sign_in"}
    if unknown:
        raise InputError(f"unknown section(s) {', '.join(sorted(unknown))}: use s3, uploads, users or sign_in",
                         where)
    verified = _section(table, "sign_in", SIGN_IN_KEYS, where).get("verified_email_providers", [])
    if not all(isinstance(name, str) and name for name in verified):
        raise InputError("[sign_in] verified_email_providers must list provider names: write [\"default\", ...]",
                         where)
    s3, uploads = _section(table, "s3", S3_KEYS, where), _section(table, "uploads", UPLOAD_KEYS, where)
    users = {}
    for user, entry in (table.get("users") or {}).items():
        if not isinstance(entry, dict) or set(entry) - {"s3", "uploads"}:
            raise InputError(f"[users.{user!r}] holds only the tables s3 and uploads: move other settings out", where)
        users[user] = _policy({**s3, **_section(entry, "s3", S3_KEYS, where)},
                              {**uploads, **_section(entry, "uploads", UPLOAD_KEYS, where)},
                              where, f"[users.{user!r}] ")
    return Deployment(_policy(s3, uploads, where, ""), users, tuple(verified))


def deployment() -> Deployment:
    """The deployment named by the environment (read at each call: a small file; edits apply at once)."""
    path = os.environ.get(ENV)
    return load(path) if path else Deployment(Policy(), {})


def policy(user: str | None) -> Policy:
    """The policy of signed-in `user` (ui.session.visitor.user_id()): their entry, else the deployment's."""
    return deployment().policy(user)


def s3_settings(current: Policy, given: dict | None) -> S3Settings | None:
    """The engine's settings for a session's S3 calls under policy `current`: the allow-list, and
    the credentials the user `given` (ui.session.files.s3_credentials(): with their endpoint, else
    the deployment's) when they gave them, else the server's where the deployment lends them (with
    its endpoint); None when the session must first enter credentials."""
    if given is not None:
        return S3Settings.from_env(given["endpoint"] or current.endpoint_url, access=current.access,
                                   credentials=given["credentials"], server_credentials=False)
    if current.server_credentials:
        return S3Settings.from_env(current.endpoint_url, access=current.access)
    return None
