"""The line profile of the pages with a scan map (UMAP, Clusters, Latent maps): the line drawn with a scan map's
Line tool, kept in the session (`state.profile_line`) and shown on every scan map of these pages (`marks`), and
under the maps the values along it (`latentcore.analysis.profile`): the misorientations where the latents hold
orientations, band contrast, chosen latent dimensions, as a figure, the table and their downloads (the files
`python -m latentcore profile` writes)."""
from __future__ import annotations

import streamlit as st

from latentcore.analysis.profile import Line, profile_names
from latentcore.columns import MISORIENTATION_TO_FIRST
from latentcore.data.bandcontrast import BandContrast
from latentcore.data.base import display_units
from latentcore.errors import LatentError
from latentcore.figures.profile_figures import profile_figure

from ..compute import scan_maps
from ..figures import png
from ..session import defaults, lifecycle, state
from . import common, study

LINE_COLOUR = "#e31a1c"


def marks(keys, scan: tuple) -> dict:
    """The scan's profile line as a mark on each of its maps `keys` (panel key -> [mark]; none without a line;
    `scan`: its latents file's stamp)."""
    line = state.profile_line(scan)
    if line is None:
        return {}
    mark = {"x": [line[0], line[2]], "y": [line[1], line[3]], "name": "profile line", "symbol": "line",
            "colour": LINE_COLOUR}
    return {key: [mark] for key in keys}


def band_choice(session_stamp: tuple, source, lat) -> BandContrast | None:
    """The session's band contrast for its own latents, a study's source's own map (`study.bandcontrast`), else the
    scan's own first map where the latents carry one, else none."""
    return study.bandcontrast(session_stamp, source, lat) or (BandContrast.scan_map() if lat.point_maps else None)


def profile_panel(page: str, session_stamp: tuple, source, lat):
    """The values along the profile line drawn on a map of `source` (a `sources.Source` of the session's latents
    `session_stamp`: a file's one, a study's source; `lat`: its latents), under a page's maps (`page`: its key
    prefix); how to draw one when there is none."""
    lat_stamp = source.stamp
    line = state.profile_line(lat_stamp)
    with st.expander("Line profile", icon=":material/timeline:", expanded=line is not None):
        if line is None:
            st.caption("Draw a line on the scan map (Line, above the map: press at its first point, drag, release) "
                       "to see the misorientation, band contrast and latent dimensions along it.")
            return
        key = f"{page}_profile_dims"
        dims = st.multiselect("Latent dimensions along the line", list(range(lat.dim)), key=key,
                              default=defaults.setting(key, list(range(min(lat.dim, 3))), range(lat.dim)))
        bandcontrast = band_choice(session_stamp, source, lat)
        try:
            table = scan_maps.line_profile(lat_stamp, line, bandcontrast, tuple(dims))
        except LatentError as exc:
            st.error(common.error_line(exc), icon=":material/error:")
            return
        _show(page, lat_stamp, lat, Line(*line), table, bandcontrast)


def _show(page: str, lat_stamp: tuple, lat, line: Line, table, bandcontrast):
    unit = display_units(lat.units)
    band_name = bandcontrast.value_name if bandcontrast else "band contrast"
    said = [f"From ({line.x0:.4g}, {line.y0:.4g}) to ({line.x1:.4g}, {line.y1:.4g}) {unit}, {line.length:.4g} {unit}: "
            f"the {len(table):,} pixels the line passes through, against their distance along it."]
    said.append("Misorientation: symmetry-reduced, to the first indexed pixel along the line and to the pixel before."
                if MISORIENTATION_TO_FIRST in table else "No misorientation: these latents hold no orientations.")
    if bandcontrast is None:
        said.append("No band contrast: choose it on the Data page.")
    st.caption(" ".join(said))
    title = f"Line profile from ({line.x0:.4g}, {line.y0:.4g}) to ({line.x1:.4g}, {line.y1:.4g}) {unit}"
    figure = profile_figure(table, lat.units, title=title, band_name=band_name)
    st.plotly_chart(figure, key=f"{page}_profile_figure", config={"displaylogo": False})
    st.dataframe(table, hide_index=True, height=min(400, 38 + 35 * len(table)))
    names, dpi = profile_names(line), state.png_dpi()
    out = lifecycle.results_dir("profile", lat_stamp[0])
    cols = st.columns(3)
    cols[0].download_button("Profile (CSV)", table.to_csv(index=False), file_name=names["table"], mime="text/csv",
                            key=f"{page}_profile_csv", on_click="ignore", icon=":material/download:")
    cols[1].download_button(f"Profile (PNG, {dpi} dpi)",
                            lambda: png.figure_png(figure, str(out / names["figure"]), dpi), file_name=names["figure"],
                            mime="image/png", key=f"{page}_profile_png", on_click="ignore", icon=":material/download:")
    cols[2].button("Clear the line", key=f"{page}_profile_clear", on_click=state.clear_profile_line,
                   icon=":material/close:")
