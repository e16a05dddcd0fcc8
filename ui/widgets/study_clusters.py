"""The Clusters page on a study of several sources: one clustering of every row of every source (each scan smoothed
over its own grid: `latentcore.analysis.artifacts.cluster_study`, as `python -m latentcore cluster` on a study), the
rows on one scatter and each scan's clusters on its own map in the same colours (linked point panels: a selection on
one shows on the others, `LinkedEmbedding`), how much of each cluster is in each
source (table, bars, CSV, PNG, JSON) and the assignments (`source, row, x_um, y_um, ..., cluster`) to download."""
from __future__ import annotations

import numpy as np
import streamlit as st

from latentcore.analysis.cluster import METHODS
from latentcore.columns import CLUSTER
from latentcore.data.bandcontrast import BandContrast

from ..compute import cluster_runs
from ..figures import plots
from ..session import defaults, lifecycle, state
from . import common, explore, labels, linked_embedding, params, quality, selection, study


def page(lat_stamp: tuple, lat):
    """The controls, the run and what it shows, for the study `lat` (a `StudyLatents`)."""
    st.caption(f"The study {lat.study.name}: {len(lat.names)} sources, {len(lat.partitions['all']):,} rows, "
               "clustered as one (in the ROI, in each scan's own coordinates); each scan is smoothed over its own grid "
               "and drawn on it.")
    scans = lat.x is not None
    every_map = scans and all(member.point_maps for member in lat.members)
    cols = st.columns([1, 1, 2])
    dim = cols[0].selectbox("Latent dimension", range(lat.dim), key="clusters_dim",
                            index=defaults.setting_index("clusters_dim", 0, range(lat.dim)))
    method = cols[1].selectbox("Method", METHODS, key="clusters_method",
                               index=defaults.setting_index("clusters_method", METHODS[0], METHODS))
    kinds = ["latent", "pair"] if every_map else ["latent"]
    features = cols[2].radio("Cluster on", kinds, horizontal=True, key="clusters_features",  # the scan page's too
                             index=defaults.setting_index("clusters_features", "latent", kinds),
                             format_func={"pair": "(latent dimension, each scan's own band contrast)",
                                          "latent": "whole latent vectors"}.get)
    method_params = params.cluster_params(method, "clusters")
    sigma, roi = 0.0, None
    if scans:  # one region, in each scan's own coordinates
        sigma = params.smooth_sigma("clusters")
        roi = common.roi_sliders(lat.x, lat.y, "clusters", lat.units)
        common.roi_note(lat_stamp, lat, roi, "clusters")
    kept = quality.shared_filter(lat_stamp, lat, "clusters")  # each scan's rows it keeps, by its own maps
    bc = BandContrast.scan_map() if features == "pair" else None
    job = cluster_runs.cluster_job(lat_stamp, bc, method, dim, features, method_params, roi, sigma, kept)
    out_dir = str(lifecycle.results_dir("clusters", lat_stamp[0]))
    with common.user_errors():
        run = cluster_runs.study_cluster_run(lat_stamp, job, out_dir)
    state.set_last_clusters(run["rows"], run["labels"])  # the UMAP page can colour by them

    report = run["report"]
    summary = st.columns(4)
    summary[0].metric("Clusters", report["n_clusters"])
    summary[1].metric("Noise points", f"{report['counts'].get('-1', 0):,}")
    summary[2].metric("Rows", f"{len(run['rows']):,}")
    summary[3].metric("Sources", len(run["source_names"]))
    common.cluster_fit_notes(report, sigma)
    linked(lat_stamp, lat, run, *cluster_runs.study_cluster_panels(lat_stamp, job, out_dir))
    st.subheader("How much of each cluster is in each source")
    files = cluster_runs.study_cluster_files(lat_stamp, job, out_dir)
    study.fractions_panel(run["fractions"], CLUSTER, {kind: files[kind].name for kind in
                                                      ("fractions", "fractions_figure")},
                          files["fractions"].parent, "clusters", f"cluster fractions per source<br><sup>{job.tag}"
                          "</sup>")
    st.subheader("Downloads")
    st.caption("The assignments name each row by its source and its row within it (`source, row, x_um, y_um`), "
               "then its latents and cluster; the report names every source by name and SHA-256.")
    for kind in ("assignments", "report"):
        study.download(files[kind], f"clusters_dl_{kind}")


@common.linked_panels
def linked(lat_stamp: tuple, lat, run: dict, colour, coords):
    """The scatter of every row and each scan's clusters on its own map (point panels, linked in the browser), the
    selected rows' table (`source, row, x_um, y_um, ..., cluster`) and the labels: a selection reruns only these."""
    view = run["view"]
    panels = linked_embedding.LinkedEmbedding("clusters", lat_stamp, lat, coords, run["rows"])
    panels.take()  # a selection just made is drawn in this run
    selection.made_elsewhere("clusters", "pixel")
    chosen = state.selection()
    panels.draw(colour, chosen, title=view.title[0].upper() + view.title[1:], x_title=view.x_title,
                y_title=view.y_title)
    clustered = chosen[plots.is_chosen(chosen, run["rows"])][:explore.TABLE_MAX]  # in the ROI
    if clustered.size:
        table = explore.rows_table(clustered, lat, lat.identity,
                                   {CLUSTER: run["labels"][np.searchsorted(run["rows"], clustered)]})
        st.dataframe(table, height=common.table_height(len(table)), hide_index=True, key="clusters_study_rows")
        explore.table_note(len(chosen))
        if st.button("Clear selection", key="clusters_clear"):
            state.clear_selection()
            common.rerun()
    with st.expander("Labels", icon=":material/label:"):  # the workspace's one labels set, by the study's rows
        labels.labels_panel(lat_stamp, lat, chosen, "clusters",
                            clustering={"rows": run["rows"], "labels": run["labels"]})
