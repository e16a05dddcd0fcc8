"""Maps computed from a scan's patterns in one streamed pass (batches, as extraction reads them):
virtual backscatter-electron (VBSE) images, image quality and the average neighbour dot product.

    maps = pattern_maps(reader, vbse_grid=(5, 5), batch_size=256, progress=None)
    maps.vbse          (gy, gx, N) float64: the summed intensity of each detector tile, per point
    maps.iq            (N,) image quality (Krieger Lassen 1994: 1 - FFT spectrum inertia / its maximum)
    maps.adp           (N,) mean dot product of each pattern with its 4 grid neighbours (zero mean, unit norm)
    vbse_rgb(maps.vbse, tiles=None, percentiles=(1, 99))
                       (N, 3) in 0..1: three tiles, each stretched from its own low to high
                       percentile (values beyond them clipped: a few outliers no longer darken the image)

Points are the reader's rows in order; `grid_nodes` (row-major node of each row, for scans that fill
only part of their grid) places them for the neighbours. Patterns are used as read, not corrected.
Detector tiles split the pattern at `linspace(0, size, tiles + 1)`: a pixel belongs to the tile whose
range holds its index. Memory holds one batch and two grid rows of patterns, whatever the scan's size.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ...arrays import unique
from ...errors import InputError


@dataclasses.dataclass
class PatternMaps:
    vbse: np.ndarray  # (gy, gx, N)
    iq: np.ndarray  # (N,)
    adp: np.ndarray  # (N,)


def frequency_weights(shape: tuple[int, int]) -> np.ndarray:
    """Squared spatial frequency of each (unshifted) FFT component, the image-quality weights."""
    sy, sx = shape
    fy, fx = np.arange(sy) + 1, np.arange(sx) + 1
    fy[sy // 2:] -= sy + 1
    fx[sx // 2:] -= sx + 1
    return fy[:, None] ** 2 + fx[None, :] ** 2 - 1.0


def image_quality(patterns: np.ndarray) -> np.ndarray:
    """(n,) image quality of patterns (n, sy, sx), each centred on its mean first."""
    patterns = np.asarray(patterns, np.float64)
    centred = patterns - patterns.mean(axis=(1, 2), keepdims=True)
    spectrum = np.abs(np.fft.fft2(centred, axes=(1, 2)))
    weights = frequency_weights(patterns.shape[1:])
    inertia_max = weights.sum() / weights.size
    with np.errstate(invalid="ignore", divide="ignore"):
        inertia = (spectrum * weights).sum(axis=(1, 2)) / spectrum.sum(axis=(1, 2))
    return 1 - inertia / inertia_max


def tile_edges(size: int, tiles: int) -> np.ndarray:
    """Pixel index where each tile starts, and the end: a pixel i is in tile k when start_k <= i < start_k+1."""
    return np.ceil(np.linspace(0, size, tiles + 1) - 1e-9).astype(int)


def tile_sums(patterns: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(gy, gx, n) summed intensity of each detector tile of patterns (n, sy, sx)."""
    rows, columns = tile_edges(patterns.shape[1], grid[0]), tile_edges(patterns.shape[2], grid[1])
    by_row = np.add.reduceat(np.asarray(patterns, np.float64), rows[:-1], axis=1)
    sums = np.add.reduceat(by_row, columns[:-1], axis=2)  # (n, gy, gx)
    return np.moveaxis(sums, 0, -1)


def default_rgb_tiles(grid: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    """Three tiles side by side in the lowest row (forward scatter), middle one green."""
    row, middle = grid[0] - 1, grid[1] // 2
    return tuple((row, min(max(c, 0), grid[1] - 1)) for c in (middle - 1, middle, middle + 1))


def check_percentiles(percentiles: tuple[float, float]) -> None:
    """The contrast stretch's (low, high) percentiles, checked before any pattern is read."""
    if not 0 <= percentiles[0] < percentiles[1] <= 100:
        raise InputError(f"VBSE percentiles must satisfy 0 <= low < high <= 100, got {tuple(percentiles)}")


def vbse_rgb(vbse: np.ndarray, tiles=None, percentiles: tuple[float, float] = (1.0, 99.0)) -> np.ndarray:
    """(N, 3) RGB in 0..1 from three tiles of `vbse` (gy, gx, N), each stretched linearly from its
    low percentile (-> 0) to its high one (-> 1) and clipped; (0, 100) is the plain min-max stretch."""
    check_percentiles(percentiles)
    tiles = tiles or default_rgb_tiles(vbse.shape[:2])
    channels = []
    for row, column in tiles:
        image = vbse[row, column].astype(np.float64)
        low, high = np.nanpercentile(image, percentiles)
        channels.append(np.clip((image - low) / (high - low), 0, 1) if high > low else np.zeros_like(image))
    return np.stack(channels, -1)


def _unit_centred(patterns: np.ndarray) -> np.ndarray:
    flat = patterns.reshape(len(patterns), -1).astype(np.float64)
    flat -= flat.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return flat / np.linalg.norm(flat, axis=1, keepdims=True)


class _NeighbourDots:
    """Sum and count of dot products with 4-neighbours, fed one grid row at a time."""

    def __init__(self, n_rows: int, n_columns: int):
        self.total = np.zeros((n_rows, n_columns))
        self.count = np.zeros((n_rows, n_columns))
        self.previous = None  # (unit patterns (C, P), present (C,)) of the row above

    def add_row(self, row: int, patterns: np.ndarray, present: np.ndarray):
        right = np.einsum("cp,cp->c", patterns[:-1], patterns[1:])
        both = present[:-1] & present[1:]
        self._add(row, slice(0, -1), right, both)
        self._add(row, slice(1, None), right, both)
        if self.previous is not None:
            above, above_present = self.previous
            down = np.einsum("cp,cp->c", above, patterns)
            both = above_present & present
            self.total[row - 1] += np.where(both, down, 0)
            self.count[row - 1] += both
            self._add(row, slice(None), down, both)
        self.previous = (patterns, present)

    def _add(self, row, columns, values, mask):
        self.total[row, columns] += np.where(mask, values, 0)
        self.count[row, columns] += mask

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.total / self.count


def pattern_maps(reader, vbse_grid: tuple[int, int] = (5, 5), batch_size: int = 256,
                 grid_nodes: np.ndarray | None = None,
                 progress: Callable[[int, int], None] | None = None) -> PatternMaps:
    """VBSE tile images, image quality and ADP of a scan reader's patterns, in one streamed pass."""
    info = reader.info()
    n_rows, n_columns = info.grid_shape
    n = reader.count("all")
    nodes = np.arange(n) if grid_nodes is None else np.asarray(grid_nodes, np.int64)
    if np.any(np.diff(nodes) <= 0):
        raise ValueError("grid nodes must increase (the scan's rows in row-major order)")
    vbse = np.full((*vbse_grid, n), np.nan)
    iq = np.full(n, np.nan)
    dots = _NeighbourDots(n_rows, n_columns)
    size = int(np.prod(info.item_shape))
    row_patterns, row_present, current_row = np.zeros((n_columns, size)), np.zeros(n_columns, bool), 0
    for batch, rows in reader.iter_batches("all", batch_size):
        patterns = batch.reshape(len(batch), *batch.shape[-2:])
        vbse[..., rows] = tile_sums(patterns, vbse_grid)
        iq[rows] = image_quality(patterns)
        units = _unit_centred(patterns)
        grid_row, grid_column = np.divmod(nodes[rows], n_columns)
        for row in unique(grid_row):  # rows increase: the grid rows before `row` are complete
            while row > current_row:
                dots.add_row(current_row, row_patterns, row_present)
                row_patterns, row_present, current_row = np.zeros_like(row_patterns), np.zeros(n_columns, bool), current_row + 1
            here = grid_row == row
            row_patterns[grid_column[here]], row_present[grid_column[here]] = units[here], True
        if progress:
            progress(int(rows[-1]) + 1, n)
    while current_row < n_rows:
        dots.add_row(current_row, row_patterns, row_present)
        row_patterns, row_present, current_row = np.zeros_like(row_patterns), np.zeros(n_columns, bool), current_row + 1
    adp_grid = dots.mean().reshape(-1)
    return PatternMaps(vbse=vbse, iq=iq, adp=adp_grid[nodes])
