"""Tasks for the tests of the worker pool (`ui.compute.jobs`), not the app's: a job that only sleeps
and reports, one that starts processes and waits for them without a word, and one that reports the
worker's thread limits. Workers are spawned and import this module by its name, `pool_tasks`: pytest
puts `tests/` on `sys.path` (as for `s3_helpers`), and a spawned process starts with its parent's
`sys.path`."""
from __future__ import annotations

import os
import subprocess
import time


def sleep_steps(steps: int, seconds: float, progress) -> int:
    """A job that reports `steps` times (for tests of the pool: progress, cancel, another process)."""
    for step in range(steps):
        progress(step / steps, f"step {step + 1} of {steps}")
        time.sleep(seconds)
    return os.getpid()


def silent(seconds: float, children: int, progress) -> None:
    """A job that starts `children` processes sleeping `seconds`, reports once ("<its pid> <their pids>") and
    waits for them without another report, so it never sees a cancel: as a numba compile does, or an
    extraction waiting on its reader processes."""
    started = [subprocess.Popen(["sleep", str(seconds)]) for _ in range(children)]
    progress(0.0, " ".join(str(pid) for pid in [os.getpid(), *(child.pid for child in started)]))
    time.sleep(seconds)
    for child in started:
        child.wait()


def thread_counts(progress) -> dict:
    """The worker's thread limits, priority and pid."""
    import torch
    from threadpoolctl import threadpool_info

    from ui.compute.jobs import THREAD_VARIABLES

    pools = {info["internal_api"]: info["num_threads"] for info in threadpool_info()}
    counts = {"torch": torch.get_num_threads(), "pools": pools, "pid": os.getpid(), "nice": os.nice(0)}
    counts.update({name: os.environ.get(name) for name in (*THREAD_VARIABLES, "OMP_WAIT_POLICY")})
    try:
        import numba

        counts["numba"] = numba.get_num_threads()
    except ImportError:
        pass
    return counts


def wait_until(condition, timeout=60.0) -> bool:
    """Whether `condition()` came true within `timeout` seconds (polled every 0.05 s): the pool tests' wait."""
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False
