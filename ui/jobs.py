"""The app's worker pool: heavy engine calls (UMAP fits, clustering, ranking) run in separate
processes, so the Streamlit server only draws and no session waits for another's fit.

A job is a top-level function of `ui.tasks` (plain latentcore calls, no Streamlit) with plain
arguments. Its key is a hash of the task name and arguments (files enter by `loaders.stamp`:
path, mtime, size), so two sessions asking the same thing share one job and its result.
Progress and cancel travel through the job's folder: the worker writes `progress.json`; a
`cancel` file makes the worker's next progress report raise `JobCancelled` (a job not started yet
is simply dropped). Small inputs run inline: a process round trip costs more than they do.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

INLINE_ROWS = int(os.environ.get("LATENT_EXPLORER_INLINE_ROWS", 20_000))
WORKER_NICE = int(os.environ.get("LATENT_EXPLORER_WORKER_NICE", 10))  # 0: the same priority as the server
RESULTS_KEPT = 16


class JobCancelled(Exception):
    """Raised inside a worker when its job's cancel flag is set."""


@dataclass
class Job:
    key: str
    label: str
    folder: Path
    future: concurrent.futures.Future
    started: float = field(default_factory=time.time)

    def progress(self) -> tuple[float, str]:
        """(fraction, message) last reported by the worker."""
        try:
            report = json.loads((self.folder / "progress.json").read_text())
            return float(report["fraction"]), str(report["message"])
        except (OSError, ValueError, KeyError):
            return 0.0, "waiting for a worker" if not self.future.running() else "starting"

    def done(self) -> bool:
        return self.future.done()

    def cancel(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "cancel").touch()
        self.future.cancel()  # succeeds only while queued; a running job stops at its next report

    def cancelled(self) -> bool:
        return self.future.cancelled() or (self.folder / "cancel").exists()


def job_key(task: str, kwargs: dict) -> str:
    text = json.dumps([task, kwargs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _worker_setup(threads: int):
    """Workers run at a lower priority than the server, so drawing pages never waits for a fit,
    with `threads` threads each."""
    try:
        os.nice(WORKER_NICE)
    except OSError:
        pass
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _run_task(folder: str, task: str, kwargs: dict):
    """Runs in the worker: the task with a progress callback that writes the job's folder."""
    from . import tasks

    folder = Path(folder)

    def progress(fraction, message=""):
        if (folder / "cancel").exists():
            raise JobCancelled(task)
        tmp = folder / "progress.json.partial"
        tmp.write_text(json.dumps({"fraction": float(fraction), "message": str(message)}))
        os.replace(tmp, folder / "progress.json")

    progress(0.0, "started")
    return getattr(tasks, task)(progress=progress, **kwargs)


@contextlib.contextmanager
def _main_script_hidden():
    """Streamlit runs app.py as `__main__`, and a spawned process runs its parent's main script
    again before it takes a job: the whole app, in bare mode, with a stray workspace of its own,
    seconds of imports per worker. Hide the script while workers start."""
    main = sys.modules["__main__"]
    script = main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        if script is not None:
            main.__file__ = script


class JobPool:
    """A spawn-context process pool with jobs keyed by content; results kept for every session."""

    def __init__(self, folder: Path, workers: int | None = None, threads: int | None = None):
        cores = os.cpu_count() or 2
        self.workers = workers or int(os.environ.get("LATENT_EXPLORER_WORKERS", max(2, cores - 1)))
        threads = threads or cores  # niced: they take the cores the server leaves idle
        self.folder = Path(folder)
        self.executor = concurrent.futures.ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_setup, initargs=(threads,))
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def submit(self, task: str, label: str = "", **kwargs) -> Job:
        """The job for (task, kwargs): the running or finished one if any session asked before."""
        key = job_key(task, kwargs)
        with self.lock:
            job = self.jobs.get(key)
            if job is not None and not (job.done() and (job.cancelled() or job.future.exception())):
                return job
            folder = self.folder / key
            shutil.rmtree(folder, ignore_errors=True)  # a failed or cancelled attempt: start afresh
            folder.mkdir(parents=True)
            with _main_script_hidden():  # workers start on submit
                future = self.executor.submit(_run_task, str(folder), task, kwargs)
            self.jobs[key] = job = Job(key, label or task, folder, future)
            self._forget_old()
            return job

    def _forget_old(self):
        finished = [k for k, j in self.jobs.items() if j.done()]
        for key in finished[:max(0, len(finished) - RESULTS_KEPT)]:
            shutil.rmtree(self.jobs.pop(key).folder, ignore_errors=True)

    def shutdown(self):
        for job in self.jobs.values():
            job.cancel()
        self.executor.shutdown(wait=True, cancel_futures=True)


def run_inline(task: str, progress=None, **kwargs):
    """The same task in this process (small inputs)."""
    from . import tasks

    return getattr(tasks, task)(progress=progress or (lambda *a: None), **kwargs)
