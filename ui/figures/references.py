"""Figures of the EBSD reference maps for the pages (latentcore.figures.reference_figures), from the
`ScanReferences` of `ui.compute.scan_maps.roi_references`, and the boundary lines over any scan map."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from latentcore.analysis.ebsd import orientation
from latentcore.analysis.ebsd.scan_references import SCALAR_LOOKS, TITLES
from latentcore.figures import reference_figures as rf


def reference_figure(refs, name: str, lines=None, boundaries: bool = False) -> go.Figure:
    """One reference map of `refs` (a `ScanReferences`) with its colour bar, IPF key or phase legend; `boundaries`
    draws the grain boundaries (`lines`: x, y, NaN between segments) over it."""
    values, x, y, units = refs.maps[name], refs.x, refs.y, refs.units
    subplots = name.startswith("ipf_") or name == "vbse_rgb"  # drawn with the colour key's subplot
    groups = sorted({g for g in refs.laue.values() if g})
    if name.startswith("ipf_"):
        one = groups[0] if len(groups) == 1 else None
        fig = rf.rgb_map_figure(values, x, y, TITLES[name], units,
                                key=orientation.ipf_key_image(one, 160) if one else None,
                                key_labels=orientation.ipf_key_corners(one) if one else (),
                                key_title=f"{one} key" if one else "")
    elif name == "vbse_rgb":
        fig = rf.rgb_map_figure(values, x, y, TITLES[name], units)
    elif name == "phase":
        fig = rf.phase_map_figure(values, {k: p.name for k, p in refs.phases.items()}, x, y, units)
    elif name == "grains":
        fig = rf.grain_map_figure(values, x, y, units)
    elif name in SCALAR_LOOKS:
        value_name, colorscale = SCALAR_LOOKS[name]
        fig = rf.scalar_map_figure(values, x, y, TITLES[name], value_name, units, colorscale)
    elif name == "boundaries":  # the scan's pixels in light grey, the boundaries as lines
        fig = rf.scalar_map_figure(np.ones(values.shape), x, y, TITLES[name], "", units,
                                   colorscale=[[0, "#eeeeee"], [1, "#eeeeee"]])
        fig.data[0].showscale = False
        boundaries = True
    else:
        fig = rf.scalar_map_figure(values, x, y, TITLES[name], name.upper(), units)
    if boundaries and lines is not None:
        rf.add_boundary_lines(fig, *lines, row=1 if subplots else None, col=1 if subplots else None)
    fig.update_layout(width=None)
    return fig


def with_boundaries(fig: go.Figure, lines, n_maps: int = 1, columns: int | None = None) -> go.Figure:
    """A scan map figure with the boundaries (line segments x, y: `scan_maps.boundary_lines`) drawn over it;
    with `columns`, a grid of `n_maps` subplots (the latent maps), each overlaid."""
    if lines is None:
        return fig
    if columns is None:
        return rf.add_boundary_lines(fig, *lines)
    for i in range(n_maps):
        rf.add_boundary_lines(fig, *lines, row=i // columns + 1, col=i % columns + 1)
    return fig
