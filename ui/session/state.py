"""What a browser session remembers: its workspace (the folder the URL names), the chosen source
and band contrast, the latents file, uploaded models, the selection (global row ids) shared by every
panel, the pages' settings, and the jobs it started. `init_session` opens or restores the workspace
at the start of every run, and takes in what another session (tab) on it wrote since; `save_session`
writes this session's changes at the end, merged into what the workspace holds then (ui.session.workspace
has the format and the rules: `sync`).

Who is signed in, and what they may do: `auth_configured` (an `[auth]` section in the secrets: sign-in
with Streamlit's OpenID Connect), `user_id` (the signed-in user's stable id, None in single-user
mode), `workspace_role` ("owner", "write" or "read": ui.session.access has the rules), `read_only`
(nothing is written back to the workspace: what a read-only visitor makes goes to a scratch folder of
their own), `blocked` (the URL names a workspace that does not exist or is not shared with this user:
nothing opens), `remote_refusal` (single-user mode serves only this computer).

This module is the only one that reads or writes `st.session_state`: every key is a constant
below, and everything else in the app goes through the accessors (a widget's own key, chosen by its
page, through `widget_value`, `set_widget_value` and `forget_widget`). A page setting's widget is drawn
with `setting(key, default)` (a select box or radio: `setting_index`) as its default, so that the browser
shows the value the page computes with: a value the server chose (put back from the workspace, taken
from another tab, a default after the value was dropped) reaches the browser through the Session State
API, and the widget then has no default of its own (Streamlit warns of a widget given two values)."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import streamlit as st

from latentcore.analysis.labels.labelled import LabelledRows, empty_labels
from latentcore.arrays import unique
from latentcore.data.bandcontrast import BandContrast
from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN

from . import access, deployment, workspace
from .settings import SAVED, SHARED_QUALITY

WORKDIR_ROOT = Path(os.environ.get("LATENT_EXPLORER_WORKDIR", Path(tempfile.gettempdir()) / "latent-explorer"))

# -- every key of the session state ---------------------------------------------------------------
# saved in the workspace (ui.session.workspace)
SOURCE, BANDCONTRAST, LATENTS, SELECTION, MODELS = "source", "bandcontrast", "latents", "selection", "models"
WORKSPACE, SETTINGS, LATENTS_MODEL, FILES = "workspace_id", "_settings", "latents_model", "_files"
WORKDIR = "workdir"  # the workspace's folder
BASELINE = "_workspace_baseline"  # workspace.Snapshot: the workspace as this session last read or wrote it
# this browser session only
RESET_DATA_WIDGETS, FORGET_DATA_SETTINGS = "_reset_data_widgets", "_forget_data_settings"
SELECTION_ORIGIN = "selection_origin"  # the chart that made the selection
SELECTION_BEFORE = "_selection_before"  # the selection before the last change (one level of undo)
PNG_DPI = "png_dpi"  # the sidebar's widget
UPLOADED_IDS = "_uploaded_ids"  # file ids of the uploads already saved and sorted (ui.session.files)
SAVED_UPLOADS = "_saved_uploads"  # file id -> path of an upload saved for one use (a projected image)
LABELS = "labels"  # latentcore.analysis.labels.labelled.LabelledRows: named classes of rows (saved as labels.npz)
LABELS_CHANGED = "_labels_changed"  # set by set_labels: a fragment that changed them reruns the page (colours)
SHARED_QUALITY_FILTER = "shared_quality"  # (latents stamp, QualityFilter or None): the pages' filter, for the labels
LAST_CLUSTERS = "last_clusters"  # {"rows", "labels"}: the Clusters page's last clustering, for the UMAP page
EXTRACT_JOB, EXTRACT_SPEC = "extract_job", "_extract_spec"  # the latest extraction (a Job) and its model spec
TRAIN_JOB, TRAIN_SEEN_DONE = "train_job", "train_job_seen_done"  # the latest TrainingRun; its end drawn once
S3_ORIGINS = "_s3_origins"  # local path -> {"uri", "endpoint"}: where a downloaded file came from
S3_LISTING = "_s3_listing"  # {"endpoint", "objects"}: the S3 panel's last listing
S3_CREDENTIALS = "_s3_credentials"  # {"credentials": S3Credentials, "endpoint"}: memory only, never saved
ROI_KEYS = ("roi_x", "roi_y")  # the shared ROI's sliders (Latent maps, Clusters, Rank: ui.widgets.common)
ROI_ORIGIN = "roi_origin"  # the page whose sliders set the shared ROI last (saved with the settings)
RESTART_PREFIX = "_restart_"  # + job key: the button that starts a cancelled job again
# sign-in and sharing (ui.session.access)
ROLE = "_workspace_role"  # "owner", "write" or "read": what this session may do in its workspace
SESSION_USER = "_session_user"  # the user id the workspace was opened for (None: single-user mode)
SCRATCH = "_scratch"  # a read-only visitor's own folder: what they make goes there, never into the workspace
BLOCKED = "_blocked_workspace"  # {"id", "why": "missing" | "denied"}: the workspace the URL names cannot open
SELECTION_SLOT = "_selection_slot"  # the sidebar's "Selected points" line (st.empty), redrawn by fragments
PROFILE_LINE = "_profile_line"  # {"latents", "line": [x0, y0, x1, y1]}: the line last drawn on a scan map


def init_session():
    """Open the workspace the URL names (restoring it) if this user may, or a new one with the built-in
    demo when the URL names none; put its id in the URL; bring back the settings of widgets a page left
    out on its last run. A URL naming a workspace that does not exist, or one not shared with this
    user, opens nothing (`blocked`): the page says so and offers a new one (`start_new_workspace`)."""
    wanted = st.query_params.get("workspace")
    current, user = st.session_state.get(WORKSPACE), user_id()
    stuck = st.session_state.get(BLOCKED)
    if stuck and stuck["id"] == wanted and st.session_state.get(SESSION_USER) == user:
        return
    if current is None or (wanted and wanted != current) or st.session_state.get(SESSION_USER) != user:
        if user is not None and st.session_state.get(SESSION_USER) != user:  # signed in: the provider is noted
            access.note_sign_in(WORKDIR_ROOT, st.user, deployment.deployment().verified_email_providers)
        _open_workspace(wanted, user)
    elif st.session_state.get(ROLE) != access.OWNER:
        _check_role(user)  # the owner may have stopped sharing it, or changed how
    if blocked():
        return
    if st.query_params.get("workspace") != st.session_state[WORKSPACE]:
        st.query_params["workspace"] = st.session_state[WORKSPACE]
    st.session_state.setdefault(MODELS, {})
    st.session_state.setdefault(SELECTION, np.empty(0, np.int64))
    if st.session_state.pop(RESET_DATA_WIDGETS, False):
        for key in SAVED.data & st.session_state.keys():
            del st.session_state[key]
    _catch_up()
    for key, value in st.session_state.get(SETTINGS, {}).items():
        if key not in st.session_state:  # Streamlit drops a widget's value when a run leaves it out
            st.session_state[key] = tuple(value) if key in SAVED.ranges else value  # shown by `setting`


def _forget_everything(user):
    for key in list(st.session_state):  # another workspace's things must not leak into this one
        del st.session_state[key]
    st.session_state[SESSION_USER] = user


def _open_workspace(wanted, user):
    _forget_everything(user)
    if not wanted:
        _new_workspace(user)
        return
    path = workspace.folder(WORKDIR_ROOT, wanted) if workspace.is_valid_id(wanted) else None
    if path is None or not path.is_dir():
        st.session_state[BLOCKED] = {"id": wanted, "why": "missing"}
        return
    if user is not None:
        access.claim(path, user)  # one made in single-user mode becomes the first signed-in opener's
    role = access.role(path, user)
    if role is None:
        st.session_state[BLOCKED] = {"id": wanted, "why": "denied"}
        return
    saved = workspace.read(path)
    record = copy.deepcopy(saved.record)  # the session's own dicts, edited in place; the base stays as read
    st.session_state.update({WORKSPACE: wanted, WORKDIR: str(path), SOURCE: record["source"],
                             BANDCONTRAST: _held(BANDCONTRAST, record["bandcontrast"]), LATENTS: record["latents"],
                             LATENTS_MODEL: record["latents_model"], MODELS: record["models"],
                             SETTINGS: record["settings"], SELECTION: saved.selection, FILES: record["files"],
                             ROLE: role, BASELINE: saved})
    if len(saved.labels.rows):
        set_labels(saved.labels)


def _new_workspace(user):
    workspace_id, path = workspace.create(WORKDIR_ROOT)
    if user is not None:
        access.claim(path, user)
    st.session_state.update({WORKSPACE: workspace_id, WORKDIR: str(path), SETTINGS: {}, ROLE: access.OWNER,
                             BASELINE: workspace.Snapshot.empty()})
    use_demo()


def _check_role(user):
    role = access.role(Path(st.session_state[WORKDIR]), user)
    if role is None:
        wanted = st.session_state[WORKSPACE]
        _forget_everything(user)
        st.session_state[BLOCKED] = {"id": wanted, "why": "denied"}
    else:
        st.session_state[ROLE] = role


def start_new_workspace():
    """Leave the workspace the URL named (or could not open) for a new one with the built-in demo."""
    user = user_id()
    _forget_everything(user)
    _new_workspace(user)
    st.query_params["workspace"] = st.session_state[WORKSPACE]


def blocked() -> dict | None:
    """{"id", "why"} when the URL names a workspace this session cannot open: "missing" (no such
    workspace: mistyped, or cleaned up after LATENT_EXPLORER_WORKSPACE_DAYS) or "denied" (another
    user's, not shared with this one); None when a workspace is open."""
    return st.session_state.get(BLOCKED)


def save_session():
    """Write what this session changed since it last read or wrote the workspace (after every run), merged
    into what the workspace holds now: another tab's labels, models and settings stay. A read-only
    visitor's session writes nothing."""
    if st.session_state.get(WORKSPACE) is None or read_only():
        return
    settings = st.session_state.setdefault(SETTINGS, {})
    settings.update(workspace.settings_of(st.session_state))
    if st.session_state.pop(FORGET_DATA_SETTINGS, False):
        _drop_data_settings(settings)
        st.session_state[RESET_DATA_WIDGETS] = True
    base, mine = st.session_state[BASELINE], _mine(settings)
    merged, theirs = workspace.sync(Path(st.session_state[WORKDIR]), base, mine)
    # Another tab wrote meanwhile: this run's widgets are drawn and cannot take its changes now; the next
    # run's `_catch_up` brings them in, against what this session holds (a stale base makes it read them).
    others_wrote = theirs.revision != base.revision
    st.session_state[BASELINE] = dataclasses.replace(mine, revision=workspace.STALE) if others_wrote else merged


def _mine(settings: dict) -> workspace.Snapshot:
    """What this session holds of its workspace, as the workspace would keep it (copies: nothing live)."""
    chosen = bandcontrast()
    record = {key: st.session_state.get(key) for key in (SOURCE, LATENTS, LATENTS_MODEL)}
    record.update({BANDCONTRAST: chosen.spec if chosen else None}, models=models(), files=registered_files(),
                  settings=settings)
    return workspace.normalised(workspace.Snapshot(record, selection(), labels()), Path(st.session_state[WORKDIR]))


def _catch_up():
    """Another tab wrote the workspace since this session last saw it: its changes come in now, before any
    widget is drawn, with what this session changed since (a click's callback runs before the script)."""
    path, base = Path(st.session_state[WORKDIR]), st.session_state[BASELINE]
    if workspace.revision(path) == base.revision:
        return
    mine = _mine({**st.session_state.get(SETTINGS, {}), **workspace.settings_of(st.session_state)})
    merged, theirs = workspace.sync(path, base, mine, write=not read_only())
    _adopt(merged, mine)
    st.session_state[BASELINE] = theirs if read_only() else merged


def _adopt(merged: workspace.Snapshot, mine: workspace.Snapshot):
    """Hold `merged` where it differs from `mine`; the live dicts (a training's thread adds to the models) are
    edited in place."""
    for key in workspace.VALUES:
        if merged.record[key] != mine.record[key]:
            st.session_state[key] = _held(key, merged.record[key])
    _edit_in_place(models_dict(), mine.record["models"], merged.record["models"])
    _edit_in_place(registered_files(), mine.record["files"], merged.record["files"])
    before, after = mine.record["settings"], merged.record["settings"]
    _edit_in_place(st.session_state.setdefault(SETTINGS, {}), before, after)
    for key in [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]:
        st.session_state.pop(key, None)  # its widget is drawn with the new value (put back: `setting`) or its default
    if not np.array_equal(merged.selection, mine.selection):
        st.session_state[SELECTION] = merged.selection
        _forget_undo()
    if merged.labels.digest() != mine.labels.digest():
        st.session_state[LABELS] = merged.labels


def _held(key: str, value):
    """A workspace record's value as the session holds it: the band contrast as its `BandContrast` (the record
    keeps its string form, `BandContrast.spec`), decoded once here."""
    return BandContrast.parse(value) if key == BANDCONTRAST and value else value


def _edit_in_place(live: dict, before: dict, after: dict):
    for key in before.keys() - after.keys():
        live.pop(key, None)
    live.update(copy.deepcopy(after))


def forget_data_settings():
    """Settings tied to the data (dimensions, ROI, colour column) do not carry over to new data. They
    are dropped after this run and their widgets reset before the next one (a widget drawn in this
    run cannot lose its value now)."""
    st.session_state[FORGET_DATA_SETTINGS] = True


def _drop_data_settings(settings: dict):
    for key in SAVED.data & settings.keys():
        settings.pop(key)


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
    if read_only():
        if st.session_state.get(SCRATCH) is None:
            st.session_state[SCRATCH] = str(workspace.scratch(WORKDIR_ROOT))
        path = Path(st.session_state[SCRATCH]) / sub
    else:
        path = Path(st.session_state[WORKDIR]) / sub
    path.mkdir(parents=True, exist_ok=True)
    return path


def use_demo():
    set_source(DEMO_SCAN, BandContrast.table(DEMO_BANDCONTRAST))


def is_demo() -> bool:
    return st.session_state.get(SOURCE) == str(DEMO_SCAN)


def set_source(path, bandcontrast: BandContrast | None = None):
    """A new source invalidates the latents and the selection made on the old one."""
    st.session_state[SOURCE] = str(path) if path else None
    set_bandcontrast(bandcontrast)
    st.session_state[LATENTS] = None
    forget_data_settings()
    clear_selection()
    _forget_undo()
    set_labels(empty_labels())  # another scan's rows


def source() -> Path | None:
    value = st.session_state.get(SOURCE)
    return Path(value) if value else None


def bandcontrast() -> BandContrast | None:
    """The band-contrast choice (ui.widgets.bandcontrast), kept as its value; the workspace saves its string
    form (`scan:<map name>` or a table's path)."""
    return st.session_state.get(BANDCONTRAST)


def set_bandcontrast(bandcontrast: BandContrast | None):
    if bandcontrast is not None and not isinstance(bandcontrast, BandContrast):
        raise TypeError(f"the session's band contrast is a BandContrast, got {bandcontrast!r}")
    st.session_state[BANDCONTRAST] = bandcontrast


def png_dpi() -> int:
    """Resolution of downloaded PNGs (the sidebar's setting; 300 dpi unless changed)."""
    return int(st.session_state.get(PNG_DPI, 300))


def latents() -> Path | None:
    value = st.session_state.get(LATENTS)
    return Path(value) if value and Path(value).exists() else None


def set_latents(path):
    if st.session_state.get(LATENTS) != (str(path) if path else None):
        forget_data_settings()
        clear_selection()
        _forget_undo()
    st.session_state[LATENTS] = str(path) if path else None


def add_model(label: str, spec: dict):
    """Models the Extract page offers: label -> {"path", "arch", "options"}."""
    st.session_state.setdefault(MODELS, {})[label] = spec


def models() -> dict:
    return st.session_state.get(MODELS, {})


def selection() -> np.ndarray:
    """Global row ids selected in any panel (sorted, unique)."""
    return st.session_state.get(SELECTION, np.empty(0, np.int64))


def set_selection(row_ids, origin: str = ""):
    """The new selection; the one it replaces is kept for `undo_selection` (one level)."""
    new, before = unique(np.asarray(row_ids, dtype=np.int64)), selection()
    if not np.array_equal(new, before):
        st.session_state[SELECTION_BEFORE] = (before, st.session_state.get(SELECTION_ORIGIN, ""))
    st.session_state[SELECTION] = new
    st.session_state[SELECTION_ORIGIN] = origin


def clear_selection():
    set_selection(np.empty(0, np.int64))


def selection_origin() -> str:
    """The key of the chart (or query) that made the selection; "" when unknown (restored with a workspace)."""
    return st.session_state.get(SELECTION_ORIGIN, "")


def set_selection_slot(slot):
    """Where the sidebar says how many points are selected (an st.empty), for panels that rerun alone."""
    st.session_state[SELECTION_SLOT] = slot


def selection_slot():
    return st.session_state.get(SELECTION_SLOT)


def selection_before() -> np.ndarray | None:
    """The selection the last change replaced (what `undo_selection` brings back), or None."""
    kept = st.session_state.get(SELECTION_BEFORE)
    return None if kept is None else kept[0]


def undo_selection():
    """Bring back the selection the last change replaced (one level: then there is nothing to undo)."""
    kept = st.session_state.pop(SELECTION_BEFORE, None)
    if kept is not None:
        st.session_state[SELECTION], st.session_state[SELECTION_ORIGIN] = kept


def _forget_undo():
    """Rows of other data: no undo brings them back."""
    st.session_state.pop(SELECTION_BEFORE, None)


def profile_line() -> tuple | None:
    """The line last drawn on a scan map of the latents in use, (x0, y0, x1, y1) in their units, or None."""
    kept = st.session_state.get(PROFILE_LINE)
    return tuple(kept["line"]) if kept and kept["latents"] == st.session_state.get(LATENTS) else None


def set_profile_line(line):
    """A line drawn on a scan map (x0, y0, x1, y1): the pages with a scan map show it and its profile."""
    st.session_state[PROFILE_LINE] = {"latents": st.session_state.get(LATENTS), "line": [float(v) for v in line]}


def clear_profile_line():
    st.session_state.pop(PROFILE_LINE, None)


# -- widgets: their values live in the session under the key their page gives them ------------------

def widget_value(key: str, default=None):
    """A widget's value as the session holds it (a point panel's messages, a slider's range...)."""
    return st.session_state.get(key, default)


def set_widget_value(key: str, value):
    """Set a widget's value before it is drawn (it shows this value)."""
    st.session_state[key] = value


def forget_widget(key: str):
    """Drop a widget's value: drawn next, it starts from its default."""
    st.session_state.pop(key, None)


def setting(key: str, default, offered=None, bounds=None):
    """The default to draw the widget of page setting `key` with, such that the browser shows the value
    the widget returns. A browser keeps showing its own value of a widget it shows whatever default a
    later run gives it, and sends that value back on the next run; so only the widget's own value is handed
    over as its default. Any other value (put back from the workspace in this run, a page that left the
    widget out or a reload; taken from another tab; written by a widget module; else `default`, the
    value having been dropped: new data, a cleared ROI) is written through the Session State API, which
    Streamlit sends to the browser, and the widget is drawn with no default of its own: None (False for
    a check box or toggle). A value the widget cannot take gives way to `default`: one not among
    `offered` (the options; for a list, each of its items) or outside `bounds` (low, high; for a range,
    both ends)."""
    held = key in st.session_state
    current = st.session_state[key] if held else default
    value = _usable(current, default, offered, bounds)
    if held and not _written_this_run(key) and _same(value, current):
        return value  # the widget's own value: the browser shows it
    st.session_state[key] = value
    return False if isinstance(default, bool) else None


def setting_index(key: str, default, options):
    """`setting` for a select box or radio drawn with `index=`: the position of its value among `options`,
    or None where the session holds the value it shows."""
    value = setting(key, default, options)
    return None if value is None else list(options).index(value)


def _written_this_run(key: str) -> bool:
    from streamlit.runtime.state import get_session_state

    return get_session_state().is_new_state_value(key)


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _usable(value, default, offered, bounds):
    """`value` in the form of the widget's `default` (`_like`), or `default` where the widget cannot take it."""
    if isinstance(default, tuple) and isinstance(value, (tuple, list)) and len(value) == len(default):
        value = tuple(_like(item, ref) for item, ref in zip(value, default))  # a range: JSON gave a list
    value = _like(value, default)
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if offered is not None and not all(item in list(offered) for item in items):
        return default
    if bounds is not None and not all(isinstance(item, (int, float)) and bounds[0] <= item <= bounds[1]
                                      for item in items):
        return default
    if isinstance(default, (bool, int, float, str)) and type(value) is not type(default):
        return default
    return value


def _like(value, default):
    """A number as JSON kept it (10 for 10.0) in the type of the widget's default (Streamlit refuses a mix)."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(default) is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# -- the ROI the analysis pages share (ui.widgets.common.roi_sliders) -------------------------------

def roi_origin() -> str | None:
    """The page (its key: "maps", "clusters", "rank") whose sliders last set the shared ROI, or None."""
    return st.session_state.get(ROI_ORIGIN)


def set_roi_origin(page: str):
    st.session_state[ROI_ORIGIN] = page


def clear_roi():
    """The shared ROI back to the whole scan: the sliders, their saved settings and where it was set are
    forgotten (drawn next, the sliders are given the whole scan through `setting`, which the browser shows)."""
    saved = st.session_state.get(SETTINGS, {})
    for key in (*ROI_KEYS, ROI_ORIGIN):
        st.session_state.pop(key, None)
        saved.pop(key, None)


def quality_filter(lat_stamp: tuple):
    """The quality filter the last page that draws it set for these latents (ui.widgets.quality), or None."""
    held = st.session_state.get(SHARED_QUALITY_FILTER)
    return held[1] if held is not None and held[0] == lat_stamp else None


def set_quality_filter(lat_stamp: tuple, quality):
    st.session_state[SHARED_QUALITY_FILTER] = (lat_stamp, quality)


def clear_quality():
    """The shared quality filter off: its thresholds and their saved settings forgotten (drawn next, each is off)."""
    saved = st.session_state.get(SETTINGS, {})
    for key in (*SHARED_QUALITY.keys, SHARED_QUALITY_FILTER):
        st.session_state.pop(key, None)
        saved.pop(key, None)


# -- what the pages hand each other ---------------------------------------------------------------

def labels() -> LabelledRows:
    """The session's labels (row ids and their names; ui.widgets.labels edits them)."""
    return st.session_state.get(LABELS) or empty_labels()


def set_labels(labelled: LabelledRows):
    st.session_state[LABELS] = labelled
    st.session_state[LABELS_CHANGED] = True


def take_labels_changed() -> bool:
    """True once after the labels changed (the UMAP's colour by label is drawn outside its linked panels)."""
    return bool(st.session_state.pop(LABELS_CHANGED, False))


def last_clusters() -> dict | None:
    """The Clusters page's last clustering {"rows", "labels"} (the UMAP page colours by it), or None."""
    return st.session_state.get(LAST_CLUSTERS) or None


def set_last_clusters(rows, labels):
    st.session_state[LAST_CLUSTERS] = {"rows": rows, "labels": labels}


def latents_model() -> dict | None:
    """The model spec (with its "pool") that made the session's latents, to project new images."""
    return st.session_state.get(LATENTS_MODEL)


# -- jobs this session started (ui.compute.jobs.Job, ui.widgets.training.TrainingRun) --------------

def extract_job():
    """This session's latest extraction (a Job), until its outcome was taken."""
    return st.session_state.get(EXTRACT_JOB)


def set_extract_job(job, spec: dict):
    """The extraction just started, and the model spec that makes the latents (kept for projecting)."""
    st.session_state[EXTRACT_JOB] = job
    st.session_state[EXTRACT_SPEC] = spec


def take_extract_job():
    """The ended extraction, forgotten now (its outcome is applied once)."""
    return st.session_state.pop(EXTRACT_JOB, None)


def extracted_latents(path):
    """An extraction's file becomes the session's latents, made by the model it was started with."""
    set_latents(path)
    st.session_state[LATENTS_MODEL] = st.session_state.pop(EXTRACT_SPEC, None)


def models_dict() -> dict:
    """The session's models as the live dict (a training's done callback adds to it from another thread)."""
    return st.session_state.setdefault(MODELS, {})


def train_run():
    """This session's latest TrainingRun, or None."""
    return st.session_state.get(TRAIN_JOB)


def set_train_run(run):
    st.session_state[TRAIN_JOB] = run
    st.session_state[TRAIN_SEEN_DONE] = False


def train_end_unseen() -> bool:
    """True once per run, the first time it is seen ended (the page then redraws itself)."""
    if st.session_state.get(TRAIN_SEEN_DONE, True):
        return False
    st.session_state[TRAIN_SEEN_DONE] = True
    return True


def restart_key(job_key: str) -> str:
    """The key of the button that starts cancelled job `job_key` again."""
    return RESTART_PREFIX + job_key


def restart_asked(job_key: str) -> bool:
    return bool(st.session_state.get(restart_key(job_key)))


def forget_restart(job_key: str):
    st.session_state.pop(restart_key(job_key), None)


# -- uploads and downloads (ui.session.files, ui.widgets.s3_panel) ---------------------------------

def uploaded_ids() -> set:
    return st.session_state.setdefault(UPLOADED_IDS, set())


def saved_uploads() -> dict:
    """file id -> path of uploads saved for one use (the live dict)."""
    return st.session_state.setdefault(SAVED_UPLOADS, {})


def registered_files() -> dict:
    """kind -> paths: the uploads and downloads as ui.session.files sorted them (the live dict)."""
    return st.session_state.setdefault(FILES, {})


def s3_listing() -> dict | None:
    return st.session_state.get(S3_LISTING)


def set_s3_listing(endpoint: str, objects: list):
    st.session_state[S3_LISTING] = {"endpoint": endpoint, "objects": objects}


def s3_origins() -> dict:
    """local path -> {"uri", "endpoint"} of the files downloaded from S3 in this session (the live dict)."""
    return st.session_state.setdefault(S3_ORIGINS, {})


def s3_credentials() -> dict | None:
    """{"credentials": S3Credentials, "endpoint"}: the S3 keys this session's user entered, or None.
    Held in this session's memory only: never in the workspace's state.json, never on disk."""
    return st.session_state.get(S3_CREDENTIALS)


def set_s3_credentials(credentials, endpoint: str | None):
    st.session_state[S3_CREDENTIALS] = {"credentials": credentials, "endpoint": endpoint or None}
    st.session_state.pop(S3_LISTING, None)  # a listing made with other credentials


def forget_s3_credentials():
    st.session_state.pop(S3_CREDENTIALS, None)
    st.session_state.pop(S3_LISTING, None)


# -- sign-in and sharing (ui.session.access has the rules) -----------------------------------------

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
    return st.session_state.get(ROLE)


def read_only() -> bool:
    """A read-only visitor: the selection, settings, uploads and latents are not written back."""
    return st.session_state.get(ROLE) == access.READ


def workspace_access() -> dict:
    """{"owner", "shared": {user: "read" | "write"}} of the open workspace."""
    return access.read(Path(st.session_state[WORKDIR]))


def share_workspace(user: str, mode: str = access.READ):
    """The owner shares the open workspace with `user`: "read" (read-only) or "write" (read-write). `user` is
    named as this server knows its users (`access.share_target`: ValueError in one line for a name no sign-in
    here can give)."""
    target = access.share_target(user, sign_in_names(), email_providers(), user_id())
    access.share(Path(st.session_state[WORKDIR]), user_id(), target, mode)


def sign_in_names() -> list[str]:
    """The names of the sign-in providers as user ids carry them (`PROVIDER:SUB`): "default" for `[auth]` itself."""
    return [provider or "default" for provider in sign_in_providers()]


def email_providers() -> set[str]:
    """The sign-in providers whose users are known by e-mail address: trusted by the deployment, or seen
    verifying one (ui.session.access.vouching_providers)."""
    trusted = set(deployment.deployment().verified_email_providers) | access.vouching_providers(WORKDIR_ROOT)
    return trusted & set(sign_in_names())


def identity_forms() -> str:
    """The forms of the ids users sign in as here, in words (the sharing panel says them)."""
    return access.identity_forms(sign_in_names(), email_providers())


def unshare_workspace(user: str):
    access.unshare(Path(st.session_state[WORKDIR]), user_id(), user)


def sign_in_providers() -> list[str | None]:
    """The providers of the `[auth]` section: None for one given in `[auth]` itself, else the names of
    its `[auth.NAME]` sections (st.login(NAME))."""
    section = st.secrets.get("auth", {})
    named = [name for name, value in section.items() if hasattr(value, "keys")]
    return ([None] if "client_id" in section or not named else []) + named
