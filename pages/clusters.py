"""Clusters: (latent, band contrast) clustering in two linked panels, the scan map and the scatter; whole latent
vectors are drawn on the UMAP of the same rows when the workspace has one (the UMAP page's), else on their first
two principal components. A study of several sources is clustered as one (each scan smoothed over its own grid, as
`python -m latentcore cluster` on a study): every row on the scatter, each scan's clusters on its own map in the same
colours, and how much of each cluster is in each source."""

import streamlit as st

import ui.widgets.starting  # noqa: F401  first: a server's first run says it is starting while the rest loads
from latentcore.analysis.cluster import METHODS
from ui.compute import cluster_runs, sources
from ui.figures import plots
from ui.session import defaults, lifecycle, state
from ui.widgets import (access, bandcontrast, common, explore, extraction, linked_embedding, orientations, params,
                        quality, references, selection)
from ui.widgets import labels as label_widgets

access.require_app()

st.title("Clusters")
st.caption("Cluster (latent, band contrast) pairs or whole latent vectors (these need no band contrast). Each "
           "cluster has one hue in both panels (optionally shaded by the latent's value within the cluster); noise "
           "is grey. Select points on the scatter or the map (click, or Box and Lasso above each; Shift adds, Alt "
           "removes): the other panel highlights them at once.")
lat_stamp = extraction.require_latents()
lat = sources.latents(lat_stamp)
on_scan = lat.x is not None and lat.y is not None
bc = bandcontrast.picker("clusters_bc", state.source(), lat) if on_scan else None

cols = st.columns([1, 1, 2])
dim = cols[0].selectbox("Latent dimension", range(lat.dim), key="clusters_dim",
                       index=defaults.setting_index("clusters_dim", 0, range(lat.dim)))
method = cols[1].selectbox("Method", METHODS, key="clusters_method",
                           index=defaults.setting_index("clusters_method", METHODS[0], METHODS))
if on_scan:
    features = cols[2].radio("Cluster on", ["pair", "latent"], horizontal=True, key="clusters_features",
                             index=defaults.setting_index("clusters_features", "pair", ["pair", "latent"]),
                             format_func={"pair": "(latent dimension, band contrast)",
                                          "latent": "whole latent vectors"}.get)
else:  # cutouts, images: no map, no band contrast
    features = "latent"
    cols[2].caption("These latents have no x, y coordinates (not a scan): their whole latent vectors are "
                    "clustered, without a map, a region or smoothing.")
if features == "pair" and bc is None:
    st.warning("Clustering (latent dimension, band contrast) pairs needs band contrast: choose the scan's own map "
               "or a table uploaded on the Data page, or cluster whole latent vectors (no band contrast needed).",
               icon=":material/warning:")
    st.stop()
method_params = params.cluster_params(method, "clusters")
roi, sigma = None, 0.0
if on_scan:
    sigma = params.smooth_sigma("clusters")
    roi = common.roi_sliders(lat.x, lat.y, "clusters", lat.units)
    common.roi_note(lat_stamp, lat, roi, "clusters")
kept = quality.shared_filter(lat_stamp, lat, "clusters")  # the rows clustered: in the ROI and kept

job = cluster_runs.cluster_job(lat_stamp, bc, method, dim, features, method_params, roi, sigma, kept)
out_dir = str(lifecycle.results_dir("clusters", lat_stamp[0]))  # the run writes its CSV here: the download's
with common.user_errors():
    run = cluster_runs.cluster_run(lat_stamp, job, out_dir)
state.set_last_clusters(run["rows"], run["labels"])  # the UMAP page can colour by them
labelled = state.labels()
cols = st.columns([1, 2])
by_label = cols[0].toggle("Colour by label", value=defaults.setting("clusters_by_label", False),
                          key="clusters_by_label", disabled=not len(labelled.rows),
                          help="The labels of the labels panel (below), in their colours; unlabelled rows grey")
by_label = by_label and bool(len(labelled.rows))
shade = cols[1].toggle("Shade each cluster by the latent's value (dark: lowest, light: highest)",
                       value=defaults.setting("clusters_shade", False), key="clusters_shade", disabled=by_label)
if by_label:
    colour, grid, _, cells = cluster_runs.cluster_label_view(lat_stamp, job, out_dir, labelled.digest(),
                                                             labelled)
else:
    colour, grid, _, cells = cluster_runs.cluster_view(lat_stamp, job, out_dir, shade)
one_scan = grid is not None  # a study's scans: each on its own map, in its own grid
boundaries_on = references.boundary_switch(lat, page="clusters")  # over each scan map
umap_settings = (defaults.widget_value("umap_neighbors", min(15, sum(map(len, lat.partitions.values())) - 1)),
                 defaults.widget_value("umap_min_dist", 0.1), defaults.widget_value("umap_seed", 0))
with common.user_errors():
    view, coords = cluster_runs.scatter_view(lat_stamp, job, out_dir, umap_settings, run)  # a UMAP, PC1-2 or the pair
if view.kind == "pca":
    st.caption("Whole latent vectors are drawn on their first two principal components (on their UMAP instead "
               "once the UMAP page has fitted one).")


@common.linked_panels
def linked(run, colour, grid, cells):
    """The scatter and the map (point panels, linked in the browser), their selection and its table: a
    selection reruns only these."""
    rows, labels = run["rows"], run["labels"]
    panels = linked_embedding.LinkedEmbedding("clusters", lat_stamp, lat, coords, rows,
                                              (grid, cells) if one_scan else None)
    panels.take()  # a selection just made is drawn in this run
    selection.made_elsewhere("clusters", "pixel" if on_scan else "point")
    chosen = state.selection()
    selected_here = plots.is_chosen(rows, chosen)
    panels.draw(colour, chosen, boundaries=boundaries_on, title=view.title[0].upper() + view.title[1:],
                x_title=view.x_title, y_title=view.y_title,
                map_title="Labels on the scan" if by_label else "Clusters on the scan")

    report = run["report"]
    summary = st.columns(4)
    summary[0].metric("Clusters", report["n_clusters"])
    summary[1].metric("Noise points", f"{report['counts'].get('-1', 0):,}")
    summary[2].metric("Pixels", f"{len(rows):,}")
    summary[3].metric("Selected here", f"{int(selected_here.sum()):,}")
    common.cluster_fit_notes(report, sigma)
    explore.mean_panel(lat, chosen, "clusters_mean", {"rows": rows, "labels": labels})  # issue 20: a cluster's mean
    if chosen.size and st.button("Clear selection", key="clusters_clear"):
        state.clear_selection()
        common.rerun()
    explore.selected_rows_table(run, lat, selected_here, dim)  # none selected: empty
    with st.expander("Labels", icon=":material/label:"):  # the workspace's one labels set, keyed by row
        label_widgets.labels_panel(lat_stamp, lat, chosen, "clusters", clustering={"rows": rows, "labels": labels})
    orientations.orientations_panel(lat_stamp, lat, chosen, "clusters", {"rows": rows, "labels": labels})


linked(run, colour, grid, cells)

if run["fractions"] is not None:  # a study's sources
    explore.cluster_fractions(lat_stamp, job, out_dir, run)
explore.cluster_downloads(lat_stamp, job, out_dir, run, view, figure=one_scan)
