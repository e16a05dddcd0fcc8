"""The app's worker pool: heavy engine calls (UMAP fits, clustering, ranking, extraction, training)
run in separate processes, so the Streamlit server only draws and no session waits for another's fit.

A job is a function with plain arguments, handed over as `concurrent.futures` takes one: a
top-level function of an importable module (the app's are in `ui.compute.tasks`: plain latentcore
calls, no Streamlit), which the spawned worker imports by its module and qualified name. Its key is
a hash of that name (`task_name`) and the arguments (files enter by `sources.stamp`: path, mtime,
size), so two sessions asking the same thing share one job and its result.
Progress and cancel travel through the job's folder: the worker writes `progress.json`; a
`cancel` file makes the worker's next progress report raise `JobCancelled` (a job not started yet
is simply dropped). A task may also report a JSON `detail` and numpy `arrays` (training: the loss
history and the latest reconstructions), and ask `progress.stop_asked()` to stop cleanly itself: a
`stop` file (`Job.stop`) asks that alone, so the task runs and ends with its own result even when it
had not started (a training stopped at once still says so in its files). A result's large arrays come back
through the job's folder, memory-mapped (`Job.result`): never through the pool's pipe or Dask's scheduler.
Long jobs (training, extraction) run `dedicated`: in a process of their own, so they never hold a
worker that another session's fit waits for. Small inputs run inline: a process round trip costs
more than they do. Workers use every core (a fit on two cores is twice as quick as on one) at a
lower priority (`WORKER_NICE`): the kernel gives the server's reruns the cores whenever they want
them, so the pages stay responsive during a fit (`benchmarks/browser_interaction.py` measures the
other session's rerun during one); `LATENT_EXPLORER_WORKER_THREADS` sets fewer.
With a Dask scheduler named (`LATENT_EXPLORER_SCHEDULER`: "local" for a LocalCluster the pool starts and stops, or
an address), the cluster's workers are the pool's (`DaskWorkers`): the same tasks, keys, progress and cancel, the job
folders read by both sides (the workers see the server's workspace folder at the same path: a LocalCluster does, a
lab's cluster through its shared file system). Wherever it runs, a job first checks that every path among its
arguments lies in the folders its session may reach (`refuse_outside`): the worker, not only the page, keeps a
visitor to their own workspace.
A pool ends with its process, however busy (`JobPool.shutdown`, run at the interpreter's exit: Streamlit's server
exits within 10 s of SIGTERM): its jobs are cancelled, then its workers and the processes they started are ended.
"""
from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from latentcore.errors import InputError, LatentError, MachineError, worker_lost

INLINE_ROWS = int(os.environ.get("LATENT_EXPLORER_INLINE_ROWS", 20_000))
INLINE_PATTERNS = int(os.environ.get("LATENT_EXPLORER_INLINE_PATTERNS", 5_000))  # extraction: costlier rows
# UMAP fits: every one in a worker by default. Even 2,400 rows take ~8 s (numba, holding the GIL):
# in the server that froze every other session's reruns (a 10,000-row fit held one for 18 s).
INLINE_FIT_ROWS = int(os.environ.get("LATENT_EXPLORER_INLINE_FIT_ROWS", 0))
SCHEDULER = os.environ.get("LATENT_EXPLORER_SCHEDULER") or None  # "local" or a Dask scheduler's address; None: here
WORKER_NICE = int(os.environ.get("LATENT_EXPLORER_WORKER_NICE", 10))  # 0: the same priority as the server
# Added to a worker's oom_score_adj: out of memory, the kernel ends a worker (its job fails, said) before the server
WORKER_OOM_BIAS = 500
RESULTS_KEPT = 16
SPILL_BYTES = 1 << 20  # a result's arrays from this size on come back through the job's folder (`spilled`)
# At shutdown (the server's exit): a cancelled job's seconds to stop at its next report, then a process's after
# SIGTERM, before SIGKILL. A server exits within 10 s of SIGTERM however busy (tests/browser/test_e2e_shutdown.py).
CANCEL_GRACE_S = 2.0
TERM_GRACE_S = 1.0
# A job in a process of its own (`dedicated`) whose task has not left its worker this long after its cancel is ended
# with its process (on Dask: its worker restarted): a step that never reports (an uploaded TorchScript model's
# forward that never returns) cannot hold it.
CANCEL_END_S = 10.0


class JobCancelled(Exception):
    """Raised inside a worker when its job's cancel flag is set."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def worker_threads() -> int:
    """Threads of a worker (torch, numba, OpenMP, BLAS): `LATENT_EXPLORER_WORKER_THREADS`, else every
    core (the workers' lower priority, not a core kept idle, is what keeps the server responsive)."""
    return max(1, int(os.environ.get("LATENT_EXPLORER_WORKER_THREADS") or available_cores()))


@dataclass
class Job:
    key: str
    label: str
    folder: Path | None  # None: a job that ran inline (finished when made)
    future: concurrent.futures.Future
    started: float = field(default_factory=time.time)
    _result: object = field(default=None, repr=False)
    end: Callable[[], None] | None = field(default=None, repr=False)  # ends its process (a dedicated job's)
    _ending: threading.Thread | None = field(default=None, repr=False)  # `end` after a cancel, unless it stopped

    def result(self, timeout: float | None = None):
        """The task's return value, its large arrays read back from the job's folder (`restored`); the task's
        error raises here."""
        if self._result is None:
            try:
                value = self.future.result(timeout)
            except Exception as exc:
                said = self.error() if self.future.done() else None
                if said is None or said is exc:
                    raise
                raise said from exc  # a lost worker, in words
            self._result = (restored(value),)
        return self._result[0]

    def _report(self) -> dict:
        try:
            return json.loads((self.folder / "progress.json").read_text())
        except (OSError, ValueError, TypeError):
            return {}

    def progress(self) -> tuple[float, str]:
        """(fraction, message) last reported by the worker."""
        if self.folder is None:
            return 1.0, "done"
        report = self._report()
        try:
            return float(report["fraction"]), str(report["message"])
        except (KeyError, ValueError, TypeError):
            return 0.0, "waiting for a worker" if not self.future.running() else "starting"

    def worker(self) -> str | None:
        """Where the job runs: its Dask worker's name, None in this server's own pool."""
        return self._report().get("worker")

    def left_s(self) -> float | None:
        """Seconds left at the pace so far, once a twentieth is done (None before)."""
        fraction, _ = self.progress()
        return (time.time() - self.started) * (1 - fraction) / fraction if 0.05 <= fraction < 1 else None

    def detail(self) -> dict:
        """The JSON detail of the last report that had one (e.g. a training's loss history)."""
        return self._report().get("detail") or {}

    def arrays(self) -> dict:
        """The numpy arrays of the last report that had some (e.g. the latest reconstructions)."""
        import numpy as np

        try:
            with np.load(self.folder / "arrays.npz", allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        except (OSError, ValueError, TypeError):
            return {}

    def done(self) -> bool:
        """Whether the task has ended and, after a cancel, every process it started (its worker dies first: a child
        still writing would meet the run that resumes it)."""
        return self.future.done() and not (self._ending is not None and self._ending.is_alive())

    def wait(self, seconds: float) -> bool:
        """Whether the job has ended (`done`), waiting for it up to `seconds`."""
        deadline = time.monotonic() + seconds
        concurrent.futures.wait([self.future], timeout=seconds)
        if self.future.done() and self._ending is not None:
            self._ending.join(max(0.0, deadline - time.monotonic()))
        return self.done()

    def cancel(self):
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "cancel").touch()
        started = not self.future.done()
        self.future.cancel()  # succeeds only while queued (on Dask, at once); a running task stops at its next report
        if self.end is not None and started:
            self._ending = threading.Thread(target=self._end_unless_stopped, daemon=True)
            self._ending.start()

    def _end_unless_stopped(self):
        """Its process ended when its task has not left its worker CANCEL_END_S after its cancel (as a killed run
        is: what it wrote is resumed)."""
        deadline = time.monotonic() + CANCEL_END_S
        while not self._left() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not self._left():
            self.end()

    def _left(self) -> bool:
        """Whether the task has left its worker (on Dask, a cancelled future is done at once: the task says so)."""
        return (self.folder / ENDED).exists() or (self.future.done() and not self.future.cancelled())

    def cancelled(self) -> bool:
        return self.future.cancelled() or (self.folder is not None and (self.folder / "cancel").exists())

    def stop(self):
        """Ask the task to stop cleanly by itself (it asks `progress.stop_asked()`), never dropping it."""
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / "stop").touch()

    def stop_asked(self) -> bool:
        return self.folder is not None and (self.folder / "stop").exists()

    def error(self) -> BaseException | None:
        """The exception the task raised (None while running, after success, or when cancelled before it ran;
        JobCancelled when it stopped at a cancel, or was ended after one)."""
        if not self.done() or self.future.cancelled():
            return None
        error = self.future.exception()
        if worker_lost(error):
            return MachineError("its Dask worker died each time it ran it (out of memory, or killed), and Dask gave "
                                f"up: run it again {AGAIN}")
        if not isinstance(error, concurrent.futures.process.BrokenProcessPool):
            return error
        if self.cancelled():
            return JobCancelled(f"ended {CANCEL_END_S:g} s after its cancel: it had not stopped by itself")
        beside = "" if self.end is not None else ", and with it the jobs beside it in the pool"  # a pool's: all end
        return MachineError(f"its worker process ended before the job did (out of memory, or killed){beside}: "
                            f"run it again {AGAIN}")


# How a job whose worker died is run again: the files it finished are kept (an extraction resumes its file)
AGAIN = "(what it finished is kept), with fewer rows or on a machine with more memory"


def task_name(task: Callable) -> str:
    """`module.qualified_name`: how a worker finds the function (pickle's reference) and what a
    job's key names. Only a top-level function of an importable module can cross to a worker."""
    module, qualname = getattr(task, "__module__", None), getattr(task, "__qualname__", None)
    if not callable(task) or not module or not qualname or "<locals>" in qualname or module == "__main__":
        raise TypeError(f"a job's task must be a top-level function of an importable module, not {task!r}")
    return f"{module}.{qualname}"


def job_key(task: Callable, kwargs: dict) -> str:
    """The task and its arguments as a digest; a dataclass argument (a ClusterJob, a BandContrast) by its fields."""
    text = json.dumps([task_name(task), kwargs], sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def _worker_setup(threads: int, waits_sleep: bool = False):
    """Workers run at a lower priority than the server, so drawing pages never waits for a fit, and are the
    first the kernel ends when memory runs out (`WORKER_OOM_BIAS`), with `threads` threads each: the variables for
    libraries not loaded yet (read when they load: torch takes OMP_NUM_THREADS as its own), threadpoolctl for the
    OpenMP/BLAS pools already loaded, torch and numba by their own calls where loaded. A worker loads torch only for
    a task that needs it (importing it here cost every worker about 2 CPU s and 0.2 GB).
    `waits_sleep`: a dedicated worker's (training) OpenMP threads sleep while they wait, as `train-vae`'s do
    (latentcore.train.config.openmp_waits_sleep; set before torch loads)."""
    try:
        os.nice(WORKER_NICE)
    except OSError:
        pass
    with contextlib.suppress(OSError, ValueError):  # Linux only; raised, never lowered (unprivileged processes may not)
        adj = Path("/proc/self/oom_score_adj")
        adj.write_text(str(min(1000, int(adj.read_text()) + WORKER_OOM_BIAS)))
    if waits_sleep:
        from latentcore.train.config import openmp_waits_sleep

        openmp_waits_sleep()
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "numba" in sys.modules:  # loaded before NUMBA_NUM_THREADS was set (else the variable holds)
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


class Progress:
    """The task's `progress(fraction, message, detail=None, arrays=None)`: writes the job's folder
    (atomically) and raises JobCancelled once the job is cancelled, unless `check=False` (a task that
    stops cleanly by itself asks `stop_asked()`)."""

    def __init__(self, folder: Path, task: str):
        self.folder, self.task = Path(folder), task

    def cancelled(self) -> bool:
        """A cancel, or its folder removed: the job was asked again (a newer attempt runs in a folder of its own)."""
        return (self.folder / "cancel").exists() or not self.folder.is_dir()

    def stop_asked(self) -> bool:
        """A stop (`Job.stop`) or a cancel was asked: a task that stops cleanly by itself does now."""
        return (self.folder / "stop").exists() or self.cancelled()

    def __call__(self, fraction, message="", detail: dict | None = None, arrays: dict | None = None,
                 check: bool = True):
        if check and self.cancelled():
            raise JobCancelled(self.task)
        if arrays is not None:
            import numpy as np

            tmp = self.folder / f"arrays.{_writer()}.partial.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, self.folder / "arrays.npz")
        report = {"fraction": float(fraction), "message": str(message)}
        if (worker := dask_worker()) is not None:  # asked at each report: a job's per-source tasks run elsewhere
            report["worker"] = worker
        if detail is None:  # keep the last detail
            try:
                detail = json.loads((self.folder / "progress.json").read_text()).get("detail")
            except (OSError, ValueError):
                detail = None
        if detail is not None:
            report["detail"] = detail
        tmp = self.folder / f"progress.{_writer()}.partial"
        tmp.write_text(json.dumps(report))
        os.replace(tmp, self.folder / "progress.json")


def _writer() -> str:
    """This process and thread: a job's per-source tasks report at once (on Dask, or in threads), each through a
    temporary file of its own, or one's rename takes the file the other is about to rename."""
    return f"{os.getpid()}-{threading.get_ident()}"


ENDED = "ended"  # written in a job's folder when its task leaves the worker, however it ends


def _run_task(folder: str, task: Callable, kwargs: dict, roots: tuple | None = None):
    """Runs in the worker: the task, once its paths are checked against `roots`, with a progress callback that
    writes the job's folder."""
    try:
        refuse_outside(kwargs, roots)
        progress = Progress(Path(folder), task_name(task))
        progress(0.0, "started")
        return spilled(task(progress=progress, **kwargs), Path(folder) / "result")
    finally:
        with contextlib.suppress(OSError):  # its folder removed: the job was asked again meanwhile
            (Path(folder) / ENDED).touch()


@dataclass(frozen=True)
class Spilled:
    """An array of a job's result left in the job's folder (`spilled`), read back by `restored`."""
    path: str


def spilled(value, folder: Path, names=None):
    """`value` with each array of SPILL_BYTES or more saved in `folder` (`.npy`) and replaced by its `Spilled`, through
    dicts, lists, tuples and dataclasses: the server reads a result from the workspace's disk (memory-mapped), never
    through Dask's scheduler or the pool's pipe (10M rows of a study's clustering: 305 MB)."""
    import numpy as np

    names = names if names is not None else itertools.count()
    if isinstance(value, np.ndarray) and value.nbytes >= SPILL_BYTES and value.dtype != object:
        folder.mkdir(exist_ok=True)  # never its job's folder again, once removed: the job was asked again
        path = folder / f"{next(names)}.npy"
        with open(path.with_suffix(".partial"), "wb") as tmp:  # renamed whole: a mapped file never changes
            np.save(tmp, value, allow_pickle=False)
        os.replace(tmp.name, path)
        return Spilled(str(path))
    return _rebuilt(value, lambda item: spilled(item, folder, names))


def restored(value):
    """`value` with each `Spilled` array memory-mapped copy-on-write: a page may change its copy, never the file,
    and the server holds only the pages it reads."""
    import numpy as np

    if isinstance(value, Spilled):
        return np.load(value.path, mmap_mode="c", allow_pickle=False).view(np.ndarray)
    return _rebuilt(value, restored)


def _rebuilt(value, change):
    """`value` with `change` applied to the items of a dict, list or tuple, or the fields of a dataclass; `value`
    itself where nothing changed."""
    if isinstance(value, dict):
        items = {name: change(item) for name, item in value.items()}
        return value if all(items[name] is item for name, item in value.items()) else items
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        items = [change(item) for item in value]
        return value if all(a is b for a, b in zip(items, value)) else type(value)(items)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
        changed = {name: new for name, item in fields.items() if (new := change(item)) is not item}
        return dataclasses.replace(value, **changed) if changed else value
    return value


def dask_worker() -> str | None:
    """The name of the Dask worker running this code, None outside one."""
    if "distributed" not in sys.modules:  # a Dask worker has it loaded
        return None
    from distributed import get_worker

    try:
        return str(get_worker().name)
    except ValueError:
        return None


@contextlib.contextmanager
def fan_out():
    """The scheduler for a job's per-source tasks (latentcore.batch.run_tasks): the Dask cluster running the job (its
    worker's client; the job's thread leaves the worker's pool while it waits), else None (one after another here)."""
    if dask_worker() is None:
        yield None
        return
    from distributed import worker_client

    with worker_client() as client:
        yield client


def refuse_outside(arguments, roots: tuple | None):
    """An InputError naming the first absolute path among `arguments` outside every folder of `roots` (None: no
    check). Paths are resolved first: a link or a '..' does not lead out."""
    if roots is None:
        return
    allowed = [Path(root).resolve() for root in roots]
    for path in _paths(arguments):
        if not any(Path(path).resolve().is_relative_to(root) for root in allowed):
            raise InputError("outside the folders this session may read (its workspace and the built-in demo): "
                             "a job reads only those; open the file from the Data page", path)


NAMED_ONLY = {"root"}  # arguments whose path a job never reads: the folder its report's paths are written relative to


def _paths(value):
    """The absolute paths among `value`'s strings, through tuples, lists, dicts and dataclasses."""
    if isinstance(value, str | os.PathLike):
        if os.path.isabs(value):
            yield os.fspath(value)
    elif isinstance(value, dict):
        for name, item in value.items():
            if name not in NAMED_ONLY:
                yield from _paths(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _paths(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _paths(getattr(value, item.name))


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

    def __init__(self, folder: Path, workers: int | None = None, threads: int | None = None,
                 scheduler: str | None = None):
        cores = available_cores()
        self.workers = workers or int(os.environ.get("LATENT_EXPLORER_WORKERS", max(2, cores - 1)))
        self.threads = threads or worker_threads()
        self.folder = Path(folder)
        self.dask = DaskWorkers(scheduler, self.workers) if scheduler else None
        self.executor = self.dask.executor if self.dask else self._executor(self.workers)
        self.dedicated: dict[str, concurrent.futures.ProcessPoolExecutor] = {}  # job key -> its own process
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        _shut_down_at_exit(self)  # after the executor: concurrent.futures registers its own exit hook on first use

    def where(self) -> str:
        """Where the jobs run, in words (the sidebar says it)."""
        if self.dask:
            return self.dask.describe()
        return f"this server's {self.workers} worker processes"

    def _shared_executor(self):
        """The pool's executor, made again once a worker was lost (the kernel's out-of-memory killer, a crash):
        concurrent.futures then refuses every job, which left the app without workers until the server restarted."""
        if getattr(self.executor, "_broken", False):  # a ProcessPoolExecutor's reason; never set on Dask's
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = self._executor(self.workers)
        return self.executor

    def _executor(self, workers: int, waits_sleep: bool = False) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_setup, initargs=(self.threads, waits_sleep))

    def submit(self, task: Callable, label: str = "", *, fresh: bool = False, dedicated: bool = False,
               roots: tuple | None = None, **kwargs) -> Job:
        """The job for (task, kwargs), `task` a top-level function (see `task_name`): the running or
        finished one if any session asked before (`fresh`: a finished one is run again: an action such
        as an extraction, not a result). `dedicated`: in a new process of its own rather than a pool
        worker (long jobs; on Dask, a task as any other). `roots`: the folders the asking session may read;
        a path outside them is refused here (a result another session made) and where the job runs."""
        refuse_outside(kwargs, roots)
        key, ends, dedicated = job_key(task, kwargs), dedicated, dedicated and not self.dask
        with self.lock:
            job = self.jobs.get(key)
            if job is not None and not job.done():
                return job
            if job is not None and not fresh and not (job.cancelled() or job.future.exception()):
                return job
            # a failed or cancelled attempt removed (its task, if it still runs, reads that as a cancel), and this
            # attempt in a folder of its own: on Dask a cancelled task runs on until its next report, and may not
            # write this one's progress or result
            shutil.rmtree(self.folder / key, ignore_errors=True)
            folder = self.folder / key / uuid.uuid4().hex[:8]
            folder.mkdir(parents=True)
            executor = self._shared_executor()
            if dedicated:
                if key in self.dedicated:
                    self.dedicated.pop(key).shutdown(wait=False)
                executor = self.dedicated[key] = self._executor(1, waits_sleep=True)
            with _main_script_hidden():  # workers start on submit
                future = executor.submit(_run_task, str(folder), task, kwargs, roots)
            if dedicated:  # its process ends with its job (a thread: not from the executor's own thread)
                future.add_done_callback(
                    lambda _, ex=executor: threading.Thread(target=ex.shutdown, daemon=True).start())
            self.jobs[key] = job = Job(key, label or task.__name__, folder, future)
            if ends:  # its own process; on Dask, the worker its report names
                job.end = (functools.partial(_end_workers, executor) if dedicated
                           else lambda: self.dask.restart(job.worker()))
            self._forget_old()
            return job

    def _forget_old(self):
        for key in [k for k, ex in self.dedicated.items() if self.jobs.get(k) is None or self.jobs[k].done()]:
            self.dedicated.pop(key).shutdown(wait=False)  # its process ends: a dedicated one runs one job
        finished = [k for k, j in self.jobs.items() if j.done()]
        for key in finished[:max(0, len(finished) - RESULTS_KEPT)]:
            shutil.rmtree(self.jobs.pop(key).folder.parent, ignore_errors=True)

    def shutdown(self, grace: float = CANCEL_GRACE_S):
        """Cancel every job and end every worker, within `grace` + 2 TERM_GRACE_S seconds however busy they are: a
        running job has `grace` seconds to stop at its next report (a cancel's clean stop: an extraction keeps its
        rows, a training its last batch) and its worker to end, as an idle one does at once; then the workers left
        and the processes they started are ended (`end_processes`). Called at the interpreter's exit too."""
        with self.lock:
            jobs, executors = list(self.jobs.values()), [self.executor, *self.dedicated.values()]
        workers = [worker.pid for executor in executors for worker in _workers(executor)]  # shutdown forgets them
        for job in jobs:
            job.cancel()
        if self.dask:  # a running task stops at its next report, as it reads its cancel flag
            self.dask.close()
            return
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=True)  # its workers end once no job runs
        end_processes(workers, wait=grace)


class DaskWorkers:
    """A Dask cluster as the pool's workers: "local" starts a LocalCluster of `workers` processes (one thread each)
    that ends with the pool; an address connects to a running scheduler (latentcore.batch.open_client). Its
    `executor` hands out `concurrent.futures` futures: cancelling one cancels the Dask future."""

    def __init__(self, scheduler: str, workers: int):
        from latentcore.batch import open_client

        try:
            with _main_script_hidden():  # a LocalCluster's worker processes are spawned as the pool's are
                self.client, self.cluster = open_client(scheduler, workers)
        except LatentError as exc:
            raise type(exc)(f"{exc}; in the app, the scheduler is the deployment's LATENT_EXPLORER_SCHEDULER "
                            "(docs/deployment.md): correct it, or unset it to run the work in this server's own "
                            "processes") from None
        self.scheduler = scheduler
        if self.cluster is not None:  # on the server's machine: its reruns come first, as with its own workers
            self.client.register_plugin(_lower_priority(WORKER_NICE, WORKER_OOM_BIAS))
        self.executor = self.client.get_executor(pure=False)

    def describe(self) -> str:
        count = len(self.client.nthreads())  # asked of the scheduler: the client's scheduler_info() lags a new cluster
        if self.cluster is not None:
            return f"a Dask LocalCluster of {count} workers started by this server"
        return f"the Dask scheduler {self.scheduler} ({count} workers)"

    def restart(self, worker: str | None):
        """Restart the worker named `worker` (its nanny starts it again): a task that never reports held it."""
        addresses = [address for address, info in self.client.scheduler_info()["workers"].items()
                     if str(info["name"]) == worker]
        if addresses:
            with contextlib.suppress(Exception):  # gone already, or without a nanny to start it again
                self.client.restart_workers(addresses, raise_for_error=False)

    def close(self):
        """Cancel every task, then close the client and the LocalCluster the pool started."""
        self.executor.shutdown(wait=False)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _lower_priority(nice: int, oom_bias: int):
    """A Dask worker plugin that runs its worker at priority `nice`, `oom_bias` added to its oom_score_adj, as the
    pool's own workers (`_worker_setup`; a worker the nanny restarts too); defined here, so Dask's cloudpickle sends
    the class itself (a worker need not import this module to run it)."""
    from distributed import WorkerPlugin

    class LowerPriority(WorkerPlugin):
        name = "lower-priority"

        def setup(self, worker):
            os.nice(max(0, nice - os.nice(0)))
            with contextlib.suppress(OSError, ValueError):
                with open("/proc/self/oom_score_adj", "r+") as adj:
                    adj.write(str(min(1000, int(adj.read()) + oom_bias)))

    return LowerPriority()


def _shut_down_at_exit(pool: JobPool):
    """`pool.shutdown()` when the interpreter exits (Streamlit's server returns from its main thread on SIGTERM),
    before concurrent.futures joins the workers there, which would wait for every running job (a stopped worker:
    for ever). `threading._register_atexit` is where concurrent.futures registers that join; its hooks run last
    registered first. A weak reference: a pool dropped earlier (tests make several) is not kept for it."""
    ref = weakref.ref(pool)

    def shut_down():
        if (alive := ref()) is not None:
            alive.shutdown()

    threading._register_atexit(shut_down)


def _workers(executor: concurrent.futures.ProcessPoolExecutor) -> list[multiprocessing.Process]:
    """The executor's worker processes (`_processes`, which Python 3.14's `terminate_workers` ends too)."""
    return list((getattr(executor, "_processes", None) or {}).values())


def _end_workers(executor: concurrent.futures.ProcessPoolExecutor):
    end_processes([worker.pid for worker in _workers(executor)])


def end_processes(pids, wait: float = 0.0, grace: float = TERM_GRACE_S):
    """End these processes and every process they started: `wait` seconds to end by themselves, then SIGTERM, then
    SIGKILL to those left `grace` seconds later (a stopped process ends only so); `wait` + 2 `grace` seconds at most.
    Their descendants are listed before each step and kept: one whose parent has ended is no longer found."""
    roots, family = [], {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            roots.append(psutil.Process(pid))
    for send, seconds in ((None, wait), (psutil.Process.terminate, grace), (psutil.Process.kill, grace)):
        for process in [*roots, *_descendants(roots)]:
            family.setdefault(process.pid, process)
        family = {pid: process for pid, process in family.items() if not _ended(process)}
        for process in family.values() if send is not None else ():
            with contextlib.suppress(psutil.Error):
                send(process)
        deadline = time.monotonic() + seconds
        while not all(map(_ended, family.values())) and time.monotonic() < deadline:
            time.sleep(0.05)


def _descendants(processes) -> list[psutil.Process]:
    found = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            found += process.children(recursive=True)
    return found


def _ended(process) -> bool:
    """Gone, or a zombie (ended: its parent reaps it)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _no_progress(*args, **kwargs):
    pass


def run_inline(task: Callable, progress=None, **kwargs):
    """The same task in this process (small inputs)."""
    return task(progress=progress or _no_progress, **kwargs)


def inline_job(task: Callable, label: str = "", progress=None, **kwargs) -> Job:
    """The task run here now, as a finished Job (its result, or the error it raised)."""
    future = concurrent.futures.Future()
    try:
        future.set_result(run_inline(task, progress=progress, **kwargs))
    except Exception as exc:
        future.set_exception(exc)
    return Job(job_key(task, kwargs), label or task.__name__, None, future)
