"""Tasks for the tests of the worker pool (`ui.compute.jobs`), not the app's: a job that only sleeps
and reports (and one that logs which attempt reports), one whose worker dies, one that starts processes and waits
for them without a word, and one that reports the worker's thread limits. Workers are spawned and import this
module by its name, `pool_tasks`: pytest puts `tests/` on `sys.path` (as for `s3_helpers`), and a spawned process
starts with its parent's `sys.path`."""
from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from latentcore.analysis.roi import Roi

# A training of the demo scan that takes seconds: 400 patterns of 16 x 16 (latentcore.train.TrainConfig's fields); the
# learning rate does not depend on the number of epochs, so a run stopped and resumed to N epochs is a fresh N-epoch run
TINY = dict(roi=Roi(0.0, 28.5, 0.0, 28.5), latent_dim=3, input_size=16, channels=(4, 8), batch_size=32, device="cpu",
            patience=None, lr_schedule="constant")


def sleep_steps(steps: int, seconds: float, progress) -> int:
    """A job that reports `steps` times (for tests of the pool: progress, cancel, another process)."""
    for step in range(steps):
        progress(step / steps, f"step {step + 1} of {steps}")
        time.sleep(seconds)
    return os.getpid()


def logged_steps(log: str, steps: int, seconds: float, progress) -> None:
    """`sleep_steps` that appends "<its job folder's name> <step>" to `log` before each report: which attempt of a
    job wrote on, and for how long."""
    for step in range(steps):
        with open(log, "a") as out:
            out.write(f"{progress.folder.name} {step}\n")
        progress(step / steps, f"step {step + 1} of {steps}")
        time.sleep(seconds)


def logged_sleep(item: int, log: str, seconds: float) -> int:
    """A per-source task of `batch.run_tasks` that says it started (a line in `log`), then sleeps."""
    with open(log, "a") as out:
        out.write(f"{item}\n")
    time.sleep(seconds)
    return item


def worker_data_and_keys(item: int, s3, shared) -> tuple:
    """(the types of this Dask worker's data, the secret of the `s3` settings it was given): what a run_tasks task
    sees of the values shared with it."""
    from distributed import get_worker

    return sorted({type(value).__name__ for value in get_worker().data.values()}), s3.credentials.secret_access_key


def dies(progress) -> None:
    """A job whose worker dies (as the kernel's out-of-memory killer ends it) each time it runs."""
    progress(0.0, "dying")
    os.kill(os.getpid(), 9)


def silent(seconds: float, children: int, progress, deaf: bool = False) -> None:
    """A job that starts `children` processes sleeping `seconds` (`deaf`: ignoring SIGTERM, so that only SIGKILL
    ends them), reports once ("<its pid> <their pids>") and waits for them without another report, so it never
    sees a cancel: as a numba compile does, or an extraction waiting on its reader processes."""
    sleep = ["sh", "-c", f"trap '' TERM; exec sleep {seconds}"] if deaf else ["sleep", str(seconds)]
    started = [subprocess.Popen(sleep) for _ in range(children)]
    progress(0.0, " ".join(str(pid) for pid in [os.getpid(), *(child.pid for child in started)]))
    time.sleep(seconds)
    for child in started:
        child.wait()


def thread_counts(progress) -> dict:
    """The worker's thread limits, priority and pid, and whether torch was loaded before the task loaded it."""
    torch_loaded = "torch" in sys.modules
    import torch
    from threadpoolctl import threadpool_info

    from ui.compute.jobs import THREAD_VARIABLES

    pools = {info["internal_api"]: info["num_threads"] for info in threadpool_info()}
    counts = {"torch": torch.get_num_threads(), "pools": pools, "pid": os.getpid(), "nice": os.nice(0),
              "oom_score_adj": int(Path("/proc/self/oom_score_adj").read_text()), "torch_loaded": torch_loaded}
    counts.update({name: os.environ.get(name) for name in (*THREAD_VARIABLES, "OMP_WAIT_POLICY")})
    try:
        import numba

        counts["numba"] = numba.get_num_threads()
    except ImportError:
        pass
    return counts


@dataclasses.dataclass(frozen=True)
class Drawn:
    """A result's dataclass holding an array, as a page's `ScatterView` does."""
    x: np.ndarray
    title: str


def arrays_of(rows: int, progress=None) -> dict:
    """A result with large arrays (`rows` values) in a dict, a dataclass and a tuple, and a small one."""
    values = np.arange(rows, dtype=np.float64) / 3
    return {"values": values, "small": np.arange(3), "view": Drawn(values[::-1].copy(), "t"), "pair": (values * 2, "b")}


def check_spilled(job, rows: int):
    """The job of `arrays_of(rows)`: what crossed from its worker is a few hundred bytes (its large arrays stayed in
    the job's folder), what `Job.result` gives has the task's bits, and a page changing its copy leaves the file."""
    sent = job.future.result(timeout=120)
    assert len(pickle.dumps(sent)) < 2_000, sent
    got, want = job.result(), arrays_of(rows)
    for mine, theirs in ((got["values"], want["values"]), (got["view"].x, want["view"].x),
                         (got["pair"][0], want["pair"][0]), (got["small"], want["small"])):
        assert type(mine) is np.ndarray and mine.dtype == theirs.dtype and mine.tobytes() == theirs.tobytes()
    assert (got["view"].title, got["pair"][1]) == ("t", "b")
    got["values"][1] = -1.0
    assert np.load(sent["values"].path)[1] == want["values"][1]


def wait_until(condition, timeout=60.0) -> bool:
    """Whether `condition()` came true within `timeout` seconds (polled every 0.05 s): the pool tests' wait."""
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False
