"""Input checks shared by the readers (one place, as scikit-learn's utils/validation): each raises
InputError naming the file and the problem."""
from __future__ import annotations

import numpy as np

from ..errors import InputError


def check_range(reader, partition: str, start: int, stop: int) -> tuple[int, int]:
    n = reader.count(partition)
    start, stop = int(start), int(stop)
    if not 0 <= start <= stop <= n:
        raise InputError(f"rows [{start}, {stop}) out of range for partition {partition!r} of {n} rows",
                         reader.path)
    return start, stop


def check_finite(values: np.ndarray, what: str, path) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise InputError(f"{what}: {int(bad.sum())} NaN/inf values (first in row {first})", path)


def check_length(values, expected: int, what: str, reference: str, path) -> np.ndarray:
    values = np.asarray(values)
    if len(values) != expected:
        raise InputError(f"{what} has {len(values)} values but {reference} has {expected}", path)
    return values


def grid_coordinates(n: int, n_columns: int, step_x: float, step_y: float):
    """x, y of the first n points of a row-major grid: x = step_x * column, y = step_y * row."""
    rows, columns = np.divmod(np.arange(n, dtype=np.int64), n_columns)
    return columns * float(step_x), rows * float(step_y)


def infer_step(values) -> float | None:
    """Smallest positive spacing between distinct coordinate values (None for a single value)."""
    unique = np.unique(np.asarray(values, dtype=np.float64))
    gaps = np.diff(unique)
    gaps = gaps[gaps > 1e-6 * max(1.0, float(np.abs(unique).max(initial=0.0)))]
    return float(gaps.min()) if gaps.size else None
