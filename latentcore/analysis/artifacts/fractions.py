"""How much of each cluster (or predicted label) is in each source of a study: the table
(`fractions_table`: `source, <column>, count, fraction`, every value in every source, a count of 0 included, each
source's fractions summing to 1; `counts_table`: the same from counts made source by source), its record in a
report (`fractions_record`) and its stacked bars (`fractions_figure`: a bar per source); `write_fractions` writes
the CSV and the PNG."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...columns import CLUSTER, COUNT, FRACTION, SOURCE


def fractions_table(sources, source_names, values, column: str, order=None) -> pd.DataFrame:
    """`sources`: each row's source (an index into `source_names`); `values`: each row's cluster or label;
    `order`: the values in the table's order (default: sorted)."""
    values = np.asarray(values)
    order = np.unique(values) if order is None else np.asarray(order)
    codes = pd.Categorical(values, categories=order).codes.astype(np.int64)
    known = codes >= 0  # a value left out of `order` (a row without features) is counted nowhere
    counts = np.zeros((len(source_names), len(order)), np.int64)
    np.add.at(counts, (np.asarray(sources, np.int64)[known], codes[known]), 1)
    return counts_table(source_names, order, counts, column)


def counts_table(source_names, order, counts, column: str) -> pd.DataFrame:
    """The fractions table from counts already made: `counts[i, j]`, the rows of source i with value `order[j]`."""
    counts = np.asarray(counts, np.int64)
    fractions = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    return pd.DataFrame({SOURCE: np.repeat(list(source_names), len(order)), column: np.tile(order, len(source_names)),
                         COUNT: counts.ravel(), FRACTION: fractions.ravel()})


def fractions_record(fractions: pd.DataFrame, column: str) -> dict:
    """The report's form: {source: {"counts": {value: n}, "fractions": {value: f}}}."""
    return {source: {"counts": {str(v): int(n) for v, n in zip(part[column], part[COUNT])},
                     "fractions": {str(v): float(f) for v, f in zip(part[column], part[FRACTION])}}
            for source, part in fractions.groupby(SOURCE, sort=False)}


def fractions_figure(fractions: pd.DataFrame, column: str, title: str, colours: dict | None = None):
    """Stacked bars: a bar per source, a segment per value (a cluster's fixed colour, or `colours[value]`), the
    count in the hover."""
    import plotly.graph_objects as go

    from ...figures import PALETTE, cluster_hue

    fig = go.Figure()
    for i, (value, part) in enumerate(fractions.groupby(column, sort=False)):
        if column == CLUSTER:
            name, colour = ("noise" if value < 0 else f"cluster {value}"), cluster_hue(int(value))
        else:
            name, colour = str(value), (colours or {}).get(value, PALETTE[i % len(PALETTE)])
        fig.add_trace(go.Bar(x=part[SOURCE].astype(str), y=part[FRACTION], name=name, marker={"color": colour},
                             customdata=part[COUNT],
                             hovertemplate="%{x}: %{y:.1%} (%{customdata:,} rows)<extra>" + name + "</extra>"))
    fig.update_layout(barmode="stack", title=title, xaxis_title="source", yaxis_title="fraction of the source's rows",
                      yaxis={"range": [0, 1], "tickformat": ".0%"}, template="plotly_white",
                      width=max(600, 90 * fractions[SOURCE].nunique() + 250), height=450)
    return fig


def write_fractions(fractions: pd.DataFrame, column: str, out_dir, names: dict, title: str, *, png: bool = True,
                    browser="auto", dpi: float = 300, colours: dict | None = None) -> dict:
    """Write `names["fractions"]` (CSV) and, with `png`, `names["fractions_figure"]`; returns their report entries."""
    from ...figures import write_png
    from ...storage import sha256_file
    from .common import write_csv

    path = write_csv(Path(out_dir) / names["fractions"], fractions)
    outputs = {"fractions": {"name": names["fractions"], "sha256": sha256_file(path),
                             "columns": list(fractions.columns)}, "fractions_figure": None}
    if png:
        figure = fractions_figure(fractions, column, title, colours)
        engine = write_png(figure, Path(out_dir) / names["fractions_figure"], browser=browser, dpi=dpi)
        outputs["fractions_figure"] = {"name": names["fractions_figure"], "engine": engine}
    return outputs
