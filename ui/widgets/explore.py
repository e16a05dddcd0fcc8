"""What the UMAP and maps pages show about chosen rows: colours by column or by any per-point map the
latents carry (`point_maps/<name>`, offered as "map: <name>"), the images behind rows (paged, with their
mean pattern: `ui.widgets.gallery`) and their table. (Nearest neighbours and a new image projected into
the embedding are computed by `ui.compute.latent_space`: `nearest`, `project_image`; `new_image_panel` is the
UMAP page's upload of one.)"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from latentcore.analysis.items import item_caption
from latentcore.analysis.ebsd.scan_points import row_classes
from latentcore.analysis.labels.labelled import codes_per_row, from_clustering
from latentcore.arrays import unique
from latentcore.columns import BANDCONTRAST as BANDCONTRAST_COLUMN
from latentcore.columns import CLUSTER, COUNT, ROW, SOURCE, coordinate_names, embedding_name, latent_name
from latentcore.errors import LatentError
from latentcore.storage.uri import parse_s3_uri, safe_file_name
from latentcore.data.bandcontrast import point_map_title
from latentcore.data.base import display_units
from latentcore.data.images import ImageReader

from ..compute import cluster_runs, latent_space, sources
from ..figures import plots
from ..session import defaults, files, state
from . import common, ebsd_files, gallery
from .gallery import source_for

NONE, CLUSTERS, BANDCONTRAST, LATENT = "none", "clusters (from the Clusters page)", "band contrast", "a latent dimension"
KMEANS = "k-means clusters of the latents"
LABELS = "labels (from the labels panel)"
POINT_MAP = "map: "  # + a per-point map's name (Mean Angular Deviation, IQ, CI...)
PHASE = "phase (from the scan's orientations)"
IPF = {f"orientation: IPF-{axis.upper()}": direction  # the scan's orientations, coloured by the TSL key
       for axis, direction in (("x", (1, 0, 0)), ("y", (0, 1, 0)), ("z", (0, 0, 1)))}
TABLE_MAX = 5000


def colour_options(lat, table: pd.DataFrame) -> list[str]:
    options = [NONE]
    if state.last_clusters() and lat.x is not None:
        options.append(CLUSTERS)
    if state.bandcontrast() is not None and lat.x is not None:
        options.append(BANDCONTRAST)
    options += [LABELS] if len(state.labels().rows) else []
    options += [POINT_MAP + name for name in lat.point_maps]
    if lat.orientations is not None:
        options += [*IPF, PHASE]
    options += [LATENT, KMEANS]
    options += [c for c in table.columns if c != "index" and (c != "partition" or len(lat.partitions) > 1)]
    return options


def default_colour(options: list[str], lat=None) -> str:
    """The clusters when there are some, else the source of latents of several, else band contrast, else nothing."""
    source = SOURCE if lat is not None and len(lat.sources()) > 1 else None
    return next((o for o in (CLUSTERS, source, BANDCONTRAST) if o in options), NONE)


def continuous_values(choice: str, lat_stamp, dim: int = 0):
    """(values, name) of a continuous colour choice (band contrast, a per-point map, a latent dimension),
    else None. A map's name carries its unit when known ("Mean Angular Deviation (°)")."""
    if choice == BANDCONTRAST:
        chosen = state.bandcontrast()
        return sources.bandcontrast_for(chosen, lat_stamp), chosen.value_name
    if choice.startswith(POINT_MAP):
        name = choice.removeprefix(POINT_MAP)
        return sources.latents(lat_stamp).point_maps[name], point_map_title(name)
    if choice == LATENT:
        return sources.latent_column(lat_stamp, int(dim)), f"latent {dim}"
    return None


def values_key(choice: str, lat_stamp, dim: int = 0) -> tuple:
    """What names a continuous choice's values, for the caches of their colours and range."""
    chosen = state.bandcontrast() if choice == BANDCONTRAST else None
    return lat_stamp, choice, int(dim) if choice == LATENT else None, chosen


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
        return plots.label_colour(codes_per_row(labelled, n), labelled.classes)
    if choice in (BANDCONTRAST, LATENT) or choice.startswith(POINT_MAP):
        values, name = continuous_values(choice, lat_stamp, dim)
        return sources.continuous_colour(values_key(choice, lat_stamp, dim), name, colorscale, limits, values)
    if choice == KMEANS:
        return plots.categorical_colour(cluster_runs.kmeans_labels(lat_stamp, dim), "cluster")
    if choice in IPF:
        return plots.rgb_colour(sources.ipf_colours(lat_stamp, IPF[choice]), choice.removeprefix("orientation: "))
    if choice == PHASE:
        phases = lat.orientations.phases
        ids = lat.orientations.phase_id
        names = [phases[k].name if k in phases else f"phase {k}" for k in range(int(ids.max(initial=-1)) + 1)]
        return plots.categorical_colour(ids, "phase", names)
    if choice in table.columns:
        return sources.column_colour(lat_stamp, choice)
    return plots.neutral_colour(n)


def scan_columns(lat_stamp, lat) -> dict[str, np.ndarray]:
    """Per-row `x_um`, `y_um` (their unit in the name) and `bandcontrast` (the chosen map), for scans: what the
    UMAP's hover, table and CSV carry (`latentcore.columns`). {} for latents without coordinates."""
    if lat.x is None or lat.y is None or len(lat.x) != len(next(iter(lat.partitions.values()))):
        return {}
    columns = dict(zip(coordinate_names(lat.units), (np.asarray(lat.x), np.asarray(lat.y))))
    chosen = state.bandcontrast()
    if chosen is not None:
        try:
            columns[BANDCONTRAST_COLUMN] = sources.bandcontrast_for(chosen, lat_stamp)
        except LatentError:  # a table that does not cover these latents: the Data page says so
            pass
    return columns


def gallery_captions(lat, scan: dict | None):
    """rows -> their gallery captions (`item_caption`): the row (a study's: its source and its row there), and from
    `scan` (`scan_columns`: every row's x, y and band contrast) its position and band contrast where it has them."""
    scan = scan or {}
    x, y = (scan.get(name) for name in coordinate_names(lat.units))
    contrast = scan.get(BANDCONTRAST_COLUMN)

    def captions(rows) -> list[str]:
        rows = np.asarray(rows, np.int64)
        named = lat.row_table(rows)  # a study's: each row's source and its row there
        of = [f"{source} · " for source in named[SOURCE]] if SOURCE in named else [""] * len(rows)
        return [head + item_caption(own, *((x[r], y[r]) if x is not None else (None, None)), units=lat.units,
                                    band_contrast=None if contrast is None else contrast[r])
                for head, own, r in zip(of, named[ROW], rows)]
    return captions


def show_rows(rows, lat, table: pd.DataFrame, key: str, extra: dict | None = None, mean_key: str | None = None,
              scan: dict | None = None):
    """The rows' images a page at a time (`gallery.paged_gallery`, captioned with each row's x, y and band
    contrast from `scan`, `scan_columns`, when given), with the toggle for their mean pattern beside them when
    `mean_key` names its widgets (`mean_panel`), and their table (the first TABLE_MAX). No rows: the table alone,
    empty, so that the browser loads Streamlit's table code (about 1.3 MB of JavaScript, fetched the first time a
    table is drawn) with the page rather than with its first selection (the demo's first box waited for it)."""
    rows = np.asarray(rows, np.int64)
    if len(rows):
        row_images(rows, lat, table, key, mean_key, scan)
    head = lat.rows_frame(rows[:TABLE_MAX], {k: np.asarray(v)[:TABLE_MAX] for k, v in (extra or {}).items()}, table)
    st.dataframe(head, height=common.table_height(len(head)), hide_index=True, key=f"{key}_table")
    table_note(len(rows))


def row_images(rows, lat, table: pd.DataFrame, key: str, mean_key: str | None, scan: dict | None):
    """The chosen rows' images a page at a time, each read from the data file its source came from (`source_for`; a
    study's rows from each of their sources' files at once), captioned with each row's source, x, y and band contrast
    from `scan` (`scan_columns`: every row's), with the toggle for their mean pattern (or a cluster's) beside them
    when `mean_key` names its widgets: of one source's rows, picked among those they are of."""
    found = lat.sources()
    starts = [source.start for source in found]
    of = np.searchsorted(starts, rows, side="right") - 1
    data_files = {}
    for index in unique(of).tolist():
        data = data_file_of(lat.source_latents(index), found[index].name, f"images of {found[index].name}'s rows")
        if data is not None:
            data_files[index] = data

    def read(page) -> list:
        """The page's items, each source's table made for its rows on the page only (not for every source chosen)."""
        items, page_of = [None] * len(page), np.searchsorted(starts, page, side="right") - 1
        for index in unique(page_of).tolist():
            own, where = lat.source_latents(index), np.flatnonzero(page_of == index)
            reader = gallery.source_reader(data_files[index], table if own is lat else own.stacked()[1])  # identity
            for position, item in zip(where, reader(page[where] - starts[index])):
                items[position] = item
        return items

    left, right = st.columns([2, 1]) if mean_key else (st.container(), None)
    if data_files:
        with left:
            gallery.paged_gallery(rows[np.isin(of, list(data_files))], read, key, columns=4 if mean_key else 6,
                                  captions=gallery_captions(lat, scan))
    if right is not None:
        with right:
            index = _mean_source(found, of, key) if len(found) > 1 else 0
            first = starts[index] if len(found) > 1 else None
            mean_panel(lat.source_latents(index), rows[of == index] - starts[index], mean_key, first=first)


def _mean_source(found: list, of: np.ndarray, key: str) -> int:
    """The source (its index) of a study whose rows' mean pattern is asked for, picked among those the rows are of:
    a mean is of one data file's patterns."""
    counts = {found[i].name: int(n) for i, n in zip(*np.unique(of, return_counts=True))}
    name = st.selectbox("Mean pattern of the rows of", list(counts), key=f"{key}_source",
                        format_func=lambda n: f"{n} ({common.counted(counts[n], 'row')})",
                        index=defaults.setting_index(f"{key}_source", next(iter(counts)), counts))
    return [source.name for source in found].index(name)


def data_file_of(own, name: str, what: str) -> Path | None:
    """The data file source `name`'s latents `own` came from (`source_for`); None, said, where this session has
    it not: `what` names what is not shown."""
    data = source_for(own)
    if data is None:
        recorded = own.attrs.get("source") or "unnamed"
        in_s3 = [uri for uri in files.s3_sources() if safe_file_name(parse_s3_uri(uri)[1]) == recorded]  # as read
        st.caption(f"No {what}: {name}'s data file, {common.plain(recorded)}, is not among this session's data "
                   + (f"files: it was extracted where it lies, {common.plain(in_s3[0])} (download it in the Data "
                      "page's S3 panel)." if in_s3 else "files (upload it on the Data page)."))
    return data


def row_words(lat, row: int) -> str:
    """`row 5 (x = 7.5, y = 0 µm)`: a row as a caption names it; a study's row by its source and its row there
    (`row 5 of q (...)`)."""
    named = lat.row_table([row])  # a study's: its source and its row there
    of = f" of {named[SOURCE].iloc[0]}" if SOURCE in named else ""
    where = f" (x = {lat.x[row]:g}, y = {lat.y[row]:g} {display_units(lat.units)})" if lat.x is not None else ""
    return f"row {named[ROW].iloc[0]}{of}{where}"


def embedding_download(lat, table: pd.DataFrame, coords, method: str, scan: dict, rows) -> pd.DataFrame:
    """The UMAP page's table download of the rows fitted (`rows`, their ids; `coords` every row's), as the `umap`
    command writes it (`embedding_table`): `row`, `x_um`, `y_um` (a study's `source` first, `row` within it), the
    coordinates, band contrast, the latents' table."""
    columns = {embedding_name(method, axis): np.asarray(coords[rows, axis], np.float32)
               for axis in range(coords.shape[1])}
    return lat.rows_frame(rows, columns | {k: v[rows] for k, v in scan.items() if k == BANDCONTRAST_COLUMN}, table)


def mean_panel(lat, rows, key: str, clusters: dict | None = None, first: int | None = None):
    """A toggle that shows the mean pattern of the selected rows or of a cluster (`gallery.mean_pattern`;
    `clusters`: {"rows", "labels"}, default the Clusters page's last clustering; `first`: a study's source's first
    row among the study's, for `lat` that source's latents: its clusters are its rows of the study's). Off until asked
    for: the mean reads every selected pattern from the data file, which a click on the scatter should not wait
    for."""
    source = source_for(lat)
    if source is None or not st.toggle("Mean pattern of a cluster or of the selection", key=f"{key}_show",
                                       value=defaults.setting(f"{key}_show", False)):
        return
    clusters = state.last_clusters() if clusters is None else clusters
    if first is not None and clusters is not None:
        n = sum(len(values) for values in lat.partitions.values())
        mine = (clusters["rows"] >= first) & (clusters["rows"] < first + n)
        clusters = {"rows": clusters["rows"][mine] - first, "labels": clusters["labels"][mine]}
    gallery.mean_pattern(rows, source, lat, key, clusters)


def table_note(rows: int):
    """Says when a table shows only its first TABLE_MAX rows (the browser would get megabytes)."""
    if rows > TABLE_MAX:
        st.caption(f"The table lists the first {TABLE_MAX:,} of {rows:,} rows.")


def new_image_panel(lat, embedding, fitted) -> list[dict]:
    """"Where does a new image land?": one uploaded image projected with the model that made the latents;
    returns the marks for the scatter (a star where it lands), none without an image."""
    marks = []
    with st.expander("Where does a new image land?", icon=":material/add_photo_alternate:"):
        spec = state.latents_model()
        upload = st.file_uploader("One image (PNG, JPEG, TIFF, BMP or NPY), projected with the model that made these "
                                  "latents", type=[e for e in ImageReader.extensions if e], key="umap_new_image")
        if upload is not None and spec is None:
            st.info("Projecting needs the model that made these latents: extract them on the Extract page first.")
        elif upload is not None:
            with common.user_errors():
                path = files.save_upload_once(upload, "projected")
                result = latent_space.project_image(path, spec, embedding, fitted, lat)
            marks.append({"x": [result["xy"][0]], "y": [result["xy"][1]], "name": f"new image: {path.name}"})
            cols = st.columns([1, 3])
            cols[0].image(common.as_display_image(result["image"]), caption=common.plain(path.name), width="stretch",
                          clamp=True)
            cols[1].write(f"Lands at ({result['xy'][0]:.3f}, {result['xy'][1]:.3f}): the star on the scatter."
                          + (f" DT = T90 - T10 = {result['T90']:.4g} - {result['T10']:.4g} = **{result['DT']:.4g}**"
                             if "DT" in result else ""))  # SST cutouts only, never EBSD patterns
            cols[1].bar_chart({"latent": result["latent"]}, height=180, x_label="dimension")
    return marks


def selected_rows_table(run: dict, lat, selected_here: np.ndarray, dim: int):
    """The Clusters page's selected rows (the first TABLE_MAX), in the cluster CSV's columns: the rows as the
    latents name them (`Latents.row_table`: `row`, `x_um`, `y_um`; a study's `source` first, `row` within it), the
    latent dimension, `bandcontrast` when the run has it, `cluster`; empty when none is (see `show_rows`)."""
    picked = np.flatnonzero(selected_here)
    shown = picked[:TABLE_MAX]
    table = lat.row_table(run["rows"][shown])
    table[latent_name(dim)] = run["latent"][shown]
    if run["bandcontrast"] is not None:
        table[BANDCONTRAST_COLUMN] = run["bandcontrast"][shown]
    table[CLUSTER] = run["labels"][shown]
    st.dataframe(table, height=common.table_height(len(shown)), hide_index=True)
    table_note(len(picked))


def cluster_fractions(lat_stamp: tuple, job, out_dir, run: dict):
    """How much of each of a study's clusters is in each of its sources (`run["fractions"]`): bars, tables and
    their downloads (CSV, PNG, JSON), beside the run's files."""
    from latentcore.analysis.artifacts.cluster_run import fractions_names

    from .study import fractions_panel

    st.subheader("How much of each cluster is in each source")
    fractions_panel(run["fractions"], CLUSTER, fractions_names(job), cluster_runs.job_folder(lat_stamp, job, out_dir),
                    "clusters", f"cluster fractions per source<br><sup>{job.tag}</sup>")


def cluster_downloads(lat_stamp: tuple, job, out_dir, run, view, figure: bool):
    """The Clusters page's downloads: the run's own files, its CSV and report (and, with `figure`, its PNG), the
    PNG and report written on the first click from the same run (the PNG takes a few seconds), then served from the
    cache; each labelled with its whole file name and the model that made the latents."""
    from latentcore.analysis.artifacts.cluster import cluster_names

    st.subheader("Downloads")
    names = cluster_names(job, view.kind)
    model = common.latents_model(lat_stamp[0])
    st.caption(f"From {Path(lat_stamp[0]).name}" + (f", made by {model}" if model else "") + ". The table's `row` "
               "(and a study's `source`) name the UMAP table's rows: the two join on them.")
    dpi = state.png_dpi()  # read now: a download's data is made after the run, where the session state is not at hand

    def artifact(kind):
        return lambda: Path(cluster_runs.cluster_files(lat_stamp, job, out_dir, dpi, view.kind, figure, run,
                                                       view)[kind]).read_bytes()

    kinds = [("assignments", "text/csv"), ("report", "application/json")] + ([("figure", "image/png")] if figure else [])
    for kind, mime in kinds:  # one under the other: each label shows its whole file name, and the model
        st.download_button(names[kind] + (f" — model {model}" if model else ""), artifact(kind), file_name=names[kind],
                           mime=mime, key=f"clusters_dl_{kind}", on_click="ignore", icon=":material/download:")
    lat, csv = sources.latents(lat_stamp), Path(cluster_runs.job_folder(lat_stamp, job, out_dir)) / names["assignments"]
    if figure:  # a scan: the clusters as phases of a .ctf or .ang, named as the assignments
        ebsd_files.as_phases(lat, lambda: row_classes(from_clustering(run["rows"], run["labels"]), len(lat.x), CLUSTER),
                             Path(names["assignments"]).stem, Path(out_dir), "clusters",
                             {"latents": lat.path, "classes": csv})  # the run wrote its CSV in the job's folder
    elif run["sources"] is not None:
        source_figure_download(lat_stamp, job, out_dir, run, view, dpi)
        source_phases(lat, csv, Path(out_dir))


def source_figure_download(lat_stamp: tuple, job, out_dir, run: dict, view, dpi: float):
    """A study's clusters on one source's scan beside its rows on the scatter, as a PNG drawn when asked (the source
    picked among the scans this clustering holds rows of), named as `cluster STUDY --png` names each source's."""
    from latentcore.analysis.artifacts.cluster_run import source_figure_name

    from .study import source_picker

    held = run["fractions"].groupby(SOURCE, sort=False)[COUNT].sum()
    names = run["source_names"]
    scans = [i for i, found in enumerate(sources.latents(lat_stamp).sources())
             if found.x is not None and held.get(names[i], 0) > 0]
    if not scans:
        return
    with st.columns([1, 2])[0]:
        index = scans[source_picker([names[i] for i in scans], "clusters_figure_source", "The clusters' figure of")]
    name = source_figure_name(job, view.kind, names[index])

    def figure() -> bytes:
        return Path(cluster_runs.source_figure_file(lat_stamp, job, str(out_dir), dpi, view.kind, index, run,
                                                    view)).read_bytes()

    st.download_button(f"{name} ({dpi:g} dpi)", figure, file_name=name, mime="image/png",
                       key="clusters_dl_source_figure", on_click="ignore", icon=":material/download:")


def source_phases(lat, csv: Path, out_dir: Path):
    """A study's clusters as phases of one source's scan (.ctf, .ang; the source picked among those with
    orientations): that source's rows of the run's CSV, read as `export-ebsd` reads a study's table
    (`scan_points.read_classes`)."""
    from latentcore.analysis.ebsd.scan_points import latents_points, read_classes

    from .study import source_picker

    scans = [i for i, member in enumerate(lat.members) if member.orientations is not None]
    if not scans:
        st.caption("The clusters as phases of a .ctf or .ang need scans with orientations: these sources hold none.")
        return
    index = scans[source_picker([lat.names[i] for i in scans], "clusters_phases_source",
                                "The clusters as phases of the scan of")]
    member = lat.members[index]
    ebsd_files.as_phases(member, lambda: read_classes(csv, latents_points(member)), f"{csv.stem}__{lat.names[index]}",
                         out_dir, "clusters", {"latents": member.path, "classes": csv})
