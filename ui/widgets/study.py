"""What the pages show of a study (several latents files explored as one): the source a page showing one scan at a
time reads (a file's one, or a study's picked), its labels and band contrast, and the per-source fractions of a
clustering or of predicted labels (table, stacked bars, CSV, PNG and JSON downloads)."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from latentcore.columns import COUNT, FRACTION, SOURCE

from ..session import defaults, lifecycle, state


def many(lat) -> bool:
    """Whether the session's latents are a study of several sources (a study of one is its file)."""
    return len(lat.sources()) > 1


def source_picker(names: list[str], key: str, label: str = "Source", default: int = 0) -> int:
    """The index of the source picked (`default` at first); remembered per page."""
    default = min(default, len(names) - 1)
    index = st.selectbox(label, range(len(names)), format_func=names.__getitem__, key=key,
                         index=defaults.setting_index(key, default, range(len(names))))
    return int(index)


def page_source(lat_stamp: tuple, key: str, label: str = "Source", said: bool = True):
    """The source (`sources.Source`: its latents file's stamp, its first row among the latents') a page or panel
    that shows one scan at a time reads: a file's one, or on a study of several the one picked above it (said, with
    `said`), whose own latents, grid and maps it then reads as a file's."""
    from ..compute import sources

    found = sources.members(lat_stamp)
    if len(found) == 1:
        return found[0]
    if said:
        st.caption(f"This study has {len(found)} sources: the page shows one at a time, on its own grid.")
    return found[source_picker([source.name for source in found], f"{key}_source", label)]


def session_labels(session_stamp: tuple, source):
    """(the labels of `source`'s rows, as its own row ids; the folder their table goes in): the session's labels
    and folder for its own latents, a folder of its own for a study's source."""
    from latentcore.analysis.labels.labelled import LabelledRows

    labelled = state.labels()
    if source.stamp == session_stamp:
        return labelled, lifecycle.workdir("labels")
    mine = (labelled.rows >= source.start) & (labelled.rows < source.start + source.rows)
    return (LabelledRows.from_codes(labelled.rows[mine] - source.start, labelled.y[mine], labelled.classes),
            lifecycle.workdir(f"labels/source-{source.name}"))


def bandcontrast(session_stamp: tuple, source, lat):
    """The session's band contrast for its own latents; a study's source's own scan map (None without one)."""
    from latentcore.data.bandcontrast import BandContrast

    if source.stamp == session_stamp:
        return state.bandcontrast()
    return BandContrast.scan_map() if lat.point_maps else None


def fractions_panel(fractions, column: str, names: dict, folder, key: str, title: str, colours: dict | None = None):
    """A fractions table (`artifacts.fractions.fractions_table`: source, `column`, count, fraction) as stacked bars
    and as two tables (fractions, counts; a source a row), with its downloads: the CSV (`names["fractions"]` in
    `folder`, written now unless there), the PNG of the bars (drawn when asked) and the JSON record."""
    from latentcore.analysis.artifacts.common import write_csv
    from latentcore.analysis.artifacts.fractions import fractions_figure, fractions_record

    figure = fractions_figure(fractions, column, title, colours)
    st.plotly_chart(figure, key=f"{key}_fractions_chart", config={"displaylogo": False})
    columns = st.columns(2)
    for where, values, heading in ((columns[0], FRACTION, "Fraction of each source's rows"),
                                   (columns[1], COUNT, "Rows")):
        wide = fractions.pivot(index=SOURCE, columns=column, values=values).reindex(fractions[SOURCE].unique())
        wide.columns = [f"{column} {value}" for value in wide.columns]
        where.caption(heading)
        where.dataframe(wide.style.format("{:.1%}" if values == FRACTION else "{:,}"), key=f"{key}_{values}_table")
    folder, dpi = Path(folder), state.png_dpi()
    csv_path = folder / names["fractions"]
    if not csv_path.is_file():
        write_csv(csv_path, fractions)

    def png():
        from latentcore.figures import write_png

        path = folder / names["fractions_figure"]
        write_png(figure, path, dpi=dpi)
        return path.read_bytes()

    record = (json.dumps(fractions_record(fractions, column), indent=2) + "\n").encode()
    json_name = Path(names["fractions"]).with_suffix(".json").name
    columns = st.columns(3)
    for where, (name, data, mime) in zip(columns, [(csv_path.name, csv_path.read_bytes, "text/csv"),
                                                  (names["fractions_figure"], png, "image/png"),
                                                  (json_name, lambda: record, "application/json")]):
        where.download_button(name, data, file_name=name, mime=mime, key=f"{key}_dl_{Path(name).suffix[1:]}",
                              on_click="ignore", icon=":material/download:")


def download(path, key: str):
    """A download button of a file a run wrote, read when clicked, labelled with its whole name."""
    from .common import MIME

    path = Path(path)
    st.download_button(path.name, path.read_bytes, file_name=path.name, key=key, on_click="ignore",
                       mime=MIME.get(path.suffix, "application/octet-stream"), icon=":material/download:")
