"""Figures of labels and their prediction: `probe_maps` (the predicted label and its probability over the scan,
side by side, each with its colour bar, axes in the scan's units). Class k (in the sorted class list) has the
cluster hue k of `colours`, as in every other figure; rows predicted `unknown` (below the probe's confidence
threshold, code -2) are the noise grey, as noise is on the cluster maps."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..data.base import display_units
from .colours import NAN_COLOUR, NOISE_GREY, cluster_hue, discrete_colorscale

UNKNOWN_CODE = -2  # analysis.labels.probe.UNKNOWN_CODE: a row below the confidence threshold


def label_colours(classes) -> dict[str, str]:
    """Each class's colour: the k-th class takes cluster hue k."""
    return {str(name): cluster_hue(k) for k, name in enumerate(classes)}


def probe_maps(x, y, predicted, probability, grid, classes, *, units: str | None = "um", title: str = "",
               nan_colour: str = NAN_COLOUR) -> go.Figure:
    """Left: predicted class per pixel (discrete colour bar naming the classes, and `unknown` in grey when some
    rows are); right: its probability (0-1)."""
    predicted = np.asarray(predicted, np.float32)
    unknown = predicted == UNKNOWN_CODE
    n = len(classes)
    hues = [cluster_hue(k) for k in range(n)]
    classes = [str(c) for c in classes]
    if unknown.any():  # one more category after the classes
        predicted[unknown], hues, classes, n = n, hues + [NOISE_GREY], classes + ["unknown"], n + 1
    predicted[predicted < 0] = np.nan
    unit = display_units(units)
    codes = grid.map_of(predicted, x, y)
    confidence = grid.map_of(np.asarray(probability, np.float32), x, y)
    fig = make_subplots(1, 2, subplot_titles=["predicted label", "probability of the predicted label"],
                        horizontal_spacing=0.16)
    xs, ys = grid.x_values.astype(np.float32), grid.y_values.astype(np.float32)
    fig.add_trace(go.Heatmap(z=codes, x=xs, y=ys, zmin=-0.5, zmax=n - 0.5, name="label",
                             colorscale=discrete_colorscale(hues),
                             colorbar={"title": {"text": "label"}, "tickvals": list(range(n)),
                                       "ticktext": classes, "x": 0.42, "thickness": 12},
                             hovertemplate=f"x %{{x}} {unit}<br>y %{{y}} {unit}<br>class %{{z}}<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Heatmap(z=confidence, x=xs, y=ys, zmin=0, zmax=1, colorscale="Viridis", name="probability",
                             colorbar={"title": {"text": "probability"}, "x": 1.0, "thickness": 12},
                             hovertemplate=f"x %{{x}} {unit}<br>y %{{y}} {unit}<br>%{{z:.3f}}<extra></extra>"),
                  row=1, col=2)
    for col in (1, 2):
        fig.update_yaxes(autorange="reversed", scaleanchor="x" if col == 1 else "x2", constrain="domain",
                         title_text=f"y ({unit})", row=1, col=col)
        fig.update_xaxes(constrain="domain", title_text=f"x ({unit})", row=1, col=col)
    fig.update_layout(title=title, plot_bgcolor=nan_colour, template="plotly_white", width=1100, height=480)
    return fig
