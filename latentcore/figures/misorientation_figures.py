"""The figure of a misorientation-angle distribution (`analysis.ebsd.misorientations`): the correlated (neighbours)
and the uncorrelated (random pairs) angles in two panels sharing the angle axis, each in % of its pairs per degree
(a narrower last bin reads at the same scale; neighbours' low angles would dwarf the random pairs on one scale), with
random orientations' density (Mackenzie, cubic) as a curve over both.

    angle_figure(edges, correlated, uncorrelated, curve, names, title)

`edges`: the bins in degrees; `correlated`, `uncorrelated`: each bin's share of its kind's pairs (NaN: no pairs);
`curve`: (angles, density per degree) or None; `names`: the panels' and the curve's titles, "correlated",
"uncorrelated", "random".
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .colours import PALETTE

RANDOM_COLOUR = "#222222"
AXIS_LINE = "#444444"


def angle_figure(edges, correlated, uncorrelated, curve, names: dict, title: str = "") -> go.Figure:
    edges = np.asarray(edges, np.float64)
    low, width = edges[:-1], np.diff(edges)
    kinds = (("correlated", correlated, PALETTE[0]), ("uncorrelated", uncorrelated, PALETTE[1]))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.16,
                        subplot_titles=[names[kind] for kind, _, _ in kinds])
    for row, (kind, shares, colour) in enumerate(kinds, start=1):
        shares = 100 * np.asarray(shares, np.float64)
        fig.add_bar(x=low, y=shares / width, width=width, offset=0, name=kind, showlegend=False,
                    marker={"color": colour, "line": {"color": "white", "width": 0.5}},
                    customdata=np.column_stack([low, edges[1:], shares]),
                    hovertemplate="%{customdata[0]:.1f}-%{customdata[1]:.1f}°: %{customdata[2]:.2f} % of the pairs"
                                  "<extra>" + kind + "</extra>", row=row, col=1)
        if curve is not None:
            angles, density = curve
            fig.add_scatter(x=angles, y=100 * np.asarray(density), mode="lines", name=names["random"],
                            showlegend=row == 1, line={"color": RANDOM_COLOUR, "width": 2, "simplify": False},
                            hoverinfo="skip", row=row, col=1)
        fig.update_yaxes(title_text="% of pairs per °", rangemode="tozero", ticks="outside", showline=True,
                         linecolor=AXIS_LINE, row=row, col=1)
    fig.update_xaxes(range=[0, float(edges[-1])], dtick=10, ticks="outside", showline=True, linecolor=AXIS_LINE,
                     showticklabels=True)
    fig.update_xaxes(title_text="misorientation angle (°)", row=2, col=1)
    fig.update_layout(title=title, template="plotly_white", bargap=0, width=900, height=640,
                      legend={"orientation": "h", "x": 0, "y": -0.12}, margin={"l": 70, "r": 30, "t": 90, "b": 90})
    return fig
