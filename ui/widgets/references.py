"""The EBSD reference maps panel (IPF x, y, z with the colour key, indexed points, phases with a legend
(two or more), grain boundaries, Σ3 twin boundaries among the boundaries by class, grains, kernel average
misorientation of the order chosen beside the patterns' box; VBSE, image quality and ADP from the scan's patterns),
the grain-boundary overlay switch of the scan maps, the boundary angle and the Σ3 tolerance. Computed through
`ui.compute.scan_maps.roi_references`: over the ROI, as the latent maps."""
from __future__ import annotations

import streamlit as st

from latentcore.analysis.ebsd.orientation import (DEFAULT_BOUNDARY_DEG, DEFAULT_KAM_ORDER, KAM_ORDER_HELP, KAM_ORDERS,
                                                  TWIN_TOLERANCE, kernel_offsets)
from latentcore.analysis.ebsd.scan_references import PATTERN_MAPS, REFERENCE_MAPS, listed, references_names
from latentcore.analysis.maps import Roi

from ..compute import scan_maps, sources
from ..figures import png
from ..figures import references as reference_figures
from ..session import defaults, lifecycle, state
from . import common, explore


def boundary_degrees(where=None, page: str = "maps") -> float:
    """The misorientation (degrees) above which neighbours are on a grain boundary."""
    where = where or st
    key = f"{page}_boundary_deg"
    return float(where.number_input("Boundary angle (°)", 0.5, 60.0,
                                    defaults.setting(key, DEFAULT_BOUNDARY_DEG, bounds=(0.5, 60.0)), step=0.5, key=key,
                                    help="Neighbours misoriented by more than this (symmetry-reduced) are on a boundary."))


def twin_tolerance(where=None, page: str = "maps") -> float:
    """How far (degrees) from Σ3 a boundary of a cubic phase may be and still be a twin boundary (Brandon's
    criterion by default): `orientation.TWIN_TOLERANCE`, as `--twin-tolerance-deg` declares it."""
    where, key, bounds = where or st, f"{page}_twin_tolerance_deg", (TWIN_TOLERANCE.low, TWIN_TOLERANCE.high)
    return float(where.number_input(TWIN_TOLERANCE.label, *bounds, defaults.setting(key, TWIN_TOLERANCE.default,
                                                                                 bounds=bounds),
                                    step=0.5, format="%.2f", key=key, help=TWIN_TOLERANCE.sentence))


def boundary_switch(lat, where=None, page: str = "maps") -> bool:
    """The grain-boundary overlay switch of a page's scan maps; off (and disabled) when the latents hold
    no orientations."""
    where = where or st
    has, key = lat.orientations is not None, f"{page}_boundaries"
    on = where.toggle("Boundaries", value=defaults.setting(key, False) and has, key=key, disabled=not has,
                      help="Draw the grain boundaries over the maps" if has else
                      "These latents hold no orientations (the scan file had none).")
    return bool(on and has)


def kam_order(lat, where=None, page: str = "maps") -> int:
    """The kernel average misorientation's order (`orientation.KAM_ORDERS`: 1, the 4 edge neighbours; 2, the 12
    within two edge steps); the default, and disabled, when the latents hold no orientations."""
    where, key = where or st, f"{page}_kam_order"
    chosen = where.selectbox("KAM order", KAM_ORDERS, key=key, disabled=lat.orientations is None,
                             index=defaults.setting_index(key, DEFAULT_KAM_ORDER, KAM_ORDERS),
                             format_func=lambda order: f"{order} ({len(kernel_offsets(order)) * 2} neighbours)",
                             help=KAM_ORDER_HELP[0].upper() + KAM_ORDER_HELP[1:] + ".")
    return int(chosen) if lat.orientations is not None else DEFAULT_KAM_ORDER


def references_panel(lat_stamp, lat, boundary_deg: float, roi: Roi | None = None, overlay: bool = False,
                     twin_tolerance_deg: float = TWIN_TOLERANCE.default):
    """A reference map of the scan over the ROI, cropped as the latent maps are, chosen from those it has, with
    its key or legend; the boundary lines over it; its PNG and the NPZ of every map over the ROI."""
    st.subheader("Reference maps")
    source = explore.source_for(lat)
    cols = st.columns([3, 2])
    from_patterns = cols[0].checkbox(f"{listed(PATTERN_MAPS)} from the patterns", key="maps_ref_patterns",
                                     value=defaults.setting("maps_ref_patterns", False), disabled=source is None,
                                     help="Streams every pattern of the scan file once." if source else
                                     "The scan file these latents came from is not loaded in this session.")
    order = kam_order(lat, cols[1])
    source_stamp = sources.stamp(source) if from_patterns and source else None
    with common.user_errors():
        refs, lines = scan_maps.roi_references(lat_stamp, source_stamp, boundary_deg, roi, order, twin_tolerance_deg)
    names = [n for n in REFERENCE_MAPS if n in refs.maps]
    for note in refs.notes:
        st.caption(note)
    if not names:
        st.info("No reference maps: these latents hold no orientations. Tick the box above for maps from the patterns.")
        return
    name = st.selectbox("Reference map", names, format_func=lambda n: REFERENCE_MAPS[n].title, key="maps_ref_name",
                        index=defaults.setting_index("maps_ref_name", names[0], names))
    fig = reference_figures.reference_figure(refs, name, lines, boundaries=overlay)
    st.plotly_chart(fig, key="maps_ref_chart", config={"displaylogo": False})
    if REFERENCE_MAPS[name].about:
        st.caption(REFERENCE_MAPS[name].described(boundary_deg, kam_order=order,
                                                  twin_tolerance_deg=twin_tolerance_deg))
    _downloads(lat_stamp, source_stamp, boundary_deg, refs, name, fig, order, twin_tolerance_deg)


def _downloads(lat_stamp, source_stamp, boundary_deg: float, refs, name: str, fig, order: int,
               twin_tolerance_deg: float):
    """The shown map as a PNG; every map as an NPZ (with the ROI they were cropped to) and its report, written
    and named as `python -m latentcore references` writes and names them."""
    files, out = references_names(refs.roi), lifecycle.results_dir("maps", lat_stamp[0])
    figure_name, dpi = files["figure"].format(name=name), state.png_dpi()
    over = f" over the ROI {refs.roi.describe(between=' to ')} (recorded as `roi`)" if refs.roi else ""

    def written(kind: str):
        return lambda: scan_maps.references_files(lat_stamp, source_stamp, boundary_deg, refs.roi, out,
                                                  order, twin_tolerance_deg)[kind].read_bytes()

    cols = st.columns(3)
    cols[0].download_button(f"{REFERENCE_MAPS[name].title} (PNG, {dpi} dpi)",
                            lambda: png.figure_png(fig, str(out / figure_name), dpi), file_name=figure_name,
                            mime="image/png", key="maps_ref_dl_png", on_click="ignore", icon=":material/download:")
    cols[1].download_button("Reference maps (NPZ)", written("npz"), file_name=files["npz"], key="maps_ref_dl_npz",
                            on_click="ignore", icon=":material/download:",
                            help=f"Every reference map{over}, with the x, y, step and units of its grid.")
    cols[2].download_button("Their report (JSON)", written("report"), file_name=files["report"],
                            mime="application/json", key="maps_ref_dl_json", on_click="ignore",
                            icon=":material/download:")
