"""The figure of a line profile (`analysis.profile.line_profile`'s table): its values against the distance along
the line, one panel each for the misorientations, band contrast and the latent dimensions it holds."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..columns import BANDCONTRAST, MISORIENTATION_TO_FIRST, MISORIENTATION_TO_PREVIOUS, distance_name
from ..data.base import display_units
from .colours import NOISE_GREY, PALETTE

MISORIENTATIONS = {MISORIENTATION_TO_FIRST: "to the first indexed pixel",
                   MISORIENTATION_TO_PREVIOUS: "to the previous pixel"}


def profile_figure(table: pd.DataFrame, units: str | None, *, title: str = "", band_name: str = "band contrast",
                   width: int = 900) -> go.Figure:
    """The table's columns against its distance, in stacked panels sharing the distance axis: misorientation
    (degrees, to the first point and to the previous one), band contrast (`band_name`), the latent dimensions."""
    distance = table[distance_name(units)]
    latents = [c for c in table.columns if c.startswith("latent_")]
    panels = [(name, columns) for name, columns in (
        ("misorientation (°)", [c for c in MISORIENTATIONS if c in table]),
        (band_name, [BANDCONTRAST] if BANDCONTRAST in table else []),
        ("latent value", latents)) if columns]
    fig = make_subplots(rows=max(1, len(panels)), cols=1, shared_xaxes=True, vertical_spacing=0.06)
    hues = iter(PALETTE * (1 + len(table.columns) // len(PALETTE)))  # one hue a trace: the legend tells them apart
    for i, (axis, columns) in enumerate(panels, start=1):
        for column in columns:
            name = MISORIENTATIONS.get(column, band_name if column == BANDCONTRAST else column.replace("_", " "))
            colour = NOISE_GREY if column == MISORIENTATION_TO_PREVIOUS else next(hues)
            fig.add_trace(go.Scatter(x=distance, y=table[column], mode="lines+markers", name=name,
                                     marker={"size": 4}, line={"color": colour, "width": 1.5}), row=i, col=1)
        fig.update_yaxes(title_text=axis, row=i, col=1)
    fig.update_xaxes(title_text=f"distance along the line ({display_units(units)})", row=max(1, len(panels)), col=1)
    fig.update_layout(title=title, template="plotly_white", width=width, height=160 + 200 * max(1, len(panels)),
                      legend={"orientation": "h", "y": -0.12 if len(panels) < 3 else -0.06})
    return fig
