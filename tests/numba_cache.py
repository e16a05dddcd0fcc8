"""numba's on-disk cache for a test run, compiled once before the xdist workers start (tests/conftest.py).

numba's on-disk cache is not safe for two processes compiling the same functions at once, so each worker keeps a
folder of its own; on a new virtualenv (every `.ci/run`) each worker, its servers and its pools then compiled the
same code again (pynndescent's and hyppo's at import; UMAP's, orix's, dcor's at first use: docs/benchmarks.md).
Now the controller compiles it into one folder, in two processes at once (disjoint functions), and each worker
starts from a copy of that folder (`seed`). What is not listed here (kikuchipy's, which two test modules use) is
still compiled by the worker that needs it.

    python tests/numba_cache.py PART   # with NUMBA_CACHE_DIR set: compile PART's code onto that cache
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

MARKER = "compiled-by-numba_cache.txt"  # holds `version()`: a folder without it (or with another) is compiled again


def compile_umap():
    """UMAP's fast path and the graph search (and pynndescent's code, at import)."""
    from latentcore.analysis.embedding.fit import warm_up

    warm_up()


def compile_orix():
    """orix's conversions and products (the tests check the orientation maps against orix)."""
    import numpy as np
    from orix.quaternion import Orientation
    from orix.quaternion.symmetry import Oh
    from orix.vector import Vector3d

    orientations = Orientation.from_euler(np.random.default_rng(0).random((4, 3)), Oh)
    orientations.to_euler(), orientations.axis, orientations.angle, ~orientations * Vector3d.zvector()
    orientations.get_distance_matrix(lazy=False)


def compile_rank_metrics():
    """hyppo's code (at import) and the rank metrics' (dcor's distance correlation, hyppo's HSIC, the Spearman
    sort)."""
    import numpy as np

    from latentcore.analysis.rank import distance_correlation, hsic, spearman_of_ranks, unit_centred

    values = np.linspace(0.0, 1.0, 50)
    distance_correlation(values, values ** 2)
    distance_correlation(np.column_stack([values, values ** 3]), values ** 2)  # the multivariate path
    hsic(values, values ** 2)
    spearman_of_ranks(values.astype(np.float32), unit_centred(values))


PARTS = {"umap-orix": (compile_umap, compile_orix), "rank": (compile_rank_metrics,)}  # one process each, at once


def version() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def compiled(folder: Path) -> bool:
    marker = folder / MARKER
    return marker.exists() and marker.read_text() == version()


def compile_into(folder: Path):
    """Fill `folder` with this list's machine code (nothing to do when it holds this version's already)."""
    if compiled(folder):
        return
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder)}
    runs = [subprocess.Popen([sys.executable, __file__, part], env=env) for part in PARTS]
    if any(run.wait() for run in runs):
        raise RuntimeError(f"compiling numba's cache into {folder} failed (see above)")
    (folder / MARKER).write_text(version())


def seed(worker_folder: Path, compiled_folder: Path):
    """A worker's cache folder starts as a copy of the compiled one (kept while that one's version holds)."""
    if compiled(compiled_folder) and not compiled(worker_folder):
        shutil.rmtree(worker_folder, ignore_errors=True)
        shutil.copytree(compiled_folder, worker_folder)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    for compile_part in PARTS[sys.argv[1]]:
        compile_part()
