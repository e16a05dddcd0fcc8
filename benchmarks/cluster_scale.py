"""Time and peak memory of each clustering method on 1M synthetic (latent, band contrast) pairs,
and of `spatial_maps` filling a 1000 x 1000 grid with 64 latent dimensions.

Each method runs in its own subprocess so that its peak resident memory (ru_maxrss) is its own.
Goal: every method within 60 s and 4 GB on this machine.

`--compare`: on N rows (default 200k, where a full fit is feasible) fit every method
twice, on every row and as `cluster` does by default (a seeded sample, the rest assigned), and
print the ARI between the two labelings over every row (noise counted as a label of its own).
Goal: >= 0.95 for every method. Two data sets: 8-D latent vectors of six grains (GMM, KMeans:
what `--features latent` clusters) and the (latent, band contrast) pairs above (every method).
Counts (min_samples, min_cluster_size) are CASES' scaled by N/1M: the same density as at 1M.
GMM and KMeans are also fitted on every row at a second seed (the seed ARI: how reproducible a full fit is).

`--decide`: on N rows (default 3M) of 16-D grain latents, GMM and KMeans as `cluster` fits them by default, their
restarts decided on a seeded sample of `REFINE_MAX_ROWS` rows, against the same fit with the restarts decided on
every row: seconds, peak memory of each (a subprocess each), the ARI between them and KMeans' inertia ratio.

`--page-run SIDES`: the Clusters page's first open as its worker runs it (`ui.compute.tasks.cluster_run`: read the
latents and the scan's band-contrast map, GMM of the (latent 0, band contrast) pairs at the page's defaults, the
assignments CSV), on generated side x side scans (benchmarks/browser_interaction.py's `write_scan`, `--dims`
dimensions), each run in a subprocess of its own: wall and CPU seconds. With `--baseline DIR` (another checkout)
the same runs from there, alternated with this checkout's `--repeats` times. Goals (the page's first open, of which
this is the most): <= 2 s at 200,000 rows, <= 4 s at 1,000,000, <= 30 s at ten million.

    nice python benchmarks/cluster_scale.py [--n 1000000]
    nice python benchmarks/cluster_scale.py --compare [--n 200000]
    nice python benchmarks/cluster_scale.py --decide [--n 3000000]
    nice python benchmarks/cluster_scale.py --page-run 447,1000,3163 --dims 16 [--baseline ../main] [--repeats 2]

Results, with what they showed about `gmm` (EM from the k-means partition), KMeans's restarts refined on every
row and HDBSCAN's scaled counts: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
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


COMPARE = [  # (data, method, parameters at 1M rows: counts are scaled to N)
    ("latents", "gmm", {"n_components": 6}),
    ("latents", "kmeans", {"n_clusters": 6}),
    *[("pairs", method, params) for method, params in CASES.items()],
]


def compare(n: int) -> None:
    from sklearn.metrics import adjusted_rand_score

    from latentcore.analysis.cluster import _standardise, cluster, describe_fit
    from latentcore.demo.simulate import grain_latents

    data = {"latents": grain_latents(n)[0], "pairs": synthetic_pairs(n)}
    fraction = n / 1_000_000
    print(f"sampled (cluster's defaults) vs full fit on {n} rows; ARI over every row, noise a label of its own.\n"
          "'seed ARI': the full fit against a full fit with another seed (the method's own reproducibility).")
    print(f"{'data':8} {'method':8} {'full s':>7} {'sampled s':>9} {'clusters':>9} {'noise':>13} {'ARI':>7} "
          f"{'seed ARI':>8}  result")
    for name, method, params in COMPARE:
        params = {k: max(2, int(round(v * fraction))) if k in ("min_samples", "min_cluster_size") else v
                  for k, v in params.items()}
        features = data[name]
        start = time.perf_counter()
        full = cluster(features, method, max_fit_samples=None, **params)
        middle = time.perf_counter()
        sampled = cluster(features, method, **params)
        end = time.perf_counter()
        ari = adjusted_rand_score(full.labels, sampled.labels)
        seed_ari = "-"
        note = ""
        if method in ("gmm", "kmeans"):  # dbscan/hdbscan full fits do not depend on the seed
            other = cluster(features, method, max_fit_samples=None, random_state=1, **params)
            seed_ari = f"{adjusted_rand_score(full.labels, other.labels):.4f}"
        scaled = _standardise(features)
        if method == "kmeans":  # the method's own objective on every row (lower is better)
            note = f"; inertia on all rows, sampled/full {inertia(scaled, sampled.labels) / inertia(scaled, full.labels):.5f}"
        elif method == "gmm":  # higher is better
            note = (f"; Gaussian log-likelihood per row of the partition, sampled {partition_loglik(scaled, sampled.labels):.4f}"
                    f" full {partition_loglik(scaled, full.labels):.4f}")
        if sampled.warnings:
            note += f"; warning: {sampled.warnings[0]}"
        noise = f"{full.counts.get('-1', 0)}/{sampled.counts.get('-1', 0)}"
        print(f"{name:8} {method:8} {middle - start:>7.1f} {end - middle:>9.1f} {full.n_clusters:>4}/{sampled.n_clusters:<4} "
              f"{noise:>13} {ari:>7.4f} {seed_ari:>8}  {'ok' if ari >= 0.95 else 'BELOW GOAL'}{note}; "
              f"{describe_fit(sampled)}", flush=True)


DECIDE_PARAMS = {"gmm": {"n_components": 6}, "kmeans": {"n_clusters": 6}}


def decided(method: str, n: int, every_row: bool) -> dict:
    """One fit of `--decide` (in its own process: its peak memory its own); its labels in a temporary file."""
    import tempfile

    from latentcore.analysis import cluster as module
    from latentcore.demo.simulate import grain_latents

    if every_row:
        module.REFINE_MAX_ROWS = None  # sample_rows(n, None): every row decides
    features = grain_latents(n, dims=16)[0]
    start = time.perf_counter()
    result = module.cluster(features, method, **DECIDE_PARAMS[method])
    seconds = time.perf_counter() - start
    with tempfile.NamedTemporaryFile(suffix=".npy", delete=False) as out:
        np.save(out, result.labels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"seconds": round(seconds, 1), "peak_rss_gb": round(peak, 2), "refined_on": result.fit["refined_on"],
            "labels": out.name}


def decide(n: int) -> None:
    from sklearn.metrics import adjusted_rand_score

    from latentcore.analysis.cluster import _standardise
    from latentcore.demo.simulate import grain_latents

    scaled = _standardise(grain_latents(n, dims=16)[0])
    print(f"{n:,} rows of 16-D grain latents: restarts decided on a sample (the default) vs on every row")
    for method in DECIDE_PARAMS:
        runs = {}
        for every_row in (False, True):
            done = subprocess.run([sys.executable, __file__, "--one", f"decide:{method}:{int(every_row)}",
                                   "--n", str(n)], capture_output=True, text=True, check=True)
            runs[every_row] = json.loads(done.stdout.strip().splitlines()[-1])
        labels = {}
        for key, run in runs.items():
            path = Path(run.pop("labels"))
            labels[key] = np.load(path)
            path.unlink()
        ratio = inertia(scaled, labels[False]) / inertia(scaled, labels[True])
        print(json.dumps({"method": method, "sample": runs[False], "every_row": runs[True],
                          "ari": round(adjusted_rand_score(labels[True], labels[False]), 5),
                          "inertia_sample_over_every_row": round(ratio, 6)}), flush=True)


def partition_loglik(features, labels) -> float:
    """Mean over rows of log(weight_c N(x | mean_c, cov_c)) of each row's own cluster c, the
    Gaussians fitted to the partition: GMM's objective for a hard partition (higher is better)."""
    from scipy.stats import multivariate_normal

    total = 0.0
    for c in np.unique(labels):
        rows = features[labels == c]
        cov = np.cov(rows, rowvar=False) + 1e-6 * np.eye(features.shape[1])
        total += multivariate_normal(rows.mean(0), cov).logpdf(rows).sum() + len(rows) * np.log(len(rows) / len(labels))
    return total / len(labels)


def inertia(features, labels) -> float:
    """Sum of squared distances of the rows to their cluster's mean."""
    return float(sum(((features[labels == c] - features[labels == c].mean(0)) ** 2).sum() for c in np.unique(labels)))


PAGE_RUN = """
import json, sys, time
from latentcore.analysis.artifacts.cluster import ClusterJob
from latentcore.data.bandcontrast import BandContrast
from ui.compute import tasks
job = ClusterJob(latents=sys.argv[1], bandcontrast=BandContrast.parse("scan:Band Contrast"), method="gmm")
wall, cpu = time.perf_counter(), time.process_time()
run = tasks.cluster_run(job, sys.argv[2], (job.latents,), lambda *args: None)
print(json.dumps({"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
                  "fit": run["report"]["fit_summary"]}))
"""


def page_runs(sides: list[int], dims: int, checkouts: dict, repeats: int) -> None:
    """The Clusters page's worker task on each scan, from each checkout in turn (see the module docstring)."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from browser_interaction import write_scan

    with tempfile.TemporaryDirectory() as scratch:
        for side in sides:
            latents, _ = write_scan(Path(scratch) / f"side{side}", side, dims, table=False)
            for repeat in range(repeats):
                for label, checkout in checkouts.items():
                    done = subprocess.run([sys.executable, "-c", PAGE_RUN, str(latents), str(Path(scratch) / label)],
                                          capture_output=True, text=True, cwd=checkout,  # `-c` puts the cwd first
                                          env={**os.environ, "PYTHONPATH": str(checkout)})
                    if done.returncode:
                        raise SystemExit(done.stderr)
                    print(json.dumps({"rows": side * side, "checkout": label, "repeat": repeat,
                                      **json.loads(done.stdout.strip().splitlines()[-1]),
                                      "load": Path("/proc/loadavg").read_text().split()[:3]}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int)
    parser.add_argument("--compare", action="store_true", help="sampled vs full fit ARI (default N 200k)")
    parser.add_argument("--decide", action="store_true", help="restarts decided on a sample vs every row (N 3M)")
    parser.add_argument("--page-run", help="scan sides: the Clusters page's worker task on side x side scans")
    parser.add_argument("--dims", type=int, default=16, help="--page-run: latent dimensions of the scans")
    parser.add_argument("--baseline", type=Path, help="--page-run: another checkout, run alternated with this one")
    parser.add_argument("--repeats", type=int, default=2, help="--page-run: runs of each checkout")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare:
        compare(args.n or 200_000)
        return
    if args.decide and not args.one:
        decide(args.n or 3_000_000)
        return
    if args.page_run:
        checkouts = {"this": Path(__file__).resolve().parents[1],
                     **({"baseline": args.baseline.resolve()} if args.baseline else {})}
        page_runs([int(side) for side in args.page_run.split(",")], args.dims, checkouts, args.repeats)
        return
    args.n = args.n or 1_000_000
    if args.one and args.one.startswith("decide:"):
        _, method, every_row = args.one.split(":")
        print(json.dumps(decided(method, args.n, every_row == "1")))
        return
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
