"""Spatial context for scans: a NaN-aware Gaussian over the scan grid.

Neighbouring pixels of a scan usually belong to the same grain, so averaging each pixel's features
with its neighbours' before clustering removes the noise of single pixels. The average is a
normalised convolution: with w = 1 where a pixel has a value and 0 where it has none (NaN, off the
scan, outside the ROI),

    smoothed = G * (w v) / G * w

so a missing pixel contributes nothing and never pulls its neighbours towards zero; the kernel is
renormalised over the pixels that exist (at the scan's edges too). A pixel without a value stays
NaN. `sigma` is in grid steps, the same in both directions; the kernel is cut at `truncate` sigmas
(scipy's default, 4: the weights left out sum to less than 1e-4).

Only the rows given take part: clustering an ROI passes only the ROI's rows, so nothing outside
the ROI bleeds in.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..arrays import unique
from ..errors import InputError
from .maps import Grid

TRUNCATE = 4.0


def check_sigma(sigma) -> float:
    """`sigma` as a float >= 0 (0 = no smoothing); a clear error otherwise."""
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise InputError(f"smooth must be a Gaussian sigma in grid steps >= 0, got {sigma!r}") from None
    if not np.isfinite(value) or value < 0:
        raise InputError(f"smooth must be a Gaussian sigma in grid steps >= 0, got {sigma!r}")
    return value


def smooth_maps(maps, sigma: float, truncate: float = TRUNCATE) -> np.ndarray:
    """NaN-aware Gaussian of each 2-D map in `maps` (..., rows, columns); NaN stays NaN.
    Returns float32 for float32 input, float64 otherwise."""
    sigma = check_sigma(sigma)
    maps = np.asarray(maps)
    if maps.ndim < 2:
        raise InputError(f"maps must be (..., rows, columns), got shape {maps.shape}: pass 2-D maps")
    out_dtype = np.float32 if maps.dtype == np.float32 else np.float64
    if sigma == 0:
        return maps.astype(out_dtype, copy=True)
    flat = maps.reshape(-1, *maps.shape[-2:])
    out = np.empty(flat.shape, out_dtype)
    for i, image in enumerate(flat):  # one map at a time: memory stays at a few maps whatever the stack
        out[i] = _smooth_image(image, sigma, truncate)
    return out.reshape(maps.shape)


def smooth_rows(values, x, y, sigma: float, grid: Grid | None = None, truncate: float = TRUNCATE) -> np.ndarray:
    """Per-row features (N, F) smoothed over the scan grid of the rows' x, y (default: their
    bounding grid). Returns (N, F) float64 in the rows' order."""
    sigma = check_sigma(sigma)
    values = np.asarray(values, np.float64)
    values = values[:, None] if values.ndim == 1 else values
    if values.ndim != 2 or len(values) != len(x) or len(values) != len(y):
        raise InputError(f"features must be (N, F) with one row per x, y: got {values.shape}, "
                         f"{len(x)} x and {len(y)} y values; pass one x and one y per row")
    if sigma == 0:
        return values.copy()
    grid = grid or Grid.from_coordinates(x, y)
    rows, columns = grid.indices(x, y)
    flat = rows * grid.n_columns + columns
    if unique(flat).size != flat.size:
        raise InputError("pixels share their coordinates: smoothing over the grid needs one row per pixel; leave "
                         "the smoothing at 0")
    out = np.empty_like(values)
    image = np.empty(grid.shape, np.float64)
    for j in range(values.shape[1]):  # one feature at a time: two grid-sized images in memory
        image.fill(np.nan)
        image[rows, columns] = values[:, j]
        out[:, j] = _smooth_image(image, sigma, truncate)[rows, columns]
    return out


def _smooth_image(image, sigma: float, truncate: float) -> np.ndarray:
    image = np.asarray(image, np.float64)
    present = np.isfinite(image)
    weight = present.astype(np.float64)
    # mode="constant" (zeros beyond the edge): off-scan pixels weigh nothing, like NaN ones
    numerator = ndimage.gaussian_filter(np.where(present, image, 0.0), sigma, mode="constant", truncate=truncate)
    denominator = ndimage.gaussian_filter(weight, sigma, mode="constant", truncate=truncate)
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = numerator / denominator
    smoothed[~present] = np.nan
    return smoothed


def smoothing_record(sigma: float, truncate: float = TRUNCATE) -> dict:
    """What a report says about the smoothing it used."""
    return {"sigma": float(sigma), "units": "grid steps", "truncate": float(truncate),
            "method": "NaN-aware Gaussian (normalised convolution) over the scan grid of the clustered/mapped "
                      "pixels; missing pixels and pixels outside the ROI take no part" if sigma else "none"}
