"""A scatter of many points as a raster: above DENSITY_ABOVE points the browser gets a BINS x BINS
image (each cell: the colour most points in it have, or the mean of a continuous colour; the count
when there is no colour) instead of every point: the PNG download of a large scatter (the pages draw and
select on point panels, `ui/widgets/point_panel/`). The selection is a veil over cells without selected points,
so the picture does not change with it. Coordinates are in the quantised units of
`ui.figures.plots.Quantiser` (axis labels show the real values), the same as the exact scatter.
"""
from __future__ import annotations

import dataclasses
import functools
import weakref

import numpy as np
import plotly.graph_objects as go

from latentcore import figures

from . import plots

# Above this many points the scatter is a raster: every point as WebGL kept the page running 2-9 s after a
# click at 50,000-200,000 points in headless Chromium on 2 cores, the raster about 1 s at 1,000,000
# (benchmarks/browser_interaction.py).
DENSITY_ABOVE = 20_000
BINS = 400
TARGET_BINS = 150
VEIL = [[0, "rgba(0,0,0,0)"], [1, plots.VEIL]]  # the scan maps' veil


@dataclasses.dataclass
class Raster:
    """Points on a BINS x BINS grid over the quantised coordinates."""

    ex: np.ndarray  # uint16 coordinates of every point
    ey: np.ndarray
    cell: np.ndarray  # each point's cell (row-major: iy * bins + ix)
    bins: int
    qx: plots.Quantiser
    qy: plots.Quantiser
    targets: np.ndarray | None = None  # `click_targets()`, when kept
    # the last colour's cell codes, by its codes array: a selection's rerun reuses them (a pass over every point)
    _last_codes: tuple = dataclasses.field(default=(None, None), repr=False, compare=False)

    @classmethod
    def of(cls, x, y, bins: int = BINS) -> "Raster":
        qx, qy = plots.Quantiser.of(x), plots.Quantiser.of(y)
        ex, ey = qx.encode(x), qy.encode(y)
        return cls(ex, ey, cells_of(ex, ey, bins), bins, qx, qy)

    @property
    def cell_size(self) -> float:
        return (plots.LEVELS + 1) / self.bins

    @functools.cached_property
    def point_counts(self) -> np.ndarray:
        """(bins, bins) points per cell."""
        return np.bincount(self.cell, minlength=self.bins ** 2).reshape(self.bins, self.bins)

    def colour_codes(self, colour: plots.Colour) -> np.ndarray:
        """Per cell: the mean code (continuous colours, NaN code left out) or the most frequent code
        (categories); NaN where a cell holds no point. Kept for the last colour (the same codes array)."""
        last, cell_codes = self._last_codes
        if last is not None and last() is colour.codes:
            return cell_codes
        cell_codes = self._colour_codes(colour)
        cell_codes.flags.writeable = False  # shared by reruns and sessions
        self._last_codes = (weakref.ref(colour.codes), cell_codes)
        return cell_codes

    def _colour_codes(self, colour: plots.Colour) -> np.ndarray:
        return cell_colour_codes(self.cell, self.bins ** 2, colour).reshape(self.bins, self.bins)

    def click_targets(self, bins: int = TARGET_BINS) -> np.ndarray:
        """Positions of the points a click can pick: in each cell of a coarser grid, the point
        nearest the cell's centre (at most bins**2 of them, so a click event stays small)."""
        cells = cells_of(self.ex, self.ey, bins)
        size = (plots.LEVELS + 1) / bins
        dx = self.ex - ((cells % bins) + 0.5) * size
        dy = self.ey - ((cells // bins) + 0.5) * size
        order = np.lexsort((dx * dx + dy * dy, cells))
        first = np.r_[True, cells[order][1:] != cells[order][:-1]]
        return order[first]


def cell_colour_codes(cell: np.ndarray, n_cells: int, colour: plots.Colour) -> np.ndarray:
    """Per cell of `n_cells` (each point's `cell`): the mean code (continuous colours, NaN code left out) or the
    most frequent code (categories); NaN where a cell holds no point."""
    codes = np.asarray(colour.codes)
    out = np.full(n_cells, np.nan)
    if colour.colorbar is not None:
        missing = codes == len(colour.colours) - 1  # the last code is the grey of NaN values
        if missing.any():  # else no copies of every row's cell and code (10M rows: 0.3 s)
            cell, codes = cell[~missing], codes[~missing]
        sums = np.bincount(cell, weights=codes, minlength=n_cells)
        counts = np.bincount(cell, minlength=n_cells)
        filled = counts > 0
        out[filled] = np.rint(sums[filled] / counts[filled])
    else:
        n_codes = len(colour.colours)
        pairs, counts = np.unique(cell * n_codes + codes, return_counts=True)
        cells, values = pairs // n_codes, pairs % n_codes
        order = np.lexsort((-counts, cells))  # per cell, the most frequent code first
        first = np.r_[True, cells[order][1:] != cells[order][:-1]]
        out[cells[order][first]] = values[order][first]
    return out


def cells_of(ex, ey, bins: int) -> np.ndarray:
    ix = (ex.astype(np.int64) * bins) // (plots.LEVELS + 1)
    iy = (ey.astype(np.int64) * bins) // (plots.LEVELS + 1)
    return iy * bins + ix


def density_figure(raster: Raster, colour: plots.Colour, row_ids, selected_positions=None, *, x_title="",
                   y_title="", title="", marks=(), height: int = 520):
    """The raster as a heatmap in quantised units, cells without a selected point veiled, and
    invisible click targets (real points, `Raster.click_targets`) that also offer box and lasso.
    Returns (figure, trace_rows) like `plots.scatter_figure`."""
    placement = {"x0": raster.cell_size / 2, "dx": raster.cell_size, "y0": raster.cell_size / 2,
                 "dy": raster.cell_size}
    counts = raster.point_counts
    if len(colour.colours) <= 2 and colour.colorbar is None:  # no colouring: show how many points
        colour = plots.continuous_colour(np.where(counts > 0, np.log10(np.maximum(counts, 1)), np.nan).ravel(),
                                         "log10 points per cell")
        cell_codes = np.where(counts.ravel() > 0, colour.codes, np.nan).reshape(counts.shape)
    else:
        cell_codes = raster.colour_codes(colour)
    colours = [*colour.colours, "rgba(0,0,0,0)"]  # one more code: empty cells stay transparent
    z = np.where(np.isfinite(cell_codes), cell_codes, len(colours) - 1).astype(np.uint8 if len(colours) <= 256
                                                                                 else np.uint16)
    main = go.Heatmap(z=z, colorscale=figures.discrete_colorscale(colours), zmin=-0.5, zmax=len(colours) - 0.5,
                      name="density", hoverinfo="skip", showscale=colour.colorbar is not None,
                      colorbar=colour.colorbar, **placement)
    fig = go.Figure(main)
    if selected_positions is not None and len(selected_positions):
        chosen = np.bincount(raster.cell[selected_positions], minlength=raster.bins ** 2).reshape(counts.shape)
        veil = ((counts > 0) & (chosen == 0)).astype(np.uint8)
        fig.add_trace(go.Heatmap(z=veil, colorscale=VEIL, zmin=0, zmax=1, showscale=False, hoverinfo="skip",
                                 name="selection", **placement))
    targets = raster.click_targets() if raster.targets is None else raster.targets
    fig.add_trace(go.Scattergl(x=raster.ex[targets], y=raster.ey[targets], mode="markers", showlegend=False,
                               marker={"size": 6, "opacity": 0}, name="points", hoverinfo="none"))
    trace_rows = {len(fig.data) - 1: np.asarray(row_ids)[targets]}
    for mark in marks:
        fig.add_trace(go.Scatter(x=raster.qx.encode(mark["x"]), y=raster.qy.encode(mark["y"]), mode="markers",
                                 name=mark["name"], marker={"symbol": mark.get("symbol", "star"),
                                                            "size": mark.get("size", 16),
                                                            "color": mark.get("colour", "#e31a1c")}))
    plots._legend_entries(fig, colour)
    fig.update_layout(title=title, xaxis=raster.qx.axis(x_title), yaxis=raster.qy.axis(y_title), height=height,
                      plot_bgcolor="white", margin={"l": 60, "r": 20, "t": 50, "b": 60},
                      legend={"orientation": "h", "x": 0, "y": -0.14, "yanchor": "top"})
    return fig, trace_rows
