"""Browser figures small enough for a million points.

Plotly 7 sends numpy arrays as base64 typed arrays. Per point a scatter here sends x and y as
uint16 (quantised over their range: 1/65535 of it, far below a screen pixel) and one uint8 colour
code: 5 bytes, about 7.2 bytes of JSON text (base64, with plotly's escaped '/'). There is one trace
in row order, with each trace's global row ids kept on the server (`trace_rows`). Row ids travel as
customdata only for hover text of subsets whose ids fit uint16 (2.7 bytes more); the selected-points
overlay carries them too. Axis labels show the real values. The pages draw and select on point panels
(`ui/widgets/point_panel/`); these figures make the PNG downloads, the histograms and the maps' grids.

Colours and cluster codes come from `latentcore.figures`, so the browser and the PNG exports agree.
"""
from __future__ import annotations

import dataclasses
import weakref

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from matplotlib.ticker import MaxNLocator

from latentcore import figures
from latentcore.arrays import finite_range
from latentcore.data.base import display_units

from ..kept import Kept, digest

LEVELS = 65535  # uint16 quantisation of scatter coordinates
HOVER_ROW_IDS = 65_535  # row ids up to this travel as uint16 customdata, for hover text
NAN_CODE_COLOUR = "#d9d9d9"
SELECTED_LINE = "#111111"


@dataclasses.dataclass
class Colour:
    """Per-point colour codes with their colour list (code i -> colours[i]) and a legend or bar."""

    codes: np.ndarray
    colours: list
    legend: dict = dataclasses.field(default_factory=dict)  # name (with its count) -> colour (categorical)
    colorbar: dict | None = None  # continuous: tick codes and labels
    title: str = ""
    limits: tuple | None = None  # continuous: the values of the first and last colour (vmin, vmax)
    colorscale: str | None = None  # continuous: the colour scale's name
    note: str = ""  # what the panels cannot say themselves (an approximation, where the key is)
    entry_of_code: np.ndarray | None = None  # categorical: each code's legend entry (its position; -1: none)

    def of_rows(self, rows) -> "Colour":
        """This colour of `rows` only (row ids, in order, or a slice), its legend counting theirs (a scan's map in a
        study, the rows a quality filter keeps)."""
        codes = np.asarray(self.codes)[rows]
        if self.entry_of_code is None:
            return dataclasses.replace(self, codes=codes)
        counts = np.bincount(self.entry_of_code[codes] + 1, minlength=len(self.legend) + 1)[1:]
        legend = {f"{name.rsplit(' (', 1)[0]} ({n:,})": hue for (name, hue), n in zip(self.legend.items(), counts) if n}
        return dataclasses.replace(self, codes=codes, legend=legend)


COLOUR_STEPS, continuous_codes = figures.COLOUR_STEPS, figures.continuous_codes  # the maps' images' levels too
COLOUR_SCALES = ("Viridis", "Cividis", "Magma", "Inferno", "Plasma", "Greys", "RdBu", "Turbo")


def continuous_colour(values, title: str, colorscale: str = "Viridis", vmin: float | None = None,
                      vmax: float | None = None) -> Colour:
    """Numbers -> 255 steps of a colour scale (uint8 codes, `continuous_codes`), NaN -> grey code 255. The scale spans
    [vmin, vmax] (default: the values' range); values beyond take the end colours."""
    low, high = finite_range(values)
    low = float(low if vmin is None else vmin)
    high = float(high if vmax is None else vmax)
    span = (high - low) or 1.0
    colours = plotly.colors.sample_colorscale(colorscale, [i / COLOUR_STEPS for i in range(COLOUR_STEPS + 1)])
    ticks = nice_ticks(low, high)
    bar = {"title": {"text": title, "side": "right"}, "tickvals": ((ticks - low) / span * COLOUR_STEPS).tolist(),
           "ticktext": [f"{t:.4g}" for t in ticks]}
    return Colour(continuous_codes(values, low, high), colours + [NAN_CODE_COLOUR], colorbar=bar, title=title,
                  limits=(low, high), colorscale=colorscale)


def _counted(names_and_colours: dict, counts: dict) -> dict:
    return {f"{name} ({counts[key]:,})": colour for key, (name, colour) in names_and_colours.items()}


RGB_LEVELS = 6  # levels a channel of direct RGB colours (6**3 = 216 codes in uint8, with grey for NaN)


def rgb_colour(rgb, title: str) -> Colour:
    """Direct colours (N, 3) RGB in 0..1 (IPF colours), in RGB_LEVELS levels a channel: each point's
    colour is a code into 216 colours (the title says so); NaN rows are grey."""
    rgb = np.asarray(rgb, np.float64)
    known = np.isfinite(rgb).all(axis=1)
    levels = np.rint(np.clip(np.nan_to_num(rgb), 0, 1) * (RGB_LEVELS - 1)).astype(np.int64)
    codes = np.where(known, levels @ [RGB_LEVELS ** 2, RGB_LEVELS, 1], RGB_LEVELS ** 3)
    steps = np.linspace(0, 255, RGB_LEVELS).round().astype(int)
    colours = [f"rgb({steps[r]},{steps[g]},{steps[b]})" for r in range(RGB_LEVELS) for g in range(RGB_LEVELS)
               for b in range(RGB_LEVELS)] + [figures.NOISE_GREY]
    return Colour(codes.astype(np.uint8), colours, title=title,
                  note=f"{title}: each point's colour in {RGB_LEVELS} levels a channel ({RGB_LEVELS ** 3} colours); "
                       "grey: not indexed. The colour key is beside the reference maps on the Latent maps page.")


def categorical_colour(labels, title: str, names=None, noise_name: str = "noise") -> Colour:
    """Integer labels (-1 = noise, grey, named `noise_name` in the legend) -> the shared cluster palette; `names`
    label the legend, each entry with its count of points."""
    codes = np.maximum(np.asarray(labels, np.int64), -1)  # a new array: the labels stay as given
    codes += 1  # noise 0, label k k + 1
    tally = np.bincount(codes, minlength=1)  # a count per code: no sort of every row
    n = len(tally) - 1
    colours = [figures.NOISE_GREY] + [figures.cluster_hue(k) for k in range(n)]
    present = np.flatnonzero(tally) - 1
    counts = tally[present + 1]
    entries = {k: ((names[k] if names is not None and k >= 0 else (noise_name if k < 0 else f"{title} {k}")),
                   colours[k + 1]) for k in present}
    legend = _counted(entries, dict(zip(present, counts)))
    return Colour(codes.astype(np.uint8 if len(colours) <= 256 else np.uint16), colours, legend, title=title,
                  entry_of_code=_entries(present, len(colours), 1))


def label_colour(codes, classes) -> Colour:
    """Each row's label code (index into the sorted `classes`, -1 unlabelled, grey): label k has cluster hue k,
    as in the labels panel's list; the legend names each label with its count."""
    return categorical_colour(codes, "label", names=list(classes), noise_name="unlabelled")


def neutral_colour(n: int, title: str = "points") -> Colour:
    """No colour: every row the same neutral grey (the scan's shape, no data on it)."""
    return Colour(np.zeros(n, np.uint8), [figures.NEUTRAL], {f"all rows ({n:,})": figures.NEUTRAL}, title=title,
                  entry_of_code=np.zeros(1, np.int64))


def column_colour(column, title: str) -> Colour:
    """A metadata column: numbers -> continuous; anything else -> its 255 most frequent categories."""
    import pandas as pd

    series = pd.Series(column)
    if pd.api.types.is_numeric_dtype(series) and series.nunique() > 12:
        return continuous_colour(series.to_numpy(np.float64), title)
    if isinstance(series.dtype, pd.CategoricalDtype):  # a study's sources: its codes, no string made per row
        codes, uniques = series.cat.codes.to_numpy(), series.cat.categories.astype(str)
    else:
        codes, uniques = pd.factorize(series.astype(str), sort=True)
    if len(uniques) > 255:  # the 254 most frequent, in their order; the rest grey
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        kept = np.sort(np.argsort(-counts, kind="stable")[:254])
        renumbered = np.full(len(uniques), -1)
        renumbered[kept] = np.arange(len(kept))
        codes, uniques = np.where(codes >= 0, renumbered[codes], -1), uniques[kept]
    return categorical_colour(codes, title, names=[str(u) for u in uniques])


def cluster_shade_colour(labels, latent, shade: bool = False) -> Colour:
    """The cluster panels' colours: each cluster's hue (the legend's), or with `shade` the hue
    darker to lighter with the latent's rank in the cluster."""
    if not shade:
        return categorical_colour(labels, "cluster")
    codes, colours = figures.cluster_colour_codes(labels, latent)
    present, counts = np.unique(labels, return_counts=True)
    legend = _counted({k: ("noise" if k < 0 else f"cluster {k}", figures.cluster_hue(k)) for k in present},
                      dict(zip(present, counts)))
    return Colour(codes, colours, legend, title="cluster",
                  entry_of_code=_entries(present, len(colours), figures.SHADE_LEVELS))


def _entries(present, n_codes: int, per_label: int) -> np.ndarray:
    """Each code's legend entry: label k's `per_label` codes from 1 + k * per_label (noise, -1: code 0) are entry
    i where `present[i]` is k."""
    entry = np.full(n_codes, -1, np.int64)
    for i, label in enumerate(present):
        first = 0 if label < 0 else 1 + label * per_label
        entry[first:first + (1 if label < 0 else per_label)] = i
    return entry


def nice_ticks(low: float, high: float, count: int = 6) -> np.ndarray:
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return np.array([low])
    ticks = MaxNLocator(count).tick_values(low, high)
    return ticks[(ticks >= low - 1e-9 * abs(high - low)) & (ticks <= high + 1e-9 * abs(high - low))]


@dataclasses.dataclass
class Quantiser:
    """Real values <-> uint16 codes over [low, high]."""

    low: float
    high: float

    @classmethod
    def of(cls, values) -> "Quantiser":
        return cls(*finite_range(values))  # no float64 copy of the values

    @property
    def span(self) -> float:
        return (self.high - self.low) or 1.0

    def encode(self, values) -> np.ndarray:
        scaled = np.asarray(values, np.float64) - self.low  # one float64 array, worked in place
        scaled /= self.span
        scaled *= LEVELS
        np.nan_to_num(scaled, copy=False)
        return np.rint(np.clip(scaled, 0, LEVELS, out=scaled), out=scaled).astype(np.uint16)

    def axis(self, title: str) -> dict:
        ticks = nice_ticks(self.low, self.high)
        pad = 0.03 * LEVELS
        return {"title": {"text": title}, "tickmode": "array", "ticktext": [f"{t:.4g}" for t in ticks],
                "tickvals": ((ticks - self.low) / self.span * LEVELS).tolist(), "range": [-pad, LEVELS + pad],
                "zeroline": False}


def _marker_scale(colour: Colour) -> dict:
    n = len(colour.colours)
    return {"colorscale": figures.discrete_colorscale(colour.colours), "cmin": -0.5, "cmax": n - 0.5}


def scatter_figure(x, y, colour: Colour, row_ids, selected=None, *, x_title="", y_title="", title="",
                   marks=(), height: int = 520, marker_size: float = 4):
    """One WebGL trace of every point in row order, the selected points ringed on top, and optional
    `marks` (dicts with x, y, name, symbol, colour) such as a projected new image.
    Returns (figure, trace_rows): trace index -> global row id of each point."""
    row_ids = np.asarray(row_ids)
    qx, qy = Quantiser.of(x), Quantiser.of(y)
    ex, ey = qx.encode(x), qy.encode(y)
    chosen = np.flatnonzero(is_chosen(row_ids, selected)) if selected is not None and len(selected) else []
    marker = {"color": colour.codes, "size": marker_size, "opacity": 0.35 if len(chosen) else 0.85,
              **_marker_scale(colour)}
    if colour.colorbar:
        marker.update(showscale=True, colorbar=colour.colorbar)
    main = go.Scattergl(x=ex, y=ey, mode="markers", marker=marker, name="points", showlegend=False)
    if np.array_equal(row_ids, np.arange(len(row_ids))):
        main.hovertemplate = "row %{pointNumber}<extra></extra>"  # the position is the row id
    elif row_ids.max(initial=0) <= HOVER_ROW_IDS:
        main.customdata = row_ids.astype(np.uint16)
        main.hovertemplate = "row %{customdata}<extra></extra>"
    else:
        main.hoverinfo = "none"  # clicks still select; the rows show in the table
    fig = go.Figure(main)
    trace_rows = {0: row_ids}
    if len(chosen):
        fig.add_trace(go.Scattergl(
            x=ex[chosen], y=ey[chosen], mode="markers", customdata=row_ids[chosen].astype(np.uint32),
            marker={"color": colour.codes[chosen], "size": marker_size + 3, "line": {"color": SELECTED_LINE, "width": 1},
                    **_marker_scale(colour)},
            name=f"selected ({len(chosen):,})", hovertemplate="row %{customdata}<extra>selected</extra>"))
        trace_rows[1] = row_ids[chosen]
    for mark in marks:
        fig.add_trace(go.Scatter(x=qx.encode(mark["x"]), y=qy.encode(mark["y"]), mode="markers", name=mark["name"],
                                 marker={"symbol": mark.get("symbol", "star"), "size": mark.get("size", 16),
                                         "color": mark.get("colour", "#e31a1c"),
                                         "line": {"color": "white", "width": 1}}))
    _legend_entries(fig, colour)
    fig.update_layout(title=title, xaxis=qx.axis(x_title), yaxis=qy.axis(y_title), height=height,
                      dragmode="select", margin={"l": 60, "r": 20, "t": 50, "b": 60},
                      legend={"itemsizing": "constant", "orientation": "h", "x": 0, "y": -0.14, "yanchor": "top"})
    return fig, trace_rows


def _legend_entries(fig, colour: Colour, limit: int = 30):
    for name, hue in list(colour.legend.items())[:limit]:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=str(name),
                                 marker={"color": hue, "size": 9}, hoverinfo="skip"))


def code_map_figure(code_map, colour: Colour, grid, selected_mask=None, *, title="", height: int = 520,
                    nan_colour: str = figures.NAN_COLOUR, units: str | None = "um", scale_bar: bool = True):
    """A scan map of colour codes (NaN = no pixel) as a PNG image placed by the grid's origin and
    step, every pixel exact, with its scale: a colour bar (continuous colours, titled with the
    value's name) or a legend (categories, each with its count), and a scale bar. The browser
    decodes a PNG natively; a plotly heatmap of 1000 x 1000 codes cost about a second of canvas work
    per draw. Pixels outside `selected_mask` are veiled by a second image (`VEIL`: nearly opaque light grey, so a
    dark pixel left out turns light and a dark pixel selected stays dark), so a new selection
    re-encodes only the veil."""
    placement = {"x0": grid.x0, "dx": grid.step_x, "y0": grid.y0, "dy": grid.step_y}
    unit = display_units(units)
    fig = go.Figure(go.Image(source=map_png(code_map, [*colour.colours, nan_colour]), name="map",
                             hovertemplate=f"x %{{x:.4g}} {unit}<br>y %{{y:.4g}} {unit}<extra></extra>", **placement))
    if selected_mask is not None and np.any(selected_mask):
        veil = ~np.asarray(selected_mask, bool) & np.isfinite(code_map)
        fig.add_trace(go.Image(source=map_png(veil.view(np.uint8), ["rgba(0,0,0,0)", VEIL]), name="selection",
                               hoverinfo="skip", **placement))
    xs, ys = grid.x_values, grid.y_values
    fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[ys[0], ys[-1]], mode="markers", marker={"opacity": 0},
                             hoverinfo="skip", showlegend=False, name="selectable"))
    legend = bool(colour.legend) and not colour.colorbar
    if colour.colorbar:
        fig.add_trace(colour_bar_trace(colour))
    elif legend:
        _legend_entries(fig, colour)
    if scale_bar:
        figures.add_scale_bar(fig, grid, "", unit)
    fig.update_layout(title=title, height=height, dragmode="select", showlegend=legend,
                      legend={"title": {"text": colour.title}, "itemsizing": "constant", "orientation": "h", "x": 0,
                              "y": -0.16, "yanchor": "top"},
                      plot_bgcolor=nan_colour, margin={"l": 60, "r": 20, "t": 50, "b": 50}, **map_axes(grid, units))
    return fig


def colour_bar_trace(colour: Colour) -> go.Scatter:
    """An invisible point whose colour bar is `colour`'s (codes 0..254 of a continuous colour)."""
    steps = colour.colours[:255]
    scale = [[i / (len(steps) - 1), c] for i, c in enumerate(steps)]
    return go.Scatter(x=[None], y=[None], mode="markers", name="colour bar", hoverinfo="skip", showlegend=False,
                      marker={"color": [0], "colorscale": scale, "cmin": 0, "cmax": len(steps) - 1,
                              "showscale": True, "colorbar": {"len": 0.9, "thickness": 14, **colour.colorbar}})


def value_histogram(values, colour: Colour | None = None, *, title: str = "", value_name: str = "value",
                    bins: int = 60, height: int = 220, colorscale: str = "Viridis", limits=None) -> go.Figure:
    """A histogram of a map's values (NaN left out), each bar in the colour its values get on the
    map, the colour scale's limits marked when fixed. `colour`: the map's continuous Colour (its
    scale and limits); else `colorscale` over `limits` (default: the values' range)."""
    low, high, counts, edges = _histogram(values, bins)
    centres = (edges[:-1] + edges[1:]) / 2
    if colour is not None and colour.limits is not None:
        limits, colorscale = colour.limits, colour.colorscale or colorscale
    vmin, vmax = limits if limits is not None else (low, high)
    scale = plotly.colors.get_colorscale(colorscale)
    bar_colours = ["#%02x%02x%02x" % tuple(c) for c in figures.colours_of(centres, scale, vmin, vmax)]
    fig = go.Figure(go.Bar(x=centres, y=counts, width=np.diff(edges), marker={"color": bar_colours, "line": {"width": 0}},
                           name="pixels", hovertemplate=f"{value_name} %{{x:.4g}}<br>%{{y:,}} pixels<extra></extra>"))
    for edge in (vmin, vmax):  # fixed limits inside or beyond the values' range
        if not (np.isclose(edge, low) or np.isclose(edge, high)):
            fig.add_vline(x=edge, line={"color": "#111111", "width": 1, "dash": "dot"})
    fig.update_layout(title=title, height=height, bargap=0, showlegend=False, template="plotly_white",
                      xaxis_title=value_name, yaxis_title="pixels", margin={"l": 50, "r": 10, "t": 40 if title else 10,
                                                                            "b": 40})
    return fig


_LAST_HISTOGRAM: list = [None, None, None]  # (weakref to the values, bins, result): reruns reuse it


def _histogram(values, bins: int):
    """(low, high, counts, edges) of the finite values. Kept for the last read-only array (a cached map
    shared by reruns): a selection's rerun does not pass over ten million values again."""
    ref, last_bins, result = _LAST_HISTOGRAM
    if ref is not None and ref() is values and last_bins == bins:
        return result
    low, high = finite_range(values)  # no copy: the histogram leaves out what is outside its range, NaN included
    edges = np.float64([low, high if high > low else low + 1])  # float64 edges, float32 values or not
    result = (low, high, *np.histogram(values, bins=bins, range=tuple(edges)))
    if isinstance(values, np.ndarray) and not values.flags.writeable:
        _LAST_HISTOGRAM[:] = [weakref.ref(values), bins, result]
    return result


VEIL = "rgba(235,235,235,0.85)"  # over the pixels outside a selection: a black pixel turns light grey (200)


def map_png(code_map, colours) -> str:
    """A PNG data URI of a code map: code i -> colours[i] (hex or rgb/rgba), NaN -> colours[-1].
    The last few are kept: a page's rerun draws the same map again."""
    key = digest(code_map) + repr((np.shape(code_map), np.asarray(code_map).dtype.str, list(colours)))
    return _PNGS.get(key, lambda: _encode_png(np.ascontiguousarray(code_map), colours))


_PNGS = Kept(8)  # digest of (codes, colours) -> data URI, shared by sessions


def _encode_png(code_map, colours) -> str:
    """A palette PNG (one byte a pixel: smaller and quicker to compress) when at most 256 colours
    are used, else RGBA."""
    from PIL import Image

    codes = np.where(np.isfinite(code_map), code_map, len(colours) - 1).astype(np.intp)
    rgba = np.array([_rgba(c) for c in colours], np.uint8)
    used = np.flatnonzero(np.bincount(codes.ravel(), minlength=len(colours)))
    if len(used) <= 256:
        index = np.zeros(len(colours), np.uint8)
        index[used] = np.arange(len(used))
        image = Image.fromarray(index[codes], "P")
        image.putpalette(rgba[used].ravel().tobytes(), rawmode="RGBA")
    else:
        image = Image.fromarray(rgba[codes], "RGBA")
    return figures.png_uri(image)


def _rgba(colour) -> tuple[int, int, int, int]:
    text = str(colour).strip()
    alpha = float(text[text.index("(") + 1:text.index(")")].split(",")[3]) if text.startswith("rgba") else 1.0
    return (*(int(round(v)) for v in figures._rgb(text)), int(round(255 * alpha)))


def map_axes(grid, units: str | None = "um") -> dict:
    """x right, y down, square pixels, the view fitted to the grid, axes titled with their unit."""
    xs, ys = grid.x_values, grid.y_values
    unit = display_units(units)
    return {"xaxis": {"title": {"text": f"x ({unit})"}, "constrain": "domain", "showgrid": False, "zeroline": False,
                      "range": [xs[0] - grid.step_x / 2, xs[-1] + grid.step_x / 2]},
            "yaxis": {"title": {"text": f"y ({unit})"}, "constrain": "domain", "showgrid": False, "zeroline": False,
                      "scaleanchor": "x", "range": [ys[-1] + grid.step_y / 2, ys[0] - grid.step_y / 2]}}


def is_chosen(row_ids, chosen) -> np.ndarray:
    """(len(row_ids),) bool: which of `row_ids` are among `chosen` (both global row ids, >= 0), as np.isin
    says, through a mask over the ids: one pass over each, not a sort of ten million."""
    row_ids, chosen = np.asarray(row_ids, np.int64), np.asarray(chosen, np.int64)
    if not len(row_ids) or not len(chosen):
        return np.zeros(len(row_ids), bool)
    mask = np.zeros(max(int(row_ids.max()), int(chosen.max())) + 1, bool)
    mask[chosen] = True
    return mask[row_ids]
