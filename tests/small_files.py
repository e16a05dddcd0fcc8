"""Small input files that several test modules write, from fixed seeds: an h5ebsd-layout scan, its latents, labels
by row and a VAE checkpoint (`scan_files`: the first three in one folder); `TEST_DATA`, the small sample files kept
in tests/data/."""
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

from latentcore.latents import LatentsWriter
from latentcore.models.vae import ConvVAE, VAEConfig
from latentcore.storage import sha256_file

TEST_DATA = Path(__file__).resolve().parent / "data"
HEADER = "Scan 1/EBSD/Header"
PATTERNS = "Scan 1/EBSD/Data/patterns"
N_ROWS, N_COLUMNS, STEP = 4, 5, 1.5  # write_scan's grid


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


def scan_latents(path, scan, source_sha256="auto", dim=3, seed=1, x_offset=0.0):
    """Latents of `scan` (random rows, the scan's x, y), recording its SHA-256 unless told otherwise."""
    n = N_ROWS * N_COLUMNS
    rows, columns = np.divmod(np.arange(n), N_COLUMNS)
    writer = LatentsWriter(path, {"all": (n, dim)}, {"test": seed})
    writer.write_rows("all", 0, np.random.default_rng(seed).normal(size=(n, dim)).astype("f4"))
    writer.write_array("x", STEP * columns + x_offset)
    writer.write_array("y", STEP * rows)
    attrs = {"model": "test"}
    if source_sha256:
        attrs["source_sha256"] = sha256_file(scan) if source_sha256 == "auto" else source_sha256
    writer.finish(attrs)
    return path


def labels_by_row(path, names):
    pd.DataFrame({"row": np.arange(len(names)), "label": names}).to_csv(path, index=False)
    return path


def scan_files(folder) -> dict:
    """{"scan", "latents", "labels" (two classes of 10 rows), "folder"}: a scan, its latents and labels in `folder`."""
    scan = write_scan(folder / "scan.h5")
    latents = scan_latents(folder / "scan_latents.h5", scan)
    labels = labels_by_row(folder / "labels.csv", ["a"] * 10 + ["b"] * 10)
    return {"scan": scan, "latents": latents, "labels": labels, "folder": folder}


def twinned_scan(seed=4, n_rows=12, n_columns=16, n_grains=4, specks=3, pattern_size=32):
    """A simulated nickel scan (`latentcore.demo.simulate`) whose two grains sharing the longest boundary are a Σ3
    twin pair (each point of the second the first grain's first point turned 60° about [111] in the crystal frame,
    with 0.3° of noise), `specks` indexed pixels of random orientations inside grains (grains of one pixel), and 5 %
    bad points (not indexed in an H5OINA). Returns (scan, (parent, twin) grain ids, the specks' rows)."""
    from scipy.spatial.transform import Rotation

    from latentcore.analysis.ebsd import orientation as ori
    from latentcore.analysis.ebsd.grains import bunge_radians
    from latentcore.demo.simulate import ScanSettings, simulate_scan

    scan = simulate_scan(ScanSettings(n_rows=n_rows, n_columns=n_columns, pattern_size=pattern_size,
                                      n_grains=n_grains, seed=seed, bad_fraction=0.05))
    grid = scan.grain_id.reshape(n_rows, n_columns)
    pairs = np.concatenate([np.stack([grid[:, :-1].ravel(), grid[:, 1:].ravel()], 1),
                            np.stack([grid[:-1].ravel(), grid[1:].ravel()], 1)])
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    shared, counts = np.unique(pairs, axis=0, return_counts=True)
    parent, twin = (int(g) for g in shared[np.argmax(counts)])
    rng = np.random.default_rng(seed)
    sigma3 = Rotation.from_rotvec(np.deg2rad(60) * np.ones(3) / np.sqrt(3))
    reference = ori.sample_to_crystal(scan.euler[np.flatnonzero(scan.grain_id == parent)[0]])
    mine = np.flatnonzero(scan.grain_id == twin)
    noise = Rotation.from_rotvec(rng.normal(0, np.deg2rad(0.3), (len(mine), 3)))
    euler = scan.euler.copy()
    euler[mine] = bunge_radians((noise * sigma3 * reference).as_quat())
    inner = np.flatnonzero(~scan.is_bad & ~scan.is_boundary)
    inside = [row for row in inner if _all_neighbours_alike(scan, row)]
    speck_rows = np.sort(rng.choice(inside, specks, replace=False))
    euler[speck_rows] = bunge_radians(Rotation.random(specks, random_state=seed).as_quat())
    scan.euler = euler
    return scan, (parent, twin), speck_rows


def _all_neighbours_alike(scan, row) -> bool:
    """The point's 4 neighbours are on the grid, indexed and of its grain, and none of them is next to a bad point."""
    n_rows, n_columns = scan.settings.n_rows, scan.settings.n_columns
    r, c = divmod(int(row), n_columns)
    around = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))]
    if not all(0 <= a < n_rows and 0 <= b < n_columns for a, b in around):
        return False
    rows = [a * n_columns + b for a, b in around]
    return all(scan.grain_id[k] == scan.grain_id[row] and not scan.is_bad[k] for k in rows)
