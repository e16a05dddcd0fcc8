"""Training throughput of `train_vae` against the ceiling of the same model on in-memory tensors.

    python benchmarks/train_speed.py [--data SCAN] [--device auto|cpu|cuda] [--epochs 4] ...

Prints patterns/s of the trainer's training pass (shuffled batches gathered from the preprocessed
set, loss, backward, Adam step; best epoch after the first) and of two ceilings measured in the same
process on one pre-made batch that is used over and over: forward+backward alone, and
forward+backward+Adam step. The ratio trainer / ceiling says how much the data path costs.

Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from latentcore.extract import resolve_device  # noqa: E402
from latentcore.models.vae import ConvVAE, VAEConfig  # noqa: E402
from latentcore.train import TrainConfig, train_vae  # noqa: E402
from latentcore.train.trainer import _autocast, vae_loss  # noqa: E402

SCAN = Path(__file__).resolve().parents[1] / "latentcore" / "demo" / "ni_grains_h5ebsd.h5"


def trainer_throughput(args) -> tuple[float, int]:
    rates = []
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(data=args.data, out_dir=out, input_size=args.input_size, latent_dim=args.latent_dim,
                             channels=args.channels, batch_size=args.batch_size, epochs=args.epochs,
                             kl_warmup_epochs=0, patience=None, device=args.device, resume=False)
        result = train_vae(config, callback=lambda report: rates.append(report.patterns_per_second))
    return max(rates[1:] or rates), result.n_train


def ceiling(args, n_patterns: int, with_step: bool) -> float:
    device = resolve_device(args.device)
    torch.manual_seed(0)
    model = ConvVAE(VAEConfig(input_size=args.input_size, latent_dim=args.latent_dim,
                              channels=args.channels)).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = (torch.rand(args.batch_size, 1, args.input_size, args.input_size, device=device) * 2 - 1)
    steps = max(1, n_patterns // args.batch_size)
    best = 0.0
    for _ in range(args.epochs):
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            with _autocast(device):
                reconstruction, mu, logvar = model(batch)
            loss = vae_loss(reconstruction, batch, mu, logvar, 0.05)["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if with_step:
                optimizer.step()
        _sync(device)
        best = max(best, steps * args.batch_size / (time.perf_counter() - start))
    return best


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SCAN))
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--input-size", type=int, default=30)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--channels", type=lambda t: tuple(int(c) for c in t.split(",")), default=(16, 32, 64))
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    trainer, n_train = trainer_throughput(args)
    forward_backward = ceiling(args, n_train, with_step=False)
    with_step = ceiling(args, n_train, with_step=True)
    device = resolve_device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, {n_train} training patterns of "
          f"{args.input_size}x{args.input_size}, batch {args.batch_size}, channels {args.channels}, "
          f"latent {args.latent_dim}")
    print(f"trainer:                          {trainer:10.0f} patterns/s")
    print(f"ceiling forward+backward:         {forward_backward:10.0f} patterns/s")
    print(f"ceiling forward+backward+Adam:    {with_step:10.0f} patterns/s")
    print(f"trainer / forward+backward:       {trainer / forward_backward:10.2f}")
    print(f"trainer / forward+backward+Adam:  {trainer / with_step:10.2f}")


if __name__ == "__main__":
    main()
