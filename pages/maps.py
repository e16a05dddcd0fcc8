"""Latent maps: every latent dimension on the scan grid, within an ROI; click a pixel to see its pattern."""
import streamlit as st

import ui.widgets.starting  # noqa: F401  first: a server's first run says it is starting while the rest loads
from latentcore import figures
from latentcore.analysis.artifacts.latent_maps import maps_names
from latentcore.analysis.ebsd.records import ORIENTATION_MAP_PARAMETERS
from latentcore.analysis.maps import Roi
from latentcore.data.base import display_units
from ui.compute import scan_maps, sources
from ui.figures import maps as map_figures
from ui.figures import plots
from ui.figures import references as reference_figures
from ui.session import defaults, lifecycle, state
from ui.widgets import (access, common, explore, extraction, grains, labels, line_profile, maps_panels, params,
                        references, scales, selection, study)

access.require_app()

st.title("Latent maps")
session_stamp = extraction.require_latents()
member = study.page_source(session_stamp, "maps")  # a study: one source at a time, on its own grid
lat_stamp, first = member.stamp, member.start  # the source's first row among the study's: a selection is the study's
lat = extraction.require_scan(lat_stamp)
matrix, table = sources.stacked_latents(lat_stamp)

unit = display_units(lat.units)
roi = common.roi_sliders(lat.x, lat.y, "maps", lat.units)
common.roi_note(lat_stamp, lat, roi, "maps")
cols = st.columns([3, 1, 1, 1, 1, 1])
dims = cols[0].multiselect("Dimensions", list(range(lat.dim)), key="maps_dims",
                            default=defaults.setting("maps_dims", list(range(min(lat.dim, 8))), range(lat.dim)))
columns = cols[1].number_input("Maps per row", 1, 8, defaults.setting("maps_columns", 2, bounds=(1, 8)),
                               key="maps_columns")
nan_colour = cols[2].color_picker("Missing pixels", defaults.setting("maps_nan", figures.NAN_COLOUR), key="maps_nan")
sigma = params.smooth_sigma("maps", cols[3])
scale_bar = cols[4].checkbox("Scale bar", value=defaults.setting("maps_scale_bar", True), key="maps_scale_bar")
boundaries_on = references.boundary_switch(lat, cols[5])
boundary = references.boundary_parameters(cols[5], on=boundaries_on)  # the boundary angle and the Σ3 tolerance
labelled = study.session_labels(session_stamp, member)[0]  # a study's source: the labels of its rows, as its own
by_label = st.toggle(
    "Colour by label: the labels on the scan, above the maps", key="maps_by_label",
    value=defaults.setting("maps_by_label", False), disabled=not len(labelled.rows),
    help="The labels of the labels panel (below), in their colours; unlabelled pixels grey. Select pixels on it "
         "(box or lasso) to label them or see them on the other pages.")
by_label = by_label and bool(len(labelled.rows))
if not dims:
    st.info("Pick at least one dimension.")
    st.stop()

with common.user_errors():
    found = scan_maps.latent_maps(lat_stamp, tuple(dims), roi, sigma)  # the run of `python -m latentcore maps`
maps, grid = found.maps, found.grid
rows = scan_maps.roi_rows(lat_stamp, roi)
extent = roi or Roi(float(lat.x.min()), float(lat.x.max()), float(lat.y.min()), float(lat.y.max()))  # none: the scan's
st.caption(f"ROI {extent.describe(unit, ' to ')}: {len(rows):,} pixels on a grid of "
           f"{grid.n_rows} rows x {grid.n_columns} columns, step {grid.step_x:g} x {grid.step_y:g} {unit}."
           + (f" Smoothed: Gaussian of sigma {sigma:g} grid steps over the ROI (NaN-aware)." if sigma else ""))
colorscale, limits = scales.colour_scale("maps_scale", maps)
grid_fig, png_made = map_figures.latent_maps_figures(maps, grid, dims, columns=int(columns), nan_colour=nan_colour,
                                                     units=lat.units, scale_bar=scale_bar, colorscale=colorscale,
                                                     limits=limits)
lines = None
if boundaries_on:  # the ROI's, at the page's boundary angle and Σ3 tolerance
    with common.user_errors():
        lines = scan_maps.boundary_lines(lat_stamp, roi, params.checked(ORIENTATION_MAP_PARAMETERS, **boundary))
reference_figures.with_boundaries(grid_fig, lines, len(dims), grid)


def png_figure():
    """The maps' PNG figure (heatmaps at the figure's size), made when the download asks for it."""
    return reference_figures.with_boundaries(png_made(), lines, len(dims))
panels = maps_panels.MapsPanels.over(lat_stamp, lat, roi, found, by_label, first)  # the click map, the labels
panels.take()  # a selection just made on them, before anything shows the selection
maps_column, references_column = st.columns([3, 2])
if by_label:
    with maps_column:
        panels.draw_labels(lat_stamp, roi, labelled)
maps_column.plotly_chart(grid_fig, key="maps_grid", config={"displaylogo": False})
with references_column:
    references.references_panel(lat_stamp, lat, boundary, roi, overlay=boundaries_on)
grain_parameters = grains.grains_panel(lat_stamp, lat, boundary, first)  # a grain picked there: the selection below

st.subheader("Click a pixel to see its pattern")
selection.made_elsewhere("maps")
chosen = state.selection()
cols = st.columns([3, 2])
with cols[0]:
    dim = st.selectbox("Map to click on", dims, key="maps_pick_dim",
                       index=defaults.setting_index("maps_pick_dim", dims[0], dims))
    selected = chosen[plots.is_chosen(chosen, panels.rows)] - first  # this source's rows of the selection
    panels.draw_picker(maps[dims.index(dim)], f"latent dim {dim}", colorscale, limits, nan_colour, lines)
    panels.overlay(chosen, lat, int(selected[0]) if len(selected) else None)
    scales.histogram(maps[dims.index(dim)], "maps_histogram", value_name=f"latent dim {dim}",
                     colorscale=colorscale, limits=limits)
with cols[1]:
    if len(selected):
        row = int(selected[0])
        of = f" of {member.name}" if lat_stamp != session_stamp else ""
        st.write(f"Pixel row {row}{of} at x = {lat.x[row]:g} {unit}, y = {lat.y[row]:g} {unit}"
                 + (f" (the first of {len(selected):,} selected)" if len(selected) > 1 else ""))
        source = explore.source_for(lat)
        if source is not None:
            pattern = sources.source_rows(sources.stamp(source), "all", (row,))[0]
            st.image(common.as_display_image(pattern), caption="its pattern", width="stretch", clamp=True)
        st.bar_chart({"latent": matrix[row]}, height=160, x_label="dimension")
        if st.button("Clear selection", key="maps_clear"):
            state.clear_selection()
            st.rerun()
    else:
        st.caption("No pixel selected yet: click one on the map (or select points on the UMAP or Clusters "
                   "pages).")

line_profile.profile_panel("maps", session_stamp, member, lat)  # of a line drawn on the click map or labels map
with st.expander("Labels", icon=":material/label:"):  # the workspace's one labels set, keyed by row
    labels.labels_panel(session_stamp, sources.latents(session_stamp), chosen, "maps")  # a study's: by its rows

st.subheader("Downloads")
names = maps_names(scan_maps.maps_job(lat_stamp, dims, roi, sigma), found)  # as `python -m latentcore maps` names them
out, dpi = lifecycle.results_dir("maps", lat_stamp[0]), state.png_dpi()


def written(kind: str):
    """The file `kind` as the command writes it, with its report beside it (the PNG: the maps shown)."""
    return lambda: scan_maps.maps_files(lat_stamp, tuple(dims), roi, sigma, out,
                                        png_figure() if kind == "figure" else None, dpi)[kind].read_bytes()


for col, (kind, label, mime) in zip(st.columns(4), [
        ("figure", f"Maps (PNG, {dpi} dpi)", "image/png"),
        ("maps_npz", f"Maps (NPZ: maps, origin, step, units {unit})", "application/octet-stream"),
        ("maps", "Maps (NPY, dims x rows x columns, NaN = no pixel)", "application/octet-stream"),
        ("report", "Report (JSON)", "application/json")]):
    col.download_button(label, written(kind), file_name=names[kind], mime=mime,
                        key=f"maps_dl_{names[kind].rsplit('.', 1)[1]}", on_click="ignore", icon=":material/download:")
if grain_parameters is not None:  # last: at scale its job's progress holds the page's end
    grains.study_grains_panel(session_stamp, grain_parameters)  # a study's sources side by side
