"""A finished `*_latents.h5` (see latentcore.latents): float32 (N, D) per partition (`all`, `valid`,
`train`), `x`, `y`, `grid_shape` for scans, `<partition>_metadata` tables for cutouts. Read
through `LatentsReader` (format "latents"), which also takes NPY and tables."""
from __future__ import annotations

import json

import h5py
import numpy as np

from ..errors import InputError
from ._checks import check_coordinates, check_grid_shape, infer_step
from ._hdf5 import H5Reader, byte_table_columns, read_byte_table, read_maps, read_whole
from .base import SourceInfo

PARTITIONS = ("all", "valid", "train")

# the next step for a data file given where latents are expected (a scan or a pattern file)
EXTRACT_FIRST = ("if it is a data file, extract its latents first (python -m latentcore extract FILE --model "
                 "CHECKPOINT, or the Extract page)")
NOT_LATENTS = f"not a latents file: no 'all', 'valid' or 'train' dataset; {EXTRACT_FIRST}"
RESUME = "run the same extract again to resume it"


def is_latents_h5(f: h5py.File) -> bool:
    return any(isinstance(f.get(p), h5py.Dataset) and f[p].ndim == 2 for p in PARTITIONS)


class LatentsH5(H5Reader):
    format_name = "latents"

    def _describe(self, f):
        present = [p for p in PARTITIONS if p in f]
        if not present:
            raise InputError(NOT_LATENTS, self.path)
        for p in present:
            if self.require(p).ndim != 2:
                raise InputError(f"dataset {p!r} must be (N, D), got shape {f[p].shape}; {EXTRACT_FIRST}", self.path)
            if "rows_done" in f[p].attrs:  # LatentsWriter removes it when the file is complete
                raise InputError(f"unfinished latents file: {p!r} has {f[p].attrs['rows_done']} of "
                                 f"{f[p].shape[0]} rows; {RESUME}", self.path)
        dims = {f[p].shape[1] for p in present}
        if len(dims) > 1:
            raise InputError(f"partitions differ in dimension: { {p: f[p].shape for p in present} }; extract the "
                             "latents again", self.path)
        counts = {p: f[p].shape[0] for p in present}
        step = self._load_xy(f, counts[present[0]])
        columns = [c for p in present for c in byte_table_columns(f, f"{p}_metadata", counts[p], self.path)]
        grid = check_grid_shape(read_whole(f["grid_shape"], self.path), self.path) if "grid_shape" in f else None
        return SourceInfo(path=str(self.path), format=self.format_name, partitions=counts,
                          item_shape=(dims.pop(),), dtype=str(f[present[0]].dtype), is_features=True,
                          has_coordinates=self._xy is not None, grid_shape=grid, step=step,
                          metadata_columns=list(dict.fromkeys(columns)),
                          extra={k: _plain(v) for k, v in f.attrs.items()},
                          units=_plain(f.attrs["units"]) if "units" in f.attrs else None)

    def _load_xy(self, f, n):
        self._xy = None
        if "x" not in f or "y" not in f:
            return None
        self._xy = tuple(check_coordinates(read_whole(f[name], self.path), n, name, self.path) for name in ("x", "y"))
        steps = [infer_step(values) for values in self._xy]
        return None if None in steps else tuple(steps)

    def _dataset_name(self, partition):
        return partition

    def coordinates(self, partition="all"):
        return self._xy if self._xy is not None and self.count(partition) == len(self._xy[0]) else None

    def point_maps(self) -> dict[str, np.ndarray]:
        """The scan's per-point maps the latents carry (`point_maps/<name>`, in their recorded order), so that
        a latents file chosen as data offers its own band contrast as the scan file would."""
        return read_point_maps(self.file["point_maps"]) if "point_maps" in self.file else {}

    def metadata(self, partition):
        self.count(partition)
        name = f"{partition}_metadata"
        return read_byte_table(self.file[name]) if name in self.file else None


def read_point_maps(group) -> dict[str, np.ndarray]:
    """name -> float64 (N,) of a latents file's `point_maps` group: the `order` attribute's names first."""
    order = json.loads(group.attrs["order"]) if "order" in group.attrs else []
    names = [n for n in order if n in group] + sorted(n for n in group if n not in order)
    return read_maps({name: group[name] for name in names})


def _plain(value):
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    return value.item() if isinstance(value, np.generic) else value
