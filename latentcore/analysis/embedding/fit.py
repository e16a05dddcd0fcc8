"""2-D (or n-D) embeddings of latents: UMAP (umap-learn) and PCA, seeded, cached on disk, projectable.

Entry points
------------
- `embed(latents, method="umap"|"pca", ...) -> (N, n_components) float32`: the coordinates.
- `fit_embedding(...)` (same arguments) -> `FittedEmbedding`: the coordinates plus what is needed to
  project new latents (`.transform(new_latents)`).
- `save_embedding(path, fitted)` / `load_embedding(path)`: a fitted embedding as a plain `.npz`.
- `cache_file_of(...)` (`fit_embedding`'s arguments): where that fit is cached, to tell whether it was made
  (another page draws on a UMAP only when one was fitted: it does not start one).
- `embedding_names(latents, method)`: the files of an embedding (its table, figure, saved fit), as the CLI's
  `umap` and the UMAP page name them; `embedding_table(table, coords, method, ...)`: its table's columns.
- `warm_up()`: compile umap-learn's code once, through a tiny seeded fit (the app calls it in a
  background thread at start; every process's first UMAP fit goes through it, under `cache_lock`, so
  two processes never fill numba's on-disk cache at once).
umap-learn itself is imported through `umap_numba` (numba's on-disk cache).

The fast path (`fast=True`, the default)
----------------------------------------
umap-learn's seeded fit is single-threaded and slow for hundreds of thousands of rows, its
`transform` spends most of its time in a Python loop, and its NN-descent (pynndescent) compiles for
minutes in a new process. Instead:
1. a seeded sample of `sample_size` rows (default `DEFAULT_SAMPLE_SIZE`; every row when N is
   smaller) is drawn;
2. for the euclidean metric and D > `FAST_PCA_DIMS`, a PCA fitted on the sample reduces every row to
   `FAST_PCA_DIMS` dimensions (cheap, keeps the neighbourhoods that UMAP sees);
3. the sample's exact kNN graph is computed with scikit-learn (brute force, BLAS, all cores) and
   handed to umap-learn (`precomputed_knn`), which fits the sample, seeded;
4. every other row is placed at the inverse-distance weighted mean of the embedding of its
   `PLACE_NEIGHBORS` nearest sample rows. Their search runs in a background thread while umap-learn
   fits (its seeded optimisation uses one core): exact (scikit-learn brute force) when queries x
   sample rows < `GRAPH_SEARCH_MIN_PAIRS` or the metric is not euclidean, else a walk of the sample's
   own kNN graph (`graph_search.GraphIndex`: the same graph UMAP was given, not a second search).
   The walk finds 99.95 % of the exact neighbours and places 99.9 % of the rows exactly where the
   exact search does (1M x 128; measured by benchmarks/umap_scale.py, bounded in
   tests/engine/test_embedding.py) at a fraction of the cost: 970,000 rows against 30,000 took 111.7 s by
   brute force at 2 threads, the walk about 15 CPU seconds. With a GPU (torch sees CUDA), every
   euclidean search is the exact one, on the device.
Projecting new latents (`FittedEmbedding.transform`) is the same placement as step 4 (the reference
rows' kNN graph recomputed from them, exactly as in the fit), so a saved embedding needs no pickled
UMAP object. `fast=False` is plain umap-learn on every row
(`UMAP(random_state=...).fit_transform`); its projection uses the same placement, against a seeded
subsample of at most `sample_size` fitted rows.

Cache
-----
Results are stored in `cache_dir` (default: `$LATENT_EXPLORER_CACHE`, else
`~/.cache/latent-explorer/embeddings`) as `<method>-<digest>.npz` in the `save_embedding` format, where `digest` is
the SHA-256 of the float32 latents bytes, their shape, every parameter, the algorithm version and the
umap-learn version. A second call with the same input is one file read. Files are written under a
temporary name and renamed when complete. `cache_dir=False` turns the cache off.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ...columns import ROW, beside, coordinate_names, embedding_name
from ...data._npy import read_npz
from ...errors import InputError
from ...storage.local import atomic_path
from .._validation import check_int, check_matrix, check_number
from ...sampling import seeded_sample
from .umap_numba import cache_lock, quiet_umap, umap_module

METHODS = ("umap", "pca")
# Metrics that scikit-learn's brute-force kNN and umap-learn both know, with no extra parameters.
METRICS = ("euclidean", "cosine", "correlation", "manhattan", "chebyshev", "canberra", "braycurtis")
CACHE_ENV = "LATENT_EXPLORER_CACHE"
DEFAULT_CACHE_DIR = Path("~/.cache/latent-explorer/embeddings")
DEFAULT_SAMPLE_SIZE = 30_000   # rows UMAP is fitted on in the fast path (and kept for projection)
FAST_PCA_DIMS = 48             # euclidean latents wider than this are PCA-reduced in the fast path
PLACE_NEIGHBORS = 5            # sample neighbours averaged to place a row (fewer blur less)
# Placement walks the reference rows' kNN graph above this many query x reference pairs (about a
# second of brute force on two cores); below it, the exact search is as quick and exact.
GRAPH_SEARCH_MIN_PAIRS = 200_000_000
REDUCE_BLOCK_ROWS = 65_536     # rows per PCA block (fixed: the bits must not depend on the threads)
ALGORITHM_VERSION = "2"        # bump when results for the same parameters change
FORMAT_VERSION = 1             # of the saved .npz


# ----------------------------------------------------------------------------------------------
# The fitted embedding and its file
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class FittedEmbedding:
    """An embedding of N latents and what is needed to place new latents into it.

    coords:             (N, n_components) float32, the embedding of the fitted latents (row order kept).
    reference_index:    (M,) int64, rows of the fitted latents kept as projection neighbours (UMAP only;
                        the fitted sample in the fast path, a seeded subsample of at most `sample_size`
                        rows otherwise).
    reference_latents:  (M, D) float32, those rows' latents, as given (before any PCA).
    reference_coords:   (M, n_components) float32, their embedding.
    pca_mean, pca_components: (D,) and (P, D) float32: the PCA applied before neighbour search (UMAP fast
                        path), or the PCA itself (method "pca"); empty arrays when no PCA is used.
    params:             every parameter of the fit (JSON-serialisable), including the internal ones.
    """

    method: str
    coords: np.ndarray
    reference_index: np.ndarray
    reference_latents: np.ndarray
    reference_coords: np.ndarray
    pca_mean: np.ndarray
    pca_components: np.ndarray
    params: dict

    @property
    def n_features(self) -> int:
        return int(self.params["n_features"])

    def transform(self, new_latents, *, reference_graph=None, walk=None) -> np.ndarray:
        """Coordinates of new latents (M, D) in this embedding, float32 (M, n_components).

        PCA: the exact linear projection. UMAP: the inverse-distance weighted mean of the embedding
        of the `PLACE_NEIGHBORS` nearest reference rows (searched after the stored PCA, if any, and
        found as the fit finds them: exactly for small batches, by the graph walk for large ones), the
        same placement the fast path uses for rows outside its sample. A caller placing many batches
        passes `reference_graph` (`reference_graph()`, computed once) and `walk` (True: the graph
        walk, False: the exact search; None: by this batch's size), so that a row lands in the same
        place whichever batch it is in.
        """
        new = check_matrix(new_latents, "new_latents", dtype=np.float32, order="C")
        if new.shape[1] != self.n_features:
            raise InputError(f"new_latents has {new.shape[1]} dimensions; the embedding was fitted on "
                             f"{self.n_features}: pass latents of the same model")
        if self.method == "pca":
            return self._reduce(new)
        if len(new) == 0:
            return np.empty((0, self.reference_coords.shape[1]), np.float32)
        found = _nearest_reference(self._reduce(new), self._reduce(self.reference_latents), self.params["metric"],
                                   self.params["place_neighbors"], self.params["n_neighbors"], reference_graph,
                                   walk)
        return _weighted_mean(*found, self.reference_coords)

    def reference_graph(self) -> np.ndarray:
        """The reference rows' kNN graph (M, n_neighbors) int64, as the fit computed it: the index the graph
        walk of `transform` follows."""
        reduced = self._reduce(self.reference_latents)
        return _knn(reduced, reduced, self.params["metric"], self.params["n_neighbors"])[1]

    def _reduce(self, latents: np.ndarray) -> np.ndarray:
        if self.pca_components.size == 0:
            return latents
        out = np.empty((len(latents), len(self.pca_components)), np.float32)
        components = self.pca_components.astype(np.float64)

        def reduce_block(start):
            # einsum, not BLAS: the same bits in every process, whatever its thread settings
            centred = latents[start:start + REDUCE_BLOCK_ROWS].astype(np.float64) - self.pca_mean
            out[start:start + REDUCE_BLOCK_ROWS] = np.einsum("nd,cd->nc", centred, components)

        _in_threads(reduce_block, range(0, len(latents), REDUCE_BLOCK_ROWS))
        return out


_ARRAY_FIELDS = ("coords", "reference_index", "reference_latents", "reference_coords", "pca_mean",
                 "pca_components")


def embedding_names(latents, method: str) -> dict[str, str]:
    """`scan_latents_umap.parquet` (or `.csv`), `.png` and `_embedding.npz` (`save_embedding`): an embedding's
    files, named by the latents file's stem and the method."""
    tag = f"{Path(str(latents)).stem}_{method}"
    return {"table": f"{tag}.parquet", "table_csv": f"{tag}.csv", "figure": f"{tag}.png",
            "embedding": f"{tag}_embedding.npz"}


def embedding_table(table, coords, method: str, x=None, y=None, units=None, extra: dict | None = None,
                    row_ids=None):
    """The embedding's table, as the CLI's `umap` and the UMAP page's download write it: `row` (the row id:
    `row_ids`, by default the rows' positions),
    `x_um`, `y_um` (scans, their unit in the name), `{method}_0`, `{method}_1`, ..., the `extra` columns, then
    `table`'s own (`partition`, `index`, the source's metadata: `Latents.stacked`); a metadata column named as one
    of those (cutouts' own `row`) is kept as `source_<name>`."""
    import pandas as pd

    columns = {ROW: np.arange(len(coords), dtype=np.int64) if row_ids is None else np.asarray(row_ids, np.int64)}
    if x is not None:
        columns.update(zip(coordinate_names(units), (np.asarray(x), np.asarray(y))))
    columns.update({embedding_name(method, i): np.asarray(coords[:, i], np.float32) for i in range(coords.shape[1])})
    return beside(pd.DataFrame(columns | (extra or {})), table)


def save_embedding(path, fitted: FittedEmbedding) -> Path:
    """Write `fitted` to `path` (.npz, written under a temporary name then renamed).

    Stored, all plain arrays (read back with `allow_pickle=False`; no Python object is pickled):
    `coords`, `reference_index`, `reference_latents`, `reference_coords`, `pca_mean`,
    `pca_components` (see `FittedEmbedding`), `method`, `format_version`, and `params_json` (every
    parameter as JSON, including `n_features`, `metric`, `place_neighbors`, `sample_size`,
    `umap_version`).
    """
    path = Path(path)
    arrays = {name: getattr(fitted, name) for name in _ARRAY_FIELDS}
    # A unique temporary name so that two processes caching the same embedding do not collide; a cache, replaced.
    unique = f".{os.getpid()}.{uuid.uuid4().hex[:8]}.partial"
    with atomic_path(path, suffix=unique, replaces=True) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, method=np.array(fitted.method), format_version=np.array(FORMAT_VERSION),
                     params_json=np.array(json.dumps(fitted.params, sort_keys=True)), **arrays)
    return path


def load_embedding(path) -> FittedEmbedding:
    """Read a file written by `save_embedding`; a missing, corrupt or foreign file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such embedding file: check the path", path)
    data = read_npz(path)
    try:
        version = int(data["format_version"])
        if version != FORMAT_VERSION:
            raise InputError(f"embedding format version {version}, expected {FORMAT_VERSION}: fit the embedding again",
                              path)
        fields = {name: data[name] for name in _ARRAY_FIELDS}
        method = str(data["method"])
        params = json.loads(str(data["params_json"]))
    except InputError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"not a saved embedding ({exc}): give a file save_embedding wrote", path) from exc
    return FittedEmbedding(method=method, params=params, **fields)


# ----------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------
def embed(latents, method="umap", n_components=2, random_state=0, n_neighbors=15, min_dist=0.1,
          metric="euclidean", fast=True, cache_dir=None, progress=None, *, sample_size=None) -> np.ndarray:
    """Embed latents (N, D) into (N, n_components) float32 coordinates, seeded and cached.

    The coordinates of `fit_embedding` with the same arguments (see it for each parameter).
    """
    return fit_embedding(latents, method, n_components, random_state, n_neighbors, min_dist, metric,
                         fast, cache_dir, progress, sample_size=sample_size).coords


def fit_embedding(latents, method="umap", n_components=2, random_state=0, n_neighbors=15,
                  min_dist=0.1, metric="euclidean", fast=True, cache_dir=None, progress=None, *,
                  sample_size=None) -> FittedEmbedding:
    """Fit a seeded UMAP or PCA embedding of latents, read from or written to the cache.

    Parameters
    ----------
    latents : array-like of shape (n_rows, n_dimensions)
        Finite numeric latents, at least 2 rows; used as float32.
    method : {"umap", "pca"}, default="umap"
        The embedding.
    n_components : int, default=2
        Dimensions of the embedding (at least 1; PCA: at most min(n_rows, n_dimensions)).
    random_state : int, default=0
        Seed; the same seed and input give the same coordinates.
    n_neighbors : int, default=15
        UMAP's neighbourhood size (at least 2, fewer than the rows and than `sample_size`).
    min_dist : float, default=0.1
        UMAP's minimum distance between embedded points (>= 0).
    metric : str, default="euclidean"
        UMAP's metric, one of `METRICS`.
    fast : bool, default=True
        Fit UMAP on a seeded sample of `sample_size` rows and place the others by their nearest
        sampled neighbours (see the module docstring); False fits umap-learn on every row.
    cache_dir : path-like, None or False, default=None
        Folder of the cache; None: `$LATENT_EXPLORER_CACHE`, else
        ~/.cache/latent-explorer/embeddings; False: no cache.
    progress : callable, default=None
        Called as progress(fraction, message) while fitting.
    sample_size : int, default=None
        Rows of the fast path's sample (at least 2; default `DEFAULT_SAMPLE_SIZE`); also the most
        rows a plain fit keeps for projection.

    Returns
    -------
    fitted : FittedEmbedding
        The coordinates (`coords`, (n_rows, n_components) float32, row order kept) and what
        `FittedEmbedding.transform` needs to place new latents.

    Raises
    ------
    InputError
        Latents that are not a finite numeric 2-D array with enough rows, an unknown method or
        metric, or a parameter of the wrong type or out of range (the message names it).
    """
    latents = check_matrix(latents, "latents", dtype=np.float32, min_rows=2, order="C")
    params = _check_params(latents, method, n_components, random_state, n_neighbors, min_dist, metric,
                           fast, sample_size)
    report = _progress_reporter(progress)
    cache_file = _cache_file(cache_dir, latents, params)
    if cache_file is not None and cache_file.is_file():
        try:
            fitted = load_embedding(cache_file)
            report(1.0, "read from cache")
            return fitted
        except InputError:
            cache_file.unlink(missing_ok=True)  # unreadable: refit and overwrite
    if method == "pca":
        fitted = _fit_pca(latents, params, report)
    elif fast:
        fitted = _fit_umap_fast(latents, params, report)
    else:
        fitted = _fit_umap_plain(latents, params, report)
    if cache_file is not None:
        try:
            save_embedding(cache_file, fitted)
        except OSError as exc:  # a read-only or full cache costs the next call a refit, nothing more
            warnings.warn(f"embedding not cached in {cache_file.parent}: {exc}", RuntimeWarning)
    report(1.0, "done")
    return fitted


def cache_file_of(latents, method="umap", n_components=2, random_state=0, n_neighbors=15, min_dist=0.1,
                  metric="euclidean", fast=True, cache_dir=None, *, sample_size=None) -> Path | None:
    """The file `fit_embedding` with these arguments caches its fit in (None: `cache_dir` False); it exists
    once that fit was made."""
    latents = check_matrix(latents, "latents", dtype=np.float32, min_rows=2, order="C")
    params = _check_params(latents, method, n_components, random_state, n_neighbors, min_dist, metric,
                           fast, sample_size)
    return _cache_file(cache_dir, latents, params)


def default_cache_dir() -> Path:
    """`$LATENT_EXPLORER_CACHE` if set, else ~/.cache/latent-explorer/embeddings."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


# ----------------------------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------------------------
def _fit_pca(latents, params, report) -> FittedEmbedding:
    from sklearn.decomposition import PCA

    report(0.0, "PCA")
    pca = PCA(n_components=params["n_components"], random_state=params["random_state"])
    coords = pca.fit_transform(latents).astype(np.float32)
    empty_rows = np.empty((0, latents.shape[1]), np.float32)
    return FittedEmbedding("pca", coords, np.empty(0, np.int64), empty_rows,
                           np.empty((0, params["n_components"]), np.float32),
                           pca.mean_.astype(np.float32), pca.components_.astype(np.float32), params)


def _fit_umap_plain(latents, params, report) -> FittedEmbedding:
    """umap-learn on every row, seeded; a seeded subsample is kept for projection."""
    _compiled()
    umap = umap_module()
    report(0.0, f"UMAP of {len(latents)} rows")
    with quiet_umap():
        model = umap.UMAP(n_components=params["n_components"], n_neighbors=params["n_neighbors"],
                          min_dist=params["min_dist"], metric=params["metric"],
                          random_state=params["random_state"])
        coords = model.fit_transform(latents).astype(np.float32)
    reference = seeded_sample(len(latents), params["sample_size"], params["random_state"])
    no_pca = np.empty((0, latents.shape[1]), np.float32)
    return FittedEmbedding("umap", coords, reference, latents[reference], coords[reference],
                           np.empty(0, np.float32), no_pca, params)


def _fit_umap_fast(latents, params, report) -> FittedEmbedding:
    """UMAP on a seeded sample (every row when N <= sample_size), after PCA for wide euclidean
    latents, from an exact kNN graph; the rest placed by kNN, searched while UMAP fits. Never calls
    pynndescent."""
    _compiled()
    umap = umap_module()
    sample = seeded_sample(len(latents), params["sample_size"], params["random_state"])
    report(0.02, "PCA of the sample")
    mean, components = _sample_pca(latents[sample], params)
    fitted = FittedEmbedding("umap", np.empty((0, params["n_components"]), np.float32), sample,
                             latents[sample], np.empty((0, params["n_components"]), np.float32),
                             mean, components, params)
    report(0.04, f"PCA of {len(latents)} rows")
    reduced = fitted._reduce(latents)
    reduced_sample = reduced[sample]
    rest = np.setdiff1d(np.arange(len(latents)), sample, assume_unique=True)
    # The sample's exact kNN graph (each row its own first neighbour, as umap-learn expects): UMAP's
    # input, and the index the other rows' placement walks.
    report(0.08, f"nearest neighbours of the {len(sample)} sampled rows")
    knn_dists, knn_index = _knn(reduced_sample, reduced_sample, params["metric"], params["n_neighbors"])
    background = ThreadPoolExecutor(1)  # umap-learn's seeded fit uses one core: search beside it
    try:
        placing = background.submit(_nearest_reference, reduced[rest], reduced_sample, params["metric"],
                                    params["place_neighbors"], params["n_neighbors"], knn_index)
        report(0.15, f"UMAP of {len(sample)} sampled rows; searching the other {len(rest)} rows' "
                     f"nearest sampled rows beside it")
        with quiet_umap():  # "no search index": we place points ourselves, never call umap's transform
            model = umap.UMAP(n_components=params["n_components"], n_neighbors=params["n_neighbors"],
                              min_dist=params["min_dist"], metric=params["metric"],
                              random_state=params["random_state"], precomputed_knn=(knn_index, knn_dists))
            sample_coords = model.fit_transform(reduced_sample).astype(np.float32)
        report(0.9, f"placing the other {len(rest)} rows")
        rest_dists, rest_index = placing.result()
    finally:
        background.shutdown(wait=False, cancel_futures=True)  # a cancelled fit does not wait for it
    coords = np.empty((len(latents), params["n_components"]), np.float32)
    coords[sample] = sample_coords
    coords[rest] = _weighted_mean(rest_dists, rest_index, sample_coords)
    fitted.coords, fitted.reference_coords = coords, sample_coords
    return fitted


def _sample_pca(sample, params):
    """PCA basis for the neighbour search: only for euclidean latents wider than FAST_PCA_DIMS."""
    dims = sample.shape[1]
    if params["metric"] != "euclidean" or dims <= FAST_PCA_DIMS:
        return np.empty(0, np.float32), np.empty((0, dims), np.float32)
    from sklearn.decomposition import PCA

    pca = PCA(n_components=FAST_PCA_DIMS, svd_solver="full").fit(sample)
    return pca.mean_.astype(np.float32), pca.components_.astype(np.float32)


def _knn(queries, reference, metric, k):
    """Exact k nearest reference rows of each query: (distances, indices), nearest first; on the GPU
    (torch) when there is one and the metric is euclidean, else scikit-learn brute force."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(reference))
    device = _gpu_device() if metric == "euclidean" else None
    if device is not None:
        return _sorted_by_distance(queries, reference, _torch_knn(queries, reference, k, device), metric)
    search = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute").fit(reference)
    dists, index = search.kneighbors(queries)
    if metric in ("euclidean", "cosine"):  # GEMM-based: the last bits vary with BLAS threads
        dists = _exact_distances(queries, reference, index, metric)
    return dists.astype(np.float32), index.astype(np.int64)


def _exact_distances(queries, reference, index, metric) -> np.ndarray:
    """The k chosen distances again, pair by pair in float64, so that placements are the same in
    every process whatever its thread settings (in blocks of rows: bounded memory)."""
    out = np.empty(index.shape, np.float64)
    block = 16_384
    for start in range(0, len(queries), block):
        q = queries[start:start + block].astype(np.float64)[:, None, :]
        r = reference.astype(np.float64)[index[start:start + block]]
        if metric == "euclidean":
            out[start:start + block] = np.sqrt(((q - r) ** 2).sum(-1))
        else:
            norms = np.linalg.norm(q, axis=-1) * np.linalg.norm(r, axis=-1)
            out[start:start + block] = 1 - (q * r).sum(-1) / np.maximum(norms, 1e-300)
    return out


def _nearest_reference(queries, reference, metric, k, n_neighbors, reference_graph=None, walk=None):
    """The k nearest reference rows of each query, (distances, indices): exact for small searches,
    other metrics than euclidean and on a GPU, else a walk of the reference rows' kNN graph of `n_neighbors`
    (`reference_graph`: that graph, as `_knn(reference, reference, ...)` gives it; computed if None).
    `walk`: the choice made by the caller (`walks`) for a search split into batches; None: made here."""
    if len(queries) == 0:
        return np.empty((0, k), np.float32), np.empty((0, k), np.int64)
    if not (walks(len(queries), len(reference), metric) if walk is None else walk and metric == "euclidean"):
        return _knn(queries, reference, metric, k)
    from .graph_search import GraphIndex

    if reference_graph is None:
        reference_graph = _knn(reference, reference, metric, n_neighbors)[1]
    return _sorted_by_distance(queries, reference, GraphIndex(reference, reference_graph).query(queries, k),
                               metric)


def walks(queries: int, reference: int, metric: str) -> bool:
    """Whether placing `queries` rows among `reference` rows walks the reference rows' kNN graph (large euclidean
    searches without a GPU) rather than searching exactly."""
    # a GPU searches exactly in less time than the walk
    return metric == "euclidean" and queries * reference >= GRAPH_SEARCH_MIN_PAIRS and _gpu_device() is None


def _sorted_by_distance(queries, reference, index, metric):
    """(distances, indices) of the chosen reference rows, distances exact (float64), nearest first."""
    dists = _exact_distances(queries, reference, index, metric)
    order = np.argsort(dists, axis=1, kind="stable")
    return (np.take_along_axis(dists, order, 1).astype(np.float32),
            np.take_along_axis(index, order, 1))


GPU_BLOCK_PAIRS = 1 << 28  # query x reference distances per block on the GPU (1 GiB of float32)


@functools.lru_cache(maxsize=1)
def _gpu_device():
    """"cuda" when torch sees an NVIDIA GPU, else None (torch is not even imported without a driver)."""
    if not Path("/proc/driver/nvidia").exists():
        return None
    try:
        import torch
    except ImportError:
        return None
    return "cuda" if torch.cuda.is_available() else None


def _torch_knn(queries, reference, k, device) -> np.ndarray:
    """Exact euclidean k nearest reference rows, (Q, k) int64, by blocks of matrix products on a torch
    device (|q|^2 left out: the same for a whole row of distances)."""
    import torch

    with torch.no_grad():
        ref = torch.as_tensor(np.ascontiguousarray(reference, np.float32), device=device)
        squares = (ref * ref).sum(1)
        out = np.empty((len(queries), k), np.int64)
        block = max(1, GPU_BLOCK_PAIRS // len(reference))
        for start in range(0, len(queries), block):
            rows = torch.as_tensor(np.ascontiguousarray(queries[start:start + block], np.float32), device=device)
            dist = squares - 2 * rows @ ref.T
            out[start:start + block] = torch.topk(dist, k, dim=1, largest=False).indices.cpu().numpy()
    return out


def _in_threads(function, starts):
    """function(start) for every start, on threads (numpy's and numba's loops release the GIL)."""
    starts = list(starts)
    threads = min(len(starts), _threads())
    if threads <= 1:
        for start in starts:
            function(start)
        return
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(function, starts))


def _threads() -> int:
    """Threads for the engine's own loops: numba's count (the app's workers set it)."""
    import numba

    return numba.get_num_threads()


def _weighted_mean(dists, index, reference_coords) -> np.ndarray:
    """Inverse-distance weighted mean of the embedding of each row's nearest reference rows.

    A row equal to a reference row lands on that row's coordinates (its weight dominates)."""
    weights = 1.0 / np.maximum(dists.astype(np.float64), 1e-12)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("qk,qkc->qc", weights, reference_coords[index]).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Parameters, cache keys, progress
# ----------------------------------------------------------------------------------------------
def _check_params(latents, method, n_components, random_state, n_neighbors, min_dist, metric, fast,
                  sample_size) -> dict:
    n_rows, n_features = latents.shape
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    n_components = check_int(n_components, "n_components", 1)
    random_state = check_int(random_state, "random_state")
    sample_size = check_int(DEFAULT_SAMPLE_SIZE if sample_size is None else sample_size, "sample_size", 2)
    if method == "pca":
        if n_components > min(n_rows, n_features):
            raise InputError(f"n_components={n_components} exceeds min(rows, dimensions) of latents "
                             f"{latents.shape}: ask for fewer components")
    else:
        n_neighbors = check_int(n_neighbors, "n_neighbors", 2)
        if n_rows <= max(n_neighbors, n_components + 1):
            raise InputError(f"latents has {n_rows} rows; UMAP needs more than n_neighbors="
                             f"{n_neighbors} and n_components+1={n_components + 1} (lower n_neighbors, or use PCA)")
        if min(sample_size, n_rows) <= n_neighbors:
            raise InputError(f"sample_size={sample_size} must be above n_neighbors={n_neighbors}")
        min_dist = check_number(min_dist, "min_dist", 0)
        _check_metric(metric)
    params = {"method": method, "n_components": int(n_components), "random_state": int(random_state),
              "n_features": int(n_features), "algorithm_version": ALGORITHM_VERSION}
    if method == "umap":  # PCA ignores the rest, so they stay out of its cache digest
        params.update(n_neighbors=int(n_neighbors), min_dist=float(min_dist), metric=metric,
                      fast=bool(fast), sample_size=int(sample_size), place_neighbors=PLACE_NEIGHBORS,
                      fast_pca_dims=FAST_PCA_DIMS, umap_version=_umap_version())
    return params


def _check_metric(metric):
    if metric not in METRICS:
        raise InputError(f"metric must be one of {METRICS}, got {metric!r}")


def _umap_version() -> str:
    from importlib.metadata import version

    return version("umap-learn")


def _cache_file(cache_dir, latents, params):
    if cache_dir is False:
        return None
    directory = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    digest = hashlib.sha256()
    digest.update(json.dumps({"shape": latents.shape, "dtype": "float32", **params},
                             sort_keys=True).encode())
    digest.update(memoryview(latents).cast("B"))
    return directory / f"{params['method']}-{digest.hexdigest()}.npz"


def _progress_reporter(progress):
    if progress is None:
        return lambda fraction, message: None
    if not callable(progress):
        raise InputError(f"progress must be a callable(fraction, message), got {progress!r}: pass a function")
    return progress


_WARM_UP_LOCK = threading.RLock()
_warmed = False  # this process has compiled (or loaded) the numba code of a fit


def _compiled():
    """Before this process's first UMAP fit: the warm-up, which compiles under the cross-process lock."""
    if not _warmed:
        warm_up()


def warm_up(include_plain=False) -> float:
    """Compile umap-learn's numba code so that the user's first UMAP is quick; returns the seconds.

    Runs a tiny seeded fit through the fast path (what `embedding.embed` uses by default) and a
    graph walk (large placements) without touching the cache; `umap_module` puts umap-learn's own
    jitted functions on numba's on-disk cache (the graph walk's are declared so), so a later process
    loads them instead of compiling. `include_plain=True` also compiles
    the NN-descent path that `fast=False` uses for more than 4096 rows; pynndescent's `nn_descent`
    cannot be cached by numba, so that part is compiled in every new process. Thread-safe; one
    process at a time (`cache_lock`), the others wait and then load what it compiled.
    """
    from .graph_search import GraphIndex

    global _warmed
    start = time.perf_counter()
    small = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    with _WARM_UP_LOCK, cache_lock():
        if not _warmed:
            _warmed = True  # first: the fit below passes through `_compiled`
            fitted = fit_embedding(small, cache_dir=False, n_neighbors=5, sample_size=150)
            fitted.transform(small[:5])
            # large placements' search (numba, on its disk cache)
            GraphIndex(small, _knn(small, small, "euclidean", 5)[1]).query(small[:5], 2)
        if include_plain:
            with quiet_umap():
                umap_module().UMAP(n_neighbors=5, n_epochs=5, random_state=0, init="random",
                                   force_approximation_algorithm=True).fit(small)
    return time.perf_counter() - start
