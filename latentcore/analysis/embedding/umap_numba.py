"""umap-learn with its numba functions on numba's on-disk cache.

- `umap_module()`: import umap-learn with its jitted functions switched to numba's on-disk cache
  (umap-learn declares almost none of them with `cache=True`, so every new process recompiled
  them before its first fit);
- `quiet_umap()`: a context that silences the warnings umap-learn gives on every seeded fit;
- `cache_lock()`: a context held while a process fills numba's on-disk caches (one process at a time;
  the file it locks: `lock_path()`);
- `compiled_marker()`: a file that says numba's on-disk cache holds a warm-up's code already.

The time saved per process is measured by benchmarks/umap_scale.py (results: docs/benchmarks.md).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path

_UMAP_NUMBA_MODULES = ("umap.umap_", "umap.layouts", "umap.spectral", "umap.utils", "umap.distances",
                       "umap.sparse")
_UMAP_LOCK = threading.Lock()


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


def lock_path() -> Path:
    """The file `cache_lock` locks: one per user, in the temporary folder."""
    return Path(tempfile.gettempdir()) / f"latentcore-numba-{os.getuid()}.lock"


def compiled_marker(name: str, packages: tuple[str, ...], code: tuple[Path, ...] = ()) -> Path:
    """The file that says numba's on-disk cache holds the code of the warm-up `name`, compiled with these versions
    of Python, numba and `packages` and from the source files `code` as they are (numba recompiles a changed file,
    whose version may not have changed): a warm-up that finds it has nothing to compile (loading the code in a
    process that does not use it cost seconds a server start)."""
    import numba

    from ...versions import package_versions

    versions = json.dumps(package_versions(("numba", *packages)), sort_keys=True)
    key = hashlib.sha256(versions.encode() + b"".join(Path(file).read_bytes() for file in code)).hexdigest()[:16]
    return Path(numba.config.CACHE_DIR or tempfile.gettempdir()) / f"latentcore-{name}-{key}.compiled"


@contextlib.contextmanager
def cache_lock():
    """Held (across processes, by this user) while numba code is compiled onto its on-disk cache.

    numba writes a cache's index and its data files separately: two processes that compile the same
    functions at once can leave an index entry that points at the other's machine code, and every
    process that loads it afterwards crashes (seen with two test processes importing orix on a new
    install). Under this lock one process compiles and the others then load what it wrote.
    Not re-entrant within a process (flock is per open file).
    """
    with open(lock_path(), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _has_null_cache(dispatcher) -> bool:
    return type(getattr(dispatcher, "_cache", None)).__name__ == "NullCache"


class quiet_umap(warnings.catch_warnings):
    """umap-learn warns on every seeded fit ("n_jobs overridden") and on precomputed kNN."""

    def __enter__(self):
        result = super().__enter__()
        warnings.filterwarnings("ignore", module=r"umap(\.|$)")
        warnings.filterwarnings("ignore", message=r".*(n_jobs|precomputed_knn|search index).*")
        return result
