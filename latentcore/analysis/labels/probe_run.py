"""The probe run: labels given on some rows predicted over every row of a study (a latents file is a study of one,
`study.as_study`), in this process or as Dask tasks (`batch.run_tasks`, `scheduler`), a task per source:

1. a task per source the labels name matches them to its rows (by `row`, or by x, y on its own scan), drops those
   the quality filter removes (each scan by its own maps) and returns their features (`probe.probe_features`:
   smoothed over the source's own grid when asked);
2. this process fits and cross-validates the classifier on them (`probe.probe` on the labelled rows alone: the
   rows, folds and model of a probe over every row at once);
3. a task per source predicts each of its rows the filter keeps and writes them as one part of the predictions,
   which this process joins into one CSV, then writes the report.

`run_probe` writes into `out_dir` (`tag`: `probe.probe_tag`, then `quality_tag`):
- `probe_predictions__{tag}.csv`: `source` (a study of several), `row` (within its source), `x_um`, `y_um`
  (scans), `label` predicted (or `unknown`), `probability`, `given` (the label the row was given, or empty);
- `probe_maps__{tag}.png`: the predicted labels (unknown grey) and the confidence on the scan (one scan); for
  several sources `probe_maps__{tag}__{source}.png`, each scan's on its own grid;
- `probe_fractions__{tag}.csv` (`source, label, count, fraction`) and `.png`, a stacked bar per source (several);
- `probe_report__{tag}.json`: the probe's report (`probe.probe_report`), its quality filter, and for several
  sources the study (its members by name, SHA-256 and rows), every member as an input and the fractions.
"""
from __future__ import annotations

import contextlib
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from ...columns import GIVEN, LABEL, PROBABILITY, SOURCE
from ...errors import InputError, about_file
from ...study import written_identity
from ..artifacts.common import about_source, join_parts, study_quality, study_record
from ..quality import quality_tag
from .labelled import LabelledRows, check_classes, match_labels, read_labels_table
from .probe import (UNKNOWN, UNKNOWN_CODE, check_min_confidence, code_tally, predict_rows, predicted_names, probe,
                    probe_features, probe_names, probe_report, probe_tag)


def run_probe(latents, labels_path, out_dir, *, method: str = "logistic", smooth: float = 0.0, cv: int = 5,
              random_state: int = 0, params: dict | None = None, min_confidence: float = 0.0, quality=None,
              png: bool = True, browser="auto", dpi: float = 300, root=None, settings=None, scheduler=None,
              workers: int | None = None, progress=None) -> dict:
    """Probe every row of `latents` (a latents file's path, or a `Study`) and write the outputs (see the module's
    docstring); returns the report, which names its inputs relative to `out_dir` when they lie inside `root` (the
    workspace; None: anywhere). `quality` (a `QualityFilter`): trained on the labelled rows it keeps and predicted
    over the rows it keeps; the others are left out of the CSV. `progress(fraction, message)`."""
    from ...batch import counted, member_lost, run_tasks
    from ...study import as_study

    min_confidence = check_min_confidence(min_confidence)  # before the labels: its message names no file
    study = as_study(latents, settings)
    if quality is not None:
        quality.refuse_table(len(study.members))
    table = labels_table(study.names, labels_path)
    named = [i for i, name in enumerate(study.names) if (table[SOURCE] == name).any()]
    lost, total = member_lost(study), len(study.members)
    held = {} if scheduler is None else None  # in this process, a source's features are read and smoothed once
    parts = run_tasks(labelled_source, named, scheduler, workers, name="probe-labels", lost=lost,
                      on_result=counted(progress, len(named), "read the labelled rows of", 0.0, 0.3), study=study,
                      table=table, smooth=smooth, quality=quality, labels_path=str(labels_path), settings=settings,
                      held=held)
    given = LabelledRows.from_names(*(np.concatenate([part[key] for part in parts]) for key in ("rows", "names")))
    with about_file(labels_path):
        check_classes(given)
        labelled, features = kept_labels(parts)
        explained = (quality.explains(study_quality([part["quality"] for part in parts]), len(labelled.rows))
                     if quality is not None else contextlib.nullcontext())
        with explained:
            check_classes(labelled)  # the filter may have removed a class's labelled rows
        check_min_confidence(min_confidence, labelled.classes)
    alone = LabelledRows(np.arange(len(labelled.rows)), labelled.y, labelled.classes)
    result = probe(features, alone, method, cv, random_state, params, min_confidence=min_confidence)
    tag, out_dir = probe_tag(method, smooth, min_confidence) + quality_tag(quality), Path(out_dir)
    names = probe_names(tag)
    folder = out_dir / f"{names['predictions']}.parts"  # each source's rows, joined into one CSV when all are done
    folder.mkdir(parents=True, exist_ok=True)
    figures = {index: str(out_dir / (names["figure"] if total == 1 else source_figure_name(tag, member.name)))
               for index, member in enumerate(study.members) if png and member.coordinates}
    by_rows = rows_progress(progress, method) if scheduler is None and total == 1 else None  # one file: its rows
    try:
        written = run_tasks(predict_source, range(total), scheduler, workers, name="probe-predict", lost=lost,
                            on_result=counted(progress, total, "predicted the rows of", 0.3, 0.7), study=study,
                            result=result, labelled=labelled, smooth=smooth, quality=quality, folder=str(folder),
                            figures=figures, browser=browser, dpi=dpi, settings=settings,
                            held=held, progress=by_rows)
        csv_path = join_parts([Path(part["path"]) for part in written], out_dir / names["predictions"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    job = {"method": method, "smooth": float(smooth), "cv": int(cv), "random_state": int(random_state)}
    return write_report(study, labels_path, out_dir, tag, job, result, labelled, written, csv_path, quality,
                        png=png, browser=browser, dpi=dpi, root=root,
                        run="dask tasks, one per source" if scheduler is not None else None)


def labels_table(names: list[str], labels_path):
    """The labels table of latents of the sources `names`, read and checked: with several sources, a `source`
    column naming some of them; with one (a file), its rows (a `source` column, where given, naming it)."""
    table = read_labels_table(labels_path)
    if SOURCE not in table.columns:
        if len(names) > 1:
            raise InputError(f"a study's labels name each row's source: give a table with columns source,row,label "
                             f"or source,x_um,y_um,label (the sources: {', '.join(names)})", labels_path)
        return table.assign(**{SOURCE: names[0]})
    table = table.assign(**{SOURCE: table[SOURCE].astype(str)})  # a source named `1` is read as a number
    others = sorted(set(table[SOURCE]) - set(names))
    if others:
        raise InputError(f"the labels name the source {others[0]!r}, which these latents do not hold: label rows "
                         f"of their sources ({', '.join(names)})", labels_path)
    return table


def labels_of(latents, labels_path) -> LabelledRows:
    """The rows of a latents file or a study (a `Latents`: its `sources()`) a labels table names, by each source's
    `row` or its x, y, as the latents' row ids (a study's rows: each source's after those before it): an upload's
    labels."""
    found = latents.sources()
    table = labels_table([source.name for source in found], labels_path)
    rows, names = [], []
    for source in found:
        part = table[table[SOURCE] == source.name]
        if len(part):
            matched = match_labels(part, source.rows, source.x, source.y, labels_path)
            rows.append(matched.rows + source.start)
            names.append(matched.names)
    labelled = LabelledRows.from_names(np.concatenate(rows), np.concatenate(names))
    with about_file(labels_path):
        check_classes(labelled)
    return labelled


def source_rows(index: int, study, smooth: float, quality, settings=None, held: dict | None = None):
    """(latents, features, x, y, the rows the quality filter keeps or None) of one source; taken out of `held`
    where a task before put them."""
    if held is not None and index in held:
        return held.pop(index)
    latents = study.latents(index, settings)
    features, _, x, y = probe_features(latents, smooth)
    kept = None if quality is None else quality.rows_kept(latents.point_maps, x, y, study.members[index].location)
    return latents, features, x, y, kept


def labelled_source(index: int, study, table, smooth: float, quality, labels_path: str, settings=None,
                    held: dict | None = None) -> dict:
    """Task: the rows of one source the labels name (as the study's rows), their names, whether the quality filter
    keeps each, and the features of those it keeps; with the filter's record on this source. Its rows are put in
    `held` (a dict, in this process) for `predict_source`."""
    with about_source(study, index):
        found = source_rows(index, study, smooth, quality, settings)
        _, features, x, y, kept = found
        if held is not None:
            held[index] = found
        found = match_labels(table[table[SOURCE] == study.names[index]], len(features), x, y, labels_path)
    inside = np.ones(len(found.rows), bool) if kept is None else kept[found.rows]
    return {"rows": study.global_rows(index, found.rows), "names": found.names, "kept": inside,
            "features": np.asarray(features[found.rows[inside]]),
            "quality": None if kept is None else quality.record(kept)}


def kept_labels(parts: list) -> tuple[LabelledRows, np.ndarray]:
    """The labelled rows the filter keeps, over every source (sorted, as `LabelledRows` keeps them), and their
    features in that order."""
    kept = np.concatenate([part["kept"] for part in parts])
    rows = np.concatenate([part["rows"] for part in parts])[kept]
    labelled = LabelledRows.from_names(rows, np.concatenate([part["names"] for part in parts])[kept])
    features = np.concatenate([part["features"] for part in parts])
    return labelled, features[np.argsort(rows, kind="stable")]


def predict_source(index: int, study, result, labelled: LabelledRows, smooth: float, quality, folder: str,
                   figures: dict | None = None, browser="auto", dpi: float = 300, settings=None,
                   held: dict | None = None, progress=None) -> dict:
    """Task: one source's rows the filter keeps predicted by the fitted probe, written as `<folder>/<index>.csv`,
    and its maps drawn at `figures[index]` (a path) when it names one; returns the part's path, its rows of each
    predicted code and the filter's record."""
    from ..artifacts.common import write_csv

    with about_source(study, index):
        latents, features, x, y, kept = source_rows(index, study, smooth, quality, settings, held)
    if kept is not None:  # removed rows: no features to predict from
        features = np.where(kept[:, None], features, np.nan)
    predicted, probabilities = predict_rows(result.model, features, len(result.classes), result.min_confidence,
                                            progress)
    probability = probabilities.max(axis=1)
    table = written_identity(study, index, latents)
    first = int(study.offsets[index])
    mine = (labelled.rows >= first) & (labelled.rows < first + len(table))
    given = np.full(len(table), "", dtype=object)
    given[labelled.rows[mine] - first] = labelled.names[mine]
    table[LABEL] = predicted_names(predicted, result.classes)
    table[PROBABILITY], table[GIVEN] = np.round(probability.astype(np.float64), 6), given
    path = write_csv(Path(folder) / f"{index:06d}.csv", table if kept is None else table[kept])
    figure = (figures or {}).get(index)
    named = f"{study.members[index].name}: " if len(study.members) > 1 else ""
    engine = None if figure is None else draw_maps(figure, latents, x, y, predicted, probability, result, browser,
                                                   dpi, named)
    return {"path": str(path), "tally": code_tally(predicted), "figure": engine and {"name": Path(figure).name,
                                                                                     "engine": engine},
            "quality": None if kept is None else quality.record(kept)}


def draw_maps(path, latents, x, y, predicted, probability, result, browser, dpi, named: str = "") -> str:
    """One scan's predicted labels and confidence drawn as a PNG at `path` (its title after `named`); returns the
    engine that drew it."""
    from ...figures import write_png
    from ...figures.labels import probe_maps
    from ..maps import Grid

    fig = probe_maps(x, y, predicted, probability, Grid.from_coordinates(x, y, latents.grid_shape), result.classes,
                     units=latents.units,
                     title=f"{named}{result.method} probe: cross-validated accuracy {result.cv['accuracy_mean']:.3f}")
    return write_png(fig, path, browser=browser, dpi=dpi)


def rows_progress(progress, method: str):
    """`predict_rows`' progress of one source's rows, as `progress(fraction, message)` over the run's last 70%."""
    if progress is None:
        return None
    return lambda done, total: progress(0.3 + 0.7 * done / max(total, 1),
                                        f"{method} probe: {done:,} of {total:,} rows predicted")


def write_report(study, labels_path, out_dir, tag, job, result, labelled, written, csv_path, quality, *, png,
                 browser, dpi, root, run) -> dict:
    """The report (and for several sources the fractions, CSV and PNG) of a probe run (`job`: its parameters)."""
    from ...figures import NOISE_GREY
    from ...storage import sha256_file
    from ..artifacts.common import input_record, latents_record, write_json
    from ..artifacts.fractions import counts_table, fractions_record, write_fractions

    names = fraction_names(tag)
    tally = sum((Counter(part["tally"]) for part in written), Counter())
    outputs = {"predictions": {"name": csv_path.name, "sha256": sha256_file(csv_path)},
               "report": {"name": names["report"]}}
    if len(written) == 1:
        outputs["figure"] = written[0]["figure"]
    else:
        outputs["source_figures"] = {name: part["figure"] for name, part in zip(study.names, written) if part["figure"]}
    several = len(study.members) > 1
    latents = latents_record(study, out_dir, root)
    inputs = {"latents": latents, "labels": input_record(labels_path, out_dir, root)}
    job = {"latents": study.name if several else latents["name"], "labels": Path(labels_path).name, **job}
    extra = {"quality": study_quality([part["quality"] for part in written])}
    if several:
        codes, order = list(range(len(result.classes))), list(result.classes)
        if tally[UNKNOWN_CODE]:
            codes, order = [*codes, UNKNOWN_CODE], [*order, UNKNOWN]
        fractions = counts_table(study.names, order, [[part["tally"].get(code, 0) for code in codes]
                                                      for part in written], LABEL)
        outputs.update(write_fractions(fractions, LABEL, out_dir, names,
                                       f"predicted labels per source<br><sup>{tag}</sup>", png=png, browser=browser,
                                       dpi=dpi, colours={UNKNOWN: NOISE_GREY}))
        extra.update(study=study_record(study), fractions=fractions_record(fractions, LABEL))
    report = probe_report(tag, job, result, labelled, study.rows, job["smooth"], study.model, inputs, outputs,
                          dict(tally))
    report = {**report, **extra, **({"run": run} if run else {})}
    write_json(Path(out_dir) / names["report"], report)
    return report


def source_figure_name(tag: str, source: str) -> str:
    """`probe_maps__{tag}__{source}.png`: a study's source's predicted labels and their probability."""
    return f"probe_maps__{tag}__{source}.png"


def fraction_names(tag: str) -> dict:
    """The run's file names (`probe.probe_names`) with a study's fractions, CSV and PNG."""
    return {**probe_names(tag), "fractions": f"probe_fractions__{tag}.csv",
            "fractions_figure": f"probe_fractions__{tag}.png"}
