"""Feature sets in KinoML's NPZ style: `X` (N, D), `y` (N,), optional `idx_train`, `idx_test`,
`idx_val`. Rows are already features (nothing to extract); partition "all" plus "train", "test",
"val" for the index arrays present (their rows are X[idx])."""
from __future__ import annotations

import zipfile

import numpy as np

from ..errors import InputError
from ._checks import check_finite, check_length, check_range
from ._npy import npz_headers, read_npz
from .base import Reader, SourceInfo, register

SPLITS = {"train": "idx_train", "test": "idx_test", "val": "idx_val"}


@register
class NpzFeaturesReader(Reader):
    format_name = "npz"
    title = "NPZ features"
    extensions = (".npz",)
    description = "features X (N, D) with labels y and optional idx_train/idx_test/idx_val (KinoML style)"

    @classmethod
    def sniff(cls, path):
        if not (path.is_file() and zipfile.is_zipfile(path)):
            return False
        with zipfile.ZipFile(path) as archive:
            return "X.npy" in archive.namelist()

    def __init__(self, path):
        super().__init__(path)
        self._X = None  # loaded on first read: an .npz member cannot be sliced on disk
        headers = npz_headers(self.path)  # every array checked before any is read
        if "X" not in headers:
            raise InputError(f"no array 'X' in the .npz (it holds {sorted(headers)}): save the features as X",
                             self.path)
        shape, dtype = headers["X"]
        arrays = read_npz(self.path, ["y", *SPLITS.values()])
        self._y = arrays.get("y")
        self._splits = {split: arrays[key] for split, key in SPLITS.items() if key in arrays}
        if len(shape) != 2 or dtype.kind not in "biuf":
            raise InputError(f"'X' must be a numeric (N, D) array, got shape {shape} dtype {dtype}: save one row of "
                             "numbers per item", self.path)
        n = shape[0]
        if self._y is not None:
            check_length(self._y, n, "'y'", "'X'", self.path)
        for split, indices in self._splits.items():
            self._splits[split] = self._check_indices(indices, SPLITS[split], n)
        self._info = SourceInfo(
            path=str(self.path), format=self.format_name,
            partitions={"all": n, **{s: len(i) for s, i in self._splits.items()}},
            item_shape=(shape[1],), dtype=str(dtype), is_features=True,
            extra={"has_labels": self._y is not None})

    def _check_indices(self, indices, name, n) -> np.ndarray:
        indices = np.asarray(indices).ravel()
        if indices.dtype.kind not in "iu" or (indices.size and (indices.min() < 0 or indices.max() >= n)):
            raise InputError(f"{name!r} must hold integer row numbers in [0, {n}), got dtype {indices.dtype}"
                             f" and range [{indices.min(initial=0)}, {indices.max(initial=0)}]", self.path)
        return indices.astype(np.int64)

    def _rows(self, partition):
        self.count(partition)
        return self._splits.get(partition)  # None: all rows in order

    def read(self, partition, start, stop):
        start, stop = check_range(self, partition, start, stop)
        if self._X is None:
            self._X = read_npz(self.path, ["X"])["X"]
        rows = self._rows(partition)
        block = self._X[start:stop] if rows is None else self._X[rows[start:stop]]
        block = block.astype(np.float32)
        check_finite(block, f"'X' rows of {partition!r} {start}:{stop}", self.path)
        return block

    def labels(self, partition):
        rows = self._rows(partition)
        if self._y is None:
            return None
        return self._y if rows is None else self._y[rows]

    def close(self):
        self._X = None

    def __getstate__(self):  # workers reload X themselves rather than receive a copy
        return {**self.__dict__, "_X": None}
