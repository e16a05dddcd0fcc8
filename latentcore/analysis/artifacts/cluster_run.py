"""The cluster run: one clustering of every row of a study (a latents file is a study of one, `study.as_study`),
each source's features computed on its own grid, in this process or as Dask tasks, a task per source. It writes,
atomically, into one folder (`cluster.cluster_names`, `fractions_names`):
- `cluster_assignments__{tag}.csv`: `cluster.assignment_columns`, with `source` first for a study of several
  (`row`: the row within its source; `x_um`, `y_um` empty for a source without coordinates);
- `cluster_{view}__{tag}.png`: one scan's clusters on the scan and on the scatter; for several sources
  `cluster_{view}__{tag}__{source}.png`, each scan's map beside its rows on the scatter of every row;
- `cluster_fractions__{tag}.csv` (`source, cluster, count, fraction`: every cluster of every source, a count of 0
  included, each source's summing to 1) and `.png`, a stacked bar per source (several sources);
- `cluster_report__{tag}.json`: the cluster report; for several sources the study (its name, model, and each
  member's name, SHA-256 and rows), every member as an input, and the counts and fractions per source.

Each source's rows are its own (its partition, the ROI and the quality filter in its own coordinates and maps),
their band contrast its own scan map (a table holds one scan's x, y), their features smoothed over its own grid
(`source_features`). Then, without a scheduler, they are stacked and clustered as one by any method
(`cluster.cluster`: its sample and refinement), smoothed features standardised by the scale of every source's
unsmoothed features, `umap` features one UMAP of every source's. With a scheduler (`cluster --scheduler`; gmm and
kmeans, which predict), and for the Clusters page's study of several sources here too (`runs_by_source`), no process
holds every source's features (`cluster_by_source`):
1. a task per source returns its share of the fit sample (a seeded sample of each source in proportion to its rows,
   `DEFAULT_MAX_FIT` rows in all) and the moments of its unsmoothed features;
2. this process fits the model on the sample, standardised by the whole study's scale (the moments combined);
3. a task per source labels its rows by the fit's predict (`cluster.Predictor`) and writes them as a part of the
   one CSV, which this process joins, then writes the fractions and the report.
A study within the sample size is fitted on every row and gets the labels, and the CSV, of the run in this process;
a larger one differs in that KMeans' restarts are not refined beyond the sample (said in the report's fit summary).
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np

from ...columns import CLUSTER
from ...errors import InputError
from ...sampling import seeded_sample
from .cluster import (ClusterInputs, ClusterJob, assignment_columns, assignments_table, cluster_inputs, cluster_names,
                      cluster_report, job_features, principal_axes, quality_input, read_cluster_rows,
                      refuse_non_finite, with_figure, write_assignments, write_cluster_figure)
from .common import (about_source, bandcontrast_record, join_parts, latents_record, study_quality, study_record,
                     write_csv, write_json)
from .fractions import counts_table, fractions_record, fractions_table, write_fractions

TASK_METHODS = ("gmm", "kmeans")


def fractions_names(job: ClusterJob) -> dict:
    return {"fractions": f"cluster_fractions__{job.tag}.csv", "fractions_figure": f"cluster_fractions__{job.tag}.png"}


def run_cluster(job: ClusterJob, out_dir, *, study=None, scheduler=None, workers: int | None = None,
                png: bool = True, browser="auto", dpi: float = 300, root=None, settings=None, progress=None) -> dict:
    """Cluster every row of `study` (a `Study`; None: `job.latents`, a latents or study file, as its study) and
    write the files (see the module's docstring) into `out_dir`; returns the report, which names its inputs
    relative to `out_dir` when they lie inside `root` (the workspace; None: anywhere). `scheduler`: the Dask tasks'
    way; `progress(fraction, message)` counts the sources done."""
    from ...study import as_study

    study = as_study(job.latents if study is None else study, settings)
    if scheduler is not None:
        return run_cluster_tasks(job, study, out_dir, scheduler, workers, png=png, browser=browser, dpi=dpi,
                                 root=root, settings=settings, progress=progress)[0]
    inputs = load_inputs(job, study, settings, progress=progress)
    result = cluster_inputs(job, inputs)
    return write_cluster(job, study, inputs, result, out_dir, png=png, browser=browser, dpi=dpi, root=root)


def load_inputs(job: ClusterJob, study=None, settings=None, scheduler=None, progress=None) -> ClusterInputs:
    """Every row of the study the job clusters (None: `job.latents`' study), with their features, each source's
    computed on its own grid (with `scheduler`, a Dask task per source, `batch.run_tasks`; `progress` counts the
    sources read)."""
    from ...batch import counted, member_lost, run_tasks
    from ...study import as_study
    from .cluster import stacked_features

    study = as_study(job.latents if study is None else study, settings)
    refuse_bandcontrast_table(job, len(study.members))
    found = run_tasks(source_features, range(len(study.members)), scheduler, name="cluster-features",
                      lost=member_lost(study), on_result=counted(progress, len(study.members), "read the features of"),
                      job=job, study=study, settings=settings)
    parts, raw, smoothed = map(list, zip(*found))
    features, scale = stacked_features(job, raw, smoothed)
    return stacked_inputs(parts, features, scale, study.names, study.units)


def refuse_bandcontrast_table(job: ClusterJob, n_sources: int) -> None:
    if n_sources > 1 and job.bandcontrast is not None and not job.bandcontrast.from_scan:
        raise InputError("a band-contrast table holds one scan's x, y: a study's band contrast is each member's "
                         "own scan map; use 'scan' or 'scan:NAME' (e.g. 'scan:IQ')", job.bandcontrast.path)


def source_features(index: int, job: ClusterJob, study, settings=None) -> tuple[ClusterInputs, np.ndarray, np.ndarray]:
    """Task: one source's rows the job clusters (`ClusterInputs` without features), their unsmoothed feature values,
    and their features (smoothed over the source's own grid when the job says so)."""
    member = study.members[index]
    source_job = job if len(study.members) == 1 else dataclasses.replace(job, latents=member.location)
    with about_source(study, index):
        latents = study.latents(index, settings)
        if job.bandcontrast is not None and not latents.point_maps and len(study.members) > 1:
            raise InputError(f"member {member.name} carries no per-point maps (band contrast) to pair with its "
                             "latents: leave it out of the study, or cluster whole vectors (--features latent)",
                             member.location)
        inputs, rows = read_cluster_rows(source_job, latents)
        values, features = job_features(job, rows, inputs.bandcontrast, inputs.x, inputs.y)
        refuse_non_finite(source_job, features, rows)
    return inputs, values, features


def stacked_inputs(parts: list[ClusterInputs], features, scale, names, units) -> ClusterInputs:
    """The sources' inputs as one (`x`, `y` NaN for a source without coordinates; None when none has them); a
    study of one: its file's (no `sources`)."""
    if len(parts) == 1:
        return dataclasses.replace(parts[0], features=features, scale=scale)

    def joined(field):
        return np.concatenate([getattr(part, field) for part in parts])

    def coordinate(field):
        return np.concatenate([np.full(len(part.rows), np.nan) if getattr(part, field) is None
                               else getattr(part, field) for part in parts])

    scans = any(part.x is not None for part in parts)
    bandcontrast = joined("bandcontrast") if parts[0].bandcontrast is not None else None
    sources = np.repeat(np.arange(len(parts)), [len(part.rows) for part in parts])
    return ClusterInputs(coordinate("x") if scans else None, coordinate("y") if scans else None, joined("latent"),
                         bandcontrast, features, units, parts[0].bandcontrast_name, scale, joined("rows"),
                         parts[0].dims, joined("used"), parts[0].model, sources, tuple(names),
                         study_quality([part.quality for part in parts]))


def write_cluster(job: ClusterJob, study, inputs: ClusterInputs, result, out_dir, *, png: bool = True,
                  browser="auto", dpi: float = 300, root=None) -> dict:
    """Write a clustering (`result` of `inputs`): the assignments, for several sources the fractions (CSV; with
    `png`, its bars), with `png` the figures, and the report into `out_dir`; returns the report."""
    report = write_assignments(job, inputs, result, out_dir, report_inputs(job, study, out_dir, root))
    several = inputs.sources is not None
    fractions = fractions_table(inputs.sources, inputs.source_names, result.labels, CLUSTER) if several else None
    report = with_study(job, study, report, fractions, out_dir, png, browser, dpi)
    if png and inputs.x is not None and several:
        report["outputs"]["source_figures"] = write_source_figures(job, inputs, result.labels, out_dir, browser, dpi)
    elif png and inputs.x is not None:  # the figure draws the clusters on the scan
        from .cluster import scatter_view

        view = scatter_view(job, inputs)
        engine = write_cluster_figure(job, out_dir, inputs.x, inputs.y, inputs.latent, view, result.labels,
                                      inputs.units, browser=browser, dpi=dpi)
        report = with_figure(job, report, engine, view.kind)
    write_json(Path(out_dir) / cluster_names(job)["report"], report)
    return report


def report_inputs(job: ClusterJob, study, out_dir, root) -> dict:
    """The inputs a report names (relative to `out_dir` inside `root`): the latents file (a study's: each member's,
    a list), the band-contrast table and the quality filter's."""
    return {"latents": latents_record(study, out_dir, root),
            "bandcontrast": bandcontrast_record(job.bandcontrast, out_dir, root), **quality_input(job, out_dir, root)}


def with_study(job: ClusterJob, study, report: dict, fractions, out_dir, png, browser, dpi) -> dict:
    """`report`, and for a study of several sources the study, each source's cluster fractions and their files
    (CSV; with `png`, their bars)."""
    if len(study.members) == 1:
        return report
    outputs = write_fractions(fractions, CLUSTER, out_dir, fractions_names(job),
                              f"cluster fractions per source<br><sup>{job.tag}</sup>", png=png, browser=browser,
                              dpi=dpi)
    return {**report, "study": study_record(study), "fractions": fractions_record(fractions, CLUSTER),
            "outputs": {**report["outputs"], **outputs}}


def source_figure_name(job: ClusterJob, view: str, source: str) -> str:
    """`cluster_{view}__{tag}__{source}.png`: one scan's clusters, beside the rows of that scan on the scatter."""
    return f"cluster_{view}__{job.tag}__{source}.png"


def write_source_figures(job: ClusterJob, inputs: ClusterInputs, labels, out_dir, browser="auto",
                         dpi: float = 300) -> dict:
    """Each scan's cluster panels (`source_figure`); returns {source: {"name", "engine"}}, sources without
    coordinates left out."""
    from ...figures import write_png
    from .cluster import scatter_view

    view = scatter_view(job, inputs)
    written = {}
    for index, source in enumerate(inputs.source_names):
        figure = source_figure(job, inputs.x, inputs.y, inputs.latent, view, labels, inputs.units, inputs.sources,
                               index, source)
        if figure is not None:
            name = source_figure_name(job, view.kind, source)
            written[source] = {"name": name, "engine": write_png(figure, Path(out_dir) / name, browser=browser,
                                                                 dpi=dpi)}
    return written


def source_figure(job: ClusterJob, x, y, latent, view, labels, units, sources, index: int, name: str):
    """One scan's cluster panels: its map, beside its rows on the study's scatter (`view`: one PCA or UMAP of every
    row); None for a source without coordinates. `sources`: each row's source index."""
    from .cluster import ScatterView, cluster_figure

    mine = (sources == index) & np.isfinite(x)
    if not mine.any():
        return None
    part = ScatterView(view.kind, view.horizontal[mine], view.vertical[mine], view.x_title, view.y_title)
    figure = cluster_figure(job, x[mine], y[mine], latent[mine], part, np.asarray(labels)[mine], units)
    return figure.update_layout(title=f"{name}: {job.method} clusters of the study ({job.tag})")


# -- the Dask tasks' way: no process holds every row -----------------------------------------------

def runs_by_source(job: ClusterJob, study) -> bool:
    """Whether the Clusters page clusters `study` a source at a time (`run_cluster_tasks`), as the Compare page
    does: a study of several sources, by a method that predicts, of features each source makes alone (not one UMAP
    of every row). No process then holds every source's features; a file's rows are clustered as one."""
    return len(study.members) > 1 and job.method in TASK_METHODS and job.features != "umap"


def check_task_job(job: ClusterJob, n_sources: int) -> None:
    """Refuse, before any work, what the tasks cannot do."""
    if job.method not in TASK_METHODS:
        raise InputError(f"--scheduler labels each source by the fit's predict, which {job.method} has not: use "
                         f"gmm or kmeans with --scheduler, or run {job.method} in this process (without it)")
    if job.features == "umap":
        raise InputError("--features umap is one UMAP of every row, made in one process: cluster --features latent "
                         "with --scheduler, or run it without --scheduler")
    refuse_bandcontrast_table(job, n_sources)


def sample_source(index: int, job: ClusterJob, study, fraction: float, settings=None, vectors: bool = False) -> dict:
    """Task: one source's rows counted, the moments of their unsmoothed features, and its share of the sample (the
    features clustered; with `vectors` the latents too: a drawn scatter's principal axes are fitted on them)."""
    inputs, values, features = source_features(index, job, study, settings)
    mean = values.mean(axis=0)
    seed = int(job.params.get("random_state", 0)) + index
    picked = seeded_sample(len(features), int(round(fraction * len(features))), seed)
    return {"rows": len(values), "mean": mean, "m2": ((values - mean) ** 2).sum(axis=0), "sample": features[picked],
            "vectors": inputs.used[picked] if vectors else None,
            "model": inputs.model, "quality": inputs.quality}


def combined_scale(parts: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The (mean, std) of every source's rows together, from each source's moments (Chan et al.'s pairwise update)."""
    rows = np.array([part["rows"] for part in parts], np.float64)
    means = np.stack([part["mean"] for part in parts])
    mean = (rows[:, None] * means).sum(axis=0) / rows.sum()
    m2 = sum(part["m2"] for part in parts) + (rows[:, None] * (means - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(m2 / rows.sum())


def label_source(index: int, job: ClusterJob, study, predictor, folder: str | None, settings=None,
                 drawn: bool = False, axes=None) -> dict:
    """Task: one source's rows labelled by the fit; returns its counts and, with `folder`, writes the rows there
    as a part of the one CSV (`<folder>/<index>.csv`), and with `drawn` what a page draws of them
    (`<folder>/<index>.npz`, `drawn_rows`; `axes`: the scatter's principal axes for whole vectors)."""
    inputs, _, features = source_features(index, job, study, settings)
    labels = predictor.predict(features)
    values, counts = np.unique(labels, return_counts=True)
    found = {"rows": len(labels), "counts": dict(zip(values.tolist(), counts.tolist()))}
    if folder is None:
        return found
    if len(study.members) > 1:
        inputs = dataclasses.replace(inputs, sources=np.zeros(len(labels), np.int64),
                                     source_names=(study.names[index],))
    Path(folder).mkdir(parents=True, exist_ok=True)  # by the first task done: nothing made before the cluster runs
    path = write_csv(Path(folder) / f"{index:06d}.csv", assignments_table(inputs, labels))
    found = {**found, "path": str(path), "columns": assignment_columns(inputs)}
    return {**found, "drawn": save_drawn(Path(folder) / f"{index:06d}.npz", job, inputs, labels, axes)} if drawn \
        else found


def save_drawn(path: Path, job: ClusterJob, inputs: ClusterInputs, labels, axes) -> dict:
    """Write what a page draws of one source's rows (row, x, y, latent, band contrast, label, the scatter's two
    axes) to `path`; returns its record for `drawn_rows`."""
    from .cluster import scatter_view

    view = scatter_view(job, inputs, axes=axes)
    optional = {"x": inputs.x, "y": inputs.y, "bandcontrast": inputs.bandcontrast}
    np.savez(path, rows=inputs.rows, latent=inputs.latent, labels=labels, horizontal=view.horizontal,
             vertical=view.vertical, **{name: values for name, values in optional.items() if values is not None})
    return {"path": str(path), "view": (view.kind, view.x_title, view.y_title)}


def drawn_rows(labelled: list[dict], sample: dict, names, units) -> tuple[ClusterInputs, np.ndarray, object]:
    """Every source's drawn rows (`save_drawn`) as one: (their `ClusterInputs`, stacked as `load_inputs` stacks them
    but without features or latent columns, their labels, the `ScatterView` of them all, its principal axes' titles
    saying when they were fitted on the fit `sample`)."""
    from .cluster import ScatterView

    parts = [dict(np.load(part["drawn"]["path"])) for part in labelled]
    inputs = stacked_inputs([ClusterInputs(part.get("x"), part.get("y"), part["latent"], part.get("bandcontrast"),
                                           None, rows=part["rows"], used=np.empty((len(part["rows"]), 0)))
                             for part in parts], None, None, names, units)

    def joined(name):
        return np.concatenate([part[name] for part in parts])

    kind, x_title, y_title = labelled[0]["drawn"]["view"]
    if kind == "pca" and sample["used"]:
        x_title, y_title = (f"{title} (axes of the {sample['size']:,}-row fit sample)" for title in (x_title, y_title))
    return inputs, joined("labels"), ScatterView(kind, joined("horizontal"), joined("vertical"), x_title, y_title)


def run_cluster_tasks(job: ClusterJob, study, out_dir, scheduler, workers: int | None = None, *, png: bool = True,
                      browser="auto", dpi: float = 300, root=None, settings=None, progress=None,
                      drawn: bool = False) -> tuple:
    """Cluster every row of `study` a source at a time (see the module's docstring), as Dask tasks with `scheduler`
    (None: one after another here); returns (the report, the `ClusterResult`, with `drawn` what a page draws of
    every row (`drawn_rows`), else None)."""
    from ...storage import sha256_file

    names = cluster_names(job)
    folder = Path(out_dir) / f"{names['assignments']}.parts"  # each source's rows, joined into one CSV when done
    try:
        result, fractions, labelled, parts = cluster_by_source(job, study, scheduler, workers, folder=str(folder),
                                                               settings=settings, progress=progress, drawn=drawn)
        csv_path = join_parts([Path(part["path"]) for part in labelled], Path(out_dir) / names["assignments"])
        rows = drawn_rows(labelled, result.sample, study.names, study.units) if drawn else None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    outputs = {"assignments": {"name": names["assignments"], "sha256": sha256_file(csv_path),
                               "columns": labelled[0]["columns"]}}
    quality = study_quality([part["quality"] for part in parts])
    run = "one source after another" if scheduler is None else "dask tasks, one per source"
    report = {**cluster_report(job, result, parts[0]["model"], quality, result.sample["total"],
                               report_inputs(job, study, out_dir, root), outputs), "run": run}
    report = with_study(job, study, report, fractions, out_dir, png, browser, dpi)
    write_json(Path(out_dir) / names["report"], report)
    return report, result, rows


def cluster_by_source(job: ClusterJob, study, scheduler=None, workers: int | None = None, *, folder: str | None = None,
                      settings=None, progress=None, drawn: bool = False) -> tuple:
    """Steps 1 to 3 of the module's docstring, with `scheduler` (None: one source after another in this process):
    (the `ClusterResult` of every row, its `fractions` table, the label tasks' and the sample tasks' results). The
    result's labels are the fit sample's; `predictor` labels any source's rows as the tasks did. With `folder`, each
    source's rows are written there as a part of the CSV (with `drawn`, what a page draws of them too: for whole
    vectors on principal axes fitted on the sample's latents); `progress` counts the sources done."""
    from ...batch import counted, member_lost, run_tasks
    from ..cluster import DEFAULT_MAX_FIT, cluster

    check_task_job(job, len(study.members))
    params = dict(job.params)
    max_fit = params.pop("max_fit_samples", -1)
    max_fit = DEFAULT_MAX_FIT[job.method] if max_fit == -1 else max_fit
    fraction = 1.0 if not max_fit else min(1.0, max_fit / study.rows)
    lost, sources = member_lost(study), range(len(study.members))
    pca = drawn and job.features == "latent"  # the drawn scatter's principal axes, fitted on the sample's latents
    parts = run_tasks(sample_source, sources, scheduler, workers, name="cluster-sample", lost=lost,
                      on_result=counted(progress, len(sources), "sampled", 0, 0.4), job=job, study=study,
                      fraction=fraction, settings=settings,
                      vectors=pca)
    sample = np.concatenate([part["sample"] for part in parts])
    fitted = cluster(sample, job.method, scale=combined_scale(parts), max_fit_samples=None, **params)
    axes = principal_axes(np.concatenate([part["vectors"] for part in parts]), int(job.params.get("random_state", 0))) \
        if pca else None
    labelled = run_tasks(label_source, sources, scheduler, workers, name="cluster-label", lost=lost,
                         on_result=counted(progress, len(sources), "labelled", 0.5, 0.5), job=job, study=study,
                         predictor=fitted.predictor, folder=folder, settings=settings, drawn=drawn, axes=axes)
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
