"""Plotly figures shared by the app, the CLI and the PNG export.

Colours come from `colours`: the spatial map and the (latent, band contrast) scatter of the
cluster panels use the same codes and the same scale, so every point has the same colour in both.
Arrays are kept compact for a million points: float32 coordinates, uint8/uint16 colour codes, row
ids in `customdata` as the smallest unsigned type (see `umap_scatter`).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..data.base import display_units
from ..errors import InputError
from .colours import (COLOUR_STEPS, NAN_COLOUR, NOISE_GREY, PALETTE, SHADE_LEVELS, cluster_colour_codes, cluster_hue,
                      continuous_codes, discrete_colorscale, shade)

MAX_MAP_PIXELS = 250_000  # heatmaps larger than this are shown with a stride
SCALE_BAR_FRACTION, SCALE_BAR_STEPS = 0.2, (1, 2, 5)  # a scale bar: a round length near a fifth of the map's width


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


MISSING_PIXELS = "missing pixels"  # the legend's name of the maps' NaN colour: grid cells without a pattern


def latent_map_grid(maps, grid, dims, *, columns: int = 4, nan_colour: str = NAN_COLOUR,
                    colorscale: str = "Viridis", title: str = "Latent maps",
                    max_pixels: int = MAX_MAP_PIXELS, units: str | None = "um",
                    scale_bar: bool = False, value_name: str = "latent value", limits=None,
                    image_above: int | None = None) -> go.Figure:
    """One heatmap per dimension (maps: (n_dims, n_rows, n_columns), NaN = no pixel, drawn in
    `nan_colour`), each with its own colour bar (over `limits` (vmin, vmax) when given, else its
    map's range) and x, y axes in `units`; an optional scale bar. The maps share one grid, so the
    y axis is titled and labelled on the first column only: each colour bar's title has the gap to
    the next map.
    Maps over `max_pixels` are shown with a stride, which the figure says (the NPY keeps every pixel).
    Maps of more than `image_above` pixels as shown are drawn as images (`map_image`: a browser draws a heatmap
    cell by cell, seconds for eight of 250,000), the same colours, without a hover (the figure says so)."""
    maps = np.asarray(maps, np.float32)
    stride = map_stride(maps.shape[1] * maps.shape[2], max_pixels)
    columns = max(1, min(columns, len(dims)))
    n_rows = -(-len(dims) // columns)
    # the figure is made of plain dicts, validated once at the end: plotly's property-by-property updates cost 0.25 s
    # for eight maps (its validation of one whole dict, 0.03 s)
    layout = make_subplots(n_rows, columns, subplot_titles=[f"dim {d}" for d in dims],
                           horizontal_spacing=0.12 if columns > 1 else 0.1,
                           vertical_spacing=0.1 if n_rows > 1 else 0.1).to_dict()["layout"]
    unit = display_units(units)
    zlimits = {} if limits is None else {"zmin": float(limits[0]), "zmax": float(limits[1])}
    panel_height = 240 * min(2.0, maps.shape[1] / max(maps.shape[2], 1)) + 90  # follow the scan's aspect
    width, height = max(480, 330 * columns), int(max(320, panel_height * n_rows + 100))
    aspect = grid.n_rows * grid.step_y / (grid.n_columns * grid.step_x)
    margin = {"l": 60, "r": 70, "t": 90 if title else 50, "b": 50}
    plot_width, plot_height = width - margin["l"] - margin["r"], height - margin["t"] - margin["b"]
    half_x, half_y = grid.step_x / 2, grid.step_y / 2  # the view: the pixels' outer edges, as the reference maps'
    data, images, bars = [], [], []
    for i, (dim, values) in enumerate(zip(dims, maps)):
        suffix = "" if i == 0 else str(i + 1)
        xa, ya = layout[f"xaxis{suffix}"], layout[f"yaxis{suffix}"]
        shown = (xa["domain"][1] - xa["domain"][0]) * plot_width * aspect / plot_height  # its height (square pixels)
        bar = {"title": {"text": value_name, "side": "right", "font": {"size": 10}}, "thickness": 10,
               "x": xa["domain"][1] + 0.005, "xanchor": "left", "y": sum(ya["domain"]) / 2, "yanchor": "middle",
               "len": min(ya["domain"][1] - ya["domain"][0], shown), "tickfont": {"size": 9}}
        shown_values = values[::stride, ::stride]
        axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        if image_above is not None and shown_values.size > image_above:
            image, carrier = map_image(shown_values, grid, stride, colorscale, limits, bar, f"dim {dim}")
            data.append({**carrier, **axes})
            images.append({**image, "xref": f"x{suffix}", "yref": f"y{suffix}"})
            for axis in (xa, ya):
                axis["showgrid"] = False  # a layer below the traces (the boundaries) is below the grid lines too
        else:
            data.append({"type": "heatmap", "z": shown_values, "x": grid.x_values[::stride].astype(np.float32),
                         "y": grid.y_values[::stride].astype(np.float32), "colorscale": colorscale,
                         "showscale": True, "colorbar": bar, "name": f"dim {dim}", **zlimits,
                         "hovertemplate": f"dim {dim}<br>x %{{x}} {unit}<br>y %{{y}} {unit}<br>"
                                          "%{z:.4g}<extra></extra>", **axes})
        ya.update(scaleanchor=f"x{suffix}", constrain="domain")  # square pixels
        if i % columns == 0:
            ya["title"] = {"text": f"y ({unit})"}
        else:  # the same y values as the first column's
            ya["showticklabels"] = False
        if scale_bar:
            bars.append(scale_bar_parts(grid, suffix, unit))
    for name, axis in layout.items():  # every subplot's axes, an empty one's too
        if name.startswith(("xaxis", "yaxis")):
            x = name.startswith("x")
            axis.update(title={**axis.get("title", {}), "standoff": 2}, tickfont={"size": 9},
                        range=[grid.x0 - half_x, grid.x_values[-1] + half_x] if x else
                        [grid.y_values[-1] + half_y, grid.y0 - half_y])
            if x:
                axis.update(constrain="domain", title={"text": f"x ({unit})", "standoff": 2})
    notes = []
    if stride > 1 or images:
        said = [f"shown one pixel in {stride} along x and y ({maps.shape[1]} x {maps.shape[2]} map)"] * (stride > 1)
        said += ["drawn as images, without a hover (the click map gives values)"] * bool(images)
        notes.append({"text": "; ".join(said) + "; downloads hold every pixel", "xref": "paper", "yref": "paper",
                      "x": 0, "y": -0.02, "yanchor": "top", "showarrow": False, "font": {"size": 10}})
    # heatmaps leave NaN cells transparent: the plot background is the NaN colour
    layout.update(images=images, shapes=[line for lines, _ in bars for line in lines],
                  annotations=[*layout.get("annotations", []), *(label for _, label in bars), *notes],
                  title={"text": title}, plot_bgcolor=nan_colour, template="plotly_white", height=height,
                  width=width, margin=margin)
    if np.isnan(maps).any():  # that colour's swatch, named
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": MISSING_PIXELS,
                     "hoverinfo": "skip", "marker": {"symbol": "square", "size": 12, "color": nan_colour,
                                                     "line": {"color": "#888888", "width": 1}}})
        layout.update(showlegend=True, legend={"orientation": "h", "x": 1, "xanchor": "right", "yanchor": "bottom",
                                               "y": 1 + 24 / plot_height})  # above the maps' titles
    return go.Figure({"data": data, "layout": layout})


def nice_length(span: float, fraction: float = SCALE_BAR_FRACTION, steps=SCALE_BAR_STEPS) -> float:
    """A scale bar's round length: the largest of `steps` (1, 2, 5) times a power of ten that is at most `fraction`
    of `span`. Exact, as the point panel's canvas computes it (drawing.mjs's `niceLength`): log10's guess at the power
    is checked (it may round 3 down for 1000), and the power is made by multiplying tens."""
    target = max(float(span) * fraction, 1e-12)
    k = math.floor(math.log10(target))
    if _power_of_ten(k + 1) <= target:
        k += 1
    elif _power_of_ten(k) > target:
        k -= 1
    power = _power_of_ten(k)
    return max(m * power for m in steps if m * power <= target)


def _power_of_ten(k: int) -> float:
    power = 1.0
    for _ in range(abs(k)):
        power *= 10
    return power if k >= 0 else 1 / power


def add_scale_bar(fig, grid, suffix: str = "", unit: str = "µm"):
    """A black bar of a round length at the bottom left of one map (axes x{suffix}, y{suffix}),
    labelled with its length, on a white band so that it shows on dark pixels too."""
    lines, label = scale_bar_parts(grid, suffix, unit)
    fig.update_layout(shapes=[*fig.layout.shapes, *lines], annotations=[*fig.layout.annotations, label])


def scale_bar_parts(grid, suffix: str, unit: str) -> tuple[list[dict], dict]:
    """`add_scale_bar`'s lines (layout shapes) and label (a layout annotation)."""
    width = grid.step_x * grid.n_columns
    length = nice_length(width)
    x0 = grid.x0 - grid.step_x / 2 + 0.05 * width
    y = grid.y0 + grid.step_y * (grid.n_rows - 1) - 0.06 * grid.step_y * grid.n_rows
    refs = {"xref": f"x{suffix}", "yref": f"y{suffix}"}
    lines = [{"type": "line", "x0": x0, "x1": x0 + length, "y0": y, "y1": y, "line": {"color": colour, "width": width},
              **refs} for colour, width in (("white", 8), ("black", 4))]  # black on a white edge
    return lines, {"x": x0 + length / 2, "y": y, "text": f"{length:g} {unit}", "showarrow": False, "yshift": 10,
                   "font": {"size": 10, "color": "black"}, "bgcolor": "rgba(255,255,255,0.7)", **refs}


def map_image(values, grid, stride: int, colorscale: str, limits, colorbar: dict, name: str) -> tuple[dict, dict]:
    """A map (2-D, NaN: no pixel) as a PNG laid on its axes in the grid's units (a layout image's properties but
    its axes, `xref` and `yref`: pixel centres at the grid's x, y, every `stride`th), its values through
    `colorscale` over `limits` (None: its range) as a heatmap colours them (255 levels, `continuous_codes`, a palette
    PNG), NaN transparent; and an empty marker trace (a dict) that carries its colour bar. A layout image, not an image
    trace: plotly.js draws an image trace's PNG into a canvas again, every pixel, for its hover (about 0.5 s in the
    browser for the Latent maps page's eight maps at 1M pixels), and shows a layout image as it is."""
    from PIL import Image

    low, high = (float(np.nanmin(values)), float(np.nanmax(values))) if limits is None else map(float, limits)
    image = Image.fromarray(continuous_codes(values, low, high), "P")  # one byte a pixel: quick to compress, to send
    image.putpalette(_palette(colorscale))
    source = png_uri(image, transparency=COLOUR_STEPS + 1)  # NaN: transparent
    dx, dy = float(grid.step_x * stride), float(grid.step_y * stride)
    image = {"source": source, "name": name, "layer": "below", "sizing": "stretch",
             "x": float(grid.x_values[0]) - dx / 2, "y": float(grid.y_values[0]) - dy / 2, "xanchor": "left",
             "yanchor": "top",  # the first pixel's outer corner, at the top left: y grows downwards on a map
             "sizex": dx * values.shape[1], "sizey": dy * values.shape[0]}
    carrier = {"type": "scatter", "x": [None], "y": [None], "mode": "markers", "hoverinfo": "skip",
               "showlegend": False, "name": name, "marker": {"color": [low], "colorscale": colorscale, "cmin": low,
                                                            "cmax": high, "showscale": True, "colorbar": colorbar}}
    return image, carrier


def png_uri(image, **options) -> str:
    """A PIL image as a PNG data URI, as plotly's images take it (compression level 1: quick to make)."""
    import base64
    import io

    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1, **options)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def png_pixels(uri: str) -> np.ndarray:
    """`png_uri`'s image back as an array: (rows, columns, channels) uint8, a palette's colours looked up."""
    import base64
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    return np.asarray(image.convert("RGBA" if image.mode in ("P", "RGBA", "LA") else "RGB"))


@functools.lru_cache(maxsize=8)
def _palette(colorscale: str) -> tuple[int, ...]:
    """A PNG palette of `colorscale`'s COLOUR_STEPS + 1 levels (`continuous_codes`), then black for NaN."""
    from plotly.colors import get_colorscale, sample_colorscale

    table = np.round(np.asarray(sample_colorscale(get_colorscale(colorscale), np.linspace(0, 1, COLOUR_STEPS + 1),
                                                  colortype="tuple")) * 255).astype(np.uint8)
    return (*table.ravel().tolist(), 0, 0, 0)


def map_stride(n_pixels: int, max_pixels: int = MAX_MAP_PIXELS) -> int:
    """A page shows one pixel in this many along x and y of a map of `n_pixels`: at most `max_pixels` (None: all)."""
    return max(1, int(np.ceil(np.sqrt(n_pixels / max_pixels)))) if max_pixels else 1


def cluster_panels(x, y, latent, bandcontrast, labels, grid, *, latent_name: str = "latent",
                   title: str = "", levels: int = SHADE_LEVELS, nan_colour: str = NAN_COLOUR,
                   units: str | None = "um", bandcontrast_name: str = "band contrast", shade_by=None,
                   scatter_title: str | None = None) -> go.Figure:
    """Left: the clusters on the scan (heatmap of colour codes); right: latent vs band contrast
    (WebGL scatter), or any two axes so named (a UMAP, principal components), each cluster shaded by
    `shade_by` (default the horizontal values). Both use the same codes and colour scale; legend entries name
    each cluster."""
    labels = np.asarray(labels)
    codes, colours = cluster_colour_codes(labels, latent if shade_by is None else shade_by, levels)
    scale = {"colorscale": discrete_colorscale(colours), "showscale": False}
    fig = make_subplots(1, 2, subplot_titles=["clusters on the scan",
                                              scatter_title or f"{latent_name} vs {bandcontrast_name}"],
                        horizontal_spacing=0.08)
    code_map = grid.map_of(codes.astype(np.float32), x, y)
    fig.add_trace(go.Heatmap(z=code_map, x=grid.x_values.astype(np.float32), y=grid.y_values.astype(np.float32),
                             zmin=-0.5, zmax=len(colours) - 0.5, name="clusters", hoverinfo="x+y", **scale),
                  row=1, col=1)
    fig.add_trace(go.Scattergl(x=np.asarray(latent, np.float32), y=np.asarray(bandcontrast, np.float32),
                               mode="markers", customdata=_smallest_uint(np.arange(len(labels))),
                               marker={"color": codes, "cmin": -0.5, "cmax": len(colours) - 0.5, "size": 3, **scale},
                               name="pixels", showlegend=False,
                               hovertemplate=f"row %{{customdata}}<br>{latent_name} %{{x:.4g}}<br>" + bandcontrast_name
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
        raise InputError(f"scores need columns {dim_column!r} and {metric!r}, have {list(scores.columns)}: pass "
                         "a metric the ranking computed")
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
        raise InputError("the fit holds no criterion curve: only GMM with n_components='auto' has one; cluster "
                         "with gmm and --k auto")
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


def ranking_scatter(best: pd.DataFrame, latents, references: dict, max_points: int = 10_000,
                    random_state=0) -> go.Figure | None:
    """Each 1-D reference's best dimension of a ranking (its first row in `analysis.rank.top_rows`) against it,
    a panel per reference, on one seeded sample of rows: `max_points` points in all, so that the figure stays
    readable and its PNG draws as SVG (`png._for_export`: software WebGL takes seconds a panel). The title says
    the sample. None when no reference is 1-D."""
    from ..sampling import seeded_sample

    firsts = best.drop_duplicates("reference")
    pairs = [(int(d), r) for d, r in zip(firsts["dimension"], firsts["reference"])
             if r in references and np.ndim(references[r]) == 1]
    if not pairs:
        return None
    latents = np.asarray(latents)
    rows = seeded_sample(len(latents), max(max_points // len(pairs), 100), random_state)
    columns = min(4, len(pairs))
    n_rows = -(-len(pairs) // columns)
    figure = make_subplots(rows=n_rows, cols=columns, subplot_titles=[f"dim {d} vs {r}" for d, r in pairs])
    for i, (dim, name) in enumerate(pairs):
        row, col = divmod(i, columns)
        figure.add_trace(go.Scattergl(x=latents[rows, dim], y=np.asarray(references[name])[rows], mode="markers",
                                      marker={"size": 3, "opacity": 0.5, "color": PALETTE[0]}, showlegend=False,
                                      customdata=rows), row=row + 1, col=col + 1)
    sampled = f"a seeded sample of {len(rows):,} of {len(latents):,} points" if len(rows) < len(latents) \
        else f"all {len(latents):,} points"
    figure.update_layout(height=260 * n_rows, width=1000, template="plotly_white",
                         title=f"Each reference's top dimension against it ({sampled})")
    return figure


def ranking_bars(best: pd.DataFrame) -> go.Figure:
    """One panel of `ranking_bar` per reference of a ranking (each ranked by its own metric), stacked."""
    names = list(dict.fromkeys(best["reference"]))
    sizes = [int((best["reference"] == name).sum()) for name in names]
    height = 140 + sum(28 * n + 110 for n in sizes)
    combined = make_subplots(rows=len(names), cols=1, row_heights=sizes, vertical_spacing=100 / height,
                             subplot_titles=[f"{name} (by {best.loc[best['reference'] == name, 'ranked_by'].iloc[0]})"
                                             for name in names])
    for i, name in enumerate(names, start=1):
        part = best[best["reference"] == name]
        metric = part["ranked_by"].iloc[0]
        for trace in ranking_bar(part, metric, dim_column="dimension", top_n=len(part)).data:
            combined.add_trace(trace, row=i, col=1)
        combined.update_xaxes(title_text=metric, row=i, col=1)
    combined.update_layout(height=height, width=800, showlegend=False,
                           template="plotly_white", title=f"Top {max(sizes)} latent dimensions per reference")
    return combined
