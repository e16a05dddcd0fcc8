"""What a browser session remembers: its workspace (the folder the URL names), the chosen source
and band contrast, the latents file, uploaded models, the selection (global row ids) shared by every
panel, and the pages' settings. `init_session` opens or restores the workspace at the start of every
run; `save_session` writes it back at the end (ui.workspace has the format and the rules)."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st

from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN
from latentcore.storage import short_name

from . import workspace

WORKDIR_ROOT = Path(os.environ.get("LATENT_EXPLORER_WORKDIR", Path(tempfile.gettempdir()) / "latent-explorer"))
SOURCE, BANDCONTRAST, LATENTS, SELECTION, MODELS = "source", "bandcontrast", "latents", "selection", "models"
WORKSPACE, SETTINGS, LATENTS_MODEL, FILES = "workspace_id", "_settings", "latents_model", "_files"


def init_session():
    """Open the workspace the URL names (restoring it), or a new one with the built-in demo; put its
    id in the URL; bring back the settings of widgets a page left out on its last run."""
    wanted = st.query_params.get("workspace")
    if st.session_state.get(WORKSPACE) is None or (wanted and wanted != st.session_state[WORKSPACE]):
        _open_workspace(wanted)
    if st.query_params.get("workspace") != st.session_state[WORKSPACE]:
        st.query_params["workspace"] = st.session_state[WORKSPACE]
    st.session_state.setdefault(MODELS, {})
    st.session_state.setdefault(SELECTION, np.empty(0, np.int64))
    if st.session_state.pop("_reset_data_widgets", False):
        for key in [k for k in st.session_state if isinstance(k, str) and workspace.DATA_SETTING.fullmatch(k)]:
            del st.session_state[key]
    for key, value in st.session_state.get(SETTINGS, {}).items():
        if key not in st.session_state:  # Streamlit drops a widget's value when a run leaves it out
            st.session_state[key] = tuple(value) if key.endswith(("roi_x", "roi_y", "_krange")) else value


def _open_workspace(wanted):
    for key in list(st.session_state):  # another workspace's things must not leak into this one
        del st.session_state[key]
    path = workspace.folder(WORKDIR_ROOT, wanted) if workspace.is_valid_id(wanted) else None
    if path is not None and path.is_dir():
        record, chosen = workspace.load(path)
        st.session_state.update({WORKSPACE: wanted, "workdir": str(path), SOURCE: record["source"],
                                 BANDCONTRAST: record["bandcontrast"], LATENTS: record["latents"],
                                 MODELS: record["models"], SETTINGS: record["settings"], SELECTION: chosen,
                                 FILES: record["files"]})
        spec = record.get(LATENTS_MODEL)
        if isinstance(spec, dict) and workspace.confined(spec.get("path"), path):
            st.session_state[LATENTS_MODEL] = spec
        return
    if wanted:
        st.toast("That workspace does not exist (or was cleaned up): a new one was started.",
                 icon=":material/info:")
    workspace_id, path = workspace.create(WORKDIR_ROOT)
    st.session_state.update({WORKSPACE: workspace_id, "workdir": str(path), SETTINGS: {}})
    use_demo()


def save_session():
    """Write the workspace's record and selection (after every run; unchanged files are not rewritten)."""
    if st.session_state.get(WORKSPACE) is None:
        return
    settings = st.session_state.setdefault(SETTINGS, {})
    settings.update(workspace.settings_of(st.session_state))
    if st.session_state.pop("_forget_data_settings", False):
        _drop_data_settings(settings)
        st.session_state["_reset_data_widgets"] = True
    record = {key: st.session_state.get(key) for key in (SOURCE, BANDCONTRAST, LATENTS, MODELS, LATENTS_MODEL)}
    record[SETTINGS.strip("_")] = settings
    record[FILES.strip("_")] = st.session_state.get(FILES, {})  # uploads, as ui.files sorted them
    workspace.save(Path(st.session_state.workdir), record, selection())


def forget_data_settings():
    """Settings tied to the data (dimensions, ROI, colour column) do not carry over to new data. They
    are dropped after this run and their widgets reset before the next one (a widget drawn in this
    run cannot lose its value now)."""
    st.session_state["_forget_data_settings"] = True


def _drop_data_settings(settings: dict):
    for key in [k for k in settings if workspace.DATA_SETTING.fullmatch(k)]:
        settings.pop(key)


def workdir(sub: str = "") -> Path:
    """A folder inside the session's workspace."""
    path = Path(st.session_state.workdir) / sub
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_name(name: str) -> str:
    """An uploaded file's name, reduced to its last part with only harmless characters, short
    enough for any file system."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).lstrip(".")
    return short_name(name) or "upload"


def save_upload(uploaded, sub: str = "uploads") -> Path:
    """Write an `st.file_uploader` file into the session's working directory (temporary name first)
    under a name no other upload has (`a b.h5` and `a_b.h5` both become `a_b.h5`: the second is
    `a_b-2.h5`), so that no upload replaces another."""
    target = claim_name(workdir(sub), safe_name(uploaded.name))
    tmp = target.with_name(target.name + ".partial")
    try:
        with open(tmp, "wb") as f:
            for chunk in iter(lambda: uploaded.read(1 << 22), b""):
                f.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        target.unlink(missing_ok=True)  # the claimed (empty) name
        raise
    return target


def claim_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `stem-2.ext`, `stem-3.ext`...: the first that does not exist, created empty
    (O_EXCL) so that two uploads at the same moment cannot claim it both."""
    stem, suffix = name[:len(name) - len(Path(name).suffix)], Path(name).suffix
    for number in range(1, 10_000):
        path = folder / (name if number == 1 else f"{stem}-{number}{suffix}")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return path
        except FileExistsError:
            continue
    raise OSError(f"no free name for {name} in {folder}")


def use_demo():
    set_source(DEMO_SCAN, DEMO_BANDCONTRAST)


def is_demo() -> bool:
    return st.session_state.get(SOURCE) == str(DEMO_SCAN)


def set_source(path, bandcontrast=None):
    """A new source invalidates the latents and the selection made on the old one."""
    st.session_state[SOURCE] = str(path) if path else None
    st.session_state[BANDCONTRAST] = str(bandcontrast) if bandcontrast else None
    st.session_state[LATENTS] = None
    forget_data_settings()
    clear_selection()


def source() -> Path | None:
    value = st.session_state.get(SOURCE)
    return Path(value) if value else None


def bandcontrast() -> str | None:
    """The band-contrast choice: `scan:<map name>` (the scan's own map) or a table's path (ui.bandcontrast)."""
    return st.session_state.get(BANDCONTRAST) or None


def set_bandcontrast(spec):
    st.session_state[BANDCONTRAST] = str(spec) if spec else None


PNG_DPI = "png_dpi"


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
    _forget_events()
    st.session_state[SELECTION] = np.unique(np.asarray(row_ids, dtype=np.int64))
    st.session_state["selection_origin"] = origin


def clear_selection():
    set_selection(np.empty(0, np.int64))


def _forget_events():
    """Drop the charts' last seen selection events, so the same box drawn again counts again."""
    for name in [k for k in st.session_state if str(k).startswith("_event_")]:
        del st.session_state[name]
