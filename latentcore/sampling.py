"""The seeded row sample every step draws (ranking metrics, pattern components, UMAP's fit
sample, clustering's fit sample, the ranking figure's points): one function, so that the same seed
gives the same rows everywhere."""
from __future__ import annotations

import numpy as np


def seeded_sample(n: int, size: int | None, random_state=0) -> np.ndarray:
    """Sorted int64 ids of a seeded random sample of `size` rows of range(n), without replacement;
    every row (0..n-1) when `size` is None or not smaller than n."""
    if size is None or n <= size:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=int(size), replace=False)).astype(np.int64)
