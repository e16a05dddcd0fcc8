"""Rank latent dimensions by how well they follow reference maps (DESIGN.md section 6).

References are per-row values aligned to the latents: band contrast, element maps (one, a
normalised weighted sum, or RGB), PCA/NMF components of the raw patterns (`pattern_components`),
or clusterings given as labels. Every statistic comes from a maintained package:

- pearson, spearman, kendall (tau-b): `scipy.stats`;
- mutual_information: `sklearn.feature_selection.mutual_info_regression` (3 neighbours, seeded);
- distance_correlation: `dcor.distance_correlation`;
- hsic: `hyppo.independence.Hsic`, biased and normalised (the square root of the centred kernel
  alignment), on Gaussian kernels whose bandwidth is each variable's median pairwise distance;
- partial_pearson: `scipy.stats.pearsonr` of the residuals after a least-squares polynomial
  trend in (x, y) is removed from both variables;
- ari, nmi: `sklearn.metrics` between a 1-D Gaussian-mixture clustering of the dimension and the
  reference's labels (a continuous reference is clustered the same way, `n_clusters`).

Signed metrics (the correlations) are ranked by their absolute value: a dimension that falls
where band contrast rises follows it as much as one that rises with it.

Rows where either input is NaN are dropped pair by pair and counted (`n_nan_dropped`). Kendall,
mutual information, distance correlation and HSIC grow too fast with N (HSIC is O(N^2) in time
and memory), so above `max_samples` valid rows they use a seeded random sample of that size
(`n_sampled`, and the table's `attrs["notes"]`); the other metrics use every valid row.
"""
from __future__ import annotations

import functools
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError
from ..storage import atomic_path, sha256_file

CONTINUOUS_METRICS = ("pearson", "spearman", "kendall", "mutual_information", "distance_correlation", "hsic",
                      "partial_pearson")
LABEL_METRICS = ("ari", "nmi")
METRICS = CONTINUOUS_METRICS + LABEL_METRICS
SIGNED_METRICS = ("pearson", "spearman", "kendall", "partial_pearson")
# computed on a seeded sample above max_samples rows: HSIC is O(N^2) in time and memory, and
# kendall, dcor (multivariate) and the k-NN mutual information grow too fast for a million rows
SAMPLED_METRICS = ("kendall", "mutual_information", "distance_correlation", "hsic")
MULTIVARIATE_METRICS = ("distance_correlation", "hsic")  # also take an (N, k) reference, e.g. RGB
DEFAULT_MAX_SAMPLES = 2000
GMM_MAX_FIT = 20_000  # rows a per-dimension mixture is fitted on; the rest are predicted
PATTERN_FIT_ROWS = 20_000  # patterns a PCA/NMF reference is fitted on; every pattern is transformed
RANK_PACKAGES = ("latentcore", "numpy", "scipy", "scikit-learn", "pandas", "dcor", "hyppo", "plotly")


# -- reference maps ---------------------------------------------------------------------------------

def normalise_map(values) -> np.ndarray:
    """Scale a map to [0, 1] by its finite minimum and maximum (NaN stays NaN; a flat map becomes 0)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = np.nanmin(values), np.nanmax(values)
    return (values - low) / (high - low) if high > low else np.where(np.isnan(values), np.nan, 0.0)


def combine_element_maps(maps: dict, weights: dict | None = None) -> np.ndarray:
    """Weighted mean of element maps, each first normalised to [0, 1], e.g. {"Ni": ni, "Cr": cr}.
    `weights` defaults to 1 for every map; the result lies in [0, 1] for non-negative weights."""
    if not maps:
        raise InputError("no element maps to combine")
    weights = {name: 1.0 for name in maps} if weights is None else dict(weights)
    unknown = sorted(set(weights) - set(maps))
    if unknown:
        raise InputError(f"weights name maps that are not given: {unknown} (maps: {sorted(maps)})")
    total = sum(abs(w) for w in weights.values())
    if total == 0:
        raise InputError("element-map weights sum to zero")
    arrays = _same_length(maps)
    return sum(weights.get(name, 0.0) * normalise_map(arrays[name]) for name in arrays) / total


def element_rgb(red, green=None, blue=None) -> np.ndarray:
    """(N, 3) colour reference from up to three element maps, each channel normalised to [0, 1]
    (a missing channel is 0). Distance correlation and HSIC rank dimensions against it directly."""
    channels = {"red": red, "green": green, "blue": blue}
    given = _same_length({k: v for k, v in channels.items() if v is not None})
    n = len(next(iter(given.values())))
    return np.column_stack([normalise_map(given[k]) if k in given else np.zeros(n) for k in channels])


def _same_length(maps: dict) -> dict:
    arrays = {name: np.asarray(values, dtype=np.float64).ravel() for name, values in maps.items()}
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"element maps differ in length: {lengths}")
    return arrays


def pattern_components(patterns, n: int = 3, method: str = "pca", partition: str = "all",
                       batch_size: int = 1024, random_state: int = 0,
                       max_fit_rows: int = PATTERN_FIT_ROWS) -> np.ndarray:
    """(N, n) PCA or NMF components of raw patterns, as reference maps.

    `patterns` is an (N, H, W) or (N, C, H, W) array, or a `latentcore.data` Reader whose
    `partition` is streamed in contiguous batches, so a scan larger than memory works: the model
    is fitted on a seeded sample of at most `max_fit_rows` patterns (every pattern when there are
    fewer), gathered in one streamed pass, and a second pass transforms every pattern.
    NMF needs non-negative patterns (raw detector counts are); a pattern's weights are the exact
    non-negative least-squares fit on the fitted components (scikit-learn's `NMF.transform`
    stopped far from it on raw EBSD patterns, at ~5 ms per pattern)."""
    if method not in ("pca", "nmf"):
        raise InputError(f"method must be 'pca' or 'nmf', got {method!r}")
    if n < 1:
        raise InputError(f"n must be at least 1, got {n}")
    path = getattr(patterns, "path", None)
    total = len(patterns) if isinstance(patterns, np.ndarray) else patterns.count(partition)
    fit_rows = _sample_rows(_pattern_batches(patterns, partition, batch_size), total, max_fit_rows, random_state)
    if len(fit_rows) < n:
        raise InputError(f"{len(fit_rows)} patterns are fewer than the {n} components asked for", path)
    if method == "nmf":
        _check_non_negative(fit_rows.min(), path)
    model = _component_model(method, n, random_state).fit(fit_rows)
    return np.concatenate([_transform(model, method, batch, path)
                           for batch in _pattern_batches(patterns, partition, batch_size)])


def _pattern_batches(patterns, partition, batch_size):
    if isinstance(patterns, np.ndarray):
        return (patterns[i:i + batch_size] for i in range(0, len(patterns), batch_size))
    return (batch for batch, _ in patterns.iter_batches(partition, batch_size))


def _sample_rows(batches, total, max_rows, random_state) -> np.ndarray:
    """Flattened float64 rows of a seeded random sample (all rows when total <= max_rows)."""
    keep = np.zeros(total, bool)
    keep[subsample_indices(total, max_rows, random_state)] = True
    kept, start = [], 0
    for batch in batches:
        mask = keep[start:start + len(batch)]
        kept.append(np.asarray(batch)[mask].reshape(int(mask.sum()), -1).astype(np.float64))
        start += len(batch)
    return np.concatenate(kept)


def _component_model(method, n, random_state):
    from sklearn.decomposition import NMF, PCA
    if method == "pca":
        return PCA(n_components=n, random_state=random_state)
    return NMF(n_components=n, init="nndsvda", random_state=random_state)


def _transform(model, method, batch, path) -> np.ndarray:
    flat = np.asarray(batch).reshape(len(batch), -1).astype(np.float64)
    if method == "pca":
        return model.transform(flat)
    _check_non_negative(flat.min(), path)
    return nnls_coefficients(model.components_, flat)


def nnls_coefficients(components, rows) -> np.ndarray:
    """argmin_{w >= 0} |row - w @ components| for each row (scipy's NNLS). The components' QR
    turns each problem into a k x k one, so a pattern costs microseconds."""
    from scipy.optimize import nnls
    q, r = np.linalg.qr(np.asarray(components, np.float64).T)
    projected = np.asarray(rows, np.float64) @ q
    return np.array([nnls(r, target)[0] for target in projected]).reshape(len(projected), r.shape[1])


def _check_non_negative(minimum, path):
    if minimum < 0:
        raise InputError(f"NMF needs non-negative patterns, found a value of {minimum:g}", path)


# -- metrics ------------------------------------------------------------------------------------------

def pearson(a, b) -> float:
    return _quiet(lambda: stats.pearsonr(a, b).statistic)


def spearman(a, b) -> float:
    return _quiet(lambda: stats.spearmanr(a, b).statistic)


def kendall(a, b) -> float:
    return _quiet(lambda: stats.kendalltau(a, b).statistic)


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
    matrix-vector products each."""

    def __init__(self, x, y, degree: int = 2):
        self.coords = np.column_stack([x, y]).astype(np.float64)
        self.degree = degree
        self._basis_key, self._basis = None, None

    def residuals(self, values, rows=None) -> np.ndarray:
        """`values` (given for `rows`, a boolean mask; default all rows) minus their fitted trend."""
        rows = np.ones(len(self.coords), bool) if rows is None else np.asarray(rows, bool)
        key = hashlib.sha1(np.packbits(rows).tobytes()).hexdigest()
        if key != self._basis_key:
            self._basis_key, self._basis = key, self._orthonormal_design(self.coords[rows])
        values = np.asarray(values, np.float64)
        return values - self._basis @ (self._basis.T @ values)

    def _orthonormal_design(self, coords) -> np.ndarray:
        from sklearn.preprocessing import PolynomialFeatures
        spread = coords.std(axis=0)
        coords = (coords - coords.mean(axis=0)) / np.where(spread > 0, spread, 1.0)  # conditioning
        design = PolynomialFeatures(self.degree).fit_transform(coords)
        basis, singular, _ = np.linalg.svd(design, full_matrices=False)
        return basis[:, singular > singular[0] * 1e-10]  # a column constant on these rows adds nothing


def remove_spatial_trend(values, x, y, degree: int = 2) -> np.ndarray:
    """Residuals of `values` after a least-squares polynomial of `degree` in (x, y)."""
    return SpatialTrend(x, y, degree).residuals(values)


def partial_pearson(a, b, x, y, degree: int = 2, trend: SpatialTrend | None = None, rows=None) -> float:
    """Pearson correlation of a and b after the same spatial trend model is removed from each
    (`trend`/`rows`: a fitted SpatialTrend over all rows and the mask that a and b were taken from)."""
    if trend is None:
        trend, rows = SpatialTrend(x, y, degree), None
    return pearson(trend.residuals(a, rows), trend.residuals(b, rows))


def gmm_labels(values, n_clusters: int, random_state=0) -> np.ndarray:
    """Labels of a 1-D Gaussian mixture (fitted on at most GMM_MAX_FIT rows, then predicted)."""
    from sklearn.mixture import GaussianMixture
    values = np.asarray(values, np.float64).reshape(-1, 1)
    fit_rows = values[subsample_indices(len(values), GMM_MAX_FIT, random_state)]
    # k-means++ seeding without Lloyd iterations: on one dimension the full k-means init costs
    # more than the mixture fit itself
    model = GaussianMixture(n_components=n_clusters, init_params="k-means++",
                            random_state=random_state).fit(fit_rows)
    return model.predict(values)


def subsample_indices(n: int, max_samples: int | None, random_state=0) -> np.ndarray:
    """Sorted seeded sample of `max_samples` of range(n), or all of it when n is not larger."""
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size=max_samples, replace=False))


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
                    max_samples: int | None = DEFAULT_MAX_SAMPLES, dimensions=None) -> pd.DataFrame:
    """Score every latent dimension against every reference: one row per (dimension, reference).

    latents: (N, D). references: name -> (N,) continuous map (or (N, k), e.g. `element_rgb`).
    labels: name -> (N,) reference clustering (integers; NaN or negative = unlabelled), scored by
    ARI/NMI only (the continuous metrics are NaN on those rows: they mean nothing for ids).
    x, y: coordinates, needed by partial_pearson. metrics: default every metric the inputs allow.
    sort_by: the metric ranked on (default the first requested); signed metrics rank by absolute
    value. n_clusters: mixture components of a dimension (and of a continuous reference) for
    ARI/NMI against a map; against labels, as many components as the labels have classes.
    dimensions: the latent columns to score (default all).
    Columns: reference, rank (1 = best, per reference), dimension, ranked_by, kind, the metrics,
    n_valid, n_nan_dropped, n_sampled.
    `table.attrs` holds `parameters` and `notes` (subsampling, undefined metrics)."""
    latents = _check_latents(latents)
    references = {k: _check_reference(k, v, len(latents)) for k, v in (references or {}).items()}
    labels = {k: _check_labels(k, v, len(latents)) for k, v in (labels or {}).items()}
    if not references and not labels:
        raise InputError("give at least one reference map or reference clustering")
    clash = sorted(set(references) & set(labels))
    if clash:
        raise InputError(f"names used both as reference map and as labels: {clash}")
    metrics = _resolve_metrics(metrics, has_xy=x is not None and y is not None)
    if x is not None or y is not None:
        x, y = _check_coordinates(x, y, len(latents))
    sort_by = sort_by or metrics[0]
    if sort_by not in metrics:
        raise InputError(f"sort_by {sort_by!r} is not among the metrics computed: {list(metrics)}")
    dims = _check_dimensions(dimensions, latents.shape[1])
    clusters = DimensionClusters(latents, random_state)
    trend = SpatialTrend(x, y, trend_degree) if "partial_pearson" in metrics else None
    rows = []
    for name, reference in references.items():
        reference_labels = None
        if set(LABEL_METRICS) & set(metrics) and reference.ndim == 1:
            reference_labels = _cluster_reference(reference, n_clusters, random_state)
        for dim in dims:
            rows.append(_score_continuous(latents[:, dim], reference, reference_labels, x, y, metrics,
                                          functools.partial(clusters, dim, n_clusters), trend, random_state,
                                          max_samples)
                        | {"dimension": dim, "reference": name, "kind": "map"})
    for name, reference in labels.items():
        for dim in dims:
            rows.append(_score_labels(latents[:, dim], reference, metrics, functools.partial(clusters, dim))
                        | {"dimension": dim, "reference": name, "kind": "labels"})
    table = _sorted_table(rows, metrics, sort_by)
    table.attrs["parameters"] = {"metrics": list(metrics), "sort_by": sort_by, "n_clusters": n_clusters,
                                 "trend_degree": trend_degree, "random_state": random_state,
                                 "max_samples": max_samples, "n_rows": len(latents),
                                 "n_dimensions": int(latents.shape[1])}
    table.attrs["notes"] = _notes(table, metrics, max_samples)
    return table


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


def _score_continuous(values, reference, reference_labels, x, y, metrics, dimension_clusters, trend,
                      random_state, max_samples) -> dict:
    valid = np.isfinite(values) & np.isfinite(reference).reshape(len(reference), -1).all(axis=1)
    if x is not None:
        valid &= np.isfinite(x) & np.isfinite(y)
    a, b = values[valid], reference[valid]
    sample = subsample_indices(len(a), max_samples, random_state)
    row = {"n_valid": int(valid.sum()), "n_nan_dropped": int((~valid).sum()), "n_sampled": len(sample)}
    enough = len(a) >= 3
    for metric in metrics:
        if not enough or (b.ndim > 1 and metric not in MULTIVARIATE_METRICS):
            row[metric] = float("nan")
        elif metric == "mutual_information":
            row[metric] = mutual_information(a[sample], b[sample], random_state)
        elif metric in SAMPLED_METRICS:
            row[metric] = _METRIC_FUNCTIONS[metric](a[sample], b[sample])
        elif metric == "partial_pearson":
            row[metric] = partial_pearson(a, b, None, None, trend=trend, rows=valid)
        elif metric in LABEL_METRICS:
            row[metric] = _label_agreement(metric, dimension_clusters()[valid], reference_labels[valid])
        else:
            row[metric] = _METRIC_FUNCTIONS[metric](a, b)
    return row


def _score_labels(values, reference, metrics, dimension_clusters) -> dict:
    valid = np.isfinite(values) & np.isfinite(reference) & (reference >= 0)
    a, truth = values[valid], reference[valid].astype(np.int64)
    row = {"n_valid": int(valid.sum()), "n_nan_dropped": int((~valid).sum()), "n_sampled": int(valid.sum())}
    n_classes = np.unique(truth).size
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


_METRIC_FUNCTIONS = {"pearson": pearson, "spearman": spearman, "kendall": kendall,
                     "distance_correlation": distance_correlation, "hsic": hsic}


def _sorted_table(rows, metrics, sort_by) -> pd.DataFrame:
    """Grouped by reference (in the order given), best first within each; `rank` restarts at 1
    per reference. A labels reference is ranked by ARI (else NMI) when `sort_by` is a continuous metric."""
    columns = ["dimension", "reference", "kind", *metrics, "n_valid", "n_nan_dropped", "n_sampled"]
    table = pd.DataFrame(rows, columns=columns)
    parts = []
    for _, part in table.groupby("reference", sort=False):
        metric = _ranking_metric(part["kind"].iloc[0], metrics, sort_by)
        key = part[metric].abs() if metric in SIGNED_METRICS else part[metric]
        order = np.lexsort((part["dimension"].to_numpy(), -key.fillna(-np.inf).to_numpy()))
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
        raise InputError("partial_pearson removes a spatial trend and needs x and y coordinates")
    return metrics


def _check_latents(latents) -> np.ndarray:
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 2 or latents.shape[0] < 3 or latents.shape[1] < 1:
        raise InputError(f"latents must be (N, D) with N >= 3, got shape {latents.shape}")
    return latents


def _check_reference(name, values, n) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim not in (1, 2) or len(values) != n:
        raise InputError(f"reference {name!r} has shape {values.shape} but the latents have {n} rows")
    return values


def _check_labels(name, values, n) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    if len(values) != n:
        raise InputError(f"labels {name!r} have {len(values)} values but the latents have {n} rows")
    finite = values[np.isfinite(values)]
    if not np.array_equal(finite, np.round(finite)):
        raise InputError(f"labels {name!r} must be integers (cluster or class ids), got non-integer values")
    return values


def _check_dimensions(dimensions, d) -> list[int]:
    if dimensions is None:
        return list(range(d))
    dims = [int(k) for k in dimensions]
    outside = [k for k in dims if not 0 <= k < d]
    if outside:
        raise InputError(f"dimensions {outside} do not exist: the latents have {d} (0 to {d - 1})")
    return dims


def _check_coordinates(x, y, n):
    if x is None or y is None:
        raise InputError("give both x and y coordinates, or neither")
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if len(x) != n or len(y) != n:
        raise InputError(f"x has {len(x)} and y {len(y)} values but the latents have {n} rows")
    return x, y


# -- outputs ------------------------------------------------------------------------------------------

def top_rows(table: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The `top` best dimensions of each reference, in rank order."""
    return table[table["rank"] <= top].reset_index(drop=True)


def write_ranking(table: pd.DataFrame, out_dir, inputs: dict | None = None, top: int = 10,
                  tag: str | None = None, latents=None, references: dict | None = None,
                  figures: bool = True, browser: str | None = "auto") -> dict:
    """Write the score table (CSV), the top-N report (JSON) and top-N figures (PNG) into `out_dir`.

    inputs: role -> file path, recorded with SHA-256. latents/references (the arrays ranked)
    let the figures show the top dimensions against their reference. browser: passed to
    `figures.write_png` ("auto", a Chromium path, or None for matplotlib). Returns {kind: path}."""
    out_dir = Path(out_dir)
    parameters = dict(table.attrs.get("parameters", {}))
    tag = tag or f"{parameters.get('sort_by', 'score')}_top{top}"
    paths = {"scores": out_dir / f"ranking_scores__{tag}.csv",
             "report": out_dir / f"ranking_report__{tag}.json"}
    with atomic_path(paths["scores"]) as tmp:
        table.to_csv(tmp, index=False)
    best = top_rows(table, top)
    if figures:
        paths.update(write_ranking_figures(best, out_dir, tag, latents, references, browser))
    report = {
        "kind": "latent dimension ranking",
        "parameters": parameters | {"top": top},
        "notes": table.attrs.get("notes", []),
        "inputs": {role: {"name": Path(p).name, "path": str(p), "sha256": sha256_file(p)}
                   for role, p in (inputs or {}).items()},
        "versions": _versions(),
        "top": json.loads(best.to_json(orient="records")),
        "outputs": {kind: path.name for kind, path in paths.items()},
    }
    with atomic_path(paths["report"]) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    return paths


def scatter_figure(best: pd.DataFrame, latents, references: dict, max_points: int = 5000, random_state=0):
    """Top (dimension, reference) pairs as WebGL scatter panels (a seeded sample of points)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..figures import PALETTE
    pairs = [(int(d), r) for d, r in zip(best["dimension"], best["reference"]) if r in references]
    pairs = [(d, r) for d, r in pairs if np.ndim(references[r]) == 1]
    if not pairs:
        return None
    latents = np.asarray(latents)
    rows = subsample_indices(len(latents), max_points, random_state)
    columns = min(4, len(pairs))
    n_rows = -(-len(pairs) // columns)
    figure = make_subplots(rows=n_rows, cols=columns, subplot_titles=[f"dim {d} vs {r}" for d, r in pairs])
    for i, (dim, name) in enumerate(pairs):
        row, col = divmod(i, columns)
        figure.add_trace(go.Scattergl(x=latents[rows, dim], y=np.asarray(references[name])[rows], mode="markers",
                                      marker={"size": 3, "opacity": 0.5, "color": PALETTE[0]}, showlegend=False,
                                      customdata=rows), row=row + 1, col=col + 1)
    figure.update_layout(height=260 * n_rows, width=1000, title="Top dimensions against their reference",
                         template="plotly_white")
    return figure


def ranking_bars_figure(best: pd.DataFrame):
    """One panel of `figures.ranking_bar` per reference (each ranked by its own metric), stacked."""
    from plotly.subplots import make_subplots

    from .. import figures
    names = list(dict.fromkeys(best["reference"]))
    sizes = [int((best["reference"] == name).sum()) for name in names]
    height = 140 + sum(28 * n + 110 for n in sizes)
    combined = make_subplots(rows=len(names), cols=1, row_heights=sizes, vertical_spacing=100 / height,
                             subplot_titles=[f"{name} (by {best.loc[best['reference'] == name, 'ranked_by'].iloc[0]})"
                                             for name in names])
    for i, name in enumerate(names, start=1):
        part = best[best["reference"] == name]
        metric = part["ranked_by"].iloc[0]
        for trace in figures.ranking_bar(part, metric, dim_column="dimension", top_n=len(part)).data:
            combined.add_trace(trace, row=i, col=1)
        combined.update_xaxes(title_text=metric, row=i, col=1)
    combined.update_layout(height=height, width=800, showlegend=False,
                           template="plotly_white", title=f"Top {max(sizes)} latent dimensions per reference")
    return combined


def write_ranking_figures(best, out_dir, tag, latents=None, references=None, browser="auto") -> dict:
    """PNGs via `latentcore.figures.write_png` (kaleido, else matplotlib with a warning): the top
    dimensions' scores, one panel per reference (`figure_bars`), and the top pairs as scatter
    panels (`figure_scatter`) when the ranked arrays are given."""
    from .. import figures
    paths = {"figure_bars": Path(out_dir) / f"ranking_top__{tag}.png"}
    drawn = {"figure_bars": ranking_bars_figure(best)}
    if latents is not None and references:
        scatter = scatter_figure(best, latents, references)
        if scatter is not None:
            paths["figure_scatter"] = Path(out_dir) / f"ranking_scatter__{tag}.png"
            drawn["figure_scatter"] = scatter
    for key, figure in drawn.items():
        figures.write_png(figure, paths[key], browser=browser)
    return paths


def _versions() -> dict:
    from ..versions import package_versions
    return package_versions(RANK_PACKAGES)
