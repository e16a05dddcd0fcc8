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
Both are written block by block (`BLOCK` items in memory at once, whatever the number of labelled rows), under a
temporary name renamed when complete.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ...arrays import unique
from ...errors import InputError
from ...outputs import own_source_name
from .labelled import LabelledRows, check_classes, match_labels, read_labels_table

TEST_FRACTION = 0.2
BLOCK = 2048  # labelled items read and written at once
LATENTS_ORDER = {"all": 0, "valid": 1, "train": 2}  # partitions stacked as a latents file stacks them (row ids)


def stratified_split(y, test_fraction: float = TEST_FRACTION, random_state: int = 0):
    """(idx_train, idx_test), sorted: each class's rows split in proportion (rounded), at least one of each class
    on both sides; which rows go where is a seeded permutation per class."""
    y = np.asarray(y)
    if not 0 < test_fraction < 1:
        raise InputError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(random_state)
    test = []
    for label in unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_test = min(max(round(test_fraction * len(members)), 1), len(members) - 1)
        test.append(members[:n_test])
    test = np.sort(np.concatenate(test)).astype(np.int64)
    return np.setdiff1d(np.arange(len(y)), test).astype(np.int64), test


def _source_rows(reader, latents_sizes: dict | None = None, latents=None):
    """(the partitions of the row ids, the first row id of each, coordinates (scans), the metadata table (cutouts)):
    row ids as the latents of `latents_sizes` ({partition: rows}, those of the file `latents`) number them, or as a
    latents file of every partition of the source. Latents of part of a partition are refused: their row ids name
    no item of the source."""
    partitions = list(latents_sizes or sorted(reader.partitions, key=lambda p: LATENTS_ORDER.get(p, 9)))
    sizes = [reader.count(p) if p in reader.partitions else 0 for p in partitions]
    other = {p: n for p, n, own in zip(partitions, sizes, (latents_sizes or {}).values()) if n != own}
    if other:
        said = ", ".join(f"{latents_sizes[p]:,} rows of {p} (the source has {n:,})" for p, n in other.items())
        raise InputError(f"holds {said}: latents of part of a partition, whose row ids name no item of the source; "
                         "export with the latents of every item of their partitions", latents)
    coordinates = reader.coordinates(partitions[0]) if partitions == ["all"] else None
    metadata = [reader.metadata(p) for p in partitions]
    table = (pd.concat([m.reset_index(drop=True) for m in metadata], ignore_index=True)
             if all(m is not None for m in metadata) else None)
    return partitions, np.cumsum([0, *sizes]), coordinates, table


def read_stacked(reader, rows, offsets, partitions) -> np.ndarray:
    """Items of stacked row ids `rows` as the reader gives them, in that order (`items.read_items`)."""
    from ..items import read_items

    rows = np.asarray(rows, np.int64)
    which = np.searchsorted(offsets, rows, side="right") - 1
    return read_items(reader, np.asarray(partitions)[which], rows - np.asarray(offsets)[which])


def item_blocks(reader, rows, offsets, partitions, block: int | None = None):
    """(start, items) for `rows` in blocks (default `BLOCK`): memory stays at one block whatever the number of
    labelled rows."""
    block = block or BLOCK
    for start in range(0, len(rows), block):
        yield start, read_stacked(reader, rows[start:start + block], offsets, partitions)


def export_training_set(source, labels_path, out_path, *, latents=None, test_fraction: float = TEST_FRACTION,
                        random_state: int = 0) -> dict:
    """Write the NPZ or HDF5 (by `out_path`'s suffix) of the module doc; returns a summary dict. `latents`: the latents
    file whose row ids the labels' `row` gives (by default a latents file of every partition of `source`)."""
    from ...data import open_source
    from ...latents import latents_summary

    out_path = Path(out_path)
    kind = {".npz": "npz", ".h5": "h5", ".hdf5": "h5"}.get(out_path.suffix.lower())
    if kind is None:
        raise InputError("the training set must be .npz or .h5: name the output file so", out_path)
    table = read_labels_table(labels_path)
    with open_source(source) as reader:
        item_shape = tuple(reader.info().item_shape)
        if reader.info().is_features:
            raise InputError("holds features, not patterns or cutouts: export the source the latents came from",
                             source)
        if kind == "h5" and len(item_shape) != 3:
            raise InputError(f"the Nenya layout holds (N, C, H, W) images; these items are {item_shape}: "
                             "export them as .npz", source)
        sizes = latents_summary(latents)["partitions"] if latents is not None else None
        partitions, offsets, coordinates, metadata = _source_rows(reader, sizes, latents)
        x, y = coordinates if coordinates is not None else (None, None)
        labelled = match_labels(table, int(offsets[-1]), x, y, labels_path, own_source_name(source))
        check_classes(labelled, labels_path)
        idx_train, idx_test = stratified_split(labelled.y, test_fraction, random_state)
        blocks = item_blocks(reader, labelled.rows, offsets, partitions)
        if kind == "npz":
            write_npz(out_path, blocks, item_shape, labelled, idx_train, idx_test, x, y)
        else:
            extra = (pd.DataFrame({"x": x[labelled.rows], "y": y[labelled.rows]}) if x is not None else
                     metadata.iloc[labelled.rows].reset_index(drop=True) if metadata is not None else None)
            write_nenya_h5(out_path, blocks, item_shape, labelled, idx_test, extra, source)
    return {"path": str(out_path), "format": kind, "n_rows": len(labelled.rows), "item_shape": list(item_shape),
            "classes": labelled.classes, "counts": labelled.counts(), "n_train": len(idx_train),
            "n_test": len(idx_test), "test_fraction": test_fraction, "random_state": random_state}


def write_npz(path, blocks, item_shape, labelled: LabelledRows, idx_train, idx_test, x=None, y=None) -> Path:
    """The NPZ of the module doc, `X` streamed block by block into the archive (np.load and the NPZ reader read
    it as any .npz)."""
    import zipfile

    from ...storage import atomic_path

    arrays = {"item_shape": np.asarray(item_shape, np.int64), "y": labelled.y,
              "labels": np.asarray(labelled.classes, dtype=str), "rows": labelled.rows,
              "idx_train": idx_train, "idx_test": idx_test}
    if x is not None:
        arrays["coord_x"], arrays["coord_y"] = np.asarray(x)[labelled.rows], np.asarray(y)[labelled.rows]
    path = Path(path)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
              "shape": (len(labelled.rows), int(np.prod(item_shape)))}
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        with archive.open("X.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            for _, items in blocks:
                member.write(np.ascontiguousarray(items, "<f4").tobytes())
        for name, values in arrays.items():
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, np.asarray(values), allow_pickle=False)
    return path


def write_nenya_h5(path, blocks, item_shape, labelled: LabelledRows, idx_test, extra: pd.DataFrame | None,
                   source) -> Path:
    """The Nenya layout of the module doc, written block by block: a block's train rows (and its valid rows) are
    one contiguous run of their dataset, since both keep the labelled rows' order."""
    import h5py

    from ...data._hdf5 import write_byte_table
    from ...storage import atomic_path, sha256_file

    path = Path(path)
    is_test = np.zeros(len(labelled.rows), bool)
    is_test[idx_test] = True
    table = pd.DataFrame({"label": labelled.names, "label_index": labelled.y, "row": labelled.rows})
    if extra is not None:
        table = pd.concat([table, extra.drop(columns=[c for c in table.columns if c in extra.columns])], axis=1)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        parts = {"train": ~is_test, "valid": is_test}
        datasets = {name: f.create_dataset(name, (int(mask.sum()), *item_shape), np.float32, compression="gzip",
                                           chunks=(1, *item_shape)) for name, mask in parts.items()}
        written = {name: 0 for name in parts}
        for start, items in blocks:
            for name, mask in parts.items():
                chosen = items[mask[start:start + len(items)]]
                datasets[name][written[name]:written[name] + len(chosen)] = chosen
                written[name] += len(chosen)
        for name, mask in parts.items():
            write_byte_table(f, f"{name}_metadata", table[mask].reset_index(drop=True))
        f.attrs["labels"] = json.dumps(labelled.classes)
        f.attrs["source"] = Path(source).name
        f.attrs["source_sha256"] = sha256_file(source)
    return path
