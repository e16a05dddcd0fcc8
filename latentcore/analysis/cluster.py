"""Clustering of (latent dimension, band contrast) pairs or of whole latent vectors.

API: `cluster(features, method, *, random_state=0, standardise=True, scale=None,
max_fit_samples=-1, **params)` clusters the rows of an (N, F) array with one of `METHODS`: "gmm"
(k given, or chosen by BIC/AIC over `k_range`), "kmeans", "dbscan" and "hdbscan" (the `hdbscan`
package), and returns a `ClusterResult`: int32 `labels` per row (clusters renumbered by
decreasing size, 0 = largest; noise -1), the resolved `params`, `counts` per label, the `sample`
used, what the fit chose (`fit`, with `fit["used"]`: the parameters the fit used) and `warnings`
for the user. `pair_features(latents, dim, bandcontrast)` builds the (N, 2) pair features,
`feature_scale` the (mean, std) that standardises features, `describe_fit(result)` one sentence
on the fit for the page, the CLI and the report, `label_counts` and `auto_k_warnings` the parts of
a result, `sample_rows` the fit sample's rows. Features are standardised and every seed is fixed,
so the same inputs and parameters give the same labels. GMM and KMeans results carry a `Predictor`
(`result.predictor`) that labels other rows as the fit labelled its own: a study's sources are labelled
by it, a task each (`artifacts.cluster_run`).

Above `max_fit_samples` rows (default `DEFAULT_MAX_FIT`), the model is fitted on a seeded sample
and the other rows are assigned:
- KMeans: `n_init` restarts on the sample, each distinct one refined on every row by Lloyd steps (up
  to `REFINE_MAX_ITER`; above `REFINE_MAX_ROWS` rows, on a seeded sample of that many); the lowest
  inertia there wins, then every row is predicted;
- GMM: a k-means start chosen the same way (scikit-learn's default init is one k-means run), EM on the
  sample from it, then every row labelled by the model's predict; auto k: the criterion of EM fits on
  the sample chooses k;
- DBSCAN (also when its neighbourhood memory would exceed `DBSCAN_MEMORY_BUDGET`): the sample
  weighted by N / n, so `min_samples` keeps its meaning; other rows take the label of the nearest
  core sample within `eps`, else noise;
- HDBSCAN: `min_cluster_size` and `min_samples` scaled by n / N; other rows take the label of the
  nearest fitted point within its core distance, else noise.
Scaled counts never fall below `MIN_SCALED_SAMPLES` / `MIN_SCALED_CLUSTER_SIZE`: the sample grows
until they hold (up to every row). How sampled and full fits agree, and the time and memory of
each method at 1M rows, are measured by benchmarks/cluster_scale.py (results: docs/benchmarks.md).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import cKDTree
from threadpoolctl import threadpool_limits

from ..arrays import unique
from ..errors import InputError
from ..sampling import seeded_sample
from ._validation import check_dimensions, check_matrix, check_vector

METHODS = ("gmm", "kmeans", "dbscan", "hdbscan")

# rows fitted before sampling starts; chosen so each method stays within 60 s / 4 GB at 1M rows
DEFAULT_MAX_FIT = {"gmm": 50_000, "kmeans": 100_000, "dbscan": 100_000, "hdbscan": 50_000}

# DBSCAN's neighbourhood lists may use this much; above it the fit sample shrinks
DBSCAN_MEMORY_BUDGET = 1.5e9
NEIGHBOUR_BYTES = 12  # int64 index per neighbour plus numpy object-array overhead

# the smallest scaled counts a sampled fit may use (see above); below them the sample grows
MIN_SCALED_SAMPLES = 10
MIN_SCALED_CLUSTER_SIZE = 50

# KMeans (and GMM's k-means start): restarts on the fit sample, each refined on every row by Lloyd
# steps from the sampled fit (O(N) each, 2-3 usually); the lowest inertia on every row wins
REFINE_MAX_ITER = 30
# The restarts are refined and compared on at most this many rows (a seeded sample above it, every row then
# predicted): at ten million pairs, refining GMM's start on every row cost 7.5 of the clustering's 12.8 s (CPU);
# KMeans of 10M x 16 whole vectors held 7 GB
REFINE_MAX_ROWS = 1_000_000

DEFAULTS = {
    # GMM: EM from the best of n_init k-means restarts (see _fit_gmm_single_thread); max_iter: EM steps
    "gmm": {"n_components": 3, "k_range": [2, 8], "criterion": "bic", "covariance_type": "full",
            "n_init": 30, "max_iter": 200},
    # KMeans restarts: with 3, many unequal grains often had a large grain split and two small ones merged
    # (benchmarks/train_quality.py, VAE latents of 12 grains, smoothed: ARI 0.87 -> 0.97 with 10)
    "kmeans": {"n_clusters": 3, "n_init": 30, "max_iter": 300},
    "dbscan": {"eps": 0.1, "min_samples": 20},
    "hdbscan": {"min_cluster_size": 50, "min_samples": 10, "cluster_selection_epsilon": 0.0},
}


@dataclasses.dataclass
class ClusterResult:
    """Labels (int32, -1 = noise) of every row, and everything needed to reproduce them."""

    labels: np.ndarray
    method: str
    params: dict  # every parameter, defaults resolved (what a rerun passes back)
    counts: dict  # {"-1": n_noise, "0": n0, ...}
    sample: dict  # {"used": bool, "size": n, "total": N, "seed": s}
    fit: dict = dataclasses.field(default_factory=dict)  # what the fit chose: k, scores, parameters used
    warnings: list = dataclasses.field(default_factory=list)  # what a user must know to read the result
    predictor: Predictor | None = dataclasses.field(default=None, repr=False, compare=False)  # labels other rows

    @property
    def n_clusters(self) -> int:
        return int(unique(self.labels[self.labels >= 0]).size)

    def to_dict(self) -> dict:
        return {"method": self.method, "params": self.params, "counts": self.counts,
                "n_clusters": self.n_clusters, "sample": self.sample, "fit": self.fit, "warnings": self.warnings}


@dataclasses.dataclass
class Predictor:
    """Labels rows as a fit labelled its own: standardised by the fit's scale, the model's predict, renumbered
    as the fit's clusters were (by size). Small and picklable: sent to Dask workers."""

    model: object  # a fitted KMeans or GaussianMixture
    scale: tuple | None  # the (mean, std) the fit's features were standardised by; None: not standardised
    lookup: np.ndarray  # the model's label + 1 -> the result's label

    def predict(self, features) -> np.ndarray:
        features = check_matrix(features, "features", min_rows=0, allow_1d=True)
        scaled = features if self.scale is None else _standardise(features, self.scale)
        return self.lookup[_predict(self.model, scaled) + 1]


def pair_features(latents, dim: int, bandcontrast) -> np.ndarray:
    """(N, 2) float64 columns: latent dimension `dim`, band contrast."""
    latents = check_matrix(latents, "latents", dtype=None, min_rows=0, finite=False)
    dim = check_dimensions([dim], latents.shape[1])[0]
    bandcontrast = check_vector(bandcontrast, "band contrast", len(latents))
    return np.column_stack([latents[:, dim].astype(np.float64), bandcontrast])


def cluster(features, method: str, *, random_state: int = 0, standardise: bool = True, scale=None,
            max_fit_samples: int | None = -1, **params) -> ClusterResult:
    """Cluster the rows of `features`, seeded, fitting a sample of them above `max_fit_samples` rows.

    Parameters
    ----------
    features : array-like of shape (n_rows, n_features) or (n_rows,)
        Finite features, at least 2 rows (a 1-D array is one feature).
    method : {"gmm", "kmeans", "dbscan", "hdbscan"}
        The clustering method (case-insensitive).
    random_state : int, default=0
        Seed of the fit sample and of every restart.
    standardise : bool, default=True
        Scale each column to zero mean and unit variance before clustering.
    scale : tuple of (mean, std) arrays of shape (n_features,), default=None
        The scale that standardises the features (`feature_scale` of other rows); default the
        features' own. Smoothed features are standardised by the unsmoothed ones' scale, so the
        noise that smoothing removed is not scaled back up (see `artifacts.cluster.stacked_features`).
    max_fit_samples : int or None, default=-1
        Rows fitted before a seeded sample is used: -1 the method's `DEFAULT_MAX_FIT`, None or
        0 every row. DBSCAN and HDBSCAN may fit more (see the module docstring).
    **params
        The method's own parameters (see `DEFAULTS`; None keeps the default). GMM with
        `n_components="auto"` picks k in `k_range` (inclusive) by `criterion` ("bic" or "aic").

    Returns
    -------
    result : ClusterResult
        int32 labels of every row (0 = the largest cluster, -1 = noise), the resolved parameters,
        the counts per label, the sample used, what the fit chose and warnings for the user.

    Raises
    ------
    InputError
        An unknown method or parameter, a GMM criterion other than "bic" or "aic", features that
        are not a finite 2-D array of at least 2 rows, or a `scale` of the wrong length.
    """
    method = str(method).lower()
    if method not in METHODS:
        raise InputError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}")
    features = check_matrix(features, "features", min_rows=2, allow_1d=True)
    resolved = _resolve_params(method, params)
    if max_fit_samples == -1:
        max_fit_samples = DEFAULT_MAX_FIT[method]
    if standardise:
        scale = feature_scale(features) if scale is None else scale
    scaled = _standardise(features, scale) if standardise else features
    fit_size = _honest_fit_size(method, resolved, len(scaled), max_fit_samples)
    fit_rows = sample_rows(len(scaled), fit_size, random_state)
    if method == "dbscan":
        fit_rows = _cap_dbscan_memory(scaled, fit_rows, float(resolved["eps"]), random_state)
    labels, fit = _FITTERS[method](scaled, fit_rows, resolved, random_state)
    model, lookup = fit.pop("model", None), _size_order(labels)
    labels = lookup[np.asarray(labels, np.int64) + 1]
    warnings = auto_k_warnings(fit) if method == "gmm" else _scaling_warnings(method, fit)
    if fit_size != max_fit_samples:
        fit["sample_grown_from"] = max_fit_samples  # so the scaled counts stay above their floors
        if fit_size is None:
            warnings.append(_full_fit_warning(method, len(scaled), max_fit_samples))
    all_params = {**resolved, "random_state": int(random_state), "standardise": bool(standardise),
                  "max_fit_samples": None if not max_fit_samples else int(max_fit_samples)}
    sample = {"used": fit_rows is not None, "size": len(scaled) if fit_rows is None else len(fit_rows),
              "total": len(scaled), "seed": int(random_state)}
    predictor = Predictor(model, scale if standardise else None, lookup) if model is not None else None
    return ClusterResult(labels, method, all_params, label_counts(labels), sample, fit, warnings, predictor)


def label_counts(labels) -> dict:
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts)}


def _resolve_params(method: str, params: dict) -> dict:
    defaults = DEFAULTS[method]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise InputError(f"unknown parameter(s) {unknown} for {method}; use only {sorted(defaults)}")
    resolved = {**defaults, **{k: v for k, v in params.items() if v is not None}}
    if method == "gmm":
        resolved["k_range"] = [int(v) for v in resolved["k_range"]]
        if resolved["criterion"] not in ("bic", "aic"):
            raise InputError(f"criterion must be one of 'bic' or 'aic', got {resolved['criterion']!r}")
        if resolved["n_components"] != "auto":
            resolved["n_components"] = int(resolved["n_components"])
    return resolved


def feature_scale(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per column of `features` (N, F): what standardising them subtracts and divides by."""
    features = np.asarray(features, np.float64)
    features = features[:, None] if features.ndim == 1 else features
    return features.mean(axis=0), features.std(axis=0)


def _standardise(features: np.ndarray, scale=None) -> np.ndarray:
    """Zero mean, unit variance per column, or by the given (mean, std) (a constant column stays at zero)."""
    mean, std = feature_scale(features) if scale is None else (np.asarray(v, np.float64) for v in scale)
    if mean.shape != (features.shape[1],) or std.shape != (features.shape[1],):
        raise InputError(f"the scale has {mean.size} means and {std.size} standard deviations for "
                         f"{features.shape[1]} feature columns: pass one of each per column")
    return (features - mean) / np.where(std > 0, std, 1.0)


def sample_rows(n: int, max_fit_samples, random_state: int):
    """Sorted row indices of the seeded sample, or None when every row is fitted."""
    if not max_fit_samples or n <= max_fit_samples:
        return None
    return seeded_sample(n, max_fit_samples, random_state)


def _honest_fit_size(method: str, params: dict, n: int, max_fit_samples):
    """The sample size for a density method: at least `max_fit_samples`, and large enough that the
    counts it scales stay at or above their floors (or at their given value when that is smaller)."""
    if not max_fit_samples or n <= max_fit_samples or method not in ("dbscan", "hdbscan"):
        return max_fit_samples
    counts = [(int(params["min_samples"]), MIN_SCALED_SAMPLES)]
    if method == "hdbscan":
        counts.append((int(params["min_cluster_size"]), MIN_SCALED_CLUSTER_SIZE))
    fraction = max(min(1.0, floor / given) for given, floor in counts)
    needed = int(np.ceil(fraction * n))
    if needed >= n:
        return None  # every row: no sample can keep the counts' meaning
    return max(int(max_fit_samples), needed)


def _scaling_warnings(method: str, fit: dict) -> list[str]:
    """DBSCAN's memory cap may shrink the sample below the count floor: say so."""
    needed = fit.get("sampled_neighbours_needed")
    if method == "dbscan" and needed is not None and needed < MIN_SCALED_SAMPLES:
        return [f"DBSCAN's eps is so wide that the fit sample was cut to fit in memory: a core point needs "
                f"only {needed:.3g} sampled neighbours, so small clusters may be spurious; lower eps"]
    return []


def _full_fit_warning(method: str, n: int, max_fit_samples: int) -> str:
    """Why a density method fitted every row, and what would allow a sample (full fits are slow:
    HDBSCAN (50, 10) on 1M pairs took 1107 s here)."""
    fraction = max_fit_samples / n
    needed = [f"min_samples >= {int(np.ceil(MIN_SCALED_SAMPLES / fraction))}"]
    if method == "hdbscan":
        needed.append(f"min_cluster_size >= {int(np.ceil(MIN_SCALED_CLUSTER_SIZE / fraction))}")
    return (f"{method} fitted all {n:,} rows: scaled to a sample of {max_fit_samples:,} rows, its counts would "
            f"fall below the floors that keep the result (min_samples {MIN_SCALED_SAMPLES}, min_cluster_size "
            f"{MIN_SCALED_CLUSTER_SIZE}). A sampled (faster) fit needs {' and '.join(needed)}")


def describe_fit(result: "ClusterResult") -> str:
    """One sentence: the rows fitted and the parameters the fit used, as the page and CLI show them."""
    sample, used = result.sample, result.fit.get("used", {})
    shown = ", ".join(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
                      for name, value in used.items())
    if not sample["used"]:
        grown = " (a smaller sample would scale the counts below their meaning)" \
            if result.fit.get("sample_grown_from") else ""
        return f"{result.method} fitted on all {sample['total']:,} rows{grown}" + (f" with {shown}" if shown else "")
    if result.method == "gmm":  # fitted on the sample, its k-means start chosen on every row
        chosen = (f" (k chosen by the {result.fit['criterion'].upper()} of EM fits on the sample)"
                  if "criterion" in result.fit else "")
        return (f"gmm with {shown}: fitted on a seeded sample of {sample['size']:,} of {sample['total']:,} "
                f"rows{chosen}, the other rows predicted; {result.fit.get('assign', '')}")
    text = f"{result.method} fitted on a seeded sample of {sample['size']:,} of {sample['total']:,} rows"
    if shown:
        text += f" with {shown}"
    if result.method == "hdbscan":
        text += (f" (the given min_cluster_size {result.params['min_cluster_size']} and min_samples "
                 f"{result.params['min_samples']} times the sample fraction, the same density)")
    return text + f"; the other rows: {result.fit.get('assign', 'predict')}"


def _cap_dbscan_memory(features, fit_rows, eps: float, random_state: int):
    """DBSCAN holds every row's eps-neighbourhood at once: a large eps on dense data needs
    (rows x neighbours) x 8 bytes. Estimate that from 1000 probe rows; over the budget, fit a
    smaller seeded sample (neighbours shrink with the sample, so memory falls as its square)."""
    sample = _sample(features, fit_rows)
    rng = np.random.default_rng(random_state)
    probe = sample[rng.choice(len(sample), min(1000, len(sample)), replace=False)]
    mean_neighbours = cKDTree(sample).query_ball_point(probe, eps, return_length=True).mean()
    needed = NEIGHBOUR_BYTES * mean_neighbours * len(sample)
    if needed <= DBSCAN_MEMORY_BUDGET:
        return fit_rows
    size = max(1000, int(len(sample) * np.sqrt(DBSCAN_MEMORY_BUDGET / needed)))
    return np.sort(rng.choice(len(features), size, replace=False))


def _sample(features, fit_rows):
    return features if fit_rows is None else features[fit_rows]


def _fit_gmm(features, fit_rows, params, random_state):
    # small matrices (F x F) and many short fits: BLAS and OpenMP threads only add spin-waiting (KMeans
    # on 50,000 pairs: 10x slower with two threads than with one on a busy 2-core machine)
    with threadpool_limits(1):
        return _fit_gmm_single_thread(features, fit_rows, params, random_state)


def _fit_gmm_single_thread(features, fit_rows, params, random_state):
    """EM from a k-means start (the best of n_init k-means restarts), not from k-means++ seeds: on
    data with several near-equal likelihood optima the best of a few EM restarts is a different
    partition per seed, while the k-means partition is reproducible and EM from it stays there.
    Sampled: the start is chosen on every row (its distinct restarts refined there), EM runs on the
    sample from that partition, and every row is labelled by the model's predict."""
    sample = _sample(features, fit_rows)
    restarts = {}  # k -> the k-means restarts on the sample

    def on_sample(k, labels=None):
        if labels is None:
            restarts[k] = _kmeans_restarts(sample, k, params["n_init"], random_state)
            labels = min(restarts[k], key=lambda model: model.inertia_).labels_
        return _gmm_from_partition(sample, labels, k, params, random_state)

    if params["n_components"] == "auto":  # the criterion of EM fits on the sample chooses k
        low, high = params["k_range"]
        models = {k: on_sample(k) for k in range(low, high + 1)}
        curve = {name: {str(k): float(getattr(m, name)(sample)) for k, m in models.items()} for name in ("bic", "aic")}
        scores = curve[params["criterion"]]
        k = min(models, key=lambda k: scores[str(k)])
        fit = {"n_components": k, **curve, "criterion": params["criterion"], "k_range": [low, high],
               "best_at_edge": _edge(k, low, high)}
        model = models[k]
    else:
        k = params["n_components"]
        fit = {"n_components": k}
        model = on_sample(k) if fit_rows is None else None  # sampled: EM from the start chosen below
    fit["used"] = {"n_components": int(k), "covariance_type": params["covariance_type"], "init": "k-means",
                   "n_init": int(params["n_init"]), "max_iter": int(params["max_iter"])}
    if fit_rows is not None:  # the k-means start is chosen as KMeans chooses it, EM runs on the sample
        sampled = restarts.get(k) or _kmeans_restarts(sample, k, params["n_init"], random_state)
        start, on = _decided_kmeans(features, fit_rows, sampled, fit, random_state)
        model = on_sample(k, start.predict(sample))
        fit["assign"] = (f"its {fit['refined_restarts']} distinct restarts refined on {on} (up to "
                         f"{REFINE_MAX_ITER} Lloyd steps each), then EM on the sample from the best; every row "
                         "labelled by that model's predict")
    fit["em_iterations"] = int(model.n_iter_)
    fit["converged"] = bool(model.converged_)
    return _predict(model, features), {**fit, "model": model}


PREDICT_BLOCK = 1_000_000  # rows labelled at a time: the model's temporaries stay ~100 MB at ten million rows


def _predict(model, features) -> np.ndarray:
    return np.concatenate([model.predict(features[start:start + PREDICT_BLOCK])
                           for start in range(0, len(features), PREDICT_BLOCK)])


def _kmeans_restarts(rows, k: int, n_init: int, random_state: int, max_iter: int = 300) -> list:
    """n_init KMeans fits from k-means++ seeds, one seed each from the call's (300: KMeans' default)."""
    from sklearn.cluster import KMeans

    return [KMeans(k, n_init=1, max_iter=max_iter, random_state=seed).fit(rows)
            for seed in _restart_seeds(random_state, n_init)]


def _best_kmeans(features, fit_rows, restarts: list, fit: dict, random_state: int):
    """The restart with the lowest inertia on every row. Fitted on a sample (`fit_rows`), every
    distinct restart is first refined on every row by Lloyd steps (cheap, 2-3 each: near-tied partitions
    rank differently on a sample, so every row decides), and `fit` records the refinement."""
    if fit_rows is None:
        return min(restarts, key=lambda model: model.inertia_)
    refined = [_kmeans_refined(restart, features, random_state) for restart in _distinct(restarts)]
    best = min(refined, key=lambda model: model.inertia_)
    fit["used"].update(refine_max_iter=REFINE_MAX_ITER)
    fit["refined_restarts"] = len(refined)
    fit["refine_iterations"] = int(best.n_iter_)
    return best


def _decided_kmeans(features, fit_rows, restarts: list, fit: dict, random_state: int):
    """(`_best_kmeans` of the restarts on every row, or on a seeded sample of REFINE_MAX_ROWS above it; those
    rows in words), recorded in `fit["refined_on"]`."""
    deciding = sample_rows(len(features), REFINE_MAX_ROWS, random_state)  # None: every row
    fit["refined_on"] = len(features) if deciding is None else len(deciding)
    on = "every row" if deciding is None else f"a seeded sample of {len(deciding):,} rows"
    return _best_kmeans(_sample(features, deciding), fit_rows, restarts, fit, random_state), on


def _distinct(restarts: list, tolerance: float = 0.05) -> list:
    """The restarts whose centres (in any order) differ from every earlier one's by more than `tolerance`
    (in the features' units, standardised): restarts that converged to one partition refine alike, so
    each is refined once (on two-feature pairs, most of 30 restarts)."""
    kept, seen = [], []
    for model in restarts:
        centres = model.cluster_centers_[np.lexsort(model.cluster_centers_.T[::-1])]
        if not any(np.allclose(centres, other, rtol=0, atol=tolerance) for other in seen):
            kept.append(model)
            seen.append(centres)
    return kept


def _kmeans_refined(model, features, random_state: int):
    """Lloyd steps on every row (up to REFINE_MAX_ITER), started from a fit on the sample."""
    from sklearn.cluster import KMeans

    return KMeans(model.n_clusters, init=model.cluster_centers_, n_init=1, max_iter=REFINE_MAX_ITER,
                  random_state=random_state).fit(features)


def _gmm_from_partition(rows, labels, k: int, params, random_state):
    """EM (up to max_iter steps) started from a hard partition: each cluster's weight, mean and
    covariance, as GaussianMixture(init_params="kmeans") starts from its own single k-means run."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    covariance_type = params["covariance_type"]
    weights, means, precisions = _partition_parameters(rows, labels, k, covariance_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # `converged` in the result says it
        # init_params="random_from_data": cheap, and unused (every parameter is given)
        return GaussianMixture(k, covariance_type=covariance_type, weights_init=weights, means_init=means,
                               precisions_init=precisions, init_params="random_from_data",
                               max_iter=params["max_iter"], random_state=random_state).fit(rows)


def _partition_parameters(rows, labels, k: int, covariance_type: str, reg_covar: float = 1e-6):
    """Weights, means and precisions (GaussianMixture's `precisions_init` layout) of each cluster
    of a hard partition; reg_covar as GaussianMixture's default."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    if (counts == 0).any():
        raise ValueError("a k-means start with an empty cluster")  # KMeans never returns one
    means = np.stack([rows[labels == c].mean(axis=0) for c in range(k)])
    covariances = np.stack([np.cov(rows[labels == c], rowvar=False, bias=True).reshape(rows.shape[1], -1)
                            for c in range(k)]) + reg_covar * np.eye(rows.shape[1])
    if covariance_type == "full":
        precisions = np.linalg.inv(covariances)
    elif covariance_type == "tied":
        precisions = np.linalg.inv(np.tensordot(counts / counts.sum(), covariances, axes=1))
    elif covariance_type == "diag":
        precisions = 1.0 / np.diagonal(covariances, axis1=1, axis2=2)
    else:  # spherical
        precisions = 1.0 / np.diagonal(covariances, axis1=1, axis2=2).mean(axis=1)
    return counts / counts.sum(), means, precisions


def _restart_seeds(random_state: int, n_init: int) -> list[int]:
    """One seed per restart, derived from the call's seed (so a rerun repeats every restart)."""
    return [int(seed) for seed in np.random.default_rng(random_state).integers(2**31 - 1, size=int(n_init))]


def _edge(best: int, low: int, high: int) -> str | None:
    """"upper"/"lower" when the chosen k is the end of the range that could hide a better k."""
    if best == high:
        return "upper"
    return "lower" if best == low and low > 1 else None


def auto_k_warnings(fit: dict) -> list[str]:
    """One sentence when GMM's auto-k chose a k at the edge of its range."""
    edge = fit.get("best_at_edge")
    if not edge:
        return []
    low, high = fit["k_range"]
    wider = "larger" if edge == "upper" else "smaller"
    return [f"{fit['criterion'].upper()} chose k = {fit['n_components']}, the {edge} end of the range {low}-{high}: "
            f"a {wider} k may score better; widen the k range to check"]


def _fit_kmeans(features, fit_rows, params, random_state):
    k = int(params["n_clusters"])
    restarts = _kmeans_restarts(_sample(features, fit_rows), k, params["n_init"], random_state, params["max_iter"])
    fit = {"used": {"n_clusters": k, "n_init": int(params["n_init"])}}
    if fit_rows is None:
        best = _best_kmeans(features, fit_rows, restarts, fit, random_state)
        return best.labels_, {**fit, "inertia": float(best.inertia_), "model": best}
    best, on = _decided_kmeans(features, fit_rows, restarts, fit, random_state)
    fit["assign"] = (f"predict, after its {fit['refined_restarts']} distinct restarts (of {len(restarts)}) were "
                     f"refined on {on} (up to {REFINE_MAX_ITER} Lloyd steps each) and the best there kept")
    labels = best.labels_ if fit["refined_on"] == len(features) else _predict(best, features)
    return labels, {**fit, "inertia": float(best.inertia_), "model": best}


def _fit_dbscan(features, fit_rows, params, random_state):
    from sklearn.cluster import DBSCAN

    sample = _sample(features, fit_rows)
    weight = len(features) / len(sample)  # each sampled row stands for `weight` rows
    model = DBSCAN(eps=float(params["eps"]), min_samples=int(params["min_samples"]), n_jobs=1)
    model.fit(sample, sample_weight=np.full(len(sample), weight) if fit_rows is not None else None)
    used = {"eps": float(params["eps"]), "min_samples": int(params["min_samples"])}
    if fit_rows is None:
        return model.labels_, {"used": used, "n_core": int(len(model.core_sample_indices_))}
    core = model.core_sample_indices_
    labels = _assign_nearest(features, sample[core], model.labels_[core], float(params["eps"]))
    labels[fit_rows] = model.labels_
    # sampling noise makes spurious small clusters when few sampled rows meet the threshold
    return labels, {"used": {**used, "sample_weight": weight}, "n_core": int(len(core)), "sample_weight": weight,
                    "sampled_neighbours_needed": float(params["min_samples"]) / weight,
                    "assign": "nearest core sample within eps, else noise"}


def _fit_hdbscan(features, fit_rows, params, random_state):
    import hdbscan

    sample = _sample(features, fit_rows)
    fraction = len(sample) / len(features)
    min_cluster_size = max(2, _scaled(params["min_cluster_size"], fraction, MIN_SCALED_CLUSTER_SIZE))
    min_samples = _scaled(params["min_samples"], fraction, MIN_SCALED_SAMPLES)
    used = {"min_cluster_size": min_cluster_size, "min_samples": min_samples,
            "cluster_selection_epsilon": float(params["cluster_selection_epsilon"])}
    # core_dist_n_jobs=1: the default starts one ~4 GB worker per core
    model = hdbscan.HDBSCAN(**used, core_dist_n_jobs=1).fit(sample)
    fit = {"used": used}
    if fit_rows is None:
        return model.labels_, fit
    tree = cKDTree(sample)
    # as hdbscan's prediction data: distance to the min_samples-th neighbour, the point itself first
    core_distance = tree.query(sample, k=max(2, min_samples))[0][:, -1]
    distance, nearest = tree.query(features, k=1)
    labels = np.where(distance <= core_distance[nearest], model.labels_[nearest], -1)
    labels[fit_rows] = model.labels_
    fit["assign"] = "nearest fitted point within its core distance, else noise"
    return labels, fit


def _scaled(given, fraction: float, floor: int) -> int:
    """A count scaled to the sample, never below the floor (nor above the given value)."""
    given = int(given)
    return min(given, max(min(given, floor), int(round(given * fraction))))


def _assign_nearest(features, points, point_labels, radius):
    """Label of the nearest of `points` within `radius`, else -1."""
    labels = np.full(len(features), -1, dtype=np.int64)
    if len(points) == 0:
        return labels
    distance, nearest = cKDTree(points).query(features, k=1, distance_upper_bound=radius)
    found = np.isfinite(distance)
    labels[found] = point_labels[nearest[found]]
    return labels


_FITTERS = {"gmm": _fit_gmm, "kmeans": _fit_kmeans, "dbscan": _fit_dbscan, "hdbscan": _fit_hdbscan}


def _size_order(labels) -> np.ndarray:
    """lookup[label + 1]: clusters renumbered 0, 1, ... by decreasing size (ties: old label); noise stays -1."""
    labels = np.asarray(labels, np.int64)
    values, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = values[np.lexsort((values, -counts))]
    lookup = np.full(int(labels.max(initial=-1)) + 2, -1, dtype=np.int32)
    lookup[order + 1] = np.arange(len(order), dtype=np.int32)
    return lookup
