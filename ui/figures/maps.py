"""The Latent maps and Rank pages' grids of maps (latentcore.figures.latent_map_grid), laid out for
the browser."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from latentcore import figures


def latent_maps_figures(maps, grid, dims, *, columns: int, nan_colour: str, units, scale_bar: bool,
                        colorscale: str = "Viridis", limits=None):
    """(browser figure, PNG figure) of the maps, through `colorscale` over `limits` (vmin, vmax; None:
    each map's range): the PNG keeps the figure's own size, so each colour bar is as tall as its
    map; the browser's fills the page's width."""
    grid_fig = figures.latent_map_grid(maps, grid, dims, columns=int(columns), nan_colour=nan_colour, title="",
                                       units=units, scale_bar=scale_bar, colorscale=colorscale, limits=limits)
    png_fig = go.Figure(grid_fig)
    grid_fig.update_layout(width=None, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return grid_fig, png_fig


def reference_and_top_dimensions(name: str, reference, maps, grid, dims, units):
    """The reference map (values on the grid) first, in bold, then its top dimensions' maps."""
    fig = figures.latent_map_grid(np.concatenate([reference[None], maps]), grid, [name, *dims],
                                  columns=min(5, len(dims) + 1), title=f"{name} and its top dimensions", units=units)
    fig.layout.annotations[0].text = f"<b>{name}</b>"
    fig.data[0].colorbar.title.text = name  # its own value, not a latent's
    fig.update_layout(width=None, height=60 + 200 * -(-(len(dims) + 1) // 5),
                      margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig
