"""Cached calls into latentcore's analysis for the pages. Keys are file stamps (`loaders.stamp`) and
plain parameters, so a result is computed once per input and shared by reruns and sessions."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import streamlit as st

from . import jobs, loaders, state
from .kept import Kept


# -- the worker pool ----------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def app_pool() -> jobs.JobPool:
    """One pool per server process, shared by every session."""
    return jobs.JobPool(state.WORKDIR_ROOT / "jobs")


_INLINE = Kept(32)  # job key -> result of a small job run in this process, shared by sessions


def pooled(task: str, label: str, rows: int, inline_rows: int | None = None, **kwargs):
    """The task's result. Small inputs (<= `inline_rows`, default jobs.INLINE_ROWS) run here; others
    go to the worker pool, and until their result is in, the page shows the job's progress and a cancel button and
    stops (it reruns by itself when the job ends; other widgets stay usable meanwhile)."""
    key = jobs.job_key(task, kwargs)
    if rows <= (jobs.INLINE_ROWS if inline_rows is None else inline_rows):
        def run_here():
            with st.spinner(f"{label}..."):
                return jobs.run_inline(task, **kwargs)
        return _INLINE.get(key, run_here)
    pool = app_pool()
    job = pool.jobs.get(key)
    if job is not None and job.cancelled() and not st.session_state.get(f"_restart_{key}"):
        st.info(f"{label}: cancelled.", icon=":material/cancel:")
        st.button("Start it again", key=f"_restart_{key}", icon=":material/replay:")
        st.stop()
    st.session_state.pop(f"_restart_{key}", None)
    job = pool.submit(task, label, **kwargs)
    if job.done() and not job.cancelled():
        error = job.future.exception()
        if error is not None:
            raise error  # latentcore errors become a message (widgets.user_errors)
        return job.future.result()
    watch(job)
    st.stop()


@st.fragment(run_every=0.5)
def watch(job: jobs.Job):
    """The job's progress, redrawn alone twice a second; the whole page reruns when it ends."""
    if job.done():
        st.rerun(scope="app")
    fraction, message = job.progress()
    cols = st.columns([5, 1])
    cols[0].progress(min(max(fraction, 0.0), 1.0),
                     text=f"{job.label}: {message} ({time.time() - job.started:.0f} s, in a worker process)")
    if cols[1].button("Cancel", key=f"_cancel_{job.key}", icon=":material/cancel:"):
        job.cancel()
        st.rerun(scope="app")


# -- ROI and maps -------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=32)
def roi_rows(lat_key: tuple, roi: tuple | None) -> np.ndarray:
    """Row ids of the scan's pixels inside the ROI (all rows without one)."""
    from latentcore.analysis.maps import Roi

    lat = loaders.latents(lat_key)
    if roi is None:
        return np.arange(len(lat.x), dtype=np.int64)
    return np.flatnonzero(Roi(*roi).mask(lat.x, lat.y))


@st.cache_data(show_spinner="Building the maps...", max_entries=16)
def latent_maps(lat_key: tuple, dims: tuple[int, ...], roi: tuple | None, smooth: float = 0.0):
    """(maps (len(dims), rows, cols) float32, Grid) over the ROI, smoothed over the ROI's grid
    when `smooth` (sigma in grid steps) > 0, as `python -m latentcore maps --smooth`."""
    from latentcore.analysis.maps import Roi, spatial_maps
    from latentcore.analysis.smoothing import smooth_maps

    lat = loaders.latents(lat_key)
    rows = next(iter(lat.partitions.values()))
    maps, grid, _ = spatial_maps(rows, lat.x, lat.y, list(dims), roi=Roi(*roi) if roi else None)
    return smooth_maps(maps, smooth), grid


# -- clustering ---------------------------------------------------------------------------------

def cluster_job(lat_key, bc_key, method, dim, features, params, roi, smooth: float = 0.0):
    from latentcore.analysis.artifacts import ClusterJob

    return ClusterJob(latents=lat_key[0], bandcontrast=bc_key[0], method=method, dim=int(dim),
                      features=features, params=params, roi=list(roi) if roi else None, smooth=smooth)


def cluster_run(lat_key: tuple, bc_key: tuple, job_json: str) -> dict:
    """The page's clustering (in the worker pool at scale): the same inputs and call as the
    downloadable artifacts, so the picture and the CSV agree. Returns x, y, latent, bandcontrast,
    labels, rows, report."""
    job = json.loads(job_json)
    rows = roi_rows(lat_key, tuple(job["roi"]) if job["roi"] else None)
    run = pooled("cluster_run", f"Clustering ({job['method']})", len(rows), job_json=job_json,
                 inputs=[lat_key, bc_key])  # the files' stamps: a rewritten file is a new job
    return {**run, "rows": rows}


@st.cache_data(show_spinner=False, max_entries=32)
def column_colour(lat_key: tuple, column: str):
    """Colour codes of a metadata column (categories are factorised once, not on every rerun)."""
    from .plots import column_colour as colour_of

    _, table = loaders.stacked_latents(lat_key)
    return colour_of(table[column].to_numpy(), column)


def table_csv(table, extra: dict, selected) -> str:
    """The rows with their embedding and a `selected` flag, as CSV (built when downloaded)."""
    out = table.assign(**extra)
    out["selected"] = np.isin(np.arange(len(out)), selected)
    return out.to_csv(index_label="row_id")


def kmeans_labels(lat_key: tuple, k: int) -> np.ndarray:
    """K-means of the whole latent vectors (standardised, seeded), e.g. to colour cutouts."""
    rows = len(loaders.stacked_latents(lat_key)[0])
    return pooled("kmeans_labels", f"K-means (k={k})", rows, latents=lat_key, k=int(k))


@st.cache_data(show_spinner=False, max_entries=16)
def cluster_view(lat_key: tuple, bc_key: tuple, job_json: str):
    """What the two panels draw, computed once per clustering: the colour codes (cluster hue, shade by
    the latent's rank in its cluster), the grid and the map of codes."""
    from latentcore.analysis.maps import Grid, values_map

    from .plots import cluster_shade_colour

    run = cluster_run(lat_key, bc_key, job_json)
    grid = Grid.from_coordinates(run["x"], run["y"])
    colour = cluster_shade_colour(run["labels"], run["latent"])
    cells = grid.indices(run["x"], run["y"])  # each row's (grid row, grid column), to paint selections
    return colour, grid, values_map(colour.codes.astype(np.float32), run["x"], run["y"], grid), cells


def painted(grid, cells, chosen) -> np.ndarray:
    """A grid mask, True on the cells of the chosen rows (`cells` = each row's grid indices)."""
    mask = np.zeros(grid.shape, bool)
    mask[cells[0][chosen], cells[1][chosen]] = True
    return mask


@st.cache_data(show_spinner=False, max_entries=16)
def roi_cells(lat_key: tuple, roi: tuple | None):
    """The ROI's rows and each one's (grid row, grid column) on the ROI's map grid."""
    from latentcore.analysis.maps import Grid

    lat = loaders.latents(lat_key)
    rows = roi_rows(lat_key, roi)
    grid = Grid.from_coordinates(lat.x[rows], lat.y[rows])
    return rows, grid.indices(lat.x[rows], lat.y[rows])


@st.cache_data(show_spinner=False, max_entries=16)
def cluster_files(lat_key: tuple, bc_key: tuple, job_json: str, out_dir: str, dpi: float = 300) -> dict:
    """Write the CSV, JSON report and PNG at `dpi` (once per job); returns {"assignments"|"report"|"figure": path}."""
    from latentcore.analysis.artifacts import ClusterJob, cluster_names, run_cluster_job

    job = ClusterJob(**json.loads(job_json))
    run_cluster_job(job, out_dir, dpi=dpi)
    return {kind: str(Path(out_dir) / name) for kind, name in cluster_names(job.tag).items()}


def job_json(job) -> str:
    return json.dumps(dataclasses.asdict(job), sort_keys=True, default=str)


# -- embedding ----------------------------------------------------------------------------------

def fitted_embedding(lat_key: tuple, method: str, n_neighbors: int, min_dist: float, seed: int):
    """The fitted 2-D embedding of all rows, shared by every session: fitted in the worker pool
    (latentcore also caches it on disk by content hash, so a new server process reads it back)."""
    rows = len(loaders.stacked_latents(lat_key)[0])
    return pooled("fit_embedding", f"{method.upper()} of {rows:,} latents", rows,
                  inline_rows=jobs.INLINE_FIT_ROWS if method == "umap" else None, latents=lat_key, method=method,
                  n_neighbors=int(n_neighbors), min_dist=float(min_dist), seed=int(seed))


@st.cache_data(show_spinner=False, max_entries=16)
def scan_codes(lat_key: tuple, colour_key: str, _codes: np.ndarray):
    """A scan's colour codes on its grid: (grid, code map, each row's (grid row, grid column))."""
    from latentcore.analysis.maps import Grid, values_map

    lat = loaders.latents(lat_key)
    grid = Grid.from_coordinates(lat.x, lat.y)
    return grid, values_map(np.asarray(_codes, np.float32), lat.x, lat.y, grid), grid.indices(lat.x, lat.y)


# -- ranking ------------------------------------------------------------------------------------

def ranking(lat_key: tuple, bc_key: tuple | None, references: tuple[str, ...], metrics: tuple[str, ...],
            components: int, roi: tuple | None, source_key: tuple | None):
    """Score table of every dimension against the chosen reference maps, over the ROI's rows (in the
    worker pool at scale)."""
    rows = len(loaders.stacked_latents(lat_key)[0])
    return pooled("rank", "Ranking the dimensions", rows, latents=lat_key, bandcontrast=bc_key,
                  references=list(references), metrics=list(metrics), components=int(components),
                  roi=list(roi) if roi else None, source=source_key)


def reference_maps(lat_key: tuple, bc_key: tuple | None, components: int, source_key: tuple | None) -> dict:
    """name -> per-row values: band contrast (aligned by x, y), PCA components of the raw patterns,
    and the numeric metadata columns of cutouts (in the worker pool at scale)."""
    rows = len(loaders.stacked_latents(lat_key)[0])
    return pooled("reference_maps", "Preparing the reference maps", rows, latents=lat_key, bandcontrast=bc_key,
                  components=int(components), source=source_key)


@st.cache_data(show_spinner="Writing the ranking files...", max_entries=8)
def ranking_files(table, out_dir: str, inputs: dict, top: int, tag: str) -> dict:
    from latentcore.analysis.rank import write_ranking

    return {kind: str(path) for kind, path in write_ranking(table, out_dir, inputs=inputs, top=top, tag=tag).items()}


def figure_png(fig, path: str, dpi: float = 300) -> bytes:
    """The figure the browser shows, as a PNG at `dpi` (kaleido, or matplotlib without a browser)."""
    from latentcore import figures

    figures.write_png(fig, path, dpi=dpi)
    return Path(path).read_bytes()

def embedding_npz(fitted, path: str) -> bytes:
    from latentcore.analysis.embedding import save_embedding

    return save_embedding(path, fitted).read_bytes()
