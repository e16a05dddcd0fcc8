"""The UMAP page's compute: the fitted 2-D embedding, nearest neighbours, a new image projected into it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from . import jobs, tasks
from .dispatch import pooled, pooled_or_running, runs_code
from .sources import get_model, latents, read_only, stacked_latents, stamp


def fitted_embedding(lat_stamp: tuple, method: str, n_neighbors: int, min_dist: float, seed: int, quality=None):
    """The fitted 2-D embedding of all rows (those the quality filter keeps, a QualityFilter), shared by every
    session (read-only): fitted in the worker pool (latentcore also caches it on disk by content hash, so a new
    server process reads it back)."""
    rows = _fitted_rows(lat_stamp, quality)
    return read_only(pooled(tasks.fit_embedding, f"{method.upper()} of {rows:,} latents", rows,
                  inline_rows=jobs.INLINE_FIT_ROWS if method == "umap" else None,
                  **embedding_args(lat_stamp, method, n_neighbors, min_dist, seed, quality)))


def _fitted_rows(lat_stamp: tuple, quality) -> int:
    from .scan_maps import quality_kept

    return int(quality_kept(lat_stamp, quality).sum()) if quality is not None else len(stacked_latents(lat_stamp)[0])


def on_every_row(coords, rows, n: int):
    """(n, 2) coordinates of the fitted `rows` (row ids, in order) at their ids, NaN at the rows left out."""
    if len(rows) == n:
        return coords
    out = np.full((n, coords.shape[1]), np.nan, np.float32)
    out[rows] = coords
    return read_only(out)


# A first UMAP of new latents takes tens of seconds (numba compiling on a new install, the fit, a worker starting;
# over two minutes at ten million rows): meanwhile the page shows their PCA, made here at once (a second at a
# million rows) up to this many rows, above them in a worker beside the fit (11-19 s at 10M rows from the click).
INTERIM_HERE_ROWS = 1_000_000


def embedding_shown(lat_stamp: tuple, method: str, n_neighbors: int, min_dist: float, seed: int, quality=None):
    """(fitted, fitting): the fitted 2-D embedding (of the rows the quality filter keeps) and None; or, while a UMAP
    fits in a worker, the rows' PCA (shown meanwhile; in a worker too above INTERIM_HERE_ROWS) and the fit's Job."""
    rows = _fitted_rows(lat_stamp, quality)
    if method != "umap":
        return fitted_embedding(lat_stamp, method, n_neighbors, min_dist, seed, quality), None
    fitted, fitting = pooled_or_running(tasks.fit_embedding, f"UMAP of {rows:,} latents", rows,
                                        inline_rows=jobs.INLINE_FIT_ROWS,
                                        **embedding_args(lat_stamp, method, n_neighbors, min_dist, seed, quality))
    if fitting is None:
        return read_only(fitted), None
    return read_only(pooled(tasks.fit_embedding, f"PCA of {rows:,} latents", rows, inline_rows=INTERIM_HERE_ROWS,
                            **embedding_args(lat_stamp, "pca", n_neighbors, min_dist, seed, quality))), fitting


def expected_fit(lat_stamp: tuple, quality=None) -> str:
    """"about 32 s: about 30 s compiling UMAP's code ...": how long these rows' UMAP is expected to take here."""
    from latentcore.analysis.embedding.fit import DEFAULT_SAMPLE_SIZE
    from latentcore.analysis.embedding.fit_time import expected_fit as expected

    return expected(_fitted_rows(lat_stamp, quality), DEFAULT_SAMPLE_SIZE).text


def embedding_args(lat_stamp: tuple, method: str, n_neighbors: int, min_dist: float, seed: int,
                   quality=None) -> dict:
    """`tasks.fit_embedding`'s arguments (a job's key: the same fit, the same job); the quality filter only when
    there is one (the unfiltered fit's key stays the same)."""
    return dict(latents=lat_stamp, method=method, n_neighbors=int(n_neighbors), min_dist=float(min_dist),
                seed=int(seed), **({"quality": quality} if quality is not None else {}))


# The server holds the latents it shows: searching them here (their norms kept: 0.2 s at 10M x 16 on 2 cores)
# beats a worker reading them again (4 s at 10M: docs/benchmarks.md); more rows than this go to a worker.
NEAREST_HERE_ROWS = 20_000_000


@st.cache_resource(show_spinner=False, max_entries=2)
def cosine_search(lat_stamp: tuple):
    """The latents' cosine search (their norms found once), shared by every session."""
    from latentcore.analysis.embedding.search import CosineSearch

    return CosineSearch(stacked_latents(lat_stamp)[0])


def nearest(lat_stamp: tuple, row: int, k: int):
    """(indices, cosine distances) of the `k` nearest rows of `row` in the latent space."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.nearest, f"Nearest neighbours of row {row}", rows, inline_rows=NEAREST_HERE_ROWS,
                  here=lambda: {"search": cosine_search(lat_stamp)}, latents=lat_stamp, row=int(row), k=int(k))


def row_at(lat_stamp: tuple, x: float, y: float) -> int:
    """The scan's row nearest the position (x, y) (here: one pass over the coordinates)."""
    from latentcore.analysis.embedding.search import row_at as nearest_row

    lat = latents(lat_stamp)
    return nearest_row(lat.x, lat.y, float(x), float(y))


def project_image(path: Path, spec: dict, embedding: dict, fitted, lat=None) -> dict:
    """Where a new image lands in the UMAP: an image through the model that made the latents (`spec`, with its
    "pool") into their fitted embedding (`embedding`: `embedding_args`; `fitted`: the page's fit).
    Here, with the server's shared model and fit, for small latents; in a worker otherwise."""
    from latentcore.domain import latents_kind

    model = {"path": spec["path"], "arch": spec.get("arch"), "options": spec.get("options"),
             "stamp": stamp(spec["path"])}
    kind = latents_kind(lat.attrs) if lat is not None else None
    rows = len(stacked_latents(embedding["latents"])[0])
    return pooled(tasks.project_image, f"Projecting {Path(path).name}", rows,
                  here=lambda: {"model": get_model(spec), "embedding": fitted}, dedicated=runs_code(spec),
                  image=stamp(path), model=model, embedding=embedding,
                  pool=spec.get("pool", "mean"), data_kind=kind)


def compare_sources(lat_stamp: tuple, first: int, second: int, k: int) -> tuple:
    """How source `second` of a study differs from source `first` (indices), with the study's k-means of `k`
    clusters (`tasks.compare_sources`, in the worker pool at scale): (the shift, the fractions of every source, the
    clustering); shared."""
    from .sources import study

    found = study(lat_stamp)
    names = found.names[first], found.names[second]
    return pooled(tasks.compare_sources, f"Comparing {names[0]} with {names[1]}", found.rows, study=lat_stamp,
                  first=int(first), second=int(second), k=int(k))
