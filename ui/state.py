"""What a browser session remembers: its working directory, the chosen source and band contrast,
the latents file, uploaded models, and the selection (global row ids) shared by every panel."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st

from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN
from latentcore.storage import short_name

WORKDIR_ROOT = Path(os.environ.get("LATENT_EXPLORER_WORKDIR", Path(tempfile.gettempdir()) / "latent-explorer"))
SOURCE, BANDCONTRAST, LATENTS, SELECTION, MODELS = "source", "bandcontrast", "latents", "selection", "models"


def init_session():
    """First visit: a private working directory, and the built-in demo as the data."""
    if "workdir" not in st.session_state:
        WORKDIR_ROOT.mkdir(parents=True, exist_ok=True)
        st.session_state.workdir = tempfile.mkdtemp(prefix="session-", dir=WORKDIR_ROOT)
        use_demo()
    st.session_state.setdefault(MODELS, {})
    st.session_state.setdefault(SELECTION, np.empty(0, np.int64))


def workdir(sub: str = "") -> Path:
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
