"""Figures of the EBSD reference maps for the pages (latentcore.figures.reference_figures), from the
`ScanReferences` of `ui.compute.scan_maps.roi_references`, and the boundary lines over any scan map."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from latentcore.analysis.ebsd.records import REFERENCE_MAPS
from latentcore.analysis.ebsd.scan_references import boundary_class_lines, map_figure
from latentcore.figures import map_stride
from latentcore.figures import reference_figures as rf


def reference_figure(refs, name: str, lines=None, boundaries: bool = False, stride: int = 1) -> go.Figure:
    """One reference map of `refs` (a `ScanReferences`) with its colour bar, IPF key or phase legend
    (`scan_references.map_figure`), one pixel in `stride` along x and y; `boundaries` draws the grain boundaries
    (`lines`: x, y, NaN between segments) over it (the boundaries map always has them; the twin boundaries map draws
    them by class)."""
    classes = boundary_class_lines(refs.edges, refs.grid) if REFERENCE_MAPS[name].look == "boundary_classes" else None
    fig = map_figure(name, refs.maps[name], refs.grid, refs.units, refs.laue,
                     {k: p.name for k, p in refs.phases.items()}, lines, overlay=boundaries, classes=classes,
                     stride=stride)
    fig.update_layout(width=None)
    return fig


def shown_stride(refs, name: str) -> tuple[int, str | None]:
    """The stride the page shows map `name` of `refs` with (`figures.map_stride`, as the Latent maps page's), and
    what to say of it (None: every pixel is shown)."""
    rows, columns = np.shape(refs.maps[name])[:2]
    stride = map_stride(rows * columns)
    return stride, (f"Shown one pixel in {stride} along x and y ({rows} x {columns} map); the PNG and the NPZ keep "
                    "every pixel." if stride > 1 else None)


def with_boundaries(fig: go.Figure, lines, n_maps: int = 1, grid=None) -> go.Figure:
    """A scan map figure with the boundaries (line segments x, y: `scan_maps.boundary_lines`) drawn over it, over
    each of its `n_maps` subplots (the latent maps). With the maps' `grid` (the browser's figure, its maps shown one
    pixel in `map_stride`), many segments are drawn as an image (`reference_figures.line_image`); without it (a
    PNG's), as lines."""
    if lines is None:
        return fig
    shown = {} if grid is None else {"grid": grid, "stride": map_stride(grid.n_rows * grid.n_columns)}
    for subplot in range(1, n_maps + 1):
        rf.add_boundary_lines(fig, *lines, subplot=subplot, **shown)
    return fig
