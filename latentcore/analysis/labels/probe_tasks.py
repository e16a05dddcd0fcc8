"""The probe over a study as Dask tasks (`probe --scheduler`): no process holds every row of the study.

1. A task per source the labels name matches them to its rows (by `row`, or by x, y on its own scan) and returns
   those rows' features (`probe.probe_features`: smoothed over its own grid when asked);
2. this process fits and cross-validates the classifier on them (`probe.probe` over the labelled rows alone: the
   same rows, folds and model as the in-process probe of the study);
3. a task per source predicts every one of its rows (`probe.predict_rows`) and writes
   `probe_predictions__{tag}/{source}.csv` (the columns of the one CSV of `probe_study`) atomically, returning the
   rows of each predicted label, from which this process writes the fractions (CSV, PNG) and, last, the report.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ...columns import GIVEN, LABEL, PROBABILITY, SOURCE
from ...errors import about_file
from ...study import member_identity
from .labelled import LabelledRows, check_classes, match_labels
from .probe import (UNKNOWN, UNKNOWN_CODE, check_min_confidence, code_tally, predict_rows, predicted_names, probe,
                    probe_features, probe_tag)
from .probe_study import study_labels_table, study_probe_job, write_study_report


def labelled_source(index: int, study, table, smooth: float, labels_name: str, settings=None) -> dict:
    """Task: the rows of one source the labels table names, as the study's rows, with their names and features."""
    from ..artifacts.cluster_study import about_member

    with about_member(study.members[index].name):
        features, _, x, y = probe_features(study.latents(index, settings), smooth)
        labelled = match_labels(table[table[SOURCE] == study.names[index]], len(features), x, y, labels_name)
    return {"rows": study.global_rows(index, labelled.rows), "names": labelled.names,
            "features": np.asarray(features[labelled.rows])}


def predict_source(index: int, study, result, labelled: LabelledRows, smooth: float, folder: str,
                   settings=None) -> dict:
    """Task: one source's rows predicted by the fitted probe and written as `<folder>/<source>.csv`."""
    from ...storage import sha256_file
    from ..artifacts.common import write_csv

    latents = study.latents(index, settings)
    features, _, _, _ = probe_features(latents, smooth)
    predicted, probabilities = predict_rows(result.model, features, len(result.classes), result.min_confidence)
    table = member_identity(study, index, latents)
    given = np.full(len(table), "", dtype=object)
    first = int(study.offsets[index])
    mine = (labelled.rows >= first) & (labelled.rows < first + len(table))
    given[labelled.rows[mine] - first] = labelled.names[mine]
    table[LABEL] = predicted_names(predicted, result.classes)
    table[PROBABILITY] = np.round(probabilities.max(axis=1).astype(np.float64), 6)
    table[GIVEN] = given
    path = write_csv(Path(folder) / f"{study.names[index]}.csv", table)
    return {"source": study.names[index], "name": f"{Path(folder).name}/{path.name}", "sha256": sha256_file(path),
            "rows": len(table), "tally": code_tally(predicted)}


def run_study_probe_tasks(study, labels_path, out_dir, scheduler, workers: int | None = None, *,
                          method: str = "logistic", smooth: float = 0.0, cv: int = 5, random_state: int = 0,
                          params: dict | None = None, min_confidence: float = 0.0, png: bool = True, browser="auto",
                          dpi: float = 300, root=None, settings=None) -> dict:
    """Probe every row of `study` as Dask tasks (see the module's docstring); returns the report."""
    from ...batch import member_lost, run_tasks
    from ..artifacts.fractions import counts_table

    min_confidence = check_min_confidence(min_confidence)
    table = study_labels_table(study, labels_path)
    named = [i for i, name in enumerate(study.names) if (table[SOURCE] == name).any()]

    lost = member_lost(study)
    parts = run_tasks(labelled_source, named, scheduler, workers, name="probe-labels", lost=lost, study=study,
                      table=table, smooth=smooth, labels_name=str(labels_path), settings=settings)
    rows = np.concatenate([part["rows"] for part in parts])
    order = np.argsort(rows, kind="stable")  # LabelledRows keeps its rows sorted: the features follow them
    labelled = LabelledRows.from_names(rows, np.concatenate([part["names"] for part in parts]))
    with about_file(labels_path):
        check_classes(labelled)
        check_min_confidence(min_confidence, labelled.classes)
    features = np.concatenate([part["features"] for part in parts])[order]
    alone = LabelledRows(np.arange(len(labelled.rows)), labelled.y, labelled.classes)
    result = probe(features, alone, method, cv, random_state, params, min_confidence=min_confidence)
    tag = probe_tag(method, smooth, min_confidence)
    folder = Path(out_dir) / f"probe_predictions__{tag}"
    folder.mkdir(parents=True, exist_ok=True)
    written = run_tasks(predict_source, range(len(study.members)), scheduler, workers, name="probe-predict",
                        lost=lost, study=study, result=result, labelled=labelled, smooth=smooth, folder=str(folder),
                        settings=settings)
    tally = sum((Counter(part["tally"]) for part in written), Counter())
    codes, order = list(range(len(result.classes))), list(result.classes)
    if tally[UNKNOWN_CODE]:
        codes, order = [*codes, UNKNOWN_CODE], [*order, UNKNOWN]
    fractions = counts_table(study.names, order, [[part["tally"].get(code, 0) for code in codes] for part in written],
                             LABEL)
    outputs = {"predictions": {"name": folder.name, "kind": "folder",
                               "files": [{key: part[key] for key in ("source", "name", "sha256", "rows")}
                                         for part in written]}}
    job = study_probe_job(study, labels_path, method, smooth, cv, random_state)
    return write_study_report(study, labels_path, out_dir, tag, job, result, labelled, study.rows,
                              fractions, outputs, png=png, browser=browser, dpi=dpi, root=root, tally=dict(tally),
                              run="dask tasks, one per source")
