"""How two sources of a study differ in the latent space (the Compare page on a study): where each dimension moved
and whether the two sets of latent vectors could be one distribution.

- `mean_differences(first, second)`: per dimension, each source's mean and standard deviation and the standardised
  mean difference (Cohen's d: the difference of the means over the pooled standard deviation; |d| of 0.2 is small,
  0.8 large);
- `energy_test(first, second)`: the energy distance between the two sources' whole latent vectors (each dimension
  scaled by the pooled standard deviation within the sources, so that no dimension weighs by its unit), its
  coefficient in [0, 1] (0: one distribution; 1: apart) and a permutation p-value (how often the distance is as
  large when the rows are dealt to the two sources at random). It is computed on a random sample of each source's
  rows: an approximation that `SourceShift.sampled` records;
- `within_clusters(first, second, labels)`: the same energy test within each cluster of one clustering of both
  sources (a sample of each source's rows in it; Holm's correction over the clusters tested): two sources that hold
  the same clusters in other proportions differ over their whole vectors, not within the clusters, and
  `SourceShift.describe` says which it is;
- `match_clusters(first, second, own, joint)`: each source clustered on its own (`own_clusters`: k-means of its
  standardised whole latent vectors, seeded), each of the first's clusters
  matched to one of the second's by their mean latent vectors (the pairing of least total distance), with the
  next-nearest for how clear the match is: is cluster 2 of one scan cluster 4 of the other?
- `side_by_side(fractions, column, first, second)`: two sources' rows of a fractions table
  (`artifacts.fractions.fractions_table`) as one table, a value a row, with the difference of their fractions;
- `compare_sources(study, first, second, k)`: all of it for two sources of a study, as the Compare page shows them
  (`compare-sources`): the study's k-means of k clusters of whole latent vectors (fitted on a sample drawn from
  every source, every row labelled; a source at a time), its fractions in the two sources side by side, the shift
  over the whole vectors and within each cluster, and each source's own clusters matched;
- `write_shift(shift, out_dir)`: the per-dimension CSV, the JSON report and the fractions side by side
  (`shift_names`), each atomically.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..columns import COUNT, FRACTION, SOURCE
from ..errors import InputError

DIMENSION = "dimension"
SMD = "standardised_mean_difference"
SAMPLE = 1000  # rows of each source in the energy test: its distances are (2 x SAMPLE)^2
CLUSTER_SAMPLE = 300  # rows of each source in a cluster's test: k clusters cost about k / 11 of the whole test
MIN_CLUSTER_ROWS = 20  # a cluster holding fewer rows of a source is not tested
PERMUTATIONS = 199
ALPHA = 0.05


@dataclasses.dataclass(frozen=True)
class SourceShift:
    first: str
    second: str
    dimensions: pd.DataFrame  # `mean_differences`
    energy: float
    coefficient: float
    p_value: float
    rows: tuple[int, int]
    sampled: tuple[int, int]  # the rows of each source the energy test used
    permutations: int
    within: pd.DataFrame | None = None  # `within_clusters`, when a clustering was given
    matches: pd.DataFrame | None = None  # `match_clusters` of each source's `own_clusters`, when `own_k` was given
    own_k: int | None = None
    own_labels: tuple[np.ndarray, np.ndarray] | None = None  # each source's rows' clusters in its `own_clusters`
    own_fits: tuple[str, str] | None = None  # how each source's own k-means was fitted (`cluster.describe_fit`)

    @property
    def largest(self) -> pd.DataFrame:
        """The dimensions by |standardised mean difference|, largest first."""
        return self.dimensions.reindex(self.dimensions[SMD].abs().sort_values(ascending=False).index)

    def describe(self) -> str:
        """One sentence: what the energy test says."""
        verdict = ("the two sources' latent vectors differ beyond chance" if self.p_value < ALPHA else
                   "no difference beyond chance between the two sources' latent vectors")
        whole = (f"Energy distance {self.energy:.3g} (coefficient {self.coefficient:.3f}: 0 one distribution, "
                 f"1 apart), p = {self.p_value:.3g} over {self.permutations} permutations: {verdict}; computed on "
                 f"{self.sampled[0]:,} of {self.rows[0]:,} rows of {self.first} and {self.sampled[1]:,} of "
                 f"{self.rows[1]:,} of {self.second} (a random sample).")
        return whole if self.within is None else f"{whole} {describe_within(self.within, self.p_value < ALPHA)}"


def mean_differences(first: np.ndarray, second: np.ndarray) -> pd.DataFrame:
    """`dimension, mean_first, mean_second, sd_first, sd_second, standardised_mean_difference` (first minus second,
    over the pooled standard deviation; 0 where neither source varies)."""
    first, second = (np.asarray(part, np.float64) for part in (first, second))
    means = first.mean(0), second.mean(0)
    sds = first.std(0, ddof=1) if len(first) > 1 else np.zeros(first.shape[1]), \
        second.std(0, ddof=1) if len(second) > 1 else np.zeros(second.shape[1])
    pooled = np.sqrt((sds[0] ** 2 + sds[1] ** 2) / 2)
    smd = np.divide(means[0] - means[1], pooled, out=np.zeros_like(pooled), where=pooled > 0)
    return pd.DataFrame({DIMENSION: np.arange(first.shape[1]), "mean_first": means[0], "mean_second": means[1],
                         "sd_first": sds[0], "sd_second": sds[1], SMD: smd})


def energy_test(first: np.ndarray, second: np.ndarray, permutations: int = PERMUTATIONS,
                seed: int = 0) -> tuple[float, float, float]:
    """(energy distance, its coefficient, permutation p-value) of two sets of rows, each dimension scaled by the
    pooled standard deviation within the two sets. The V-statistic form: the means run over every pair, a row with
    itself included."""
    from scipy.spatial.distance import cdist

    first, second = (np.asarray(part, np.float64) for part in (first, second))
    scale = np.sqrt((first.var(0) + second.var(0)) / 2)  # within the sources: a shift does not widen it
    pooled = np.concatenate([first, second]) / np.where(scale > 0, scale, 1)
    distances = cdist(pooled, pooled)
    n_first = len(first)
    rng = np.random.default_rng(seed)
    masks = np.zeros((len(pooled), permutations + 1))
    masks[:n_first, 0] = 1  # the observed split, then random ones
    for column in range(1, permutations + 1):
        masks[rng.permutation(len(pooled))[:n_first], column] = 1
    energies, between = _energies(distances, masks, n_first, len(second))
    energy = float(energies[0])
    coefficient = float(energy / (2 * between[0])) if between[0] > 0 else 0.0
    p_value = float((1 + np.sum(energies[1:] >= energy - 1e-12)) / (1 + permutations))
    return energy, coefficient, p_value


def _energies(distances: np.ndarray, masks: np.ndarray, n_first: int, n_second: int):
    """The energy distance of each split (a column of `masks`: 1 for the first set's rows) and the mean distance
    between its two sets: three quadratic forms of the distance matrix per split, all splits at once."""
    others = 1 - masks
    spread = distances @ masks
    within_first = np.einsum("ij,ij->j", masks, spread) / n_first ** 2
    between = np.einsum("ij,ij->j", others, spread) / (n_first * n_second)
    within_second = np.einsum("ij,ij->j", others, distances @ others) / n_second ** 2
    return 2 * between - within_first - within_second, between


def source_shift(first: np.ndarray, second: np.ndarray, names: tuple[str, str], sample: int = SAMPLE,
                 permutations: int = PERMUTATIONS, seed: int = 0, labels=None, own_k: int | None = None) -> SourceShift:
    """How the rows `second` differ from the rows `first` (two sources' latents, (N, D) each); with `labels` (each
    row's cluster in one clustering of both, per source), within each cluster too (`within_clusters`); with `own_k`,
    each source clustered alone in `own_k` clusters (`own_clusters`) and its clusters matched (`match_clusters`)."""
    if len(first) < 2 or len(second) < 2:
        raise InputError(f"comparing {names[0]} with {names[1]} needs at least 2 rows of each (they have "
                         f"{len(first)} and {len(second)}): pick sources with rows")
    rng = np.random.default_rng(seed)
    picked = [_at_most(part, sample, rng) for part in (first, second)]
    energy, coefficient, p_value = energy_test(*picked, permutations=permutations, seed=seed)
    within = None if labels is None else within_clusters(first, second, labels, permutations=permutations, seed=seed)
    matches = labelled = fits = None
    if own_k is not None:
        from .cluster import describe_fit

        own = [own_clusters(part, own_k, seed) for part in (first, second)]
        labelled = tuple(result.labels for result in own)
        matches = match_clusters(first, second, labelled, labels)
        fits = tuple(describe_fit(result) for result in own)
    return SourceShift(names[0], names[1], mean_differences(first, second), energy, coefficient, p_value,
                       (len(first), len(second)), (len(picked[0]), len(picked[1])), permutations, within, matches,
                       own_k, labelled, fits)


def _at_most(rows: np.ndarray, sample: int, rng) -> np.ndarray:
    """`rows`, or `sample` of them drawn by `rng` (in their order) when there are more."""
    return rows if len(rows) <= sample else rows[np.sort(rng.choice(len(rows), sample, replace=False))]


def own_clusters(rows: np.ndarray, k: int, seed: int = 0):
    """The k-means of these rows alone (standardised whole vectors, seeded; fitted on a seeded sample above
    `cluster.DEFAULT_MAX_FIT` rows, every row then labelled: `describe_fit` says which): a `ClusterResult`."""
    from .cluster import cluster

    return cluster(rows, "kmeans", random_state=seed, n_clusters=min(k, len(rows)))


def match_clusters(first: np.ndarray, second: np.ndarray, own: tuple[np.ndarray, np.ndarray],
                   joint: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """`cluster_first, rows_first, cluster_second, rows_second, distance, next_cluster_second, next_distance`: each
    cluster of the first source's own clustering (`own`: each row's cluster, per source; negative: none) and the
    cluster of the second's it matches, the pairing of least total distance between the clusters' mean latent vectors
    (each dimension in the two sources' pooled standard deviation: scipy's `linear_sum_assignment`); the second's
    nearest other cluster and its distance (a match much nearer than the next is clear). With `joint` (one
    clustering of both, per source), `joint_first` and `joint_second`: the joint cluster most of each is in. A
    cluster left without a partner (the sources have different counts) is not listed."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    first, second = (np.asarray(part, np.float64) for part in (first, second))
    scale = np.sqrt((first.var(0) + second.var(0)) / 2)
    ids = [np.unique(labels[labels >= 0]) for labels in own]
    means = [np.stack([rows[labels == c].mean(0) for c in found]) / np.where(scale > 0, scale, 1)
             for rows, labels, found in zip((first, second), own, ids)]
    distances = cdist(*means)
    records = []
    for i, j in zip(*linear_sum_assignment(distances)):
        others = np.where(np.arange(len(ids[1])) == j, np.inf, distances[i])
        nearest = int(np.argmin(others))
        record = {"cluster_first": ids[0][i], "rows_first": int((own[0] == ids[0][i]).sum()),
                  "cluster_second": ids[1][j], "rows_second": int((own[1] == ids[1][j]).sum()),
                  "distance": distances[i, j], "next_cluster_second": ids[1][nearest] if np.isfinite(others[nearest])
                  else -1, "next_distance": others[nearest] if np.isfinite(others[nearest]) else np.nan}
        if joint is not None:
            record["joint_first"] = _most(joint[0][own[0] == ids[0][i]])
            record["joint_second"] = _most(joint[1][own[1] == ids[1][j]])
        records.append(record)
    return pd.DataFrame(records)


def _most(labels: np.ndarray) -> int:
    """The label most of `labels` have (-1: none)."""
    kept = labels[labels >= 0]
    return int(np.bincount(kept).argmax()) if len(kept) else -1


def within_clusters(first: np.ndarray, second: np.ndarray, labels: tuple[np.ndarray, np.ndarray],
                    sample: int = CLUSTER_SAMPLE, permutations: int = PERMUTATIONS, seed: int = 0) -> pd.DataFrame:
    """`cluster, rows_first, rows_second, energy_distance, energy_coefficient, p_value, p_holm`: the energy test
    within each cluster of one clustering of both sources' rows (`labels`: each row's cluster, per source), on up to
    `sample` random rows of each source in it; NaN where a source holds fewer than MIN_CLUSTER_ROWS of the cluster.
    `p_holm`: the p-values corrected for the clusters tested (Holm's step-down). Negative labels (noise, rows not
    clustered) are left out."""
    rng = np.random.default_rng(seed)
    records = []
    for cluster in (found := np.unique(np.concatenate(labels)))[found >= 0]:
        parts = [rows[own == cluster] for rows, own in zip((first, second), labels)]
        record = {"cluster": cluster, "rows_first": len(parts[0]), "rows_second": len(parts[1]),
                  "energy_distance": np.nan, "energy_coefficient": np.nan, "p_value": np.nan}
        if min(map(len, parts)) >= MIN_CLUSTER_ROWS:
            picked = [_at_most(part, sample, rng) for part in parts]
            found = energy_test(*picked, permutations=permutations, seed=seed)
            record.update(energy_distance=found[0], energy_coefficient=found[1], p_value=found[2])
        records.append(record)
    table = pd.DataFrame(records)
    table["p_holm"] = holm(table["p_value"].to_numpy())
    return table


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down correction of the p-values that are not NaN (NaN stays NaN)."""
    corrected = np.full(len(p_values), np.nan)
    tested = np.flatnonzero(np.isfinite(p_values))
    order = tested[np.argsort(p_values[tested], kind="stable")]
    steps = np.maximum.accumulate(p_values[order] * (len(order) - np.arange(len(order))))
    corrected[order] = np.minimum(steps, 1.0)
    return corrected


def describe_within(within: pd.DataFrame, differ: bool) -> str:
    """One or two sentences: whether the sources differ within the clusters both hold (`differ`: over their whole
    vectors)."""
    tested = within[np.isfinite(within["p_holm"])]
    shifted = tested[tested["p_holm"] < ALPHA]["cluster"].tolist()
    alone = within[np.isnan(within["p_holm"])]["cluster"].tolist()
    scope = (f"Within each of the {len(tested)} clusters both hold (at least {MIN_CLUSTER_ROWS} rows of each, "
             f"{CLUSTER_SAMPLE:,} sampled at most; Holm-corrected over the clusters)")
    if not len(tested):
        said = f"No cluster holds {MIN_CLUSTER_ROWS} rows of both sources: they share no cluster to compare within."
    elif shifted:
        many = len(shifted) > 1
        said = (f"{scope}: cluster{'s' if many else ''} {', '.join(map(str, shifted))} differ{'' if many else 's'} "
                f"beyond chance, the others do not: the sources differ inside {'those clusters' if many else 'it'}, "
                "not only in how much of each cluster they hold.")
    elif differ:
        said = (f"{scope}: no difference beyond chance. The sources share these clusters; their whole vectors differ "
                "in how much of each cluster they hold (the fractions).")
    else:
        said = f"{scope}: no difference beyond chance either."
    return said + (f" Not tested (fewer than {MIN_CLUSTER_ROWS} rows in one source): cluster"
                   f"{'s' if len(alone) > 1 else ''} {', '.join(map(str, alone))}." if alone else "")


def side_by_side(fractions: pd.DataFrame, column: str, first: str, second: str) -> pd.DataFrame:
    """`<column>, count_<first>, fraction_<first>, count_<second>, fraction_<second>, difference` (the second's
    fraction minus the first's), one row per value of `column`, in the fractions table's order."""
    parts = []
    for name in (first, second):
        part = fractions[fractions[SOURCE] == name]
        if part.empty:
            raise InputError(f"the fractions name no source {name!r}: pick one of "
                             f"{', '.join(map(str, fractions[SOURCE].unique()))}")
        parts.append(part.set_index(column)[[COUNT, FRACTION]].add_suffix(f"_{name}"))
    table = parts[0].join(parts[1], how="outer").fillna(0).reset_index()
    table["difference"] = table[f"{FRACTION}_{second}"] - table[f"{FRACTION}_{first}"]
    return table


def compare_sources(study, first: str, second: str, k: int, settings=None, scheduler=None, workers: int | None = None,
                    progress=None) -> tuple:
    """(the shift, the fractions of every source, the clustering: a `ClusterResult`) of the study's sources `first`
    and `second` (names), with the study's k-means of `k` clusters of every source's whole latent vectors, fitted on
    a seeded sample drawn from each source in proportion to its rows and every row labelled by its predict
    (`cluster_run.cluster_by_source`: a source at a time, here or a Dask task each with `scheduler`; the study's
    rows are never stacked; `workers`: a LocalCluster's). `progress(fraction, message)` counts the sources done."""
    from .artifacts.cluster import ClusterJob
    from .artifacts.cluster_run import cluster_by_source, source_features

    indices = [study.names.index(study.member(name).name) for name in (first, second)]  # an unknown name: refused
    if indices[0] == indices[1]:
        raise InputError(f"the two sources are both {first}: name two different sources of the study", study.name)
    job = ClusterJob(latents=study.name, bandcontrast=None, method="kmeans", features="latent",
                     params={"n_clusters": int(k)})
    clustering, fractions, _, _ = cluster_by_source(job, study, scheduler, workers, settings=settings,
                                                  progress=progress)
    rows, joint = [], []
    for index in indices:  # each row of the two sources in the study's clusters (-1: a row not clustered)
        latents = study.latents(index, settings).stacked()[0]
        inputs, _, features = source_features(index, job, study, settings)
        labels = np.full(len(latents), -1, np.int64)
        labels[inputs.rows] = clustering.predictor.predict(features)
        rows.append(latents)
        joint.append(labels)
    shift = source_shift(*rows, (first, second), labels=tuple(joint), own_k=int(k))
    return shift, fractions, clustering


def shift_names(first: str, second: str) -> dict:
    return {"dimensions": f"shift__{first}__{second}.csv", "report": f"shift_report__{first}__{second}.json",
            "fractions": f"fractions__{first}__{second}.csv", "within": f"shift_within__{first}__{second}.csv",
            "matches": f"cluster_matches__{first}__{second}.csv"}


def shift_record(shift: SourceShift) -> dict:
    return {"first": shift.first, "second": shift.second, "energy_distance": shift.energy,
            "energy_coefficient": shift.coefficient, "p_value": shift.p_value, "permutations": shift.permutations,
            "rows": list(shift.rows), "sampled_rows": list(shift.sampled), "summary": shift.describe(),
            "standardised_mean_difference": {str(d): float(v) for d, v in zip(shift.dimensions[DIMENSION],
                                                                               shift.dimensions[SMD])},
            **({} if shift.within is None else {
                "within_clusters": {"sampled_rows_per_cluster": CLUSTER_SAMPLE, "min_rows": MIN_CLUSTER_ROWS,
                                    "correction": "holm", "clusters": json_records(shift.within)}}),
            **({} if shift.matches is None else {
                "matched_clusters": {"each source": f"k-means (k = {shift.own_k}) of its own whole latent vectors "
                                                    "(standardised, seeded)",
                                     "distance": "between cluster means, each dimension in the two sources' pooled "
                                                 "standard deviation",
                                     "pairing": "least total distance (scipy.optimize.linear_sum_assignment)",
                                     "fits": dict(zip((shift.first, shift.second), shift.own_fits)),
                                     "clusters": json_records(shift.matches)}})}


def json_records(table: pd.DataFrame) -> list[dict]:
    """A table's rows as dicts, NaN as None (null in JSON)."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def write_shift(shift: SourceShift, out_dir, study=None, fractions: pd.DataFrame | None = None,
                clustering=None) -> dict:
    """Write the per-dimension CSV and the JSON report (with `study`'s record and, when given, the two sources'
    fractions side by side, also as their CSV, and the study's `clustering` they count: its fit and sample) into
    `out_dir`; returns {kind: path}."""
    from .artifacts.common import study_record
    from .artifacts.common import now, write_csv, write_json
    from .cluster import describe_fit

    names, out_dir = shift_names(shift.first, shift.second), Path(out_dir)
    tables = {"dimensions": shift.dimensions, "fractions": fractions, "within": shift.within,
              "matches": shift.matches}
    names = {kind: name for kind, name in names.items() if kind == "report" or tables[kind] is not None}
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind, name in names.items():
        if kind != "report":
            write_csv(out_dir / name, tables[kind])
    report = {"kind": "source_shift", "created": now(), **shift_record(shift),
              **({"study": study_record(study)} if study is not None else {}),
              **({"fractions": fractions.to_dict(orient="records")} if fractions is not None else {}),
              **({"study_clustering": {"summary": describe_fit(clustering), **clustering.to_dict()}}
                 if clustering is not None else {})}
    write_json(out_dir / names["report"], report)
    return {kind: out_dir / name for kind, name in names.items()}
