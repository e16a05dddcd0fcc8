"""Rank latent dimensions by how well they follow reference maps (see docs/architecture.md).

`rank_dimensions` scores every latent dimension against every reference, `top_rows` keeps the best
of each, and `write_ranking` writes the score table (CSV), the top-N report (JSON) and its figures
(PNG, drawn by `latentcore.figures`), named by `ranking_tag` and `ranking_names`. References are
per-row values aligned to the latents, built by `references.py` (band contrast, element maps, PCA/NMF
components of the raw patterns, user files), or clusterings given as labels. Every statistic comes
from a maintained package, or is computed here as that package computes it and tested equal to it (to 1e-12,
with ties, NaN and constant inputs), where a call a dimension was most of the ranking's time:

- pearson: Pearson's r as `scipy.stats.pearsonr` computes it (each input centred and over its norm, then
  their dot product: `unit_centred`, `Centred`), the reference's side made once for every dimension;
- spearman: that r of the average ranks, as `spearmanr` computes it; the reference's ranks are
  `scipy.stats.rankdata`'s (`ranks`: one radix sort; rankdata's own sort was 2 s a dimension at 10M rows), and
  a float32 dimension meets them in one compiled radix sort (`spearman_of_ranks`, spearman.py);
- kendall (tau-b): `scipy.stats.kendalltau`;
- mutual_information: `sklearn.feature_selection.mutual_info_regression` (3 neighbours, seeded);
- distance_correlation: `dcor.distance_correlation`;
- hsic: `hyppo.independence.Hsic`, biased and normalised (the square root of the centred kernel
  alignment), on Gaussian kernels whose bandwidth is each variable's median pairwise distance;
- partial_pearson: pearson's r (as above) of the residuals after a least-squares polynomial trend in
  (x, y) is removed from both variables (the design's orthonormal basis made once, `SpatialTrend`);
- ari, nmi: `sklearn.metrics` between a 1-D Gaussian-mixture clustering of the dimension and the
  reference's labels (a continuous reference is clustered the same way, `n_clusters`).

Signed metrics (the correlations) are ranked by their absolute value: a dimension that falls
where band contrast rises follows it as much as one that rises with it.

Rows where either input is NaN are dropped pair by pair and counted (`n_nan_dropped`). Kendall,
mutual information, distance correlation and HSIC grow too fast with N (HSIC is O(N^2) in time
and memory), so above `max_samples` valid rows they use a seeded random sample of that size
(`n_sampled`, and the table's `attrs["notes"]`); the other metrics use every valid row. The dimensions are scored
in threads, one a core (numpy's sorts and arithmetic run outside the GIL), each with one BLAS thread.
"""
from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from ..arrays import ThreadScratch, unique
from ..errors import InputError
from ..sampling import seeded_sample
from ..storage import atomic_path
from ..storage.csv_cells import neutralised_table
from ._validation import check_dimensions, check_int, check_matrix, check_vector
from .artifacts.common import input_record
from .maps import Roi, roi_tag
from .rank_metrics import (CONTINUOUS_METRICS, DEFAULT_MAX_SAMPLES, LABEL_METRICS, METRICS,  # noqa: F401
                           MULTIVARIATE_METRICS, SAMPLED_METRICS, SIGNED_METRICS)

_SCRATCH = ThreadScratch()  # a scoring thread's centred dimension, reused by its next one
GMM_MAX_FIT = 20_000  # rows a per-dimension mixture is fitted on; the rest are predicted
RANK_PACKAGES = ("latentcore", "numpy", "scipy", "scikit-learn", "pandas", "dcor", "hyppo", "plotly")


# -- metrics ------------------------------------------------------------------------------------------

def pearson(a, b) -> float:
    return _quiet(lambda: stats.pearsonr(a, b).statistic)


def kendall(a, b) -> float:
    return _quiet(lambda: stats.kendalltau(a, b).statistic)


def unit_centred(values) -> np.ndarray | None:
    """`values` (as float64) minus their mean, over the norm of that: `scipy.stats.pearsonr`'s r is the dot
    product of two of these, so a reference made one once is correlated with each dimension by one dot product
    (`Centred.correlation`). None where the values are constant, where r is undefined (pearsonr: NaN)."""
    values = np.asarray(values, np.float64)
    if len(values) < 2 or values.min() == values.max():
        return None
    centred = values - values.mean()
    return centred / np.linalg.norm(centred)


def ranks(values) -> np.ndarray:
    """`scipy.stats.rankdata(values)`'s average ranks (float64) of finite values, from one fast sort (`_order`):
    rankdata's own stable sort was most of a dimension's time (2 s a dimension at 10M rows). Values that tie
    share the mean of their sorted positions, as in rankdata; float32 latents tie often (a million draws
    share some thousands of float32 values), so ties are averaged here rather than sent back to rankdata."""
    values = np.asarray(values)
    order = _order(values)
    ordered = values[order]
    sorted_ranks = np.arange(1, len(values) + 1, dtype=np.float64)
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])  # sorted position i equals i + 1
    if len(tied):
        starts = np.flatnonzero(np.diff(tied, prepend=-2) != 1)  # where each run of equal values begins in `tied`
        run = np.repeat(np.arange(len(starts)), np.diff(starts, append=len(tied)))
        middle = (tied[starts] + np.maximum.reduceat(tied, starts) + 1) / 2 + 1  # mean of first and last position
        sorted_ranks[tied] = sorted_ranks[tied + 1] = middle[run]
    result = np.empty(len(values))
    result[order] = sorted_ranks
    return result


def spearman_of_ranks(values, reference_unit_ranks: np.ndarray | None) -> float:
    """Spearman's rho of `values` (finite) with a reference given as `unit_centred(ranks(reference))`: float32
    values by one compiled radix sort that carries the reference along (`spearman.spearman_against`: 3x faster
    at 10M rows), others as Pearson's r of their ranks (`Centred`)."""
    if reference_unit_ranks is None:
        return float("nan")
    values = _float32_if_exact(np.asarray(values))
    if values.dtype != np.float32:
        return Centred(ranks(values)).correlation(reference_unit_ranks)
    from .spearman import spearman_against  # numba: imported where used
    return spearman_against(values, reference_unit_ranks)


def _float32_if_exact(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.float64 and np.array_equal(values.astype(np.float32), values):
        return values.astype(np.float32)  # e.g. band contrast's integers: float32 values
    return values


def _order(values) -> np.ndarray:
    """The indices that sort `values`: float32 by two stable radix passes, 16 bits at a time (numpy radix-sorts
    16-bit integers), over an integer key in the floats' order: 2.3x numpy's argsort at 1M rows, 1.7x at 10M.
    Other types by np.argsort."""
    values = _float32_if_exact(values)
    if values.dtype != np.float32:  # a 64-bit key, four passes: slower than np.argsort at 10M rows
        return np.argsort(values)
    bits = (values + np.float32(0)).view(np.uint32)  # + 0: -0.0 is 0.0, as they compare equal
    # IEEE floats order as their bits with the sign bit flipped, the negatives' bits all flipped
    key = np.where(values < 0, ~bits, bits | np.uint32(1 << 31))
    low_first = np.argsort(key.astype(np.uint16), kind="stable")
    high = (key >> 16).astype(np.uint16)
    return low_first[np.argsort(high[low_first], kind="stable")]  # stable: equal highs keep the lows' order


def mutual_information(a, b, random_state=0) -> float:
    from sklearn.feature_selection import mutual_info_regression
    return float(mutual_info_regression(np.reshape(a, (-1, 1)), b, n_neighbors=3, random_state=random_state)[0])


def distance_correlation(a, b) -> float:
    import dcor
    return _quiet(lambda: dcor.distance_correlation(np.asarray(a, np.float64), np.asarray(b, np.float64)))


def hsic(a, b) -> float:
    """hyppo's biased, normalised HSIC on Gaussian kernels (bandwidth: each variable's median
    pairwise distance). hyppo would take x's bandwidth for y too, so the kernels are built here."""
    from hyppo.independence import Hsic
    return _quiet(lambda: Hsic(compute_kernel=None, bias=True).statistic(gaussian_kernel(a), gaussian_kernel(b)))


def gaussian_kernel(values) -> np.ndarray:
    """exp(-d^2 / (2 m^2)) with m the median off-diagonal distance (1 when that is 0)."""
    from scipy.spatial.distance import pdist
    from sklearn.metrics.pairwise import rbf_kernel
    values = np.asarray(values, np.float64)
    values = values.reshape(len(values), -1)
    median = float(np.median(pdist(values))) if len(values) > 1 else 0.0
    median = median or 1.0
    return rbf_kernel(values, gamma=1.0 / (2.0 * median ** 2))


class SpatialTrend:
    """Least-squares polynomial trend of `degree` in (x, y). The design's orthonormal basis is
    computed once per set of rows used, so removing the trend from many dimensions costs two
    matrix-vector products each, and projecting them on it one."""

    def __init__(self, x, y, degree: int = 2):
        self.x, self.y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        self.degree = degree
        self._basis_rows, self._basis = None, None
        self._lock = threading.Lock()  # dimensions are scored in threads

    def residuals(self, values, rows=None) -> np.ndarray:
        """`values` (given for `rows`, a boolean mask; default all rows) minus their fitted trend."""
        values = np.asarray(values, np.float64)
        return values - self.basis(rows) @ self.projection(values, rows)

    def projection(self, values, rows=None) -> np.ndarray:
        """The fitted trend of `values` (given for `rows`) as coefficients of the orthonormal basis."""
        return self.basis(rows).T @ np.asarray(values, np.float64)

    def basis(self, rows=None) -> np.ndarray:
        """The design's orthonormal basis over `rows` (the last one asked is kept)."""
        rows = np.ones(len(self.x), bool) if rows is None else np.asarray(rows, bool)
        digest = hashlib.sha1(np.packbits(rows).tobytes()).hexdigest()
        with self._lock:
            if digest != self._basis_rows:
                self._basis_rows, self._basis = digest, self._orthonormal_design(rows)
            return self._basis

    def _orthonormal_design(self, rows) -> np.ndarray:
        from sklearn.preprocessing import PolynomialFeatures
        every = rows.all()  # no copy of the coordinates
        coords = [c if every else c[rows] for c in (self.x, self.y)]
        coords = np.column_stack([(c - c.mean()) / (c.std() or 1.0) for c in coords])  # conditioning
        basis = PolynomialFeatures(self.degree, order="F").fit_transform(coords)  # F: written a column at a time
        # orthonormalised twice by its (p, p) Gram matrix's eigenvectors (Cholesky QR 2 with eigh, to see what is
        # degenerate): the design's span in four (N, p) products, where its SVD took 2.4 s at 10M rows; the
        # second pass leaves it orthonormal to float64 rounding (standardised, the design is well conditioned)
        for _ in range(2):
            gram, vectors = np.linalg.eigh(basis.T @ basis)
            keep = gram > gram[-1] * 1e-12  # singular values below 1e-6 of the largest: a column constant here
            basis = basis @ (vectors[:, keep] / np.sqrt(gram[keep]))
        return basis


def gmm_labels(values, n_clusters: int, random_state=0) -> np.ndarray:
    """Labels of a 1-D Gaussian mixture (fitted on at most GMM_MAX_FIT rows, then predicted)."""
    from sklearn.mixture import GaussianMixture
    values = np.asarray(values, np.float64).reshape(-1, 1)
    fit_rows = values[seeded_sample(len(values), GMM_MAX_FIT, random_state)]
    # k-means++ seeding without Lloyd iterations: on one dimension the full k-means init costs
    # more than the mixture fit itself
    model = GaussianMixture(n_components=n_clusters, init_params="k-means++",
                            random_state=random_state).fit(fit_rows)
    return model.predict(values)


def _quiet(compute) -> float:
    """A metric's value, NaN where it is undefined (e.g. a constant input) instead of a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = float(compute())
        except (ValueError, FloatingPointError, ZeroDivisionError):
            return float("nan")
    return value if np.isfinite(value) else float("nan")


# -- ranking ------------------------------------------------------------------------------------------

def rank_dimensions(latents, references: dict | None = None, x=None, y=None, metrics=None,
                    labels: dict | None = None, sort_by: str | None = None, n_clusters: int = 3,
                    trend_degree: int = 2, random_state: int = 0,
                    max_samples: int | None = DEFAULT_MAX_SAMPLES, dimensions=None, progress=None) -> pd.DataFrame:
    """Score every latent dimension against every reference: one row per (dimension, reference).

    Parameters
    ----------
    latents : array-like of shape (n_rows, n_dimensions)
        The latents; NaN rows are dropped pair by pair. At least 3 rows.
    references : dict of str to array-like of shape (n_rows,) or (n_rows, k), default=None
        Continuous reference maps by name (an (n_rows, k) map, e.g. `references.element_rgb`, is
        scored by the multivariate metrics only).
    x, y : array-like of shape (n_rows,), default=None
        The rows' coordinates, needed by "partial_pearson" (give both or neither).
    metrics : sequence of str, default=None
        Metrics to compute, from `METRICS`; default every metric the inputs allow.
    labels : dict of str to array-like of shape (n_rows,), default=None
        Reference clusterings by name (integer ids; NaN or negative = unlabelled), scored by ARI
        and NMI only (the continuous metrics are NaN on those rows: they mean nothing for ids).
    sort_by : str, default=None
        The metric ranked on (default the first of `metrics`); signed metrics rank by absolute
        value, and a labels reference by ARI (else NMI) when `sort_by` is a continuous metric.
    n_clusters : int, default=3
        Mixture components of a dimension (and of a continuous reference) for ARI/NMI against a
        map; against labels, as many components as the labels have classes.
    trend_degree : int, default=2
        Degree of the polynomial spatial trend that "partial_pearson" removes.
    random_state : int, default=0
        Seed of the metric samples, the mixtures and mutual information.
    max_samples : int or None, default=DEFAULT_MAX_SAMPLES
        Above this many valid rows, the `SAMPLED_METRICS` use a seeded sample of this size; None
        uses every row.
    dimensions : sequence of int, default=None
        The latent columns to score (default all).
    progress : callable, default=None
        Called as `progress(done, total)` after each (dimension, reference) pair is scored.

    Returns
    -------
    table : pandas.DataFrame
        Columns reference, rank (1 = best, per reference), dimension, ranked_by, kind ("map" or
        "labels"), one column per metric, n_valid, n_nan_dropped, n_sampled; grouped by reference
        in the order given, best first. `table.attrs` holds "parameters" and "notes"
        (subsampling, dropped rows, undefined metrics).

    Raises
    ------
    InputError
        No reference, a name used both as map and as labels, a reference, labels or coordinates
        whose length is not the latents' rows, non-integer labels, an unknown metric or
        `sort_by`, "partial_pearson" without x and y, or a dimension out of range.
    """
    latents = check_matrix(latents, "latents", dtype=None, min_rows=3, finite=False)  # no float64 copy: by column
    n_clusters, trend_degree = check_int(n_clusters, "n_clusters", 1), check_int(trend_degree, "trend_degree", 0)
    max_samples = None if max_samples is None else check_int(max_samples, "max_samples", 3)
    references = {k: _check_reference(k, v, len(latents)) for k, v in (references or {}).items()}
    labels = {k: _check_labels(k, v, len(latents)) for k, v in (labels or {}).items()}
    if not references and not labels:
        raise InputError("give at least one reference map or reference clustering")
    clash = sorted(set(references) & set(labels))
    if clash:
        raise InputError(f"names used both as reference map and as labels: {clash}; rename one of each")
    metrics = _resolve_metrics(metrics, has_xy=x is not None and y is not None)
    if x is not None or y is not None:
        x, y = _check_coordinates(x, y, len(latents))
    sort_by = sort_by or metrics[0]
    if sort_by not in metrics:
        raise InputError(f"sort_by {sort_by!r} is not among the metrics computed: choose one of {list(metrics)}")
    dims = check_dimensions(dimensions, latents.shape[1])
    # one BLAS thread throughout, a core a dimension: BLAS threads within each only contend (5.1 -> 3.0 s), and
    # the trend's (N, 6) @ (6, 6) took 3-4 s at 10M rows in OpenBLAS's two threads beside another process, 0.16 s in one
    with threadpool_limits(1):
        scores = _pairs(latents, references, labels, x, y, metrics, dims, n_clusters, trend_degree, random_state,
                        max_samples)
        rows = _scored(scores, progress)
    table = _sorted_table(rows, metrics, sort_by)
    table.attrs["parameters"] = {"metrics": list(metrics), "sort_by": sort_by, "n_clusters": n_clusters,
                                 "trend_degree": trend_degree, "random_state": random_state,
                                 "max_samples": max_samples, "n_rows": len(latents),
                                 "n_dimensions": int(latents.shape[1])}
    table.attrs["notes"] = _notes(table, metrics, max_samples)
    return table


def _pairs(latents, references, labels, x, y, metrics, dims, n_clusters, trend_degree, random_state,
           max_samples) -> list:
    """(what the row is, how to score it) for every (reference, dimension) pair, in the table's order."""
    clusters = DimensionClusters(latents, random_state)
    trend = SpatialTrend(x, y, trend_degree) if "partial_pearson" in metrics else None
    scores = []
    for name, reference in references.items():
        reference_labels = None
        if set(LABEL_METRICS) & set(metrics) and reference.ndim == 1:
            reference_labels = _cluster_reference(reference, n_clusters, random_state)
        shared, columns = ReferenceRows(reference, x, y, metrics, trend), LatentColumns(latents, dims)
        scores += [({"dimension": dim, "reference": name, "kind": "map"},
                    functools.partial(_score_continuous, functools.partial(columns, at), shared, reference_labels,
                                      metrics, functools.partial(clusters, dim, n_clusters), random_state, max_samples))
                   for at, dim in enumerate(dims)]
    for name, reference in labels.items():
        columns = LatentColumns(latents, dims)
        scores += [({"dimension": dim, "reference": name, "kind": "labels"},
                    functools.partial(_score_labels, functools.partial(columns, at), reference, metrics,
                                      functools.partial(clusters, dim)))
                   for at, dim in enumerate(dims)]
    return scores


class LatentColumns:
    """The latents' columns `dims`, each taken once by a scoring thread, as contiguous arrays: copied out a block of
    columns at a time, in chunks of rows (one column alone is a strided pass over the whole matrix: 4x slower at
    1M x 128), each block dropped once its columns are taken. A block holds at most BLOCK_BYTES."""

    BLOCK_BYTES = 64 << 20
    CHUNK_ROWS = 8192

    def __init__(self, latents, dims):
        self.latents, self.dims = latents, list(dims)
        self.width = int(np.clip(self.BLOCK_BYTES // max(latents.shape[0] * latents.itemsize, 1), 1, 16))
        self.blocks, self.left, self.lock = {}, {}, threading.Lock()

    def __call__(self, position: int) -> np.ndarray:
        """The column dims[position]."""
        block, offset = divmod(position, self.width)
        with self.lock:
            if block not in self.blocks:
                self.blocks[block] = self._copied(self.dims[block * self.width:(block + 1) * self.width])
                self.left[block] = len(self.blocks[block])
            columns = self.blocks[block]
            self.left[block] -= 1
            if not self.left[block]:
                del self.blocks[block]
        return columns[offset]

    def _copied(self, dims) -> np.ndarray:
        out = np.empty((len(dims), len(self.latents)), self.latents.dtype)
        for start in range(0, len(self.latents), self.CHUNK_ROWS):
            out[:, start:start + self.CHUNK_ROWS] = self.latents[start:start + self.CHUNK_ROWS, dims].T
        return out


def _scored(scores, progress) -> list[dict]:
    """Each pair's row, scored in threads, one a core (numpy's sorts and arithmetic run outside the GIL)."""
    rows = []
    with concurrent.futures.ThreadPoolExecutor(max(1, min(len(os.sched_getaffinity(0)), len(scores)))) as threads:
        for (named, _), row in zip(scores, threads.map(lambda item: item[1](), scores)):
            rows.append(row | named)
            if progress is not None:
                progress(len(rows), len(scores))  # may raise (a job cancelled): map's pending scores are dropped
    return rows


class DimensionClusters:
    """1-D Gaussian-mixture labels of each latent dimension (-1 where it is NaN), computed once per
    (dimension, k) and shared by every reference."""

    def __init__(self, latents, random_state):
        self.latents, self.random_state, self.cache = latents, random_state, {}

    def __call__(self, dim: int, k: int) -> np.ndarray:
        if (dim, k) not in self.cache:
            values = self.latents[:, dim]
            labels = np.full(len(values), -1)
            finite = np.isfinite(values)
            if finite.sum() > k:
                labels[finite] = gmm_labels(values[finite], k, self.random_state)
            self.cache[(dim, k)] = labels
        return self.cache[(dim, k)]


class ReferenceRows:
    """A reference map over the rows a dimension is scored on, and what the metrics take of it there (its ranks,
    its residuals after the spatial trend): made once for the rows where the reference and the coordinates are
    finite, which every dimension without NaN shares, and again for a dimension whose NaN drop more rows."""

    def __init__(self, reference, x, y, metrics, trend: SpatialTrend | None, valid=None):
        if valid is None:
            valid = np.isfinite(reference).reshape(len(reference), -1).all(axis=1)
            if x is not None:
                valid &= np.isfinite(x) & np.isfinite(y)
        self.reference, self.metrics, self.trend, self.valid = reference, metrics, trend, valid
        self.values = reference if valid.all() else reference[valid]
        one_column = self.values.ndim == 1 and len(self.values) >= 3
        # each side of a correlation made once, for every dimension (`Centred.correlation`); None: undefined or not
        # asked. The sort runs beside the trend's fit (each about 2 s at 10M rows, on one core each)
        with concurrent.futures.ThreadPoolExecutor(1) as beside:
            ranked = beside.submit(ranks, self.values) if one_column and "spearman" in metrics else None
            self.unit = unit_centred(self.values) if one_column and "pearson" in metrics else None
            self.residuals = (unit_centred(trend.residuals(self.values, valid))
                              if one_column and "partial_pearson" in metrics else None)
            self.ranks = unit_centred(ranked.result()) if ranked is not None else None

    def over(self, valid) -> ReferenceRows:
        """This reference over the rows `valid` (within self.valid)."""
        if np.array_equal(valid, self.valid):
            return self
        return ReferenceRows(self.reference, None, None, self.metrics, self.trend, valid)


def _score_continuous(column_of, shared: ReferenceRows, reference_labels, metrics, dimension_clusters, random_state,
                      max_samples) -> dict:
    values = column_of()  # the dimension's values (LatentColumns)
    valid = shared.valid & np.isfinite(values)
    reference = shared.over(valid)
    column = values if valid.all() else values[valid]  # as stored: float32 latents sort faster (`spearman_of_ranks`)
    b = reference.values
    sample = seeded_sample(len(column), max_samples, random_state)
    row = {"n_valid": int(valid.sum()), "n_nan_dropped": int((~valid).sum()), "n_sampled": len(sample)}
    enough = len(column) >= 3
    centred = None
    if enough and {"pearson", "partial_pearson"} & set(metrics):
        centred = Centred(column, _SCRATCH.take("centred", len(column), np.float64))
    for metric in metrics:
        if not enough or (b.ndim > 1 and metric not in MULTIVARIATE_METRICS):
            row[metric] = float("nan")
        elif metric == "mutual_information":
            row[metric] = mutual_information(column[sample].astype(np.float64), b[sample], random_state)
        elif metric in SAMPLED_METRICS:
            row[metric] = _METRIC_FUNCTIONS[metric](column[sample].astype(np.float64), b[sample])
        elif metric == "pearson":
            row[metric] = centred.correlation(reference.unit)
        elif metric == "spearman":
            row[metric] = spearman_of_ranks(column, reference.ranks)
        elif metric == "partial_pearson":
            row[metric] = centred.correlation(reference.residuals, shared.trend.projection(centred.values, valid))
        else:  # LABEL_METRICS
            row[metric] = _label_agreement(metric, dimension_clusters()[valid], reference_labels[valid])
    return row


class Centred:
    """A dimension's values (float64) minus their mean, and their squared norm: its Pearson r with a reference's
    `unit_centred` side is one dot product over this norm, and so is its partial r after a spatial trend."""

    def __init__(self, column, out: np.ndarray | None = None):
        """`out`: where the centred values go (float64, as long as `column`)."""
        self.constant = column.min() == column.max()  # r undefined (pearsonr: NaN)
        self.values = np.subtract(column, column.mean(dtype=np.float64), out=out, dtype=np.float64)
        self.norm_square = float(self.values @ self.values)

    def correlation(self, b_unit: np.ndarray | None, projection: np.ndarray | None = None) -> float:
        """r with `b_unit`; given the values' `projection` on a trend's orthonormal basis to which `b_unit` is
        orthogonal (a reference's residuals), r of the two residuals: the values' residual has the values' dot
        product with `b_unit` and their squared norm less the projection's, so no residual is made (a dimension's
        most costly step at 10M rows). NaN where nothing is left after the trend (1e-6 of the norm)."""
        if self.constant or b_unit is None:
            return float("nan")
        norm_square = self.norm_square if projection is None else self.norm_square - float(projection @ projection)
        if norm_square <= self.norm_square * 1e-12:
            return float("nan")
        return float(np.clip(self.values @ b_unit / np.sqrt(norm_square), -1.0, 1.0))


def _score_labels(column_of, reference, metrics, dimension_clusters) -> dict:
    values = column_of()
    valid = np.isfinite(values) & np.isfinite(reference) & (reference >= 0)
    a, truth = values[valid], reference[valid].astype(np.int64)
    row = {"n_valid": int(valid.sum()), "n_nan_dropped": int((~valid).sum()), "n_sampled": int(valid.sum())}
    n_classes = unique(truth).size
    for metric in metrics:
        usable = metric in LABEL_METRICS and n_classes >= 2 and len(a) > n_classes
        row[metric] = (_label_agreement(metric, dimension_clusters(n_classes)[valid], truth)
                       if usable else float("nan"))
    return row


def _cluster_reference(reference, n_clusters, random_state) -> np.ndarray:
    return DimensionClusters(reference.reshape(-1, 1), random_state)(0, n_clusters)


def _label_agreement(metric, predicted, truth) -> float:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    keep = truth >= 0
    score = adjusted_rand_score if metric == "ari" else normalized_mutual_info_score
    return float(score(truth[keep], predicted[keep]))


_METRIC_FUNCTIONS = {"kendall": kendall,
                     "distance_correlation": distance_correlation, "hsic": hsic}


def _sorted_table(rows, metrics, sort_by) -> pd.DataFrame:
    """Grouped by reference (in the order given), best first within each; `rank` restarts at 1
    per reference. A labels reference is ranked by ARI (else NMI) when `sort_by` is a continuous metric."""
    columns = ["dimension", "reference", "kind", *metrics, "n_valid", "n_nan_dropped", "n_sampled"]
    table = pd.DataFrame(rows, columns=columns)
    parts = []
    for _, part in table.groupby("reference", sort=False):
        metric = _ranking_metric(part["kind"].iloc[0], metrics, sort_by)
        score = part[metric].abs() if metric in SIGNED_METRICS else part[metric]
        order = np.lexsort((part["dimension"].to_numpy(), -score.fillna(-np.inf).to_numpy()))
        part = part.iloc[order].assign(rank=np.arange(1, len(part) + 1), ranked_by=metric)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    return table[["reference", "rank", "dimension", "ranked_by", *columns[2:]]]


def _ranking_metric(kind, metrics, sort_by) -> str:
    if kind == "labels" and sort_by not in LABEL_METRICS:
        return next((m for m in LABEL_METRICS if m in metrics), sort_by)
    return sort_by


def _notes(table, metrics, max_samples) -> list[str]:
    notes = []
    sampled = [m for m in metrics if m in SAMPLED_METRICS]
    if sampled and (table["n_sampled"] < table["n_valid"]).any():
        notes.append(f"{', '.join(sampled)} computed on a seeded random sample of {max_samples} rows "
                     f"(of up to {int(table['n_valid'].max())} valid rows); the other metrics on all valid rows")
    if table["n_nan_dropped"].any():
        notes.append(f"rows with NaN in either input were dropped pairwise: up to "
                     f"{int(table['n_nan_dropped'].max())} per pair (column n_nan_dropped)")
    maps = table["kind"] == "map"
    undefined = [m for m in metrics if table.loc[maps if m in CONTINUOUS_METRICS else slice(None), m].isna().any()]
    if undefined:
        notes.append(f"undefined values (NaN) in {undefined}: a constant input, too few rows, or a metric "
                     "that does not apply to that kind of reference")
    return notes


def _resolve_metrics(metrics, has_xy: bool) -> tuple[str, ...]:
    if metrics is None:
        return tuple(m for m in METRICS if has_xy or m != "partial_pearson")
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InputError(f"unknown metric(s) {unknown}; choose from {list(METRICS)}")
    if "partial_pearson" in metrics and not has_xy:
        raise InputError("partial_pearson removes a spatial trend and needs x and y coordinates (leave it out of "
                         "--metrics)")
    return metrics


def _check_reference(name, values, n) -> np.ndarray:
    """A map (N,) or a multivariate one (N, k); an (N, 1) map is read as (N,)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim not in (1, 2) or len(values) != n:
        raise InputError(f"reference {name!r} has shape {values.shape} but the latents have {n} rows: give one "
                         "value per row")
    return values


def _check_labels(name, values, n) -> np.ndarray:
    values = check_vector(values, f"labels {name!r}", n)
    finite = values[np.isfinite(values)]
    if not np.array_equal(finite, np.round(finite)):
        raise InputError(f"labels {name!r} must be integers (cluster or class ids), got non-integer values")
    return values


def _check_coordinates(x, y, n):
    if x is None or y is None:
        raise InputError("give both x and y coordinates, or neither")
    return check_vector(x, "x", n), check_vector(y, "y", n)


# -- outputs ------------------------------------------------------------------------------------------

def ranking_tag(sort_by: str, top: int, roi: Roi | None = None) -> str:
    """`pearson_top4`, `pearson_top4_roi0-30_0-20` within an ROI: the name part of a ranking."""
    return f"{sort_by}_top{top}" + ("" if roi is None else f"_{roi_tag(roi)}")


def ranking_names(tag: str) -> dict[str, str]:
    """The files of a ranking (`ranking_tag`): the scores (CSV), the report (JSON) and its figures (PNG)."""
    return {"scores": f"ranking_scores__{tag}.csv", "report": f"ranking_report__{tag}.json",
            "figure_bars": f"ranking_top__{tag}.png", "figure_scatter": f"ranking_scatter__{tag}.png"}


def top_rows(table: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The `top` best dimensions of each reference, in rank order."""
    return table[table["rank"] <= top].reset_index(drop=True)


def write_ranking(table: pd.DataFrame, out_dir, inputs: dict | None = None, top: int = 10,
                  tag: str | None = None, latents=None, references: dict | None = None,
                  figures: bool = True, browser: str | None = "auto", dpi: float = 300, root=None,
                  quality: dict | None = None) -> dict:
    """Write the score table (CSV), the top-N report (JSON) and top-N figures (PNG) into `out_dir`; `quality`:
    the quality filter's record (`QualityFilter.record`) when the rows ranked were filtered.

    inputs: role -> file path, recorded by name and SHA-256 (and relative to `out_dir` when inside `root`, the
    workspace; None: anywhere: `artifacts.common.input_record`). latents/references (the arrays ranked)
    let the figures show the top dimensions against their reference. browser: passed to
    `figures.write_png` ("auto", a Chromium path, or None for matplotlib); `dpi`: the PNGs' resolution
    (their pixels scaled from the figure's size at 96 dpi, and their dpi metadata). Returns {kind: path}."""
    out_dir = Path(out_dir)
    parameters = dict(table.attrs.get("parameters", {}))
    tag = tag or ranking_tag(parameters.get("sort_by", "score"), top)
    names = ranking_names(tag)
    paths = {kind: out_dir / names[kind] for kind in ("scores", "report")}
    with atomic_path(paths["scores"]) as tmp:
        neutralised_table(table).to_csv(tmp, index=False)  # reference names are user text
    best = top_rows(table, top)
    if figures:
        paths.update(write_ranking_figures(best, out_dir, tag, latents, references, browser, dpi))
    report = {
        "kind": "latent dimension ranking",
        "parameters": parameters | {"top": top},
        "references": list(dict.fromkeys(table["reference"])),  # the maps and labels ranked against, in order
        "notes": table.attrs.get("notes", []),
        "quality": quality,
        "inputs": {role: input_record(p, out_dir, root) for role, p in (inputs or {}).items()},
        "versions": _versions(),
        "top": json.loads(best.to_json(orient="records")),
        "outputs": {kind: path.name for kind, path in paths.items()},
    }
    with atomic_path(paths["report"]) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    return paths


def write_ranking_figures(best, out_dir, tag, latents=None, references=None, browser="auto", dpi: float = 300) -> dict:
    """PNGs via `latentcore.figures.write_png` (kaleido, else matplotlib with a warning): the top
    dimensions' scores, one panel per reference (`figure_bars`, `figures.ranking_bars`), and each
    reference's top dimension against it (`figure_scatter`, `figures.ranking_scatter`) when the ranked arrays are
    given, at `dpi`. Returns {kind: path}."""
    from .. import figures
    names = ranking_names(tag)
    paths = {"figure_bars": Path(out_dir) / names["figure_bars"]}
    drawn = {"figure_bars": figures.ranking_bars(best)}
    if latents is not None and references:
        scatter = figures.ranking_scatter(best, latents, references)
        if scatter is not None:
            paths["figure_scatter"] = Path(out_dir) / names["figure_scatter"]
            drawn["figure_scatter"] = scatter
    for kind, figure in drawn.items():
        figures.write_png(figure, paths[kind], browser=browser, dpi=dpi)
    return paths


def _versions() -> dict:
    from ..versions import package_versions
    return package_versions(RANK_PACKAGES)
