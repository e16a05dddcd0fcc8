"""What a browser session holds for its pages: the chosen source and band contrast, the latents file, the models,
the selection (global row ids) shared by every panel and its undo, the line drawn on a scan map, the shared ROI and
quality filter, the labels, the Clusters page's last clustering, and the jobs this session started. Each is read and
written through the functions below (kept in ui.session.store; the workspace saves what it keeps of them at the end
of every run: ui.session.lifecycle)."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from latentcore.analysis.labels.labelled import LabelledRows, empty_labels
from latentcore.arrays import unique
from latentcore.data.bandcontrast import BandContrast
from latentcore.errors import LatentError
from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN

from . import store
from .settings import SHARED_QUALITY


def use_demo():
    set_source(DEMO_SCAN, BandContrast.table(DEMO_BANDCONTRAST))


def is_demo() -> bool:
    return store.get(store.SOURCE) == str(DEMO_SCAN)


def set_source(path, bandcontrast: BandContrast | None = None):
    """A new source invalidates the latents and the selection made on the old one (the labels stay with the
    latents they name: `labels`)."""
    store.put(store.SOURCE, str(path) if path else None)
    set_bandcontrast(bandcontrast)
    store.put(store.LATENTS, None)
    forget_data_settings()
    clear_selection()
    forget_undo()


def source() -> Path | None:
    value = store.get(store.SOURCE)
    return Path(value) if value else None


def bandcontrast() -> BandContrast | None:
    """The band-contrast choice (ui.widgets.bandcontrast), kept as its value; the workspace saves its string
    form (`scan:<map name>` or a table's path)."""
    return store.get(store.BANDCONTRAST)


def set_bandcontrast(bandcontrast: BandContrast | None):
    if bandcontrast is not None and not isinstance(bandcontrast, BandContrast):
        raise TypeError(f"the session's band contrast is a BandContrast, got {bandcontrast!r}")
    store.put(store.BANDCONTRAST, bandcontrast)


def png_dpi() -> int:
    """Resolution of downloaded PNGs (the sidebar's setting; 300 dpi unless changed)."""
    return int(store.get(store.PNG_DPI, 300))


def latents() -> Path | None:
    value = store.get(store.LATENTS)
    return Path(value) if value and Path(value).exists() else None


def set_latents(path):
    if store.get(store.LATENTS) != (str(path) if path else None):
        forget_data_settings()
        clear_selection()
        forget_undo()
    store.put(store.LATENTS, str(path) if path else None)


def add_model(label: str, spec: dict):
    """Models the Extract page offers: label -> {"path", "arch", "options"}."""
    store.setdefault(store.MODELS, {})[label] = spec


def models() -> dict:
    return store.get(store.MODELS, {})


def selection() -> np.ndarray:
    """Global row ids selected in any panel (sorted, unique)."""
    return store.get(store.SELECTION, np.empty(0, np.int64))


def set_selection(row_ids, origin: str = ""):
    """The new selection; the one it replaces is kept for `undo_selection` (one level)."""
    new, before = unique(np.asarray(row_ids, dtype=np.int64)), selection()
    if not np.array_equal(new, before):
        store.put(store.SELECTION_BEFORE, (before, store.get(store.SELECTION_ORIGIN, "")))
    store.put(store.SELECTION, new)
    store.put(store.SELECTION_ORIGIN, origin)


def clear_selection():
    set_selection(np.empty(0, np.int64))


def selection_origin() -> str:
    """The key of the chart (or query) that made the selection; "" when unknown (restored with a workspace)."""
    return store.get(store.SELECTION_ORIGIN, "")


def set_selection_slot(slot):
    """Where the sidebar says how many points are selected (an st.empty), for panels that rerun alone."""
    store.put(store.SELECTION_SLOT, slot)


def selection_slot():
    return store.get(store.SELECTION_SLOT)


def selection_before() -> np.ndarray | None:
    """The selection the last change replaced (what `undo_selection` brings back), or None."""
    kept = store.get(store.SELECTION_BEFORE)
    return None if kept is None else kept[0]


def undo_selection():
    """Bring back the selection the last change replaced (one level: then there is nothing to undo)."""
    kept = store.pop(store.SELECTION_BEFORE)
    if kept is not None:
        store.update(dict(zip((store.SELECTION, store.SELECTION_ORIGIN), kept)))


def forget_undo():
    """Rows of other data: no undo brings them back."""
    store.pop(store.SELECTION_BEFORE)


def profile_line(scan: tuple) -> tuple | None:
    """The line last drawn on a map of the scan whose latents file `scan` stamps (the latents in use, or a source of
    the study in use), (x0, y0, x1, y1) in their units, or None (none, or drawn on another scan)."""
    kept = store.get(store.PROFILE_LINE)
    mine = kept and kept["latents"] == store.get(store.LATENTS) and kept["scan"] == scan[0]
    return tuple(kept["line"]) if mine else None


def set_profile_line(line, scan: tuple):
    """A line drawn on a map of a scan (x0, y0, x1, y1; `scan`: its latents file's stamp, a study's source's on a
    study): the pages with its map show it and its profile."""
    store.put(store.PROFILE_LINE, {"latents": store.get(store.LATENTS), "scan": scan[0],
                                   "line": [float(v) for v in line]})


def clear_profile_line():
    store.pop(store.PROFILE_LINE)


def forget_data_settings():
    """Settings tied to the data (dimensions, ROI, colour column) do not carry over to new data. They
    are dropped after this run and their widgets reset before the next one (a widget drawn in this
    run cannot lose its value now)."""
    store.put(store.FORGET_DATA_SETTINGS, True)


# -- the ROI the analysis pages share (ui.widgets.common.roi_sliders) -------------------------------

def roi_origin() -> str | None:
    """The page (its key: "maps", "clusters", "rank") whose sliders last set the shared ROI, or None."""
    return store.get(store.ROI_ORIGIN)


def set_roi_origin(page: str):
    store.put(store.ROI_ORIGIN, page)


def clear_roi():
    """The shared ROI back to the whole scan: the sliders, their saved settings and where it was set are
    forgotten (drawn next, the sliders are given the whole scan through `setting`, which the browser shows)."""
    saved = store.get(store.SETTINGS, {})
    for key in (*store.ROI_KEYS, store.ROI_ORIGIN):
        store.pop(key)
        saved.pop(key, None)


def quality_filter(lat_stamp: tuple):
    """The quality filter the last page that draws it set for these latents (ui.widgets.quality), or None."""
    held = store.get(store.SHARED_QUALITY_FILTER)
    return held[1] if held is not None and held[0] == lat_stamp else None


def set_quality_filter(lat_stamp: tuple, quality):
    store.put(store.SHARED_QUALITY_FILTER, (lat_stamp, quality))


def clear_quality():
    """The shared quality filter off: its thresholds and their saved settings forgotten (drawn next, each is off)."""
    saved = store.get(store.SETTINGS, {})
    for key in (*SHARED_QUALITY.keys, store.SHARED_QUALITY_FILTER):
        store.pop(key)
        saved.pop(key, None)


# -- what the pages hand each other ---------------------------------------------------------------

def labels() -> LabelledRows:
    """The session's labels (row ids and their names; ui.widgets.labels edits them) when they name the rows of the
    session's latents; else none (`labels_elsewhere`): a study's row ids on one of its files would label other rows."""
    return (store.get(store.LABELS) or empty_labels()) if labels_elsewhere() is None else empty_labels()


def labels_elsewhere() -> str | None:
    """The latents file whose rows the session's labels name, when those are not the latents' rows (another file
    or study: `latentcore.study.row_sources`); else None. Kept, not dropped: they come back when those latents are
    opened."""
    made_on, now = store.get(store.LABELS_LATENTS), store.get(store.LATENTS)
    if not store.get(store.LABELS) or made_on in (None, now):
        return None
    theirs = _row_sources(made_on)
    return None if theirs is not None and now is not None and theirs == _row_sources(now) else made_on


def _row_sources(path) -> tuple | None:
    """`row_sources` of the latents at `path`, read once per state of the file; None when it cannot be read."""
    try:
        stat = Path(path).stat()
        return _recorded_row_sources(str(path), stat.st_mtime_ns, stat.st_size)
    except (LatentError, OSError):
        return None


@functools.lru_cache(maxsize=32)
def _recorded_row_sources(path: str, mtime_ns: int, size: int) -> tuple:
    from latentcore.study import row_sources

    return tuple(row_sources(path))


def set_labels(labelled: LabelledRows):
    """The labels, of the rows of the session's latents."""
    store.update({store.LABELS: labelled, store.LABELS_LATENTS: store.get(store.LATENTS), store.LABELS_CHANGED: True})


def take_labels_changed() -> bool:
    """True once after the labels changed (the UMAP's colour by label is drawn outside its linked panels)."""
    return bool(store.pop(store.LABELS_CHANGED, False))


def last_clusters() -> dict | None:
    """The Clusters page's last clustering {"rows", "labels"} of the session's latents (the UMAP page colours by
    it), or None: one made on other latents is not theirs (its row ids would colour rows of another file)."""
    found = store.get(store.LAST_CLUSTERS)
    return found if found and found["latents"] == store.get(store.LATENTS) else None


def set_last_clusters(rows, labels):
    store.put(store.LAST_CLUSTERS, {"rows": rows, "labels": labels, "latents": store.get(store.LATENTS)})


def latents_model() -> dict | None:
    """The model spec (with its "pool") that made the session's latents, to project new images."""
    return store.get(store.LATENTS_MODEL)


# -- jobs this session started (ui.compute.jobs.Job, ui.widgets.training.TrainingRun) --------------

def extract_job():
    """This session's latest extraction (a Job), until its outcome was taken."""
    return store.get(store.EXTRACT_JOB)


def set_extract_job(job, spec: dict):
    """The extraction just started, and the model spec that makes the latents (kept for projecting)."""
    store.put(store.EXTRACT_JOB, job)
    store.put(store.EXTRACT_SPEC, spec)


def extract_spec() -> dict | None:
    """The spec the latest extraction was started with (`set_extract_job`), until its file became the latents."""
    return store.get(store.EXTRACT_SPEC)


def take_extract_job():
    """The ended extraction, forgotten now (its outcome is applied once)."""
    return store.pop(store.EXTRACT_JOB)


def extracted_latents(path):
    """An extraction's file becomes the session's latents, made by the model it was started with."""
    set_latents(path)
    store.put(store.LATENTS_MODEL, store.pop(store.EXTRACT_SPEC))


def models_dict() -> dict:
    """The session's models as the live dict (a training's done callback adds to it from another thread)."""
    return store.setdefault(store.MODELS, {})


def train_run():
    """This session's latest TrainingRun, or None."""
    return store.get(store.TRAIN_JOB)


def set_train_run(run):
    store.put(store.TRAIN_JOB, run)
    store.put(store.TRAIN_SEEN_DONE, False)


def train_end_unseen() -> bool:
    """True once per run, the first time it is seen ended (the page then redraws itself)."""
    if store.get(store.TRAIN_SEEN_DONE, True):
        return False
    store.put(store.TRAIN_SEEN_DONE, True)
    return True


def restart_key(job_key: str) -> str:
    """The key of the button that starts cancelled job `job_key` again."""
    return store.RESTART_PREFIX + job_key


def restart_asked(job_key: str) -> bool:
    return bool(store.get(restart_key(job_key)))


def forget_restart(job_key: str):
    store.pop(restart_key(job_key))


def registered_files() -> dict:
    """kind -> paths: the uploads and downloads as ui.session.files sorted them (the live dict)."""
    return store.setdefault(store.FILES, {})
