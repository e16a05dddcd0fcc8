"""The mean pattern (mean item) of chosen rows as a figure: `as_plane` makes an item one 2-D image, and
`mean_pattern_figure` draws it in grey, pixel for pixel, with a colour bar (the app shows it; its PNG, from
the app or `python -m latentcore mean-pattern`, is `write_png` of the same figure)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

GREY = [[0.0, "#000000"], [1.0, "#ffffff"]]  # patterns as detectors show them: dark to bright


def as_plane(item: np.ndarray) -> tuple[np.ndarray, str]:
    """(2-D image, what it is) of an item (H, W), (C, H, W) or a video's (C, T, H, W): one channel as is,
    several averaged, a video's first frame."""
    item = np.asarray(item, np.float64)
    note = ""
    if item.ndim == 4:
        item, note = item[:, 0], "first frame"
    if item.ndim == 3:
        if item.shape[0] > 1:
            note = ", ".join(filter(None, [note, f"mean of {item.shape[0]} channels"]))
        item = item.mean(axis=0)
    return item, note


def mean_pattern_figure(image: np.ndarray, title: str, value_name: str = "mean intensity") -> go.Figure:
    """The image in grey with its colour bar (titled `value_name`), pixel axes, row 0 at the top."""
    image = np.asarray(image, np.float64)
    fig = go.Figure(go.Heatmap(z=image, colorscale=GREY, showscale=True, name="mean pattern",
                               colorbar={"title": {"text": value_name, "side": "right"}, "thickness": 12},
                               hovertemplate="column %{x}<br>row %{y}<br>" + value_name + " %{z:.4g}<extra></extra>"))
    fig.update_layout(title={"text": title, "font": {"size": 13}}, width=420, height=380,
                      margin={"l": 50, "r": 10, "t": 40, "b": 40}, template="plotly_white",
                      xaxis={"title": "pixel column", "constrain": "domain"},
                      yaxis={"title": "pixel row", "autorange": "reversed", "scaleanchor": "x", "constrain": "domain"})
    return fig
