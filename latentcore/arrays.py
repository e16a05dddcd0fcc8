"""Array helpers the engine and the app share.

- `unique(values)`: `np.unique(values)` (sorted, one NaN), by sorting. numpy >= 2.3 answers a plain
  `np.unique` from a hash table, which measured 13.9 s for 10,000,000 int64 row ids on the 2-core AMD
  EPYC development machine (1.2 s for a selection of 832,666 sorted rows), against 0.9 s (0.01 s) here.
"""
from __future__ import annotations

import numpy as np


def unique(values) -> np.ndarray:
    """The sorted distinct values of `values` (flattened), NaN once, as `np.unique` gives them. Sorted,
    distinct input (a selection's row ids, nearly always) is returned after one comparison pass."""
    flat = np.asarray(values).ravel()
    if flat.size < 2 or (flat[1:] > flat[:-1]).all():
        return flat.copy()
    flat = np.sort(flat)
    keep = np.empty(flat.size, bool)
    keep[0] = True
    np.not_equal(flat[1:], flat[:-1], out=keep[1:])
    if flat.dtype.kind in "fc":  # NaNs sort last and differ from each other: keep the first
        nan = np.isnan(flat)
        keep[1:] &= ~(nan[1:] & nan[:-1])
    return flat[keep]
