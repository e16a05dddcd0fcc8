"""The one palette of every figure, and the colour codes of the cluster panels.

Cluster k always has hue `PALETTE[k % len(PALETTE)]`, noise (-1) is `NOISE_GREY`. The palette is
categorical in the manner of Glasbey et al. (2007): Tableau's blue, orange, green and red, then
each next colour the sRGB colour (mid lightness, clearly chromatic) farthest by CIEDE2000 from
those before it, from the noise grey and from white; every two hues differ by at least 24 (a just
noticeable difference is about 2), so no two clusters share a look, neighbours included. In the
cluster panels a point's colour may also be shaded (see `cluster_colour_codes`): the cluster's hue,
darker for the lowest latent values in the cluster and lighter for the highest.
"""
from __future__ import annotations

import colorsys

import numpy as np
import pandas as pd

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9e00b6", "#795500", "#dbc200", "#ff79ff",
           "#00dbce", "#00796d", "#ff9e9e", "#9eaaff")
NOISE_GREY = "#9a9a9a"
NAN_COLOUR = "#ffffff"
NEUTRAL = "#5f5f5f"  # a scan drawn in no colour: every pixel the same dark grey
SHADE_LEVELS = 8  # brightness steps per cluster in the cluster panels
LIGHTNESS = (0.28, 0.72)  # HLS lightness of the darkest and lightest shade


# -- colours ------------------------------------------------------------------------------------

def cluster_hue(label: int) -> str:
    """The fixed colour of a cluster (noise -1: grey)."""
    return NOISE_GREY if label < 0 else PALETTE[int(label) % len(PALETTE)]


def shade(colour: str, t: float) -> str:
    """`colour` with its HLS lightness set by t in [0, 1] (0 dark, 1 light), hue kept."""
    r, g, b = (c / 255 for c in _rgb(colour))
    h, _, s = colorsys.rgb_to_hls(r, g, b)
    lightness = LIGHTNESS[0] + (LIGHTNESS[1] - LIGHTNESS[0]) * float(t)
    return "#%02x%02x%02x" % tuple(int(round(c * 255)) for c in colorsys.hls_to_rgb(h, lightness, s))


def cluster_colours(n_clusters: int, levels: int = SHADE_LEVELS) -> list[str]:
    """The colour of every code: code 0 = noise, code 1 + k*levels + j = cluster k, shade j."""
    shades = [shade(cluster_hue(k), j / max(levels - 1, 1)) for k in range(n_clusters) for j in range(levels)]
    return [NOISE_GREY] + shades


def cluster_colour_codes(labels, latent, levels: int = SHADE_LEVELS):
    """(codes, colours): each point's code into `colours` (see `cluster_colours`).

    The shade follows the latent's rank within its cluster (equal-count steps, dark = lowest
    value, light = highest), so a few extreme values cannot wash out the others."""
    labels = np.asarray(labels, np.int64)
    n_clusters = int(labels.max(initial=-1)) + 1
    table = pd.DataFrame({"label": labels, "latent": np.asarray(latent, np.float64)})
    rank = table.groupby("label")["latent"].rank(method="first", pct=True).to_numpy()
    level = np.minimum((rank * levels).astype(np.int64), levels - 1)  # rank in (0, 1]
    codes = np.where(labels < 0, 0, 1 + labels * levels + level)
    colours = cluster_colours(n_clusters, levels)
    return codes.astype(np.uint8 if len(colours) <= 256 else np.uint16), colours


def discrete_colorscale(colours) -> list:
    """A step colour scale: integer code i (with cmin=-0.5, cmax=n-0.5) gets colours[i] exactly."""
    n = len(colours)
    scale = []
    for i, colour in enumerate(colours):
        scale += [[i / n, colour], [(i + 1) / n, colour]]
    return scale


def colours_of(values, colorscale, vmin: float, vmax: float) -> np.ndarray:
    """RGB (N, 3) uint8 of values through a plotly colour scale (step scales stay exact); NaN -> 0."""
    positions = np.array([float(p) for p, _ in colorscale])
    rgb = np.array([_rgb(c) for _, c in colorscale], np.float64)
    values = np.asarray(values, np.float64)
    t = np.clip((values - vmin) / ((vmax - vmin) or 1.0), 0, 1)
    t = np.nan_to_num(t)
    # a step scale repeats positions: interpolate inside the segment that holds t
    upper = np.clip(np.searchsorted(positions, t, side="right"), 1, len(positions) - 1)
    lower = upper - 1
    width = positions[upper] - positions[lower]
    weight = np.where(width > 0, (t - positions[lower]) / np.where(width > 0, width, 1), 0.0)
    return np.rint(rgb[lower] + (rgb[upper] - rgb[lower]) * weight[..., None]).astype(np.uint8)


def _rgb(colour) -> tuple[float, float, float]:
    colour = str(colour).strip()
    if colour.startswith("#"):
        h = colour[1:]
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        return tuple(float(int(h[i:i + 2], 16)) for i in (0, 2, 4))
    if colour.startswith("rgb"):
        return tuple(float(v) for v in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])
    from matplotlib.colors import to_rgb  # CSS names

    return tuple(255.0 * v for v in to_rgb(colour))


CODES_BLOCK = 1 << 20  # values coded at once: 8 MB of float64
COLOUR_STEPS = 254  # a continuous colour's codes 0..254 from `low` to `high`; 255 where a value is NaN


def continuous_codes(values, low: float, high: float) -> np.ndarray:
    """uint8 codes of `values` from `low` (0) to `high` (COLOUR_STEPS), beyond them the end codes, NaN and
    infinities COLOUR_STEPS + 1: the colour levels of a map drawn as an image and of the app's point panels (whose
    browser side makes the same codes of float32 values: wire.mjs's valueCodes)."""
    values = np.asarray(values)
    codes = np.empty(values.shape, np.uint8)
    flat_values, flat_codes, span = values.reshape(-1), codes.reshape(-1), (high - low) or 1.0
    for start in range(0, flat_values.size, CODES_BLOCK):  # in blocks: float64 copies of 10M values took 0.6 s
        block = flat_values[start:start + CODES_BLOCK].astype(np.float64)
        finite = np.isfinite(block)
        block -= low
        block /= span
        np.clip(block, 0, 1, out=block)
        block *= COLOUR_STEPS
        np.rint(block, out=block)
        block[~finite] = COLOUR_STEPS + 1
        flat_codes[start:start + CODES_BLOCK] = block
    return codes
