"""Similarity search and linear probes on latents.

- `nearest_neighbours`: the k rows closest to one row (cosine by default), the row itself excluded;
  `CosineSearch` keeps the latents' norms for many searches.
- `row_at`: the row of a scan whose position lies nearest a point (x, y).
- `linear_probe`: how well a logistic regression reads labels off the latents, cross-validated.
"""
from __future__ import annotations

import numpy as np

from ...errors import InputError
from .._validation import check_matrix


def nearest_neighbours(latents, row: int, k: int = 10, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of the `k` rows nearest to `row`, nearest first, `row` itself left out
    (other rows identical to it are kept: they are real neighbours). Exact (brute force) search;
    any scikit-learn metric name works (cosine: `CosineSearch`)."""
    if metric == "cosine":
        return CosineSearch(latents).nearest(row, k)
    from sklearn.neighbors import NearestNeighbors
    latents = check_matrix(latents, "latents", dtype=None)
    k = _neighbours_wanted(len(latents), row, k)
    if k == 0:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    search = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute").fit(latents)
    distances, indices = (a[0] for a in search.kneighbors(latents[row:row + 1]))
    return _without(row, indices, distances, k)


class CosineSearch:
    """Exact cosine nearest neighbours over fixed latents, their norms found once: a search is then one
    matrix-vector product (0.2 s at 10M x 16 on 2 cores, where scikit-learn's brute force took 0.9 s with its
    checks: docs/benchmarks.md). A zero vector is at distance 1 from every row, as in scikit-learn."""

    def __init__(self, latents):
        self.latents = check_matrix(latents, "latents", dtype=None)
        self.norms = np.sqrt(np.einsum("ij,ij->i", self.latents, self.latents, dtype=np.float64))

    def nearest(self, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """As `nearest_neighbours`: nearest first, `row` left out."""
        k = _neighbours_wanted(len(self.latents), row, k)
        if k == 0:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        dots = (self.latents @ self.latents[int(row)]).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            distances = 1.0 - dots / (self.norms * self.norms[int(row)])
        distances[~np.isfinite(distances)] = 1.0
        n = min(k + 1, len(distances))
        candidates = np.argpartition(distances, n - 1)[:n]
        candidates = candidates[np.lexsort((candidates, distances[candidates]))]
        return _without(int(row), candidates, distances[candidates], k)


def _neighbours_wanted(n: int, row: int, k: int) -> int:
    if not 0 <= int(row) < n:
        raise InputError(f"row {row} is out of range: the latents have {n} rows; choose one of 0..{n - 1}")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    return min(k, n - 1)


def _without(row: int, indices, distances, k: int):
    keep = indices != row  # by index, not by position: a duplicate may sort before the row itself
    return indices[keep][:k].astype(np.int64), distances[keep][:k]


def row_at(x, y, at_x: float, at_y: float) -> int:
    """The row whose (x, y) lies nearest (`at_x`, `at_y`) (Euclidean; rows without a finite position are
    never chosen; the first of equally near rows)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise InputError(f"x and y must be two 1-D arrays of one length, got shapes {x.shape} and {y.shape}: pass "
                         "one x and one y per row")
    if not (np.isfinite(at_x) and np.isfinite(at_y)):
        raise InputError(f"the point ({at_x}, {at_y}) must have finite coordinates: give numbers")
    distance = (x - at_x) ** 2 + (y - at_y) ** 2
    distance[~np.isfinite(distance)] = np.inf
    if not len(distance) or not np.isfinite(distance).any():
        raise InputError("no row has a finite position: give x, y with numbers")
    return int(np.argmin(distance))


def linear_probe(latents, labels, cv: int = 5, random_state: int = 0, max_iter: int = 1000) -> dict:
    """Cross-validated logistic regression (standardised features) predicting `labels` from latents.

    Folds are stratified and shuffled with `random_state`. Returns accuracy_mean, accuracy_std,
    fold_accuracies, chance (the majority class's share), classes, confusion_matrix (rows: true
    class, columns: predicted; every row predicted once, by the fold that held it out), n_samples, cv."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, confusion_matrix
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    latents = check_matrix(latents, "latents", dtype=None)
    labels = np.asarray(labels).ravel()
    if len(labels) != len(latents):
        raise InputError(f"labels have {len(labels)} values but the latents have {len(latents)} rows: give one "
                         "label per row")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise InputError(f"a probe needs at least 2 classes, the labels hold {len(classes)}: label a second class")
    if counts.min() < cv:
        small = {str(c): int(n) for c, n in zip(classes, counts) if n < cv}
        raise InputError(f"every class needs at least cv={cv} rows for stratified folds; too few: {small}; label "
                         "more rows, or lower cv")
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    predicted = cross_val_predict(model, latents, labels, cv=folds)
    fold_accuracies = [accuracy_score(labels[test], predicted[test]) for _, test in folds.split(latents, labels)]
    return {
        "accuracy_mean": float(np.mean(fold_accuracies)),
        "accuracy_std": float(np.std(fold_accuracies)),
        "fold_accuracies": [float(a) for a in fold_accuracies],
        "chance": float(counts.max() / counts.sum()),
        "classes": classes.tolist(),
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
        "n_samples": int(len(labels)),
        "cv": int(cv),
        "random_state": random_state,
    }
