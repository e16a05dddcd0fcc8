"""Latents as training data: NPZ and Parquet exports with a seeded split, and a
`torch.utils.data.Dataset` view of a latents file.

NPZ (the features layout of docs/architecture.md): `X` float32 (N, D); `y` (N,) when labels are
given; `idx_train`, `idx_val`, `idx_test` int64 row indices (a seeded random split); for scans also
`coord_x`, `coord_y`. Parquet: one row per latent with columns `latent_0..latent_{D-1}`,
`partition`, `index`, the source metadata (cutouts) or `x`, `y` (scans), `label` and `split`.

Labels are an (N,) array in the order of the exported rows, or the name of a metadata column.

Maps (`export_maps_npz`): `maps` float32 (n_maps, n_rows, n_columns), NaN where no pixel; `names`;
`origin` (x0, y0) of pixel [0, 0], `step` (step_x, step_y), `units` ("um"), and `x`, `y` of the columns
and rows, so that pixel [r, c] sits at origin + (c * step_x, r * step_y).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from .errors import InputError
from .latents import Latents, read_latents
from .storage import atomic_path

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def split_indices(n: int, fractions=DEFAULT_FRACTIONS, random_state: int = 0) -> dict[str, np.ndarray]:
    """Seeded random partition of range(n) into train/val/test with the given fractions
    (each set sorted; the same n, fractions and seed always give the same sets)."""
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.shape != (3,) or (fractions < 0).any() or abs(fractions.sum() - 1.0) > 1e-9:
        raise InputError(f"fractions must be three non-negative numbers (train, val, test) summing to 1, "
                         f"got {fractions.tolist()}")
    order = np.random.default_rng(random_state).permutation(n)
    ends = np.round(np.cumsum(fractions) * n).astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    return {name: np.sort(order[a:b]) for name, a, b in zip(SPLITS, starts, ends)}


def latents_table(latents, partitions=None) -> tuple[np.ndarray, pd.DataFrame, Latents]:
    """(X, per-row table, Latents) of the chosen partitions (default all), stacked in file order."""
    latents = latents if isinstance(latents, Latents) else read_latents(latents)
    partitions = _check_partitions(latents, partitions)
    rows, table = latents.stacked(partitions)
    if latents.x is not None and partitions == ["all"]:
        table["x"], table["y"] = latents.x, latents.y
    return rows.astype(np.float32, copy=False), table, latents


def resolve_labels(labels, table: pd.DataFrame, path=None) -> np.ndarray | None:
    """An (N,) label array from an array or a metadata column name."""
    if labels is None:
        return None
    if isinstance(labels, str):
        if labels not in table.columns or labels in ("partition", "index"):
            columns = [c for c in table.columns if c not in ("partition", "index")]
            raise InputError(f"no metadata column {labels!r} to use as labels; choose one of {columns}", path)
        return table[labels].to_numpy()
    labels = np.asarray(labels).ravel()
    if len(labels) != len(table):
        raise InputError(f"labels have {len(labels)} values but the exported latents have {len(table)} rows: give "
                         "one label per row", path)
    return labels


def export_npz(latents, out_path, labels=None, partitions=None, fractions=DEFAULT_FRACTIONS,
               random_state: int = 0) -> Path:
    """Write the NPZ described in the module doc; returns its path."""
    X, table, source = latents_table(latents, partitions)
    y = resolve_labels(labels, table, source.path)
    arrays = {"X": X} | {f"idx_{name}": idx for name, idx in split_indices(len(X), fractions, random_state).items()}
    if y is not None:
        arrays["y"] = _plain_array(y)
    if "x" in table.columns:
        arrays["coord_x"], arrays["coord_y"] = table["x"].to_numpy(), table["y"].to_numpy()
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp, open(tmp, "wb") as f:  # a file object: savez would add ".npz" to a name
        np.savez_compressed(f, **arrays)
    return out_path


def export_parquet(latents, out_path, labels=None, partitions=None, fractions=DEFAULT_FRACTIONS,
                   random_state: int = 0) -> Path:
    """Write the Parquet table described in the module doc; returns its path."""
    X, table, source = latents_table(latents, partitions)
    y = resolve_labels(labels, table, source.path)
    features = pd.DataFrame(X, columns=[f"latent_{i}" for i in range(X.shape[1])])
    table = pd.concat([features, table.reset_index(drop=True)], axis=1)
    if y is not None:
        table["label"] = y
    split = np.empty(len(X), dtype=object)
    for name, idx in split_indices(len(X), fractions, random_state).items():
        split[idx] = name
    table["split"] = split
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        table.to_parquet(tmp, index=False)
    return out_path


def maps_npz_arrays(maps, grid, names, units: str | None = "um") -> dict[str, np.ndarray]:
    """The arrays of a maps NPZ (see the module doc); plain dtypes only, readable without pickle."""
    maps = np.asarray(maps, np.float32)
    if maps.ndim != 3 or maps.shape[1:] != tuple(grid.shape):
        raise InputError(f"maps must be (n_maps, {grid.n_rows}, {grid.n_columns}) for the grid, got {maps.shape}: "
                         "pass maps of this grid")
    return {"maps": maps, "names": np.array([str(n) for n in names]),
            "origin": np.array([grid.x0, grid.y0], np.float64), "step": np.array([grid.step_x, grid.step_y]),
            "units": np.array(units or "um"), "x": grid.x_values, "y": grid.y_values}


def export_maps_npz(path, maps, grid, names, units: str | None = "um") -> Path:
    """Write maps with their origin, step and units (atomically); returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **maps_npz_arrays(maps, grid, names, units))
    return path


def _plain_array(values) -> np.ndarray:
    """Labels as numbers when they are numbers, else fixed-width strings: never pickled objects."""
    values = np.asarray(values)
    if values.dtype == object:
        numeric = pd.to_numeric(pd.Series(values), errors="coerce")
        values = numeric.to_numpy() if numeric.notna().all() else values.astype(str)
    return values


def _check_partitions(latents: Latents, partitions) -> list[str]:
    if partitions is None:
        return list(latents.partitions)
    partitions = [partitions] if isinstance(partitions, str) else list(partitions)
    missing = [p for p in partitions if p not in latents.partitions]
    if missing:
        raise InputError(f"no partition {missing}; the file holds {list(latents.partitions)}: pick from those",
                         latents.path)
    return partitions


class LatentsDataset(Dataset):
    """A `torch.utils.data.Dataset` over the rows of a latents file (or a `Latents`).

    Item i is a float32 tensor (D,), or (latent, label) when labels are given. `partition`
    chooses latents partitions (default all); `split` ("train", "val" or "test") keeps the rows
    of that part of the seeded split that `export_npz` writes with the same fractions and seed."""

    def __init__(self, path_or_latents, labels=None, partition=None, split: str | None = None,
                 fractions=DEFAULT_FRACTIONS, random_state: int = 0):
        X, table, source = latents_table(path_or_latents, partition)
        y = resolve_labels(labels, table, source.path)
        rows = np.arange(len(X))
        if split is not None:
            if split not in SPLITS:
                raise InputError(f"split must be one of {SPLITS}, got {split!r}")
            rows = split_indices(len(X), fractions, random_state)[split]
        self.rows = rows  # positions in the stacked latents, for mapping items back to pixels/cutouts
        self.table = table.iloc[rows].reset_index(drop=True)
        self.features = torch.from_numpy(np.ascontiguousarray(X[rows]))
        self.labels = None if y is None else _label_tensor(_plain_array(y)[rows], source.path)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i):
        if self.labels is None:
            return self.features[i]
        return self.features[i], self.labels[i]

    def as_dataloader(self, batch_size: int = 256, shuffle: bool = False, seed: int = 0, **kwargs):
        """A DataLoader whose shuffling is fixed by `seed` (same order on every run)."""
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(self, batch_size=batch_size, shuffle=shuffle, generator=generator, **kwargs)


def _label_tensor(labels: np.ndarray, path):
    if labels.dtype.kind in "iub":
        return torch.from_numpy(labels.astype(np.int64))
    if labels.dtype.kind == "f":
        return torch.from_numpy(labels.astype(np.float32))
    raise InputError(f"labels must be numbers to become tensors, got {labels.dtype} "
                     "(encode class names as integers first)", path)
