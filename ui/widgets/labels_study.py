"""The labels panel's prediction on a study (`ui.widgets.labels`, whose probe is the one run of a file and a study,
`latentcore.analysis.labels.probe_run`): each source's predicted labels drawn on its own map, and how much of each
label is in each source, shown and downloadable."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from latentcore.analysis.labels.probe import UNKNOWN
from latentcore.analysis.labels.probe_run import fraction_names
from latentcore.columns import LABEL
from latentcore.figures import NOISE_GREY, cluster_hue

from . import study


def predicted_panel(lat, result: dict, out: Path, key: str):
    """A study's probe (`labelling.probe`'s result): each source's predicted labels on its map, and how much of
    each label is in each source (the fractions' table, bars and downloads)."""
    classes, report = list(result["classes"]), result["report"]
    colours = {**{name: cluster_hue(k) for k, name in enumerate(classes)}, UNKNOWN: NOISE_GREY}
    study.source_maps(source_label_maps(lat, result["predicted"], classes), f"{key}_predicted", lat.units,
                      "predicted labels")
    st.markdown("**How much of each predicted label is in each source**")
    study.fractions_panel(result["fractions"], LABEL, fraction_names(report["tag"]), out, f"{key}_predicted",
                          f"predicted labels per source<br><sup>{report['tag']}</sup>", colours)


def source_label_maps(lat, predicted, classes) -> list:
    """Each scan's predicted labels (`predicted`: each row's code, `probe.NO_FEATURES_CODE`, `UNKNOWN_CODE`) on its
    own grid, in the labels' colours (`study.source_maps`'s entries)."""
    from latentcore.analysis.maps import Grid, values_map

    from ..figures.plots import categorical_colour

    codes = np.where(predicted >= 0, predicted, -1)  # unknown, or removed by the quality filter
    maps = []
    for index, (name, member) in enumerate(zip(lat.names, lat.members)):
        if member.x is None:
            continue
        colour = categorical_colour(codes[lat.offsets[index]:lat.offsets[index + 1]], LABEL, names=classes,
                                    noise_name=UNKNOWN)
        grid = Grid.from_coordinates(member.x, member.y, member.grid_shape)
        maps.append((name, grid, values_map(colour.codes.astype(np.float32), member.x, member.y, grid), colour))
    return maps
