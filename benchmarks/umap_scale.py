"""UMAP at scale: the fast (sampled) path of `latentcore.analysis.embedding.embed` against umap-learn's
plain seeded fit, measured in one run, and the first UMAP of a fresh process (numba cache cold/warm,
`latentcore.analysis.umap_numba`).

    nice python benchmarks/umap_scale.py            # N=200k, D=128: several minutes on 2 cores
    python benchmarks/umap_scale.py --n 20000 --sample-size 5000   # quicker

Data: `synthetic_latents` below, seeded: 20 Gaussian clusters (random centres, per-axis scales, Dirichlet
weights) in an 8-D space, mapped to D dimensions by a fixed random nonlinear map (tanh layer plus a
linear term) and 0.05 isotropic noise, i.e. clusters on a curved 8-D manifold in R^D.

Both embeddings are warmed up first (numba compilation excluded from both times). Trustworthiness is
scikit-learn's (k=10) on the same seeded 5k-row subsample of the latents and of each embedding.

Measured earlier (no date recorded), quoted from latentcore.analysis's docstrings when they moved here:
umap-learn's jitted functions on numba's on-disk cache (`umap_numba.umap_module`) save about 13 s per
new process before its first fit; pynndescent's `nn_descent` (the path `fast=False` uses above 4096
rows) cannot be cached and costs tens of seconds in every new process.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from latentcore.analysis.embedding import embed  # noqa: E402
from latentcore.analysis.embedding import warm_up  # noqa: E402


def synthetic_latents(n, dim=128, seed=0, intrinsic=8, clusters=20):
    """(n, dim) float32 latents with structure: Gaussian clusters on a curved `intrinsic`-D manifold."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(clusters, intrinsic))
    scales = rng.uniform(0.3, 1.0, size=(clusters, intrinsic))
    label = rng.choice(clusters, size=n, p=rng.dirichlet(np.full(clusters, 2.0)))
    z = centers[label] + rng.normal(size=(n, intrinsic)) * scales[label]
    hidden = rng.normal(size=(intrinsic, 64)) / np.sqrt(intrinsic)
    out = rng.normal(size=(64, dim)) / 8.0
    linear = rng.normal(size=(intrinsic, dim)) / np.sqrt(intrinsic)
    x = np.tanh(z @ hidden) @ out + 0.3 * z @ linear + 0.05 * rng.normal(size=(n, dim))
    return x.astype(np.float32)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def trust(latents, coords, rows):
    from sklearn.manifold import trustworthiness

    return trustworthiness(latents[rows], coords[rows], n_neighbors=10)


FRESH_PROCESS = """
import time
start = time.perf_counter()
import numpy as np
{import_line}
x = np.random.default_rng(0).normal(size=(1000, 32)).astype(np.float32)
{fit_line}
print(time.perf_counter() - start)
"""


def first_umap_in_fresh_process(numba_cache_dir, via_latentcore=True) -> float:
    """Seconds from a fresh interpreter's start to its first 1000-row UMAP (imports included)."""
    if via_latentcore:
        code = FRESH_PROCESS.format(import_line="from latentcore.analysis.embedding import embed",
                                    fit_line="embed(x, cache_dir=False)")
    else:
        code = FRESH_PROCESS.format(import_line="import umap",
                                    fit_line="umap.UMAP(random_state=0).fit_transform(x)")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache_dir), PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000, help="rows (default 200000)")
    parser.add_argument("--dim", type=int, default=128, help="latent dimensions (default 128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-size", type=int, default=None,
                        help="rows of the fast path's sample (default: the library's, 30000)")
    args = parser.parse_args(argv)

    warm_s = timed(warm_up, include_plain=True)[1]  # both paths compiled before either is timed
    print(f"warm-up (compile numba code in this process): {warm_s:.1f} s")
    latents = synthetic_latents(args.n, args.dim, args.seed)
    rows = np.random.default_rng(args.seed + 1).choice(args.n, size=min(5000, args.n), replace=False)

    fast_options = dict(random_state=args.seed, cache_dir=False, sample_size=args.sample_size)
    fast, fast_s = timed(embed, latents, **fast_options)
    again, again_s = timed(embed, latents, **fast_options)
    plain, plain_s = timed(embed, latents, random_state=args.seed, fast=False, cache_dir=False)
    fast_trust, plain_trust = trust(latents, fast, rows), trust(latents, plain, rows)
    print(f"N={args.n} D={args.dim}")
    print(f"fast path (sample + kNN placement): {fast_s:7.1f} s   (again: {again_s:.1f} s, "
          f"identical: {np.array_equal(fast, again)})")
    print(f"umap-learn plain seeded fit:         {plain_s:7.1f} s")
    print(f"ratio fast/plain: {fast_s / plain_s:.3f}   (goal <= 0.4)")
    print(f"trustworthiness k=10 on {len(rows)} rows: fast {fast_trust:.4f}  plain {plain_trust:.4f}  "
          f"difference {fast_trust - plain_trust:+.4f}   (goal within 0.01)")

    with tempfile.TemporaryDirectory() as cache:
        cold = first_umap_in_fresh_process(cache)
        warm = first_umap_in_fresh_process(cache)
        plain_warm = first_umap_in_fresh_process(cache, via_latentcore=False)
    print("first UMAP (1000 x 32) in a fresh process, imports included:")
    print(f"  latentcore, numba cache cold: {cold:.1f} s   warm: {warm:.1f} s")
    print(f"  umap-learn directly, numba cache warm (its own functions are not cached): {plain_warm:.1f} s")


if __name__ == "__main__":
    main()
