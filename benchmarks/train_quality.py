"""How well VAE latents recover the grains of the simulated nickel scan, against PCA.

    python benchmarks/train_quality.py [--epochs 20] [--input-size 30] [--latent-dim 8] [--seeds 0,1,2]
    python benchmarks/train_quality.py --model latentcore/demo/vae_model.pth   # judge a trained model

Prints, for a VAE trained on the CPU as tests/test_train.py trains it (and for each seed asked), or
for the model given:
the training time, the ARI of KMeans (k=6) on mu against `ni_grains_truth.csv` (pixels not marked
bad), the ARI of KMeans on the top principal components of the raw patterns (as stored, and after
the VAE's preprocessing), and the validation reconstruction MSE of the VAE against PCA with as
many components as latent dimensions (same patterns, same split, same [-1, 1] scale).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from latentcore.data import open_source  # noqa: E402
from latentcore.models.vae import ConvVAE  # noqa: E402
from latentcore.train import TrainConfig, encode_patterns, load_patterns, train_vae  # noqa: E402
from latentcore.train.dataset import split_train_val  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ebsd"


def grain_ari(features: np.ndarray, truth: pd.DataFrame, good: np.ndarray) -> float:
    clusters = KMeans(6, n_init=10, random_state=0).fit_predict(features[good])
    return adjusted_rand_score(truth.grain_id[good], clusters)


def pca_baselines(scan: Path, config: TrainConfig, truth, good) -> dict[str, float]:
    with open_source(scan) as reader:
        raw = reader.read("all", 0, reader.count("all")).reshape(reader.count("all"), -1)
        prepared = load_patterns(reader, config).patterns.reshape(len(raw), -1)
    train, val = split_train_val(len(prepared), config.val_fraction, config.seed)
    pca = PCA(config.latent_dim, random_state=0).fit(prepared[train])
    val_mse = float(np.mean((pca.inverse_transform(pca.transform(prepared[val])) - prepared[val]) ** 2))
    return {"pca_raw_ari": grain_ari(PCA(config.latent_dim, random_state=0).fit_transform(raw), truth, good),
            "pca_prepared_ari": grain_ari(pca.transform(prepared), truth, good),
            "pca_val_mse": val_mse}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", type=Path, help="judge this vae_model.pth instead of training one")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--input-size", type=int, default=30)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--channels", type=lambda t: tuple(int(c) for c in t.split(",")), default=(16, 32, 64))
    parser.add_argument("--beta", type=float, default=0.05)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    scan = args.data / "ni_grains_h5ebsd.h5"
    truth = pd.read_csv(args.data / "ni_grains_truth.csv")
    good = truth.is_bad.to_numpy() == 0
    if args.model:
        checkpoint = torch.load(args.model, weights_only=True)
        model = ConvVAE.from_checkpoint(checkpoint)
        config = TrainConfig(scan, args.model.parent, input_size=model.config.input_size,
                             latent_dim=model.config.latent_dim, **{k: v for k, v in checkpoint.get("training", {}).items()
                                                                      if k in ("seed", "val_fraction")})
        report(model, config, None, scan, truth, good)
        return
    for seed in (int(s) for s in args.seeds.split(",")):
        with tempfile.TemporaryDirectory() as out:
            config = TrainConfig(scan, out, input_size=args.input_size, latent_dim=args.latent_dim,
                                 channels=args.channels, beta=args.beta, epochs=args.epochs,
                                 batch_size=args.batch_size, seed=seed, device="cpu")
            started = time.monotonic()
            result = train_vae(config)
            seconds = time.monotonic() - started
            model = ConvVAE.from_checkpoint(torch.load(result.model_path, weights_only=True))
        print(f"seed {seed}: {len(result.history)} epochs in {seconds:.0f} s ({torch.get_num_threads()} threads), "
              f"stop: {result.stop_reason}")
        report(model, config, result, scan, truth, good)


def report(model, config: TrainConfig, result, scan, truth, good):
    with open_source(scan) as reader:
        patterns = load_patterns(reader, TrainConfig(scan, config.out_dir, input_size=config.input_size)).patterns
    vae_ari = grain_ari(encode_patterns(model, patterns), truth, good)
    _, val = split_train_val(len(patterns), config.val_fraction, config.seed)
    with torch.no_grad():
        model.eval()
        reconstruction = model(torch.from_numpy(patterns[val]))[0].numpy()
    vae_val_mse = float(np.mean((reconstruction - patterns[val]) ** 2))
    baselines = pca_baselines(scan, config, truth, good)
    dims = config.latent_dim
    print(f"  ARI  VAE mu (k=6):                 {vae_ari:.3f}")
    print(f"  ARI  PCA({dims}) of raw patterns:       {baselines['pca_raw_ari']:.3f}")
    print(f"  ARI  PCA({dims}) of prepared patterns:  {baselines['pca_prepared_ari']:.3f}")
    print(f"  validation MSE  VAE: {vae_val_mse:.5f}   PCA({dims}): {baselines['pca_val_mse']:.5f}   "
          f"ratio VAE/PCA: {vae_val_mse / baselines['pca_val_mse']:.2f}")


if __name__ == "__main__":
    main()
