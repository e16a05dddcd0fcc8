"""The k nearest reference rows of query rows, as an embedding places rows among the rows it was fitted on:
`knn` searches exactly (scikit-learn brute force, or torch on a GPU), `nearest_reference` walks the reference rows'
own kNN graph instead for large euclidean searches (`walks`: at GRAPH_SEARCH_MIN_PAIRS query x reference pairs and
above, without a GPU; `graph_search.GraphIndex`), and `weighted_mean` places a row at its neighbours'
inverse-distance weighted mean. The chosen distances are recomputed pair by pair in float64, so a row lands in the
same place in every process whatever its thread settings."""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# Placement walks the reference rows' kNN graph above this many query x reference pairs (about a
# second of brute force on two cores); below it, the exact search is as quick and exact.
GRAPH_SEARCH_MIN_PAIRS = 200_000_000


def knn(queries, reference, metric, k):
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


def nearest_reference(queries, reference, metric, k, n_neighbors, reference_graph=None, walk=None):
    """The k nearest reference rows of each query, (distances, indices): exact for small searches,
    other metrics than euclidean and on a GPU, else a walk of the reference rows' kNN graph of `n_neighbors`
    (`reference_graph`: that graph, as `knn(reference, reference, ...)` gives it; computed if None).
    `walk`: the choice made by the caller (`walks`) for a search split into batches; None: made here."""
    if len(queries) == 0:
        return np.empty((0, k), np.float32), np.empty((0, k), np.int64)
    if not (walks(len(queries), len(reference), metric) if walk is None else walk and metric == "euclidean"):
        return knn(queries, reference, metric, k)
    from .graph_search import GraphIndex

    if reference_graph is None:
        reference_graph = knn(reference, reference, metric, n_neighbors)[1]
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


def in_threads(function, starts):
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


def weighted_mean(dists, index, reference_coords) -> np.ndarray:
    """Inverse-distance weighted mean of the embedding of each row's nearest reference rows.

    A row equal to a reference row lands on that row's coordinates (its weight dominates)."""
    weights = 1.0 / np.maximum(dists.astype(np.float64), 1e-12)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("qk,qkc->qc", weights, reference_coords[index]).astype(np.float32)
