"""The Clusters page's compute: its ClusterJob, the run (in the worker pool at scale: it clusters once and
writes the assignments CSV), the panels' colours on its rows, and the downloads made from that same run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from ..session import workspace
from . import tasks
from .dispatch import pooled
from .scan_maps import roi_rows, scan_grid
from .sources import latents, read_only, stacked_latents


def cluster_job(lat_stamp: tuple, bandcontrast, method: str, dim: int, features: str, params: dict, roi,
                smooth: float = 0.0, quality=None):
    """The page's ClusterJob; `bandcontrast` (a BandContrast) None: none (whole vectors only); `quality` the shared
    quality filter (a QualityFilter, None: off)."""
    from latentcore.analysis.artifacts.cluster import ClusterJob

    return ClusterJob(latents=lat_stamp[0], bandcontrast=bandcontrast, method=method, dim=int(dim),
                      features=features, params=params, roi=roi, smooth=smooth, quality=quality)


def cluster_run(lat_stamp: tuple, job, out_dir: str) -> dict:
    """The page's clustering of a file or a study (in the worker pool at scale), which writes the assignments CSV
    (and a study's fractions) into the job's folder in `out_dir` (`tasks.cluster_run`): the same inputs and call as
    the CLI's, so the picture and the files agree. Returns what `tasks.cluster_run` does; shared, read-only."""
    lat = latents(lat_stamp)
    count = len(roi_rows(lat_stamp, job.roi)) if lat.x is not None else \
        len(lat.partitions[job.partition or next(iter(lat.partitions))])
    return read_only(pooled(tasks.cluster_run, f"Clustering ({job.method})", count, job=job,
                            out_dir=job_folder(lat_stamp, job, out_dir), root=str(workspace.WORKDIR_ROOT),
                            latents=lat_stamp))  # the latents' stamp: a rewritten file is a new job


def job_folder(lat_stamp: tuple, job, out_dir: str) -> str:
    """The job's own folder in `out_dir`: jobs that differ only in a parameter their files' names leave out
    (a GMM's components, say) never write over each other's files."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps([job.key, list(lat_stamp)]).encode()).hexdigest()[:12]
    return str(Path(out_dir) / f"{job.tag}-{digest}")


@st.cache_resource(show_spinner=False, max_entries=16)
def cluster_view(lat_stamp: tuple, job, out_dir: str, shade: bool = False):
    """What the two panels draw, computed once per clustering: the colour codes (each cluster's hue;
    with `shade`, darker to lighter with the latent's rank in its cluster), the grid, the map of codes
    and each row's cell (the last three None for latents without coordinates)."""
    from ..figures.plots import cluster_shade_colour

    run = cluster_run(lat_stamp, job, out_dir)
    return _on_run_grid(lat_stamp, run, cluster_shade_colour(run["labels"], run["latent"], shade))


def _on_run_grid(lat_stamp: tuple, run: dict, colour):
    """(colour, grid, map of its codes, each row's cell) over a clustering's rows; the last three None for latents
    without coordinates. A clustering of every row in order takes the scan's own grid and cells (`scan_grid`: the
    UMAP page's map and the latent maps share them; 10M rows: 160 MB and 0.3-0.6 s placed again); one of some rows
    (an ROI, the quality filter) is placed on the grid of its own bounding box."""
    from latentcore.analysis.maps import placed_rows, values_on

    if run["x"] is None or run["sources"] is not None:  # no coordinates; a study's scans: each on its own grid
        return read_only((colour, None, None, None))
    rows = run["rows"]
    if len(rows) == len(stacked_latents(lat_stamp)[0]) and np.array_equal(rows, np.arange(len(rows))):
        grid, cells = scan_grid(lat_stamp)
    else:  # each row's (grid row, grid column), to paint selections; one row a pixel, checked
        _, grid, cells = placed_rows(run["x"], run["y"])
    return read_only((colour, grid, values_on(colour.codes.astype(np.float32), grid, cells), cells))


@st.cache_resource(show_spinner=False, max_entries=8)
def cluster_label_view(lat_stamp: tuple, job, out_dir: str, labels_digest: str, _labelled):
    """`cluster_view` coloured by the labels (`_labelled`, keyed by `labels_digest`) instead of the clusters."""
    from latentcore.analysis.labels.labelled import codes_per_row

    from ..figures.plots import label_colour

    run = cluster_run(lat_stamp, job, out_dir)
    codes = codes_per_row(_labelled, len(stacked_latents(lat_stamp)[0]))[run["rows"]]
    return _on_run_grid(lat_stamp, run, label_colour(codes, _labelled.classes))


def scatter_view(lat_stamp: tuple, job, out_dir: str, umap_settings: tuple, run: dict):
    """(what the scatter shows, an `artifacts.cluster.ScatterView`; its (N, 2) coordinates): the run's own view,
    but whole vectors on the UMAP of these rows when the workspace has fitted one with the UMAP page's
    `umap_settings` (neighbours, min distance, seed) rather than on their principal components. No UMAP is fitted
    here; made once per clustering and UMAP file, so a selection's rerun gathers and stacks nothing (10M rows:
    0.26 s a rerun)."""
    return _scatter_view(lat_stamp, job, out_dir, *workspace_umap_file(lat_stamp, *umap_settings), run)


@st.cache_resource(show_spinner=False, max_entries=2)  # 10M rows: 160 MB of coordinates an entry
def _scatter_view(lat_stamp: tuple, job, out_dir: str, umap_file: str | None, umap_mtime_ns: int | None, _run: dict):
    from latentcore.analysis.artifacts.cluster import umap_view

    view = _run["view"]
    if view.kind == "pca" and umap_file is not None:
        view = umap_view(_cached_coords(umap_file, umap_mtime_ns)[_run["rows"]])
    return view, read_only(view.coords())


def workspace_umap_file(lat_stamp: tuple, n_neighbors: int, min_dist: float, seed: int) -> tuple:
    """(the file, its mtime in ns) of the UMAP of every row the UMAP page fitted with these settings (in
    latentcore's embedding cache, where the page's fit lands), or (None, None) when it has not been fitted."""
    from latentcore.analysis.embedding.cache import default_cache_dir

    path = _umap_cache_file(lat_stamp, int(n_neighbors), float(min_dist), int(seed), str(default_cache_dir()))
    if path is None or not Path(path).is_file():
        return None, None
    return path, Path(path).stat().st_mtime_ns


@st.cache_data(show_spinner=False, max_entries=16)
def _umap_cache_file(lat_stamp: tuple, n_neighbors: int, min_dist: float, seed: int, cache_dir: str) -> str | None:
    """Where `tasks.fit_embedding` (the UMAP page's fit) caches this UMAP in `cache_dir`: by its members' SHA-256
    (`embedding.study.embedding_cache_file`; a file is a study of one); once per latents and settings."""
    from latentcore.analysis.embedding.study import embedding_cache_file
    from latentcore.study import as_study

    path = embedding_cache_file(as_study(lat_stamp[0], verify=False), "umap", n_neighbors=n_neighbors,
                                min_dist=min_dist, random_state=seed, cache_dir=cache_dir)
    return None if path is None else str(path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_coords(path: str, mtime_ns: int):
    from latentcore.analysis.embedding.fitted import load_embedding

    return read_only(load_embedding(path).coords)


@st.cache_data(show_spinner=False, max_entries=16)
def cluster_files(lat_stamp: tuple, job, out_dir: str, dpi: float, view_kind: str, figure: bool, _run: dict,
                  _view) -> dict:
    """The downloads of the run on screen (`_run`: `cluster_run(lat_stamp, job, out_dir)`; `_view`: what its
    scatter shows, of kind `view_kind`): its CSV, written by the run, and, with `figure` (one scan), the PNG at `dpi`
    and the JSON report, written now from the run (no clustering again) beside it, once per job and view; returns
    {"assignments"|"report"|"figure": path}."""
    from latentcore.analysis.artifacts.cluster import cluster_names, with_figure, write_cluster_figure
    from latentcore.analysis.artifacts.common import write_json

    out_dir, report = Path(job_folder(lat_stamp, job, out_dir)), _run["file_report"]
    if figure:  # the clusters on the scan
        engine = write_cluster_figure(job, out_dir, _run["x"], _run["y"], _run["latent"], _view, _run["labels"],
                                      _run["units"], dpi=dpi)
        report = with_figure(job, report, engine, view_kind)
    names = cluster_names(job, view_kind)
    write_json(out_dir / names["report"], report)
    return {kind: str(out_dir / name) for kind, name in names.items()}


@st.cache_data(show_spinner=False, max_entries=16)
def source_figure_file(lat_stamp: tuple, job, out_dir: str, dpi: float, view_kind: str, index: int, _run: dict,
                       _view) -> str:
    """Source `index`'s clusters of a study's run on screen (`_run`, `_view` as `cluster_files`'), its map beside
    its rows on the scatter, written at `dpi` in the job's folder as `cluster STUDY --png` names it; once per job,
    view and source."""
    from latentcore.analysis.artifacts.cluster_run import source_figure, source_figure_name
    from latentcore.figures import write_png

    name = _run["source_names"][index]
    figure = source_figure(job, _run["x"], _run["y"], _run["latent"], _view, _run["labels"], _run["units"],
                           _run["sources"], index, name)
    path = Path(job_folder(lat_stamp, job, out_dir)) / source_figure_name(job, view_kind, name)
    write_png(figure, path, dpi=dpi)
    return str(path)


def kmeans_labels(lat_stamp: tuple, k: int) -> np.ndarray:
    """K-means of the whole latent vectors (standardised, seeded), e.g. to colour cutouts."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.kmeans_labels, f"K-means (k={k})", rows, latents=lat_stamp, k=int(k))
