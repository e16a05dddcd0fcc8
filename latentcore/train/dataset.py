"""Training data: which patterns of a source to train on (band-contrast threshold, ROI, a list of
coordinates to keep) and their preprocessing, which is exactly
what extraction applies to a VAE's input: data.preprocess.iter_preprocessed (background correction,
neighbour averaging), then extract.prepare_batch (optional centre crop, resize, min-max)."""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.spatial import cKDTree

from ..analysis.artifacts.common import bandcontrast_record
from ..columns import plain_coordinates
from ..data import open_source
from ..data.bandcontrast import BandContrast
from ..data._checks import infer_step
from ..data._npy import read_npy
from ..data.preprocess import iter_preprocessed, static_background_origin
from ..data.base import Reader
from ..errors import InputError
from ..extract import prepare_batch
from ..models.base import InputSpec
from .config import TrainConfig

READ_BATCH = 512  # patterns per contiguous read while loading
MEMORY_BUDGET_BYTES = 2 * 2**30  # larger training sets go to a memory-mapped cache file


@dataclasses.dataclass
class PatternSet:
    """Preprocessed patterns (float32 (N, 1, S, S), in memory or memory-mapped) and where they came from."""

    patterns: np.ndarray
    rows: np.ndarray  # row index of each pattern in the source partition
    x: np.ndarray | None
    y: np.ndarray | None
    partition: str
    n_source: int  # rows in the partition before filtering
    filters: dict  # what was applied, for config.json
    preprocessing: dict  # the pattern preprocessing applied (Preprocessing.to_dict + where the static background came from)
    sources: list[dict] = dataclasses.field(default_factory=list)  # each source's name, format and counts, in order

    def __len__(self) -> int:
        return len(self.rows)


def choose_partition(reader: Reader, partition: str | None) -> str:
    info = reader.info()
    if info.is_features:
        raise InputError("holds feature vectors, not patterns: a VAE trains on images; give a pattern file",
                         reader.path)
    if partition is None:
        return next(iter(info.partitions))
    reader.count(partition)  # raises InputError naming the partitions there are
    return partition


def bandcontrast_values(reader: Reader, bandcontrast: BandContrast, xy) -> np.ndarray:
    """Band contrast per row: the scan's own map or a table aligned by x, y."""
    maps = reader.point_maps() if bandcontrast.from_scan else {}  # only a scan map reads them
    return bandcontrast.values(maps, *xy, reader.path)[1]


def select_rows(reader: Reader, partition: str, config: TrainConfig) -> tuple[np.ndarray, dict]:
    """Source rows that pass every filter of `config` (all rows when there is none), and a summary."""
    n = reader.count(partition)
    keep = np.ones(n, bool)
    filters: dict = {}
    wants_xy = config.bandcontrast is not None or config.roi is not None or config.keep_coordinates
    xy = reader.coordinates(partition) if wants_xy else None
    if wants_xy and xy is None:
        raise InputError("band-contrast, ROI and coordinate filters need pattern coordinates, "
                         "and this source has none (leave out --bandcontrast, --roi and --keep-coords)", reader.path)
    if config.bandcontrast is not None:
        values = bandcontrast_values(reader, config.bandcontrast, xy)
        if config.bc_min is not None:
            keep &= values >= config.bc_min
        if config.bc_max is not None:
            keep &= values <= config.bc_max
        filters["bandcontrast"] = {**bandcontrast_record(config.bandcontrast), "min": config.bc_min,
                                   "max": config.bc_max}
    if config.roi is not None:
        keep &= config.roi.mask(*xy)
        filters["roi"] = config.roi.to_json()
    if config.keep_coordinates:
        keep &= coordinates_in_list(xy, read_xy_list(config.keep_coordinates))
        filters["keep_coordinates"] = {"name": Path(config.keep_coordinates).name}
    rows = np.flatnonzero(keep)
    if len(rows) < 3:
        raise InputError(f"the filters {filters or '(none)'} keep {len(rows)} of {n} patterns; "
                         "training needs at least 3: widen the ROI or the band-contrast range", reader.path)
    filters["kept"] = int(len(rows))
    return rows, filters


def read_xy_list(path) -> np.ndarray:
    """(k, 2) x, y of a keep list: CSV with columns x_um, y_um (as `bandcontrast --out kept.csv` writes) or x, y,
    or NPY (k, >=2) whose first two columns are x, y."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such coordinate list: check the path", path)
    if path.suffix.lower() == ".npy":
        values = read_npy(path)
        if values.ndim != 2 or values.shape[1] < 2:
            raise InputError(f"a coordinate list must be (k, 2) x, y; got shape {values.shape}: save one x, y per row",
                             path)
        return values[:, :2].astype(np.float64)
    table = pd.read_csv(path, skipinitialspace=True)
    table = plain_coordinates(table.rename(columns=lambda c: str(c).strip()))
    if not {"x", "y"} <= set(table.columns):
        raise InputError(f"a coordinate list needs columns x_um and y_um (or x and y), found {list(table.columns)}: "
                         "rename its columns", path)
    return table[["x", "y"]].to_numpy(np.float64)


def coordinates_in_list(xy, keep_xy: np.ndarray) -> np.ndarray:
    """Mask of the patterns whose (x, y) is in `keep_xy`, within a quarter of the grid step."""
    points = np.column_stack([np.asarray(v, np.float64) for v in xy])
    steps = [s for s in (infer_step(points[:, 0]), infer_step(points[:, 1])) if s]
    tolerance = 0.25 * min(steps) if steps else 1e-6
    if len(keep_xy) == 0:
        return np.zeros(len(points), bool)
    distance, _ = cKDTree(keep_xy).query(points, distance_upper_bound=tolerance)
    return np.isfinite(distance)


def input_spec(config: TrainConfig, pattern_side: int) -> InputSpec:
    side = config.input_size or config.crop or pattern_side
    return InputSpec(channels=1, size=(side, side), normalize="minmax", crop=config.crop)


def preprocess(batch: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """A reader's (B, C, H, W) float32 batch -> (B, 1, S, S) in [-1, 1], exactly as extraction prepares it."""
    return prepare_batch(batch, input_spec(config, batch.shape[-1]))


def check_pattern_shape(reader: Reader, config: TrainConfig) -> tuple[int, ...]:
    shape = tuple(reader.info().item_shape)
    if len(shape) != 3:
        raise InputError(f"items of shape {shape} are not images (C, H, W): a VAE trains on patterns; give a "
                         "pattern file", reader.path)
    height, width = shape[-2:]
    if height != width and not (config.input_size or config.crop):
        raise InputError(f"patterns are {height} x {width}, not square: give an input size or a crop", reader.path)
    return shape


def load_patterns(reader: Reader, config: TrainConfig, cache_dir=None, progress=None) -> PatternSet:
    """Filter and preprocess the patterns of one source, reading contiguous slices; more than
    MEMORY_BUDGET_BYTES go to a memory-mapped file in `cache_dir` instead of memory."""
    chosen = _Chosen.of(reader, config)
    patterns = _allocate((len(chosen.rows), 1, chosen.side, chosen.side), cache_dir)
    chosen.fill(patterns, config, progress)
    return chosen.pattern_set(patterns, config)


def load_training_set(config: TrainConfig, cache_dir=None, progress=None) -> PatternSet:
    """`load_patterns` of `config.sources`, one after another into one set. With several sources each gives as many
    patterns as the smallest selection holds (a seeded draw from the larger ones), so that no scan outweighs the
    others; `PatternSet.sources` records each source's counts."""
    with contextlib.ExitStack() as stack:
        readers = [stack.enter_context(open_source(path)) for path in config.sources]
        if len(readers) == 1:
            return load_patterns(readers[0], config, cache_dir, progress)
        chosen = [_Chosen.of(reader, config) for reader in readers]
        _same_side(chosen)
        even = min(len(c.rows) for c in chosen)
        draw = np.random.default_rng(config.seed)
        for c in chosen:
            c.rows = np.sort(draw.choice(c.rows, even, replace=False))
        patterns = _allocate((even * len(chosen), 1, chosen[0].side, chosen[0].side), cache_dir)
        for i, c in enumerate(chosen):
            c.fill(patterns[i * even:(i + 1) * even], config,
                   progress and (lambda done, total, i=i: progress(i * even + done, even * len(chosen))))
        return _joined([c.pattern_set(patterns[i * even:(i + 1) * even], config) for i, c in enumerate(chosen)],
                       patterns)


@dataclasses.dataclass
class _Chosen:
    """One source's patterns to train on: its reader, partition, rows and the input side they are resized to."""

    reader: Reader
    partition: str
    rows: np.ndarray
    filters: dict
    side: int

    @classmethod
    def of(cls, reader: Reader, config: TrainConfig) -> "_Chosen":
        shape = check_pattern_shape(reader, config)
        partition = choose_partition(reader, config.partition)
        rows, filters = select_rows(reader, partition, config)
        return cls(reader, partition, rows, filters, input_spec(config, min(shape[-2:])).size[0])

    def fill(self, out: np.ndarray, config: TrainConfig, progress=None) -> None:
        done = 0
        for batch, _ in iter_preprocessed(self.reader, self.partition, config.preprocessing, READ_BATCH, self.rows):
            prepared = preprocess(torch.from_numpy(np.ascontiguousarray(batch, np.float32)), config)
            out[done:done + len(prepared)] = prepared.numpy()
            done += len(prepared)
            if progress:
                progress(done, len(self.rows))

    def pattern_set(self, patterns: np.ndarray, config: TrainConfig) -> PatternSet:
        reader, rows = self.reader, self.rows
        xy = reader.coordinates(self.partition)
        x, y = (None, None) if xy is None else (np.asarray(xy[0])[rows], np.asarray(xy[1])[rows])
        applied = {**config.preprocessing.to_dict(), "static_background_from": static_background_origin(
            reader, config.preprocessing)}
        source = {"name": Path(reader.path).name, "format": reader.info().format, "partition": self.partition,
                  "pattern_shape": list(reader.info().item_shape), "n_source": reader.count(self.partition),
                  "n_selected": self.filters["kept"], "n_used": len(rows)}
        return PatternSet(patterns, rows, x, y, self.partition, source["n_source"], self.filters, applied, [source])


def _same_side(chosen: list[_Chosen]) -> None:
    first = chosen[0]
    for c in chosen[1:]:
        if c.side != first.side:
            raise InputError(f"its patterns are {c.side} pixels across and those of {Path(first.reader.path).name} "
                             f"{first.side}: one model takes one size; give an input size", c.reader.path)


def _joined(parts: list[PatternSet], patterns: np.ndarray) -> PatternSet:
    """Several sources' sets as one, over `patterns` (theirs, end to end); rows are each source's own."""
    coordinates = all(p.x is not None for p in parts)
    backgrounds = {p.preprocessing["static_background_from"] for p in parts}
    return PatternSet(
        patterns, np.concatenate([p.rows for p in parts]),
        np.concatenate([p.x for p in parts]) if coordinates else None,
        np.concatenate([p.y for p in parts]) if coordinates else None,
        parts[0].partition, sum(p.n_source for p in parts),
        {**parts[0].filters, "kept": sum(p.filters["kept"] for p in parts)},
        {**parts[0].preprocessing, "static_background_from": backgrounds.pop() if len(backgrounds) == 1 else
         "each source's own (see data.sources)"},
        [source for p in parts for source in p.sources])


def _allocate(shape: tuple[int, ...], cache_dir) -> np.ndarray:
    if np.prod(shape) * 4 <= MEMORY_BUDGET_BYTES or cache_dir is None:
        return np.empty(shape, np.float32)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(Path(cache_dir) / "patterns_cache.npy", mode="w+",
                                     dtype=np.float32, shape=shape)


def split_train_val(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of range(n): (train indices, validation indices), both sorted."""
    n_val = min(max(1, round(n * val_fraction)), n - 2)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])
