"""The labels panel on a study (`ui.widgets.labels`): the labels table names each row by `source` and `row` (its
row within its source; `x_um`, `y_um` beside), rows labelled on one scan are predicted over every source
(`latentcore.analysis.labels.probe_study`), and how much of each predicted label is in each source is shown and
downloadable."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from latentcore.analysis.labels.probe import UNKNOWN
from latentcore.analysis.labels.probe_study import study_probe_names
from latentcore.columns import LABEL
from latentcore.figures import NOISE_GREY, cluster_hue

from ..compute import labelling, sources
from ..session import lifecycle
from . import common, study


def labels_table(lat, labelled):
    """`source, row, x_um, y_um, label` of the labelled rows of the study `lat` (a `StudyLatents`), in row order."""
    table = lat.identity.iloc[labelled.rows].reset_index(drop=True)  # `LabelledRows` keeps its rows sorted
    return table.assign(source=table["source"].astype(str), **{LABEL: np.asarray(labelled.names, dtype=str)})


def matched(lat, path):
    """The study's rows an uploaded `source,row,label` (or `source,x_um,y_um,label`) table names."""
    from latentcore.analysis.labels.probe_study import study_labels

    return study_labels(lat.study, path, [(member.x, member.y) for member in lat.members])


def predict(lat_stamp: tuple, lat, labels_path: Path, method: str, smooth: float, min_confidence: float, key: str):
    """The probe over every row of the study, its accuracy, each source's predicted labels on its map and the
    per-source fractions, with the predictions (`source, row, x_um, y_um, label, probability, given`) to download."""
    out = lifecycle.results_dir("probe", lat_stamp[0])
    with common.user_errors():
        result = labelling.study_probe(lat_stamp, sources.stamp(labels_path), method, smooth, str(out),
                                       min_confidence)
    report = result["report"]
    cv = report["cross_validation"]
    cols = st.columns(3)
    cols[0].metric("Cross-validated accuracy", f"{cv['accuracy_mean']:.3f}",
                   help=f"± {cv['accuracy_std']:.3f} over {cv['n_splits']} folds of the labelled rows")
    cols[1].metric("Labelled rows", f"{report['n_labelled']:,}")
    cols[2].metric("Rows predicted", f"{report['n_rows']:,}", help=f"over {len(lat.names)} sources")
    classes = list(report["classes"])
    colours = {**{name: cluster_hue(k) for k, name in enumerate(classes)}, UNKNOWN: NOISE_GREY}
    study.source_maps(source_label_maps(lat, result["predicted"], classes), f"{key}_predicted", lat.units,
                      "predicted labels")
    st.markdown("**How much of each predicted label is in each source**")
    outputs = report["outputs"]
    names = study_probe_names(report["tag"])  # the fractions' CSV, and their PNG drawn when asked
    study.fractions_panel(result["fractions"], LABEL, names, out, f"{key}_predicted",
                          f"predicted labels per source<br><sup>{report['tag']}</sup>", colours)
    for kind in ("predictions", "report"):
        study.download(out / outputs[kind]["name"], f"{key}_dl_{kind}")


def source_label_maps(lat, predicted, classes) -> list:
    """Each scan's predicted labels on its own grid, in the labels' colours (`study.source_maps`'s entries)."""
    from latentcore.analysis.maps import Grid, values_map

    from ..figures.plots import categorical_colour

    codes = pd.Categorical(predicted, categories=classes).codes.astype(np.int64)  # -1: unknown
    maps = []
    for index, (name, member) in enumerate(zip(lat.names, lat.members)):
        if member.x is None:
            continue
        colour = categorical_colour(codes[lat.offsets[index]:lat.offsets[index + 1]], LABEL, names=classes,
                                    noise_name=UNKNOWN)
        grid = Grid.from_coordinates(member.x, member.y, member.grid_shape)
        maps.append((name, grid, values_map(colour.codes.astype(np.float32), member.x, member.y, grid), colour))
    return maps
