"""Predict labels over every row: a linear probe (logistic regression) or k nearest neighbours, trained on the
labelled rows' latents (see `labels`), optionally smoothed over the scan grid first (the same NaN-aware Gaussian
as `cluster --smooth`, `smoothing.smooth_rows`).

- `probe(features, labelled, method="logistic", cv=5, random_state=0, params=None, min_confidence=0)` ->
  `ProbeResult`: the predicted class and its probability for every row, every class's probability, and the
  cross-validated accuracy and confusion matrix over the labelled rows (stratified folds, shuffled with
  `random_state`; fewer folds when the smallest class has fewer rows than `cv`). A row whose highest
  probability is below `min_confidence` is `unknown` (code `UNKNOWN_CODE`) rather than forced into a class;
  the default 0 labels every row. The probability is the logistic model's, or for kNN the fraction of the
  k neighbours that vote for the class (uniform votes, so a threshold of 0.7 reads "7 of 10 neighbours agree");
- `probe_features(latents, smooth)` -> (features, row ids, x, y): every row of a latents file, stacked;
- `probe_report(...)`: the report of a run (`probe_run.run_probe`, on a file or a study, which writes its files,
  named by `probe_names(tag)`; `tag` is `{method}` or `{method}_smooth{sigma}`, then `_conf{threshold}` when the
  threshold is above 0): accuracy, confusion matrix, parameters, the confidence threshold and the count of
  unknown rows, inputs' SHA-256, versions;
- `compare_latents(a, b, labels_path, ...)`: two latents files of one source: the adjusted Rand index of their
  KMeans clusterings (k = `n_clusters`, default the number of classes) and each one's probe accuracy on the same
  labels; `clustering_agreement(a, b, n_clusters, ...)`: the ARI alone, without labels.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ...errors import InputError, about_file
from .labelled import LabelledRows, check_classes, match_labels, read_labels_table

METHODS = ("logistic", "knn")
DEFAULT_NEIGHBOURS = 10
PREDICT_BLOCK = 200_000  # rows predicted at once: bounded memory at a million rows, and progress between blocks
UNKNOWN = "unknown"  # the label of a row predicted below the confidence threshold
NO_FEATURES_CODE, UNKNOWN_CODE = -1, -2  # `ProbeResult.predicted` of a row with NaN features, of an unknown row


@dataclasses.dataclass
class ProbeResult:
    classes: list[str]
    predicted: np.ndarray  # (N,) int64 index into classes; NO_FEATURES_CODE, UNKNOWN_CODE
    probabilities: np.ndarray  # (N, K) float32
    cv: dict  # accuracy_mean, accuracy_std, fold_accuracies, confusion_matrix, n_splits, chance
    method: str
    params: dict
    min_confidence: float = 0.0
    notes: list[str] = dataclasses.field(default_factory=list)  # what the result is not as asked (a lowered k)
    model: object = dataclasses.field(default=None, repr=False, compare=False)  # the fitted classifier

    @property
    def probability(self) -> np.ndarray:
        """The highest class probability of each row (NaN without features), unknown rows included."""
        return self.probabilities.max(axis=1)

    @property
    def n_unknown(self) -> int:
        return int((self.predicted == UNKNOWN_CODE).sum())

    def predicted_names(self) -> np.ndarray:
        """Each row's predicted label, `unknown` below the threshold, empty without features."""
        return predicted_names(self.predicted, self.classes)


def predicted_names(predicted, classes) -> np.ndarray:
    """Labels of predicted codes: a class, `unknown` (UNKNOWN_CODE) or empty (NO_FEATURES_CODE)."""
    predicted = np.asarray(predicted)
    names = np.asarray(list(classes) + [UNKNOWN, ""], dtype=object)  # UNKNOWN_CODE -2, NO_FEATURES_CODE -1
    return names[np.where(predicted >= 0, predicted, len(classes) + 2 + predicted)]


def check_min_confidence(min_confidence: float, classes=()) -> float:
    """The threshold as a float in [0, 1]; refused when a class is itself called `unknown` (the two would
    be one label in the predictions)."""
    value = float(min_confidence)
    if not 0.0 <= value <= 1.0:
        raise InputError(f"min_confidence must be a probability from 0 to 1, got {min_confidence}")
    if value > 0 and UNKNOWN in classes:
        raise InputError(f"a label is called {UNKNOWN!r}, the name of the rows below the confidence threshold: "
                         "rename it, or leave the threshold at 0")
    return value


def _model(method: str, params: dict):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if method == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=float(params.get("C", 1.0)), max_iter=2000))
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=params["n_neighbors"]))  # uniform votes


def _neighbours(params: dict, n_labelled: int, n_splits: int, notes: list) -> int:
    """k of the kNN probe: the one asked for, refused above what the labels allow (fewer than the rows a
    cross-validation fold trains on: k = all of them predicts the majority everywhere), or the default, lowered
    to that with a note."""
    n_train = n_labelled * (n_splits - 1) // n_splits
    allowed = max(n_train - 1, 1)
    if "n_neighbors" not in params:
        k = min(DEFAULT_NEIGHBOURS, allowed)
        if k < DEFAULT_NEIGHBOURS:
            notes.append(f"kNN with {k} neighbours, not the default {DEFAULT_NEIGHBOURS}: a cross-validation fold "
                         f"trains on {n_train} of the {n_labelled} labelled rows")
        return k
    k = params["n_neighbors"]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= allowed:
        raise InputError(f"n_neighbors must be a whole number from 1 to {allowed} with these labels, got {k!r}: a "
                         f"cross-validation fold trains the kNN on {n_train} of the {n_labelled} labelled rows")
    return int(k)


def probe(features, labelled: LabelledRows, method: str = "logistic", cv: int = 5, random_state: int = 0,
          params: dict | None = None, progress=None, min_confidence: float = 0.0) -> ProbeResult:
    """Fit on the labelled rows of `features` (N, F); predict every row, `unknown` below `min_confidence`. See
    the module doc. `progress(done, total)`, when given, is told the rows predicted after each block."""
    from sklearn.metrics import accuracy_score, confusion_matrix
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if method not in METHODS:
        raise InputError(f"probe method must be one of {METHODS}, got {method!r}")
    if int(cv) < 2:
        raise InputError(f"cv must be at least 2 (folds of the cross-validation), got {cv}")
    features = np.asarray(features)
    if features.ndim != 2 or not len(features):
        raise InputError(f"features must be (N, F), got shape {features.shape}: pass one row of features per item")
    check_classes(labelled)
    min_confidence = check_min_confidence(min_confidence, labelled.classes)
    params = dict(params or {})
    X, y = features[labelled.rows], labelled.y
    if not np.isfinite(X).all():
        raise InputError("labelled rows hold NaN or inf features: remove their labels, or extract the latents again")
    n_splits = int(min(cv, np.bincount(y).min()))
    notes = []
    if method == "knn":
        params["n_neighbors"] = _neighbours(params, len(y), n_splits, notes)
        params["weights"] = "uniform"  # the probability is the neighbours' vote fraction
    else:
        params.setdefault("C", 1.0)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    held_out = cross_val_predict(_model(method, params), X, y, cv=folds)
    fold_accuracies = [float(accuracy_score(y[test], held_out[test])) for _, test in folds.split(X, y)]
    model = _model(method, params).fit(X, y)
    predicted, probabilities = predict_rows(model, features, len(labelled.classes), min_confidence, progress)
    cv_record = {"accuracy_mean": float(np.mean(fold_accuracies)), "accuracy_std": float(np.std(fold_accuracies)),
                 "fold_accuracies": fold_accuracies, "n_splits": n_splits, "stratified": True,
                 "random_state": int(random_state), "chance": float(np.bincount(y).max() / len(y)),
                 "confusion_matrix": confusion_matrix(y, held_out, labels=range(len(labelled.classes))).tolist(),
                 "confusion_axes": "rows: given class, columns: predicted (each labelled row predicted by the fold "
                                   "that held it out)"}
    return ProbeResult(labelled.classes, predicted, probabilities, cv_record, method, params, min_confidence, notes,
                       model)


def predict_rows(model, features, n_classes: int, min_confidence: float = 0.0, progress=None):
    """(predicted codes, (N, K) float32 probabilities) of every row by a fitted probe (`ProbeResult.model`):
    NO_FEATURES_CODE without finite features, UNKNOWN_CODE below `min_confidence`."""
    probabilities = np.empty((len(features), n_classes), np.float32)
    finite = np.isfinite(features).all(axis=1)
    probabilities[~finite] = np.nan
    for start in range(0, len(features), PREDICT_BLOCK):
        block = slice(start, start + PREDICT_BLOCK)
        keep = finite[block]
        probabilities[block][keep] = model.predict_proba(features[block][keep])
        if progress is not None:
            progress(min(start + PREDICT_BLOCK, len(features)), len(features))
    predicted = np.where(finite, np.nan_to_num(probabilities, nan=-1).argmax(axis=1), NO_FEATURES_CODE)
    below = finite & (np.nan_to_num(probabilities, nan=0).max(axis=1) < min_confidence)
    return np.where(below, UNKNOWN_CODE, predicted).astype(np.int64), probabilities


def probe_features(latents, smooth: float = 0.0):
    """(features float64 or float32, row ids, x, y) of every row of a latents file (a path or `Latents`), the
    partitions stacked as the UMAP table's rows; smoothed over the scan grid when `smooth` > 0."""
    from ...latents import Latents, read_latents
    from ..smoothing import check_sigma, smooth_rows

    latents = latents if isinstance(latents, Latents) else read_latents(latents)
    features, _ = latents.stacked()
    x, y = latents.x, latents.y
    if x is not None and len(x) != len(features):
        x = y = None
    smooth = check_sigma(smooth)
    if smooth:
        if x is None:
            raise InputError("the latents have no x, y coordinates: smoothing needs a scan (leave --smooth at 0)",
                             latents.path)
        features = smooth_rows(features, x, y, smooth)
    return features, np.arange(len(features), dtype=np.int64), x, y


def probe_tag(method: str, smooth: float = 0.0, min_confidence: float = 0.0) -> str:
    """`knn`, `knn_smooth1`, `knn_smooth1_conf0.7`: thresholds of one method write files of their own."""
    tag = f"{method}_smooth{float(smooth):g}" if smooth else method
    return f"{tag}_conf{float(min_confidence):g}" if min_confidence else tag


def probe_names(tag: str) -> dict:
    return {"predictions": f"probe_predictions__{tag}.csv", "report": f"probe_report__{tag}.json",
            "figure": f"probe_maps__{tag}.png"}


def load_labelled(latents_path, labels_path, x, y, n_rows) -> LabelledRows:
    from ...outputs import own_source_name

    labelled = match_labels(read_labels_table(labels_path), n_rows, x, y, labels_path, own_source_name(latents_path))
    with about_file(labels_path):
        check_classes(labelled)
    return labelled


def probe_report(tag: str, job: dict, result: ProbeResult, labelled: LabelledRows, n_rows: int, smooth: float,
                 model: dict | None, inputs: dict, outputs: dict, tally: dict | None = None) -> dict:
    """A probe's report: the job (with the result's parameters and threshold), classes, labelled and predicted
    counts, unknown rows, cross-validation, smoothing, model, inputs (name, SHA-256, relative path), versions and
    outputs. `tally`: the rows of each predicted code, when `result` did not predict every row (`code_tally`)."""
    from ...versions import package_versions
    from ..artifacts.common import VERSION_PACKAGES, now
    from ..smoothing import smoothing_record

    tally = code_tally(result.predicted) if tally is None else tally
    counts = [int(tally.get(code, 0)) for code in range(len(result.classes))]
    return {
        "kind": "probe", "format": 1, "tag": tag, "created": now(),
        "job": {**job, "params": result.params, "min_confidence": result.min_confidence},
        "classes": result.classes, "labelled_counts": labelled.counts(),
        "predicted_counts": dict(zip(result.classes, counts)),
        "unknown": {"label": UNKNOWN, "min_confidence": result.min_confidence,
                    "n_rows": int(tally.get(UNKNOWN_CODE, 0)),
                    "rule": "the highest class probability below min_confidence"
                            + (" (kNN: the fraction of the neighbours voting for the class)" if result.method == "knn"
                               else "")},
        "cross_validation": result.cv, "n_rows": n_rows, "n_labelled": len(labelled.rows), "notes": result.notes,
        "smoothing": {**smoothing_record(smooth), "applies_to": "the latents the probe is trained on and predicts"},
        "model": model, "inputs": inputs, "versions": package_versions(VERSION_PACKAGES), "outputs": outputs,
    }


def code_tally(predicted) -> dict[int, int]:
    """{predicted code: rows}: what a report counts, added up source by source."""
    codes, counts = np.unique(np.asarray(predicted), return_counts=True)
    return dict(zip(codes.tolist(), counts.tolist()))


def check_one_source(a, b, path_a, path_b, unknown_source: bool = False) -> None:
    """Two latents files of one source: both record the same source SHA-256 (a file without it cannot be shown
    to come from the other's source: refused unless `unknown_source`), the same rows of each partition and, when both
    have coordinates, the same ones (two regions of one size would otherwise be compared row by row)."""
    digests = [f.attrs.get("source_sha256") for f in (a, b)]
    if all(digests) and digests[0] != digests[1]:
        raise InputError(f"latents of another source than {Path(path_a).name} (source SHA-256 "
                         f"{digests[1][:12]}... vs {digests[0][:12]}...): give two latents of one data file", path_b)
    rows = [{name: len(v) for name, v in f.partitions.items()} for f in (a, b)]
    if rows[0] != rows[1]:  # partitions too: a file's `valid` and `train` of one size are other items
        said = [", ".join(f"{n:,} of {name}" for name, n in part.items()) for part in rows]
        raise InputError(f"has rows {said[1]} but {Path(path_a).name} has {said[0]}: not latents of the same items; "
                         "give two latents of one data file's same partitions", path_b)
    if not all(digests) and not unknown_source:
        path = path_a if not digests[0] else path_b
        raise InputError("records no source SHA-256: it cannot be shown to come from the same data file as the "
                         "other latents (extract both from one file, or pass --unknown-source if their rows are "
                         "the same items in the same order)", path)
    if a.x is not None and b.x is not None and not _same_positions(a, b):
        raise InputError(f"its rows lie at other x, y than those of {Path(path_a).name}: not latents of one scan; "
                         "give two latents of one scan", path_b)


def _same_positions(a, b) -> bool:
    return all(np.shape(p) == np.shape(q) and np.allclose(p, q, equal_nan=True) for p, q in ((a.x, b.x), (a.y, b.y)))


def _kmeans(features, n_clusters: int, random_state: int) -> np.ndarray:
    from ..cluster import cluster

    return cluster(np.asarray(features, np.float64), "kmeans", n_clusters=int(n_clusters),
                   random_state=random_state).labels


def clustering_agreement(latents_a, latents_b, n_clusters: int, *, smooth: float = 0.0,
                         random_state: int = 0, progress=None) -> dict:
    """Two latents files of one source, no labels needed: {"ari": the adjusted Rand index of their k-means
    clusterings (k = `n_clusters`, seeded, on each file's (smoothed) latents), "n_clusters", "cluster_method",
    "smooth"}. Refuses files of different sources or row counts. `progress(done, 2)`: files clustered."""
    from sklearn.metrics import adjusted_rand_score

    from ...latents import read_latents

    a, b = read_latents(latents_a), read_latents(latents_b)
    check_one_source(a, b, latents_a, latents_b)
    labellings = []
    for latents in (a, b):
        labellings.append(_kmeans(probe_features(latents, smooth)[0], n_clusters, random_state))
        if progress is not None:
            progress(len(labellings), 2)
    return {"ari": float(adjusted_rand_score(*labellings)), "n_clusters": int(n_clusters), "cluster_method": "kmeans",
            "smooth": float(smooth)}


def compare_latents(latents_a, latents_b, labels_path, *, method: str = "logistic", smooth: float = 0.0,
                    cv: int = 5, random_state: int = 0, n_clusters: int | None = None, progress=None,
                    unknown_source: bool = False) -> dict:
    """Two latents files of one source on the same labels: {"ari": of their KMeans clusterings (k = `n_clusters`,
    default the number of classes), "n_clusters", "a": {"accuracy", "model_tag" (as latents names carry it), ...},
    "b": {...}}. Refuses files of different
    sources or row counts, and files that record no source unless `unknown_source` (check_one_source).
    `progress(done, 2)`: files probed and clustered."""
    from sklearn.metrics import adjusted_rand_score

    from ...latents import model_record, read_latents
    from ...outputs import model_tag

    a, b = read_latents(latents_a), read_latents(latents_b)
    check_one_source(a, b, latents_a, latents_b, unknown_source)
    out = {}
    labellings = []
    for key, latents, path in (("a", a, latents_a), ("b", b, latents_b)):
        features, _, x, y = probe_features(latents, smooth)
        labelled = load_labelled(path, labels_path, x, y, len(features))
        result = probe(features, labelled, method, cv, random_state)
        labellings.append(_kmeans(features, n_clusters or len(result.classes), random_state))
        out[key] = {"latents": Path(path).name, "model": model_record(latents.attrs),
                    "model_tag": model_tag(latents.attrs.get("model_name"), latents.attrs.get("model_sha256")),
                    "n_rows": len(features),
                    "accuracy": result.cv["accuracy_mean"], "accuracy_std": result.cv["accuracy_std"],
                    "agreement_with_labels": float(np.mean(result.predicted[labelled.rows] == labelled.y))}
        if progress is not None:
            progress(len(labellings), 2)
    out.update(ari=float(adjusted_rand_score(*labellings)), n_clusters=int(n_clusters or len(result.classes)),
               method=method, smooth=float(smooth), cluster_method="kmeans")
    return out
