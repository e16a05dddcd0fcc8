"""What the UMAP and maps pages show about chosen rows: colours by column, the images behind rows
and their table. (Nearest neighbours and a new image projected into the embedding are computed
through the front door: `front.nearest`, `front.project_image`.)"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from latentcore.analysis.labels import codes_per_row
from latentcore.errors import LatentError

from latentcore.data.base import display_units

from ..compute import front
from ..figures import plots
from ..session import state
from . import bandcontrast, common

NONE, CLUSTERS, BANDCONTRAST, LATENT = "none", "clusters (from the Clusters page)", "band contrast", "a latent dimension"
KMEANS = "k-means clusters of the latents"
LABELS = "labels (from the labels panel)"
GALLERY_MAX = 24
TABLE_MAX = 5000


def colour_options(lat, table: pd.DataFrame) -> list[str]:
    options = [NONE]
    if state.last_clusters() and lat.x is not None:
        options.append(CLUSTERS)
    if state.bandcontrast() is not None and lat.x is not None:
        options.append(BANDCONTRAST)
    options += [LABELS] if len(state.labels().rows) else []
    options += [LATENT, KMEANS]
    options += [c for c in table.columns if c != "index" and (c != "partition" or table[c].nunique() > 1)]
    return options


def default_colour(options: list[str]) -> str:
    """The clusters when there are some, else band contrast, else nothing."""
    return next((o for o in (CLUSTERS, BANDCONTRAST) if o in options), NONE)


def continuous_values(choice: str, lat_stamp, dim: int = 0):
    """(values, name) of a continuous colour choice (band contrast, a latent dimension), else None."""
    if choice == BANDCONTRAST:
        spec = state.bandcontrast()
        return front.bandcontrast_for(bandcontrast.stamp(spec), lat_stamp), bandcontrast.value_name(spec)
    if choice == LATENT:
        matrix, _ = front.stacked_latents(lat_stamp)
        return matrix[:, dim], f"latent {dim}"
    return None


def colour_for(choice: str, lat_stamp, lat, table: pd.DataFrame, dim: int = 0, colorscale: str = "Viridis",
               limits=None) -> plots.Colour:
    """The colours of a choice; continuous ones through `colorscale` over `limits` (default: their range).
    "none": every row in one neutral grey."""
    n = len(table)
    if choice == CLUSTERS:
        last = state.last_clusters()
        labels = np.full(n, -1, np.int64)
        labels[last["rows"]] = last["labels"]
        return plots.categorical_colour(labels, "cluster")
    if choice == LABELS:
        labelled = state.labels()
        return plots.categorical_colour(codes_per_row(labelled, n), "label", names=labelled.classes,
                                       noise_name="unlabelled")
    if choice in (BANDCONTRAST, LATENT):
        values, name = continuous_values(choice, lat_stamp, dim)
        return plots.continuous_colour(values, name, colorscale, *(limits or (None, None)))
    if choice == KMEANS:
        return plots.categorical_colour(front.kmeans_labels(lat_stamp, dim), "cluster")
    if choice in table.columns:
        return front.column_colour(lat_stamp, choice)
    return plots.neutral_colour(n)


def scan_columns(lat_stamp, lat) -> dict[str, np.ndarray]:
    """Per-row x, y (their unit in the name, e.g. `x_um`) and band contrast, for scans: what the UMAP's
    hover, table and CSV carry. {} for latents without coordinates."""
    if lat.x is None or lat.y is None or len(lat.x) != len(next(iter(lat.partitions.values()))):
        return {}
    units = lat.units or "um"
    columns = {f"x_{units}": np.asarray(lat.x), f"y_{units}": np.asarray(lat.y)}
    spec = state.bandcontrast()
    if spec is not None:
        try:
            columns[bandcontrast.value_name(spec)] = front.bandcontrast_for(bandcontrast.stamp(spec), lat_stamp)
        except LatentError:  # a table that does not cover these latents: the Data page says so
            pass
    return columns


def hover_fields(columns: dict, units: str | None) -> dict[str, tuple[np.ndarray, str]]:
    """name -> (values, unit shown) for the scatter's hover text."""
    unit = display_units(units)
    return {(name[0] if name[:2] in ("x_", "y_") else name): (values, unit if name[:2] in ("x_", "y_") else "")
            for name, values in columns.items()}


def source_for(lat) -> Path | None:
    """The data file the latents came from, when this session has it (for images of rows)."""
    source = state.source()
    if source is None or source.name != lat.attrs.get("source"):
        return None
    return None if front.source_info(front.stamp(source)).get("is_features") else source


def show_rows(rows, lat, table: pd.DataFrame, key: str, extra: dict | None = None):
    """A gallery of the rows' images (the first GALLERY_MAX) and their table (the first TABLE_MAX)."""
    rows = np.asarray(rows, np.int64)
    source = source_for(lat)
    if source is not None:
        items, captions = [], []
        shown = table.iloc[rows[:GALLERY_MAX]]
        for partition, group in shown.groupby("partition", sort=False):
            items.extend(front.source_rows(front.stamp(source), partition, tuple(group["index"].tolist())))
            captions.extend(f"row {r}" for r in group.index)
        common.gallery(items, captions)
        if len(rows) > GALLERY_MAX:
            st.caption(f"The first {GALLERY_MAX} of {len(rows):,} images.")
    else:
        st.caption("The images are not shown: the data file these latents came from is not loaded in this session.")
    shown = table.iloc[rows[:TABLE_MAX]].assign(**{k: np.asarray(v)[:TABLE_MAX] for k, v in (extra or {}).items()})
    st.dataframe(shown.rename_axis("row_id").reset_index(), height=240, hide_index=True, key=f"{key}_table")
    table_note(len(rows))


def table_note(rows: int):
    """Says when a table shows only its first TABLE_MAX rows (the browser would get megabytes)."""
    if rows > TABLE_MAX:
        st.caption(f"The table lists the first {TABLE_MAX:,} of {rows:,} rows.")
