"""Figures: the plotly builders the app and the CLI show, and their PNG export.

- `colours`: the palette and the cluster colour codes every figure shares;
- `plotly_figures`: the plotly builders (scatter, latent maps, cluster panels, rankings, GMM criterion);
- `png`: `write_png`, kaleido (Chromium) or a matplotlib re-drawing when no browser is found.

`from latentcore import figures; figures.X` reaches every name below.
"""
from .colours import (COLOUR_STEPS, NAN_COLOUR, NEUTRAL, NOISE_GREY, PALETTE, SHADE_LEVELS, _rgb, cluster_colour_codes,
                      cluster_colours, cluster_hue, colours_of, continuous_codes, discrete_colorscale, shade)
from .plotly_figures import (MAX_MAP_PIXELS, MISSING_PIXELS, SCALE_BAR_FRACTION, SCALE_BAR_STEPS, add_scale_bar,
                             cluster_panels, criterion_curve, latent_map_grid, map_stride, nice_length, png_uri,
                             ranking_bar, ranking_bars, ranking_scatter, umap_scatter)
from .png import DOWNLOAD_DPI, SCREEN_DPI, _with_dpi, browser_path, png_scale, write_png

__all__ = ["COLOUR_STEPS", "NAN_COLOUR", "NEUTRAL", "NOISE_GREY", "PALETTE", "SHADE_LEVELS", "cluster_colour_codes",
           "cluster_colours", "cluster_hue", "continuous_codes", "colours_of", "discrete_colorscale", "shade",
           "MAX_MAP_PIXELS", "MISSING_PIXELS",
           "SCALE_BAR_FRACTION", "SCALE_BAR_STEPS", "add_scale_bar", "cluster_panels", "criterion_curve",
           "latent_map_grid", "map_stride", "nice_length", "png_uri", "ranking_bar", "ranking_bars",
           "ranking_scatter", "umap_scatter",
           "DOWNLOAD_DPI", "SCREEN_DPI", "browser_path", "png_scale", "write_png"]
