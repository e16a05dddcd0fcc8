"""The figure of a selection's orientations (plotly), from the plane coordinates of
`analysis.ebsd.pole_figures`: the selection's inverse pole figure beside the whole scan's, then one pole figure
per family with the selection over the scan.

    orientations_figure(selection, scan, outline, corners, title, direction="z", look="points", colours=None)

`selection` and `scan` are {"ipf": (N, 2), "poles": {family: (N, K, 2)}}; with look "points" the selection's
points take `colours` (N, 3 in 0..1, their IPF colours) and the scan's are grey, with "density" each panel shows
the share of its points per cell (`density`), on one colour scale.

    density(xy, bins=32)   (bins, bins) share of the points per cell over the unit disc, NaN where none
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

SCAN_GREY = "#c8c8c8"
OUTLINE = "#333333"
DENSITY_SCALE = "Viridis"


def orientations_figure(selection: dict, scan: dict, outline: np.ndarray, corners, title: str, direction: str = "z",
                        look: str = "points", colours: np.ndarray | None = None) -> go.Figure:
    families = list(selection["poles"])
    titles = [f"Selection: IPF-{direction} ({len(selection['ipf']):,} points)",
              f"Whole scan: IPF-{direction} ({len(scan['ipf']):,} points)",
              *[f"{family} pole figure" for family in families]]
    fig = make_subplots(rows=1, cols=2 + len(families), subplot_titles=titles, horizontal_spacing=0.05)
    ipf_extent = _extent(outline)
    for col, xy, point_colours in ((1, selection["ipf"], colours), (2, scan["ipf"], None)):
        if look == "density":
            _density(fig, *density(xy, extent=ipf_extent), col)
        else:
            _points(fig, xy, point_colours, col, "selection" if col == 1 else "whole scan")
        fig.add_scatter(x=outline[:, 0], y=outline[:, 1], mode="lines", line={"color": OUTLINE, "width": 1.5},
                        hoverinfo="skip", showlegend=False, row=1, col=col)
        for label, x, y in corners:
            fig.add_annotation(x=x, y=y, text=label, showarrow=False, yshift=-12 if y < 0.05 else 10,
                               font={"size": 11}, row=1, col=col)
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 181))
    for col, family in enumerate(families, start=3):
        poles = selection["poles"][family].reshape(-1, 2)
        if look == "density":
            _density(fig, *density(poles), col)
        else:
            _points(fig, scan["poles"][family].reshape(-1, 2), None, col, "whole scan")
            pole_colours = None if colours is None else np.repeat(colours, selection["poles"][family].shape[1], 0)
            _points(fig, poles, pole_colours, col, "selection")
        fig.add_scatter(x=circle.real, y=circle.imag, mode="lines", line={"color": OUTLINE, "width": 1.5},
                        hoverinfo="skip", showlegend=False, row=1, col=col)
        for text, x, y in (("X", 1.08, 0), ("Y", 0, 1.08)):
            fig.add_annotation(x=x, y=y, text=text, showarrow=False, font={"size": 11}, row=1, col=col)
    for col in range(1, 3 + len(families)):
        extent = ipf_extent if col <= 2 else (-1.12, 1.12, -1.12, 1.12)
        fig.update_xaxes(range=extent[:2], visible=False, row=1, col=col)
        fig.update_yaxes(range=extent[2:], visible=False, scaleanchor=f"x{'' if col == 1 else col}", row=1, col=col)
    fig.update_layout(title=title, width=1500, height=430, showlegend=False, plot_bgcolor="white",
                      margin={"l": 20, "r": 20, "t": 80, "b": 20},
                      coloraxis={"colorscale": DENSITY_SCALE, "cmin": 0,
                                 "colorbar": {"title": "% of points", "len": 0.8}})
    return fig


def density(xy: np.ndarray, bins: int = 32, extent=(-1.0, 1.0, -1.0, 1.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(share of the points per cell (bins, bins), rows indexed by y; NaN where none; cell centres along x, along y)."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    counts, x_edges, y_edges = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins, range=[extent[:2], extent[2:]])
    share = counts.T / max(len(xy), 1)
    share[counts.T == 0] = np.nan
    return share, (x_edges[1:] + x_edges[:-1]) / 2, (y_edges[1:] + y_edges[:-1]) / 2


def _extent(outline: np.ndarray) -> tuple[float, float, float, float]:
    low, high = outline.min(0), outline.max(0)
    pad = 0.08 * float(max(high - low))
    return low[0] - pad, high[0] + pad, low[1] - pad, high[1] + pad


def _points(fig, xy: np.ndarray, colours, col: int, name: str):
    colour = SCAN_GREY if colours is None else [f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in 255 * colours]
    fig.add_scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name=name, hoverinfo="skip",
                    marker={"size": 3 if colours is None else 4, "color": colour}, row=1, col=col)


def _density(fig, share: np.ndarray, x: np.ndarray, y: np.ndarray, col: int):
    """One colour scale for every panel (`coloraxis`): the panels' shares compare."""
    fig.add_heatmap(z=100 * share, x=x, y=y, coloraxis="coloraxis", hoverongaps=False,
                    hovertemplate="%{z:.2f} % of the panel's points<extra></extra>", row=1, col=col)
