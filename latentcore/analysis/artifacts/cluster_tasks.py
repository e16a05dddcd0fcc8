"""A study's clustering as Dask tasks (`cluster --scheduler`): no process ever holds every row of the study.

1. A task per source reads its rows, computes their features on its own grid (`cluster_study.member_features`)
   and returns its share of the fit sample (a seeded sample of each source in proportion to its rows, the study's
   `DEFAULT_MAX_FIT` rows in all) and the moments of its unsmoothed features.
2. This process fits the model on the sample, standardised by the whole study's scale (the moments combined),
   exactly as `cluster` fits the rows it is given.
3. A task per source labels its rows by the fit's predict (`cluster.Predictor`) and writes
   `cluster_assignments__{tag}/{source}.csv` (the columns of the one-file CSV, `source` first), atomically; it
   returns its counts, from which this process writes the fractions (CSV, PNG) and, last, the report.

GMM and KMeans only: their fit labels new rows. A study within the sample size is fitted on every row, as in this
process, and gets the same labels; a larger one differs from the in-process run in that KMeans' restarts are not
refined beyond the sample (in this process, on up to `cluster.REFINE_MAX_ROWS` rows; said in the report's fit
summary). Without a scheduler the same steps run one source after
another in this process (`cluster_by_source`: the Compare page's k-means of a study, which never stacks its rows).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ...columns import CLUSTER
from ...errors import InputError
from ...sampling import seeded_sample
from .cluster import ClusterJob, assignment_columns, assignments_table, cluster_names, cluster_report
from .cluster_study import fractions_names, member_features, refuse_bandcontrast_table, study_quality, study_record
from .common import bandcontrast_record, input_record, write_csv, write_json
from .fractions import counts_table, fractions_record, write_fractions

TASK_METHODS = ("gmm", "kmeans")


def assignments_folder(job: ClusterJob) -> str:
    return f"cluster_assignments__{job.tag}"


def check_task_job(job: ClusterJob) -> None:
    """Refuse, before any work, what the tasks cannot do."""
    if job.method not in TASK_METHODS:
        raise InputError(f"--scheduler labels each source by the fit's predict, which {job.method} has not: use "
                         f"gmm or kmeans with --scheduler, or run {job.method} in this process (without it)")
    if job.features == "umap":
        raise InputError("--features umap is one UMAP of every row, made in one process: cluster --features latent "
                         "with --scheduler, or run it without --scheduler")
    refuse_bandcontrast_table(job)


def sample_source(index: int, job: ClusterJob, study, fraction: float, settings=None) -> dict:
    """Task: one source's rows counted, the moments of their unsmoothed features, and its share of the sample."""
    inputs, values, features = member_features(index, job, study, settings)
    mean = values.mean(axis=0)
    seed = int(job.params.get("random_state", 0)) + index
    picked = seeded_sample(len(features), int(round(fraction * len(features))), seed)
    return {"rows": len(values), "mean": mean, "m2": ((values - mean) ** 2).sum(axis=0), "sample": features[picked],
            "model": inputs.model, "quality": inputs.quality}


def combined_scale(parts: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The (mean, std) of every source's rows together, from each source's moments (Chan et al.'s pairwise update)."""
    rows = np.array([part["rows"] for part in parts], np.float64)
    means = np.stack([part["mean"] for part in parts])
    mean = (rows[:, None] * means).sum(axis=0) / rows.sum()
    m2 = sum(part["m2"] for part in parts) + (rows[:, None] * (means - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(m2 / rows.sum())


def label_source(index: int, job: ClusterJob, study, predictor, folder: str | None, settings=None) -> dict:
    """Task: one source's rows labelled by the fit; returns its counts and, with `folder`, writes the rows as
    `<folder>/<source>.csv`."""
    from ...storage import sha256_file

    inputs, _, features = member_features(index, job, study, settings)
    labels = predictor.predict(features)
    name = study.members[index].name
    values, counts = np.unique(labels, return_counts=True)
    found = {"source": name, "rows": len(labels), "counts": dict(zip(values.tolist(), counts.tolist()))}
    if folder is None:
        return found
    inputs = dataclasses.replace(inputs, sources=np.zeros(len(labels), np.int64), source_names=(name,))
    Path(folder).mkdir(parents=True, exist_ok=True)
    path = write_csv(Path(folder) / f"{name}.csv", assignments_table(inputs, labels))
    return {**found, "name": f"{Path(folder).name}/{path.name}", "sha256": sha256_file(path),
            "columns": assignment_columns(inputs)}


def run_study_cluster_tasks(job: ClusterJob, study, out_dir, scheduler, workers: int | None = None, *,
                            png: bool = True, browser="auto", dpi: float = 300, root=None, settings=None) -> dict:
    """Cluster every row of `study` as Dask tasks (see the module's docstring); returns the report."""
    folder = str(Path(out_dir) / assignments_folder(job))
    result, fractions, labelled, parts = cluster_by_source(job, study, scheduler, workers, folder=folder,
                                                           settings=settings)
    return write_task_outputs(job, study, result, fractions, labelled, parts, out_dir, png, browser, dpi, root)


def cluster_by_source(job: ClusterJob, study, scheduler=None, workers: int | None = None, *, folder: str | None = None,
                      settings=None, progress=None) -> tuple:
    """Steps 1 to 3 of the module's docstring, with `scheduler` (None: one source after another in this process):
    (the `ClusterResult` of every row, its `fractions` table, the label tasks' and the sample tasks' results). The
    result's labels are the fit sample's; `predictor` labels any source's rows as the tasks did. With `folder`, each
    source's assignments CSV is written there; `progress` counts the sources done."""
    from ...batch import counted, member_lost, run_tasks
    from ..cluster import DEFAULT_MAX_FIT, cluster

    check_task_job(job)
    params = dict(job.params)
    max_fit = params.pop("max_fit_samples", -1)
    max_fit = DEFAULT_MAX_FIT[job.method] if max_fit == -1 else max_fit
    fraction = 1.0 if not max_fit else min(1.0, max_fit / study.rows)
    lost, sources = member_lost(study), range(len(study.members))
    parts = run_tasks(sample_source, sources, scheduler, workers, name="cluster-sample", lost=lost,
                      on_result=counted(progress, len(sources), "sampled", 0, 0.4), job=job, study=study,
                      fraction=fraction, settings=settings)
    sample = np.concatenate([part["sample"] for part in parts])
    fitted = cluster(sample, job.method, scale=combined_scale(parts), max_fit_samples=None, **params)
    labelled = run_tasks(label_source, sources, scheduler, workers, name="cluster-label", lost=lost,
                         on_result=counted(progress, len(sources), "labelled", 0.5, 0.5), job=job, study=study,
                         predictor=fitted.predictor, folder=folder, settings=settings)
    order = sorted({label for part in labelled for label in part["counts"]})
    counts = [[part["counts"].get(label, 0) for label in order] for part in labelled]
    total = {str(label): int(sum(row[i] for row in counts)) for i, label in enumerate(order)}
    rows = sum(part["rows"] for part in labelled)
    sample = {"used": fitted.sample["total"] < rows, "size": fitted.sample["total"], "total": rows,
              "seed": fitted.sample["seed"], "drawn": "from each source in proportion to its rows"}
    where = "one source after another" if scheduler is None else "a Dask task per source"
    fit = {**fitted.fit, "assign": f"every source's rows labelled by the model's predict, {where}"}
    result = dataclasses.replace(fitted, counts=total, sample=sample, fit=fit,
                                 params={**fitted.params, "max_fit_samples": max_fit or None})
    return result, counts_table(study.names, order, counts, CLUSTER), labelled, parts


def write_task_outputs(job, study, result, fractions, labelled: list[dict], parts: list[dict], out_dir, png, browser,
                       dpi, root) -> dict:
    """The fractions (CSV, PNG), then the report (`labelled`, `parts`: the sources' label and sample tasks')."""
    rows = result.sample["total"]
    outputs = {"assignments": {"name": assignments_folder(job), "kind": "folder", "columns": labelled[0]["columns"],
                               "files": [{key: part[key] for key in ("source", "name", "sha256", "rows")}
                                         for part in labelled]},
               **write_fractions(fractions, CLUSTER, out_dir, fractions_names(job),
                                 f"cluster fractions per source<br><sup>{job.tag}</sup>", png=png, browser=browser,
                                 dpi=dpi)}
    inputs = {"latents": [input_record(m.location, out_dir, root, sha256=m.sha256) for m in study.members],
              "bandcontrast": bandcontrast_record(job.bandcontrast, out_dir, root)}
    quality = study_quality([part["quality"] for part in parts])
    report = {**cluster_report(job, result, parts[0]["model"], quality, rows, inputs, outputs),
              "study": study_record(study), "fractions": fractions_record(fractions, CLUSTER),
              "run": "dask tasks, one per source"}
    write_json(Path(out_dir) / cluster_names(job)["report"], report)
    return report
