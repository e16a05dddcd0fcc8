"""The door to the worker pool (`ui.compute.jobs`, running `ui.compute.tasks`): small inputs run here at once
(thresholds in `jobs`: INLINE_ROWS, INLINE_PATTERNS, INLINE_FIT_ROWS), larger ones in a worker while the page
shows their progress. A job's key is its task and arguments (files by their `sources.stamp`), so a result is
computed once per input and shared by reruns and sessions. Extraction and training start here too, and the
training settings sized for the machine are counted here."""
from __future__ import annotations

import streamlit as st

from latentcore.storage import is_s3_uri

from ..kept import Kept
from ..session import lifecycle, state, workspace
from . import jobs, tasks
from .sources import get_model, stamp


@st.cache_resource(show_spinner=False)
def app_pool() -> jobs.JobPool:
    """One pool per server process, shared by every session: on the deployment's Dask cluster when it names one."""
    return jobs.JobPool(workspace.WORKDIR_ROOT / "jobs", scheduler=jobs.SCHEDULER)


def _submit(task, label: str, **kwargs) -> jobs.Job:
    """`app_pool().submit` for this session: its paths checked against the folders it may reach, here and where the
    job runs."""
    return app_pool().submit(task, label, roots=lifecycle.reachable_folders(), **kwargs)


def where_work_runs() -> str:
    """Where the pool's jobs run, in words: this server's processes or the deployment's Dask cluster."""
    return app_pool().where()


_INLINE = Kept(32)  # job key -> result of a small job run in this process, shared by sessions


def show_waits_with(view):
    """`view` draws what a page shows while a job computes (ui.widgets.waiting: `running_here(label, run)`,
    `cancelled(label, key)`, `pending(job)`; the last two stop the page): this module draws nothing."""
    global _view
    _view = view


_view = None


def _waits():
    if _view is None:
        raise RuntimeError("no view draws the pool's waits: app.py gives one (dispatch.show_waits_with)")
    return _view


def pooled(task, label: str, rows: int, inline_rows: int | None = None, here=None, dedicated: bool = False,
           **kwargs):
    """The result of `task` (a function of ui.compute.tasks) on `kwargs`. Small inputs (<= `inline_rows`,
    default jobs.INLINE_ROWS) run here (`here()`: arguments that replace the pool's when run here, such
    as the server's shared model; the key stays the pool's); others go to the worker pool, and until
    their result is in, the page shows the job's progress and a cancel button and stops (it reruns by
    itself when the job ends; other widgets stay usable meanwhile). `dedicated`: never here, always in a process
    of its own (`runs_code`)."""
    result, running = pooled_or_running(task, label, rows, inline_rows, here, dedicated, **kwargs)
    if running is not None:
        _waits().pending(running)
    return result


def pooled_or_running(task, label: str, rows: int, inline_rows: int | None = None, here=None, dedicated: bool = False,
                      **kwargs) -> tuple[object, jobs.Job | None]:
    """`pooled` that lets the page go on while a worker computes: (the result, None) once it is in, else (None,
    the running Job), whose progress `ui.widgets.waiting.watch` shows (the page reruns when it ends)."""
    key = jobs.job_key(task, kwargs)
    if rows <= (jobs.INLINE_ROWS if inline_rows is None else inline_rows) and not dedicated:
        jobs.refuse_outside(kwargs, lifecycle.reachable_folders())
        return _INLINE.get(key, lambda: _waits().running_here(
            label, lambda: jobs.run_inline(task, **{**kwargs, **(here() if here else {})}))), None
    job = app_pool().jobs.get(key)
    if job is not None and job.cancelled() and job.done() and not state.restart_asked(key):  # until done: cancelling
        _waits().cancelled(label, key)
    state.forget_restart(key)
    job = _submit(task, label, dedicated=dedicated, **kwargs)
    if job.done() and not job.cancelled():
        return job.result(), None  # a job's latentcore error raises here and becomes a message (user_errors)
    return None, job


@st.cache_resource(show_spinner=False)
def start_warm_up() -> jobs.Job:
    """numba's compilation (`tasks.warm_up`), once per server, at its start, in a worker: a fit's worker then
    loads the code, and the server's first pages never wait for a compilation holding its GIL."""
    return app_pool().submit(tasks.warm_up, "Compiling numba code")


def runs_code(spec: dict) -> bool:
    """Whether the spec's model is a program, not weights: a TorchScript archive (read from its zip's directory,
    the model not loaded), checked before it runs (`torchscript.refuse_reach`) but whose forward may still loop or
    allocate without end, so it runs only in a process of its own, which Cancel ends."""
    from latentcore.models import is_torchscript_archive

    return is_torchscript_archive(spec["path"])


def extracts_here(items: int, spec: dict) -> bool:
    """Whether an extraction of `items` patterns runs in this server: up to jobs.INLINE_PATTERNS, and never a
    TorchScript model's (`runs_code`)."""
    return items <= jobs.INLINE_PATTERNS and not runs_code(spec)


def start_extraction(items: int, spec: dict, progress, **kwargs) -> jobs.Job:
    """An extraction (`tasks.extract`, the CLI's extract_file) of `items` patterns: here at once when
    `extracts_here`, with the server's shared model and `progress`, as a finished Job; else in a process of its own
    (the Job runs on; `ui.widgets.waiting.watch` shows it)."""
    if extracts_here(items, spec):
        return jobs.inline_job(tasks.extract, "Extraction", model=get_model(spec), progress=progress, **kwargs)
    return _submit(tasks.extract, f"Extracting {items:,} items", fresh=True, dedicated=True,
                   model=_model_files(spec), **kwargs)


def start_extractions(items: int, spec: dict, **kwargs) -> jobs.Job:
    """Several files' extractions (`tasks.extract_several`) in a process of its own; `items`: those of the
    workspace's files (an S3 object's are counted where it is read)."""
    count, remote = len(kwargs["sources"]), sum(is_s3_uri(source) for source in kwargs["sources"])
    label = (f"Extracting {count} files, {remote} of them read from S3 where they run" if remote
             else f"Extracting {items:,} items of {count} files")
    return _submit(tasks.extract_several, label, fresh=True, dedicated=True, model=_model_files(spec), **kwargs)


def _model_files(spec: dict) -> dict:
    """A model spec as a worker loads it: its file's stamp is part of the job's key."""
    return {"path": spec["path"], "arch": spec.get("arch"), "options": spec.get("options"),
            "stamp": stamp(spec["path"])}


def start_training(config: dict, label: str) -> jobs.Job:
    """A VAE training (`tasks.train`, the CLI's train_vae) in a process of its own."""
    return _submit(tasks.train, label, fresh=True, dedicated=True, config=config)


def sized_training(count: int, side: int, device: str, latent_dim: int) -> dict:
    """The Train page's defaults for `count` patterns of side `side` on `device` (`tasks.train_sizing`): counted,
    the same on this machine at any load (the machine's rate is measured once, in a second or two)."""
    return pooled(tasks.train_sizing, "Sizing the training for this machine", 0, count=count, side=side,
                  device=device, latent_dim=latent_dim)


def training_estimate(values: dict, count: int, device: str, latent_dim: int):
    """The `Pace` of a run of these settings on idle cores (`tasks.train_estimate`), counted as the sizing counts."""
    from latentcore.train.pace import Pace

    return Pace(**pooled(tasks.train_estimate, "Counting the run of these settings", 0, values=values,
                         count=count, device=device, latent_dim=latent_dim))


def last_training_run(folder: str) -> dict | None:
    """The last finished training run under `folder` (the workspace's models), as its files say
    (`latentcore.train.outputs.last_finished_run`): a few small files, read on each call."""
    from latentcore.train.outputs import last_finished_run

    return last_finished_run(folder)


def stopped_training_runs(folder: str, inputs=()) -> list[dict]:
    """The training runs under `folder` stopped before their epochs, which resume from their checkpoints
    (`latentcore.train.outputs.stopped_runs`: their files found among `inputs` by name), newest first: read from
    their files on each call, so every tab and every session of the workspace sees them."""
    from latentcore.train.outputs import stopped_runs

    return stopped_runs(folder, inputs)


def mean_pattern(job, sizes: dict[str, int], start: bool = False):
    """The mean pattern (`MeanPattern`) of a `MeanPatternJob` (`sizes`: partition -> row count of its latents, in
    order), streamed from its source by `mean-pattern`'s own run. Up to jobs.INLINE_PATTERNS rows: here at once.
    More: in the worker pool, once started (`start`: a large selection does not start a long read by itself);
    until its result is in, its running Job, or None while it is not started (or was cancelled)."""
    kwargs = {"job": job, "sizes": sizes, "source": stamp(job.source)}  # a rewritten source: a new job
    jobs.refuse_outside(kwargs, lifecycle.reachable_folders())
    if len(job.rows) <= jobs.INLINE_PATTERNS:
        return _INLINE.get(jobs.job_key(tasks.mean_pattern, kwargs),
                           lambda: jobs.run_inline(tasks.mean_pattern, **kwargs))
    found = app_pool().jobs.get(jobs.job_key(tasks.mean_pattern, kwargs))
    if (found is None or found.cancelled()) and not start:
        return None
    running = _submit(tasks.mean_pattern, f"Mean pattern of {len(job.rows):,} rows", **kwargs)
    if running.done() and not running.cancelled():
        return running.result()  # a job's latentcore error raises here and becomes a message (user_errors)
    return running
