"""The Latent maps and Rank pages' grids of maps (latentcore.figures.latent_map_grid), laid out for
the browser."""
from __future__ import annotations

import numpy as np

from latentcore import figures

IMAGE_ABOVE = 40_000  # pixels of a map shown above which the browser gets an image (a 200 x 200 map: a heatmap)


def latent_maps_figures(maps, grid, dims, *, columns: int, nan_colour: str, units, scale_bar: bool,
                        colorscale: str = "Viridis", limits=None):
    """(browser figure, a function making the PNG figure) of the maps, through `colorscale` over `limits` (vmin,
    vmax; None: each map's range): the PNG keeps the figure's own size, so each colour bar is as tall as its
    map; the browser's fills the page's width, its maps of more than IMAGE_ABOVE pixels drawn as images."""
    drawn = dict(columns=int(columns), nan_colour=nan_colour, title="", units=units, scale_bar=scale_bar,
                 colorscale=colorscale, limits=limits)
    grid_fig = figures.latent_map_grid(maps, grid, dims, image_above=IMAGE_ABOVE, **drawn)
    fixed_frame(grid_fig, top=40)
    return grid_fig, lambda: figures.latent_map_grid(maps, grid, dims, **drawn)  # the PNG's: heatmaps, drawn when asked


def reference_and_top_dimensions(name: str, reference, maps, grid, dims, units):
    """The reference map (values on the grid) first, in bold, then its top dimensions' maps (as images above
    IMAGE_ABOVE pixels)."""
    fig = figures.latent_map_grid(np.concatenate([reference[None], maps]), grid, [name, *dims],
                                  columns=min(5, len(dims) + 1), title=f"{name} and its top dimensions", units=units,
                                  image_above=IMAGE_ABOVE)
    fig.layout.annotations[0].text = f"<b>{name}</b>"
    first = fig.data[0]  # a heatmap, or the marker trace that carries an image's colour bar
    (first.marker if first.type == "scatter" else first).colorbar.title.text = name  # its own value, not a latent's
    fig.update_layout(height=110 + 200 * -(-(len(dims) + 1) // 5))
    return fixed_frame(fig, top=60)


def fixed_frame(fig, top: int):
    """The figure at the page's width in margins that hold the y axes' title and ticks, the last column's colour
    bar, the x axes' and the note below: plotly fitting them itself measures every tick label and draws the figure
    again (0.6 s of the browser's 1.3 s for the Latent maps page's eight maps at 1M pixels)."""
    fig.update_layout(width=None, margin={"l": 60, "r": 70, "t": top, "b": 60, "autoexpand": False})
    fig.update_xaxes(ticklabeloverflow="allow")
    return fig.update_yaxes(ticklabeloverflow="allow")
