"""Existing latents or features, format "latents": a `*_latents.h5`, an NPY (N, D), or a CSV/Parquet
table whose numeric columns are the features (x, y become coordinates; other columns metadata)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ._checks import check_finite, check_range, infer_step
from ._hdf5 import has_hdf5_signature, sniff_h5
from .base import Reader, SourceInfo, register
from .latents_h5 import LatentsH5, is_latents_h5

NPY_MAGIC = b"\x93NUMPY"
PARQUET_MAGIC = b"PAR1"
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def _head(path: Path, size: int = 8) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def _looks_like_csv(path: Path) -> bool:
    head = _head(path, 65536)
    if b"\x00" in head:
        return False
    head.decode("utf-8")  # UnicodeDecodeError: binary, not a table
    import pandas as pd

    sample = pd.read_csv(path, nrows=20)
    return len(sample) > 0 and any(pd.api.types.is_numeric_dtype(t) for t in sample.dtypes)


def _npy_2d(path: Path) -> bool:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False).ndim == 2
    except ValueError as exc:  # the NumPy magic is there but the rest is not
        raise InputError(f"cannot read .npy (truncated or corrupt?): {exc}; save it again with numpy.save",
                         path) from exc


@register
class LatentsReader(Reader):
    format_name = "latents"
    title = "existing latents"
    extensions = (".h5", ".npy", *TABLE_SUFFIXES)
    description = "existing latents or features: *_latents.h5, NPY (N, D), CSV/Parquet with numeric columns"

    @classmethod
    def sniff(cls, path):
        if not path.is_file():
            return False
        head = _head(path)
        if has_hdf5_signature(path):
            return sniff_h5(path, is_latents_h5)
        if head.startswith(NPY_MAGIC):
            return _npy_2d(path)
        return head.startswith(PARQUET_MAGIC) or _looks_like_csv(path)

    def __init__(self, path, columns: list[str] | None = None):
        """`columns` picks the feature columns of a table (default: every numeric column but x, y)."""
        super().__init__(path)
        self._impl = LatentsH5(path) if has_hdf5_signature(self.path) else _FeatureTable(self.path, columns)

    def info(self):
        return self._impl.info()

    def read(self, partition, start, stop):
        return self._impl.read(partition, start, stop)

    def coordinates(self, partition="all"):
        return self._impl.coordinates(partition)

    def metadata(self, partition):
        return self._impl.metadata(partition)

    def point_maps(self):
        return self._impl.point_maps()

    def close(self):
        self._impl.close()


class _FeatureTable(Reader):
    """An NPY (memory-mapped, sliced on disk) or a CSV/Parquet table (held in memory)."""

    format_name = "latents"

    def __init__(self, path, columns=None):
        super().__init__(path)
        self._array, self._xy, self._meta = None, None, None
        self._is_npy = _head(self.path).startswith(NPY_MAGIC)
        if self._is_npy:
            shape, dtype = self._npy().shape, self._npy().dtype
            feature_names = []
        else:
            shape, dtype, feature_names = self._load_table(columns)
        if len(shape) != 2 or dtype.kind not in "biuf":
            raise InputError(f"latents must be a numeric (N, D) array, got shape {shape} dtype {dtype}: save one row "
                             "of numbers per item", self.path)
        steps = [infer_step(v) for v in self._xy] if self._xy else [None]
        self._info = SourceInfo(
            path=str(self.path), format=self.format_name, partitions={"all": shape[0]},
            item_shape=(shape[1],), dtype=str(dtype), is_features=True, has_coordinates=self._xy is not None,
            step=None if None in steps else tuple(steps),
            metadata_columns=[] if self._meta is None else list(self._meta.columns),
            extra={"feature_columns": feature_names})

    def _npy(self) -> np.ndarray:
        if self._array is None:  # memory-mapped: a slice reads only its rows
            try:
                self._array = np.load(self.path, mmap_mode="r", allow_pickle=False)
            except ValueError as exc:
                raise InputError(f"cannot read .npy (truncated or corrupt?): {exc}; save it again with "
                                 "numpy.save", self.path) from exc
        return self._array

    def _load_table(self, columns):
        import pandas as pd

        try:
            is_parquet = _head(self.path).startswith(PARQUET_MAGIC)
            table = pd.read_parquet(self.path) if is_parquet else pd.read_csv(self.path)
        except Exception as exc:  # pandas/pyarrow raise many types for a broken table
            raise InputError(f"cannot read the table ({exc}): give a CSV or Parquet table", self.path) from exc
        numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
        features = list(columns) if columns else [c for c in numeric if c not in ("x", "y")]
        unknown = [c for c in features if c not in numeric]
        if unknown or not features:
            raise InputError(f"feature columns must be numeric: {unknown or 'none found'} "
                             f"(numeric columns: {numeric}); name numeric columns only", self.path)
        self._array = table[features].to_numpy(np.float32)
        check_finite(self._array, "feature columns", self.path)
        if "x" in numeric and "y" in numeric:
            self._xy = tuple(table[c].to_numpy(np.float64) for c in ("x", "y"))
        others = [c for c in table.columns if c not in features and c not in ("x", "y")]
        self._meta = table[others].reset_index(drop=True) if others else None
        return self._array.shape, self._array.dtype, features

    def read(self, partition, start, stop):
        start, stop = check_range(self, partition, start, stop)
        array = self._npy() if self._is_npy else self._array
        block = np.asarray(array[start:stop], dtype=np.float32)
        check_finite(block, f"rows {start}:{stop}", self.path)
        return block

    def coordinates(self, partition="all"):
        self.count(partition)
        return self._xy

    def metadata(self, partition):
        self.count(partition)
        return self._meta

    def close(self):
        if self._is_npy:
            self._array = None  # drop the memory map (the table stays: it is the only copy)

    def __getstate__(self):  # a memory map would be pickled as a full copy
        return {**self.__dict__, "_array": None if self._is_npy else self._array}
