"""How well VAE latents (default training settings) find the grains of simulated scans, against PCA.

    python benchmarks/train_quality.py [--scans small,oxford,...] [--epochs N] [--seed S] [--set NAME=JSON]
                                       [--preprocess default|none|background+average]
                                       [--device cpu|cuda] [--threads 2] [--json out.json]
                                       [--save DIR]

For each simulated scan (latentcore.demo.simulate: settings other than the shared scan's, one of
them written as Oxford H5OINA with uint8 background-corrected patterns), in one run:
- trains the VAE with TrainConfig's defaults (only data, out_dir, device and --epochs/--preprocess
  given), reporting its epochs, time and stop reason;
- "--preprocess none" measures without background correction (the reason the default has it);
- prepares the patterns exactly as training does (load_patterns) and fits PCA with as many
  components as the VAE has latent dimensions;
- clusters VAE mu and the PCA scores as `cluster LATENTS --features latent --method kmeans --k K
  [--smooth 1]` does (artifacts.cluster.job_features, cluster with its defaults), k = the true grain count;
- ARI against the true grain ids on the points not marked bad.
Prints one table and the same numbers as JSON (--json), --save keeps each scan's features as NPZ.
The issue's targets: VAE ARI within 0.02 of PCA or better, and smoothed ARI >= 0.95 for both.

Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from latentcore.analysis.artifacts.cluster import ClusterJob, job_features  # noqa: E402
from latentcore.data.bandcontrast import BandContrast  # noqa: E402
from latentcore.analysis.cluster import cluster  # noqa: E402
from latentcore.data import open_source  # noqa: E402
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd, write_h5oina  # noqa: E402
from latentcore.models.vae import ConvVAE  # noqa: E402
from latentcore.train import TrainConfig, encode_patterns, load_patterns, train_vae  # noqa: E402

# name -> (settings, format): each differs from the shared scan (40 x 60, 60 px, 6 grains, 6000 counts)
SCANS = {
    "small-patterns-many-grains": (ScanSettings(n_rows=30, n_columns=40, pattern_size=40, n_grains=12,
                                                counts=4000, seed=11), "h5ebsd"),
    "large-patterns-noisy": (ScanSettings(n_rows=25, n_columns=40, pattern_size=80, n_grains=5, counts=1500,
                                          seed=12), "h5ebsd"),
    "oxford-processed": (ScanSettings(n_rows=30, n_columns=40, pattern_size=48, n_grains=8, seed=13), "oxford"),
    "low-contrast": (ScanSettings(n_rows=30, n_columns=40, pattern_size=60, n_grains=7, contrast=0.05, seed=14),
                     "h5ebsd"),
}
PREPROCESSING = {"default": None, "none": None,
                 "background+average": {"static_background": "subtract", "dynamic_background": "subtract",
                                        "neighbour_window": "gaussian"}}
WRITERS = {"h5ebsd": (write_h5ebsd, ".h5"), "oxford": (write_h5oina, ".h5oina")}


SMOOTH = 1.0  # grid steps: the done-when's `cluster --features latent --smooth 1`


def grain_ari(features, x, y, truth, good, k, smooth: float = 0.0) -> float:
    """ARI of `cluster LATENTS --features latent --method kmeans --k K [--smooth S]` against the grains:
    the cluster job's own features (smoothed over the points' grid, with the unsmoothed scale) and
    clustering (its defaults: standardised, KMeans n_init 10, seed 0), scored on the points not marked bad."""
    job = ClusterJob(latents="(in memory)", bandcontrast=BandContrast.scan_map(), method="kmeans", features="latent", smooth=smooth,
                     params={"n_clusters": k})
    clustered, scale = job_features(job, features, None, x, y)
    labels = cluster(clustered, job.method, scale=scale, **job.params).labels
    return float(adjusted_rand_score(truth[good], labels[good]))


def measure(name, settings, fmt, folder: Path, overrides: dict, device: str = "cpu", save=None) -> dict:
    scan = simulate_scan(settings)
    writer, suffix = WRITERS[fmt]
    path = writer(scan, folder / f"{name}{suffix}")
    config = TrainConfig(path, folder / f"run-{name}", device=device, **overrides)
    started = time.monotonic()
    result = train_vae(config)
    seconds = time.monotonic() - started
    model = ConvVAE.from_checkpoint(torch.load(result.model_path, weights_only=True, map_location="cpu"))
    with open_source(path) as reader:
        prepared = load_patterns(reader, config)
    mu = encode_patterns(model, prepared.patterns, device=device)
    pca = PCA(model.config.latent_dim, random_state=0).fit_transform(prepared.patterns.reshape(len(mu), -1))
    good, k = ~scan.is_bad, settings.n_grains
    row = {"scan": name, "format": fmt, "points": len(mu), "pattern": settings.pattern_size, "grains": k,
           "counts": settings.counts, "epochs": len(result.history), "stop": result.stop_reason,
           "train_s": round(seconds, 1), "best_val_loss": result.best_val_loss}
    for label, features in (("vae", mu), ("pca", pca)):
        row[f"{label}_ari"] = grain_ari(features, prepared.x, prepared.y, scan.grain_id, good, k)
        row[f"{label}_ari_smooth"] = grain_ari(features, prepared.x, prepared.y, scan.grain_id, good, k, SMOOTH)
    row["vae_minus_pca"] = row["vae_ari"] - row["pca_ari"]
    row["vae_minus_pca_smooth"] = row["vae_ari_smooth"] - row["pca_ari_smooth"]
    if save:
        np.savez(Path(save) / f"{name}.npz", mu=mu, pca=pca, x=prepared.x, y=prepared.y, grain_id=scan.grain_id,
                 is_bad=scan.is_bad, is_boundary=scan.is_boundary)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", default=",".join(SCANS), help=f"comma-separated, of {', '.join(SCANS)}")
    parser.add_argument("--epochs", type=int, help="override the default number of epochs (to save time)")
    parser.add_argument("--preprocess", choices=tuple(PREPROCESSING), default="default",
                        help="pattern preprocessing of training (default: TrainConfig's, static + dynamic background)")
    parser.add_argument("--seed", type=int, help="override TrainConfig's seed (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                        help="override any TrainConfig field, e.g. --set patience=null (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the VAE trains")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--save", type=Path, help="folder for each scan's features (mu, PCA, x, y, truth) as NPZ")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {name: value for name, value in (("epochs", args.epochs), ("seed", args.seed)) if value is not None}
    overrides.update((name, json.loads(value)) for name, value in (item.split("=", 1) for item in args.set))
    if args.preprocess != "default":
        overrides["preprocessing"] = PREPROCESSING[args.preprocess]
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.scans.split(","):
            settings, fmt = SCANS[name]
            rows.append(measure(name, settings, fmt, Path(folder), overrides, args.device, args.save))
            print(f"done {name}: {rows[-1]['train_s']} s", file=sys.stderr, flush=True)
    columns = ["scan", "format", "points", "pattern", "grains", "epochs", "stop", "train_s", "vae_ari", "pca_ari",
               "vae_ari_smooth", "pca_ari_smooth", "vae_minus_pca", "vae_minus_pca_smooth"]
    print(f"training overrides: {overrides or 'none (TrainConfig defaults)'}; {args.device}, {args.threads} threads")
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in columns))
    text = json.dumps({"overrides": overrides, "device": args.device, "rows": rows}, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
