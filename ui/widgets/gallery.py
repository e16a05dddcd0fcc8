"""The images behind chosen rows.

- `source_for(lat)`: the data file the latents came from, when this session has it (a chosen or uploaded file).
- `paged_gallery(rows, read, key, captions=...)`: the rows' images a page at a time (`PAGE_SIZE`), a
  page number (its - and + step to the previous and next page) and "images 25-48 of 412"; only the page's
  items are read (`read`; `source_reader(source, table)`: from one data file). Back to page 1 when the rows change.
  Each image's caption is the row, and on a scan its x, y and band contrast
  (`latentcore.analysis.items.item_caption`, through `captions`).
- `mean_pattern(rows, source, lat, key, clusters=...)`: the mean pattern of the rows (the selection) or
  of a cluster, made by `mean-pattern`'s own job and run (`latentcore.analysis.artifacts.mean_pattern`; above
  `jobs.INLINE_PATTERNS` rows in a worker, when asked for with a button), drawn with a colour bar,
  downloadable as the command writes it: PNG (the sidebar's dpi), NPY (float64, the items' shape), JSON report.
Widgets keyed `{key}_page` (gallery), `{key}_of`, `{key}_run` (a large selection's mean), `{key}_dl_png`,
`{key}_dl_npy`, `{key}_dl_json` (mean)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from latentcore.analysis.artifacts.mean_pattern import MeanPatternJob, pattern_names
from latentcore.analysis.items import item_caption, page_of
from latentcore.arrays import unique
from latentcore.figures import items as item_figures

from ..compute import dispatch, jobs, sources
from ..session import defaults, lifecycle, state
from . import common, waiting

PAGE_SIZE = 24
SELECTION = "selection"


def source_for(lat) -> Path | None:
    """The data file the latents came from (of the name they record), when this session has it and it holds items
    (not features): the session's chosen data file, else another of its data files (a study's sources each have
    their own)."""
    from ..session import files

    name = lat.attrs.get("source")
    found = next((path for path in (state.source(), *files.data_sources().values())
                  if path is not None and path.name == name), None)
    return None if found is None or sources.source_info(sources.stamp(found)).get("is_features") else found


def _page_number(rows: np.ndarray, pages: int, key: str) -> int:
    """The page asked for (1-based): a number input when there are several pages, page 1 for new rows."""
    page_key, rows_key = f"{key}_page", f"_{key}_page_rows"
    digest = hashlib.sha1(rows.tobytes()).hexdigest()
    if defaults.widget_value(rows_key) != digest:  # other rows: their first page
        defaults.forget_widget(page_key)
        defaults.set_widget_value(rows_key, digest)
    if pages < 2:
        return 1
    return int(st.number_input(f"Page (1 to {pages:,})", 1, pages, defaults.setting(page_key, 1, bounds=(1, pages)),
                               key=page_key, help="- and + step to the previous and the next page."))


def paged_gallery(rows, read, key: str, columns: int = 6, captions=None):
    """The rows' images, PAGE_SIZE at a time in `columns` columns; `read(rows)` gives the items of the shown page's
    rows (`source_reader`: only they are read). `captions(rows)`: the page's captions (default "row N")."""
    rows = np.asarray(rows, np.int64)
    cols = st.columns([1, 2], vertical_alignment="bottom")
    with cols[0]:
        number = _page_number(rows, page_of(len(rows), 0, PAGE_SIZE).pages, key)
    page = page_of(len(rows), number - 1, PAGE_SIZE)
    cols[1].caption(page.label().capitalize())
    shown = page.of(rows)
    common.gallery(read(shown), captions(shown) if captions else [item_caption(r) for r in shown], columns)


def source_reader(source: Path, table: pd.DataFrame):
    """rows -> their items, read from the data file `source` where `table` (its latents' `stacked` table) says
    they lie (`partition`, `index`)."""
    def read(rows) -> np.ndarray:
        part = table.iloc[np.asarray(rows, np.int64)]
        return sources.source_items(sources.stamp(source), tuple(part["partition"].astype(str)),
                                    tuple(int(i) for i in part["index"]))
    return read


def _mean_choices(rows: np.ndarray, clusters) -> dict[str, tuple[str, np.ndarray, int | None]]:
    """choice -> (its label, its row ids, its cluster or None): the selection, then each cluster (noise left out)."""
    choices = {SELECTION: (f"the selection ({common.counted(len(rows), 'row')})", rows, None)} if len(rows) else {}
    if clusters is not None:
        cluster_rows, labels = np.asarray(clusters["rows"]), np.asarray(clusters["labels"])
        for label in unique(labels[labels >= 0]):
            members = cluster_rows[labels == label]
            choices[f"cluster {label}"] = (f"cluster {label} ({common.counted(len(members), 'row')})", members,
                                           int(label))
    return choices


def mean_pattern(rows, source: Path, lat, key: str, clusters: dict | None = None):
    """The mean pattern of the rows of the latents `lat` or of a cluster of `clusters` ({"rows", "labels"};
    default: the Clusters page's last clustering), its colour bar and downloads."""
    sizes = {name: len(values) for name, values in lat.partitions.items()}
    clusters = state.last_clusters() if clusters is None else clusters
    if clusters is not None and np.max(clusters["rows"], initial=-1) >= sum(sizes.values()):
        clusters = None  # of other latents
    choices = _mean_choices(np.asarray(rows, np.int64), clusters)
    if not choices:
        return
    names = list(choices)
    what = st.selectbox("Mean pattern of", names, format_func=lambda name: choices[name][0], key=f"{key}_of",
                        index=defaults.setting_index(f"{key}_of", names[0], names))
    label, members, cluster = choices[what]
    show_mean(MeanPatternJob(lat.path, source, members, cluster=cluster), sizes, key, what, label)


def show_mean(job: MeanPatternJob, sizes: dict, key: str, what: str, label: str):
    """The mean pattern of `job` (what `python -m latentcore mean-pattern` runs; `sizes`: its latents' partitions'
    rows), its colour bar and downloads; `what` names it in the title, `label` in the caption."""
    with common.user_errors():
        result = _mean_pattern(job, sizes, f"{key}_run")
    if result is None:  # a large one: not asked for yet, or a worker computes it (its progress shows above)
        return
    plane, note = item_figures.as_plane(result.mean)
    fig = item_figures.mean_pattern_figure(plane, f"Mean of {result.count:,} patterns: {what}")
    st.plotly_chart(fig, config={"displaylogo": False}, key=f"{key}_chart")
    st.caption(f"The mean of {label}" + (f" ({note})" if note else "") + ", accumulated in float64.")
    names = pattern_names(job, result)  # as `python -m latentcore mean-pattern` names them
    out, dpi = lifecycle.workdir("gallery"), state.png_dpi()

    def written(kind: str, figure=None):
        return lambda: sources.mean_pattern_files(job, result, out, figure, dpi)[kind].read_bytes()

    for kind, title, mime in (("figure", f"Mean pattern (PNG, {dpi} dpi)", "image/png"),
                              ("mean", "Mean pattern (NPY, float64)", "application/octet-stream"),
                              ("report", "Mean pattern's report (JSON)", "application/json")):
        st.download_button(title, written(kind, fig if kind == "figure" else None), file_name=names[kind], mime=mime,
                           key=f"{key}_dl_{Path(names[kind]).suffix[1:]}", on_click="ignore",
                           icon=":material/download:")


def _mean_pattern(job, sizes: dict, button_key: str):
    """`dispatch.mean_pattern`, a large one started by a button (`button_key`) and its progress shown in place
    while the rest of the page draws on; None until its result is in."""
    result = dispatch.mean_pattern(job, sizes)
    if result is None and st.button(f"Compute the mean of {len(job.rows):,} patterns", key=button_key,
                                    icon=":material/functions:",
                                    help="Reads every one of them from the data file, in a worker process."):
        result = dispatch.mean_pattern(job, sizes, start=True)
    if isinstance(result, jobs.Job):
        waiting.watch(result)
        return None
    return result
