"""umap-learn with its numba functions on numba's on-disk cache, and the warm-up that compiles them.

- `umap_module()`: import umap-learn with its jitted functions switched to numba's on-disk cache
  (umap-learn declares almost none of them with `cache=True`, so every new process recompiled
  them before its first fit);
- `quiet_umap()`: a context that silences the warnings umap-learn gives on every seeded fit;
- `warm_up()`: compile umap-learn's code once, through a tiny seeded fit (the app calls it in a
  background thread at start).

The time saved per process is measured by benchmarks/umap_scale.py (see its docstring).
"""
from __future__ import annotations

import importlib
import threading
import time
import warnings

import numpy as np

_UMAP_NUMBA_MODULES = ("umap.umap_", "umap.layouts", "umap.spectral", "umap.utils", "umap.distances",
                       "umap.sparse")
_UMAP_LOCK = threading.Lock()
_WARM_UP_LOCK = threading.Lock()


def umap_module():
    """Import umap-learn, switching its numba functions to numba's on-disk cache.

    Enabling the cache before their first compilation stores the machine code beside their source
    (or in numba's per-user cache when site-packages is read-only); numba invalidates it when the
    source file changes. Thread-safe; the switch is made once per process.
    """
    with _UMAP_LOCK:
        umap = importlib.import_module("umap")
        if not getattr(umap, "_latentcore_cache_enabled", False):
            from numba.core.dispatcher import Dispatcher

            for name in _UMAP_NUMBA_MODULES:
                for obj in vars(importlib.import_module(name)).values():
                    if isinstance(obj, Dispatcher) and not obj.signatures and _has_null_cache(obj):
                        obj.enable_caching()
            umap._latentcore_cache_enabled = True
    return umap


def _has_null_cache(dispatcher) -> bool:
    return type(getattr(dispatcher, "_cache", None)).__name__ == "NullCache"


class quiet_umap(warnings.catch_warnings):
    """umap-learn warns on every seeded fit ("n_jobs overridden") and on precomputed kNN."""

    def __enter__(self):
        result = super().__enter__()
        warnings.filterwarnings("ignore", module=r"umap(\.|$)")
        warnings.filterwarnings("ignore", message=r".*(n_jobs|precomputed_knn|search index).*")
        return result


def warm_up(include_plain=False) -> float:
    """Compile umap-learn's numba code so that the user's first UMAP is quick; returns the seconds.

    Runs a tiny seeded fit through the fast path (what `embedding.embed` uses by default) without
    touching the cache; `umap_module` puts umap-learn's own jitted functions on numba's on-disk
    cache, so a later process loads them instead of compiling. `include_plain=True` also compiles
    the NN-descent path that `fast=False` uses for more than 4096 rows; pynndescent's `nn_descent`
    cannot be cached by numba, so that part is compiled in every new process. Thread-safe.
    """
    from .embedding import fit_embedding

    start = time.perf_counter()
    with _WARM_UP_LOCK:
        small = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
        fitted = fit_embedding(small, cache_dir=False, n_neighbors=5, sample_size=150)
        fitted.transform(small[:5])
        if include_plain:
            with quiet_umap():
                umap_module().UMAP(n_neighbors=5, n_epochs=5, random_state=0, init="random",
                                   force_approximation_algorithm=True).fit(small)
    return time.perf_counter() - start
