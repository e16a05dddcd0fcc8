"""The quality filter the analysis pages share (`settings.QUALITY_PAGES`: UMAP, Clusters, Rank, and the labels panel on
them): a threshold per quality map the scan has (CI, MAD, band contrast, IQ: `analysis.quality.QUALITY_MAPS`), in
the map's own units and range, each on or off; the pixels kept shown as a map (a study's: a source's, on its own
grid); one line on every page it applies to saying how many points it keeps. `bc` is the session's band-contrast
choice. On a study (several scans) it applies to the study's embedding, clustering and labels' probe, each scan by its
own maps (band contrast: each scan's own), as `cluster --quality` and `probe --quality` on a study."""
from __future__ import annotations

import numpy as np
import streamlit as st

from latentcore.analysis.quality import QUALITY_MAPS, QualityFilter, Threshold
from latentcore.errors import LatentError

from ..compute import scan_maps
from ..figures import plots
from ..session import defaults, state
from ..session.settings import QUALITY_PAGES, quality_keys
from . import common, study

DEFAULT_PERCENTILE = 10  # a threshold first offered where it would remove a tenth of the pixels


def shared_filter(lat_stamp: tuple, lat, page: str) -> QualityFilter | None:
    """The filter's settings (an expander, the mask under them) and, when it is on, its note; returns the filter
    (None: off, or the latents are not a scan's)."""
    if lat.x is None or lat.y is None:
        return None
    on_study = len(lat.sources()) > 1
    try:  # several scans each by its own band contrast
        maps = scan_maps.quality_values(lat_stamp, None if on_study else state.bandcontrast())
    except LatentError:  # a band-contrast table that does not fit the scan: its own picker says so
        maps = scan_maps.quality_values(lat_stamp, None)
    if not maps:
        return None
    quality = _read_widgets(lat_stamp, lat, maps, on_study)
    state.set_quality_filter(lat_stamp, quality)  # the labels panel's
    if quality is not None:
        note(lat_stamp, quality, page, on_study)
    return quality


def _read_widgets(lat_stamp: tuple, lat, maps: dict, on_study: bool) -> QualityFilter | None:
    thresholds = []
    on_now = [name for name in maps if defaults.widget_value(quality_keys(name)[0], False)]
    with st.expander("Quality filter" + (" (on)" if on_now else ""), icon=":material/filter_alt:",
                     expanded=bool(on_now)):
        st.caption("Keep only the pixels whose quality maps meet every threshold ticked (a pixel without a value "
                   "is removed). One filter for the UMAP, Clusters and Rank pages and the labels.")
        for name, values in maps.items():
            record = QUALITY_MAPS[name]
            on_key, value_key = quality_keys(name)
            finite = values[np.isfinite(values)]
            if not finite.size:
                continue
            low, high = float(finite.min()), float(finite.max())
            default = float(np.percentile(finite, DEFAULT_PERCENTILE if record.keeps == ">=" else
                                          100 - DEFAULT_PERCENTILE))
            cols = st.columns([1, 2], vertical_alignment="center")
            side = "at least" if record.keeps == ">=" else "at most"
            on = cols[0].checkbox(f"Keep {record.title} {side}", key=on_key, value=defaults.setting(on_key, False))
            value = cols[1].number_input(f"{record.title} threshold ({low:.4g} to {high:.4g})", low, high,
                                         defaults.setting(value_key, default, bounds=(low, high)),
                                         step=(high - low) / 100 or 1.0, format="%.4g", key=value_key,
                                         disabled=not on)
            if on and value is not None:
                thresholds.append(Threshold(name, record.keeps, float(value)))
        band = state.bandcontrast() if any(t.name == "bc" for t in thresholds) and not on_study else None
        quality = QualityFilter(tuple(thresholds), band) if thresholds else None
        if quality is not None:
            _mask_map(lat_stamp, lat, quality)
    return quality


def _mask_map(lat_stamp: tuple, lat, quality: QualityFilter):
    """The pixels kept and removed, on the scan (a study's: each source's own grid, the source picked above it)."""
    with common.user_errors():
        kept = scan_maps.quality_kept(lat_stamp, quality)
    source = study.page_source(lat_stamp, "quality", "Source of the mask", said=False)
    kept = kept[source.start:source.start + source.rows]
    grid, cells = scan_maps.scan_grid(source.stamp)
    colour = plots.categorical_colour(np.where(kept, 0, -1), "Quality filter", names=["kept"], noise_name="removed")
    code_map = np.full((grid.n_rows, grid.n_columns), np.nan)
    code_map[cells] = colour.codes
    st.plotly_chart(plots.code_map_figure(code_map, colour, grid, title=f"Pixels kept by {quality} in {source.name}",
                                          height=420, units=lat.units), key="quality_mask",
                    config={"displaylogo": False})


def note(lat_stamp: tuple, quality: QualityFilter, page: str, on_study: bool = False):
    """"Quality filter ci >= 0.1: 2,180 of 2,400 points kept", where it applies, and a button that turns it off."""
    kept = scan_maps.quality_kept(lat_stamp, quality)
    cols = st.columns([6, 1], vertical_alignment="center")
    where = f"{', '.join(QUALITY_PAGES.values())} and the labels"
    where = f"the study's {where}, each scan by its own maps" if on_study else where
    cols[0].info(f"{quality.describe(kept)}. It applies to {where}.", icon=":material/filter_alt:")
    cols[1].button("Clear filter", key=f"{page}_quality_clear", on_click=state.clear_quality,
                   icon=":material/close:")
