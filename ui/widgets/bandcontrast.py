"""The band-contrast choice: the scan's own vendor maps (Oxford Band Contrast, EDAX IQ/CI/Fit) first and
by default, then tables (x, y, bandcontrast). A choice is a spec string: `scan:<map name>` or a table's
path (see latentcore.data.bandcontrast). It follows the chosen scan: a new source gets its own default,
and a table that does not cover the scan is said so, by file name (never a server path)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from latentcore.data.bandcontrast import scan_map_name, scan_map_spec
from latentcore.demo import DEMO_BANDCONTRAST
from latentcore.errors import LatentError

from ..compute import front
from ..session import files, state

NONE = "none"


def stamp(spec) -> tuple | None:
    """A table's file stamp, or (spec, 0, 0) for a scan map (the latents stamp covers it)."""
    if spec is None:
        return None
    return (str(spec), 0, 0) if scan_map_name(spec) is not None else front.stamp(spec)


def label(spec) -> str:
    if spec is None:
        return NONE
    name = scan_map_name(spec)
    if name is not None:
        return f"{name or 'band contrast'} (the scan's own map)"
    return f"{Path(spec).name} (demo)" if Path(spec) == DEMO_BANDCONTRAST else Path(spec).name


def table_path(bc_stamp) -> str | None:
    """The table file behind a key (for input records), None for a scan map."""
    return None if bc_stamp is None or scan_map_name(bc_stamp[0]) is not None else bc_stamp[0]


def choices(source: Path | None, lat=None) -> dict[str, str | None]:
    """label -> spec: the scan's maps (from the latents when given, else the data file), "none", the demo
    table when the demo scan is chosen, and uploaded tables."""
    if lat is not None:
        names = list(lat.point_maps)
    else:
        names = front.source_map_names(front.stamp(source)) if source is not None and source.exists() else []
    specs = [scan_map_spec(n) for n in names] + [None]
    if state.is_demo():
        specs.append(str(DEMO_BANDCONTRAST))
    specs += [str(p) for p in files.files("bandcontrast")]
    return {label(spec): spec for spec in specs}


def default_for(source: Path | None) -> str | None:
    """A new source's band contrast: its own first map, else the demo table for the demo scan, else none."""
    names = front.source_map_names(front.stamp(source)) if source is not None and Path(source).exists() else []
    if names:
        return scan_map_spec(names[0])
    from latentcore.demo import DEMO_SCAN

    return str(DEMO_BANDCONTRAST) if source is not None and Path(source) == DEMO_SCAN else None


def picker(key_name: str, source: Path | None, lat=None) -> str | None:
    """A select box of `choices` that shows the session's choice (set through the widget's state, so
    the browser never keeps a stale pick after the source changed); a pick becomes the session's.
    A choice that is not offered for this scan gives way to the first offered (its own map)."""
    options = choices(source, lat)
    specs = list(options.values())
    if state.bandcontrast() not in specs:
        state.set_bandcontrast(specs[0])
    shown = label(state.bandcontrast())
    if state.widget_value(key_name) != shown:
        state.set_widget_value(key_name, shown)

    def picked():
        state.set_bandcontrast(options.get(state.widget_value(key_name)))

    chosen = st.selectbox("Band contrast (the scan's own maps, or a table x, y, bandcontrast)", list(options),
                          key=key_name, on_change=picked)
    return options[chosen]


def coverage_problem(spec, source: Path) -> str | None:
    """Why a table cannot be paired with the scan (it covers another region or grid), in one line with
    the table's file name only; None when it fits or is a scan map."""
    if spec is None or scan_map_name(spec) is not None or source is None:
        return None
    try:
        front.check_coverage(front.stamp(spec), front.stamp(source))
    except LatentError as exc:
        return f"{Path(spec).name} does not cover {Path(source).name}: {without_path(exc)}"
    return None


def without_path(exc: LatentError) -> str:
    """The error's message without the server path of the file it names."""
    text = str(exc)
    return text.removeprefix(f"{exc.path}: ") if exc.path else text


def value_name(spec) -> str:
    """The name shown on axes and colour bars: the scan map's own name, else "band contrast"."""
    name = scan_map_name(spec) if spec is not None else None
    return name or "band contrast"
