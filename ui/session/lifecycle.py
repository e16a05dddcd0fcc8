"""A session's workspace, from its opening to every save: `init_session` opens or restores the workspace the URL
names at the start of every run (if this visitor may: ui.session.visitor), and takes in what another session (tab)
on it wrote since; `save_session` writes this session's changes at the end, merged into what the workspace holds
then (ui.session.workspace has the format and the rules: `sync`); `blocked` says why none could open; `workdir`
and `results_dir` are the folders the pages write into."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from latentcore.analysis.labels.labelled import empty_labels
from latentcore.data.bandcontrast import BandContrast

from . import access, deployment, state, store, visitor, workspace
from .settings import SAVED


def init_session():
    """Open the workspace the URL names (restoring it) if this user may, or a new one with the built-in
    demo when the URL names none; put its id in the URL; bring back the settings of widgets a page left
    out on its last run. A URL naming a workspace that does not exist, or one not shared with this
    user, opens nothing (`blocked`): the page says so and offers a new one (`start_new_workspace`)."""
    wanted = st.query_params.get("workspace")
    current, user = store.get(store.WORKSPACE), visitor.user_id()
    stuck = store.get(store.BLOCKED)
    if stuck and stuck["id"] == wanted and store.get(store.SESSION_USER) == user:
        return
    if current is None or (wanted and wanted != current) or store.get(store.SESSION_USER) != user:
        if user is not None and store.get(store.SESSION_USER) != user:  # signed in: the provider is noted
            access.note_sign_in(workspace.WORKDIR_ROOT, st.user, deployment.deployment().verified_email_providers)
        _open_workspace(wanted, user)
    elif store.get(store.ROLE) != access.OWNER:
        _check_role(user)  # the owner may have stopped sharing it, or changed how
    if blocked():
        return
    if st.query_params.get("workspace") != store.get(store.WORKSPACE):
        st.query_params["workspace"] = store.get(store.WORKSPACE)
    store.setdefault(store.MODELS, {})
    store.setdefault(store.SELECTION, np.empty(0, np.int64))
    if store.pop(store.RESET_DATA_WIDGETS, False):
        for key in SAVED.data & store.keys():
            store.pop(key)
    _catch_up()
    for key, value in store.get(store.SETTINGS, {}).items():
        if not store.has(key):  # Streamlit drops a widget's value when a run leaves it out
            store.put(key, tuple(value) if key in SAVED.ranges else value)  # shown by `defaults.setting`


def _forget_everything(user):
    store.forget_all()  # another workspace's things must not leak into this one
    store.put(store.SESSION_USER, user)


def _open_workspace(wanted, user):
    _forget_everything(user)
    if not wanted:
        _new_workspace(user)
        return
    path = workspace.folder(workspace.WORKDIR_ROOT, wanted) if workspace.is_valid_id(wanted) else None
    if path is None or not path.is_dir():
        store.put(store.BLOCKED, {"id": wanted, "why": "missing"})
        return
    if user is not None:
        access.claim(path, user)  # one made in single-user mode becomes the first signed-in opener's
    role = access.role(path, user)
    if role is None:
        store.put(store.BLOCKED, {"id": wanted, "why": "denied"})
        return
    saved = workspace.read(path)
    record = copy.deepcopy(saved.record)  # the session's own dicts, edited in place; the base stays as read
    store.update({store.WORKSPACE: wanted, store.WORKDIR: str(path), store.SOURCE: record["source"],
                  store.BANDCONTRAST: _held(store.BANDCONTRAST, record["bandcontrast"]),
                  store.LATENTS: record["latents"], store.LATENTS_MODEL: record["latents_model"],
                  store.LABELS_LATENTS: record["labels_latents"] or record["latents"],  # saved before it was kept
                  store.MODELS: record["models"], store.SETTINGS: record["settings"],
                  store.SELECTION: saved.selection, store.FILES: record["files"], store.ROLE: role,
                  store.BASELINE: saved})
    if len(saved.labels.rows):
        store.update({store.LABELS: saved.labels, store.LABELS_CHANGED: True})  # of the rows they were made on


def _new_workspace(user):
    workspace_id, path = workspace.create(workspace.WORKDIR_ROOT)
    if user is not None:
        access.claim(path, user)
    store.update({store.WORKSPACE: workspace_id, store.WORKDIR: str(path), store.SETTINGS: {},
                  store.ROLE: access.OWNER, store.BASELINE: workspace.Snapshot.empty()})
    state.use_demo()


def _check_role(user):
    role = access.role(Path(store.get(store.WORKDIR)), user)
    if role is None:
        wanted = store.get(store.WORKSPACE)
        _forget_everything(user)
        store.put(store.BLOCKED, {"id": wanted, "why": "denied"})
    else:
        store.put(store.ROLE, role)


def start_new_workspace():
    """Leave the workspace the URL named (or could not open) for a new one with the built-in demo."""
    user = visitor.user_id()
    _forget_everything(user)
    _new_workspace(user)
    st.query_params["workspace"] = store.get(store.WORKSPACE)


def blocked() -> dict | None:
    """{"id", "why"} when the URL names a workspace this session cannot open: "missing" (no such
    workspace: mistyped, or cleaned up after LATENT_EXPLORER_WORKSPACE_DAYS) or "denied" (another
    user's, not shared with this one); None when a workspace is open."""
    return store.get(store.BLOCKED)


def save_session():
    """Write what this session changed since it last read or wrote the workspace (after every run), merged
    into what the workspace holds now: another tab's labels, models and settings stay. A read-only
    visitor's session writes nothing."""
    if store.get(store.WORKSPACE) is None or visitor.read_only():
        return
    settings = store.setdefault(store.SETTINGS, {})
    settings.update(_widget_settings())
    if store.pop(store.FORGET_DATA_SETTINGS, False):
        for key in SAVED.data & settings.keys():
            settings.pop(key)
        store.put(store.RESET_DATA_WIDGETS, True)
    base, mine = store.get(store.BASELINE), _mine(settings)
    merged, theirs = workspace.sync(Path(store.get(store.WORKDIR)), base, mine)
    # Another tab wrote meanwhile: this run's widgets are drawn and cannot take its changes now; the next
    # run's `_catch_up` brings them in, against what this session holds (a stale base makes it read them).
    others_wrote = theirs.revision != base.revision
    store.put(store.BASELINE, dataclasses.replace(mine, revision=workspace.STALE) if others_wrote else merged)


def _widget_settings() -> dict:
    """The saved widgets' values the session holds, as the workspace keeps them."""
    return workspace.settings_of(store.values(SAVED.keys))


def _mine(settings: dict) -> workspace.Snapshot:
    """What this session holds of its workspace, as the workspace would keep it (copies: nothing live)."""
    chosen = state.bandcontrast()
    record = {key: store.get(key) for key in (store.SOURCE, store.LATENTS, store.LATENTS_MODEL, store.LABELS_LATENTS)}
    record.update({store.BANDCONTRAST: chosen.spec if chosen else None}, models=state.models(),
                  files=state.registered_files(), settings=settings)
    labels = store.get(store.LABELS) or empty_labels()  # those of other latents too (`state.labels_elsewhere`)
    return workspace.normalised(workspace.Snapshot(record, state.selection(), labels),
                                Path(store.get(store.WORKDIR)))


def _catch_up():
    """Another tab wrote the workspace since this session last saw it: its changes come in now, before any
    widget is drawn, with what this session changed since (a click's callback runs before the script)."""
    path, base = Path(store.get(store.WORKDIR)), store.get(store.BASELINE)
    if workspace.revision(path) == base.revision:
        return
    mine = _mine({**store.get(store.SETTINGS, {}), **_widget_settings()})
    merged, theirs = workspace.sync(path, base, mine, write=not visitor.read_only())
    _adopt(merged, mine)
    store.put(store.BASELINE, theirs if visitor.read_only() else merged)


def _adopt(merged: workspace.Snapshot, mine: workspace.Snapshot):
    """Hold `merged` where it differs from `mine`; the live dicts (a training's thread adds to the models) are
    edited in place."""
    for key in workspace.VALUES:
        if merged.record[key] != mine.record[key]:
            store.put(key, _held(key, merged.record[key]))
    _edit_in_place(state.models_dict(), mine.record["models"], merged.record["models"])
    _edit_in_place(state.registered_files(), mine.record["files"], merged.record["files"])
    before, after = mine.record["settings"], merged.record["settings"]
    _edit_in_place(store.setdefault(store.SETTINGS, {}), before, after)
    for key in [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]:
        store.pop(key)  # its widget is drawn with the new value (put back: `defaults.setting`) or its default
    if not np.array_equal(merged.selection, mine.selection):
        store.put(store.SELECTION, merged.selection)
        state.forget_undo()
    if merged.labels.digest() != mine.labels.digest():
        store.put(store.LABELS, merged.labels)


def _held(key: str, value):
    """A workspace record's value as the session holds it: the band contrast as its `BandContrast` (the record
    keeps its string form, `BandContrast.spec`), decoded once here."""
    return BandContrast.parse(value) if key == store.BANDCONTRAST and value else value


def _edit_in_place(live: dict, before: dict, after: dict):
    for key in before.keys() - after.keys():
        live.pop(key, None)
    live.update(copy.deepcopy(after))


def results_dir(kind: str, latents_path) -> Path:
    """Where a page writes its results (`kind`: "umap", "maps", "clusters", "rank") for one latents file:
    a folder per file, since two models' latents of one scan share a file name and their results would
    share names too."""
    path = Path(latents_path)
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    return workdir(f"{kind}/{path.stem}-{digest}")


def workdir(sub: str = "") -> Path:
    """A folder inside the session's workspace (a read-only visitor's: inside their own scratch folder,
    so that their uploads, latents and results never land in the workspace they look at)."""
    if visitor.read_only():
        if store.get(store.SCRATCH) is None:
            store.put(store.SCRATCH, str(workspace.scratch(workspace.WORKDIR_ROOT)))
        path = Path(store.get(store.SCRATCH)) / sub
    else:
        path = Path(store.get(store.WORKDIR)) / sub
    path.mkdir(parents=True, exist_ok=True)
    return path


def reachable_folders() -> tuple[str, ...] | None:
    """The folders a job of this session may read and write (checked where it runs, ui.compute.jobs): the
    workspace it looks at, its scratch folder (a read-only visitor's), the built-in demo. None, which checks
    nothing, outside a session: no page runs so (init_session opens a workspace first), only a script's own calls."""
    from latentcore.demo import DEMO_DIR

    if store.get(store.WORKDIR) is None:
        return None
    return tuple(str(path) for path in (store.get(store.WORKDIR), store.get(store.SCRATCH), DEMO_DIR) if path)
