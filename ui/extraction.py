"""Running an extraction from the browser (the Extract page and the analysis pages' one-click
demo extraction), with a progress bar, and the guard the analysis pages start with."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import streamlit as st

from latentcore.demo import DEMO_MODEL

from . import loaders, state, widgets

DEMO_MODEL_LABEL = "Built-in demo VAE"


def model_choices() -> dict[str, dict]:
    """label -> {"path", "arch", "options"}: the demo VAE (when shipped), then the session's models."""
    choices = {}
    if DEMO_MODEL.exists():
        choices[DEMO_MODEL_LABEL] = {"path": str(DEMO_MODEL), "arch": "vae", "options": None}
    choices.update(state.models())
    return choices


def get_model(spec: dict):
    """(LoadedModel, lock) from the shared cache."""
    options = json.dumps(spec["options"], sort_keys=True) if spec.get("options") else None
    return loaders.loaded_model(loaders.stamp(spec["path"]), spec.get("arch"), options)


def latents_folder(source: Path, model, pool: str, partitions) -> Path:
    """One folder per (source, model, pooling, partitions): an existing latents file is reused only
    when it was made from the same inputs (extract_file skips by path)."""
    partitions = partitions or loaders.source_info(loaders.stamp(source))["partitions"]
    key = json.dumps([str(source), model.sha256, pool, sorted(partitions)])
    return state.workdir(f"latents/{hashlib.sha256(key.encode()).hexdigest()[:12]}")


def run_extraction(source: Path, spec: dict, *, device="auto", batch_size=64, pool="mean",
                   partitions=None, clobber=False):
    """Extract into the session's working directory with a progress bar; the result becomes the
    session's latents."""
    from latentcore.extract import extract_file

    with widgets.user_errors():
        model, lock = get_model(spec)
        bar = st.progress(0.0, text="Waiting for the model...")

        def progress(done, total, message):
            bar.progress(min(done / max(total, 1), 1.0), text=f"{message}: {done:,} / {total:,} items")

        if not lock.acquire(blocking=False):
            bar.progress(0.0, text="Another session is using this model: waiting for it to finish...")
            lock.acquire()
        try:
            bar.progress(0.0, text="Extracting...")
            result = extract_file(source, model, out_dir=latents_folder(source, model, pool, partitions), pool=pool,
                                  batch_size=int(batch_size), device=device, partitions=partitions,
                                  clobber=clobber, progress=progress)
        finally:
            lock.release()
    bar.progress(1.0, text="Reused the existing latents file" if result.skipped else "Done")
    state.set_latents(result.path)
    st.session_state["latents_model"] = {**spec, "pool": pool}  # to project new images later
    return result


def require_latents() -> tuple:
    """The session's latents cache key, or stop the page with a way forward."""
    path = state.latents()
    if path is not None:
        return loaders.stamp(path)
    st.info("No latents yet: extract them on the Extract page (or load a latents file on the Data page).",
            icon=":material/info:")
    demo = model_choices().get(DEMO_MODEL_LABEL)
    if state.is_demo() and demo and st.button("Extract the demo latents now", type="primary",
                                              key="require_latents_demo"):
        run_extraction(state.source(), demo)
        st.rerun()
    st.stop()


def require_scan(key: tuple):
    """Latents with x, y (a scan), or stop the page saying why."""
    lat = loaders.latents(key)
    if lat.x is None or lat.y is None:
        st.warning("These latents have no x, y coordinates: maps and clusters need a scan "
                   "(EBSD patterns), not cutouts or images.", icon=":material/warning:")
        st.stop()
    return lat


def features_as_latents(source: Path) -> Path:
    """A features file as a latents file the analysis pages read (see latentcore.latents.features_to_latents)."""
    from latentcore.latents import features_to_latents

    with widgets.user_errors():
        return features_to_latents(source, state.workdir("latents/features"))
