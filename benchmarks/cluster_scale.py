"""Time and peak memory of each clustering method on 1M synthetic (latent, band contrast) pairs,
and of `spatial_maps` filling a 1000 x 1000 grid with 64 latent dimensions.

Each method runs in its own subprocess so that its peak resident memory (ru_maxrss) is its own.
Goal (issue 4): every method within 60 s and 4 GB on this machine.

    nice python benchmarks/cluster_scale.py [--n 1000000]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

CASES = {
    "gmm": {"n_components": "auto", "k_range": [2, 8]},
    "kmeans": {"n_clusters": 6},
    "dbscan": {"eps": 0.05, "min_samples": 300},
    "hdbscan": {"min_cluster_size": 20000, "min_samples": 500},
}


def synthetic_pairs(n: int, seed: int = 0) -> np.ndarray:
    """EBSD-like pairs: six grains with their own latent level and high band contrast, boundaries
    between them at lower contrast, and 3 % bad points at very low contrast."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=[0.86, 0.11, 0.03])  # interior, boundary, bad
    grain = rng.integers(0, 6, size=n)
    latent = grain * 1.0 + rng.normal(0, 0.15, n)
    bc = np.select([kind == 0, kind == 1], [rng.normal(228, 8, n), rng.normal(202, 8, n)], rng.normal(39, 15, n))
    latent[kind == 2] = rng.uniform(-1, 6, (kind == 2).sum())
    return np.column_stack([latent, np.round(bc)])


def run_one(method: str, n: int) -> dict:
    from latentcore.analysis.cluster import cluster

    features = synthetic_pairs(n)
    start = time.perf_counter()
    result = cluster(features, method, **CASES[method])
    seconds = time.perf_counter() - start
    return {"method": method, "n": n, "seconds": round(seconds, 2),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "n_clusters": result.n_clusters, "noise": result.counts.get("-1", 0),
            "sample": result.sample, "params": result.params}


def run_maps(n: int, dims: int = 64) -> dict:
    from latentcore.analysis.maps import spatial_maps

    side = int(round(np.sqrt(n)))
    rows, columns = np.divmod(np.arange(side * side), side)
    latents = np.random.default_rng(0).normal(size=(side * side, dims)).astype(np.float32)
    start = time.perf_counter()
    maps, grid, _ = spatial_maps(latents, columns * 1.5, rows * 1.5)
    seconds = time.perf_counter() - start
    assert maps.shape == (dims, side, side)
    return {"method": f"maps {side}x{side}x{dims}", "n": side * side, "seconds": round(seconds, 2),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "n_clusters": "-", "noise": "-", "sample": {"used": False}}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_maps(args.n) if args.one == "maps" else run_one(args.one, args.n)))
        return
    print(f"{'method':8} {'N':>9} {'seconds':>8} {'peak GB':>8} {'clusters':>8} {'noise':>7}  sample")
    for method in (*CASES, "maps"):
        done = subprocess.run([sys.executable, __file__, "--one", method, "--n", str(args.n)],
                              capture_output=True, text=True)
        if done.returncode:
            print(f"{method:8} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        sample = f"{r['sample']['size']} of {r['sample']['total']}" if r["sample"]["used"] else "all rows"
        ok = "ok" if r["seconds"] <= 60 and r["peak_rss_gb"] <= 4 else "OVER GOAL"
        print(f"{r['method']:8} {r['n']:>9} {r['seconds']:>8} {r['peak_rss_gb']:>8} {r['n_clusters']:>8} "
              f"{r['noise']:>7}  {sample}  {ok}")


if __name__ == "__main__":
    main()
