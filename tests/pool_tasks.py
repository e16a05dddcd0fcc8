"""Tasks for the tests of the worker pool (`ui.compute.jobs`), not the app's: a job that only sleeps
and reports, and one that reports the worker's thread limits. Workers are spawned and import this
module by its name, `pool_tasks`: pytest puts `tests/` on `sys.path` (as for `s3_helpers`), and a
spawned process starts with its parent's `sys.path`."""
from __future__ import annotations

import os
import time


def sleep_steps(steps: int, seconds: float, progress) -> int:
    """A job that reports `steps` times (for tests of the pool: progress, cancel, another process)."""
    for step in range(steps):
        progress(step / steps, f"step {step + 1} of {steps}")
        time.sleep(seconds)
    return os.getpid()


def thread_counts(progress) -> dict:
    """The worker's thread limits, priority and pid."""
    import torch
    from threadpoolctl import threadpool_info

    from ui.compute.jobs import THREAD_VARIABLES

    pools = {info["internal_api"]: info["num_threads"] for info in threadpool_info()}
    counts = {"torch": torch.get_num_threads(), "pools": pools, "pid": os.getpid(), "nice": os.nice(0)}
    counts.update({name: os.environ.get(name) for name in THREAD_VARIABLES})
    try:
        import numba

        counts["numba"] = numba.get_num_threads()
    except ImportError:
        pass
    return counts
