"""Cached loaders. `st.cache_resource` holds things shared read-only by every session (loaded models,
latents matrices: one copy, no pickling per rerun); `st.cache_data` holds small derived arrays.
Every key carries the file's modification time and size, so an overwritten file is read again."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import streamlit as st


def stamp(path) -> tuple[str, int, int]:
    """(path, mtime_ns, size): a cache key that changes when the file does."""
    path = Path(path)
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@st.cache_resource(show_spinner=False)
def start_warm_up():
    """Compile the numba code of umap-learn and dcor once per process, in the background, so the
    first UMAP or distance correlation a user asks for is quick (cold, they take 20 s or more)."""
    thread = threading.Thread(target=_warm_up, name="numba-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up():
    try:
        from latentcore.analysis.embedding import warm_up
        from latentcore.analysis.rank import distance_correlation

        warm_up()
        values = np.linspace(0.0, 1.0, 50)
        distance_correlation(values, values ** 2)
    except Exception:  # a failed warm-up only costs the first user some seconds
        pass


@st.cache_data(show_spinner=False, max_entries=64)
def source_info(key: tuple) -> dict:
    from latentcore.data import open_source

    with open_source(key[0]) as reader:
        return reader.info().to_dict()


@st.cache_data(show_spinner=False, max_entries=32)
def source_preview(key: tuple, partition: str, count: int = 6) -> np.ndarray:
    """The first `count` items of a partition, for a glance at the data."""
    from latentcore.data import open_source

    with open_source(key[0]) as reader:
        return reader.read(partition, 0, min(count, reader.count(partition)))


@st.cache_data(show_spinner=False, max_entries=32)
def source_rows(key: tuple, partition: str, rows: tuple[int, ...]) -> np.ndarray:
    """Selected items (patterns, cutouts) for a gallery."""
    from latentcore.data import open_source

    with open_source(key[0]) as reader:
        return reader.read_rows(partition, list(rows))


@st.cache_resource(show_spinner="Loading the model...", max_entries=8)
def loaded_model(key: tuple, arch: str | None, options_json: str | None):
    """A model shared by every session, with the lock that serialises its use: extraction moves the
    module to a device, so two sessions must not use it at the same time."""
    from latentcore.models import load_model

    options = json.loads(options_json) if options_json else None
    return load_model(key[0], arch=arch, options=options), threading.Lock()


@st.cache_resource(show_spinner="Reading the latents...", max_entries=8)
def latents(key: tuple):
    """The latents file, read once and shared read-only by every session."""
    from latentcore.latents import read_latents

    result = read_latents(key[0])
    for rows in result.partitions.values():
        rows.flags.writeable = False
    return result


@st.cache_resource(show_spinner=False, max_entries=8)
def stacked_latents(key: tuple):
    """All partitions as one (N, D) matrix and the table naming each row (global row id = position)."""
    matrix, table = latents(key).stacked()
    matrix.flags.writeable = False
    return matrix, table


@st.cache_data(show_spinner="Aligning the band contrast...", max_entries=16)
def bandcontrast_for(bc_key: tuple, latents_key: tuple) -> np.ndarray:
    """Band contrast at each row of a scan's latents: the scan map they carry (`scan:<name>`, see
    ui.bandcontrast), or a table aligned by x,y value."""
    from latentcore.data.bandcontrast import align_to_coordinates, pick_point_map, read_bandcontrast, scan_map_name

    lat = latents(latents_key)
    if scan_map_name(bc_key[0]) is not None:
        return pick_point_map(lat.point_maps, bc_key[0], Path(latents_key[0]).name)[1].astype(np.float32)
    return align_to_coordinates(read_bandcontrast(bc_key[0]), lat.x, lat.y).astype(np.float32)


def devices() -> dict[str, str]:
    """Device choices with what is present: {"auto": "...", "cpu": "...", "cuda": "..."}."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    choices = {"auto": f"auto ({'GPU: ' + gpu if gpu else 'CPU: no GPU found'})",
               "cpu": "CPU"}
    if gpu:
        choices["cuda"] = f"GPU ({gpu})"
    return choices
