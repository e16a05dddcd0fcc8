"""Widgets several pages use: the sidebar summary, ROI sliders, image galleries, downloads, errors."""
from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path

import numpy as np
import streamlit as st

from latentcore.analysis.maps import Roi
from latentcore.arrays import unique
from latentcore.columns import SELECTED
from latentcore.data.base import display_units
from latentcore.errors import LatentError
from latentcore.errors import error_line as engine_error_line
from latentcore.study import REMAKE as STUDY_REMAKE
from latentcore.storage.csv_cells import neutralised_table

from ..compute import scan_maps, sources
from ..figures.plots import is_chosen
from ..session import defaults, lifecycle, state, store, workspace
from ..session.settings import ROI_PAGES
from . import bandcontrast


class SidebarSummary:
    """The sidebar's summary: the session's data, band contrast, latents and device; how many points
    are selected (a line of its own, which linked panels redraw when they rerun alone:
    `selection_count`); and the Clear-selection button. `draw` again after the page shows what it did."""

    def __init__(self):
        self.about, self.count, self.buttons = st.sidebar.empty(), st.sidebar.empty(), st.sidebar.empty()
        state.set_selection_slot(self.count)

    def draw(self, buttons: bool = True):
        with self.about.container():
            lat = state.latents()
            scans = study_scans(lat)
            st.markdown(f"**Data:** {data_said(state.source(), scans)}")
            shown = ("each scan's own map" if scans
                     else bandcontrast.label(state.bandcontrast()))  # a study's scans pair with their own maps
            st.markdown(f"**Band contrast:** {shown}")
            st.markdown(f"**Latents:** {lat.name if lat else 'not extracted yet'}")
            model = latents_model(lat)
            if model:
                st.caption(f"made by {model}")
            found = sources.devices() if buttons else sources.devices_if_loaded()  # after the page: it may wait
            st.markdown(f"**Device:** {found['auto'].removeprefix('auto (').rstrip(')') if found else 'checking…'}")
        selection_count()
        self.buttons.empty()
        if buttons and len(state.selection()) and self.buttons.button("Clear selection", key="sidebar_clear_selection"):
            state.clear_selection()
            st.rerun()


def preload_charts():
    """An invisible one-point plotly chart: the browser fetches and compiles plotly.js, which Streamlit loads at a
    session's first chart, while the Data page is read rather than when the first analysis page opens (1.5 s of the
    Latent maps page's first open at 1M rows in Chromium's trace: docs/benchmarks.md)."""
    import plotly.graph_objects as go

    with st.container(key="charts_preload"):
        st.plotly_chart(go.Figure(go.Scatter(x=[0], y=[0])), height=10, key="charts_preload_chart")
    st.html("<style>.st-key-charts_preload {display: none}</style>")  # style alone: no element of its own


def study_scans(path) -> list[str]:
    """The names of the sources of the session's latents when they are a study of several ([] for one file, none yet,
    or when they cannot be opened: the sidebar never fails a page, the pages say what is wrong)."""
    try:
        return [found.name for found in sources.study_sources(sources.stamp(path))] if path is not None else []
    except (LatentError, OSError):
        return []


def data_said(source, scans: list[str]) -> str:
    """The sidebar's data: a study's sources (the latents explored), else the session's data file."""
    if scans:
        return f"a study of {len(scans)} sources ({', '.join(scans[:3])}{', ...' if len(scans) > 3 else ''})"
    return (source.name if source else "none") + (" (built-in demo)" if state.is_demo() else "")


TABLE_ROWS_SHOWN = 6  # rows a long table shows before it scrolls


def table_height(rows: int) -> int | str:
    """An `st.dataframe` height: fitted to a short table (no empty rows below its last), a long one's first
    TABLE_ROWS_SHOWN rows then a scroll (rows of 35 px, Streamlit's default, and the header's)."""
    return "auto" if rows <= TABLE_ROWS_SHOWN else 35 * (TABLE_ROWS_SHOWN + 1) + 3


MARKDOWN_MARKS = re.compile(r"([\\`*_{}\[\]<>$:~|&])")  # what Markdown reads anywhere in a line
LINE_START_MARKS = (re.compile(r"^(\s*)([#+-])"), re.compile(r"^(\s*\d+)([.)])"))  # a heading's or a list's


def plain(text) -> str:
    """`text` typed by a person (a label's, a model's or a user's name) as Markdown that shows it as typed: the marks
    Markdown reads are escaped (CommonMark's backslash), or Streamlit would draw `:red[x]` as red text, `$x$` as LaTeX,
    `*x*` in italics and `# x` as a heading (checked in Chromium; only `:material/name:` is still an icon)."""
    escaped = MARKDOWN_MARKS.sub(r"\\\1", str(text))
    for mark in LINE_START_MARKS:
        escaped = mark.sub(r"\1\\\2", escaped)
    return escaped


def counted(n: int, noun: str) -> str:
    """"1 point", "2,400 points": a count and its noun, plural but for one."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def selection_count():
    """The sidebar's "Selected points" line, brought up to date."""
    slot = state.selection_slot()
    if slot is not None:
        slot.markdown(f"**Selected points:** {len(state.selection()):,}")


def linked_panels(draw):
    """`draw` (the linked panels of a page and what shows their selection) as a Streamlit fragment: a
    selection made in them reruns only `draw`, not the whole page (parameters, sidebar, other panels).
    A fragment's rerun skips app.py, so the sidebar's selection count and the saved workspace are
    brought up to date here."""
    @functools.wraps(draw)
    def body(*args, **kwargs):
        if in_fragment_rerun() and state.latents() is not None:
            latents_stamp(state.latents())  # a study's member gone or rewritten since the page ran: said here too
        draw(*args, **kwargs)
        selection_count()  # every full run too: Streamlit lets a fragment's rerun write only where its full run did
        if in_fragment_rerun():
            lifecycle.save_session()
    return st.fragment(body)


def latents_stamp(path) -> tuple:
    """The cache key of the latents at `path`; a study's members checked (there, unchanged: `sources.study`), else
    the page (or fragment) stops with one line naming the member and the way out, and a link to it."""
    try:
        found = sources.stamp(path)
        sources.study(found)  # a latents file: None
    except (LatentError, OSError) as exc:
        st.error(error_line(exc), icon=":material/error:")
        st.page_link("pages/data.py", label="Make or pick the latents again on the Data page", icon=":material/stacks:")
        st.stop()
    return found


def in_fragment_rerun() -> bool:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx and ctx.fragment_ids_this_run)


def rerun():
    """Run again what is running: the fragment in a fragment's rerun, else the page."""
    st.rerun(scope="fragment" if in_fragment_rerun() else "app")


def latents_model(path) -> str | None:
    """The model that made the latents file at `path` (name and short SHA-256) as Markdown showing the name its
    checkpoint records as it is, None when unknown."""
    if path is None or not Path(path).is_file():
        return None
    try:
        model = sources.latents_model(sources.stamp(path))
    except (LatentError, OSError):  # the sidebar never fails a page: the pages say what is wrong
        return None
    return None if model is None else plain(model)


def png_dpi_setting():
    """The sidebar's one resolution setting for every PNG download."""
    st.sidebar.number_input("PNG downloads: resolution (dpi)", 72, 1200, state.png_dpi(), step=50, key=store.PNG_DPI,
                            help="Figures keep their size in inches (screen pixels / 96); 300 dpi suits print.")


@contextlib.contextmanager
def user_errors():
    """Show an engine error (bad file, bad checkpoint, a file system refusal) as one line instead of
    a traceback."""
    try:
        yield
    except (LatentError, OSError) as exc:
        st.error(error_line(exc), icon=":material/error:")
        st.stop()


def error_line(exc: BaseException) -> str:
    """The CLI's one line (latentcore.errors.error_line), a local file named by its name alone and the workspace's
    folder as "the workspace": a server path means nothing to the user (URLs stay whole); a command's next step
    given as the page's (a study is made again on the Data page)."""
    line = engine_error_line(exc)
    path = getattr(exc, "path", None) or getattr(exc, "filename", None)
    if isinstance(path, str) and path and "://" not in path:
        line = line.replace(path, Path(path).name)
    for root in {str(workspace.WORKDIR_ROOT), str(Path(workspace.WORKDIR_ROOT).resolve())}:
        line = re.sub(re.escape(root) + r"[^\s:,;)]*", "the workspace", line)
    return line.replace(STUDY_REMAKE, STUDY_REMAKE_HERE)


STUDY_REMAKE_HERE = "make the study again on the Data page"


def roi_sliders(x: np.ndarray, y: np.ndarray, key: str, units: str | None = "um") -> Roi | None:
    """x and y range sliders over the scan (steps of the grid, labelled in `units`); returns their `Roi`, None
    while they span the whole scan. The analysis pages share one ROI (`roi_x`, `roi_y`); other keys get their own."""
    ranges, whole = [], []
    for name, values in (("x", x), ("y", y)):
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        whole.append((low, high))
        distinct = unique(values[:100_000])  # a contiguous block shows the grid step; cheap at 1M pixels
        step = float(np.min(np.diff(distinct))) if len(distinct) > 1 else 1.0
        if high <= low:
            ranges.append((low, high))
            continue
        shared = key in ROI_PAGES
        widget_key = f"roi_{name}" if shared else f"{key}_roi_{name}"
        kept = defaults.widget_value(widget_key)
        if kept is not None and not low <= min(kept) <= max(kept) <= high:  # from other data: start afresh
            defaults.forget_widget(widget_key)
        ranges.append(st.slider(f"ROI {name} range ({display_units(units)})", low, high, step=step, key=widget_key,
                                on_change=(lambda page=key: state.set_roi_origin(page)) if shared else None,
                                value=defaults.setting(widget_key, (low, high), bounds=(low, high))))
    return None if ranges == whole else Roi(*ranges[0], *ranges[1])


def roi_note(lat_stamp: tuple, lat, roi: Roi | None, page: str):
    """The shared ROI, when one is active, said on a page it applies to (`settings.ROI_PAGES`): its ranges, how many of
    the scan's pixels it keeps, the page it was set on, and a button that clears it (for every page)."""
    if roi is None:
        return
    unit = display_units(lat.units)
    kept = len(scan_maps.roi_rows(lat_stamp, roi))
    origin = state.roi_origin()
    where = f" — set on {ROI_PAGES[origin]}" if origin in ROI_PAGES else ""
    cols = st.columns([6, 1], vertical_alignment="center")
    cols[0].info(f"ROI: {roi.describe(unit, '–')} ({kept:,} of {len(lat.x):,} "
                 f"pixels){where}. It applies to {', '.join(ROI_PAGES.values())}.", icon=":material/crop_free:")
    cols[1].button("Clear ROI", key=f"{page}_roi_clear", on_click=state.clear_roi, icon=":material/close:")


def as_display_image(item: np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W) float -> (H, W) or (H, W, 3) in [0, 1], each image stretched on its own."""
    item = np.asarray(item, np.float32)
    if item.ndim == 4:  # (C, T, H, W) video: its first frame
        item = item[:, 0]
    if item.ndim == 3:
        item = item[0] if item.shape[0] == 1 else np.moveaxis(item[:3], 0, -1)
    finite = np.isfinite(item)
    low, high = (np.min(item[finite]), np.max(item[finite])) if finite.any() else (0.0, 1.0)
    return np.clip((np.nan_to_num(item, nan=low) - low) / max(high - low, 1e-12), 0, 1)


def gallery(items, captions, columns: int = 6):
    """A grid of images, each captioned below as written, wrapped where its column is narrow (an image's own caption
    is cut to one line: "p · row 10 · x 15.0 µm, y 0.0" in four columns beside the mean pattern)."""
    items = list(items)
    for start in range(0, len(items), columns):
        cells = st.columns(columns)
        for cell, item, caption in zip(cells, items[start:start + columns], captions[start:start + columns]):
            cell.image(as_display_image(item), width="stretch", clamp=True)
            cell.caption(plain(caption))  # names drawn as written: a study's sources are its files'


def table_csv(table, selected) -> str:
    """An embedding's table of every row (`embedding_table`) with a `selected` flag (`selected`: row ids, the
    table's positions), as CSV (built when downloaded); `row`, the row id (a study's: `source`, `row`), is the one
    the cluster tables (`cluster_assignments__*.csv`) carry: they join on it."""
    out = table.assign(**{SELECTED: is_chosen(np.arange(len(table)), selected)})
    return neutralised_table(out).to_csv(index=False)  # metadata text never runs as a spreadsheet formula


def embedding_npz(fitted, path: str) -> bytes:
    """A fitted embedding in latentcore's saved-embedding format (projectable later)."""
    from latentcore.analysis.embedding.fitted import save_embedding

    return save_embedding(path, fitted).read_bytes()


def download_file(label: str, path: Path, key: str, mime: str = "application/octet-stream"):
    """A download button for a file written by the engine."""
    path = Path(path)
    st.download_button(label, path.read_bytes(), file_name=path.name, mime=mime, key=key,
                       on_click="ignore", icon=":material/download:")


MIME = {".csv": "text/csv", ".json": "application/json", ".png": "image/png", ".npy": "application/octet-stream",
        ".h5": "application/x-hdf5", ".parquet": "application/octet-stream"}


def download_artifacts(paths, key: str):
    """One download button per artifact file, one under the other: each shows its whole file name."""
    paths = [Path(p) for p in paths if p and Path(p).exists()]
    for path in paths:
        download_file(path.name, path, key=f"{key}_{path.name}", mime=MIME.get(path.suffix, "application/octet-stream"))


def embedding_note(fitted) -> str:
    """What an embedding was fitted with, as the fit itself records it (`FittedEmbedding.params`), and its
    approximation (fitted on every row, or on a sample with every other row placed)."""
    params, rows = fitted.params, len(fitted.coords)
    said = params.get("approximation", "")
    said = f" The embedding: {said}." if said else ""
    if fitted.method == "pca":
        return f"PCA of {rows:,} latents, seed {params['random_state']}.{said}"
    return (f"UMAP of {rows:,} latents: {params['n_neighbors']} neighbours, min distance {params['min_dist']:g}, "
            f"seed {params['random_state']}.{said}")


def cluster_fit_notes(report: dict, smooth: float) -> None:
    """What the clustering actually did: rows and parameters used, smoothing, warnings, and GMM's
    criterion curve when k was chosen automatically."""
    from latentcore import figures

    smoothed = (f" Features smoothed over the scan grid with a Gaussian of sigma {smooth:g} grid steps; the scatter "
                "shows the raw values.") if smooth else ""
    st.caption(f"Fit: {report['fit_summary']}.{smoothed}")
    for warning in report.get("warnings", []):
        st.warning(warning, icon=":material/warning:")
    if "bic" in report["fit"]:
        st.plotly_chart(figures.criterion_curve(report["fit"]), key="clusters_criterion_curve",
                        config={"displaylogo": False})
