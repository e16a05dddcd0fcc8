"""Figures of EBSD reference maps (plotly), from arrays on a scan grid: x (columns) and y (rows) in
the scan's units, NaN where the scan has no point.

    scalar_map_figure(values, x, y, title, value_name, units)       heatmap with its colour bar
    rgb_map_figure(rgb, x, y, title, units, key=None, key_labels=()) RGB image (IPF, VBSE); the IPF
                                                                     colour key beside it
    phase_map_figure(phase, names, x, y, units)                      phases in the palette, a legend
    grain_map_figure(grains, x, y, units)                            grains in the palette, their id and
                                                                     size (points, area) on hover
    add_boundary_lines(fig, x, y, subplot=1)                         grain boundaries as thin lines between
                                                                     pixels over any map (segments from
                                                                     `analysis.maps.edge_segments`)
    add_class_lines(fig, classes)                                    boundaries by class (low-angle grey,
                                                                     high-angle black, Σ3 twins red), a legend
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from ..data.base import display_units
from .colours import NAN_COLOUR, NOISE_GREY, PALETTE, discrete_colorscale
from .plotly_figures import png_uri

BOUNDARY_COLOUR = "#000000"
BOUNDARY_WIDTH = 1.0
LINE_IMAGE_SEGMENTS = 5_000  # more boundary segments are drawn as an image: an SVG path of 89,000 took plotly.js 5 s
BOUNDARY_NAME = "grain boundaries"
CLASS_LINES = {"low-angle": ("#8c8c8c", 1.0), "high-angle": ("#000000", 1.0), "Σ3 twin": ("#e31a1c", 2.0)}


def _steps(x, y) -> tuple[float, float]:
    return (float(x[1] - x[0]) if len(x) > 1 else 1.0, float(y[1] - y[0]) if len(y) > 1 else 1.0)


def _size(n_rows: int, n_columns: int, extra_width: int = 0) -> tuple[int, int]:
    width = 560 + extra_width
    height = int(min(900, max(300, (width - extra_width - 160) * n_rows / max(n_columns, 1) + 130)))
    return width, height


def _axes(fig, units, x, y, row=None, col=None):
    """x right, y down, square pixels, the view the pixels' outer edges (as the latent maps')."""
    unit = display_units(units)
    (dx, dy), x, y = _steps(x, y), np.asarray(x, np.float64), np.asarray(y, np.float64)
    fig.update_xaxes(title_text=f"x ({unit})", constrain="domain", range=[x[0] - dx / 2, x[-1] + dx / 2],
                     row=row, col=col)
    fig.update_yaxes(title_text=f"y ({unit})", range=[y[-1] + dy / 2, y[0] - dy / 2], scaleanchor="x",
                     constrain="domain", row=row, col=col)


def scalar_map_figure(values, x, y, title: str, value_name: str, units: str | None = "um",
                      colorscale: str = "Gray") -> go.Figure:
    values = np.asarray(values, np.float64)
    fig = go.Figure(go.Heatmap(z=values, x=np.asarray(x), y=np.asarray(y), colorscale=colorscale,
                               colorbar={"title": {"text": value_name, "side": "right"}}, name=value_name,
                               hovertemplate="x %{x}<br>y %{y}<br>%{z:.4g}<extra></extra>"))
    _axes(fig, units, x, y)
    width, height = _size(*values.shape)
    fig.update_layout(title=title, width=width, height=height, plot_bgcolor=NAN_COLOUR, template="plotly_white")
    return fig


def grain_points(grains) -> np.ndarray:
    """The points of each grain id of a grain map (-1 no grain, NaN no point), by id."""
    grains = np.asarray(grains, np.float64)
    ids = np.where(np.isfinite(grains), grains, -1).astype(np.int64)
    return np.bincount(ids[ids >= 0], minlength=int(ids.max(initial=-1)) + 1)


def grain_map_figure(grains, x, y, units: str | None = "um", title: str = "Grains", points=None,
                     point_area: float | None = None) -> go.Figure:
    """Grain ids (rows, columns) (-1 no grain, NaN no point) in the palette (neighbours differ almost
    always), not-indexed points grey; hover gives the grain's id, points and area: `points` by id and
    `point_area` (`grain_points` and a point's area of the whole map, when this one shows a part of it), else
    counted on this map."""
    grains = np.asarray(grains, np.float64)
    ids = np.where(np.isfinite(grains), grains, -1).astype(np.int64)
    points = grain_points(grains) if points is None else np.asarray(points)
    dx, dy = _steps(x, y)
    codes = np.where(ids >= 0, 1 + ids % len(PALETTE), 0).astype(np.float64)
    codes[np.isnan(grains)] = np.nan
    size = np.where(ids >= 0, points[np.maximum(ids, 0)], 0)
    unit = display_units(units)
    fig = go.Figure(go.Heatmap(z=codes, x=np.asarray(x), y=np.asarray(y), zmin=-0.5, zmax=len(PALETTE) + 0.5,
                               colorscale=discrete_colorscale([NOISE_GREY, *PALETTE]), showscale=False, name="grains",
                               customdata=np.stack([ids, size, size * (point_area or abs(dx * dy))], -1),
                               hovertemplate=f"x %{{x}}<br>y %{{y}}<br>grain %{{customdata[0]}}: %{{customdata[1]}} "
                                             f"points, %{{customdata[2]:.4g}} {unit}²<extra></extra>"))
    _axes(fig, units, x, y)
    width, height = _size(*grains.shape)
    shown = np.count_nonzero(points)  # the grains on this map (an ROI's: some ids are not on it)
    fig.update_layout(title=f"{title} ({shown}; grey: not indexed)", width=width, height=height,
                      plot_bgcolor=NAN_COLOUR, template="plotly_white")
    return fig


def rgb_image(rgb) -> np.ndarray:
    """(rows, columns, 3) in 0..1 (NaN: no point) -> uint8 RGB with no-point pixels in the NaN colour."""
    rgb = np.asarray(rgb, np.float64)
    out = np.rint(np.clip(np.nan_to_num(rgb, nan=1.0), 0, 1) * 255).astype(np.uint8)
    out[~np.isfinite(rgb).all(-1)] = [int(NAN_COLOUR[i:i + 2], 16) for i in (1, 3, 5)]
    return out


def rgb_map_figure(rgb, x, y, title: str, units: str | None = "um", key=None, key_labels=(),
                   key_title: str = "IPF colour key") -> go.Figure:
    """An RGB map; with `key` ((k, k, 4) RGBA in 0..1) the colour key to its right, its corners
    labelled by `key_labels` ((text, x, y) in fractions of the key, y up)."""
    rgb = np.asarray(rgb, np.float64)
    dx, dy = _steps(x, y)
    columns = 2 if key is not None else 1
    fig = make_subplots(1, columns, column_widths=[0.7, 0.3] if key is not None else None,
                        subplot_titles=[title, key_title] if key is not None else None, horizontal_spacing=0.08)
    map_png = png_uri(Image.fromarray(rgb_image(rgb), "RGB"))  # exact; plotly.js draws z pixel by pixel (1 s at 1M)
    fig.add_trace(go.Image(source=map_png, x0=float(x[0]), dx=dx, y0=float(y[0]), dy=dy, name=title,
                           hovertemplate="x %{x}<br>y %{y}<br>%{color}<extra></extra>"), row=1, col=1)
    _axes(fig, units, x, y, row=1, col=1)
    if key is not None:
        key = np.asarray(key, np.float64)
        image = np.rint(np.clip(key, 0, 1) * 255).astype(np.uint8)
        image[key[..., 3] == 0, :3] = 255
        size = key.shape[0]
        fig.add_trace(go.Image(z=image[..., :3], name="key", hoverinfo="skip"), row=1, col=2)
        for text, fx, fy in key_labels:
            fig.add_annotation(x=fx * size, y=(1 - fy) * size, text=text, showarrow=False, xref="x2", yref="y2",
                               font={"size": 10}, yshift=-10 if fy < 0.5 else 10)
        fig.update_xaxes(visible=False, row=1, col=2)
        fig.update_yaxes(visible=False, scaleanchor="x2", row=1, col=2)
    width, height = _size(*rgb.shape[:2], extra_width=200 if key is not None else 0)
    fig.update_layout(title=None if key is not None else title, width=width, height=height,
                      template="plotly_white", showlegend=False)
    return fig


def phase_map_figure(phase, names: dict, x, y, units: str | None = "um", title: str = "Phases") -> go.Figure:
    """Phase ids (rows, columns) (-1 not indexed, NaN no point) in the palette, one legend entry per phase."""
    phase = np.asarray(phase, np.float64)
    ids = sorted(int(k) for k in names)
    codes = np.full(phase.shape, np.nan)
    codes[phase == -1] = 0
    for i, k in enumerate(ids):
        codes[phase == k] = i + 1
    colours = [NOISE_GREY] + [PALETTE[i % len(PALETTE)] for i in range(len(ids))]
    fig = go.Figure(go.Heatmap(z=codes, x=np.asarray(x), y=np.asarray(y), zmin=-0.5, zmax=len(ids) + 0.5,
                               colorscale=discrete_colorscale(colours), showscale=False, name="phase",
                               hovertemplate="x %{x}<br>y %{y}<br>phase %{z}<extra></extra>"))
    for label, colour in zip(["not indexed"] + [f"{k}: {names[k]}" for k in ids], colours):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label, showlegend=True,
                                 marker={"color": colour, "size": 10, "symbol": "square"}))
    _axes(fig, units, x, y)
    width, height = _size(*phase.shape, extra_width=140)
    fig.update_layout(title=title, width=width, height=height, plot_bgcolor=NAN_COLOUR, template="plotly_white",
                      legend={"title": {"text": "phase"}})
    return fig


def add_boundary_lines(fig: go.Figure, x, y, subplot: int = 1, grid=None, stride: int = 1) -> go.Figure:
    """Grain boundaries as one trace of thin black lines over the map of `fig`'s axes number `subplot` (1: the
    first, `x` and `y`; make_subplots numbers them row by row), as the point panels draw them: `x`, `y` the
    segments' ends, NaN between segments (`edge_segments`). The pixels stay visible on both sides; the lines take no hover and no selection. Above
    `LINE_IMAGE_SEGMENTS` segments, with the map's `grid` (shown one pixel in `stride`), the same lines as one
    image laid over the map (`line_image`)."""
    suffix = "" if subplot == 1 else str(subplot)
    if grid is not None and np.count_nonzero(np.isnan(x)) > LINE_IMAGE_SEGMENTS:
        return fig.add_layout_image(line_image(x, y, grid, stride), xref=f"x{suffix}", yref=f"y{suffix}")
    return fig.add_trace(go.Scatter(x=_with_gaps(x), y=_with_gaps(y), mode="lines", xaxis=f"x{suffix}",
                                    yaxis=f"y{suffix}", line={"color": BOUNDARY_COLOUR, "width": BOUNDARY_WIDTH},
                                    name=BOUNDARY_NAME, hoverinfo="skip", showlegend=False, connectgaps=False))


def line_image(x, y, grid, stride: int = 1) -> dict:
    """Boundary segments on the pixels' edges (`edge_segments` on `grid`) as a layout image over the map (as
    `plotly_figures.map_image` lays a map), the lines black and the rest transparent, at two image pixels per
    pixel shown (`stride`: map pixels per pixel shown): each line one pixel shown wide, centred on its edge (at
    stride 1, half of each pixel beside it). plotly.js shows it at once where an SVG path of every segment took
    seconds."""
    k = 2 / stride  # image pixels per map pixel
    shape = (int(np.ceil(grid.n_rows * k)), int(np.ceil(grid.n_columns * k)))
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x0, x1, y0, y1 = x[0::3], x[1::3], y[0::3], y[1::3]
    columns = (np.stack([x0, x1]) - grid.x0) / grid.step_x + 0.5  # in edges: 0 the first pixel's left edge
    rows = (np.stack([y0, y1]) - grid.y0) / grid.step_y + 0.5
    vertical = x0 == x1
    lines = _image_lines(columns[0][vertical], rows[:, vertical], k, shape)
    lines |= _image_lines(rows[0][~vertical], columns[:, ~vertical], k, shape[::-1]).T
    image = Image.fromarray(lines.astype(np.uint8), "P")
    image.putpalette([255, 255, 255, 0, 0, 0])  # 0: transparent, 1: a line, black
    return {"source": png_uri(image, transparency=0), "name": BOUNDARY_NAME, "layer": "above", "sizing": "stretch",
            "x": grid.x0 - grid.step_x / 2, "y": grid.y0 - grid.step_y / 2, "xanchor": "left", "yanchor": "top",
            "sizex": grid.step_x * grid.n_columns, "sizey": grid.step_y * grid.n_rows}


def _image_lines(at, span, k: float, shape) -> np.ndarray:
    """(shape) bool: lines across the image's columns at edge positions `at` (in map pixels), each from `span[0]` to
    `span[1]` along the rows (edges, either order), two image columns wide, painted through a difference array."""
    n_rows, n_columns = shape
    column = np.rint(at * k).astype(np.int64)
    first, last = np.clip(np.rint(np.sort(span, axis=0) * k).astype(np.int64), 0, n_rows)
    steps = np.zeros((n_rows + 1, n_columns), np.int32)
    for side in (column - 1, column):  # the image columns either side of the edge
        side = np.clip(side, 0, n_columns - 1)
        np.add.at(steps, (first, side), 1)
        np.add.at(steps, (last, side), -1)
    return np.cumsum(steps, axis=0)[:n_rows] > 0


def add_class_lines(fig: go.Figure, classes: dict) -> go.Figure:
    """Boundaries by class (`classes`: name -> (x, y) segments, NaN between them, as
    `scan_references.boundary_class_lines` gives them), each a trace of its colour (`CLASS_LINES`), named in the
    legend."""
    for name, (x, y) in classes.items():
        colour, width = CLASS_LINES[name]
        fig.add_trace(go.Scatter(x=_with_gaps(x), y=_with_gaps(y), mode="lines", line={"color": colour, "width": width},
                                 name=name, hoverinfo="skip", showlegend=True, connectgaps=False))
    fig.update_layout(legend={"title": {"text": "boundaries"}, "orientation": "h", "y": -0.15})
    return fig


def _with_gaps(values) -> list:
    """NaN -> None: plotly breaks a line at None (NaN's JSON is not portable)."""
    return [None if np.isnan(v) else v for v in np.asarray(values, np.float64).tolist()]
