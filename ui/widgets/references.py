"""The EBSD reference maps panel (IPF x, y, z with the colour key, indexed points, phases with a legend
(two or more), grain boundaries, Σ3 twin boundaries among the boundaries by class, grains, kernel average
misorientation and Schmid factors at the parameters chosen above the map (each parameter's widget drawn from its
declaration, `ui.widgets.params.parameter`); VBSE, image quality and ADP from the scan's patterns), the
grain-boundary overlay switch of the scan maps, the boundary angle and the Σ3 tolerance. Computed through
`ui.compute.scan_maps.roi_references`: over the ROI, as the latent maps."""
from __future__ import annotations

import streamlit as st

from latentcore.analysis.ebsd.records import (BOUNDARY_DEG, ORIENTATION_MAP_PARAMETERS, PATTERN_MAPS, REFERENCE_MAPS,
                                              TWIN_TOLERANCE, listed)
from latentcore.analysis.ebsd.scan_references import references_names
from latentcore.analysis.maps import Roi
from latentcore.parameters import Values

from ..compute import scan_maps, sources
from ..figures import png
from ..figures import references as reference_figures
from ..session import defaults, files, lifecycle, state
from . import common, explore, params

# drawn under the Boundaries switch: the page's overlay, its reference maps and its grain table take them
BOUNDARY_PARAMETERS = (BOUNDARY_DEG, TWIN_TOLERANCE)


def boundary_parameters(where=None, page: str = "maps", on: bool = True) -> dict:
    """The boundary angle and the Σ3 tolerance (`BOUNDARY_PARAMETERS`, as `--boundary-deg` and
    `--twin-tolerance-deg` declare them): their widgets while `on` (the Boundaries switch), else their defaults;
    name -> value."""
    if not on:
        return {p.name: p.default for p in BOUNDARY_PARAMETERS}
    return {p.name: params.parameter(p, page, where or st) for p in BOUNDARY_PARAMETERS}


def boundary_switch(lat, where=None, page: str = "maps") -> bool:
    """The grain-boundary overlay switch of a page's scan maps; off (and disabled) when no scan of the latents (a
    file's one, a study's any) holds orientations."""
    where = where or st
    has = any(lat.source_latents(i).orientations is not None for i in range(len(lat.sources())))  # a study: any scan
    key = f"{page}_boundaries"
    on = where.toggle("Boundaries", value=defaults.setting(key, False) and has, key=key, disabled=not has,
                      help="Draw the grain boundaries over the maps" if has else
                      "These latents hold no orientations (the scan file had none).")
    return bool(on and has)


def references_panel(lat_stamp, lat, boundary: dict, roi: Roi | None = None, overlay: bool = False):
    """A reference map of the scan over the ROI, cropped as the latent maps are, chosen from those it has, with
    its key or legend; the boundary lines over it; its PNG and the NPZ of every map over the ROI. `boundary`: the
    page's `boundary_parameters`; the maps' other parameters (`ORIENTATION_MAP_PARAMETERS`: the KAM's, the Schmid
    factor's) are drawn here, disabled (their defaults) when the latents hold no orientations."""
    st.subheader("Reference maps")
    source = explore.source_for(lat)
    from_patterns = st.checkbox(f"{listed(PATTERN_MAPS)} from the patterns", key="maps_ref_patterns",
                                value=defaults.setting("maps_ref_patterns", False), disabled=source is None,
                                help="Streams every pattern of the scan file once." if source else
                                "The scan file these latents came from is not loaded in this session.")
    own = [p for p in ORIENTATION_MAP_PARAMETERS if p.name not in boundary]
    chosen = params.parameters(own, "maps", disabled=lat.orientations is None)
    source_stamp = sources.stamp(source) if from_patterns and source else None
    with common.user_errors():
        parameters = params.checked(ORIENTATION_MAP_PARAMETERS, **boundary,
                                    **(chosen if lat.orientations is not None else {}))
        refs, lines = scan_maps.roi_references(lat_stamp, source_stamp, parameters, roi)
    names = [n for n in REFERENCE_MAPS if n in refs.maps]
    for note in refs.notes:
        st.caption(note)
    if not names:
        st.info("No reference maps: these latents hold no orientations. Tick the box above for maps from the patterns.")
        return
    name = st.selectbox("Reference map", names, format_func=lambda n: REFERENCE_MAPS[n].title, key="maps_ref_name",
                        index=defaults.setting_index("maps_ref_name", names[0], names))
    stride, thinned = reference_figures.shown_stride(refs, name)
    fig = reference_figures.reference_figure(refs, name, lines, boundaries=overlay, stride=stride)
    st.plotly_chart(fig, key="maps_ref_chart", config={"displaylogo": False})
    for note in (thinned, REFERENCE_MAPS[name].about and REFERENCE_MAPS[name].described(parameters)):
        if note:
            st.caption(note)
    _downloads(lat_stamp, source_stamp, parameters, refs, name,
               lambda: reference_figures.reference_figure(refs, name, lines, boundaries=overlay))


def _downloads(lat_stamp, source_stamp, parameters: Values, refs, name: str, full_figure):
    """The shown map as a PNG (`full_figure()`: every pixel); every map as an NPZ (with the ROI they were cropped to)
    and its report, written and named as `python -m latentcore references` writes and names them."""
    files, out = references_names(refs.roi), lifecycle.results_dir("maps", lat_stamp[0])
    figure_name, dpi = files["figure"].format(name=name), state.png_dpi()
    over = f" over the ROI {refs.roi.describe(between=' to ')} (recorded as `roi`)" if refs.roi else ""

    def written(kind: str):
        return lambda: scan_maps.references_files(lat_stamp, source_stamp, parameters, refs.roi,
                                                  out)[kind].read_bytes()

    cols = st.columns(3)
    cols[0].download_button(f"{REFERENCE_MAPS[name].title} (PNG, {dpi} dpi)",
                            lambda: png.figure_png(full_figure(), str(out / figure_name), dpi), file_name=figure_name,
                            mime="image/png", key="maps_ref_dl_png", on_click="ignore", icon=":material/download:")
    cols[1].download_button("Reference maps (NPZ)", written("npz"), file_name=files["npz"], key="maps_ref_dl_npz",
                            on_click="ignore", icon=":material/download:",
                            help=f"Every reference map{over}, with the x, y, step and units of its grid.")
    cols[2].download_button("Their report (JSON)", written("report"), file_name=files["report"],
                            mime="application/json", key="maps_ref_dl_json", on_click="ignore",
                            icon=":material/download:")


def uploaded_npz():
    """The Rank page's NPZ of reference maps: the stamp of the one chosen (uploaded here, kept with the
    workspace), or None."""
    with st.expander("Reference maps from a file (NPZ)", icon=":material/upload:"):
        upload = st.file_uploader("The `references.npz` that `python -m latentcore references` writes, or any NPZ of "
                                  "2-D maps of the scan grid (rows, columns) or of one value per latent row; NaN where "
                                  "a map has no value", type=["npz"], key="rank_upload")
        if upload is not None:
            with common.user_errors():
                path = files.save_upload_once(upload, "rank")
            if files.add_references(path):  # a new upload is the one used
                defaults.set_widget_value("rank_npz", path.name)
        found = files.labelled(files.files("references"))
        offered = ["none", *found]
        name = st.selectbox("Maps of", offered, key="rank_npz",
                            index=defaults.setting_index("rank_npz", "none", offered))
    return sources.stamp(found[name]) if name in found else None
