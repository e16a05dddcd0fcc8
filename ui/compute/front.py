"""The front door to compute: every page and widget reads files and gets results through here.
Every `st.cache_data` / `st.cache_resource` of the app is in this module, and so is every job for
the worker pool (`ui.compute.jobs`, running `ui.compute.tasks`): small inputs run here at once
(thresholds in `jobs`: INLINE_ROWS, INLINE_PATTERNS, INLINE_FIT_ROWS), larger ones in a worker
while the page shows their progress. Keys are file stamps (`stamp`: path, mtime, size) and plain
parameters, so a result is computed once per input and shared by reruns and sessions.

`st.cache_resource` holds things shared read-only by every session (loaded models, latents
matrices, and every per-row or per-pixel array derived from them: one copy, no pickling per rerun,
their arrays made read-only by `_read_only` so that no caller changes what others see); `st.cache_data`
holds small results (file information, a gallery's items)."""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import numpy as np
import streamlit as st

from ..session import state
from . import jobs, tasks
from ..kept import Kept


# -- files: stamps and cached reads -----------------------------------------------------------------

def _read_only(value):
    """`value` with every numpy array in it (in tuples, lists, dicts, dataclasses) made read-only: a
    cache_resource result is the one object every session gets (ten million rows: no copy per rerun)."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, (tuple, list)):
        for item in value:
            _read_only(item)
    elif isinstance(value, dict):
        for item in value.values():
            _read_only(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for found in dataclasses.fields(value):
            _read_only(getattr(value, found.name))
    return value


def stamp(path) -> tuple[str, int, int]:
    """(path, mtime_ns, size): a cache key that changes when the file does."""
    path = Path(path)
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@st.cache_resource(show_spinner=False)
def start_warm_up():
    """Compile the numba code of umap-learn and dcor once per process, in the background, so the
    first UMAP or distance correlation a user asks for is quick (cold, they take 20 s or more)."""
    thread = threading.Thread(target=_warm_up, name="numba-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up():
    try:
        from latentcore.analysis.embedding import warm_up
        from latentcore.analysis.rank import distance_correlation

        warm_up()
        values = np.linspace(0.0, 1.0, 50)
        distance_correlation(values, values ** 2)
    except Exception:  # a failed warm-up only costs the first user some seconds
        pass


@st.cache_data(show_spinner=False, max_entries=64)
def source_info(file_stamp: tuple) -> dict:
    from latentcore.data import open_source

    with open_source(file_stamp[0]) as reader:
        return reader.info().to_dict()


def _open_known(file_stamp: tuple):
    """The file's reader, its format known from `source_info` (sniffing every format costs a gallery ~50 ms)."""
    from latentcore.data import open_source

    return open_source(file_stamp[0], format=source_info(file_stamp)["format"])


@st.cache_data(show_spinner=False, max_entries=32)
def source_preview(file_stamp: tuple, partition: str, count: int = 6) -> np.ndarray:
    """The first `count` items of a partition, for a glance at the data."""
    with _open_known(file_stamp) as reader:
        return reader.read(partition, 0, min(count, reader.count(partition)))


@st.cache_data(show_spinner=False, max_entries=32)
def source_rows(file_stamp: tuple, partition: str, rows: tuple[int, ...]) -> np.ndarray:
    """Selected items (patterns, cutouts) for a gallery."""
    with _open_known(file_stamp) as reader:
        return reader.read_rows(partition, list(rows))


@st.cache_resource(show_spinner="Loading the model...", max_entries=8)
def loaded_model(file_stamp: tuple, arch: str | None, options_json: str | None):
    """A model shared by every session, with the lock that serialises its use: extraction moves the
    module to a device, so two sessions must not use it at the same time."""
    from latentcore.models import load_model

    options = json.loads(options_json) if options_json else None
    return load_model(file_stamp[0], arch=arch, options=options), threading.Lock()


@st.cache_resource(show_spinner="Reading the latents...", max_entries=8)
def latents(file_stamp: tuple):
    """The latents file, read once and shared read-only by every session."""
    from latentcore.latents import read_latents

    result = read_latents(file_stamp[0])
    for rows in result.partitions.values():
        rows.flags.writeable = False
    return result


@st.cache_resource(show_spinner=False, max_entries=16)
def ipf_colours(lat_stamp: tuple, direction: tuple) -> np.ndarray:
    """(N, 3) IPF colours of the latents' rows for a sample direction (NaN: not indexed)."""
    from latentcore.analysis.scan_references import ipf_rows

    return _read_only(ipf_rows(latents(lat_stamp).orientations, direction))


@st.cache_data(show_spinner=False, max_entries=64)
def latents_model(file_stamp: tuple) -> str | None:
    """The model that made a latents file, from its attributes: `name (SHA-256 1a2b3c4d)`, or None."""
    from latentcore.latents import model_label, read_attrs

    return model_label(read_attrs(file_stamp[0]))


@st.cache_resource(show_spinner=False, max_entries=8)
def stacked_latents(file_stamp: tuple):
    """All partitions as one (N, D) matrix and the table naming each row (global row id = position)."""
    matrix, table = latents(file_stamp).stacked()
    matrix.flags.writeable = False
    return matrix, table


@st.cache_resource(show_spinner=False, max_entries=4)
def latent_column(file_stamp: tuple, dim: int) -> np.ndarray:
    """One latent dimension of every row, contiguous and shared: the same array on every rerun, so that
    what is derived from it (its colours, range and histogram) is made once."""
    return _read_only(np.ascontiguousarray(stacked_latents(file_stamp)[0][:, dim]))


@st.cache_resource(show_spinner=False, max_entries=16)
def value_range(values_key: tuple, _values) -> tuple[float, float]:
    """(min, max) of the finite values named by `values_key` ((0, 1) when none is finite)."""
    finite = np.asarray(_values, np.float64)
    finite = finite[np.isfinite(finite)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


@st.cache_resource(show_spinner=False, max_entries=16)
def continuous_colour(values_key: tuple, name: str, colorscale: str, limits: tuple | None, _values):
    """`plots.continuous_colour` of the values named by `values_key`, made once: a rerun gets the same codes,
    so the density raster reuses their cell colours (at ten million rows each is a pass over every row)."""
    from ..figures.plots import continuous_colour as colour_of

    return _read_only(colour_of(_values, name, colorscale, *(limits or (None, None))))


@st.cache_resource(show_spinner="Aligning the band contrast...", max_entries=16)
def bandcontrast_for(bc_stamp: tuple, lat_stamp: tuple) -> np.ndarray:
    """Band contrast at each row of a scan's latents: the scan map they carry (`scan:<name>`, see
    ui.widgets.bandcontrast), or a table aligned by x,y value."""
    from latentcore.data.bandcontrast import align_to_coordinates, pick_point_map, read_bandcontrast, scan_map_name

    lat = latents(lat_stamp)
    if scan_map_name(bc_stamp[0]) is not None:
        return _read_only(pick_point_map(lat.point_maps, bc_stamp[0], Path(lat_stamp[0]).name)[1].astype(np.float32))
    return _read_only(align_to_coordinates(read_bandcontrast(bc_stamp[0]), lat.x, lat.y).astype(np.float32))


@st.cache_data(show_spinner=False, max_entries=32)
def source_map_names(source_stamp: tuple) -> list[str]:
    """The names of the per-point maps a data file carries (scan's own first)."""
    from latentcore.data import open_source
    from latentcore.errors import LatentError

    try:
        with open_source(source_stamp[0]) as reader:
            return list(reader.point_maps())
    except LatentError:
        return []


@st.cache_data(show_spinner=False, max_entries=32)
def check_coverage(table_stamp: tuple, source_stamp: tuple) -> None:
    """Raises LatentError when the band-contrast table cannot be paired with the scan's x, y."""
    from latentcore.data import align_to_coordinates, open_source, read_bandcontrast
    from latentcore.errors import LatentError

    with open_source(source_stamp[0]) as reader:
        xy = reader.coordinates() if reader.info().has_coordinates else None
    if xy is None:
        raise LatentError("the data has no x, y coordinates to pair a band-contrast table with")
    align_to_coordinates(read_bandcontrast(table_stamp[0]), *xy)


@st.cache_resource(show_spinner=False, max_entries=8)
def scan_coordinates(file_stamp: tuple, partition: str):
    """A scan's x, y (the Train page's ROI sliders)."""
    from latentcore.data import open_source

    with open_source(file_stamp[0]) as reader:
        return _read_only(reader.coordinates(partition))


def get_model(spec: dict):
    """(LoadedModel, lock) of a model spec {"path", "arch", "options"} from the shared cache."""
    options = json.dumps(spec["options"], sort_keys=True) if spec.get("options") else None
    return loaded_model(stamp(spec["path"]), spec.get("arch"), options)


def devices() -> dict[str, str]:
    """Device choices with what is present: {"auto": "...", "cpu": "...", "cuda": "..."}."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    choices = {"auto": f"auto ({'GPU: ' + gpu if gpu else 'CPU: no GPU found'})",
               "cpu": "CPU"}
    if gpu:
        choices["cuda"] = f"GPU ({gpu})"
    return choices


# -- the worker pool ----------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def app_pool() -> jobs.JobPool:
    """One pool per server process, shared by every session."""
    return jobs.JobPool(state.WORKDIR_ROOT / "jobs")


_INLINE = Kept(32)  # job key -> result of a small job run in this process, shared by sessions


def pooled(task, label: str, rows: int, inline_rows: int | None = None, here=None, **kwargs):
    """The result of `task` (a function of ui.compute.tasks) on `kwargs`. Small inputs (<= `inline_rows`,
    default jobs.INLINE_ROWS) run here (`here()`: arguments that replace the pool's when run here, such
    as the server's shared model; the key stays the pool's); others go to the worker pool, and until
    their result is in, the page shows the job's progress and a cancel button and stops (it reruns by
    itself when the job ends; other widgets stay usable meanwhile)."""
    key = jobs.job_key(task, kwargs)
    if rows <= (jobs.INLINE_ROWS if inline_rows is None else inline_rows):
        def run_here():
            with st.spinner(f"{label}..."):
                return jobs.run_inline(task, **{**kwargs, **(here() if here else {})})
        return _INLINE.get(key, run_here)
    pool = app_pool()
    job = pool.jobs.get(key)
    if job is not None and job.cancelled() and not state.restart_asked(key):
        st.info(f"{label}: cancelled.", icon=":material/cancel:")
        st.button("Start it again", key=state.restart_key(key), icon=":material/replay:")
        st.stop()
    state.forget_restart(key)
    job = pool.submit(task, label, **kwargs)
    if job.done() and not job.cancelled():
        return job.future.result()  # a job's latentcore error raises here and becomes a message (user_errors)
    watch(job)
    st.stop()


@st.fragment(run_every=0.5)
def watch(job: jobs.Job):
    """The job's progress, redrawn alone twice a second; the whole page reruns when it ends."""
    if job.done():
        st.rerun(scope="app")
    fraction, message = job.progress()
    cols = st.columns([5, 1])
    cols[0].progress(min(max(fraction, 0.0), 1.0),
                     text=f"{job.label}: {message} ({time.time() - job.started:.0f} s, in a worker process)")
    if cols[1].button("Cancel", key=f"_cancel_{job.key}", icon=":material/cancel:"):
        job.cancel()
        st.rerun(scope="app")


def start_extraction(items: int, spec: dict, progress, **kwargs) -> jobs.Job:
    """An extraction (`tasks.extract`, the CLI's extract_file) of `items` patterns: up to
    jobs.INLINE_PATTERNS here at once, with the server's shared model and `progress`, as a finished Job;
    more in a process of its own (the Job runs on; `watch` shows it)."""
    if items <= jobs.INLINE_PATTERNS:
        return jobs.inline_job(tasks.extract, "Extraction", model=get_model(spec), progress=progress, **kwargs)
    model = {"path": spec["path"], "arch": spec.get("arch"), "options": spec.get("options"),
             "stamp": stamp(spec["path"])}
    return app_pool().submit(tasks.extract, f"Extracting {items:,} items", fresh=True, dedicated=True,
                             model=model, **kwargs)


def start_training(config: dict, label: str) -> jobs.Job:
    """A VAE training (`tasks.train`, the CLI's train_vae) in a process of its own."""
    return app_pool().submit(tasks.train, label, fresh=True, dedicated=True, config=config)


# -- ROI and maps -------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=32)
def roi_rows(lat_stamp: tuple, roi: tuple | None) -> np.ndarray:
    """Row ids of the scan's pixels inside the ROI (all rows without one)."""
    from latentcore.analysis.maps import Roi

    lat = latents(lat_stamp)
    if roi is None:
        return _read_only(np.arange(len(lat.x), dtype=np.int64))
    return _read_only(np.flatnonzero(Roi(*roi).mask(lat.x, lat.y)))


@st.cache_resource(show_spinner="Building the maps...", max_entries=16)
def latent_maps(lat_stamp: tuple, dims: tuple[int, ...], roi: tuple | None, smooth: float = 0.0):
    """(maps (len(dims), rows, cols) float32, Grid) over the ROI, smoothed over the ROI's grid
    when `smooth` (sigma in grid steps) > 0, as `python -m latentcore maps --smooth`."""
    from latentcore.analysis.maps import Roi, spatial_maps
    from latentcore.analysis.smoothing import smooth_maps

    lat = latents(lat_stamp)
    rows = next(iter(lat.partitions.values()))
    maps, grid, _ = spatial_maps(rows, lat.x, lat.y, list(dims), roi=Roi(*roi) if roi else None)
    return _read_only((smooth_maps(maps, smooth), grid))


# -- EBSD reference maps ------------------------------------------------------------------------

def scan_references(lat_stamp: tuple, source_stamp: tuple | None, boundary_deg: float) -> dict:
    """The scan's reference maps on the latents' grid (`tasks.scan_references`): orientation maps from
    the latents file; with the scan file, VBSE, IQ and ADP from its patterns (in the worker pool at scale)."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.scan_references, "Building the reference maps", rows if source_stamp else rows // 20,
                  latents=lat_stamp, source=source_stamp, boundary_deg=float(boundary_deg))


@st.cache_resource(show_spinner=False, max_entries=16)
def boundaries_on(lat_stamp: tuple, boundary_deg: float, grid: tuple) -> np.ndarray | None:
    """Grain boundaries (bool) on a scan map's grid (`Grid` fields as a tuple: x0, y0, step_x, step_y,
    n_rows, n_columns), False where it has no point; None when the latents hold no orientations."""
    from latentcore.analysis.maps import Grid, Roi

    found = scan_references(lat_stamp, None, boundary_deg)
    if "boundaries" not in found["maps"]:
        return None
    lat = latents(lat_stamp)
    at_points = found["maps"]["boundaries"][Grid(**found["grid"]).indices(lat.x, lat.y)]
    target = Grid(*grid)
    half_x, half_y = target.step_x / 4, target.step_y / 4
    keep = Roi(target.x0 - half_x, target.x_values[-1] + half_x, target.y0 - half_y,
               target.y_values[-1] + half_y).mask(lat.x, lat.y)
    out = np.zeros(target.shape, bool)
    out[target.indices(lat.x[keep], lat.y[keep])] = at_points[keep]
    return _read_only(out)


# -- training -------------------------------------------------------------------------------------

def last_training_run(folder: str) -> dict | None:
    """The last finished training run under `folder` (the workspace's models), as its files say
    (`latentcore.train.outputs.last_finished_run`): a few small files, read on each call."""
    from latentcore.train.outputs import last_finished_run

    return last_finished_run(folder)


# -- clustering ---------------------------------------------------------------------------------

def cluster_job(lat_stamp, bc_stamp, method, dim, features, params, roi, smooth: float = 0.0):
    """The page's ClusterJob; `bc_stamp` None: no band contrast (whole vectors only)."""
    from latentcore.analysis.artifacts import ClusterJob

    return ClusterJob(latents=lat_stamp[0], bandcontrast=bc_stamp[0] if bc_stamp else None, method=method, dim=int(dim),
                      features=features, params=params, roi=list(roi) if roi else None, smooth=smooth)


def cluster_run(lat_stamp: tuple, bc_stamp: tuple, job_json: str) -> dict:
    """The page's clustering (in the worker pool at scale): the same inputs and call as the
    downloadable artifacts, so the picture and the CSV agree. Returns rows (the row ids), x, y,
    latent, bandcontrast, second, second_name, labels, report (see `tasks.cluster_run`); shared, read-only."""
    job = json.loads(job_json)
    lat = latents(lat_stamp)
    count = len(roi_rows(lat_stamp, tuple(job["roi"]) if job["roi"] else None)) if lat.x is not None else \
        len(lat.partitions[job["partition"] or next(iter(lat.partitions))])
    return _read_only(pooled(tasks.cluster_run, f"Clustering ({job['method']})", count, job_json=job_json,
                             inputs=[lat_stamp, bc_stamp]))  # the files' stamps: a rewritten file is a new job


@st.cache_resource(show_spinner=False, max_entries=32)
def column_colour(lat_stamp: tuple, column: str):
    """Colour codes of a metadata column (categories are factorised once, not on every rerun)."""
    from ..figures.plots import column_colour as colour_of

    _, table = stacked_latents(lat_stamp)
    return _read_only(colour_of(table[column].to_numpy(), column))


def kmeans_labels(lat_stamp: tuple, k: int) -> np.ndarray:
    """K-means of the whole latent vectors (standardised, seeded), e.g. to colour cutouts."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.kmeans_labels, f"K-means (k={k})", rows, latents=lat_stamp, k=int(k))


@st.cache_resource(show_spinner=False, max_entries=16)
def cluster_view(lat_stamp: tuple, bc_stamp: tuple, job_json: str, shade: bool = False):
    """What the two panels draw, computed once per clustering: the colour codes (each cluster's hue;
    with `shade`, darker to lighter with the latent's rank in its cluster), the grid, the map of codes
    and each row's cell (the last three None for latents without coordinates)."""
    from ..figures.plots import cluster_shade_colour

    run = cluster_run(lat_stamp, bc_stamp, job_json)
    return _on_run_grid(run, cluster_shade_colour(run["labels"], run["latent"], shade))


def _on_run_grid(run: dict, colour):
    """(colour, grid, map of its codes, each row's cell) over a clustering's rows; the last three None for latents
    without coordinates."""
    from latentcore.analysis.maps import Grid, values_map

    if run["x"] is None:  # latents without coordinates: no map
        return _read_only((colour, None, None, None))
    grid = Grid.from_coordinates(run["x"], run["y"])
    cells = grid.indices(run["x"], run["y"])  # each row's (grid row, grid column), to paint selections
    return _read_only((colour, grid, values_map(colour.codes.astype(np.float32), run["x"], run["y"], grid), cells))


@st.cache_resource(show_spinner=False, max_entries=8)
def cluster_label_view(lat_stamp: tuple, bc_stamp: tuple, job_json: str, labels_digest: str, _labelled):
    """`cluster_view` coloured by the labels (`_labelled`, keyed by `labels_digest`) instead of the clusters."""
    from latentcore.analysis.labels import codes_per_row

    from ..figures.plots import label_colour

    run = cluster_run(lat_stamp, bc_stamp, job_json)
    codes = codes_per_row(_labelled, len(stacked_latents(lat_stamp)[0]))[run["rows"]]
    return _on_run_grid(run, label_colour(codes, _labelled.classes))


@st.cache_resource(show_spinner=False, max_entries=8)
def roi_label_map(lat_stamp: tuple, roi: tuple | None, labels_digest: str, _labelled):
    """The labels over the ROI's pixels: (colour of the ROI's rows, grid, code map), the grid `roi_cells`'."""
    from latentcore.analysis.labels import codes_per_row
    from latentcore.analysis.maps import Grid, values_map

    from ..figures.plots import label_colour

    lat = latents(lat_stamp)
    rows = roi_rows(lat_stamp, roi)
    x, y = lat.x[rows], lat.y[rows]
    colour = label_colour(codes_per_row(_labelled, len(lat.x))[rows], _labelled.classes)
    grid = Grid.from_coordinates(x, y)
    return _read_only((colour, grid, values_map(colour.codes.astype(np.float32), x, y, grid)))


@st.cache_resource(show_spinner=False, max_entries=16)
def roi_cells(lat_stamp: tuple, roi: tuple | None):
    """The ROI's rows and each one's (grid row, grid column) on the ROI's map grid."""
    from latentcore.analysis.maps import Grid

    lat = latents(lat_stamp)
    rows = roi_rows(lat_stamp, roi)
    grid = Grid.from_coordinates(lat.x[rows], lat.y[rows])
    return _read_only((rows, grid.indices(lat.x[rows], lat.y[rows])))


@st.cache_data(show_spinner=False, max_entries=16)
def cluster_files(lat_stamp: tuple, bc_stamp: tuple, job_json: str, out_dir: str, dpi: float = 300) -> dict:
    """Write the CSV, JSON report and PNG at `dpi` (once per job); returns {"assignments"|"report"|"figure": path}."""
    from latentcore.analysis.artifacts import ClusterJob, cluster_names, run_cluster_job

    job = ClusterJob(**json.loads(job_json))
    run_cluster_job(job, out_dir, dpi=dpi)
    return {kind: str(Path(out_dir) / name) for kind, name in cluster_names(job.tag).items()}


def job_json(job) -> str:
    return json.dumps(dataclasses.asdict(job), sort_keys=True, default=str)


# -- embedding ----------------------------------------------------------------------------------

def fitted_embedding(lat_stamp: tuple, method: str, n_neighbors: int, min_dist: float, seed: int):
    """The fitted 2-D embedding of all rows, shared by every session (read-only): fitted in the worker pool
    (latentcore also caches it on disk by content hash, so a new server process reads it back)."""
    rows = len(stacked_latents(lat_stamp)[0])
    return _read_only(pooled(tasks.fit_embedding, f"{method.upper()} of {rows:,} latents", rows,
                  inline_rows=jobs.INLINE_FIT_ROWS if method == "umap" else None,
                  **embedding_args(lat_stamp, method, n_neighbors, min_dist, seed)))


def embedding_args(lat_stamp: tuple, method: str, n_neighbors: int, min_dist: float, seed: int) -> dict:
    """`tasks.fit_embedding`'s arguments (a job's key: the same fit, the same job)."""
    return dict(latents=lat_stamp, method=method, n_neighbors=int(n_neighbors), min_dist=float(min_dist),
                seed=int(seed))


@st.cache_resource(show_spinner=False, max_entries=8)
def scan_grid(lat_stamp: tuple):
    """A scan's grid and each row's (grid row, grid column), checked once (one row per pixel): what every
    colouring of its map reuses (at ten million rows the grid's inference and checks take seconds)."""
    from latentcore.analysis.maps import Grid, values_map

    lat = latents(lat_stamp)
    grid = Grid.from_coordinates(lat.x, lat.y)
    values_map(np.zeros(len(lat.x), np.float32), lat.x, lat.y, grid)  # refuses two rows on one pixel
    return _read_only((grid, grid.indices(lat.x, lat.y)))


@st.cache_resource(show_spinner=False, max_entries=16)
def scan_codes(lat_stamp: tuple, colour_key: str, _codes: np.ndarray):
    """A scan's colour codes on its grid: (grid, code map, each row's (grid row, grid column))."""
    grid, cells = scan_grid(lat_stamp)
    code_map = np.full(grid.shape, np.nan, np.float32)
    code_map[cells] = np.asarray(_codes, np.float32)  # the rows' pixels, as `values_map` places them
    return _read_only((grid, code_map, cells))


# -- ranking ------------------------------------------------------------------------------------

def ranking(lat_stamp: tuple, bc_stamp: tuple | None, references: tuple[str, ...], metrics: tuple[str, ...],
            components: int, roi: tuple | None, source_stamp: tuple | None):
    """Score table of every dimension against the chosen reference maps, over the ROI's rows (in the
    worker pool at scale)."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.rank, "Ranking the dimensions", rows, latents=lat_stamp, bandcontrast=bc_stamp,
                  references=list(references), metrics=list(metrics), components=int(components),
                  roi=list(roi) if roi else None, source=source_stamp)


def reference_maps(lat_stamp: tuple, bc_stamp: tuple | None, components: int, source_stamp: tuple | None) -> dict:
    """name -> per-row values: band contrast (aligned by x, y), PCA components of the raw patterns,
    and the numeric metadata columns of cutouts (in the worker pool at scale)."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.reference_maps, "Preparing the reference maps", rows, latents=lat_stamp, bandcontrast=bc_stamp,
                  components=int(components), source=source_stamp)


@st.cache_data(show_spinner="Writing the ranking files...", max_entries=8)
def ranking_files(table, out_dir: str, inputs: dict, top: int, tag: str, dpi: float = 300) -> dict:
    """Write the ranking's CSV, JSON report and PNG figures (at `dpi`); returns {kind: path}."""
    from latentcore.analysis.rank import write_ranking

    return {kind: str(path) for kind, path in
            write_ranking(table, out_dir, inputs=inputs, top=top, tag=tag, dpi=dpi).items()}


# -- the UMAP page: nearest neighbours, a new image -------------------------------------------------

def nearest(lat_stamp: tuple, row: int, k: int):
    """(indices, cosine distances) of the `k` nearest rows of `row` in the latent space."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.nearest, f"Nearest neighbours of row {row}", rows, latents=lat_stamp, row=int(row), k=int(k))


def row_at(lat_stamp: tuple, x: float, y: float) -> int:
    """The scan's row nearest the position (x, y) (here: one pass over the coordinates)."""
    from latentcore.analysis.search import row_at as nearest_row

    lat = latents(lat_stamp)
    return nearest_row(lat.x, lat.y, float(x), float(y))


def project_image(path: Path, spec: dict, embedding: dict, fitted, lat=None) -> dict:
    """Where a new image lands in the UMAP: an image through the model that made the latents (`spec`, with its
    "pool") into their fitted embedding (`embedding`: `embedding_args`; `fitted`: the page's fit).
    Here, with the server's shared model and fit, for small latents; in a worker otherwise."""
    from latentcore.domain import latents_kind

    model = {"path": spec["path"], "arch": spec.get("arch"), "options": spec.get("options"),
             "stamp": stamp(spec["path"])}
    kind = latents_kind(lat.attrs) if lat is not None else None
    rows = len(stacked_latents(embedding["latents"])[0])
    return pooled(tasks.project_image, f"Projecting {Path(path).name}", rows,
                  here=lambda: {"model": get_model(spec), "embedding": fitted},
                  image=stamp(path), model=model, embedding=embedding,
                  pool=spec.get("pool", "mean"), data_kind=kind)


# -- labels (ui.widgets.labels) -----------------------------------------------------------------------

def probe(lat_stamp: tuple, labels_stamp: tuple, method: str, smooth: float, out_dir: str) -> dict:
    """The probe over every row (`tasks.probe_run`, the CLI's `probe`): in the worker pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.probe_run, f"Predicting the labels ({method})", rows, latents=lat_stamp,
                  labels=labels_stamp, method=method, smooth=float(smooth), out_dir=out_dir)


def training_set(source_stamp: tuple, labels_stamp: tuple, out_path: str) -> dict:
    """The labelled rows' own items as a training set (the CLI's `export`), in this process: it runs in a
    download's deferred callable, outside any script run, so no job progress can be shown (the labelled rows are
    read in contiguous runs)."""
    from latentcore.analysis.trainset import export_training_set

    return export_training_set(source_stamp[0], labels_stamp[0], out_path)


def compare_latents(lat_stamp: tuple, other_stamp: tuple, labels_stamp: tuple, method: str, smooth: float,
                    n_clusters: int | None = None) -> dict:
    """Two latents files of one source on the same labels (`tasks.compare_latents`): in the pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.compare_latents, "Comparing two latents files", rows, latents=lat_stamp, other=other_stamp,
                  labels=labels_stamp, method=method, smooth=float(smooth),
                  n_clusters=None if n_clusters is None else int(n_clusters))


def clustering_agreement(lat_stamp: tuple, other_stamp: tuple, n_clusters: int, smooth: float = 0.0) -> dict:
    """The ARI of two latents files' k-means clusterings (`tasks.clustering_agreement`): in the pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.clustering_agreement, f"K-means (k={n_clusters}) of both latents files", rows,
                  latents=lat_stamp, other=other_stamp, n_clusters=int(n_clusters), smooth=float(smooth))


# -- the items behind rows: a gallery's page, the mean pattern (ui.widgets.gallery) ----------------------

@st.cache_data(show_spinner=False, max_entries=32)
def source_items(file_stamp: tuple, partitions: tuple[str, ...], indices: tuple[int, ...]) -> np.ndarray:
    """The items of these rows (a gallery's page), in their order: only they are read."""
    from latentcore.analysis.items import read_items

    with _open_known(file_stamp) as reader:
        return read_items(reader, list(partitions), list(indices))


def mean_item(file_stamp: tuple, sizes: dict[str, int], rows, button_key: str):
    """(mean item, count) of these rows (global row ids over the latents' partitions, `sizes`: partition -> row
    count, in order), streamed from their source. Up to
    jobs.INLINE_PATTERNS rows: here at once. More: in the worker pool, started by a button (`button_key`: a
    large selection does not start a long read by itself), its progress shown in place while the rest of
    the page draws on; None until its result is in."""
    import hashlib

    from latentcore.analysis.items import by_partition

    rows = np.asarray(rows, np.int64)
    digest = hashlib.sha1(rows.tobytes() + json.dumps(sizes).encode()).hexdigest()
    kwargs = {"source": file_stamp, "parts": by_partition(sizes, rows), "selection_sha1": digest}
    if len(rows) <= jobs.INLINE_PATTERNS:
        return _INLINE.get(jobs.job_key(tasks.mean_item, kwargs), lambda: jobs.run_inline(tasks.mean_item, **kwargs))
    pool = app_pool()
    job = pool.jobs.get(jobs.job_key(tasks.mean_item, kwargs))
    if (job is None or job.cancelled()) and not st.button(
            f"Compute the mean of {len(rows):,} patterns", key=button_key, icon=":material/functions:",
            help="Reads every one of them from the data file, in a worker process."):
        return None
    job = pool.submit(tasks.mean_item, f"Mean pattern of {len(rows):,} rows", **kwargs)
    if job.done() and not job.cancelled():
        return job.future.result()  # a job's latentcore error raises here and becomes a message (user_errors)
    watch(job)
    return None
