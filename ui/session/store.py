"""The session's store: the one module that reads or writes `st.session_state`. Every key the app keeps there is
a constant below (a widget's own key is chosen by its page: ui.session.defaults); the other modules of ui/session
read and write through these few functions, and everything else in the app through them."""
from __future__ import annotations

import streamlit as st

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
LABELS_LATENTS = "labels_latents"  # the latents file whose rows the labels name (saved in the record)
LABELS_CHANGED = "_labels_changed"  # set by set_labels: a fragment that changed them reruns the page (colours)
SHARED_QUALITY_FILTER = "shared_quality"  # (latents stamp, QualityFilter or None): the pages' filter, for the labels
LAST_CLUSTERS = "last_clusters"  # {"rows", "labels", "latents"}: the Clusters page's last clustering, for the UMAP page
EXTRACT_JOB, EXTRACT_SPEC = "extract_job", "_extract_spec"  # the latest extraction (a Job) and its model spec
TRAIN_JOB, TRAIN_SEEN_DONE = "train_job", "train_job_seen_done"  # the latest TrainingRun; its end drawn once
S3_ORIGINS = "_s3_origins"  # local path -> {"uri", "endpoint"}: where a downloaded file came from
S3_LISTING = "_s3_listing"  # {"endpoint", "objects"}: the S3 panel's last listing
S3_SOURCES = "_s3_sources"  # s3 URI -> {"object": S3Object, "endpoint"}: objects extracted where the job runs
S3_CREDENTIALS = "_s3_credentials"  # {"credentials": S3Credentials, "endpoint"}: memory only, never saved
ROI_KEYS = ("roi_x", "roi_y")  # the shared ROI's sliders (Latent maps, Clusters, Rank: ui.widgets.common)
ROI_ORIGIN = "roi_origin"  # the page whose sliders set the shared ROI last (saved with the settings)
RESTART_PREFIX = "_restart_"  # + job key: the button that starts a cancelled job again
SELECTION_SLOT = "_selection_slot"  # the sidebar's "Selected points" line (st.empty), redrawn by fragments
PROFILE_LINE = "_profile_line"  # {"latents", "scan", "line": [x0, y0, x1, y1]}: the line last drawn on a scan map
# sign-in and sharing (ui.session.visitor, ui.session.access)
ROLE = "_workspace_role"  # "owner", "write" or "read": what this session may do in its workspace
SESSION_USER = "_session_user"  # the user id the workspace was opened for (None: single-user mode)
SCRATCH = "_scratch"  # a read-only visitor's own folder: what they make goes there, never into the workspace
BLOCKED = "_blocked_workspace"  # {"id", "why": "missing" | "denied"}: the workspace the URL names cannot open


def get(key: str, default=None):
    return st.session_state.get(key, default)


def put(key: str, value) -> None:
    st.session_state[key] = value


def update(values: dict) -> None:
    st.session_state.update(values)


def pop(key: str, default=None):
    return st.session_state.pop(key, default)


def setdefault(key: str, value):
    return st.session_state.setdefault(key, value)


def has(key: str) -> bool:
    return key in st.session_state


def keys() -> set:
    return set(st.session_state.keys())


def forget_all() -> None:
    """Every key dropped (another workspace's things must not leak into the one opened next)."""
    for key in list(st.session_state):
        del st.session_state[key]


def written_this_run(key: str) -> bool:
    """Whether `key` was set through the Session State API in this run (not by its widget)."""
    from streamlit.runtime.state import get_session_state

    return get_session_state().is_new_state_value(key)


def values(keys) -> dict:
    """key -> value of those of `keys` the session holds."""
    return {key: st.session_state[key] for key in keys if key in st.session_state}
