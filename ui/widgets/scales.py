"""The scale of a scan panel: a colour-map choice with optional fixed limits (vmin, vmax), and a
histogram of the shown map's values under the map."""
from __future__ import annotations

import streamlit as st

from latentcore.arrays import finite_range

from ..figures import plots
from ..session import defaults


def colour_scale(key: str, values, container=None, value_range=None,
                 values_of: str | None = None) -> tuple[str, tuple[float, float] | None]:
    """(colour map, limits): a choice of colour map and, when "Fixed limits" is ticked, the vmin and vmax the
    colours span. Unticked, vmin and vmax show the values' range (what the colours span then) and follow it;
    ticked, they start from it and stay as set, so that maps can be compared on one scale, until `values_of`
    (what the values are: band contrast, a latent dimension...) changes: other values, their own range.
    Widgets keyed `{key}_cmap`, `_fixed`, `_vmin`, `_vmax`. `value_range`: the values' (min, max) when already
    known (else found here)."""
    box = container if container is not None else st
    if value_range is None:
        value_range = finite_range(values)  # no float64 copy of the maps
    cols = box.columns([2, 2, 2, 2])
    scales = list(plots.COLOUR_SCALES)
    scale = cols[0].selectbox("Colour map", scales, key=f"{key}_cmap",
                              index=defaults.setting_index(f"{key}_cmap", scales[0], scales))
    fixed = cols[1].checkbox("Fixed limits", key=f"{key}_fixed", value=defaults.setting(f"{key}_fixed", False),
                             help="Span the colours from vmin to vmax (values beyond take the end colours) "
                                  "instead of each map's own range.")
    shown_before = defaults.widget_value(f"{key}_of", values_of)
    defaults.set_widget_value(f"{key}_of", values_of)
    limits = []
    for column, name, bound in zip(cols[2:], ("vmin", "vmax"), map(float, value_range)):
        widget = f"{key}_{name}"
        if (not fixed or shown_before != values_of) and defaults.widget_value(widget) != bound:
            defaults.set_widget_value(widget, bound)  # the values' own range
        limits.append(column.number_input(name, value=defaults.setting(widget, bound), key=widget, disabled=not fixed,
                                          format="%.4g"))
    vmin, vmax = limits
    if not fixed:
        return scale, None
    if not vmax > vmin:
        box.warning(f"vmax ({vmax:g}) must be above vmin ({vmin:g}): the map's own range is used.",
                    icon=":material/warning:")
        return scale, None
    return scale, (float(vmin), float(vmax))


def histogram(values, key: str, *, colour: plots.Colour | None = None, value_name: str = "value",
              colorscale: str = "Viridis", limits=None, container=None):
    """The histogram of the shown map's values, each bar in its colour on the map."""
    box = container if container is not None else st
    fig = plots.value_histogram(values, colour, value_name=value_name, colorscale=colorscale, limits=limits)
    box.plotly_chart(fig, key=key, config={"displaylogo": False})
    return fig
