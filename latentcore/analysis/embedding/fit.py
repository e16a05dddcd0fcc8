"""2-D (or n-D) embeddings of latents: UMAP (umap-learn) and PCA, seeded, cached on disk, projectable.

Entry points
------------
- `embed(latents, method="umap"|"pca", ...) -> (N, n_components) float32`: the coordinates.
- `fit_embedding(...)` (same arguments) -> `FittedEmbedding`: the coordinates plus what is needed to
  project new latents (`.transform(new_latents)`).
- `warm_up()`: compile umap-learn's code once, through a tiny seeded fit (the app calls it in a
  background thread at start; every process's first UMAP fit goes through it, under `cache_lock`, so
  two processes never fill numba's on-disk cache at once).
umap-learn itself is imported through `umap_numba` (numba's on-disk cache). The fitted embedding, its file and
table are `fitted.py`'s; the placement's nearest-neighbour search is `knn.py`'s; the disk cache is `cache.py`'s.

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
   own kNN graph (`knn.nearest_reference`, `graph_search.GraphIndex`: the same graph UMAP was given, not a second search).
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
A fit is kept in `cache_dir` (`cache.py`: default `$LATENT_EXPLORER_CACHE`, else
~/.cache/latent-explorer/embeddings) under the SHA-256 of the float32 latents bytes, their shape, every parameter,
the algorithm version and the umap-learn version: a second call with the same input is one file read.
`cache_dir=False` turns the cache off.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...errors import InputError
from .._validation import check_int, check_matrix, check_number
from ...sampling import seeded_sample
from .cache import cache_path, read_cached, write_cached
from .fit_time import UMAP_PACKAGES, record_fit
from .fitted import FittedEmbedding
from .knn import knn, nearest_reference, weighted_mean
from .umap_numba import cache_lock, compiled_marker, quiet_umap, umap_module

METHODS = ("umap", "pca")
# Metrics that scikit-learn's brute-force kNN and umap-learn both know, with no extra parameters.
METRICS = ("euclidean", "cosine", "correlation", "manhattan", "chebyshev", "canberra", "braycurtis")
DEFAULT_SAMPLE_SIZE = 30_000   # rows UMAP is fitted on in the fast path (and kept for projection)
FAST_PCA_DIMS = 48             # euclidean latents wider than this are PCA-reduced in the fast path
PLACE_NEIGHBORS = 5            # sample neighbours averaged to place a row (fewer blur less)
ALGORITHM_VERSION = "2"        # bump when results for the same parameters change


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
                  sample_size=None, beside=None) -> FittedEmbedding:
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
    beside : callable, default=None
        Work for the fast path's background thread while umap-learn fits (its seeded optimisation uses
        one core), called as `beside(unplaced, graph)`: the fit without its coordinates (its PCA and
        reference rows: enough to search for a row's nearest reference rows) and the reference rows'
        kNN graph. A study searches its rows' neighbours there (`embedding.study`). Not called for PCA,
        a plain fit or a fit read from the cache; its exceptions are raised here.

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
    params = check_params(latents.shape, method, n_components, random_state, n_neighbors, min_dist, metric,
                          fast, sample_size)
    report = _progress_reporter(progress)
    cache_file = cache_path(cache_dir, latents, params)
    fitted = read_cached(cache_file)
    if fitted is not None:
        report(1.0, "read from cache")
        return fitted
    if method == "pca":
        fitted = _fit_pca(latents, params, report)
    else:
        _compiled()  # first: the fit's own time is the pace `fit_time` keeps
        start = time.perf_counter()
        fitted = _fit_umap_fast(latents, params, report, beside) if fast else _fit_umap_plain(latents, params, report)
        record_fit(len(fitted.reference_index) if fast else len(latents), time.perf_counter() - start)
    write_cached(cache_file, fitted)
    report(1.0, "done")
    return fitted


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


def _fit_umap_fast(latents, params, report, beside=None) -> FittedEmbedding:
    """UMAP on a seeded sample (every row when N <= sample_size), after PCA for wide euclidean
    latents, from an exact kNN graph; the rest placed by kNN, searched while UMAP fits (and `beside`
    run then too). Never calls pynndescent."""
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
    knn_dists, knn_index = knn(reduced_sample, reduced_sample, params["metric"], params["n_neighbors"])
    background = ThreadPoolExecutor(1)  # umap-learn's seeded fit uses one core: search beside it
    try:
        placing = background.submit(nearest_reference, reduced[rest], reduced_sample, params["metric"],
                                    params["place_neighbors"], params["n_neighbors"], knn_index)
        besides = background.submit(beside, fitted, knn_index) if beside is not None else None
        report(0.15, f"UMAP of {len(sample)} sampled rows; searching the other {len(rest)} rows' "
                     f"nearest sampled rows beside it")
        with quiet_umap():  # "no search index": we place points ourselves, never call umap's transform
            model = umap.UMAP(n_components=params["n_components"], n_neighbors=params["n_neighbors"],
                              min_dist=params["min_dist"], metric=params["metric"],
                              random_state=params["random_state"], precomputed_knn=(knn_index, knn_dists))
            sample_coords = model.fit_transform(reduced_sample).astype(np.float32)
        report(0.9, f"placing the other {len(rest)} rows")
        rest_dists, rest_index = placing.result()
        if besides is not None:
            besides.result()
    finally:
        background.shutdown(wait=False, cancel_futures=True)  # a cancelled fit does not wait for it
    coords = np.empty((len(latents), params["n_components"]), np.float32)
    coords[sample] = sample_coords
    coords[rest] = weighted_mean(rest_dists, rest_index, sample_coords)
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


# ----------------------------------------------------------------------------------------------
# Parameters, cache keys, progress
# ----------------------------------------------------------------------------------------------
def check_params(shape, method, n_components, random_state, n_neighbors, min_dist, metric, fast, sample_size) -> dict:
    """The parameters of a fit of latents of `shape` (rows, dimensions), checked, as its cache digest takes them."""
    n_rows, n_features = shape
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    n_components = check_int(n_components, "n_components", 1)
    random_state = check_int(random_state, "random_state")
    sample_size = check_int(DEFAULT_SAMPLE_SIZE if sample_size is None else sample_size, "sample_size", 2)
    if method == "pca":
        if n_components > min(n_rows, n_features):
            raise InputError(f"n_components={n_components} exceeds min(rows, dimensions) of latents "
                             f"{tuple(shape)}: ask for fewer components")
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
            GraphIndex(small, knn(small, small, "euclidean", 5)[1]).query(small[:5], 2)
            compiled_marker("umap", UMAP_PACKAGES).touch()  # later fits expect to load it (`fit_time`)
        if include_plain:
            with quiet_umap():
                umap_module().UMAP(n_neighbors=5, n_epochs=5, random_state=0, init="random",
                                   force_approximation_algorithm=True).fit(small)
    return time.perf_counter() - start
