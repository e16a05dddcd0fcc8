"""The heavy calls the pages hand to the worker pool (`ui.compute.jobs`), always through its door
(`ui.compute.dispatch`): the same latentcore calls the command line makes, with plain arguments (files as
`sources.stamp` tuples: path, mtime, size; a cluster job as its ClusterJob, band contrast as its
BandContrast) and a `progress(fraction, message)` callback.
No Streamlit here: these run in worker processes (small inputs: in the server, by the same door)."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..kept import Kept
from . import jobs

if TYPE_CHECKING:
    from latentcore.analysis.artifacts.cluster import ClusterJob
    from latentcore.analysis.artifacts.mean_pattern import MeanPatternJob
    from latentcore.analysis.maps import Roi
    from latentcore.data.bandcontrast import BandContrast


def warm_up(progress):
    """Compile umap-learn's, dcor's and the Spearman sort's numba code onto numba's on-disk cache
    (`dispatch.start_warm_up`, at the server's start): later processes load it instead of compiling (cold, a first
    UMAP or distance correlation took 20 s or more). Under `cache_lock`, as every first fit: one process fills the
    cache at a time. UMAP's is loaded even when cached (this worker then fits at once); the others only once per
    cache (`compiled_marker`)."""
    from latentcore.analysis import rank, spearman
    from latentcore.analysis.embedding.fit import warm_up as compile_umap
    from latentcore.analysis.embedding.umap_numba import cache_lock, compiled_marker

    progress(0.0, "compiling UMAP's numba code")
    compile_umap()
    values = np.linspace(0.0, 1.0, 50)
    for name, packages, code, compile_it in (
            ("distance-correlation", ("dcor",), (), lambda: rank.distance_correlation(values, values ** 2)),
            ("spearman-sort", ("latentcore",), (Path(spearman.__file__),),
             lambda: rank.spearman_of_ranks(values.astype(np.float32), rank.unit_centred(values)))):
        marker = compiled_marker(name, packages, code)
        if not marker.exists():
            progress(0.8, f"compiling the {name.replace('-', ' ')}'s numba code")
            with cache_lock():
                compile_it()
            marker.touch()


def fit_embedding(latents: tuple, method: str, n_neighbors: int, min_dist: float, seed: int, progress,
                  quality=None):
    """The 2-D embedding of every row (those the quality filter keeps: a QualityFilter, in order) of a study, a file
    being a study of one (`embedding.study.study_embedding`: on Dask, a task per source); latentcore caches it on
    disk by its members' hashes."""
    from latentcore.analysis.embedding.study import study_embedding
    from latentcore.study import as_study

    progress(0.0, "reading the latents")
    with jobs.fan_out() as scheduler:
        return study_embedding(as_study(latents[0], verify=False), method, n_neighbors=n_neighbors,
                               min_dist=min_dist, random_state=seed, scheduler=scheduler, progress=progress,
                               quality=quality)


def cluster_run(job: ClusterJob, out_dir: str, latents: tuple, progress, root: str | None = None) -> dict:
    """The Clusters page's clustering of a file or a study (`job.latents`; `latents`: its stamp, only part of the
    job's key): the CLI's `cluster` run, its files written into `out_dir` (the assignments, a study's fractions, the
    report; the PNGs are drawn when a download asks). A file's rows are clustered as one; a study's by GMM or KMeans a
    source at a time (`cluster_run.runs_by_source`: the model fitted on a sample of every source's rows, each source
    labelled by a task of its own on a Dask cluster: as `cluster --scheduler`), other methods on every source's
    features stacked (each source's read by a task of its own). Returns `rows` (the row ids: a study's rows),
    `sources` (each row's source, an index into `source_names`; None for one file), x, y (None without coordinates),
    latent, bandcontrast (None without it), `view`: what the scatter shows (`artifacts.cluster.scatter_view`: the
    pair's latent against band contrast; whole vectors on their first two principal components, which the page swaps
    for the workspace's UMAP when it has one), labels, the fit's report, the coordinates' units, `file_report`: the
    JSON report beside the CSV (its figure not drawn yet; its inputs named relative to it inside `root`), and a
    study's `fractions` (`fractions_table`; None for one file)."""
    from latentcore.analysis.artifacts.cluster_run import runs_by_source
    from latentcore.storage import hash_ahead
    from latentcore.study import as_study

    band = job.bandcontrast
    hash_ahead(None if band is None else band.path)  # the report's inputs (a scan map has no file)
    progress(0.05, "reading the latents" + (" and band contrast" if band is not None else ""))
    found = as_study(job.latents)
    with jobs.fan_out() as scheduler:  # on Dask: a task per source
        run = _cluster_by_source if runs_by_source(job, found) else _cluster_stacked
        return run(job, found, out_dir, scheduler, progress, root)


def _cluster_stacked(job: ClusterJob, found, out_dir: str, scheduler, progress, root) -> dict:
    from latentcore.analysis.artifacts.cluster import cluster_inputs, scatter_view
    from latentcore.analysis.artifacts.cluster_run import load_inputs, write_cluster

    inputs = load_inputs(job, found, scheduler=scheduler, progress=lambda f, m: progress(0.05 + 0.15 * f, m))
    progress(0.2, f"{job.method} on {len(inputs.features):,} rows" + (f" of {len(found.members)} sources"
                                                                       if len(found.members) > 1 else ""))
    result = cluster_inputs(job, inputs)
    progress(0.9, "writing the assignments")
    report = write_cluster(job, found, inputs, result, out_dir, png=False, root=root)
    progress(1.0, "done")
    return _page_result(found, inputs, result.labels, scatter_view(job, inputs), result, report)


def _cluster_by_source(job: ClusterJob, found, out_dir: str, scheduler, progress, root) -> dict:
    from latentcore.analysis.artifacts.cluster_run import run_cluster_tasks

    report, result, (inputs, labels, view) = run_cluster_tasks(
        job, found, out_dir, scheduler, png=False, root=root, drawn=True,
        progress=lambda f, m: progress(0.05 + 0.9 * f, m))
    progress(1.0, "done")
    return _page_result(found, inputs, labels, view, result, report)


def _page_result(found, inputs, labels, view, result, report) -> dict:
    from latentcore.analysis.artifacts.fractions import fractions_table
    from latentcore.analysis.cluster import describe_fit
    from latentcore.columns import CLUSTER

    def as_f32(values):
        return None if values is None else np.asarray(values, np.float32)

    several = inputs.sources is not None
    return {"rows": found.offsets[inputs.sources] + inputs.rows if several else inputs.rows,
            "sources": inputs.sources, "source_names": list(inputs.source_names), "labels": labels,
            **{name: as_f32(getattr(inputs, name)) for name in ("x", "y", "latent", "bandcontrast")},
            "view": view, "report": {**result.to_dict(), "fit_summary": describe_fit(result)}, "units": inputs.units,
            "file_report": report,
            "fractions": fractions_table(inputs.sources, inputs.source_names, labels, CLUSTER) if several else None}


def compare_sources(study: tuple, first: int, second: int, k: int, progress) -> tuple:
    """The Compare page on a study (`study`: its file's stamp): `source_shift.compare_sources` of its sources
    `first` and `second` (indices), the study's k-means a source at a time (a Dask task each when the job runs on
    the cluster). Returns (the shift, the fractions of every source, the clustering)."""
    from latentcore.analysis.source_shift import compare_sources as compare
    from latentcore.study import read_study

    found = read_study(study[0])
    with jobs.fan_out() as scheduler:
        return compare(found, found.names[first], found.names[second], k, scheduler=scheduler, progress=progress)


def kmeans_labels(latents: tuple, k: int, progress) -> np.ndarray:
    """K-means of the whole latent vectors (standardised, seeded)."""
    from latentcore.analysis.cluster import cluster
    from latentcore.study import open_latents

    progress(0.05, "reading the latents")
    matrix, _ = open_latents(latents[0]).stacked()
    progress(0.2, f"k-means (k={k}) on {len(matrix):,} rows")
    return cluster(matrix, "kmeans", n_clusters=int(k)).labels


# -- the UMAP page: nearest neighbours, a new image projected ---------------------------------------

def nearest(latents: tuple, row: int, k: int, progress, search=None):
    """The `k` nearest rows of `row` by cosine distance in the latent space: (indices, distances). `search`: the
    server's `CosineSearch` of these latents (run there), else they are read here."""
    from latentcore.analysis.embedding.search import nearest_neighbours
    from latentcore.study import open_latents

    if search is not None:
        return search.nearest(int(row), int(k))
    progress(0.1, "reading the latents")
    matrix, _ = open_latents(latents[0]).stacked()
    progress(0.5, f"searching {len(matrix):,} rows")
    return nearest_neighbours(matrix, int(row), k=int(k))


def project_image(image: tuple, model, embedding, pool: str, data_kind: str | None, progress) -> dict:
    """Where a new image lands in the UMAP (latentcore.analysis.embedding.projection.project_image): one image file (its
    stamp) through the model that made the latents and into their fitted embedding. `model`: {"path", "arch", "options",
    "stamp"}, or, run inline, the server's (LoadedModel, lock); `embedding`: `fit_embedding`'s arguments
    (latentcore reads the fit back from its disk cache), or, run inline, the server's FittedEmbedding."""
    import contextlib

    from latentcore.analysis.embedding.projection import project_image as project

    progress(0.1, "loading the model")
    if isinstance(model, tuple):  # inline: the server's shared model, and the lock serialising its use
        loaded, lock = model
    else:
        loaded, lock = _model(model), contextlib.nullcontext()
    if isinstance(embedding, dict):
        progress(0.3, "reading the embedding")
        embedding = fit_embedding(progress=lambda *args, **kwargs: None, **embedding)
    progress(0.6, "projecting the image")
    with lock:
        return project(image[0], loaded, embedding, pool=pool, data_kind=data_kind)


# -- extraction, training, ranking ----------------------------------------------------------------

_MODELS = Kept(4)  # (model path, stamp, arch, options) -> LoadedModel, kept by this process (a worker)


def _model(spec: dict):
    from latentcore.models import load_model

    key = (spec["path"], json.dumps(spec.get("stamp")), spec.get("arch"),
           json.dumps(spec.get("options"), sort_keys=True))
    return _MODELS.get(key, lambda: load_model(spec["path"], arch=spec.get("arch"), options=spec.get("options")))


def extract(source: str, model: dict, out_dir: str, pool: str, batch_size: int, device: str, partitions,
            clobber: bool, progress, s3=None, keep_free: int = 0):
    """`latentcore extract`'s call (latentcore.extract.extract_file) with its rows-done progress.
    `model`: {"path", "arch", "options"} (and the file's "stamp", part of the job's key), or, run
    inline, the server's (LoadedModel, lock). An `s3://` source is read where the task runs
    (`s3.local_copy`, with the session's `S3Settings.for_tasks()`, its allow-list checked here, and
    `keep_free` bytes left on this machine's disk; not downloaded again when its latents by this model are
    there: `extracted_object`). Cancelling stops at the next batch; the `.partial` file it leaves is resumed by the
    next run."""
    import contextlib

    from latentcore.extract import extract_file, extracted_object, object_record
    from latentcore.storage import is_s3_uri
    from latentcore.storage.s3 import head, local_copy

    progress(0.0, "loading the model")
    if isinstance(model, tuple):  # inline: the server's shared model, and the lock serialising its use
        # read in this thread: a reader process spawned by the server (app.py is its `__main__`) would run the whole
        # app first, and small data gains nothing from one
        (loaded, lock), readers = model, 1
    else:
        loaded, lock, readers = _model(model), contextlib.nullcontext(), None

    def rows_done(done, total, message):
        progress(done / max(total, 1), f"{message}: {done:,} / {total:,} items")

    obj, downloaded = (head(source, s3), _download_reporter(progress)) if is_s3_uri(source) else (None, None)
    if obj is not None and partitions is None and not clobber:
        done = extracted_object(obj, loaded, out_dir, pool)
        if done is not None:
            return done
    with lock, local_copy(obj or source, s3, keep_free, downloaded) as path:  # its HEAD asked once
        return extract_file(path, loaded, out_dir=out_dir, pool=pool, batch_size=int(batch_size), device=device,
                            partitions=partitions, clobber=clobber, progress=rows_done, readers=readers,
                            source_object=obj and object_record(obj))


def _download_reporter(progress):
    """`s3.local_copy`'s progress: boto3 reports bytes from its own threads many times a second; said at most
    twice a second, and never raising a cancel there (the extraction's first batch does)."""
    import time

    said = [0.0]

    def downloaded(done: int, total: int):
        if done == total or time.monotonic() - said[0] >= 0.5:
            said[0] = time.monotonic()
            progress(0.0, f"downloading from S3 to this worker: {done / 1e6:,.1f} of {total / 1e6:,.1f} MB",
                     check=False)
    return downloaded


def extract_several(sources: list, out_dirs: list, model: dict, pool: str, batch_size: int, device: str,
                    clobber: bool, progress, s3=None, keep_free: int = 0):
    """`extract` of each source (a workspace file, or an `s3://` object read where its task runs) into its folder
    (the members of a study, which the page makes once all are written), the progress over all of them; a list of
    their ExtractResults. On Dask, a task per source."""
    from latentcore.batch import counted, run_tasks

    members = [(i, len(sources), source, out_dir) for i, (source, out_dir) in enumerate(zip(sources, out_dirs))]
    with jobs.fan_out() as scheduler:  # on Dask the members' reports interleave: each one done is counted after them
        return run_tasks(extract_member, members, scheduler, name="extract", lost=_member_lost, progress=progress,
                         on_result=counted(progress, len(sources), "extracted"), s3=s3,
                         settings=dict(model=model, pool=pool, batch_size=batch_size, device=device, clobber=clobber,
                                       keep_free=keep_free))


def extract_member(member: tuple, settings: dict, progress, s3=None):
    """`extract` of one (index, count, source, out_dir) of `extract_several`, reporting its share of the whole."""
    i, count, source, out_dir = member

    def one(fraction, message="", **options):
        progress((i + fraction) / count, f"{Path(source).name} ({i + 1} of {count}): {message}", **options)

    return extract(source, out_dir=out_dir, partitions=None, progress=one, s3=s3, **settings)


def _member_lost(member: tuple, exc):
    """run_tasks' `lost` for `extract_several`: a member's error is the job's; its lost worker's in words, naming
    its file."""
    from latentcore.errors import MachineError, worker_lost

    if worker_lost(exc):
        raise MachineError(f"its Dask worker died each time it extracted this file (out of memory, or killed): "
                           f"run it again {jobs.AGAIN}", Path(member[2]).name) from exc
    raise exc


def train(config: dict, progress):
    """`latentcore train-vae`'s call (latentcore.train.train_vae) with the config's dict. It reports
    its pace (detail "pace": `latentcore.train.pace.Pace`'s fields; the message says the epoch, the
    batch and the time left), and each epoch the loss history so far (detail "history") and the latest
    validation patterns and their reconstructions (arrays "inputs", "reconstructions"). A stop (`Job.stop`,
    the page's Stop) or a cancel ends it after the current batch as the CLI's Ctrl-C does: that batch's
    checkpoint and the best model are kept, so the same config resumes."""
    from latentcore.train import TrainConfig, train_vae

    config = TrainConfig.from_dict(config)
    detail, said = {"history": [], "pace": None}, {"fraction": 0.0, "message": "timing the first batches"}

    def on_pace(pace):
        detail["pace"] = pace.to_dict()
        said.update(fraction=pace.batches_done / pace.batches_total,
                    message=f"epoch {pace.epoch} of {pace.epochs}, batch {pace.batch} of {pace.batches_per_epoch}, "
                            f"{pace.left_text()}")
        progress(said["fraction"], said["message"], detail=detail, check=False)

    def epoch_done(report):
        detail["history"].append(report.row())
        progress(said["fraction"], said["message"], detail=detail,
                 arrays={"inputs": report.inputs, "reconstructions": report.reconstructions}, check=False)

    class Stop:  # train_vae's stop_event: the job's stop (or cancel) flag, looked at before every batch
        @staticmethod
        def is_set() -> bool:
            return getattr(progress, "stop_asked", lambda: False)()

    progress(0.0, "reading the patterns")
    return train_vae(config, callback=epoch_done, stop_event=Stop(), on_pace=on_pace)


def train_sizing(count: int, side: int, device: str, latent_dim: int, progress) -> dict:
    """`latentcore.train.sizing.sized_settings`: training settings sized for `count` patterns of side `side` on
    `device`, the same on this machine at any load: {"values" (TrainConfig fields), "pace" (`Pace`'s fields: the
    run on idle cores), "text", "estimate_text", "basis" (what they were sized from), "record" (TrainConfig.sizing)}."""
    from latentcore.train.sizing import sized_settings

    sized = sized_settings(count, side, device, latent_dim)
    return {"values": sized.values, "pace": sized.estimate.to_dict(), "text": sized.text(),
            "estimate_text": sized.estimate_text(), "basis": sized.basis_text(), "record": sized.record()}


def train_estimate(values: dict, count: int, device: str, latent_dim: int, progress) -> dict:
    """`latentcore.train.sizing.estimate`: the `Pace` fields of a run of these settings on idle cores, counted as
    the sizing counts."""
    from latentcore.train.sizing import estimate

    return estimate(values, count, device, latent_dim).to_dict()


def orientation_projections(latents: tuple, direction: str, phase: int, progress) -> dict:
    """`latentcore.analysis.ebsd.pole_figures.projections` of the latents' points of `phase` for sample direction
    `direction` (x, y, z): {"ipf": (N, 2), "poles": {family: (N, K, 2)}}, N the phase's points in row order."""
    from latentcore.analysis.ebsd.pole_figures import projections
    from latentcore.analysis.ebsd.records import DIRECTIONS
    from latentcore.analysis.ebsd.scan_references import laue_of
    from latentcore.study import open_latents

    orientations = open_latents(latents[0]).orientations
    progress(0.0, "projecting the scan's orientations")
    points = orientations.phase_id == phase
    return projections(orientations.euler[points], laue_of(orientations.phases[phase]), DIRECTIONS[direction])


def reference_maps(latents: tuple, bandcontrast: BandContrast | None, components: int, source: tuple | None,
                   progress, patterns: bool = False, upload: tuple | None = None, labels: tuple | None = None) -> dict:
    """name -> per-row values, in the order the Rank page offers them (`references.latents_reference_maps`: band
    contrast first, the scan's maps, the session's labels (`labels`: their CSV's stamp), the uploaded NPZ's maps,
    PCA components of the raw patterns of `source`, cutouts' metadata). Kept by this process for the ranking
    that follows."""
    progress(0.1, "reading the latents" + (f" and {components} principal components of the patterns" if components else ""))
    return _kept_maps(latents, bandcontrast, components, source, patterns, upload, labels)


def _kept_maps(latents, bandcontrast, components, source, patterns=False, upload=None, labels=None) -> dict:
    """`_reference_maps_kept` with the job's arguments as hashable tuples."""
    return _reference_maps_kept(tuple(latents), bandcontrast, int(components), tuple(source) if source else None,
                                bool(patterns), tuple(upload) if upload else None, tuple(labels) if labels else None)


@functools.lru_cache(maxsize=4)
def _reference_maps_kept(latents: tuple, bandcontrast: BandContrast | None, components: int,
                         source: tuple | None, patterns: bool, upload: tuple | None, labels: tuple | None) -> dict:
    """The maps this process made last (the page asks for them, then ranks against them)."""
    from latentcore.analysis.references import latents_reference_maps
    from latentcore.study import open_latents

    return latents_reference_maps(open_latents(latents[0]), bandcontrast, components=components,
                                  source=source and source[0], patterns=patterns, upload=upload and upload[0],
                                  labels=labels and labels[0])


def rank(latents: tuple, bandcontrast: BandContrast | None, references: list, metrics: list, components: int,
         roi: Roi | None, source: tuple | None, progress, patterns: bool = False, upload: tuple | None = None,
         labels: tuple | None = None, quality=None):
    """`latentcore rank`'s scores (latentcore.analysis.rank.rank_dimensions) of every dimension
    against the chosen reference maps (the session's labels as a clustering), over the ROI's rows (None: all) that
    the quality filter keeps (a QualityFilter; None: every one)."""
    from latentcore.analysis.rank import rank_dimensions
    from latentcore.analysis.references import LABELS_REFERENCE
    from latentcore.study import open_latents

    maps = _kept_maps(latents, bandcontrast, components, source, patterns, upload, labels)
    progress(0.3, "reading the latents")
    lat = open_latents(latents[0])
    matrix, _ = lat.stacked()
    keep = np.ones(len(matrix), bool)
    if roi is not None and lat.x is not None:
        keep &= roi.mask(lat.x, lat.y)
    if quality is not None:
        passes = quality.rows_kept(lat.point_maps, lat.x, lat.y, Path(latents[0]).name)
        quality.check_kept(passes[keep], Path(latents[0]).name, " in the ROI" if roi is not None else "")
        keep &= passes
    n_rows = int(keep.sum())
    rows = slice(None) if n_rows == len(keep) else np.flatnonzero(keep)  # every row: no copy (640 MB at 10M x 16)
    chosen = {name: maps[name][rows] for name in references if name != LABELS_REFERENCE}
    given = {name: maps[name][rows] for name in references if name == LABELS_REFERENCE}
    xy = {"x": lat.x[rows], "y": lat.y[rows]} if lat.x is not None else {}
    progress(0.4, f"scoring {matrix.shape[1]} dimensions against {len(references)} references on {n_rows:,} rows")

    def scored(done: int, total: int):
        progress(0.4 + 0.6 * done / total, f"{done:,} of {total:,} (dimension, reference) pairs scored on "
                                           f"{n_rows:,} rows")
    return rank_dimensions(matrix[rows], chosen, metrics=list(metrics), labels=given, progress=scored, **xy)


# -- labels: the probe over every row (ui.widgets.labels) -------------------------------------------

def probe_run(latents: tuple, labels: tuple, method: str, smooth: float, out_dir: str, progress,
              min_confidence: float = 0.0, root: str | None = None, quality=None) -> dict:
    """The CLI's `probe` on a latents file or a study (`latents`: its stamp; a study's labels name each row's
    `source`): CSV and JSON written into `out_dir` (the PNGs are drawn on demand). Returns the classes, each row's
    predicted code (-1: no features or removed by `quality`, -2: unknown, below `min_confidence`) and probability,
    the report and, for several sources, `fractions` (`source, label, count, fraction`; else None)."""
    from latentcore.analysis.labels.probe import NO_FEATURES_CODE, UNKNOWN, UNKNOWN_CODE
    from latentcore.analysis.labels.probe_run import fraction_names, run_probe
    from latentcore.storage.csv_cells import restored
    from latentcore.study import as_study

    progress(0.02, f"{method} probe: reading the latents and labels")
    study = as_study(latents[0])
    with jobs.fan_out() as scheduler:  # on Dask: a task per source
        report = run_probe(study, labels[0], out_dir, method=method, smooth=smooth, min_confidence=min_confidence,
                           quality=quality, png=False, root=root, scheduler=scheduler,
                           progress=lambda fraction, message: progress(0.02 + 0.83 * fraction, message))
    progress(0.85, "reading the predictions back")

    def read(name, **options):  # labels "1" and "01" stay two; a label written safe for spreadsheets read back
        table = pd.read_csv(Path(out_dir) / name, keep_default_na=False, dtype={"label": str, "source": str},
                            **options)
        return table.assign(label=restored(table["label"].astype(str)))

    table = read(report["outputs"]["predictions"]["name"])  # every row, or those the quality filter kept
    lookup = {**{name: k for k, name in enumerate(report["classes"])},
              **({UNKNOWN: UNKNOWN_CODE} if min_confidence else {})}
    rows = table["row"].to_numpy(np.int64)
    if "source" in table.columns:  # a study's rows: each source's rows after those of the sources before it
        rows = rows + study.offsets[pd.Categorical(table["source"], categories=study.names).codes]
    predicted = np.full(study.rows, NO_FEATURES_CODE, np.int64)
    probability = np.full(study.rows, np.nan, np.float32)
    predicted[rows] = table["label"].map(lambda name: lookup.get(name, NO_FEATURES_CODE)).to_numpy(np.int64)
    probability[rows] = table["probability"].to_numpy(np.float32)
    fractions = read(fraction_names(report["tag"])["fractions"]) if len(study.members) > 1 else None
    return {"classes": report["classes"], "predicted": predicted, "probability": probability, "report": report,
            "fractions": fractions}


def compare_latents(latents: tuple, other: tuple, labels: tuple, method: str, smooth: float, progress,
                    n_clusters: int | None = None) -> dict:
    """The CLI's `compare`: ARI of the two files' k-means clusterings and each one's probe accuracy."""
    from latentcore.analysis.labels.probe import compare_latents as compare

    progress(0.05, "probing and clustering the first latents file")
    return compare(latents[0], other[0], labels[0], method=method, smooth=smooth, n_clusters=n_clusters,
                   progress=lambda done, total: progress(done / total, "probing and clustering the second latents "
                                                         "file" if done < total else "done"))


def clustering_agreement(latents: tuple, other: tuple, n_clusters: int, smooth: float, progress) -> dict:
    """The ARI of the two files' k-means clusterings (no labels needed)."""
    from latentcore.analysis.labels.probe import clustering_agreement as agreement

    progress(0.05, f"k-means (k={n_clusters}) of the first latents file")
    return agreement(latents[0], other[0], n_clusters, smooth=smooth,
                     progress=lambda done, total: progress(done / total, f"k-means (k={n_clusters}) of the second "
                                                           "latents file" if done < total else "done"))


def scan_references(latents: tuple, source: tuple | None, parameters, progress):
    """The scan's reference maps on the latents' grid (`scan_references.latents_references`, a `ScanReferences`):
    orientation maps from the latents file (IPF x, y, z, phases, boundaries, grains, KAM, Schmid factors), made with
    `parameters` (an `ORIENTATION_MAP_PARAMETERS` value) and, with `source` (the scan file), VBSE, image quality and
    ADP streamed from its patterns."""
    from latentcore.analysis.ebsd.records import PATTERN_MAPS, listed
    from latentcore.analysis.ebsd.scan_references import latents_references
    from latentcore.study import open_latents

    progress(0.05, "reading the latents")
    lat = open_latents(latents[0])
    if source is not None:
        progress(0.2, f"streaming the patterns: {listed(PATTERN_MAPS)}")
    refs = latents_references(lat, source[0] if source else None, parameters=parameters,
                              progress=lambda done, total: progress(0.2 + 0.8 * done / max(total, 1),
                                                                    f"patterns {done:,} of {total:,}"))
    progress(1.0, "done")
    return refs


def mean_pattern(job: MeanPatternJob, sizes: dict, source: tuple, progress):
    """`mean-pattern`'s run (`artifacts.mean_pattern.mean_pattern`: the mean item of the job's rows, streamed from
    its source in float64): a `MeanPattern`. (`source`: the source's stamp, only part of the job's key.)"""
    from latentcore.analysis.artifacts.mean_pattern import mean_pattern as run

    return run(job, sizes, progress=progress)


def grain_table(latents: tuple, parameters, progress) -> dict:
    """The grains of the latents' scan (`analysis.ebsd.grains.grain_table`, as `python -m latentcore grains` with
    these latents and options: `parameters`, a `GRAIN_PARAMETERS` value): the table ranked by latent spread, each
    row's grain, parameters, notes and what the reconstruction options changed."""
    from latentcore.analysis.ebsd.grains import grain_table as grains
    from latentcore.analysis.ebsd.scan_points import latents_points
    from latentcore.study import open_latents

    progress(0.05, "reading the latents")
    lat = open_latents(latents[0])
    matrix, _ = lat.stacked()
    progress(0.2, f"finding the grains of {len(matrix):,} points: mean orientations, GOS, KAM, latent spread")
    found = grains(latents_points(lat), matrix, parameters=parameters)
    progress(1.0, "done")
    return dict(vars(found))  # the Grains fields


def study_grain_table(study: tuple, parameters, progress) -> dict:
    """Every source's grains of a study (`analysis.ebsd.grains.study_grains`, as `python -m latentcore grains
    STUDY`; on Dask a task per source), as `grain_table` returns one scan's, `source` first."""
    from latentcore.analysis.ebsd.grains import study_grains
    from latentcore.study import read_study

    progress(0.05, "reading the study's sources")
    found = read_study(study[0])
    with jobs.fan_out() as scheduler:
        grains = study_grains(found, parameters, scheduler=scheduler,
                              progress=lambda fraction, message: progress(0.05 + 0.95 * fraction, message))
    return dict(vars(grains))
