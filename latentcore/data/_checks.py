"""Input checks shared by the readers (one place, as scikit-learn's utils/validation): each raises
InputError naming the file and the problem."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from ..errors import InputError

# coordinates within this fraction of a step of a grid node count as on it (float round-off)
GRID_TOLERANCE = 0.25


def check_range(reader, partition: str, start: int, stop: int) -> tuple[int, int]:
    n = reader.count(partition)
    start, stop = int(start), int(stop)
    if not 0 <= start <= stop <= n:
        raise InputError(f"rows [{start}, {stop}) out of range for partition {partition!r} of {n} rows: ask for "
                         f"rows within [0, {n})", reader.path)
    return start, stop


def check_finite(values: np.ndarray, what: str, path) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise InputError(f"{what}: {int(bad.sum())} NaN/inf values (first in row {first}); export the file again "
                         "with finite values", path)


def check_length(values, expected: int, what: str, reference: str, path) -> np.ndarray:
    values = np.asarray(values)
    if len(values) != expected:
        raise InputError(f"{what} has {len(values)} values but {reference} has {expected}: export the file again "
                         "(truncated?)", path)
    return values


def grid_coordinates(n: int, n_columns: int, step_x: float, step_y: float):
    """x, y of the first n points of a row-major grid: x = step_x * column, y = step_y * row."""
    rows, columns = np.divmod(np.arange(n, dtype=np.int64), n_columns)
    return columns * float(step_x), rows * float(step_y)


UNIQUE_BLOCK = 1 << 20  # coordinates whose distinct values are found at once


def infer_step(values) -> float | None:
    """Smallest positive spacing between distinct coordinate values (None for a single value). The distinct values
    by hashing, then sorted: a scan's coordinates take few values (10M rows of a 3,163-pixel grid: 0.14 s for x and
    y, where sorting them took 1.1 s)."""
    import pandas as pd

    values = np.asarray(values, dtype=np.float64).ravel()
    # block by block: a hash table the size of every value was 160 MB of new memory at 10M rows (0.5 s here)
    blocks = [pd.unique(values[start:start + UNIQUE_BLOCK]) for start in range(0, values.size, UNIQUE_BLOCK)]
    distinct = np.unique(np.concatenate(blocks)) if blocks else values
    gaps = np.diff(distinct)
    gaps = gaps[gaps > 1e-6 * max(1.0, float(np.abs(distinct).max(initial=0.0)))]
    return float(gaps.min()) if gaps.size else None


# Bytes of bookkeeping per row that exist whatever the item size (x, y, row indices, a latent
# row...): a declared row count is checked against the memory budget before anything is allocated.
ROW_BYTES = 64
# gzip, the usual HDF5 filter, cannot compress more than about 1032:1: a dataset declaring more
# bytes than this times what it stores holds unwritten (fill) rows, not data.
MAX_COMPRESSION = 1100


def memory_budget() -> int:
    """Half of the machine's physical memory, in bytes."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError):
        return 8 << 30


def check_regular(path, what: str = "input") -> Path:
    """Only regular files and folders are read: a FIFO, socket or device would block or never end."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(("no such file or folder" if what == "input" else f"no such {what} file")
                         + ": check the path", path) from None
    except OSError as exc:
        raise InputError(f"cannot access the {what}: {exc.strerror}; check its permissions", path) from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(f"not a regular file or folder (a FIFO, socket or device is never read as {what}): give "
                         "a file", path)
    return path


def check_rows_fit(n_rows: int, what: str, path) -> None:
    """A declared number of rows the machine can index at all (coordinates, row ids, latents)."""
    if n_rows * ROW_BYTES > memory_budget():
        raise InputError(f"{what} declares {n_rows:,} rows, more than this machine's memory can index "
                         f"({memory_budget() // ROW_BYTES:,} rows at most): split it, or run on a larger machine", path)


def check_data_dtype(dtype: np.dtype, what: str, path) -> None:
    """Image data must be real numbers: complex values would lose their imaginary part."""
    if dtype.kind == "c":
        raise InputError(f"{what} holds complex numbers ({dtype}); only real-valued data can be read: save the "
                         "magnitudes", path)
    if dtype.kind not in "biuf":
        raise InputError(f"{what} holds {dtype} values, not numbers: save it as numbers", path)


def check_grid(n_rows, n_columns, step_x, step_y, path) -> tuple[int, int, float, float]:
    """A scan header's grid: positive integer sizes, positive finite steps."""
    try:
        sizes = int(n_rows), int(n_columns)
        steps = float(step_x), float(step_y)
    except (TypeError, ValueError):
        raise InputError(f"scan header grid must be numbers, got n_rows={n_rows!r}, n_columns={n_columns!r}, "
                         f"steps {step_x!r}, {step_y!r}; export the scan again", path) from None
    if min(sizes) < 1:
        raise InputError(f"scan header grid {sizes[0]} x {sizes[1]} must have at least one row and column", path)
    if not all(np.isfinite(s) and s > 0 for s in steps):
        raise InputError(f"scan header steps must be positive numbers, got {steps[0]!r}, {steps[1]!r}", path)
    return (*sizes, *steps)


def check_grid_shape(values, path) -> tuple[int, int]:
    """A stored `grid_shape` (n_rows, n_columns): two positive integers the memory can hold."""
    values = np.asarray(values).reshape(-1)
    if values.size != 2 or values.dtype.kind not in "iu" or (values < 1).any():
        raise InputError(f"grid_shape must be two positive integers, got {values.tolist()!r}"[:200], path)
    check_rows_fit(int(values[0]) * int(values[1]), "grid_shape", path)
    return int(values[0]), int(values[1])


def check_coordinates(values, n: int, name: str, path) -> np.ndarray:
    """Stored x or y: n finite numbers."""
    values = np.asarray(values)
    if values.dtype.kind not in "iuf" or values.ndim != 1:
        raise InputError(f"{name!r} must be a 1-D array of numbers, got {values.dtype} {values.shape}; extract the "
                         "latents again", path)
    values = check_length(values.astype(np.float64, copy=False), n, repr(name), "the latents", path)
    check_finite(values, repr(name), path)
    return values
