"""Batch extraction over many files, in this process or on a Dask cluster.

One task = one file: check for existing latents (skip unless clobber), download the source when it is
in S3, extract with the same `extract_file` as local runs, write, upload, delete the temporaries.
A failing file never stops the others: every file ends as done, skipped or failed (with the reason),
and a re-run finishes only what is missing (finished outputs are skipped; a local `.partial` resumes).

Workers load the model once per process (`worker_model` caches it) and use the GPU when they have
one (`device="auto"`). The task graph carries plain values only: file names, options, S3 settings,
never credentials; each worker takes its credentials from its own environment, profile or role.
For a remote cluster the checkpoint and the sources must be reachable from the workers (S3 or a
shared file system, where local paths are sent as absolute paths) and latentcore installed there.

    python -m latentcore batch --model ckpt.pth --options opts.json s3://bucket/pp/ --out s3://bucket/latents \
        --scheduler local --workers 4

`run_batch(sources, job)` runs a `BatchJob` over the sources (`expand_sources` expands S3 prefixes)
and returns one `FileOutcome` per file (`summary_table` prints them); `process_file` is one task.
`run_tasks(function, items, scheduler)` runs any function over items, in this process or one Dask task
each: a study's members are read by it (`describe_members`), and its per-source work
(latentcore.analysis.embedding.study).
Output names come from latentcore.outputs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from .errors import InputError, LatentError, MachineError, error_line
from .outputs import SUFFIX, model_tag, output_for, refuse_shared_outputs
from .storage import is_s3_uri, resolve_path
from .storage.s3 import S3Settings

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclasses.dataclass(frozen=True)
class BatchJob:
    """What every task needs besides its file name (plain values: it is sent to the workers)."""

    model: str  # checkpoint path or s3:// URI
    out: str | None = None  # local folder, s3://bucket/prefix, or None: beside each source
    arch: str | None = None
    options: dict | None = None  # model options (Nenya's opts.json content)
    pool: str = "mean"
    batch_size: int | None = None  # None: the options' batch_size_valid, else 64
    device: str = "auto"
    precision: str = "fp32"  # or "bf16" (extract_file)
    readers: int | None = None  # reader processes per file; None: extract_file's default (one in a Dask worker)
    reader_timeout: float | None = None  # seconds a reader process may hand back nothing; None: extract_file's
    partitions: tuple[str, ...] | None = None
    clobber: bool = False
    s3: S3Settings = dataclasses.field(default_factory=S3Settings.from_env)
    work_dir: str | None = None  # temporaries (downloads, latents before upload); default: system temp
    model_tag: str | None = None  # the model in the output names (`outputs.model_tag`); None: from the model


@dataclasses.dataclass
class FileOutcome:
    source: str
    status: str  # done | skipped | failed
    output: str = ""
    reason: str = ""
    seconds: float = 0.0
    rows: int = 0
    worker: str = ""
    model_loads: int = 0  # models loaded so far by the process that ran this file (once per worker)


# -- one file ---------------------------------------------------------------------------------

def output_exists(target: str, settings: S3Settings) -> bool:
    """An S3 object exists only once its upload completed; a local file counts only when it is a
    complete latents file (extract_file then checks it belongs to this source and model)."""
    from .latents import incomplete_reason
    from .storage.s3 import exists

    if is_s3_uri(target):
        return exists(target, settings)
    return Path(target).is_file() and incomplete_reason(target) is None


def process_file(source: str, job: BatchJob) -> FileOutcome:
    """Run one file end to end; never raises: a failure becomes a `failed` outcome with its reason."""
    start = time.perf_counter()
    outcome = FileOutcome(str(source), FAILED, worker=worker_name())
    try:
        outcome.output = output_for(str(source), job.out, model=job.model_tag or job_model_tag(job))
        if not job.clobber and is_s3_uri(outcome.output) and output_exists(outcome.output, job.s3):
            outcome.status = SKIPPED
        else:  # a local output is skipped by extract_file, only when it is this source's complete latents
            rows, skipped = _extract_one(str(source), outcome.output, job)
            outcome.status, outcome.rows = (SKIPPED, 0) if skipped else (DONE, rows)
    except Exception as exc:  # reported in the summary; the other files go on
        outcome.reason = error_line(exc)
    outcome.model_loads = model_loads()
    outcome.seconds = time.perf_counter() - start
    return outcome


def _extract_one(source: str, target: str, job: BatchJob) -> tuple[int, bool]:
    from .extract import extract_file
    from .storage.s3 import download_to, upload
    from .storage.uri import parse_s3_uri, safe_file_name

    if job.work_dir:
        Path(job.work_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="latentcore-batch-", dir=job.work_dir) as tmp:
        local_source = Path(source)
        _require_on_worker(source, "input file")
        if is_s3_uri(source):  # its own copy, deleted with the folder (the cache is for interactive use)
            local_source = download_to(source, Path(tmp) / safe_file_name(parse_s3_uri(source)[1]), job.s3)
        local_out = Path(tmp) / "out" / Path(target.rsplit("/", 1)[-1]).name if is_s3_uri(target) else Path(target)
        model = worker_model(job)
        batch_size = job.batch_size or int(model.options.get("batch_size_valid") or 64)
        result = extract_file(local_source, model, out_path=local_out, pool=job.pool, batch_size=batch_size,
                              device=job.device, partitions=list(job.partitions) if job.partitions else None,
                              clobber=job.clobber or is_s3_uri(target), precision=job.precision,
                              readers=job.readers, reader_timeout=job.reader_timeout)
        if is_s3_uri(target):  # S3 shows the object only once the upload completes: never half-written
            upload(result.path, target, job.s3)
        return sum(result.rows.values()), result.skipped


def worker_name() -> str:
    """The Dask worker running this task ("local" outside Dask)."""
    try:
        from distributed import get_worker

        return get_worker().name
    except (ImportError, ValueError):
        return "local"


# -- the model, once per worker process -------------------------------------------------------

_MODELS: dict = {}
_MODELS_LOCK = threading.Lock()
_LOADS = [0]


def worker_model(job: BatchJob):
    """The job's model, loaded once per process (a Dask worker process keeps it between tasks)."""
    from .models import load_model

    _require_on_worker(job.model, "checkpoint")
    path = resolve_path(job.model, settings=job.s3)  # an S3 checkpoint lands in the worker's cache
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, job.arch, json.dumps(job.options, sort_keys=True, default=str))
    with _MODELS_LOCK:  # threads of one worker wait for the first load instead of repeating it
        if key not in _MODELS:
            _MODELS[key] = load_model(path, arch=job.arch, options=job.options)
            _LOADS[0] += 1
        return _MODELS[key]


def job_model_tag(job: BatchJob) -> str:
    """How the job's model is named in its output names (`outputs.model_tag`): its recorded name or short hash."""
    model = worker_model(job)
    return model_tag(model.recorded_name, model.sha256)


def _require_on_worker(path: str, what: str) -> None:
    if is_s3_uri(path) or Path(path).is_file():
        return
    worker = worker_name()
    if worker == "local":
        raise InputError(f"{what} not found: check the path", path)
    raise InputError(f"{what} not found on worker {worker}: on a cluster, put it on storage every worker shares "
                     "(the same path on each), or in S3", path)


def model_loads() -> int:
    """How many times this process loaded a model (tests check once per worker)."""
    return _LOADS[0]


# -- many files -------------------------------------------------------------------------------

def run_batch(sources: Iterable[str], job: BatchJob, scheduler: str | None = None, workers: int | None = None,
              on_result: Callable[[FileOutcome], None] | None = None) -> list[FileOutcome]:
    """Process every source; outcomes in the order of `sources`.

    scheduler: None runs the files one after another in this process; "local" starts a Dask
    LocalCluster (`workers` processes, one thread each); an address ("tcp://host:8786") connects to
    a running cluster (dask-jobqueue on SLURM/PBS, Kubernetes, ...).
    """
    sources = [_absolute(s) for s in sources]
    job = dataclasses.replace(job, model=_absolute(job.model), out=_absolute(job.out), work_dir=_absolute(job.work_dir))
    job = dataclasses.replace(job, model_tag=job.model_tag or job_model_tag(job))  # once, here: the workers reuse it
    refuse_shared_outputs(sources, [output_for(s, job.out, model=job.model_tag) for s in sources])
    return run_tasks(process_file, sources, scheduler, workers, name="latents", on_result=on_result,
                     lost=lambda source, exc: FileOutcome(source, FAILED, reason=f"worker lost: {error_line(exc)}"),
                     job=job)


def _absolute(path):
    """A local path as an absolute one: a worker's working directory is not the client's."""
    return path if path is None or is_s3_uri(str(path)) else os.path.abspath(os.path.expanduser(str(path)))


def run_tasks(function, items, scheduler=None, workers: int | None = None, *, name: str, lost: Callable,
              on_result: Callable | None = None, **shared) -> list:
    """`function(item, **shared)` for every item; the results in the order of `items`.

    scheduler: None runs them one after another in this process; else each item is one Dask task on
    `dask_client(scheduler, workers)` (a Client is used as it is), `shared` sent to the cluster once (named
    otherwise than Client.map's own keywords: batch_size, key, workers, retries...),
    not with every task (scattered to every worker: a lost worker loses no value the others need), but for
    `S3Settings`, which travel in each task's arguments (a user's keys never in a worker's spillable data). A
    task whose worker died (memory, a crash) ends as `lost(item, exc)`; `on_result(result, worker)` as each
    result comes (`worker`: the name of the Dask worker that ran it, None in this process or when it was lost).
    """
    items = list(items)
    if scheduler is None:
        results = []
        for item in items:
            results.append(function(item, **shared))
            if on_result:
                on_result(results[-1], None)
        return results
    from distributed import as_completed

    by_item = {}
    with dask_client(scheduler, workers) as client:
        run = uuid.uuid4().hex[:8]  # keys unique on a shared cluster
        # each value one object (a list or dict is not scattered item by item: an empty dict could not be); S3
        # settings, which may hold a user's keys, go in each task's own arguments: a worker may spill its data
        # (scattered values) to its disk, never a task's arguments
        sent = {key: value if isinstance(value, S3Settings) else client.scatter([value], broadcast=True, hash=False)[0]
                for key, value in shared.items()}
        futures = client.map(_named_result, items, pure=False, key=[f"{name}-{run}-{i}" for i in range(len(items))],
                             function=function, **sent)
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in as_completed(futures):
                i = index[future.key]
                try:
                    worker, result = future.result()
                except Exception as exc:  # the worker died: that item failed, the rest go on
                    worker, result = None, lost(items[i], exc)
                by_item[i] = result
                if on_result:
                    on_result(result, worker)
        finally:  # a cancel (raised by on_result) or a failure: the tasks not run yet never start
            client.cancel([future for future in futures if not future.done()])
    return [by_item[i] for i in range(len(items))]


def _named_result(item, function, **shared):
    """(this Dask worker's name, `function(item, **shared)`): run_tasks' task, which says where it ran."""
    from distributed import get_worker

    return str(get_worker().name), function(item, **shared)


def counted(progress: Callable | None, total: int, done_what: str, start: float = 0.0, span: float = 1.0) -> Callable:
    """run_tasks' `on_result` that reports `progress(fraction, "<done_what> k of <total> sources")` as each task ends
    (from `start` to `start + span`), and on Dask the workers that ran them ("..., on workers 0, 1"; "on 12 workers"
    above WORKERS_NAMED): a job's bar counts the sources done and says where they ran, and a cancel raised by its
    progress ends the run at the next source."""
    done, workers = [0], set()

    def one_more(_, worker):
        done[0] += 1
        workers.update([worker] if worker is not None else [])
        if progress is not None:
            progress(start + span * done[0] / total, f"{done_what} {done[0]} of {total} sources{_on(workers)}")

    return one_more


WORKERS_NAMED = 3  # a job's progress names up to this many Dask workers, then counts them


def _on(workers: set) -> str:
    if not workers:
        return ""
    if len(workers) > WORKERS_NAMED:
        return f", on {len(workers)} workers"
    return f", on worker{'s' if len(workers) > 1 else ''} {', '.join(sorted(workers))}"


def member_lost(study) -> Callable:
    """run_tasks' `lost` for tasks over a study's members (the items: member indices): a task's own LatentError
    (naming its file) as it is; a lost worker or any other failure one line naming the member."""
    def lost(index, exc):
        if isinstance(exc, LatentError):
            raise exc
        member = study.members[index]
        raise InputError(f"source {member.name}: its Dask task failed ({error_line(exc)}); run again, or without a "
                         "scheduler to see the error in this process", member.location)

    return lost


def describe_members(locations, scheduler=None, workers: int | None = None,
                     settings: S3Settings | None = None) -> list:
    """`study.describe_member` of each latents file (read once: downloaded where it is in S3, hashed) as a task of
    `run_tasks`, for `study.assemble`: on a cluster, the client reads none of a study's members itself."""
    from .study import describe_member

    def lost(location, exc):
        raise InputError(f"a Dask worker was lost reading this member: {error_line(exc)}; run again", location)

    return run_tasks(describe_member, locations, scheduler, workers, name="study-member", lost=lost,
                     settings=settings)


@contextlib.contextmanager
def dask_client(scheduler, workers: int | None = None):
    """A Dask client: "local" starts (and then stops) a LocalCluster of processes; a `distributed.Client` is
    used as it is (and left open); any other string is the address of an existing scheduler (`scheduler_address`)."""
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    client, cluster = open_client(scheduler, workers)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def open_client(scheduler: str, workers: int | None = None):
    """(a Client, the LocalCluster it runs on or None): "local" starts a LocalCluster of `workers` processes,
    any other string connects to the scheduler at that address (`scheduler_address`). The caller closes both."""
    from distributed import Client

    if scheduler == "local":
        cluster = local_cluster(workers)
        return Client(cluster), cluster
    address = scheduler_address(scheduler)
    try:
        return Client(address, timeout="20s"), None
    except OSError as exc:
        raise InputError(f"cannot connect to the Dask scheduler ({exc}): check its address, or leave --scheduler "
                         "out to run here", scheduler) from None


def scheduler_address(address: str) -> str:
    """"local", or a Dask scheduler address whose scheme and port Dask can use (tcp://host:8786; host:8786 is tcp),
    checked before any connection: otherwise one line naming it (the command line checks it at parsing)."""
    if address == "local":
        return address
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(str(address))
        get_backend(scheme).get_connector()  # a scheme Dask has no working backend for (ucx uninstalled): TypeError
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a Dask scheduler address ({' '.join(str(exc).split())[:160]}): give 'local' or an "
                         "address like tcp://host:8786, or leave --scheduler out to run here", address) from None
    return address


def local_cluster(workers: int | None):
    """A LocalCluster of `workers` processes; a worker that dies while starting (memory, process limits) is the
    machine's problem, said in one line with what to try."""
    import logging

    from distributed import LocalCluster

    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}: give a positive number of worker processes")
    try:
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                            silence_logs=logging.ERROR)
    except (RuntimeError, OSError) as exc:  # "Nanny failed to start", a start that timed out
        reason = " ".join(str(exc).split()).rstrip(".")[:120]
        raise MachineError(f"the local Dask cluster could not start ({reason}): a worker process died or hung while "
                           "starting, often for lack of memory; try fewer --workers, or leave --scheduler out to run "
                           "in this process") from None


# -- report -----------------------------------------------------------------------------------

def summary_table(outcomes: list[FileOutcome]) -> str:
    """One line per file (status, file, seconds, output or reason) and the counts."""
    table = pd.DataFrame({
        "status": [o.status for o in outcomes],
        "file": [o.source for o in outcomes],
        "rows": [str(o.rows or "") for o in outcomes],
        "seconds": [f"{o.seconds:.1f}" for o in outcomes],
        "output / reason": [o.reason or o.output for o in outcomes],
    })
    counts = {status: sum(o.status == status for o in outcomes) for status in (DONE, SKIPPED, FAILED)}
    totals = ", ".join(f"{n} {status}" for status, n in counts.items())
    left = {name: ("{:<%d}" % table[name].str.len().max()).format for name in table}  # text reads left to right
    return f"{table.to_string(index=False, justify='left', formatters=left)}\n{totals}" if outcomes else "no files"


def expand_sources(items: Iterable[str], settings: S3Settings) -> list[str]:
    """`s3://bucket/prefix/` (ending in `/`) stands for the files directly under it (latents
    files excluded); anything else is one source."""
    from .storage.s3 import list_objects
    from .storage.uri import parse_s3_uri

    sources = []
    for item in items:
        if is_s3_uri(item) and item.endswith("/"):
            bucket, prefix = parse_s3_uri(item)
            found = [o.uri for o in list_objects(bucket, prefix, settings, recursive=False)
                     if not o.key.endswith(SUFFIX) and not o.key.endswith("/")]
            if not found:
                raise InputError("no files under this prefix: check the URI (it lists the files directly under "
                                 "it)", item)
            sources += found
        else:
            sources.append(item)
    return sources
