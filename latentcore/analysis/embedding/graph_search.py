"""Nearest reference rows of many query rows, found by walking the reference rows' own kNN graph.

The fast UMAP path places hundreds of thousands of rows by their nearest rows of a fitted sample;
comparing every row with every sample row costs a matrix of N x M distances and a selection in each
of its N rows (minutes at 1,000,000 x 30,000 on two cores). The sample's exact kNN graph is computed
anyway (UMAP is fitted from it), so it serves as the index: a best-first search from the nearest of
a few entry rows, holding the `ef` best rows met so far, expands each of them once along the graph
(its edges made two-way) and stops when no held row is left to expand.

API
---
- `GraphIndex(reference, knn_index, seed=0)`: the index over `reference` (M, D) float32, euclidean,
  from its kNN graph `knn_index` (M, K) int (each row's nearest reference rows, itself included or
  not); its entry rows: `ENTRY_ROWS` seeded random rows plus one per connected component of the
  graph (a walk cannot leave its component); a search starts from the `ENTRY_STARTS` nearest.
- `index.query(queries, k, ef=DEFAULT_EF, threads=None) -> (Q, k) int64`: the k nearest reference
  rows of each query, nearest first (approximate: `benchmarks/umap_scale.py` measures the recall, and
  tests/engine/test_embedding.py bounds it). Each query is searched alone, in a compiled loop (numba, on its
  on-disk cache), so the answer does not depend on `threads` (default: numba's thread count, which
  the app's workers set) or on the other queries.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

ENTRY_ROWS = 256     # random entry rows (plus one per connected component of the graph)
ENTRY_STARTS = 8     # the nearest entry rows a search starts from
DEFAULT_EF = 24      # rows held by a search: more finds more of the true neighbours, slower
CHUNK_ROWS = 4096    # queries per compiled call (threads take chunks in turn)


class GraphIndex:
    """Reference rows and their kNN graph, searchable by `query` (see the module docstring)."""

    def __init__(self, reference, knn_index, seed=0):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        self.reference = np.ascontiguousarray(reference, dtype=np.float32)
        m = len(self.reference)
        knn_index = np.asarray(knn_index, dtype=np.int64)
        rows = np.repeat(np.arange(m), knn_index.shape[1])
        edges = coo_matrix((np.ones(rows.size, np.int8), (rows, knn_index.ravel())), shape=(m, m)).tocsr()
        edges = (edges + edges.T).tocsr()  # two-way: a row is reachable from the rows it is near
        edges.setdiag(0)
        edges.eliminate_zeros()
        edges.sort_indices()
        self.indptr, self.indices = edges.indptr.astype(np.int64), edges.indices.astype(np.int64)
        _, component = connected_components(edges, directed=False)
        # a search cannot leave the component it starts in: each component gets an entry row
        firsts = np.unique(component, return_index=True)[1]
        random = np.random.default_rng(seed).choice(m, size=min(m, ENTRY_ROWS), replace=False)
        self.entries = np.union1d(firsts, random).astype(np.int64)

    def query(self, queries, k, ef=DEFAULT_EF, threads=None) -> np.ndarray:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(int(k), len(self.reference))
        ef = max(int(ef), k)
        out = np.empty((len(queries), k), np.int64)
        starts = range(0, len(queries), CHUNK_ROWS)

        def search(start):
            stop = min(start + CHUNK_ROWS, len(queries))
            _search(queries[start:stop], self.reference, self.indptr, self.indices, self.entries,
                    ENTRY_STARTS, ef, out[start:stop])

        threads = threads or numba.get_num_threads()
        if threads <= 1 or len(starts) <= 1:
            for start in starts:
                search(start)
        else:  # the compiled loop releases the GIL: plain threads share the chunks
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(search, starts))
        return out


@numba.njit(nogil=True, cache=True, fastmath=True)
def _squared_distance(queries, q, data, j):
    total = np.float32(0.0)
    for i in range(queries.shape[1]):
        diff = queries[q, i] - data[j, i]
        total += diff * diff
    return total


@numba.njit(nogil=True, cache=True)
def _hold(held_d, held_i, expanded, count, d, j):
    """Insert row j at distance d into the sorted held rows (after equal distances); the count."""
    ef = held_d.shape[0]
    pos = count if count < ef else ef - 1
    while pos > 0 and held_d[pos - 1] > d:
        if pos < ef:
            held_d[pos], held_i[pos], expanded[pos] = held_d[pos - 1], held_i[pos - 1], expanded[pos - 1]
        pos -= 1
    held_d[pos], held_i[pos], expanded[pos] = d, j, False
    return min(count + 1, ef)


@numba.njit(nogil=True, cache=True)
def _search(queries, data, indptr, indices, entries, n_starts, ef, out):
    seen = np.zeros(data.shape[0], np.int64)  # seen[j] == q + 1: row j was measured for query q
    held_d = np.empty(ef, np.float32)
    held_i = np.empty(ef, np.int64)
    expanded = np.zeros(ef, np.bool_)
    start_d = np.empty(n_starts, np.float32)
    start_i = np.empty(n_starts, np.int64)
    start_x = np.zeros(n_starts, np.bool_)
    for q in range(queries.shape[0]):
        n = 0  # the search starts from the n_starts nearest entry rows
        for e in range(entries.shape[0]):
            d = _squared_distance(queries, q, data, entries[e])
            if n < n_starts or d < start_d[n - 1]:
                n = _hold(start_d, start_i, start_x, n, d, entries[e])
        count = 0
        for e in range(n):
            seen[start_i[e]] = q + 1
            count = _hold(held_d, held_i, expanded, count, start_d[e], start_i[e])
        current = 0
        while current < count:  # the nearest held row not expanded yet
            expanded[current] = True
            node = held_i[current]
            for p in range(indptr[node], indptr[node + 1]):
                j = indices[p]
                if seen[j] == q + 1:
                    continue
                seen[j] = q + 1
                d = _squared_distance(queries, q, data, j)
                if count < ef or d < held_d[count - 1]:
                    count = _hold(held_d, held_i, expanded, count, d, j)
            current = 0
            while current < count and expanded[current]:
                current += 1
        for r in range(out.shape[1]):
            out[q, r] = held_i[r]
