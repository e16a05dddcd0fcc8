"""UMAP: the latents in 2-D, coloured by any column, beside the scan map when the rows have positions;
select points in either (box, lasso or click) to see their images and rows."""
import numpy as np
import streamlit as st

import ui.widgets.starting  # noqa: F401  first: a server's first run says it is starting while the rest loads
from latentcore.analysis.embedding.fitted import embedding_names
from latentcore.columns import BANDCONTRAST, COSINE_DISTANCE, embedding_name
from ui.compute import latent_space, scan_maps, sources
from ui.figures import png
from ui.session import defaults, lifecycle, state
from ui.widgets import (access, common, explore, extraction, labels, linked_embedding, orientations, quality,
                        references, scales, selection, waiting)

access.require_app()

st.title("UMAP")
lat_stamp = extraction.require_latents()
lat = sources.latents(lat_stamp)
matrix, table = sources.stacked_latents(lat_stamp)

with st.expander("Embedding parameters", icon=":material/tune:"):
    cols = st.columns(4)
    method = cols[0].selectbox("Method", ["umap", "pca"], key="umap_method",
                               index=defaults.setting_index("umap_method", "umap", ["umap", "pca"]))
    n_neighbors = cols[1].number_input("Neighbours", 2, 200,
                                       defaults.setting("umap_neighbors", min(15, len(matrix) - 1), bounds=(2, 200)),
                                       key="umap_neighbors")
    min_dist = cols[2].number_input("Min distance", 0.0, 1.0, defaults.setting("umap_min_dist", 0.1, bounds=(0, 1)),
                                    step=0.05, key="umap_min_dist")
    seed = cols[3].number_input("Seed", 0, 2**31 - 1, defaults.setting("umap_seed", 0, bounds=(0, 2**31 - 1)),
                                key="umap_seed")
kept = quality.shared_filter(lat_stamp, lat, "umap")  # the rows fitted and shown
kept_ids = scan_maps.kept_rows(lat_stamp, kept)  # their ids
with common.user_errors():
    fitted, fitting = latent_space.embedding_shown(lat_stamp, method, int(n_neighbors), float(min_dist), int(seed), kept)
coords = latent_space.on_every_row(fitted.coords, kept_ids, len(matrix))  # NaN: the rows the filter removes
fit_method, label = fitted.method, fitted.method.upper()  # the PCA while a first UMAP fits
embedding = latent_space.embedding_args(lat_stamp, fit_method, n_neighbors, min_dist, seed, kept)
st.caption(common.embedding_note(fitted))
if fitting is not None:
    expected = latent_space.expected_fit(lat_stamp, kept)
    waiting.meanwhile(fitting, f"The PCA is shown while the UMAP fits (expected: {expected}). The scatter becomes the "
                               "UMAP when it is done (the selection stays).")
cols = st.columns([2, 1, 1])
options = explore.colour_options(lat, table)
choice = cols[0].selectbox("Colour by", options, key="umap_colour",
                         index=defaults.setting_index("umap_colour", explore.default_colour(options, lat), options))
dim = 0
if choice == explore.LATENT:
    dim = cols[1].number_input("Latent dimension", 0, lat.dim - 1,
                               defaults.setting("umap_dim", 0, bounds=(0, lat.dim - 1)), key="umap_dim")
elif choice == explore.KMEANS:
    dim = cols[1].number_input("Clusters (k)", 2, min(30, len(matrix)), key="umap_kmeans",
                               value=defaults.setting("umap_kmeans", min(6, len(matrix)),
                                                      bounds=(2, min(30, len(matrix)))))
k = cols[2].number_input("Neighbours of a clicked point", 1, 50, defaults.setting("umap_k", 8, bounds=(1, 50)),
                         key="umap_k")
continuous = explore.continuous_values(choice, lat_stamp, dim)  # (values, name) of band contrast or a latent
colorscale, limits = "Viridis", None
if continuous is not None:  # its range found once per map (ten million rows: a pass each)
    value_range = sources.value_range(explore.values_key(choice, lat_stamp, dim), continuous[0])
    colorscale, limits = scales.colour_scale("umap_scale", continuous[0], value_range=value_range, values_of=choice)
colour = explore.colour_for(choice, lat_stamp, lat, table, dim, colorscale, limits)
if colour.note:
    st.caption(colour.note)
marks = explore.new_image_panel(lat, embedding, fitted)  # a projected image: a star on the scatter

scan_columns = explore.scan_columns(lat_stamp, lat)  # x, y (units) and band contrast: hover, table, CSV
on_scan = lat.x is not None and lat.y is not None

embedding_panels = linked_embedding.LinkedEmbedding.of_rows("umap", lat_stamp, lat, coords, kept_ids)


@common.linked_panels
def linked(marks):
    """The scatter and the scan map (point panels, linked in the browser), the selection's images and rows,
    and the downloads: a selection reruns only these."""
    embedding_panels.take()
    selection.made_elsewhere("umap", "pixel" if on_scan else "point")
    chosen = state.selection()
    marks = list(marks)
    neighbours = None
    if len(chosen) == 1:
        with common.user_errors():
            neighbours = latent_space.nearest(lat_stamp, int(chosen[0]), int(k))
        near = neighbours[0][np.isfinite(coords[neighbours[0], 0])]  # those the quality filter keeps
        marks.append({"x": coords[near, 0], "y": coords[near, 1], "name": "nearest neighbours",
                      "symbol": "diamond-open", "size": 12, "colour": "#111111"})
    titles = {"x_title": f"{label} 1", "y_title": f"{label} 2", "title": f"{label} of {len(kept_ids):,} latents "
              f"({lat.dim} dimensions)" + (", UMAP still fitting" if fitting is not None else "")}
    boundaries = on_scan and references.boundary_switch(lat, page="umap")  # over each scan map
    values = continuous[0][kept_ids] if continuous is not None else None
    embedding_panels.draw(linked_embedding.colour_of_rows(colour, kept_ids), chosen, marks=marks, values=values,
                          boundaries=boundaries, histogram=values, **titles)

    st.subheader(f"Selected: {common.counted(len(chosen), 'point')}")
    before = state.selection_before()
    if before is not None:
        st.button("Undo the last selection", key="umap_undo", on_click=state.undo_selection, icon=":material/undo:",
                  help=f"Back to the {common.counted(len(before), 'point')} selected before the last change.")
    with st.expander("Nearest neighbours of any row", icon=":material/hub:", expanded=len(chosen) == 1):
        selection.row_query(lat_stamp, lat, "umap")
    if not len(chosen):
        st.caption("Click a point on the scatter" + (" or the scan map" if on_scan else "") + ", or drag a box or "
                   "lasso (Box and Lasso above it; Shift adds, Alt removes), to see its images and rows.")
    elif st.button("Clear selection", key="umap_clear"):
        state.clear_selection()
        common.rerun()
    shown = {**{k: v[chosen] for k, v in scan_columns.items() if k != BANDCONTRAST},
             embedding_name(fit_method, 0): coords[chosen, 0], embedding_name(fit_method, 1): coords[chosen, 1],
             **{k: v[chosen] for k, v in scan_columns.items() if k == BANDCONTRAST}}
    explore.show_rows(chosen, lat, table, "umap_selected", shown, mean_key="umap_mean",  # its mean beside
                      scan=scan_columns)  # none chosen: its table empty
    if neighbours is not None:
        st.caption(f"The {len(neighbours[0])} nearest neighbours of {explore.row_words(lat, int(chosen[0]))} by "
                   "cosine distance in the latent space (diamonds on the scatter):")
        explore.show_rows(neighbours[0], lat, table, "umap_neighbours", {COSINE_DISTANCE: neighbours[1]},
                          scan=scan_columns)

    with st.expander("Labels", icon=":material/label:", expanded=True):
        labels.labels_panel(lat_stamp, lat, chosen, "umap")
    orientations.orientations_panel(lat_stamp, lat, chosen, "umap")  # a selection, a cluster, a label

    st.subheader("Downloads")
    names = embedding_names(lat_stamp[0], fit_method)  # as `python -m latentcore umap` names them
    out = lifecycle.results_dir("umap", lat_stamp[0])
    cols = st.columns(3)
    cols[0].download_button("Table (CSV)", lambda: common.table_csv(  # the rows fitted, by their ids
                                explore.embedding_download(lat, table, coords, fit_method, scan_columns, kept_ids),
                                chosen),
                            file_name=names["table_csv"], mime="text/csv", key="umap_dl_csv", on_click="ignore",
                            icon=":material/download:")
    dpi = state.png_dpi()  # read now: a download's data is made after the run, where the session state is not at hand
    figure = lambda: selection.scatter_png_figure(  # noqa: E731
        coords[kept_ids, 0], coords[kept_ids, 1], linked_embedding.colour_of_rows(colour, kept_ids), kept_ids, chosen,
        marks=marks, **titles)
    cols[1].download_button(f"Figure (PNG, {dpi} dpi)", lambda: png.figure_png(figure(), str(out / names["figure"]), dpi),
                            file_name=names["figure"], mime="image/png", key="umap_dl_png", on_click="ignore",
                            icon=":material/download:")
    cols[2].download_button("Saved embedding (NPZ)",
                            lambda: common.embedding_npz(fitted, str(out / names["embedding"])),
                            file_name=names["embedding"], key="umap_dl_npz", on_click="ignore",
                            icon=":material/download:")


linked(marks)
