"""The Train page's defaults, sized for this machine: their estimate against the real run, before and now.

    python benchmarks/train_defaults.py [--scans demo,sim5120] [--device cpu|cuda] [--no-run] [--json out.json]

For each scan (the demo's 2,400 patterns; a simulated 64 x 80 = 5,120-pattern scan of 60 px patterns, 20 grains,
made by latentcore.demo.simulate), in this one process as the app's server does it:
- the page's defaults before sizing (input 30 px, widths 16,32,64, batch 32, 20 epochs, torch's threads) and
  their estimate (`sizing.estimate`: counted for idle cores since issue 54, timed before), which the issue measured
  at 58 min on a 5,120-pattern scan;
- the sizing (`sizing.sized_settings`, the page's defaults now, 8 latent dimensions): its wall time (the first call
  of the process, which measures the machine's rate unless it is kept, and a second), the settings, what they were
  sized from and their estimate on idle cores;
- unless --no-run, the run itself (`train_vae` with those settings, TrainConfig's other defaults): the seconds of
  its epochs against the estimate, the whole call (reading and preprocessing the patterns included), the
  trainer's own estimate from its first batches, and for the simulated scan the grain ARI of k-means on the
  latents and on PCA of the same patterns (benchmarks/train_quality.py's grain_ari, unsmoothed and smoothed).
Prints one JSON line per scan as it goes, then everything with the machine and the load average before and
after. Takes about 6 min on a shared 2-core CPU (two sized runs of at most 3 min each by their estimates), under a
minute with --no-run. The goal: the default run takes a few minutes (<= 3 min estimated) and the estimate <= 5 s.

Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latentcore.train.config import openmp_waits_sleep  # noqa: E402

openmp_waits_sleep()  # before torch loads OpenMP, as the app's training worker does

import torch  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from latentcore.data import open_source  # noqa: E402
from latentcore.demo import DEMO_SCAN  # noqa: E402
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd  # noqa: E402
from latentcore.models.vae import ConvVAE  # noqa: E402
from latentcore.train import TrainConfig, encode_patterns, load_patterns, train_vae  # noqa: E402
from latentcore.train import sizing  # noqa: E402
from train_quality import SMOOTH, grain_ari  # noqa: E402

LATENT_DIM = 8  # the Train page's
BEFORE = {"input_size": 30, "channels": (16, 32, 64), "batch_size": 32, "epochs": 20, "patterns_per_epoch": None,
          "threads": None}  # the page's defaults before sizing
SIM5120 = ScanSettings(n_rows=64, n_columns=80, pattern_size=60, n_grains=20, seed=5)


def measure(name: str, path: Path, truth, folder: Path, device: str, run: bool) -> dict:
    with open_source(path) as reader:
        count, side = reader.count("all"), min(reader.info().item_shape[-2:])
    before = sizing.estimate(BEFORE, count, device, LATENT_DIM)
    row = {"scan": name, "patterns": count, "before_estimate_s": round(before.seconds_total)}
    for call in ("first", "second"):
        started = time.monotonic()
        sized = sizing.sized_settings(count, side, device, LATENT_DIM)
        row[f"sizing_{call}_s"] = round(time.monotonic() - started, 2)
    row.update(settings=sized.text(), sized_from=sized.basis_text(), estimate_s=round(sized.estimate.seconds_total),
               longer=sizing.longer_runs_text(sized.estimate))
    if not run:
        return row
    config = TrainConfig(path, folder / f"run-{name}", latent_dim=LATENT_DIM, device=device, **sized.values)
    started = time.monotonic()
    result = train_vae(config)
    row.update(call_s=round(time.monotonic() - started), epochs_s=round(sum(r["seconds"] for r in result.history)),
               epochs=len(result.history), stop=result.stop_reason,
               trainer_estimate_s=round(result.estimate.seconds_total) if result.estimate else None)
    row["epochs_over_estimate"] = round(row["epochs_s"] / max(row["estimate_s"], 1), 2)
    if truth is not None:
        row.update(quality(config, result, path, *truth, device))
    return row


def quality(config, result, path, grain_id, is_bad, n_grains, device) -> dict:
    model = ConvVAE.from_checkpoint(torch.load(result.model_path, weights_only=True, map_location="cpu"))
    with open_source(path) as reader:
        prepared = load_patterns(reader, config)
    mu = encode_patterns(model, prepared.patterns, device=device)
    pca = PCA(LATENT_DIM, random_state=0).fit_transform(prepared.patterns.reshape(len(mu), -1))
    good = ~is_bad
    return {f"{label}_ari{tag}": round(grain_ari(features, prepared.x, prepared.y, grain_id, good, n_grains, smooth), 3)
            for label, features in (("vae", mu), ("pca", pca)) for tag, smooth in (("", 0.0), ("_smooth", SMOOTH))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", default="demo,sim5120")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    parser.add_argument("--no-run", action="store_true", help="only the estimates, not the runs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.scans.split(","):
            if name == "demo":
                path, truth = DEMO_SCAN, None
            else:
                scan = simulate_scan(SIM5120)
                path = write_h5ebsd(scan, Path(folder) / "sim5120.h5")
                truth = (scan.grain_id, scan.is_bad, SIM5120.n_grains)
            rows.append(measure(name, path, truth, Path(folder), args.device, not args.no_run))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "load_before": load, "load_after": os.getloadavg(),
               "device": args.device}
    text = json.dumps({"machine": machine, "rows": rows}, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
