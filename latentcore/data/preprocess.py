"""EBSD pattern preprocessing, in kikuchipy's order: static background, dynamic background, then
neighbour pattern averaging. One implementation for training and extraction: both read their
batches through `iter_preprocessed`, and a trained VAE records its `Preprocessing` so extraction
applies the same steps.

- static background (kikuchipy `remove_static_background`): subtract (or divide by) the file's
  stored static background where present (h5ebsd `static_background`, H5OINA `Processed Static
  Background`), else the mean pattern of the scan;
- dynamic background (kikuchipy `remove_dynamic_background`): subtract (or divide by) each pattern
  blurred with a Gaussian of `dynamic_sigma` pixels (default: pattern width / 8, as kikuchipy);
- neighbour averaging (kikuchipy `average_neighbour_patterns`): each pattern becomes the weighted
  mean of itself and its neighbours on the scan grid ("circular": equal weights within radius
  size // 2, "gaussian": weights exp(-d^2 / 2 sigma^2)), normalised by the weights of the
  neighbours that exist (at the scan's edges). Streamed by rows of the grid: memory holds one block.

Unlike kikuchipy, patterns stay float32 between steps (no rescaling to the integer range); the
model's own per-pattern normalisation follows.
"""
from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np

from ..arrays import unique
from ..errors import InputError
from .base import Reader

OPERATIONS = ("subtract", "divide")
WINDOWS = ("circular", "gaussian")
BLOCK_BYTES = 32 << 20  # float32 patterns read per block when averaging neighbours


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    static_background: str | None = None  # None, "subtract" or "divide"
    dynamic_background: str | None = None  # None, "subtract" or "divide"
    dynamic_sigma: float | None = None  # pixels; None: pattern width / 8
    neighbour_window: str | None = None  # None, "circular" or "gaussian"
    neighbour_size: int = 3  # window side in grid points (odd)
    neighbour_sigma: float = 1.0  # grid steps, for the gaussian window

    def __post_init__(self):
        checks = [
            (self.static_background in (None, *OPERATIONS), "static_background", f"None or one of {OPERATIONS}"),
            (self.dynamic_background in (None, *OPERATIONS), "dynamic_background", f"None or one of {OPERATIONS}"),
            (self.dynamic_sigma is None or self.dynamic_sigma > 0, "dynamic_sigma", "> 0 pixels"),
            (self.neighbour_window in (None, *WINDOWS), "neighbour_window", f"None or one of {WINDOWS}"),
            (self.neighbour_size >= 3 and self.neighbour_size % 2 == 1, "neighbour_size", "an odd number >= 3"),
            (self.neighbour_sigma > 0, "neighbour_sigma", "> 0 grid steps"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise InputError(f"preprocessing {name} must be {expected}, got {getattr(self, name)!r}")

    @property
    def active(self) -> bool:
        return bool(self.static_background or self.dynamic_background or self.neighbour_window)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> "Preprocessing":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})

    def describe(self) -> str:
        """One line for captions and logs, e.g. 'static background subtracted, 3x3 gaussian neighbour average'."""
        steps = []
        if self.static_background:
            steps.append(f"static background {self.static_background}")
        if self.dynamic_background:
            sigma = f"{self.dynamic_sigma:g} px" if self.dynamic_sigma else "width/8"
            steps.append(f"dynamic background {self.dynamic_background} (Gaussian {sigma})")
        if self.neighbour_window:
            steps.append(f"{self.neighbour_size}x{self.neighbour_size} {self.neighbour_window} neighbour average")
        return ", ".join(steps) or "none"


def with_preprocessing(model, requested: Preprocessing | dict | None):
    """`model` (a LoadedModel) set to preprocess its input as `requested`. A model that recorded its own
    preprocessing (a trained VAE) keeps it: asking for another one is refused, since the model only
    knows the inputs it was trained on."""
    requested = requested if isinstance(requested, Preprocessing) else Preprocessing.from_dict(requested)
    recorded = Preprocessing.from_dict(model.preprocessing)
    if not requested.active or requested == recorded:
        return model
    if recorded.active:
        raise InputError(f"the model was trained with the preprocessing '{recorded.describe()}' and extraction "
                         f"repeats it; leave the preprocessing options out (asked: '{requested.describe()}')",
                         model.path or None)
    return dataclasses.replace(model, preprocessing=requested.to_dict())


def iter_preprocessed(reader: Reader, partition: str, preprocessing: Preprocessing | dict | None,
                      batch_size: int = 256, allowed_indices=None,
                      stored: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(float32 batch (B, C, H, W), row indices) in source order, as `Reader.iter_batches`, with the
    preprocessing applied; the reader's own batches when there is none (in its `stored_dtype` when
    `stored`)."""
    if not isinstance(preprocessing, Preprocessing):
        preprocessing = Preprocessing.from_dict(preprocessing)
    if not preprocessing.active:
        yield from reader.iter_batches(partition, batch_size, allowed_indices, stored)
        return
    steps = PatternSteps(reader, partition, preprocessing)
    if not preprocessing.neighbour_window:
        for batch, rows in reader.iter_batches(partition, batch_size, allowed_indices):
            yield steps.backgrounds(batch), rows
        return
    yield from steps.neighbour_averaged(allowed_indices)


class PatternSteps:
    """The steps of one Preprocessing bound to one source partition (its static background resolved)."""

    def __init__(self, reader: Reader, partition: str, preprocessing: Preprocessing):
        self.reader, self.partition, self.preprocessing = reader, partition, preprocessing
        shape = reader.info().item_shape
        if len(shape) != 3:
            raise InputError(f"pattern preprocessing needs images (C, H, W), got items of shape {shape}: leave the "
                             "preprocessing options out", reader.path)
        self.static, self.static_source = (static_background(reader, partition) if preprocessing.static_background
                                           else (None, None))
        self.sigma = preprocessing.dynamic_sigma or shape[-1] / 8

    def backgrounds(self, batch: np.ndarray) -> np.ndarray:
        """Static then dynamic background correction of a (B, C, H, W) float32 batch."""
        p = self.preprocessing
        batch = np.asarray(batch, np.float32)
        if p.static_background:
            batch = _apply(batch, self.static, p.static_background)
        if p.dynamic_background:
            from scipy import ndimage  # here: a reader without dynamic background correction needs no SciPy

            blurred = ndimage.gaussian_filter(batch, sigma=(0, 0, self.sigma, self.sigma), truncate=4.0)
            batch = _apply(batch, blurred, p.dynamic_background)
        return batch

    def neighbour_averaged(self, allowed_indices=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Background-corrected patterns averaged over the grid window, a block of grid rows at a time:
        each block reads its rows plus `size // 2` rows above and below."""
        n_rows, n_columns = scan_grid(self.reader, self.partition)
        weights = window_weights(self.preprocessing)
        half = len(weights) // 2
        per_row = 4 * n_columns * int(np.prod(self.reader.info().item_shape))
        block_rows = max(1, BLOCK_BYTES // per_row - 2 * half)
        allowed = None if allowed_indices is None else unique(np.asarray(allowed_indices, np.int64))
        for first in range(0, n_rows, block_rows):
            last = min(first + block_rows, n_rows)
            rows = np.arange(first * n_columns, last * n_columns, dtype=np.int64)
            keep = np.ones(len(rows), bool) if allowed is None else np.isin(rows, allowed)
            if not keep.any():
                continue
            top, bottom = max(first - half, 0), min(last + half, n_rows)
            block = self.backgrounds(self.reader.read(self.partition, top * n_columns, bottom * n_columns))
            grid = block.reshape(bottom - top, n_columns, *block.shape[1:])
            averaged = average_on_grid(grid, weights)[first - top:last - top]
            yield averaged.reshape(-1, *block.shape[1:])[keep], rows[keep]


def _apply(batch: np.ndarray, background: np.ndarray, operation: str) -> np.ndarray:
    if operation == "subtract":
        return batch - background
    return batch / np.maximum(background, 1e-3 * float(np.max(background)) + 1e-12)


def static_background(reader: Reader, partition: str) -> tuple[np.ndarray, str]:
    """(float32 (C, H, W) background, "stored" or "scan mean"): the file's own, else the mean pattern."""
    stored = stored_static_background(reader)
    if stored is not None:
        return stored, "stored"
    total, count = None, 0
    for batch, _ in reader.iter_batches(partition, 512):
        part = batch.sum(0, dtype=np.float64)
        total, count = (part if total is None else total + part), count + len(batch)
    return (total / max(count, 1)).astype(np.float32), "scan mean"


def static_background_origin(reader: Reader, preprocessing: Preprocessing) -> str | None:
    """Where `static_background` takes the background from: "stored", "scan mean", or None when unused."""
    if not preprocessing.static_background:
        return None
    return "stored" if stored_static_background(reader) is not None else "scan mean"


def stored_static_background(reader: Reader) -> np.ndarray | None:
    """The static background stored in a scan file's header, as float32 (C, H, W), or None."""
    info = reader.info()
    name, scan = getattr(reader, "stored_background", None), info.extra.get("scan")
    if not name or scan is None or f"{scan}/{name}" not in reader.file:
        return None
    from ._hdf5 import read_whole  # an HDF5 scan's

    values = np.asarray(read_whole(reader.file[f"{scan}/{name}"], reader.path), np.float32)
    if values.shape != tuple(info.item_shape[-2:]):
        raise InputError(f"the stored static background '{scan}/{name}' is {values.shape}, the patterns "
                         f"{tuple(info.item_shape[-2:])}: leave --static-background out, or export the scan again",
                         reader.path)
    return values.reshape(info.item_shape)


def scan_grid(reader: Reader, partition: str) -> tuple[int, int]:
    grid = reader.info().grid_shape
    if grid is None or grid[0] * grid[1] != reader.count(partition):
        raise InputError("neighbour averaging needs patterns on a scan grid, and this source has none: leave "
                         "--average-neighbours out", reader.path)
    return int(grid[0]), int(grid[1])


def window_weights(preprocessing: Preprocessing) -> np.ndarray:
    """(size, size) weights of the averaging window, centre at [size // 2, size // 2]."""
    half = preprocessing.neighbour_size // 2
    dy, dx = np.mgrid[-half:half + 1, -half:half + 1]
    if preprocessing.neighbour_window == "circular":
        return (dx ** 2 + dy ** 2 <= half ** 2).astype(np.float32)
    return np.exp(-(dx ** 2 + dy ** 2) / (2 * preprocessing.neighbour_sigma ** 2)).astype(np.float32)


def average_on_grid(grid: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(rows, columns, *pattern) -> the weighted mean over each point's window, divided by the sum of
    the weights of the neighbours inside the grid."""
    half = len(weights) // 2
    n_rows, n_columns = grid.shape[:2]
    total = np.zeros_like(grid)
    norm = np.zeros((n_rows, n_columns), np.float32)
    for (i, j), weight in np.ndenumerate(weights):
        if weight == 0:
            continue
        dy, dx = i - half, j - half
        target = (slice(max(0, -dy), n_rows - max(0, dy)), slice(max(0, -dx), n_columns - max(0, dx)))
        source = (slice(max(0, dy), n_rows - max(0, -dy)), slice(max(0, dx), n_columns - max(0, -dx)))
        total[target] += weight * grid[source]
        norm[target] += weight
    return total / norm.reshape(n_rows, n_columns, *([1] * (grid.ndim - 2)))
