"""A study's embedding (`latentcore.study`): one UMAP (or PCA) of every row of every source, fitted on a seeded sample
of the study's rows, then every row placed source by source, in this process or as Dask tasks (one per source),
each task reading its source's latents where they live (local or S3, its SHA-256 checked) and writing its rows.

- `fit_study(study, method="umap", ..., sample_size=None, scheduler=None) -> StudyFit`: the seeded sample
  (`sampling.seeded_sample` over the study's rows, as `fit.fit_embedding` draws it over one file's), read from
  the members (a task per source on Dask), fitted by `fit.fit_embedding` (cached as any fit). A `StudyFit` is what
  every task needs: the fitted sample, its kNN graph (the index the graph walk follows, computed once), whether
  the placement walks it (decided once for the whole study, so a row lands in the same place whichever source it
  is in and wherever its task runs), and `fit_id`, which names the fit's results.
- `place_study(study, fit, out, scheduler=None, ...) -> list[Placed]`: one `place_source` task per source, each
  writing `<out>/<study>_<method>-<fit_id>/<source>.parquet` (`source, row, x_um, y_um, umap_0, umap_1`, then the
  source's `partition`, `index` and metadata columns; a study of one without `source`, as its file's tables)
  atomically (local: a temporary name renamed; S3: an upload, visible only when complete). A source whose file
  is there already is kept: a run that stopped is finished by running it again. A failing source never stops the
  others: each ends done, kept or failed (with its reason).
- `embed_study(study, out, ..., scheduler=None) -> StudyEmbedding`: both, then the folder's `report.json` (the
  job, every source's SHA-256 and rows, the sample, the approximation, the timings), written last: a folder
  without it is unfinished. Raises one line naming the sources that failed (the others are kept).
- `read_study_embedding(study, folder, settings=None)`: the per-source tables as one, in the study's row order.
- `study_embedding(study, ...)`: the app's, one `FittedEmbedding` of every row, no table written; kept in the
  embeddings' cache (`embedding_cache_file`: by every member's SHA-256 and rows, the parameters and the rows kept),
  where the Clusters page finds it and a new server reads it back.

The rows of the sample get their fitted coordinates; every other row the inverse-distance weighted mean of its 5
nearest sampled rows, as `fit.fit_embedding` places the rows of one large file: a study of one file gets the
coordinates `fit_embedding` gives that file with the same sample size. In one process `study_embedding` and
`embed_study` search every source's nearest sampled rows while UMAP fits (`searched_beside`, `fit_embedding`'s
`beside`), as `fit_embedding` searches one file's, and only the weighted means are left after it; on Dask each
source is searched and placed by its task after the fit (the same coordinates). The sample's kNN graph, which the
walk follows, is the one UMAP was given.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from ...batch import counted, dask_client, member_lost, run_tasks, worker_name
from ...columns import beside, embedding_name
from ...errors import InputError, about_file, error_line
from ...sampling import seeded_sample
from ...storage import atomic_path, is_s3_uri
from ...storage.uri import join_uri
from ...study import Study, member_rows, written_identity
from ...versions import package_versions
from .cache import read_cached, study_cache_path, write_cached
from .fit import DEFAULT_SAMPLE_SIZE, check_params, fit_embedding
from .fitted import FittedEmbedding
from .knn import walks, weighted_mean

DONE, KEPT, FAILED = "done", "kept", "failed"
REPORT = "report.json"


@dataclasses.dataclass
class StudyFit:
    """What every placement task needs (plain arrays: sent to the Dask workers once)."""

    fitted: FittedEmbedding  # the sample's fit: its reference rows are the sample, in order
    sample: np.ndarray  # (S,) int64 sorted: the study's rows the embedding was fitted on
    graph: np.ndarray | None  # (S, n_neighbors) the sample's kNN graph: the graph walk's index (None: no walk)
    walk: bool  # place by the graph walk (approximate) rather than the exact search
    fit_id: str  # 12 hex digits naming the fit: the parameters, the sample, every member's SHA-256

    @property
    def method(self) -> str:
        return self.fitted.method

    def place(self, rows: np.ndarray, first_row: int, kept: np.ndarray | None = None) -> np.ndarray:
        """The coordinates of one member's rows (`rows`: all of them, in order; `first_row` its first row in the
        study), or of those `kept` ((N,) bool: the quality filter's) alone, in order."""
        if self.method == "pca":
            return self.fitted.transform(rows if kept is None else rows[np.flatnonzero(kept)])
        return self.placed(len(rows), first_row, kept, self.neighbours(rows, first_row, kept))

    def neighbours(self, rows: np.ndarray, first_row: int, kept: np.ndarray | None = None):
        """(distances, indices) of the nearest sample rows of a member's rows (as `place` takes them) outside the
        sample (UMAP), None when every one is a sample row: the search, which needs no coordinates (a study in one
        process runs it while UMAP fits)."""
        ids, lo, hi, sampled = self._sampled(len(rows), first_row, kept)
        if sampled.all():
            return None
        return self.fitted.nearest(rows, rows=ids[~sampled], reference=self.reference, reference_graph=self.graph,
                                   walk=self.walk)

    @functools.cached_property
    def reference(self) -> np.ndarray:
        """The sample's rows after the fit's PCA: every member is searched among them, reduced once here (once per
        Dask worker)."""
        return self.fitted.reduced_reference()

    def placed(self, n_rows: int, first_row: int, kept: np.ndarray | None, found) -> np.ndarray:
        """The coordinates `place` gives a member of `n_rows` rows whose `neighbours` were `found`: the sample's
        rows at their fitted coordinates, the others at the weighted mean of their nearest sample rows'."""
        ids, lo, hi, sampled = self._sampled(n_rows, first_row, kept)
        coords = np.empty((len(ids), self.fitted.reference_coords.shape[1]), np.float32)
        coords[sampled] = self.fitted.reference_coords[lo:hi]
        if not sampled.all():  # all when the sample is every row of the study
            coords[~sampled] = weighted_mean(*found, self.fitted.reference_coords)
        return coords

    def _sampled(self, n_rows: int, first_row: int, kept: np.ndarray | None):
        """(the member's rows placed: all, or those kept; the sample's span of them, lo:hi; which of them it is)."""
        ids = np.arange(n_rows) if kept is None else np.flatnonzero(kept)
        lo, hi = np.searchsorted(self.sample, [first_row, first_row + n_rows])
        return ids, lo, hi, np.isin(ids, self.sample[lo:hi] - first_row, assume_unique=True)  # drawn from the kept

    def approximation(self, rows: int) -> str:
        """What the coordinates are, in one sentence (said where they are shown and in the report)."""
        if len(self.sample) >= rows:
            return f"fitted on every one of the {rows:,} rows"
        if self.method == "pca":
            return f"PCA fitted on a seeded sample of {len(self.sample):,} of the {rows:,} rows, every row projected"
        search = ("found by a walk of the sample's kNN graph, approximate" if self.walk else "found exactly")
        return (f"UMAP fitted on a seeded sample of {len(self.sample):,} of the {rows:,} rows; every other row "
                f"placed at the weighted mean of its {self.fitted.params['place_neighbors']} nearest sampled rows "
                f"({search})")


@dataclasses.dataclass
class Placed:
    """One source's placement: its outcome, like a batch file's."""

    source: str
    status: str  # done | kept | failed
    output: str = ""  # the file's name in the embedding folder
    rows: int = 0
    seconds: float = 0.0
    worker: str = ""
    reason: str = ""


@dataclasses.dataclass
class StudyEmbedding:
    folder: str  # local folder or s3:// prefix
    fit: StudyFit
    placed: list[Placed]
    report: dict


# -- the fit ------------------------------------------------------------------------------------

def fit_study(study: Study, method="umap", n_components=2, random_state=0, n_neighbors=15, min_dist=0.1,
              metric="euclidean", sample_size=None, cache_dir=None, settings=None, scheduler=None,
              workers=None, progress=None, rows: np.ndarray | None = None, beside=None) -> StudyFit:
    """Fit the study's embedding on a seeded sample of its rows, or of `rows` (sorted study row ids: those a quality
    filter keeps) (the parameters as `fit.fit_embedding`'s). `scheduler`: read the sample's rows as one Dask task
    per source (see `batch.run_tasks`). `beside(unplaced)`: called while UMAP fits (`fit.fit_embedding`'s
    `beside`) with the `StudyFit` yet without coordinates, whose `neighbours` it can search."""
    size = DEFAULT_SAMPLE_SIZE if sample_size is None else int(sample_size)
    sample = (seeded_sample(study.rows, size, random_state) if rows is None
              else rows[seeded_sample(len(rows), size, random_state)])
    parts = run_tasks(sampled_rows, range(len(study.members)), scheduler, workers, name="study-sample",
                      lost=member_lost(study), study=study, sample=sample, settings=settings)
    latents = np.concatenate(parts) if len(parts) > 1 else parts[0]  # members in order: the sample's order
    placed = study.rows if rows is None else len(rows)
    walk = method == "umap" and walks(placed - len(sample), len(sample), metric)
    graphs = []  # the sample's kNN graph, the one UMAP was given: the walk's index

    def unplaced(fitted, graph):
        graphs.append(graph)
        if beside is not None:
            beside(StudyFit(fitted, sample, graph if walk else None, walk, ""))
    with about_file(f"{study.name} (a study)"):
        fitted = fit_embedding(latents, method, n_components, random_state, n_neighbors, min_dist, metric,
                               cache_dir=cache_dir, progress=progress, sample_size=len(sample), beside=unplaced)
    graph = (graphs[0] if graphs else fitted.reference_graph()) if walk else None  # once, not by every task
    return StudyFit(fitted, sample, graph, walk, _fit_id(study, fitted, sample, walk, rows))


def searched_beside(study: Study, found: dict, settings=None, kept=None):
    """`fit_study`'s `beside` in this process: every member's rows (those `kept`: the study's mask) searched among
    the sample while UMAP fits, as one file's are, into `found` (member index -> (its rows, the neighbours found)),
    which leaves only `StudyFit.placed` after the fit."""
    def search(unplaced: StudyFit):
        for index in range(len(study.members)):
            rows = _all_rows(study.latents(index, settings, verify=False))
            found[index] = len(rows), unplaced.neighbours(rows, int(study.offsets[index]),
                                                          member_part(study, index, kept))
    return search


def sampled_rows(index: int, study: Study, sample: np.ndarray, settings=None) -> np.ndarray:
    """The latents of the sample's rows in one member (a task)."""
    lo, hi = np.searchsorted(sample, study.offsets[index:index + 2])
    if lo == hi:
        return np.empty((0, study.dim), np.float32)
    return member_rows(study.latents(index, settings), sample[lo:hi] - study.offsets[index])


def _fit_id(study: Study, fitted: FittedEmbedding, sample: np.ndarray, walk: bool, rows=None) -> str:
    kept = {} if rows is None else {"rows": hashlib.sha256(np.asarray(rows, np.int64).tobytes()).hexdigest()}
    digest = hashlib.sha256(json.dumps({"params": fitted.params, "walk": walk, "sample": len(sample),
                                        "members": [(m.name, m.sha256) for m in study.members], **kept},
                                       sort_keys=True).encode())
    return digest.hexdigest()[:12]


# -- placing every row --------------------------------------------------------------------------

def embedding_folder(out: str, study: Study, fit: StudyFit) -> str:
    """`<out>/<study>_<method>-<fit_id>`: a local folder or an S3 prefix, named by the fit."""
    name = f"{study.name}_{fit.method}-{fit.fit_id}"
    return join_uri(out, name) if is_s3_uri(str(out)) else str(Path(out) / name)


def place_study(study: Study, fit: StudyFit, out, scheduler=None, workers=None, settings=None,
                on_result=None, kept=None, found=None) -> list[Placed]:
    """Place every source's rows, or those `kept` ((study rows,) bool: `kept_rows`) (`place_source`, a task each)
    into `embedding_folder(out, ...)`; `found`: their neighbours searched beside the fit (`searched_beside`)."""
    folder = embedding_folder(str(out), study, fit)

    def lost(index, exc):
        return Placed(study.members[index].name, FAILED, reason=f"worker lost: {error_line(exc)}")

    return run_tasks(place_source, range(len(study.members)), scheduler, workers, name="study-place", lost=lost,
                     on_result=on_result, study=study, fit=fit, folder=folder, settings=settings, kept=kept,
                     found=found)


def place_source(index: int, study: Study, fit: StudyFit, folder: str, settings=None, kept=None,
                 found=None) -> Placed:
    """One source's rows (those `kept`: the study's mask, `kept_rows`) placed (searched here unless `found` holds
    them) and written (a task; never raises: a failure is a `failed` outcome)."""
    start = time.perf_counter()
    member = study.members[index]
    placed = Placed(member.name, FAILED, output=f"{member.name}.parquet", rows=member.rows, worker=worker_name())
    try:
        target = _join(folder, placed.output)
        if _exists(target, settings):
            placed.status = KEPT
        else:
            latents = study.latents(index, settings)
            with about_file(member.location):
                mine, first = member_part(study, index, kept), int(study.offsets[index])
                if index in (found or {}):
                    n_rows, neighbours = found[index]
                    coords = fit.placed(n_rows, first, mine, neighbours)
                else:
                    coords = fit.place(_all_rows(latents), first, mine)
            table, origins = written_identity(study, index, latents), latents.origins()
            if mine is not None:
                table, origins = table[mine].reset_index(drop=True), origins[mine]
            for axis in range(coords.shape[1]):
                table[embedding_name(fit.method, axis)] = coords[:, axis]
            table = beside(table, origins)  # then the source's partition, index and metadata
            _write_table(table, target, settings)
            placed.status = DONE
    except Exception as exc:  # reported with the others; the other sources go on
        placed.reason = error_line(exc)
    placed.seconds = time.perf_counter() - start
    return placed


def _all_rows(latents) -> np.ndarray:
    """A member's rows, (N, D): its one partition as it is (a memory map), several concatenated."""
    arrays = list(latents.partitions.values())
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _join(folder: str, name: str) -> str:
    return join_uri(folder, name) if is_s3_uri(folder) else str(Path(folder) / name)


def _exists(target: str, settings) -> bool:
    if is_s3_uri(target):
        from ...storage.s3 import exists

        return exists(target, settings)
    return Path(target).is_file()


def _write_table(table, target: str, settings) -> None:
    """Parquet, written under a temporary name and renamed (local), or uploaded whole (S3)."""
    if not is_s3_uri(target):
        # the resumable folder's own file: another run of the job may have placed it meanwhile
        with atomic_path(target, suffix=f".{uuid.uuid4().hex[:8]}.partial", replaces=True) as tmp:
            table.to_parquet(tmp, index=False)
        return
    from ...storage.s3 import upload

    with tempfile.TemporaryDirectory(prefix="latentcore-study-") as tmp:
        local = Path(tmp) / target.rsplit("/", 1)[-1]
        table.to_parquet(local, index=False)
        upload(local, target, settings)


def _write_json(document: dict, target: str, settings) -> None:
    text = json.dumps(document, indent=1) + "\n"
    if not is_s3_uri(target):
        with atomic_path(target, replaces=True) as tmp:  # each run that completes the folder says what it holds
            Path(tmp).write_text(text)
        return
    from ...storage.s3 import upload

    with tempfile.TemporaryDirectory(prefix="latentcore-study-") as tmp:
        (Path(tmp) / REPORT).write_text(text)
        upload(Path(tmp) / REPORT, target, settings)


# -- the whole job ------------------------------------------------------------------------------

def embed_study(study: Study, out, method="umap", n_components=2, random_state=0, n_neighbors=15, min_dist=0.1,
                metric="euclidean", sample_size=None, cache_dir=None, settings=None, scheduler=None,
                workers=None, progress=None, on_result=None, quality=None, partitions=None) -> StudyEmbedding:
    """Fit (`fit_study`) and place (`place_study`) on one cluster (`scheduler` as `batch.run_tasks`; None: in
    this process), then write the report; of the rows `quality` keeps, each scan by its own maps, and of each
    source's `partitions` (names) alone, when given (sampled and placed from them, recorded in the report). Every
    source failed is named in one line (an InputError)."""
    report_progress = progress or (lambda fraction, message: None)
    with dask_client(scheduler, workers) if scheduler is not None else contextlib.nullcontext() as client:
        start = time.perf_counter()
        kept, quality_record = kept_rows(study, quality, client, settings, partitions)
        rows = None if kept is None else np.flatnonzero(kept)
        found = {}  # in this process, each member's rows searched while UMAP fits
        fit = fit_study(study, method, n_components, random_state, n_neighbors, min_dist, metric, sample_size,
                        cache_dir, settings, client, progress=lambda f, m: report_progress(0.5 * f, m), rows=rows,
                        beside=searched_beside(study, found, settings, kept) if client is None else None)
        fitted = time.perf_counter()
        done = []

        def each(placed, worker):
            done.append(placed)
            where = f" on worker {worker}" if worker is not None else ""
            report_progress(0.5 + 0.5 * len(done) / len(study.members), f"placed {placed.source}{where}")
            if on_result:
                on_result(placed)

        placed = place_study(study, fit, out, client, settings=settings, on_result=each, kept=kept,
                             found=found or None)
        seconds = {"fit": fitted - start, "place": time.perf_counter() - fitted}
    if kept is not None:  # each source's rows placed, a source kept from a run before included
        for outcome, first, end in zip(placed, study.offsets[:-1], study.offsets[1:]):
            outcome.rows = int(kept[first:end].sum())
    failed = [p for p in placed if p.status == FAILED]
    if failed:
        reasons = "; ".join(f"{p.source}: {p.reason}" for p in failed[:3]) + ("; ..." if len(failed) > 3 else "")
        raise InputError(f"{len(failed)} of {len(placed)} sources of the study {study.name} were not placed "
                         f"({reasons}); the others are kept: run it again to place only those")
    folder = embedding_folder(str(out), study, fit)
    report = _report(study, fit, placed, seconds, "in this process" if scheduler is None else "dask",
                     quality_record, partitions)
    _write_json(report, _join(folder, REPORT), settings)
    return StudyEmbedding(folder, fit, placed, report)


def _report(study: Study, fit: StudyFit, placed: list[Placed], seconds: dict, where: str,
            quality: dict | None = None, partitions=None) -> dict:
    """What makes the embedding again, and what it is: names, SHA-256 and relative names only (no server path).
    `quality`: the quality filter's record (`QualityFilter.record` over the rows it was applied to); `partitions`:
    the partitions embedded (None: all)."""
    return {"study": study.name, "model": study.model, "dim": study.dim, "rows": study.rows,
            "method": fit.method, "params": fit.fitted.params, "fit_id": fit.fit_id,
            "sample_rows": int(len(fit.sample)), "placement": "graph walk" if fit.walk else "exact",
            "approximation": fit.approximation(sum(p.rows for p in placed)), "ran": where, "quality": quality,
            "partitions": None if not partitions else list(partitions),
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "sources": [{"name": m.name, "sha256": m.sha256, "rows": m.rows, "placed": p.rows, "table": p.output,
                         "status": p.status, "seconds": round(p.seconds, 3), "worker": str(p.worker)}
                        for m, p in zip(study.members, placed)],
            "versions": package_versions()}


def read_study_embedding(study: Study, folder: str, settings=None, rows: list[int] | None = None):
    """The study's embedding table (`source, row, x_um, y_um, umap_0, ...`, then each source's own columns), every
    source's rows in order (`rows`: how many each source placed, default all of its rows: fewer under a quality
    filter)."""
    import pandas as pd

    from ...storage import resolve_path

    tables = []
    for member in study.members:
        target = _join(folder, f"{member.name}.parquet")
        if not _exists(target, settings):
            raise InputError(f"source {member.name} has no placed rows in this embedding: run it again", folder)
        table = pd.read_parquet(resolve_path(target, settings=settings))
        expected = member.rows if rows is None else rows[len(tables)]
        if len(table) != expected:
            raise InputError(f"holds {len(table)} rows of {member.name}, the study {expected}: not this study's "
                             "embedding; embed the study again", target)
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]


def study_embedding(study: Study, method="umap", n_components=2, random_state=0, n_neighbors=15, min_dist=0.1,
                    metric="euclidean", sample_size=None, cache_dir=None, settings=None, scheduler=None,
                    progress=None, quality=None) -> FittedEmbedding:
    """The study's embedding as one `FittedEmbedding` of every row (what the app shows), or of the rows `quality`
    (a `QualityFilter`) keeps, each scan by its own maps, in order: fitted on the seeded sample (`fit_study`), the
    rows placed member by member (`StudyFit.place`; with `scheduler`, a Dask task per member as `batch.run_tasks`),
    kept in the embeddings' cache (`embedding_cache_file`), no other file written. Its `reference_index` are study
    rows; `params["approximation"]` says what the coordinates are."""
    report_progress = progress or (lambda fraction, message: None)
    kept, _ = kept_rows(study, quality, scheduler, settings)
    rows = None if kept is None else np.flatnonzero(kept)
    cache_file = embedding_cache_file(study, method, n_components, random_state, n_neighbors, min_dist, metric,
                                      sample_size, cache_dir, kept)
    cached = read_cached(cache_file)
    if cached is not None:
        report_progress(1.0, "read from cache")
        return cached
    found = {}  # in this process, each member's rows searched while UMAP fits, as one file's are
    fit = fit_study(study, method, n_components, random_state, n_neighbors, min_dist, metric, sample_size,
                    cache_dir, settings, scheduler, progress=lambda f, m: report_progress(0.8 * f, m), rows=rows,
                    beside=searched_beside(study, found, settings, kept) if scheduler is None else None)
    placed = counted(progress, len(study.members), "placed the rows of", 0.8, 0.2)
    if found:  # the fit searched them: only the weighted means are left
        coords = [fit.placed(n_rows, int(study.offsets[index]), member_part(study, index, kept), neighbours)
                  for index, (n_rows, neighbours) in sorted(found.items())]
        for _ in coords:
            placed(None, None)
    else:
        coords = run_tasks(member_coords, range(len(study.members)), scheduler, name="study-coords",
                           lost=member_lost(study), on_result=placed, study=study, fit=fit, settings=settings,
                           kept=kept)
    said = fit.approximation(study.rows if rows is None else len(rows))
    fitted = dataclasses.replace(fit.fitted, coords=np.concatenate(coords),
                                 reference_index=fit.sample[np.asarray(fit.fitted.reference_index, np.int64)],
                                 params={**fit.fitted.params, "approximation": said})
    write_cached(cache_file, fitted)
    return fitted


def embedding_cache_file(study: Study, method="umap", n_components=2, random_state=0, n_neighbors=15, min_dist=0.1,
                         metric="euclidean", sample_size=None, cache_dir=None, kept=None) -> Path | None:
    """The file `study_embedding` with these arguments keeps its result in (it exists once that embedding was
    made; `kept`: the quality filter's rows, `kept_rows`; None when `cache_dir` is False), named by every
    member's SHA-256 and rows and every parameter the fit and the placement take (a file's as its study of one's:
    the UMAP page's and the Clusters page's)."""
    placed = study.rows if kept is None else int(kept.sum())
    size = min(DEFAULT_SAMPLE_SIZE if sample_size is None else int(sample_size), placed)
    params = check_params((size, study.dim), method, n_components, random_state, n_neighbors, min_dist, metric, True,
                          size)
    walk = method == "umap" and walks(placed - size, size, metric)
    return study_cache_path(cache_dir, [[member.sha256, member.rows] for member in study.members],
                            {**params, "sample_size": size, "walk": walk}, kept)


def kept_rows(study: Study, quality, scheduler=None, settings=None, partitions=None):
    """((study rows,) bool: the rows kept, or None without a filter; the quality filter's record, or None): the rows
    of each source's `partitions` (names; all when None) that `quality` keeps, each source by its own maps (a task
    per source)."""
    if quality is None and not partitions:
        return None, None
    if quality is not None:
        quality.refuse_table(len(study.members))
    masks = run_tasks(member_kept, range(len(study.members)), scheduler, name="study-kept", lost=member_lost(study),
                      study=study, quality=quality, settings=settings, partitions=partitions)
    inside, passed = (np.concatenate(part) for part in zip(*masks))
    return inside & passed, None if quality is None else quality.record(passed[inside])


def member_kept(index: int, study: Study, quality, settings=None, partitions=None) -> tuple[np.ndarray, np.ndarray]:
    """Two (rows,) bool masks of one member (a task): its rows in `partitions` (names; None: all), and those the
    quality filter keeps, by its own maps (all without one)."""
    latents = study.latents(index, settings, verify=False)
    where = study.members[index].location
    inside = np.ones(study.members[index].rows, bool)
    if partitions:
        missing = [name for name in partitions if name not in latents.partitions]
        if missing:
            raise InputError(f"no partition(s) {missing}; it holds {sorted(latents.partitions)}: pick from those",
                             where)
        inside = np.concatenate([np.full(len(rows), name in partitions) for name, rows in latents.partitions.items()])
    if quality is None:
        return inside, np.ones_like(inside)
    return inside, quality.rows_kept(latents.point_maps, latents.x, latents.y, where)


def member_part(study: Study, index: int, kept: np.ndarray | None) -> np.ndarray | None:
    """One member's part of the study's mask of rows `kept` (None: every row)."""
    return None if kept is None else kept[study.offsets[index]:study.offsets[index + 1]]


def member_coords(index: int, study: Study, fit: StudyFit, settings=None, kept=None) -> np.ndarray:
    """The coordinates of every row of one member, or of those `kept` (the study's mask: `kept_rows`) (a task of
    `study_embedding`)."""
    latents = study.latents(index, settings, verify=False)
    return fit.place(_all_rows(latents), int(study.offsets[index]), member_part(study, index, kept))
