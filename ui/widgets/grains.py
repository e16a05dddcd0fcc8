"""The Latent maps page's grain table: the scan's grains from the latents' orientations (`scan_maps.grains`, as
`python -m latentcore grains SCAN --latents LATENTS`), ranked by the spread of their latents (internally
inhomogeneous grains first: deformation, sub-grains), with the label most of each grain has (the labels panel's;
else the Clusters page's last clustering), downloadable as CSV. Picking a grain by its id makes its pixels the
session's selection, so every linked panel of every page shows it (the table's rows select nothing: points are
selected on the point panels, a grain by its id).

    grains_panel(lat_stamp, lat, boundary_deg)     nothing where the latents hold no orientations
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from latentcore.analysis.artifacts.common import write_csv
from latentcore.analysis.ebsd.grains import MEAN_NOTE, grains_names, with_classes
from latentcore.analysis.ebsd.scan_points import row_classes
from latentcore.analysis.labels.labelled import from_clustering
from latentcore.columns import CLUSTER, GRAIN, LABEL, LATENT_NORM, LATENT_SPREAD, POINTS

from ..compute import scan_maps
from ..session import state
from . import common

ORIGIN = "maps_grains"  # the selection's origin (`settings.ORIGINS`)


def grains_panel(lat_stamp: tuple, lat, boundary_deg: float):
    """The table, the grain picker and the CSV download, below a "Grains" heading."""
    if lat.orientations is None or lat.x is None:
        return
    st.subheader("Grains")
    with common.user_errors():
        found = scan_maps.grains(lat_stamp, boundary_deg)
    table, classes_said = _with_classes(found["table"], found["grain_of_row"], len(lat.x))
    st.caption(f"{len(table):,} grains: edge neighbours misoriented by at most {boundary_deg:g}° (the boundary "
               "angle), over the whole scan; areas and diameters in the scan's unit. Ranked by the spread of their "
               "latents (the mean distance of a grain's latent vectors to their mean): internally inhomogeneous grains "
               f"(deformation, sub-grains) first. {classes_said}Enter a grain's id below to select its pixels on "
               f"every page. GOS: grain orientation spread; {MEAN_NOTE}.")
    shown = [c for c in table.columns if not c.startswith("latent_") or c in (LATENT_SPREAD, LATENT_NORM)]
    st.dataframe(table, column_order=shown, hide_index=True)
    cols = st.columns([1, 1, 2], vertical_alignment="bottom")
    grain = cols[0].number_input("Grain", 0, max(len(table) - 1, 0), state.setting("maps_grain", 0,
                                 bounds=(0, max(len(table) - 1, 0))), key="maps_grain")
    if cols[1].button("Select its pixels", key="maps_grain_select"):
        _select(int(grain), found["grain_of_row"])
    _said_selected(found["grain_of_row"], table, cols[2])
    stem = Path(str(lat.attrs.get("source") or lat.path)).stem
    target = state.results_dir("maps", lat_stamp[0]) / grains_names(stem)["table"]
    st.download_button(f"Grain table (CSV, {len(table):,} grains)", lambda: write_csv(target, table).read_bytes(),
                       file_name=target.name, mime="text/csv", key="maps_grains_dl", on_click="ignore",
                       icon=":material/download:", help="Every column, each latent dimension's mean (`latent_<d>`) "
                                                        "too, as `python -m latentcore grains` writes it.")


def _with_classes(table, grain_of_row: np.ndarray, n_rows: int):
    """The table with the label most of each grain has (the labels panel's; else the last clustering's), and what
    the caption says of it."""
    labelled = state.labels()
    if len(labelled.rows) and labelled.rows.max() < n_rows:
        return with_classes(table, grain_of_row, row_classes(labelled, n_rows, LABEL)), \
            "`label`: the label most of the grain's pixels have (`class_fraction`: their share). "
    clusters = state.last_clusters()
    if clusters is not None and len(clusters["rows"]) and clusters["rows"].max() < n_rows:
        clustering = from_clustering(clusters["rows"], clusters["labels"])
        return with_classes(table, grain_of_row, row_classes(clustering, n_rows, CLUSTER)), \
            "`cluster`: the Clusters page's cluster most of the grain's pixels are in. "
    return table, ""


def _select(grain: int, grain_of_row: np.ndarray):
    rows = np.flatnonzero(grain_of_row == grain)
    if len(rows) and not np.array_equal(rows, state.selection()):
        state.set_selection(rows, origin=ORIGIN)
        st.rerun()


def _said_selected(grain_of_row: np.ndarray, table, where):
    chosen = state.selection()
    if state.selection_origin() == ORIGIN and len(chosen):
        grain = int(grain_of_row[chosen[0]])
        points = int(table.loc[table[GRAIN] == grain, POINTS].iloc[0])
        where.caption(f"Selected: grain {grain} ({points:,} pixels).")
