"""The probe over a study (`latentcore.study`): labels given on rows of some of its sources (a labels table with
`source` and `row`, or `source` and `x_um`, `y_um`), predicted over every row of every source, each source smoothed
over its own grid; and how much of each predicted label is in each source. `run_study_probe` writes, beside the
files the probe of one file writes (`probe`: the same tag):
- `probe_predictions__{tag}.csv`: `source, row, x_um, y_um, label, probability, given`;
- `probe_fractions__{tag}.csv`: `source, label, count, fraction` (every class, then `unknown` where a row is),
  and `probe_fractions__{tag}.png`, a stacked bar per source;
- `probe_report__{tag}.json`: the probe's report, with the study (its members by name, SHA-256 and rows), every
  member as an input and the fractions per source.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...columns import GIVEN, LABEL, PROBABILITY, SOURCE
from ...errors import InputError, about_file
from .labelled import LabelledRows, check_classes, match_labels, read_labels_table
from .probe import UNKNOWN, check_min_confidence, probe, probe_features, probe_names, probe_report, probe_tag


def study_labels_table(study, labels_path):
    """A study's labels table, read and checked: a `source` column naming sources of the study."""
    table = read_labels_table(labels_path)
    if SOURCE not in table.columns:
        raise InputError(f"a study's labels name each row's source: give a table with columns source,row,label or "
                         f"source,x_um,y_um,label (the sources: {', '.join(study.names)})", labels_path)
    others = sorted(set(table[SOURCE]) - set(study.names))
    if others:
        raise InputError(f"the labels name the source {others[0]!r}, which is not in the study {study.name}: label "
                         f"rows of its sources ({', '.join(study.names)})", labels_path)
    return table


def study_labels(study, labels_path, positions) -> LabelledRows:
    """The study's rows a labels table names (by each source's `row`, or its x, y), as the study's row ids.
    `positions`: each member's (x, y), None for a member without coordinates."""
    table = study_labels_table(study, labels_path)
    rows, names = [], []
    for index, name in enumerate(study.names):
        part = table[table[SOURCE] == name]
        if len(part):
            x, y = positions[index]
            labelled = match_labels(part, study.members[index].rows, x, y, labels_path)
            rows.append(study.global_rows(index, labelled.rows))
            names.append(np.asarray(labelled.classes)[labelled.y])
    labelled = LabelledRows.from_names(np.concatenate(rows), np.concatenate(names))
    with about_file(labels_path):
        check_classes(labelled)
    return labelled


def run_study_probe(study, labels_path, out_dir, *, method: str = "logistic", smooth: float = 0.0, cv: int = 5,
                    random_state: int = 0, params: dict | None = None, min_confidence: float = 0.0, png: bool = True,
                    browser="auto", dpi: float = 300, root=None, settings=None, scheduler=None,
                    progress=None) -> dict:
    """Probe every row of `study` (as `probe.run_probe` one file), then write the predictions, the fractions (CSV,
    PNG) and the report into `out_dir`; returns the report. With `scheduler`, each member's features are read by a
    Dask task of their own (`batch.run_tasks`); `progress` counts the members read."""
    from ...batch import counted, member_lost, run_tasks
    from ...storage import sha256_file
    from ..artifacts.common import write_csv
    from ..artifacts.fractions import fractions_table

    min_confidence = check_min_confidence(min_confidence)
    found = run_tasks(member_probe_features, range(len(study.members)), scheduler, name="probe-features",
                      lost=member_lost(study), on_result=counted(progress, len(study.members), "read the features of"),
                      study=study, smooth=smooth, settings=settings)
    features, positions = np.concatenate([values for values, _ in found]), [xy for _, xy in found]
    labelled = study_labels(study, labels_path, positions)
    with about_file(labels_path):
        check_min_confidence(min_confidence, labelled.classes)
    result = probe(features, labelled, method, cv, random_state, params, min_confidence=min_confidence)
    tag, out_dir = probe_tag(method, smooth, min_confidence), Path(out_dir)
    names = study_probe_names(tag)
    predicted = result.predicted_names()
    table = study.identity_table(settings)
    given = np.full(len(table), "", dtype=object)
    given[labelled.rows] = np.asarray(labelled.classes)[labelled.y]
    table[LABEL], table[PROBABILITY] = predicted, np.round(result.probability.astype(np.float64), 6)
    table[GIVEN] = given
    csv_path = write_csv(out_dir / names["predictions"], table)
    order = [*result.classes, *([UNKNOWN] if result.n_unknown else [])]
    fractions = fractions_table(table[SOURCE].cat.codes, study.names, predicted, LABEL, order=order)
    outputs = {"predictions": {"name": names["predictions"], "sha256": sha256_file(csv_path)}}
    job = study_probe_job(study, labels_path, method, smooth, cv, random_state)
    return write_study_report(study, labels_path, out_dir, tag, job, result, labelled, len(features), fractions,
                              outputs, png=png, browser=browser, dpi=dpi, root=root)


def member_probe_features(index: int, study, smooth: float, settings=None) -> tuple[np.ndarray, tuple]:
    """One member's probe features and its (x, y) (a task of `run_study_probe`)."""
    from ..artifacts.cluster_study import about_member

    with about_member(study.members[index].name):
        values, _, x, y = probe_features(study.latents(index, settings), smooth)
    return values, (x, y)


def study_probe_names(tag: str) -> dict:
    return {**probe_names(tag), "fractions": f"probe_fractions__{tag}.csv",
            "fractions_figure": f"probe_fractions__{tag}.png"}


def study_probe_job(study, labels_path, method, smooth, cv, random_state) -> dict:
    return {"latents": study.name, "labels": Path(labels_path).name, "method": method, "smooth": float(smooth),
            "cv": int(cv), "random_state": int(random_state)}


def write_study_report(study, labels_path, out_dir, tag, job, result, labelled, n_rows, fractions, outputs, *, png,
                       browser, dpi, root, tally=None, run=None) -> dict:
    """The fractions (CSV, PNG), then the report of a study's probe (`outputs`: its predictions)."""
    from ...figures import NOISE_GREY
    from ..artifacts.cluster_study import study_record
    from ..artifacts.common import input_record, write_json
    from ..artifacts.fractions import fractions_record, write_fractions

    names = study_probe_names(tag)
    outputs = {**outputs, "report": {"name": names["report"]}, "figure": None,
               **write_fractions(fractions, LABEL, out_dir, names, f"predicted labels per source<br><sup>{tag}</sup>",
                                 png=png, browser=browser, dpi=dpi, colours={UNKNOWN: NOISE_GREY})}
    inputs = {"latents": [input_record(m.location, out_dir, root, sha256=m.sha256) for m in study.members],
              "labels": input_record(labels_path, out_dir, root)}
    report = probe_report(tag, job, result, labelled, n_rows, job["smooth"], study.model, inputs, outputs, tally)
    report = {**report, "study": study_record(study), "fractions": fractions_record(fractions, LABEL),
              **({"run": run} if run else {})}
    write_json(Path(out_dir) / names["report"], report)
    return report
