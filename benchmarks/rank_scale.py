"""What the Rank page's first open costs its worker: `rank_dimensions` at the page's default metrics (pearson,
spearman, mutual information, partial pearson) of N x D seeded latents against one band-contrast-like reference
(half the first dimension plus noise) on a square grid, each run in a subprocess of its own (wall and CPU seconds,
and the seconds until the first pair is scored: the preparation).
With `--baseline DIR` (another checkout) the same runs from there, alternated with this checkout's `--repeats`
times, and the two tables are compared: the same dimensions in the same order, the largest difference of each
metric.

    python benchmarks/rank_scale.py [--rows 200000,1000000] [--dims 128] [--repeats 2] [--baseline ../main]
    python benchmarks/rank_scale.py --sizes 1000000x128,10000000x16 --baseline ../main  # issue 55's goals

Goals (issue 55, item 1): <= 5 s at 1M x 128 and <= 15 s at 10M x 16 on the 2-core machine.

Prints JSON lines. Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
METRICS = ["pearson", "spearman", "mutual_information", "partial_pearson"]


def one_run(rows: int, dims: int, table_path: str) -> None:
    """In the subprocess: the ranking, its seconds on stdout, its table written to `table_path`."""
    import resource

    from latentcore.analysis.rank import rank_dimensions

    rng = np.random.default_rng(0)
    latents = rng.standard_normal((rows, dims), dtype=np.float32)
    side = int(np.ceil(np.sqrt(rows)))
    x, y = (np.arange(rows) % side).astype(np.float64), (np.arange(rows) // side).astype(np.float64)
    reference = 0.5 * latents[:, 0] + rng.standard_normal(rows)
    first = []

    def progress(done, total):
        if not first:
            first.append(time.perf_counter() - start)
    cpu, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    table = rank_dimensions(latents, {"band contrast": reference}, x, y, metrics=METRICS, progress=progress)
    wall, done = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    table.to_csv(table_path, index=False)
    print(json.dumps({"wall_s": round(wall, 2), "first_pair_s": round(first[0], 2),
                      "cpu_s": round(done.ru_utime + done.ru_stime - cpu.ru_utime - cpu.ru_stime, 2)}))


def timed(checkout: Path, rows: int, dims: int, table_path: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--one", str(rows), str(dims), str(table_path)],
                          capture_output=True, text=True, cwd=checkout,
                          env={**os.environ, "PYTHONPATH": str(checkout)})
    if done.returncode:
        raise SystemExit(f"{checkout}: {done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def differences(table: Path, other: Path) -> dict:
    import pandas as pd

    a, b = pd.read_csv(table), pd.read_csv(other)
    return {"same_order": bool((a["dimension"] == b["dimension"]).all()),
            **{f"max_abs_diff_{m}": float(np.abs(a[m] - b[m]).max()) for m in METRICS}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="200000,1000000", help="comma-separated row counts")
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--sizes", help="comma-separated ROWSxDIMS (e.g. 1000000x128,10000000x16): instead of "
                                        "--rows and --dims")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="another checkout, alternated with this one")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # the subprocess's own run
    args = parser.parse_args()
    if args.one:
        sys.path.insert(0, str(Path.cwd()))
        return one_run(int(args.one[0]), int(args.one[1]), args.one[2])
    checkouts = {"this": REPO, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    load = lambda: Path("/proc/loadavg").read_text().split()[:3]  # noqa: E731
    with tempfile.TemporaryDirectory() as scratch:
        sizes = ([tuple(map(int, size.split("x"))) for size in args.sizes.split(",")] if args.sizes
                 else [(int(rows), args.dims) for rows in args.rows.split(",")])
        for rows, dims in sizes:
            runs = {label: [] for label in checkouts}
            for _ in range(args.repeats):
                for label, checkout in checkouts.items():
                    runs[label].append(timed(checkout, rows, dims, Path(scratch) / f"{label}.csv"))
            for label in checkouts:
                print(json.dumps({"rows": rows, "dims": dims, "checkout": label, "load": load(),
                                  "wall_s": round(statistics.median(r["wall_s"] for r in runs[label]), 2),
                                  "cpu_s": round(statistics.median(r["cpu_s"] for r in runs[label]), 2),
                                  "runs": runs[label]}),
                      flush=True)
            if args.baseline:
                print(json.dumps({"rows": rows, "dims": dims, **differences(Path(scratch) / "this.csv",
                                                              Path(scratch) / "baseline.csv")}), flush=True)


if __name__ == "__main__":
    main()
