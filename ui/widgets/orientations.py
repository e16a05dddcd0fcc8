"""The orientations of a selection, a cluster or a label, under the linked panels of the UMAP and Clusters pages:
their inverse pole figure for a sample direction (x, y, z) beside the whole scan's, and their pole figures
({100} and {111} for cubic phases), as points in their IPF colours or as a density; their misorientation-angle
distribution, correlated (neighbours) and uncorrelated (random pairs, a seeded sample beyond 100,000), beside
random cubic orientations' (Mackenzie); the command's files to download (`python -m latentcore orientations`: the
figure, the table, the pole figures' points, the misorientation angles' histogram and bins, and the report, named
as it names them). Off until asked for (a toggle), as the mean pattern. On a study, one source at a time (a picker):
the chosen rows, clusters and labels of that source, on its own scan and grid, so a cluster's orientations compare
source by source.

    orientations_panel(lat_stamp, lat, chosen, "umap")                       the selection, the clusters, the labels
    orientations_panel(lat_stamp, lat, chosen, "clusters", {"rows", "labels"})   the page's own clustering
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from latentcore.analysis.artifacts.common import input_record, write_csv, write_json
from latentcore.analysis.ebsd.pole_figures import orientations_names, what_tag
from latentcore.analysis.ebsd.records import DIRECTIONS
from latentcore.analysis.ebsd.scan_references import laue_of
from latentcore.arrays import unique
from latentcore.errors import LatentError

from ..compute import orientations, sources
from ..figures import png
from ..session import defaults, lifecycle, state, workspace
from . import common, study

LOOKS = {"points": "points (their IPF colours)", "density": "density (share per cell)"}
SELECTION = "selection"
MOST = -1  # the phase picker's "the one most have" (phase ids are positive)


def orientations_panel(lat_stamp: tuple, lat, chosen, key: str, clusters: dict | None = None):
    """The panel for the session's selection `chosen`, each cluster of `clusters` ({"rows", "labels"}; default the
    Clusters page's last clustering) and each label of the workspace's labels."""
    if not st.toggle("Orientations: inverse and direct pole figures", key=f"{key}_orient_show",
                     value=defaults.setting(f"{key}_orient_show", False),
                     help="Whether a selection, a cluster or a label is an orientation family"):
        return
    source = study.page_source(lat_stamp, f"{key}_orient", "Orientations in the source", said=False)
    first = None if source.stamp == lat_stamp else source.start  # a study's source: its rows, on its own scan
    lat_stamp, lat = source.stamp, sources.latents(source.stamp)
    if lat.orientations is None:
        st.info("These latents hold no orientations (their scan file had none): no pole figures.",
                icon=":material/info:")
        return
    choices = _choices(np.asarray(chosen, np.int64), state.last_clusters() if clusters is None else clusters,
                       len(lat.orientations.phase_id), first)
    if not choices:
        st.caption("Select points (a box, a lasso, a click), or make clusters or labels, to see their orientations.")
        return
    names, phases = list(choices), _phases(lat.orientations)
    cols = st.columns([3, 2, 2, 2])
    what = cols[0].selectbox("Orientations of", names, format_func=lambda name: choices[name][0],
                             key=f"{key}_orient_of",
                             index=defaults.setting_index(f"{key}_orient_of", names[0], names))
    direction = cols[1].radio("Sample direction", list(DIRECTIONS), horizontal=True, key=f"{key}_orient_direction",
                              index=defaults.setting_index(f"{key}_orient_direction", "z", list(DIRECTIONS)))
    look = cols[2].radio("Show", list(LOOKS), format_func=LOOKS.get, key=f"{key}_orient_look",
                         index=defaults.setting_index(f"{key}_orient_look", "points", list(LOOKS)))
    phase = None
    if len(phases) > 1:
        options = [MOST, *phases]  # not None: a setting's None means "the widget shows it"
        chosen = cols[3].selectbox("Phase", options, format_func=lambda k: "the one most have" if k == MOST
                                   else phases[k], key=f"{key}_orient_phase",
                                   index=defaults.setting_index(f"{key}_orient_phase", MOST, options))
        phase = None if chosen == MOST else chosen
    label, rows, tag = choices[what]
    try:
        plots = orientations.orientation_plots(lat_stamp, rows, direction, phase)
    except LatentError as exc:  # the panel says what is wrong; the page goes on
        st.error(common.error_line(exc), icon=":material/error:")
        return
    fig = plots.figure(look)
    st.plotly_chart(fig, key=f"{key}_orient_chart", config={"displaylogo": False})
    st.caption(f"The orientations of {common.plain(label)}: where the crystal direction along sample {direction} lies "
               f"in the {plots.found.laue} fundamental sector, beside the whole scan's points of the phase (grey), and "
               "the poles in the sample frame (stereographic, upper hemisphere; x right, y up). "
               + _sentences(plots.notes()))
    downloads, angles = st.container(), None  # the figure's downloads first, the report with what follows
    if st.checkbox("Misorientation angles: neighbours and random pairs", key=f"{key}_orient_miso",
                   value=defaults.setting(f"{key}_orient_miso", True),
                   help="The distribution of symmetry-reduced misorientation angles, as MTEX's plotAngleDistribution "
                        "of calcMisorientation draws it"):
        try:
            angles = orientations.misorientations(lat_stamp, plots)
        except LatentError as exc:  # said where the histogram would be; the pole figures stay
            st.error(common.error_line(exc), icon=":material/error:")
    what = what_tag(len(rows), *tag)
    names = orientations_names(lat.attrs.get("source") or lat.path, what, plots.direction)
    with downloads:
        _downloads(plots, fig, lat, what, names, look, key, angles)
    if angles is not None:
        _angles_panel(angles, plots, names, key)


def _choices(chosen: np.ndarray, clusters: dict | None, n_rows: int, first: int | None = None) -> dict:
    """name -> (its label, its row ids, (cluster, label) for its file names): the selection, each cluster (noise
    left out), each label. `first`: a study's source's first row among the study's: the rows of that source alone,
    as its own rows (`n_rows` its rows)."""
    def own(rows):
        rows = np.asarray(rows, np.int64)
        return rows if first is None else rows[(rows >= first) & (rows < first + n_rows)] - first

    chosen = own(chosen)
    choices = {SELECTION: (f"the selection ({len(chosen):,} points)", chosen, (None, None))} if len(chosen) else {}
    if clusters is not None and (first is not None or np.max(clusters["rows"], initial=-1) < n_rows):  # of these
        rows, labels = np.asarray(clusters["rows"]), np.asarray(clusters["labels"])
        for cluster in unique(labels[labels >= 0]):
            members = own(rows[labels == cluster])
            if len(members):
                choices[f"cluster {cluster}"] = (f"cluster {cluster} ({len(members):,} points)", members,
                                                 (int(cluster), None))
    labelled = state.labels()
    for name in labelled.classes:
        members = own(labelled.rows[labelled.names == name])
        if len(members):
            choices[f"label {name}"] = (f"label {name!r} ({len(members):,} points)", members, (None, name))
    return choices


def _phases(orientations) -> dict:
    """phase id -> "1: Nickel (m-3m)", for the phases with a Laue group here."""
    return {int(k): f"{k}: {p.name} ({laue_of(p)})" for k, p in sorted(orientations.phases.items()) if laue_of(p)}


def _sentences(notes: list[str]) -> str:
    return " ".join(f"{note[0].upper()}{note[1:]}." for note in notes)


def _angles_panel(angles, plots, names: dict, key: str):
    """The misorientation histogram, what it measured, its PNG and its bins (CSV)."""
    fig = angles.figure(plots.angles_title())
    st.plotly_chart(fig, key=f"{key}_orient_angles_chart", config={"displaylogo": False})
    st.caption("Symmetry-reduced misorientation angles: correlated between chosen points whose pixels share an edge, "
               "uncorrelated between random pairs of them, in % of each kind's pairs per degree; the curve is "
               "uniformly random orientations' (Mackenzie). " + _sentences(angles.notes()))
    dpi, out = state.png_dpi(), lifecycle.workdir("orientations")
    files = {"angles_figure": (f"Misorientation angles (PNG, {dpi} dpi)", "image/png",
                               lambda: png.figure_png(fig, str(out / names["angles_figure"]), dpi)),
             "angles": ("Their bins (CSV)", "text/csv",
                        lambda: write_csv(out / names["angles"], angles.table()).read_bytes())}
    for col, (kind, (title, mime, made)) in zip(st.columns(len(files)), files.items()):
        col.download_button(title, made, file_name=names[kind], mime=mime, key=f"{key}_orient_{kind}",
                            on_click="ignore", icon=":material/download:")


def _downloads(plots, fig, lat, what: str, names: dict, look: str, key: str, angles=None):
    """The figure, the table, the pole figures' points and the report (with the misorientation angles' record when
    they are shown), as the command writes them."""
    dpi, out = state.png_dpi(), lifecycle.workdir("orientations")
    left_out = {"report"} | (set() if angles is not None else {"angles", "angles_figure"})

    def report() -> bytes:  # made when its button is clicked: the latents' SHA-256 is read then
        inputs = {"data": input_record(lat.path, out, workspace.WORKDIR_ROOT)}
        made = plots.report(what, look, inputs, {kind: name for kind, name in names.items() if kind not in left_out},
                            angles)
        return write_json(out / names["report"], made).read_bytes()

    files = {"figure": (f"Figure (PNG, {dpi} dpi)", "image/png",
                        lambda: png.figure_png(fig, str(out / names["figure"]), dpi)),
             "table": ("Table (CSV)", "text/csv",
                       lambda: write_csv(out / names["table"], plots.table(lat.x, lat.y, lat.units)).read_bytes()),
             "poles": ("Pole figures' points (CSV)", "text/csv",
                       lambda: write_csv(out / names["poles"], plots.poles_table()).read_bytes()),
             "report": ("Report (JSON)", "application/json", report)}
    for col, (kind, (title, mime, made)) in zip(st.columns(len(files)), files.items()):
        col.download_button(title, made, file_name=names[kind], mime=mime, key=f"{key}_orient_{kind}",
                            on_click="ignore", icon=":material/download:")
