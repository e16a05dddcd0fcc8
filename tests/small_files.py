"""Small input files that several test modules write, from fixed seeds: an h5ebsd-layout scan and a VAE checkpoint;
`TEST_DATA`, the small sample files kept in tests/data/."""
from pathlib import Path

import h5py
import numpy as np
import torch

from latentcore.models.vae import ConvVAE, VAEConfig

TEST_DATA = Path(__file__).resolve().parent / "data"
HEADER = "Scan 1/EBSD/Header"
PATTERNS = "Scan 1/EBSD/Data/patterns"


def write_scan(path, n_rows=4, n_columns=5, side=60, dtype="u1", header=None, **dataset_options):
    """A small h5ebsd-layout scan (the layout kikuchipy writes), patterns from a fixed seed."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        if not {"external", "shape", "data"} & set(dataset_options):
            dataset_options["data"] = rng.integers(0, 255, (n_rows * n_columns, side, side)).astype(dtype)
        if "data" in dataset_options:
            dtype = dataset_options["data"].dtype
        f.create_dataset(PATTERNS, dtype=dtype, **dataset_options)
        values = {"n_rows": n_rows, "n_columns": n_columns, "step_x": 1.5, "step_y": 1.5, **(header or {})}
        for name, value in values.items():
            f[f"{HEADER}/{name}"] = [value]
    return path



def vae_checkpoint(path, **config_changes):
    torch.manual_seed(0)
    checkpoint = ConvVAE(VAEConfig(input_size=60, latent_dim=4, channels=(8, 16))).checkpoint()
    checkpoint["config"].update(config_changes)
    torch.save(checkpoint, path)
    return path
