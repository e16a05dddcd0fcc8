"""The band-contrast choice: the scan's own vendor maps (Oxford Band Contrast, EDAX IQ/CI/Fit) first and
by default, then tables (x, y, bandcontrast). A choice is a `BandContrast` value (latentcore.data.bandcontrast),
made here and carried unchanged to the compute. It follows the chosen scan: a new source gets its own default,
and a table that does not cover the scan is said so, by file name (never a server path)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from latentcore.data.bandcontrast import BandContrast
from latentcore.demo import DEMO_BANDCONTRAST
from latentcore.errors import LatentError

from ..compute import sources
from ..session import defaults, files, state

NONE = "none"


def label(bandcontrast: BandContrast | None) -> str:
    if bandcontrast is None:
        return NONE
    if bandcontrast.from_scan:
        return f"{bandcontrast.name or 'band contrast'} (the scan's own map)"
    path = bandcontrast.path
    return f"{path.name} (demo)" if path == DEMO_BANDCONTRAST else path.name


def choices(source: Path | None, lat=None) -> dict[str, BandContrast | None]:
    """label -> choice: the scan's maps (from the latents when given, else the data file), "none", the demo
    table when the demo scan is chosen, and uploaded tables (not for a study of several scans: a table holds one
    scan's x, y)."""
    if lat is not None:
        names = list(lat.point_maps)
    else:
        names = sources.source_map_names(sources.stamp(source)) if source is not None and source.exists() else []
    found = [BandContrast.scan_map(n) for n in names] + [None]
    if lat is not None and len(lat.sources()) > 1:
        return {label(choice): choice for choice in found}
    if state.is_demo():
        found.append(BandContrast.table(DEMO_BANDCONTRAST))
    found += [BandContrast.table(p) for p in files.files("bandcontrast")]
    return {label(choice): choice for choice in found}


def default_for(source: Path | None) -> BandContrast | None:
    """A new source's band contrast: its own first map, else the demo table for the demo scan, else none."""
    names = sources.source_map_names(sources.stamp(source)) if source is not None and Path(source).exists() else []
    if names:
        return BandContrast.scan_map(names[0])
    from latentcore.demo import DEMO_SCAN

    return BandContrast.table(DEMO_BANDCONTRAST) if source is not None and Path(source) == DEMO_SCAN else None


def picker(key_name: str, source: Path | None, lat=None) -> BandContrast | None:
    """A select box of `choices` that shows the session's choice (set through the widget's state, so
    the browser never keeps a stale pick after the source changed); a pick becomes the session's.
    A choice that is not offered for this scan gives way to the first offered (its own map)."""
    options = choices(source, lat)
    offered = list(options.values())
    if state.bandcontrast() not in offered:
        state.set_bandcontrast(offered[0])
    shown = label(state.bandcontrast())
    if defaults.widget_value(key_name) != shown:
        defaults.set_widget_value(key_name, shown)

    def picked():
        state.set_bandcontrast(options.get(defaults.widget_value(key_name)))

    chosen = st.selectbox("Band contrast (the scan's own maps, or a table x, y, bandcontrast)", list(options),
                          key=key_name, on_change=picked)
    return options[chosen]


def coverage_problem(bandcontrast: BandContrast | None, source: Path) -> str | None:
    """Why a table cannot be paired with the scan (it covers another region or grid), in one line with
    the table's file name only; None when it fits or is a scan map."""
    if bandcontrast is None or bandcontrast.from_scan or source is None:
        return None
    try:
        sources.check_coverage(bandcontrast, sources.stamp(source))
    except LatentError as exc:
        return f"{bandcontrast.path.name} does not cover {Path(source).name}: {without_path(exc)}"
    return None


def without_path(exc: LatentError) -> str:
    """The error's message without the server path of the file it names."""
    text = str(exc)
    return text.removeprefix(f"{exc.path}: ") if exc.path else text
