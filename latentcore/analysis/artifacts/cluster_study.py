"""A cluster run over a study (`latentcore.study`): one clustering of every row of every source, each scan
smoothed over its own grid, and how much of each cluster is in each source. A run writes, atomically, into one
folder, beside the files a run on one latents file writes (`cluster`: the same job and tag):
- `cluster_assignments__{tag}.csv`: `source, row, x_um, y_um, latent_..., bandcontrast, cluster` (`row`: the row
  within its source; `x_um`, `y_um` empty for a source without coordinates);
- `cluster_fractions__{tag}.csv`: `source, cluster, count, fraction`, every cluster of every source (a count of 0
  included), the fractions of a source summing to 1 (`fractions.fractions_table`);
- `cluster_fractions__{tag}.png`: the fractions as stacked bars, a bar per source;
- `cluster_{view}__{tag}__{source}.png`: each scan's clusters on its own map, beside its rows on the scatter of
  every row (`view`: `pca`, `umap` or `latent_bc`, as one file's figure);
- `cluster_report__{tag}.json`: the cluster report, with the study (its name, model, and each member's name,
  SHA-256 and rows), every member as an input, and the counts and fractions per source.

Features are computed member by member (a member's band contrast is its own scan map: a table of one scan's
x, y cannot be a study's), then clustered as one; smoothed features are standardised by the scale of the whole
study's unsmoothed features, as one file's are by its own (`cluster.job_features`); `umap` features are one UMAP
of every member's (smoothed) latents.
"""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import numpy as np

from ...columns import CLUSTER
from ...errors import InputError
from .cluster import (ClusterInputs, ClusterJob, cluster_inputs, cluster_names, read_cluster_rows, refuse_non_finite,
                      write_assignments)
from .common import bandcontrast_record, input_record, write_json
from .fractions import fractions_record, fractions_table, write_fractions


def fractions_names(job: ClusterJob) -> dict:
    return {"fractions": f"cluster_fractions__{job.tag}.csv", "fractions_figure": f"cluster_fractions__{job.tag}.png"}


def load_study_cluster_inputs(job: ClusterJob, study, settings=None, scheduler=None, progress=None) -> ClusterInputs:
    """Every row of the study the job clusters (its partition and ROI in each member), with the features of
    each member computed on its own grid (with `scheduler`, a Dask task per member as `batch.run_tasks`; `progress`
    counts the members read); one line naming the member that cannot give them."""
    from ...batch import counted, member_lost, run_tasks
    from ..cluster import feature_scale

    refuse_bandcontrast_table(job)
    found = run_tasks(member_features, range(len(study.members)), scheduler, name="cluster-features",
                      lost=member_lost(study), on_result=counted(progress, len(study.members), "read the features of"),
                      job=job, study=study, settings=settings)
    parts, raw, smoothed = map(list, zip(*found))
    features, scale = np.concatenate(smoothed), None
    if job.features == "umap":
        from ..embedding.fit import embed

        features = embed(features, method="umap", random_state=int(job.params.get("random_state", 0)))
    elif job.smooth:
        scale = feature_scale(np.concatenate(raw))
    return stacked_inputs(parts, features, scale, study.names, study.units)


def refuse_bandcontrast_table(job: ClusterJob) -> None:
    if job.bandcontrast is not None and not job.bandcontrast.from_scan:
        raise InputError("a band-contrast table holds one scan's x, y: a study's band contrast is each member's "
                         "own scan map; use 'scan' or 'scan:NAME' (e.g. 'scan:IQ')", job.bandcontrast.path)


def member_features(index: int, job: ClusterJob, study, settings=None) -> tuple[ClusterInputs, np.ndarray, np.ndarray]:
    """One member's rows the job clusters (`ClusterInputs` without features), their unsmoothed feature values, and
    their features (smoothed over the member's own grid when the job says so)."""
    from ..cluster import pair_features
    from ..smoothing import smooth_rows

    member = study.members[index]
    member_job = dataclasses.replace(job, latents=member.location)
    with about_member(member.name):
        latents = study.latents(index, settings)
        if job.bandcontrast is not None and not latents.point_maps:
            raise InputError(f"member {member.name} carries no per-point maps (band contrast) to pair with its "
                             f"latents: leave it out of the study, or cluster whole vectors (--features latent)",
                             member.location)
        inputs, rows = read_cluster_rows(member_job, latents)
        values = (np.asarray(rows, np.float64) if job.features != "pair"
                  else pair_features(rows, job.dim, inputs.bandcontrast))
        features = smooth_rows(values, inputs.x, inputs.y, job.smooth) if job.smooth else values
        refuse_non_finite(member_job, features, rows)
    return inputs, values, features


def stacked_inputs(parts: list[ClusterInputs], features, scale, names, units) -> ClusterInputs:
    """The members' inputs as one (`x`, `y` NaN for a member without coordinates; None when none has them)."""
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


def study_quality(records: list[dict | None]) -> dict | None:
    """The quality filter's record over every member (theirs, `ClusterInputs.quality`): the rows it was applied to
    and kept, summed."""
    if records[0] is None:
        return None
    rows, kept = (sum(record[key] for record in records) for key in ("rows", "kept"))
    return {**records[0], "rows": rows, "kept": kept, "fraction": kept / rows if rows else 0.0}


@contextlib.contextmanager
def about_member(name: str):
    """An InputError raised inside says first which member it is about (its file stays named)."""
    try:
        yield
    except InputError as exc:
        if str(exc).startswith(f"member {name}") or f": member {name} " in str(exc):
            raise
        raise InputError(f"member {name}: {exc}") from None  # its file named after the member


def source_figure_name(job: ClusterJob, view: str, source: str) -> str:
    """`cluster_{view}__{tag}__{source}.png`: one scan's clusters, beside the rows of that scan on the scatter."""
    return f"cluster_{view}__{job.tag}__{source}.png"


def write_source_figures(job: ClusterJob, inputs: ClusterInputs, labels, out_dir, browser="auto",
                         dpi: float = 300) -> dict:
    """Each scan's cluster panels (its own map and its rows on the study's scatter: one PCA or UMAP of every row);
    returns {source: {"name", "engine"}}, sources without coordinates left out."""
    from ...figures import write_png
    from .cluster import ScatterView, cluster_figure, scatter_view

    view = scatter_view(job, inputs)
    written = {}
    for index, source in enumerate(inputs.source_names):
        mine = (inputs.sources == index) & np.isfinite(inputs.x)
        if not mine.any():
            continue
        part = ScatterView(view.kind, view.horizontal[mine], view.vertical[mine], view.x_title, view.y_title)
        figure = cluster_figure(job, inputs.x[mine], inputs.y[mine], inputs.latent[mine], part,
                                np.asarray(labels)[mine], inputs.units)
        figure.update_layout(title=f"{source}: {job.method} clusters of the study ({job.tag})")
        name = source_figure_name(job, view.kind, source)
        written[source] = {"name": name, "engine": write_png(figure, Path(out_dir) / name, browser=browser, dpi=dpi)}
    return written


def study_record(study) -> dict:
    """The study as a report records it: name, model, and each member by name, SHA-256 and rows."""
    return {"name": study.name, "model": study.model, "dim": study.dim, "rows": study.rows,
            "members": [{"name": m.name, "sha256": m.sha256, "rows": m.rows} for m in study.members],
            "notes": study.notes}


def run_study_cluster_job(job: ClusterJob, study, out_dir, *, png: bool = True, browser="auto", dpi: float = 300,
                          root=None, settings=None) -> dict:
    """Cluster every row of `study` as one, then write the assignments, the fractions (CSV, PNG) and the report
    into `out_dir`; returns the report. `job.latents` names the study (its file, or its name)."""
    inputs = load_study_cluster_inputs(job, study, settings)
    result = cluster_inputs(job, inputs)
    return write_study_cluster(job, study, inputs, result, out_dir, png=png, browser=browser, dpi=dpi, root=root)


def write_study_cluster(job: ClusterJob, study, inputs: ClusterInputs, result, out_dir, *, png: bool = True,
                        browser="auto", dpi: float = 300, root=None) -> dict:
    """Write a study's clustering (`result` of `inputs`): the assignments, the fractions (CSV; with `png`, its
    bars and each scan's figure) and the report into `out_dir`; returns the report."""
    members = [input_record(m.location, out_dir, root, sha256=m.sha256) for m in study.members]
    report = write_assignments(job, inputs, result, out_dir, root, inputs_record={
        "latents": members, "bandcontrast": bandcontrast_record(job.bandcontrast, out_dir, root)})
    fractions = fractions_table(inputs.sources, inputs.source_names, result.labels, CLUSTER)
    outputs = write_fractions(fractions, CLUSTER, out_dir, fractions_names(job),
                              f"cluster fractions per source<br><sup>{job.tag}</sup>", png=png, browser=browser,
                              dpi=dpi)
    if png and inputs.x is not None:
        outputs["source_figures"] = write_source_figures(job, inputs, result.labels, out_dir, browser, dpi)
    report = {**report, "study": study_record(study), "fractions": fractions_record(fractions, CLUSTER),
              "outputs": {**report["outputs"], **outputs}}
    write_json(Path(out_dir) / cluster_names(job)["report"], report)
    return report

