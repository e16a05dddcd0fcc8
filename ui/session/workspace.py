"""Workspaces: a session's work lives in a folder named in the URL (`?workspace=<id>`), so a reload
or a shared link restores the data, models, latents, selection and page settings.

The id is 22 random URL-safe characters (128 bits, `secrets.token_urlsafe`): it cannot be guessed,
and only ids of exactly that form are looked up, so a URL cannot name a path. A restored file path
is kept only when it lies inside the workspace's own folder or the built-in demo folder; anything
else in a tampered `state.json` is dropped. The band contrast may also be the scan's own map
(`scan:<map name>`): a name, not a path, kept when it is a plain map name (`bandcontrast_spec`).
Workspaces not used for `LATENT_EXPLORER_WORKSPACE_DAYS` days (default 7) are deleted when a new one
is made, and so are the scratch folders of read-only visitors (`scratch`: what they make while looking
at a workspace shared read-only with them). Who may open a workspace is in its `access.json`
(ui.session.access).

Several sessions (browser tabs) may hold one workspace: a write saves one session's changes, never its
whole copy. A session keeps the `Snapshot` it last read or wrote (its base); `sync` takes the
workspace's lock (`workspace.lock`, fcntl.flock), reads the current files when another session wrote
since (state.json's `revision` counts the writes), applies what changed from the base to the
session's state on top (`merge`: per key, per model, per file, per setting, per labelled row; the
selection whole) and writes the result under temporary names, then renames. Readers take the lock
shared, once a first write has made its file (`consistent`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from latentcore.analysis.labels.labelled import LabelledRows, empty_labels, merged_changes
from latentcore.data.bandcontrast import scan_map_name
from latentcore.demo import DEMO_SCAN

from .settings import SAVED

# the folder every workspace, scratch folder and the worker pool's jobs live in (one per server)
WORKDIR_ROOT = Path(os.environ.get("LATENT_EXPLORER_WORKDIR", Path(tempfile.gettempdir()) / "latent-explorer"))
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
STATE_FILE, SELECTION_FILE = "state.json", "selection.npy"
LABELS_FILE = "labels.npz"  # the labels: `rows`, `y` (index into `classes`), `classes`, `digest`
LOCK_FILE = "workspace.lock"  # held (flock) while a session reads and writes the files above
VALUES = ("source", "bandcontrast", "latents", "latents_model", "labels_latents")  # the record's single values
COLLECTIONS = ("models", "files", "settings")  # the record's dicts, merged key by key
STALE = -1  # a base revision no workspace has: the next sync reads the files
MAX_AGE_DAYS = float(os.environ.get("LATENT_EXPLORER_WORKSPACE_DAYS", 7))
PATH_KEYS = ("source", "latents", "labels_latents")
# a scan map's name (Oxford "Band Contrast", EDAX "IQ"...): printable, no path separator, not "." or ".."
MAP_NAME = re.compile(r"(?!\.\.?$)[^/\\\x00-\x1f\x7f]{0,100}")


def new_id() -> str:
    return secrets.token_urlsafe(16)


def is_valid_id(value) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def folder(root: Path, workspace_id: str) -> Path:
    if not is_valid_id(workspace_id):
        raise ValueError(f"workspace id {workspace_id!r} is not 22 URL-safe characters")
    return Path(root) / "workspaces" / workspace_id


def create(root: Path) -> tuple[str, Path]:
    remove_old(root)
    workspace_id = new_id()
    path = folder(root, workspace_id)
    path.mkdir(parents=True)
    return workspace_id, path


def scratch(root: Path) -> Path:
    """A new private folder outside every workspace (a read-only visitor's uploads and results)."""
    path = Path(root) / "scratch" / new_id()
    path.mkdir(parents=True)
    return path


def is_setting(key) -> bool:
    """A widget key some page declares it saves (`ui.session.settings`)."""
    return isinstance(key, str) and key in SAVED.keys


def _plain(value):
    """JSON-safe widget values (tuples from range sliders become lists; numpy scalars plain)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (str, int, float, bool)) or value is None else None


def settings_of(session: dict) -> dict:
    return {k: _plain(v) for k, v in session.items() if is_setting(k) and _plain(v) is not None}


def confined(path, workspace: Path) -> str | None:
    """The path when it lies inside the workspace or the built-in demo folder, else None."""
    if not path:
        return None
    resolved = Path(path).resolve()
    allowed = (Path(workspace).resolve(), DEMO_SCAN.parent.resolve())
    return str(resolved) if any(resolved.is_relative_to(root) for root in allowed) else None


def bandcontrast_spec(spec, workspace: Path) -> str | None:
    """A restored band-contrast choice: `scan:<map name>` when the name is a plain map name (it is looked
    up among the scan's own maps, never opened as a file), else a table's path confined like any other."""
    if not isinstance(spec, str):
        return None
    name = scan_map_name(spec)
    if name is not None:
        return spec if MAP_NAME.fullmatch(name) else None
    return confined(spec, workspace)


@dataclasses.dataclass
class Snapshot:
    """A workspace's saved state as a session saw it: `record` (VALUES and COLLECTIONS, as `load` checks them),
    the selection, the labels, and the `revision` (state.json's count of writes) it was read or written at."""

    record: dict
    selection: np.ndarray
    labels: LabelledRows
    revision: int = 0

    @classmethod
    def empty(cls) -> Snapshot:
        """A new workspace's: nothing saved yet."""
        return cls(_checked({}, Path(".")), np.empty(0, np.int64), empty_labels())

    def same_as(self, other: Snapshot) -> bool:
        return (self.record == other.record and np.array_equal(self.selection, other.selection)
                and same_labels(self.labels, other.labels))


def same_labels(one: LabelledRows, other: LabelledRows) -> bool:
    return one is other or one.digest() == other.digest()  # the same object: no hashing a million rows


@contextlib.contextmanager
def locked(workspace: Path, write: bool = True):
    """The workspace's lock: a writer holds it alone (threads of one server or several processes), readers
    together (only once the lock file exists: `consistent`)."""
    with open(Path(workspace) / LOCK_FILE, "a" if write else "r") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def consistent(workspace: Path, reading):
    """`reading()` of the workspace's files, never a half-written set. A reader never makes the lock file (a
    read-only visitor writes nothing): without one (never written) it reads unlocked, and again under the lock if
    the file appeared meanwhile (a first write began, and may have been half done)."""
    lock = Path(workspace) / LOCK_FILE
    if not lock.exists():
        value = reading()
        if not lock.exists():
            return value
    with locked(workspace, write=False):
        return reading()


def revision(workspace: Path) -> int:
    """How many times the workspace was written (0: never, or state.json unreadable)."""
    return _revision(_read_record(Path(workspace)))


def read(workspace: Path) -> Snapshot:
    """The workspace's current state (no half-written set of files)."""
    return consistent(workspace, lambda: _read(Path(workspace)))


def _read(workspace: Path) -> Snapshot:
    record, selection = load(workspace)
    saved = load_labels(workspace)
    labels = LabelledRows.from_codes(*saved) if saved is not None else empty_labels()
    return Snapshot({key: record[key] for key in VALUES + COLLECTIONS}, selection, labels, record["revision"])


def normalised(snapshot: Snapshot, workspace: Path) -> Snapshot:
    """A session's state as the workspace would give it back (JSON values, paths checked and resolved), so
    that comparing it with what was read says what the session changed, not how it spells a path."""
    record = _checked(json.loads(json.dumps(snapshot.record)), Path(workspace))
    return Snapshot({key: record[key] for key in VALUES + COLLECTIONS}, np.asarray(snapshot.selection, np.int64),
                    snapshot.labels, snapshot.revision)


def merge(base: Snapshot, mine: Snapshot, theirs: Snapshot) -> Snapshot:
    """`theirs` (the workspace now) with what `mine` changed from `base` (what that session last saw): a value,
    model, setting or file `mine` left as it was comes from `theirs`; labels row by row; the selection whole."""
    values = [{key: snapshot.record[key] for key in VALUES} for snapshot in (base, mine, theirs)]
    record = _merged_dict(*values)
    for key in ("models", "settings"):
        record[key] = _merged_dict(base.record[key], mine.record[key], theirs.record[key])
    record["files"] = _merged_files(base.record["files"], mine.record["files"], theirs.record["files"])
    selection = theirs.selection if np.array_equal(mine.selection, base.selection) else mine.selection
    if same_labels(mine.labels, base.labels):
        labels = theirs.labels
    elif same_labels(theirs.labels, base.labels):
        labels = mine.labels  # nobody else changed them
    else:
        labels = merged_changes(base.labels, mine.labels, theirs.labels)
    return Snapshot(record, selection, labels, theirs.revision)


def _merged_dict(base: dict, mine: dict, theirs: dict) -> dict:
    merged = dict(theirs)
    for key in base.keys() | mine.keys():
        if key not in mine:
            merged.pop(key, None)  # removed by this session
        elif key not in base or base[key] != mine[key]:
            merged[key] = mine[key]
    return merged


def _merged_files(base: dict, mine: dict, theirs: dict) -> dict:
    """kind -> paths: the paths this session added or removed, kept in the others' order."""
    base, mine, theirs = ({kind: dict.fromkeys(paths, True) for kind, paths in files.items()}
                          for files in (base, mine, theirs))
    kinds = _merged_dict(base, mine, theirs)
    return {kind: list(_merged_dict(base.get(kind, {}), mine.get(kind, {}), theirs.get(kind, {})))
            for kind in kinds}


def sync(workspace: Path, base: Snapshot, mine: Snapshot, write: bool = True) -> tuple[Snapshot, Snapshot]:
    """Under the workspace's lock: (merged, theirs), `merged` being the current state (`theirs`: read again
    only when another session wrote since `base`) with this session's changes from `base` to `mine` (as
    `normalised` gives it); written, with the next revision, when `write` and it changes anything."""
    workspace = Path(workspace)

    def current() -> Snapshot:
        return base if revision(workspace) == base.revision else _read(workspace)

    if not write:
        theirs = consistent(workspace, current)
        return merge(base, mine, theirs), theirs
    with locked(workspace):
        theirs = current()
        merged = merge(base, mine, theirs)
        if not merged.same_as(theirs):
            merged.revision = theirs.revision + 1
            save(workspace, {**merged.record, "revision": merged.revision}, merged.selection)
            save_labels(workspace, merged.labels.rows, merged.labels.y, merged.labels.classes,
                        merged.labels.digest())
        os.utime(workspace)  # last use, for the clean-up by age
    return merged, theirs


def save(workspace: Path, record: dict, selection: np.ndarray):
    """Write selection.npy, then state.json (whose revision says a write ended), under temporary names, then
    rename. Only `sync` calls it, holding the lock."""
    workspace = Path(workspace)
    selection = np.asarray(selection, np.int64)
    target = workspace / SELECTION_FILE
    if not target.exists() or not np.array_equal(np.load(target, allow_pickle=False), selection):
        tmp = target.with_name("selection.partial.npy")
        np.save(tmp, selection, allow_pickle=False)
        os.replace(tmp, target)
    text = json.dumps(record, sort_keys=True, indent=1)
    target = workspace / STATE_FILE
    if not target.exists() or target.read_text() != text:
        tmp = target.with_name(STATE_FILE + ".partial")
        tmp.write_text(text)
        os.replace(tmp, target)


def load(workspace: Path) -> tuple[dict, np.ndarray]:
    """The saved record (paths confined to the workspace, its `revision`) and the selection; empty when
    unreadable."""
    workspace = Path(workspace)
    record = _read_record(workspace)
    record = {**_checked(record, workspace), "revision": _revision(record)}
    try:
        selection = np.load(workspace / SELECTION_FILE, allow_pickle=False).astype(np.int64)
    except (OSError, ValueError):
        selection = np.empty(0, np.int64)
    return record, selection


def _read_record(workspace: Path) -> dict:
    try:
        record = json.loads((workspace / STATE_FILE).read_text())
    except (OSError, ValueError):
        record = {}
    return record if isinstance(record, dict) else {}


def _revision(record: dict) -> int:
    value = record.get("revision")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _checked(record: dict, workspace: Path) -> dict:
    """The record's values a session may take: paths inside the workspace (or the demo), known settings."""
    record = dict(record)
    for key in PATH_KEYS:
        record[key] = confined(record.get(key), workspace)
    record["bandcontrast"] = bandcontrast_spec(record.get("bandcontrast"), workspace)
    models = record.get("models") if isinstance(record.get("models"), dict) else {}
    record["models"] = {label: spec for label, spec in models.items()
                        if isinstance(spec, dict) and confined(spec.get("path"), workspace)}
    files = record.get("files") if isinstance(record.get("files"), dict) else {}
    record["files"] = {kind: [p for p in paths if confined(p, workspace)] for kind, paths in files.items()
                       if isinstance(paths, list) and all(isinstance(p, str) for p in paths)}
    settings = record.get("settings") if isinstance(record.get("settings"), dict) else {}
    record["settings"] = {k: v for k, v in settings.items() if is_setting(k)}
    spec = record.get("latents_model")
    record["latents_model"] = spec if isinstance(spec, dict) and confined(spec.get("path"), workspace) else None
    return record


def save_labels(workspace: Path, rows, y, classes, digest: str):
    """Write labels.npz (atomically) when its `digest` differs from the saved one's; no labels: no file."""
    target = Path(workspace) / LABELS_FILE
    if not len(rows):
        target.unlink(missing_ok=True)
        return
    try:
        with np.load(target, allow_pickle=False) as saved:
            if str(saved["digest"]) == digest:
                return
    except (OSError, ValueError, KeyError):
        pass
    tmp = target.with_name("labels.partial.npz")
    with open(tmp, "wb") as f:
        np.savez(f, rows=np.asarray(rows, np.int64), y=np.asarray(y, np.int32), classes=np.asarray(classes, dtype=str),
                 digest=np.asarray(digest))
    os.replace(tmp, target)


def load_labels(workspace: Path) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """(rows, y, classes) saved by `save_labels`, or None (none saved, or unreadable: plain arrays only)."""
    try:
        with np.load(Path(workspace) / LABELS_FILE, allow_pickle=False) as saved:
            rows, y, classes = saved["rows"].astype(np.int64), saved["y"].astype(np.int64), saved["classes"]
    except (OSError, ValueError, KeyError):
        return None
    if (rows.ndim != 1 or y.shape != rows.shape or classes.dtype.kind != "U" or classes.ndim != 1 or (rows < 0).any()
            or (len(y) and (y.min() < 0 or y.max() >= len(classes)))):
        return None
    return rows, y, classes.tolist()


def remove_old(root: Path, max_age_days: float | None = None, now: float | None = None) -> list[str]:
    """Delete workspaces (and scratch folders) not used for `max_age_days`; returns the workspace ids removed."""
    days = MAX_AGE_DAYS if max_age_days is None else max_age_days
    now = time.time() if now is None else now
    removed = []
    for kind in ("workspaces", "scratch"):
        base = Path(root) / kind
        for path in base.iterdir() if base.is_dir() else []:
            if is_valid_id(path.name) and path.is_dir() and now - path.stat().st_mtime > days * 86400:
                shutil.rmtree(path, ignore_errors=True)
                if kind == "workspaces":
                    removed.append(path.name)
    return removed
