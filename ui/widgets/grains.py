"""The Latent maps page's grain table: the scan's grains from the latents' orientations (`scan_maps.grains`, as
`python -m latentcore grains SCAN --latents LATENTS`), with MTEX's reconstruction options (a minimum grain size, not-
indexed pixels filled from their neighbours: both off by default, said under the table with what they changed) and
the share of each grain's boundary that is a Σ3 twin, ranked by the spread of their latents (internally
inhomogeneous grains first: deformation, sub-grains), with the label most of each grain has (the labels panel's; else
the Clusters page's last clustering), downloadable as CSV; under it the scan's grain-size and GOS distributions
(figure, CSV, PNG at the sidebar's dpi, the report JSON: the files `grains` writes). Picking a grain by its id makes
its pixels the session's selection, so every linked panel of every page shows it (the table's rows select nothing:
points are selected on the point panels, a grain by its id).

On a study of several scans, `study_grains_panel` sets every source's grains side by side (a summary row per source,
each source's distributions over the same bins: the files `grains STUDY` writes), asked for by a toggle.

    grains_panel(lat_stamp, lat, boundary)   nothing where the latents hold no orientations; `boundary`: the page's
                                             boundary angle and Σ3 tolerance (`references.boundary_parameters`);
                                             returns the grains' parameters (None: no grains)
    study_grains_panel(session_stamp, parameters)   nothing unless the session's latents are a study of several
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from latentcore.analysis.artifacts.common import input_record, write_csv
from latentcore.analysis.ebsd.grains import (MEAN_NOTE, Grains, grain_distributions, grain_summary, grains_names,
                                             study_input_records, with_classes, write_grains)
from latentcore.analysis.ebsd.records import (FILL_NOT_INDEXED, GRAIN_PARAMETERS, MIN_GRAIN_POINTS,
                                              ORIENTATION_MAP_PARAMETERS)
from latentcore.analysis.ebsd.scan_points import row_classes
from latentcore.analysis.labels.labelled import LabelledRows, from_clustering
from latentcore.columns import CLUSTER, GRAIN, LABEL, LATENT_NORM, LATENT_SPREAD, POINTS, SOURCE, TWIN_FRACTION
from latentcore.figures.grain_figures import distributions_figure

from ..compute import scan_maps, sources
from ..figures import png
from ..session import defaults, lifecycle, state, workspace
from . import common, params

ORIGIN = "maps_grains"  # the selection's origin (`settings.ORIGINS`)


def grains_panel(lat_stamp: tuple, lat, boundary: dict, first_row: int = 0):
    """The reconstruction options, the table, the grain picker, the CSV download and the distributions, below a
    "Grains" heading; the KAM at the default order and threshold (the reference maps' widgets are theirs).
    `first_row`: the latents' first row among the session's (a study's source: its start): a grain picked selects the
    study's rows, and the labels and clusters of the study's rows name the grains."""
    if lat.orientations is None or lat.x is None:
        return None
    st.subheader("Grains")
    with common.user_errors():
        parameters = params.checked(GRAIN_PARAMETERS, **boundary, **_options())
        found = scan_maps.grains(lat_stamp, parameters)
    boundary_deg, twin_tolerance_deg = parameters.boundary_deg, parameters.twin_tolerance_deg
    table, classes_said = _with_classes(found["table"], found["grain_of_row"], len(lat.x), first_row)
    shown = [c for c in table.columns if not c.startswith("latent_") or c in (LATENT_SPREAD, LATENT_NORM)]
    st.dataframe(table, column_order=shown, hide_index=True)
    st.caption(f"{len(table):,} grains: edge neighbours misoriented by at most {boundary_deg:g}° (the boundary "
               f"angle), over the whole scan{_reconstruction_said(found)}; areas and diameters in the scan's unit. "
               "Ranked by the spread of their latents (the mean distance of a grain's latent vectors to their mean): "
               f"internally inhomogeneous grains (deformation, sub-grains) first. {classes_said}"
               f"`{TWIN_FRACTION}`: the share of the grain's boundary with other grains that is a Σ3 twin boundary "
               f"(within {twin_tolerance_deg:.2f}° of 60° about <111>; cubic phases only, empty for others). Enter a "
               f"grain's id below to select its pixels on every page. GOS: grain orientation spread; {MEAN_NOTE}.")
    cols = st.columns([1, 1, 2], vertical_alignment="bottom")
    grain = cols[0].number_input("Grain", 0, max(len(table) - 1, 0), defaults.setting("maps_grain", 0,
                                 bounds=(0, max(len(table) - 1, 0))), key="maps_grain")
    if cols[1].button("Select its pixels", key="maps_grain_select"):
        _select(int(grain), found["grain_of_row"], first_row)
    _said_selected(found["grain_of_row"], table, cols[2], first_row)
    stem = Path(str(lat.attrs.get("source") or lat.path)).stem
    out, names = lifecycle.results_dir("maps", lat_stamp[0]), grains_names(stem)
    st.download_button(f"Grain table (CSV, {len(table):,} grains)",
                       lambda: write_csv(out / names["table"], table).read_bytes(), file_name=names["table"],
                       mime="text/csv", key="maps_grains_dl", on_click="ignore", icon=":material/download:",
                       help="Every column, each latent dimension's mean (`latent_<d>`) too, as `python -m latentcore "
                            "grains` writes it.")
    _distributions(Grains(**{**found, "table": table}), lat_stamp[0], stem, out)
    return parameters


def study_grains_panel(session_stamp: tuple, parameters):
    """Every source's grains side by side, on a study of several scans, once its toggle is on: the summary per source,
    the distributions (each source's share of its grains over the same bins) and the files `grains STUDY` writes
    (`parameters`: the grain table's above, so both tables are found alike)."""
    members = sources.study_sources(session_stamp)
    if not members:
        return
    st.subheader("Grains of the study's sources")
    if not st.toggle("Grains of every source, side by side", key="maps_study_grains",
                     value=defaults.setting("maps_study_grains", False),
                     help="Each source's grains found as above, on its own grid: how the samples compare in grain "
                          "size, GOS and KAM."):
        return
    study = sources.study(session_stamp)
    with common.user_errors():
        found = Grains(**scan_maps.study_grains(session_stamp, study.rows, parameters))
    summary = grain_summary(found.table, found.units)
    st.dataframe(summary, hide_index=True)
    bins = grain_distributions(found.table, found.units, SOURCE, found.boundaries)
    figure = distributions_figure(bins, found.units, title=f"Grain size, GOS and boundary misorientation "
                                                           f"distributions of the study {study.name} "
                                                           f"({len(found.table):,} grains)")
    st.plotly_chart(figure, key="maps_study_grain_distributions", config={"displaylogo": False})
    st.caption(f"{len(found.table):,} grains in {len(members)} sources, each found on its own grid with the options "
               "above; a row per source: its grains, their points, the mean and the area-weighted mean equivalent "
               "circle diameter, the median GOS and the mean KAM. Lines: each source's share of its grains per bin, "
               "over the same bins for every source (the CSV adds each bin's share of the area); the boundary "
               "misorientations: each source's share of its grain boundary segments per degree.")
    out, names, dpi = lifecycle.results_dir("maps", session_stamp[0]), grains_names(study.name), state.png_dpi()

    def written(kind: str):  # the file as `grains STUDY` writes it, with the report beside it, when asked for
        def data() -> bytes:
            inputs = study_input_records(out, session_stamp[0], study, workspace.WORKDIR_ROOT)
            return write_grains(found, out, study.name, inputs, study=study)[kind].read_bytes()
        return data

    for column, (kind, label, mime) in zip(st.columns(5), [
            ("summary", "Summary (CSV)", "text/csv"), ("table", "Every grain (CSV)", "text/csv"),
            ("distributions", "Distributions (CSV)", "text/csv"), ("figure", f"Distributions (PNG, {dpi} dpi)",
                                                                    "image/png"),
            ("report", "Report (JSON)", "application/json")]):
        data = (lambda: png.figure_png(figure, str(out / names["figure"]), dpi)) if kind == "figure" else written(kind)
        column.download_button(label, data, file_name=names[kind], mime=mime, key=f"maps_study_grains_dl_{kind}",
                               on_click="ignore", icon=":material/download:")


def _options() -> dict:
    """The grain table's own parameters, MTEX's reconstruction options (`GRAIN_PARAMETERS` beyond the reference
    maps': `--min-grain-points` and `--fill-not-indexed`), both off by default: name -> value."""
    own = [p for p in GRAIN_PARAMETERS if p not in ORIENTATION_MAP_PARAMETERS]
    return {p.name: params.parameter(p, "maps", column)
            for p, column in zip(own, st.columns([1, 1, 2], vertical_alignment="bottom"))}


def _reconstruction_said(found: dict) -> str:
    """The reconstruction options in use and what they changed, as the report records them."""
    parameters, changed = found["parameters"], found["reconstruction"]
    said = []
    if parameters[FILL_NOT_INDEXED.name]:
        said.append(f"not-indexed pixels filled from their neighbours ({changed['pixels_filled']:,} pixels, in the "
                    "grains' points and area, not in their orientations)")
    if parameters[MIN_GRAIN_POINTS.name]:
        said.append(f"grains of fewer than {parameters[MIN_GRAIN_POINTS.name]:,} indexed points dissolved into their "
                    f"neighbours ({changed['grains_dissolved']:,} grains, {changed['pixels_reassigned']:,} pixels)")
    return "; " + " and ".join(said) if said else " (no minimum grain size, not-indexed pixels in no grain)"


def _distributions(found: Grains, latents_path, stem: str, out: Path):
    """The grain-size, GOS and boundary misorientation distributions: the figure, and the files `grains` writes (CSV,
    PNG, the report)."""
    bins = grain_distributions(found.table, found.units, boundaries=found.boundaries)
    figure = distributions_figure(bins, found.units, title=f"Grain size, GOS and boundary misorientation "
                                                           f"distributions ({len(found.table):,} grains)")
    st.plotly_chart(figure, key="maps_grain_distributions", config={"displaylogo": False})
    st.caption("Bars: each bin's share of the grains (as MTEX's histogram(grains.grainSize) counts them) and of their "
               "area (area-weighted); bins of one round width from 0. Every grain counts, grains of one pixel too: a "
               "minimum grain size above leaves them out. Boundary misorientation: each degree's share of the grain "
               "boundary segments (an edge between pixels of two grains of one phase), as MTEX's "
               "plotAngleDistribution(grains.boundary.misorientation).")
    names, dpi = grains_names(stem), state.png_dpi()

    def written(kind: str):  # the file as the command writes it, with the report beside it, when asked for
        def data() -> bytes:
            inputs = {"latents": input_record(latents_path, out, workspace.WORKDIR_ROOT)}
            return write_grains(found, out, stem, inputs)[kind].read_bytes()
        return data

    cols = st.columns(3)
    cols[0].download_button("Distributions (CSV)", written("distributions"), file_name=names["distributions"],
                            mime="text/csv", key="maps_grains_dl_bins", on_click="ignore", icon=":material/download:")
    cols[1].download_button(f"Distributions (PNG, {dpi} dpi)",
                            lambda: png.figure_png(figure, str(out / names["figure"]), dpi), file_name=names["figure"],
                            mime="image/png", key="maps_grains_dl_png", on_click="ignore",
                            icon=":material/download:")
    cols[2].download_button("Report (JSON)", written("report"), file_name=names["report"], mime="application/json",
                            key="maps_grains_dl_json", on_click="ignore", icon=":material/download:",
                            help="The parameters (the reconstruction options too) and what they changed, the latents "
                                 "by SHA-256, the notes, as `python -m latentcore grains` writes it.")


def _with_classes(table, grain_of_row: np.ndarray, n_rows: int, first_row: int):
    """The table with the label most of each grain has (the labels panel's; else the last clustering's), and what
    the caption says of it: the labels and clusters of the session's rows `first_row` to `first_row + n_rows`."""
    labelled = state.labels()
    if len(labelled.rows) and (first_row or labelled.rows.max() < n_rows):  # one file: labels of other data left out
        mine = _own(labelled.rows, first_row, n_rows)
        labelled = LabelledRows.from_codes(labelled.rows[mine] - first_row, labelled.y[mine], labelled.classes)
        return with_classes(table, grain_of_row, row_classes(labelled, n_rows, LABEL)), \
            "`label`: the label most of the grain's pixels have (`class_fraction`: their share). "
    clusters = state.last_clusters()
    if clusters is not None and len(clusters["rows"]) and (first_row or clusters["rows"].max() < n_rows):
        mine = _own(clusters["rows"], first_row, n_rows)
        clustering = from_clustering(clusters["rows"][mine] - first_row, clusters["labels"][mine])
        return with_classes(table, grain_of_row, row_classes(clustering, n_rows, CLUSTER)), \
            "`cluster`: the Clusters page's cluster most of the grain's pixels are in. "
    return table, ""


def _own(rows: np.ndarray, first_row: int, n_rows: int) -> np.ndarray:
    """Which of the session's `rows` are this scan's (rows `first_row` to `first_row + n_rows`)."""
    return (rows >= first_row) & (rows < first_row + n_rows)


def _select(grain: int, grain_of_row: np.ndarray, first_row: int):
    rows = np.flatnonzero(grain_of_row == grain) + first_row
    if len(rows) and not np.array_equal(rows, state.selection()):
        state.set_selection(rows, origin=ORIGIN)
        st.rerun()


def _said_selected(grain_of_row: np.ndarray, table, where, first_row: int):
    chosen = state.selection()
    if state.selection_origin() == ORIGIN and len(chosen) and _own(chosen[:1], first_row, len(grain_of_row))[0]:
        grain = int(grain_of_row[chosen[0] - first_row])
        points = int(table.loc[table[GRAIN] == grain, POINTS].iloc[0])
        where.caption(f"Selected: grain {grain} ({points:,} pixels).")
