"""The figure of a scan's grain distributions (`analysis.ebsd.grains.grain_distributions`' table): grain size (the
equivalent circle diameter) and grain orientation spread side by side, each bin's share of the grains and of their
area as bars, as MTEX's `histogram(grains.grainSize)` and `histogram(grains.GOS)` plot them, and beside them, where
the table has it, the boundary misorientation angles' share of the boundary segments per degree
(`plotAngleDistribution`); a study's (a `source` column) each source's share as a step line of its own, over the same
bins."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..columns import (AREA_FRACTION, BIN_HIGH, BIN_LOW, BOUNDARY_MISORIENTATION, FRACTION, GOS, QUANTITY, SOURCE,
                       ecd_name)
from ..data.base import display_units
from .colours import PALETTE

SHARES = {FRACTION: ("share of the grains", PALETTE[0]), AREA_FRACTION: ("share of the area", PALETTE[1])}


def distributions_figure(bins: pd.DataFrame, units: str | None, *, title: str = "", width: int | None = None
                         ) -> go.Figure:
    """Grain size (ECD, in the scan's unit) and GOS (°): each bin's `fraction` and `area_fraction` as grouped bars
    over the bin; and the boundary misorientation angle (°) where the table has it: each bin's `fraction`."""
    unit = display_units(units)
    panels = {ecd_name(units): ("Grain size", f"equivalent circle diameter ({unit})", "grains"),
              GOS: ("Grain orientation spread", "grain orientation spread (°)", "grains"),
              BOUNDARY_MISORIENTATION: ("Boundary misorientation", "misorientation angle (°)", "boundary segments")}
    panels = {quantity: said for quantity, said in panels.items() if (bins[QUANTITY] == quantity).any()}
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for title, _, _ in panels.values()],
                        horizontal_spacing=0.1 if len(panels) < 3 else 0.07)
    for col, (quantity, (_, axis, of)) in enumerate(panels.items(), start=1):
        part = bins[bins[QUANTITY] == quantity]
        if SOURCE in bins:
            _source_steps(fig, part, col, of)
            fig.update_xaxes(title_text=axis, rangemode="tozero", row=1, col=col)
            fig.update_yaxes(title_text=f"fraction of the source's {of}", rangemode="tozero", row=1, col=col)
            continue
        centre, bin_width = (part[BIN_LOW] + part[BIN_HIGH]) / 2, part[BIN_HIGH] - part[BIN_LOW]
        shares = SHARES if of == "grains" else {FRACTION: (f"share of the {of}", PALETTE[2])}
        for k, (share, (name, colour)) in enumerate(shares.items()):
            fig.add_trace(go.Bar(x=centre - bin_width / 2 + (k + 0.5) * bin_width / len(shares), y=part[share],
                                 width=bin_width / len(shares), name=name, marker={"color": colour},
                                 showlegend=col == 1 or of != "grains", legendgroup=f"{share} {of}",
                                 customdata=part[[BIN_LOW, BIN_HIGH]].to_numpy(),
                                 hovertemplate=f"%{{customdata[0]:.4g}} to %{{customdata[1]:.4g}}: %{{y:.3f}} of the "
                                               f"{name.split(' of the ')[1]}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text=axis, rangemode="tozero", row=1, col=col)
        fig.update_yaxes(title_text="fraction", rangemode="tozero", row=1, col=col)
    fig.update_layout(title=title, template="plotly_white", width=width or 450 * len(panels), height=420, bargap=0,
                      legend={"orientation": "h", "y": -0.22})
    return fig


def _source_steps(fig: go.Figure, part: pd.DataFrame, col: int, of: str):
    """Each source's share of its grains (`of`) per bin, as a step line over the bins' edges (a colour per source)."""
    for k, (source, own) in enumerate(part.groupby(SOURCE, sort=False)):
        x = [*own[BIN_LOW], own[BIN_HIGH].iloc[-1]]
        y = [*own[FRACTION], own[FRACTION].iloc[-1]]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"shape": "hv", "color": PALETTE[k % len(PALETTE)]},
                                 name=str(source), legendgroup=str(source), showlegend=col == 1,
                                 hovertemplate=f"{source}: from %{{x:.4g}}, %{{y:.3f}} of its {of}<extra></extra>"),
                      row=1, col=col)
