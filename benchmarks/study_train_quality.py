"""One model for a study: does a VAE trained on all of a study's scans find their shared orientations as one cluster
each, across the scans, better than one trained on one of them?

Simulates scans that share their grains' orientations (latentcore/demo/simulate.py, one `orientation_seed`, other
seeds: other grain shapes, noise and sizes; a scan of more grains has the first scans' orientations and more of its
own, as a series of samples can), then for each model (`train-vae` at its defaults, sized for this machine: on all
the scans, "study", and on the first alone, "one scan") runs the command line as a scientist would: `batch --study`
(each scan extracted with the model, one study), `cluster STUDY --features latent --method kmeans --k K --smooth S`
(K: the orientations of the study) for S in 0 and 1. Prints, and writes as JSON, the adjusted Rand index of the
clusters against the grains' orientation (the same orientation is one class in every scan): over the whole study,
and the lowest of the scans; each training's minutes and the settings it was sized to.

    python benchmarks/study_train_quality.py [--sizes 40x48,36x52,44x44] [--grains 6,6,6] [--minutes 3]
        [--orientation-seed 11] [--json out.json]

Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd  # noqa: E402


def latentcore(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "latentcore", *args], check=True, stdout=subprocess.DEVNULL)


def simulate(folder: Path, sizes, grains: list[int], orientation_seed: int) -> tuple[list[Path], dict]:
    paths, truth = [], {}
    for seed, ((rows, columns), count) in enumerate(zip(sizes, grains), 1):
        scan = simulate_scan(ScanSettings(n_rows=rows, n_columns=columns, n_grains=count, seed=seed,
                                          orientation_seed=orientation_seed))
        paths.append(write_h5ebsd(scan, folder / f"scan{seed}.h5"))
        truth[f"scan{seed}"] = scan.grain_id  # grain i has orientation i in every scan (the seed's first draws)
    return paths, truth


def measure(name: str, train_on: list[Path], scans: list[Path], truth: dict, k: int, minutes: float,
            folder: Path) -> dict:
    run = folder / name.replace(" ", "-")
    start = time.perf_counter()
    latentcore("train-vae", *map(str, train_on), "--out", str(run), "--minutes", str(minutes))
    sized = json.loads((run / "config.json").read_text())["train"]
    result = {"train_minutes": (time.perf_counter() - start) / 60, "settings": {key: sized[key] for key in (
        "input_size", "channels", "epochs", "batch_size", "patterns_per_epoch", "threads")}}
    latentcore("batch", "--model", str(run / "vae_model.pth"), *map(str, scans), "--out", str(run / "latents"),
               "--study", "study")
    for smooth in (0, 1):
        out = run / f"clusters{smooth}"
        latentcore("cluster", str(run / "latents" / "study.study.json"), "--features", "latent", "--method", "kmeans",
                   "--k", str(k), "--smooth", str(smooth), "--out", str(out), "--no-png")
        table = pd.read_csv(next(out.glob("cluster_assignments__*.csv")))
        expected = np.concatenate([truth[source][rows] for source, rows in table.groupby("source", sort=False)["row"]])
        found = np.concatenate([c.to_numpy() for _, c in table.groupby("source", sort=False)["cluster"]])
        per_scan = [adjusted_rand_score(truth[source][part["row"]], part["cluster"])
                    for source, part in table.groupby("source")]
        result[f"smooth{smooth}"] = {"ari_study": adjusted_rand_score(expected, found),
                                     "ari_lowest_scan": min(per_scan)}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="40x48,36x52,44x44", help="each scan's rows x columns")
    parser.add_argument("--grains", default="6,6,6", help="each scan's grains: the first N orientations of the seed")
    parser.add_argument("--orientation-seed", type=int, default=11)
    parser.add_argument("--minutes", type=float, default=3.0, help="train-vae --minutes")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    grains = [int(count) for count in args.grains.split(",")]
    if len(grains) != len(sizes):
        parser.error(f"--grains gives {len(grains)} counts for {len(sizes)} scans")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        scans, truth = simulate(folder, sizes, grains, args.orientation_seed)
        results = {"sizes": args.sizes, "grains": args.grains, "orientation_seed": args.orientation_seed,
                   "load_before": Path("/proc/loadavg").read_text()[:14]}
        for name, train_on in (("study", scans), ("one scan", scans[:1])):
            results[name] = measure(name, train_on, scans, truth, max(grains), args.minutes, folder)
        results["load_after"] = Path("/proc/loadavg").read_text()[:14]
    print(json.dumps(results, indent=1))
    print(f"{'model':<10}{'train min':>10}{'ARI study':>11}{'lowest scan':>13}{'ARI smooth 1':>14}{'lowest scan':>13}")
    for name in ("study", "one scan"):
        r = results[name]
        print(f"{name:<10}{r['train_minutes']:>10.1f}{r['smooth0']['ari_study']:>11.3f}"
              f"{r['smooth0']['ari_lowest_scan']:>13.3f}{r['smooth1']['ari_study']:>14.3f}"
              f"{r['smooth1']['ari_lowest_scan']:>13.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
