"""Plotly figures shared by the app and the PNG export (DESIGN.md sections 6 and 7).

One palette for every figure: cluster k always has hue `PALETTE[k % len(PALETTE)]`, noise (-1)
is `NOISE_GREY`. In the cluster panels a point's colour is a small integer code into a discrete
colour scale (see `cluster_colour_codes`): the cluster's hue, darker for the lowest latent values
in the cluster and lighter for the highest. The spatial map and the (latent, band contrast)
scatter use the same codes and the same scale, so every point has the same colour in both.

Arrays are kept compact for a million points: float32 coordinates, uint8/uint16 colour codes,
row ids in `customdata` as the smallest unsigned type (see `umap_scatter`).

`write_png` renders with kaleido (Chromium) and falls back to a matplotlib drawing of the same
figure, with a warning, when no browser is present.
"""
from __future__ import annotations

import colorsys
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .data.base import display_units
from .storage import atomic_path

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
           "#17becf", "#393b79", "#e7ba52", "#637939")
NOISE_GREY = "#9a9a9a"
NAN_COLOUR = "#ffffff"
SHADE_LEVELS = 8  # brightness steps per cluster in the cluster panels
LIGHTNESS = (0.28, 0.72)  # HLS lightness of the darkest and lightest shade
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MAX_MAP_PIXELS = 250_000  # heatmaps larger than this are shown with a stride


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


def _smallest_uint(values: np.ndarray) -> np.ndarray:
    top = int(values.max(initial=0))
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values.astype(np.uint64)


# -- figures ------------------------------------------------------------------------------------

def umap_scatter(xy, colour=None, *, row_ids=None, colour_name: str = "", title: str = "UMAP",
                 categorical: bool | None = None, marker_size: float = 3) -> go.Figure:
    """WebGL scatter of a 2-D embedding.

    `colour`: None; integer labels (categorical: cluster hues, -1 grey, sent as uint8/16 codes);
    or numbers (continuous, float32, Viridis). `row_ids`: None puts 0..N-1 in `customdata`
    (smallest unsigned type); an array puts those; False leaves `customdata` out, so the point
    index is the row id. Bytes per point: 8 (x, y) + 1 (colour code) + 0/2/4 (row ids)."""
    xy = np.asarray(xy)
    marker = {"size": marker_size}
    if colour is not None:
        colour = np.asarray(colour)
        if categorical is None:
            categorical = np.issubdtype(colour.dtype, np.integer)
        marker.update(_categorical_marker(colour) if categorical else
                      {"color": colour.astype(np.float32), "colorscale": "Viridis",
                       "colorbar": {"title": {"text": colour_name}}, "showscale": True})
    trace = go.Scattergl(x=xy[:, 0].astype(np.float32), y=xy[:, 1].astype(np.float32), mode="markers",
                         marker=marker, name=colour_name or "points")
    if row_ids is not False:
        ids = np.arange(len(xy)) if row_ids is None else np.asarray(row_ids)
        trace.customdata = _smallest_uint(ids)
        trace.hovertemplate = "row %{customdata}<br>(%{x:.3g}, %{y:.3g})<extra></extra>"
    fig = go.Figure(trace)
    fig.update_layout(title=title, xaxis_title=f"{title} 1", yaxis_title=f"{title} 2",
                      dragmode="lasso", template="plotly_white")
    return fig


def _categorical_marker(labels: np.ndarray) -> dict:
    """Codes 0 = noise (-1), 1 + k = category k, through a step scale of the shared palette."""
    labels = labels.astype(np.int64)
    n = int(labels.max(initial=-1)) + 1
    colours = [NOISE_GREY] + [cluster_hue(k) for k in range(n)]
    codes = np.where(labels < 0, 0, labels + 1)
    return {"color": _smallest_uint(codes), "colorscale": discrete_colorscale(colours),
            "cmin": -0.5, "cmax": len(colours) - 0.5, "showscale": False}


def latent_map_grid(maps, grid, dims, *, columns: int = 4, nan_colour: str = NAN_COLOUR,
                    colorscale: str = "Viridis", title: str = "Latent maps",
                    max_pixels: int = MAX_MAP_PIXELS, units: str | None = "um",
                    scale_bar: bool = False, value_name: str = "latent value") -> go.Figure:
    """One heatmap per dimension (maps: (n_dims, n_rows, n_columns), NaN = no pixel, drawn in
    `nan_colour`), each with its own colour bar and x, y axes in `units`; an optional scale bar.
    Maps over `max_pixels` are shown with a stride, which the figure says (the NPY keeps every pixel)."""
    maps = np.asarray(maps, np.float32)
    stride = _stride(maps.shape[1] * maps.shape[2], max_pixels)
    columns = max(1, min(columns, len(dims)))
    n_rows = -(-len(dims) // columns)
    fig = make_subplots(n_rows, columns, subplot_titles=[f"dim {d}" for d in dims],
                        horizontal_spacing=0.12 if columns > 1 else 0.1, vertical_spacing=0.1 if n_rows > 1 else 0.1)
    unit = display_units(units)
    panel_height = 240 * min(2.0, maps.shape[1] / max(maps.shape[2], 1)) + 90  # follow the scan's aspect
    width, height = max(480, 330 * columns), int(max(320, panel_height * n_rows + 100))
    aspect = grid.n_rows * grid.step_y / (grid.n_columns * grid.step_x)
    margin = {"l": 60, "r": 70, "t": 90 if title else 50, "b": 50}
    plot_width, plot_height = width - margin["l"] - margin["r"], height - margin["t"] - margin["b"]
    for i, (dim, values) in enumerate(zip(dims, maps)):
        suffix = "" if i == 0 else str(i + 1)
        xa, ya = fig.layout[f"xaxis{suffix}"], fig.layout[f"yaxis{suffix}"]
        shown = (xa.domain[1] - xa.domain[0]) * plot_width * aspect / plot_height  # the map's height (square pixels)
        bar = {"title": {"text": value_name, "side": "right", "font": {"size": 10}}, "thickness": 10,
               "x": xa.domain[1] + 0.005, "xanchor": "left", "y": sum(ya.domain) / 2, "yanchor": "middle",
               "len": min(ya.domain[1] - ya.domain[0], shown), "tickfont": {"size": 9}}
        fig.add_trace(go.Heatmap(z=values[::stride, ::stride], x=grid.x_values[::stride].astype(np.float32),
                                 y=grid.y_values[::stride].astype(np.float32), colorscale=colorscale,
                                 showscale=True, colorbar=bar, name=f"dim {dim}",
                                 hovertemplate=f"dim {dim}<br>x %{{x}} {unit}<br>y %{{y}} {unit}<br>"
                                               "%{z:.4g}<extra></extra>"),
                      row=i // columns + 1, col=i % columns + 1)
        ya.update(scaleanchor=f"x{suffix}", constrain="domain")  # square pixels
        if scale_bar:
            _add_scale_bar(fig, grid, suffix, unit)
    fig.update_yaxes(autorange="reversed", title_text=f"y ({unit})", title_standoff=2, tickfont={"size": 9})
    fig.update_xaxes(constrain="domain", title_text=f"x ({unit})", title_standoff=2, tickfont={"size": 9})
    if stride > 1:
        fig.add_annotation(text=f"shown every {stride}th pixel in x and y ({maps.shape[1]} x {maps.shape[2]} "
                                "map); downloads hold every pixel", xref="paper", yref="paper", x=0, y=-0.02,
                           yanchor="top", showarrow=False, font={"size": 10})
    # heatmaps leave NaN cells transparent: the plot background is the NaN colour
    fig.update_layout(title=title, plot_bgcolor=nan_colour, template="plotly_white", height=height, width=width,
                      margin=margin)
    return fig


def nice_length(span: float, fraction: float = 0.2) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k) near `fraction` of `span`."""
    target = max(float(span) * fraction, 1e-12)
    power = 10 ** np.floor(np.log10(target))
    return float(max(m * power for m in (1, 2, 5) if m * power <= target))


def _add_scale_bar(fig, grid, suffix: str, unit: str):
    """A black bar of a round length at the bottom left of one map, labelled with its length."""
    width = grid.step_x * grid.n_columns
    length = nice_length(width)
    x0 = grid.x0 - grid.step_x / 2 + 0.05 * width
    y = grid.y0 + grid.step_y * (grid.n_rows - 1) - 0.06 * grid.step_y * grid.n_rows
    refs = {"xref": f"x{suffix}", "yref": f"y{suffix}"}
    fig.add_shape(type="line", x0=x0, x1=x0 + length, y0=y, y1=y, line={"color": "black", "width": 4}, **refs)
    fig.add_annotation(x=x0 + length / 2, y=y, text=f"{length:g} {unit}", showarrow=False, yshift=10,
                       font={"size": 10, "color": "black"}, bgcolor="rgba(255,255,255,0.7)", **refs)


def _stride(n_pixels: int, max_pixels: int) -> int:
    return max(1, int(np.ceil(np.sqrt(n_pixels / max_pixels)))) if max_pixels else 1


def cluster_panels(x, y, latent, bandcontrast, labels, grid, *, latent_name: str = "latent",
                   title: str = "", levels: int = SHADE_LEVELS, nan_colour: str = NAN_COLOUR,
                   units: str | None = "um", bandcontrast_name: str = "band contrast") -> go.Figure:
    """Left: the clusters on the scan (heatmap of colour codes); right: latent vs band contrast
    (WebGL scatter). Both use the same codes and colour scale; legend entries name each cluster."""
    from .analysis.maps import values_map

    labels = np.asarray(labels)
    codes, colours = cluster_colour_codes(labels, latent, levels)
    scale = {"colorscale": discrete_colorscale(colours), "showscale": False}
    fig = make_subplots(1, 2, subplot_titles=["clusters on the scan", f"{latent_name} vs {bandcontrast_name}"],
                        horizontal_spacing=0.08)
    code_map = values_map(codes.astype(np.float32), x, y, grid)
    fig.add_trace(go.Heatmap(z=code_map, x=grid.x_values.astype(np.float32), y=grid.y_values.astype(np.float32),
                             zmin=-0.5, zmax=len(colours) - 0.5, name="clusters", hoverinfo="x+y", **scale),
                  row=1, col=1)
    fig.add_trace(go.Scattergl(x=np.asarray(latent, np.float32), y=np.asarray(bandcontrast, np.float32),
                               mode="markers", customdata=_smallest_uint(np.arange(len(labels))),
                               marker={"color": codes, "cmin": -0.5, "cmax": len(colours) - 0.5, "size": 3, **scale},
                               name="pixels", showlegend=False,
                               hovertemplate="row %{customdata}<br>latent %{x:.4g}<br>" + bandcontrast_name
                                             + " %{y:.4g}<extra></extra>"),
                  row=1, col=2)
    for label, count in zip(*np.unique(labels, return_counts=True)):
        colour = NOISE_GREY if label < 0 else shade(cluster_hue(label), 0.5)
        fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", marker={"color": colour, "size": 9},
                                   name=f"{'noise' if label < 0 else f'cluster {label}'} ({count})"),
                      row=1, col=2)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", row=1, col=1)
    fig.update_xaxes(constrain="domain", row=1, col=1)
    fig.update_xaxes(title_text=f"x ({display_units(units)})", row=1, col=1)
    fig.update_yaxes(title_text=f"y ({display_units(units)})", row=1, col=1)
    fig.update_xaxes(title_text=latent_name, row=1, col=2)
    fig.update_yaxes(title_text=bandcontrast_name, row=1, col=2)
    fig.update_layout(title=title, plot_bgcolor=nan_colour, template="plotly_white", width=1100, height=480)
    return fig


def ranking_bar(scores: pd.DataFrame, metric: str, *, dim_column: str = "dim", top_n: int = 10,
                title: str = "") -> go.Figure:
    """Horizontal bars of the `top_n` dimensions by `metric` (largest absolute value first)."""
    if metric not in scores.columns or dim_column not in scores.columns:
        raise ValueError(f"scores need columns {dim_column!r} and {metric!r}, have {list(scores.columns)}")
    top = scores.reindex(scores[metric].abs().sort_values(ascending=False).index).head(top_n)
    fig = go.Figure(go.Bar(x=top[metric].to_numpy(np.float64)[::-1],
                           y=[f"dim {d}" for d in top[dim_column].to_numpy()[::-1]],
                           orientation="h", marker={"color": PALETTE[0]}, name=metric))
    fig.update_layout(title=title or f"top {len(top)} dimensions by {metric}", xaxis_title=metric,
                      template="plotly_white", height=max(300, 28 * len(top) + 120))
    return fig


def criterion_curve(fit: dict, title: str = "") -> go.Figure:
    """GMM auto-k: BIC and AIC against k (lower is better), the chosen k marked; a chosen k at the
    edge of the range is said in the title. `fit` is `ClusterResult.fit` of an auto-k run."""
    if "bic" not in fit or "aic" not in fit:
        raise ValueError("the fit holds no criterion curve: only GMM with n_components='auto' has one")
    ks = sorted(int(k) for k in fit["bic"])
    fig = go.Figure()
    for name, dash in (("bic", "solid"), ("aic", "dot")):
        chosen = name == fit["criterion"]
        fig.add_trace(go.Scatter(x=ks, y=[fit[name][str(k)] for k in ks], mode="lines+markers",
                                 name=name.upper() + (" (used)" if chosen else ""),
                                 line={"dash": dash, "color": PALETTE[0] if chosen else NOISE_GREY}))
    best = fit["n_components"]
    fig.add_trace(go.Scatter(x=[best], y=[fit[fit["criterion"]][str(best)]], mode="markers", name=f"chosen k = {best}",
                             marker={"size": 14, "symbol": "circle-open", "color": PALETTE[3], "line": {"width": 3}}))
    edge = fit.get("best_at_edge")
    note = f": the chosen k is the {edge} end of the range, widen it" if edge else ""
    fig.update_layout(title=title or f"GMM {fit['criterion'].upper()} by k (lower is better){note}",
                      xaxis_title="k (components)", yaxis_title="criterion", template="plotly_white",
                      width=560, height=340, xaxis={"dtick": 1})
    return fig


# -- PNG export ---------------------------------------------------------------------------------

def browser_path() -> str | None:
    """A Chromium for kaleido: $BROWSER_PATH if it exists, else the first on PATH."""
    configured = os.environ.get("BROWSER_PATH")
    if configured and Path(configured).exists():
        return configured
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


SCREEN_DPI = 96  # a figure's layout width and height are CSS pixels: 96 to the inch
DOWNLOAD_DPI = 300  # publication resolution for downloads


def png_scale(fig: go.Figure, dpi: float | None = None, width_px: int | None = None) -> float:
    """Kaleido's scale for a PNG at `dpi` (the figure keeps its size in inches, layout px / 96) or
    `width_px` pixels wide; 1 when neither is given."""
    if width_px:
        return float(width_px) / float(fig.layout.width or 900)
    return float(dpi) / SCREEN_DPI if dpi else 1.0


def write_png(fig: go.Figure, path, *, width: int | None = None, height: int | None = None,
              scale: float | None = None, browser: str | None = "auto", dpi: float | None = None,
              width_px: int | None = None) -> str:
    """Write `fig` as a PNG (atomically); returns the engine used: "kaleido" or "matplotlib".

    Resolution: `dpi` (e.g. 300: layout px x 300/96 pixels, and the PNG says 300 dpi), or
    `width_px`, or an explicit kaleido `scale`. `browser`: "auto" finds one (`browser_path`), a path
    uses it, None forces the fallback. Without a browser, or when kaleido fails, the figure is drawn
    with matplotlib and a warning says why."""
    path = Path(path)
    if scale is None:
        scale = width_px / (width or fig.layout.width or 900) if width_px else png_scale(fig, dpi)
    dpi = dpi or SCREEN_DPI * scale
    browser = browser_path() if browser == "auto" else browser
    reason = "no Chromium found for kaleido (install chromium or set BROWSER_PATH)"
    if browser:
        try:
            png = _kaleido_png(fig, browser, width, height, scale)
        except Exception as exc:  # kaleido/Chromium failures vary; the fallback still gives a PNG
            reason = f"kaleido failed: {type(exc).__name__}: {exc}"
        else:
            with atomic_path(path) as tmp:
                tmp.write_bytes(_with_dpi(png, dpi))
            return "kaleido"
    warnings.warn(f"{path.name}: {reason}; drawing the PNG with matplotlib instead", RuntimeWarning,
                  stacklevel=2)
    with atomic_path(path) as tmp:
        _matplotlib_png(fig, tmp, width, height, scale)
        tmp.write_bytes(_with_dpi(tmp.read_bytes(), dpi))
    return "matplotlib"


def _with_dpi(png: bytes, dpi: float) -> bytes:
    """The same pixels with the PNG's physical resolution (pHYs) set, so editors place it at size."""
    import io

    from PIL import Image

    out = io.BytesIO()
    with Image.open(io.BytesIO(png)) as image:
        image.save(out, format="png", dpi=(float(dpi), float(dpi)))
    return out.getvalue()


def _kaleido_png(fig, browser, width, height, scale) -> bytes:
    os.environ["BROWSER_PATH"] = str(browser)  # choreographer (kaleido's browser driver) reads it
    return fig.to_image(format="png", width=width or fig.layout.width or 900,
                        height=height or fig.layout.height or 600, scale=scale)


def _matplotlib_png(fig: go.Figure, path, width, height, scale) -> None:
    """Draw the traces this module makes (scatter, heatmap, bar) on matplotlib axes placed by the
    figure's axis domains."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    width = width or fig.layout.width or 900
    height = height or fig.layout.height or 600
    canvas = plt.figure(figsize=(width / 100, height / 100), dpi=100 * scale)  # int(width * scale) pixels, as kaleido
    axes = {}
    try:
        for trace in fig.data:
            key = (trace.xaxis or "x", trace.yaxis or "y")
            if key not in axes:
                axes[key] = _mpl_axes(canvas, fig.layout, *key)
            _DRAW.get(trace.type, _draw_nothing)(axes[key], trace, fig.layout)
        for ax in axes.values():
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="best")
        for note in fig.layout.annotations or ():  # subplot titles: above the nearest axes
            if axes and note.text:
                nearest = min(axes.values(), key=lambda ax: abs(ax.plotly_domain[0] - note.x)
                              + abs(ax.plotly_domain[1] - note.y))
                nearest.set_title(note.text, fontsize=9)
        if fig.layout.title and fig.layout.title.text:
            canvas.suptitle(fig.layout.title.text, fontsize=11)
        canvas.savefig(path, format="png")
    finally:
        plt.close(canvas)


def _mpl_axes(canvas, layout, xaxis: str, yaxis: str):
    xa, ya = layout[xaxis.replace("x", "xaxis", 1)], layout[yaxis.replace("y", "yaxis", 1)]
    (x0, x1), (y0, y1) = xa.domain or (0, 1), ya.domain or (0, 1)
    if layout.title and layout.title.text:  # room for the figure title above every subplot
        y0, y1 = 0.93 * y0, 0.93 * y1
    ax = canvas.add_axes([x0 + 0.06 * (x1 - x0), y0 + 0.1 * (y1 - y0), 0.88 * (x1 - x0), 0.78 * (y1 - y0)])
    ax.plotly_domain = ((x0 + x1) / 2, y1)  # where plotly puts this subplot's title
    ax.plotly_square = bool(ya.scaleanchor)  # plotly keeps x and y scales equal here
    ax.set_facecolor(layout.plot_bgcolor or "white")
    ax.set_xlabel(xa.title.text or "", fontsize=8)
    ax.set_ylabel(ya.title.text or "", fontsize=8)
    if ya.autorange == "reversed":
        ax.invert_yaxis()
    ax.tick_params(labelsize=7)
    return ax


def _marker_colours(trace):
    colour = trace.marker.color if trace.marker else None
    if colour is None or isinstance(colour, str):
        return colour or PALETTE[0]
    values = np.asarray(colour)
    if values.dtype.kind in "OUS":
        return [tuple(c / 255 for c in _rgb(v)) for v in values]
    scale = trace.marker.colorscale or _default_scale()
    vmin = trace.marker.cmin if trace.marker.cmin is not None else np.nanmin(values)
    vmax = trace.marker.cmax if trace.marker.cmax is not None else np.nanmax(values)
    return colours_of(values, scale, vmin, vmax) / 255.0


def _draw_scatter(ax, trace, layout):
    x = np.asarray(trace.x if trace.x is not None else [], dtype=np.float64)
    y = np.asarray(trace.y if trace.y is not None else [], dtype=np.float64)
    if not np.isfinite(x).any():  # a legend-only entry
        if trace.showlegend is not False and trace.name:
            ax.scatter([], [], color=_marker_colours(trace), label=trace.name)
        return
    size = float(trace.marker.size) if trace.marker and np.isscalar(trace.marker.size) else 3.0
    ax.scatter(x, y, c=_marker_colours(trace), s=size ** 2 / 2, linewidths=0, rasterized=True)


def _draw_heatmap(ax, trace, layout):
    z = np.asarray(trace.z, np.float64)
    scale = trace.colorscale or _default_scale()
    vmin = trace.zmin if trace.zmin is not None else np.nanmin(z)
    vmax = trace.zmax if trace.zmax is not None else np.nanmax(z)
    rgba = np.zeros((*z.shape, 4))
    rgba[..., :3] = colours_of(z, scale, vmin, vmax) / 255.0
    rgba[..., 3] = np.isfinite(z)  # NaN stays transparent: the axes colour shows, as in plotly
    x = np.asarray(trace.x if trace.x is not None else np.arange(z.shape[1]), np.float64)
    y = np.asarray(trace.y if trace.y is not None else np.arange(z.shape[0]), np.float64)
    half_x = (x[1] - x[0]) / 2 if len(x) > 1 else 0.5
    half_y = (y[1] - y[0]) / 2 if len(y) > 1 else 0.5
    reversed_y = ax.yaxis_inverted()
    ax.imshow(rgba, extent=(x[0] - half_x, x[-1] + half_x, y[-1] + half_y, y[0] - half_y),
              origin="upper", aspect="equal" if ax.plotly_square else "auto", interpolation="nearest")
    if not reversed_y:
        ax.invert_yaxis()
    if trace.showscale:  # the same colour bar as plotly's, beside the map
        _mpl_colorbar(ax, scale, vmin, vmax, trace.colorbar.title.text if trace.colorbar else "")


def _mpl_colorbar(ax, scale, vmin, vmax, title):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    steps = np.linspace(vmin, vmax, 256)
    cmap = ListedColormap(colours_of(steps, scale, vmin, vmax) / 255.0)
    bar = ax.figure.colorbar(ScalarMappable(Normalize(vmin, vmax), cmap), ax=ax, fraction=0.05, pad=0.02)
    bar.ax.tick_params(labelsize=6)
    if title:
        bar.set_label(title, fontsize=7)


def _draw_bar(ax, trace, layout):
    x, y = list(trace.x), list(trace.y)
    colour = trace.marker.color if trace.marker and isinstance(trace.marker.color, str) else PALETTE[0]
    if trace.orientation == "h":
        ax.barh([str(v) for v in y], x, color=colour)
    else:
        ax.bar([str(v) for v in x], y, color=colour)


def _draw_nothing(ax, trace, layout):
    warnings.warn(f"matplotlib fallback cannot draw a {trace.type} trace; it is left out", RuntimeWarning)


def _default_scale():
    import plotly.colors

    return plotly.colors.get_colorscale("Viridis")


_DRAW = {"scatter": _draw_scatter, "scattergl": _draw_scatter, "heatmap": _draw_heatmap, "bar": _draw_bar}
