"""The app's worker pool with real spawned processes: a job runs in another process, reports
progress, is shared by key, and stops when cancelled."""
from __future__ import annotations

import os
import time

import pytest

from ui.jobs import JobPool, job_key

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    pool = JobPool(tmp_path_factory.mktemp("jobs"), workers=2)
    yield pool
    pool.shutdown()


def wait_until(condition, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_job_runs_in_another_process_and_reports_progress(pool):
    job = pool.submit("sleep_steps", "test", steps=6, seconds=0.3)
    assert wait_until(lambda: job.progress()[0] > 0), "no progress reported"
    fraction, message = job.progress()
    assert 0 < fraction < 1 and message.startswith("step ")
    assert job.future.result(timeout=60) != os.getpid()
    assert pool.submit("sleep_steps", steps=6, seconds=0.3) is job  # same key: the same job, its result kept


def test_cancel_stops_a_running_job(pool):
    job = pool.submit("sleep_steps", "long", steps=200, seconds=0.1)  # 20 s unless cancelled
    assert wait_until(lambda: job.progress()[1].startswith("step "))
    started = time.time()
    job.cancel()
    assert wait_until(job.done, timeout=10)
    assert time.time() - started < 2
    assert job.cancelled() and type(job.future.exception()).__name__ == "JobCancelled"
    again = pool.submit("sleep_steps", steps=200, seconds=0.1)
    assert again is not job  # a cancelled job is started afresh when asked again
    again.cancel()


def test_keys_follow_the_arguments():
    assert job_key("fit", {"a": 1, "b": 2}) == job_key("fit", {"b": 2, "a": 1})
    assert job_key("fit", {"a": 1}) != job_key("fit", {"a": 2})


def test_workers_do_not_run_the_main_script_again(tmp_path, monkeypatch):
    """Streamlit runs app.py as __main__; a spawned worker must not run it again (a stray workspace and
    the whole app's imports per worker)."""
    import sys
    import types

    marker = tmp_path / "main-ran"
    script = tmp_path / "app_like.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    pool = JobPool(tmp_path / "jobs", workers=1)
    try:
        assert pool.submit("sleep_steps", steps=1, seconds=0.0).future.result(timeout=60) != os.getpid()
    finally:
        pool.shutdown()
    assert not marker.exists(), "the worker ran the parent's main script"
    assert sys.modules["__main__"].__file__ == str(script)  # restored once the workers started
