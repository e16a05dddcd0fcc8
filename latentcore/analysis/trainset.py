"""A labelled training set: the labelled rows' own patterns or cutouts, read from the source file
(`data.open_source`), with their labels and a stratified, seeded train/test split.

    export_training_set(source, labels_csv, "subset.npz")   # or "subset.h5"

Rows are the source's items with its partitions stacked in order (the latents file's and the UMAP table's row ids);
a labels table names them by `x,y` (scans) or `row` (see `labels`).

- NPZ (the features layout the project's NPZ reader opens): `X` float32 (n, prod(item shape)), the items exactly as
  the reader returns them, flattened (`X.reshape(-1, *item_shape)` gives them back); `item_shape`; `y` int64
  index into `labels`; `labels` the class names (text); `rows` int64 source row ids; `idx_train`, `idx_test`
  (positions in X); scans also `coord_x`, `coord_y`.
- HDF5 in the Nenya preprocessed layout: `train` and `valid` float32 (n, C, H, W) (the test split is `valid`),
  with `train_metadata` / `valid_metadata` byte tables (`label`, `label_index`, `row`, and `x`, `y` for scans or the
  source's own metadata columns for cutouts); attributes `labels` (JSON list), `source`, `source_sha256`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .labels import LabelledRows, check_classes, match_labels, read_labels_table

TEST_FRACTION = 0.2
LATENTS_ORDER = {"all": 0, "valid": 1, "train": 2}  # partitions stacked as a latents file stacks them (row ids)


def stratified_split(y, test_fraction: float = TEST_FRACTION, random_state: int = 0):
    """(idx_train, idx_test), sorted: each class's rows split in proportion (rounded), at least one of each class
    on both sides; which rows go where is a seeded permutation per class."""
    y = np.asarray(y)
    if not 0 < test_fraction < 1:
        raise InputError(f"test fraction must lie strictly between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(random_state)
    test = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_test = min(max(int(round(test_fraction * len(members))), 1), len(members) - 1)
        test.append(members[:n_test])
    test = np.sort(np.concatenate(test)).astype(np.int64)
    return np.setdiff1d(np.arange(len(y)), test).astype(np.int64), test


def _source_rows(reader):
    """(partition, index) of every stacked row id, coordinates (scans) and the metadata table (cutouts)."""
    partitions = sorted(reader.partitions, key=lambda p: LATENTS_ORDER.get(p, len(LATENTS_ORDER)))
    sizes = [reader.count(p) for p in partitions]
    coordinates = reader.coordinates(partitions[0]) if partitions == ["all"] else None
    metadata = [reader.metadata(p) for p in partitions]
    table = (pd.concat([m.reset_index(drop=True) for m in metadata], ignore_index=True)
             if all(m is not None for m in metadata) else None)
    return partitions, np.cumsum([0, *sizes]), coordinates, table


def read_labelled_items(reader, labelled: LabelledRows, offsets, partitions) -> np.ndarray:
    """The labelled rows' items as the reader gives them, in `labelled.rows` order (contiguous reads)."""
    out = np.empty((len(labelled.rows), *reader.info().item_shape), np.float32)
    which = np.searchsorted(offsets, labelled.rows, side="right") - 1
    for p, name in enumerate(partitions):
        here = np.flatnonzero(which == p)
        if here.size:
            out[here] = reader.read_rows(name, labelled.rows[here] - offsets[p])
    return out


def export_training_set(source, labels_path, out_path, *, test_fraction: float = TEST_FRACTION,
                        random_state: int = 0) -> dict:
    """Write the NPZ or HDF5 (by `out_path`'s suffix) of the module doc; returns a summary dict."""
    from ..data import open_source

    out_path = Path(out_path)
    kind = {".npz": "npz", ".h5": "h5", ".hdf5": "h5"}.get(out_path.suffix.lower())
    if kind is None:
        raise InputError("the training set must be .npz or .h5", out_path)
    table = read_labels_table(labels_path)
    with open_source(source) as reader:
        if reader.info().is_features:
            raise InputError("holds features, not patterns or cutouts: export the source the latents came from",
                             source)
        partitions, offsets, coordinates, metadata = _source_rows(reader)
        x, y = coordinates if coordinates is not None else (None, None)
        labelled = match_labels(table, int(offsets[-1]), x, y, labels_path)
        check_classes(labelled, labels_path)
        items = read_labelled_items(reader, labelled, offsets, partitions)
        item_shape = reader.info().item_shape
    idx_train, idx_test = stratified_split(labelled.y, test_fraction, random_state)
    if kind == "npz":
        write_npz(out_path, items, labelled, idx_train, idx_test, x, y)
    else:
        extra = (pd.DataFrame({"x": x[labelled.rows], "y": y[labelled.rows]}) if x is not None else
                 metadata.iloc[labelled.rows].reset_index(drop=True) if metadata is not None else None)
        write_nenya_h5(out_path, items, labelled, idx_train, idx_test, extra, source)
    return {"path": str(out_path), "format": kind, "n_rows": int(len(labelled.rows)), "item_shape": list(item_shape),
            "classes": labelled.classes, "counts": labelled.counts(), "n_train": int(len(idx_train)),
            "n_test": int(len(idx_test)), "test_fraction": test_fraction, "random_state": random_state}


def npz_arrays(items, labelled: LabelledRows, idx_train, idx_test, x=None, y=None) -> dict[str, np.ndarray]:
    arrays = {"X": items.reshape(len(items), -1), "item_shape": np.asarray(items.shape[1:], np.int64),
              "y": labelled.y, "labels": np.asarray(labelled.classes, dtype=str), "rows": labelled.rows,
              "idx_train": idx_train, "idx_test": idx_test}
    if x is not None:
        arrays["coord_x"], arrays["coord_y"] = np.asarray(x)[labelled.rows], np.asarray(y)[labelled.rows]
    return arrays


def write_npz(path, items, labelled, idx_train, idx_test, x=None, y=None) -> Path:
    from ..storage import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: savez would add ".npz" to a name
        np.savez_compressed(f, **npz_arrays(items, labelled, idx_train, idx_test, x, y))
    return path


def write_nenya_h5(path, items, labelled, idx_train, idx_test, extra: pd.DataFrame | None, source) -> Path:
    import h5py

    from ..data._hdf5 import write_byte_table
    from ..storage import atomic_path, sha256_file

    if items.ndim != 4:
        raise InputError(f"the Nenya layout holds (N, C, H, W) images; these items are {items.shape[1:]}", source)
    path = Path(path)
    table = pd.DataFrame({"label": np.asarray(labelled.classes)[labelled.y], "label_index": labelled.y,
                          "row": labelled.rows})
    if extra is not None:
        table = pd.concat([table, extra.drop(columns=[c for c in table.columns if c in extra.columns])], axis=1)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name, idx in (("train", idx_train), ("valid", idx_test)):
            f.create_dataset(name, data=items[idx], compression="gzip", chunks=(1, *items.shape[1:]))
            write_byte_table(f, f"{name}_metadata", table.iloc[idx].reset_index(drop=True))
        f.attrs["labels"] = json.dumps(labelled.classes)
        f.attrs["source"] = Path(source).name
        f.attrs["source_sha256"] = sha256_file(source)
    return path
