"""The app's worker pool with real spawned processes: a job runs in another process, reports
progress, is shared by key, and stops when cancelled; the pool ends within seconds however busy."""
from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from pool_tasks import TINY, arrays_of, check_spilled, silent, sleep_steps, thread_counts, wait_until
from ui.compute import tasks
from ui.compute.jobs import JobPool, job_key

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    pool = JobPool(tmp_path_factory.mktemp("jobs"), workers=2)
    yield pool
    pool.shutdown()


def test_a_job_runs_in_another_process_and_reports_progress(pool):
    job = pool.submit(sleep_steps, "test", steps=6, seconds=0.3)
    assert wait_until(lambda: job.progress()[0] > 0), "no progress reported"
    fraction, message = job.progress()
    assert 0 < fraction < 1 and message.startswith("step ")
    assert not job.wait(0.01)  # still running: the page's poll draws its progress
    assert job.wait(60) and job.done()  # a poll waiting for it wakes when it ends
    assert job.result(timeout=0) != os.getpid()
    assert pool.submit(sleep_steps, steps=6, seconds=0.3) is job  # same key: the same job, its result kept


def test_cancel_stops_a_running_job(pool):
    job = pool.submit(sleep_steps, "long", steps=200, seconds=0.1)  # 20 s unless cancelled
    assert wait_until(lambda: job.progress()[1].startswith("step "))
    started = time.time()
    job.cancel()
    assert wait_until(job.done, timeout=10)
    assert time.time() - started < 2
    assert job.cancelled() and type(job.future.exception()).__name__ == "JobCancelled"
    again = pool.submit(sleep_steps, steps=200, seconds=0.1)
    assert again is not job  # a cancelled job is started afresh when asked again
    again.cancel()


def test_cancel_ends_a_job_in_its_own_process_that_never_reports_again(pool, monkeypatch):
    """A dedicated job that never reaches its next report (`silent`: as a model's forward that never returns) is
    ended CANCEL_END_S after its cancel (here 1 s), with the process it started, and reads as cancelled only then:
    the child ignores SIGTERM and outlives the worker by TERM_GRACE_S (a child still writing would meet the run
    that resumes it)."""
    import psutil

    import ui.compute.jobs
    from ui.compute.jobs import TERM_GRACE_S

    monkeypatch.setattr(ui.compute.jobs, "CANCEL_END_S", 1.0)
    job = pool.submit(silent, "silent", dedicated=True, seconds=602, children=1, deaf=True)
    assert wait_until(lambda: job.progress()[1][:1].isdigit())
    processes = [psutil.Process(int(pid)) for pid in job.progress()[1].split()]  # its worker and the child
    started = time.monotonic()
    job.cancel()
    assert wait_until(job.done, timeout=10) and time.monotonic() - started < 1.0 + 2 * TERM_GRACE_S + 1
    assert type(job.error()).__name__ == "JobCancelled" and "ended 1 s after its cancel" in str(job.error())
    assert not [p.pid for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_worker_lost_mid_job_is_said_and_the_next_job_gets_fresh_workers(tmp_path):
    """A pool worker killed mid-job (the kernel's out-of-memory killer, a crash): its job fails in one line that says
    what happened and what to do, and the pool is not left unusable (concurrent.futures refuses every job once one
    of its workers is lost): the next job runs in a fresh worker."""
    from latentcore.errors import MachineError

    pool = JobPool(tmp_path / "jobs", workers=2)
    try:
        lost = pool.submit(silent, "lost", seconds=603, children=0)
        assert wait_until(lambda: lost.progress()[1][:1].isdigit())
        os.kill(int(lost.progress()[1].split()[0]), signal.SIGKILL)
        assert lost.wait(30)
        assert isinstance(lost.error(), MachineError) and "out of memory" in str(lost.error())
        with pytest.raises(MachineError, match="run it again"):
            lost.result()
        assert pool.submit(sleep_steps, "next", steps=1, seconds=0.0).result(timeout=60) != os.getpid()
    finally:
        pool.shutdown()


def test_long_jobs_in_their_own_processes_never_hold_the_pool_workers(pool):
    long = [pool.submit(sleep_steps, f"long {n}", dedicated=True, steps=400, seconds=0.1 + n / 1000)
            for n in range(3)]  # more long jobs than the pool has workers
    assert wait_until(lambda: all(job.progress()[1].startswith("step ") for job in long))
    quick = pool.submit(sleep_steps, "quick", steps=1, seconds=0.0)
    assert quick.future.result(timeout=20) != os.getpid()  # a pool worker was free
    assert not any(job.done() for job in long)
    for job in long:
        job.cancel()
    assert wait_until(lambda: all(job.done() for job in long), timeout=10)


def test_shutdown_ends_busy_and_stopped_workers_and_the_processes_they_started_within_its_bound(tmp_path):
    """What ends a server's pool when it exits (SIGTERM): a job that stops at its next report ends cleanly; a worker
    silent in a long job, a stopped one (SIGSTOP: only SIGKILL ends it) and the processes they started are ended,
    all within the bound `shutdown` states."""
    import psutil

    from ui.compute.jobs import CANCEL_GRACE_S, TERM_GRACE_S

    pool = JobPool(tmp_path / "jobs", workers=2)
    polite = pool.submit(sleep_steps, "polite", steps=6000, seconds=0.1)
    busy = pool.submit(silent, "busy", seconds=600, children=1)
    stopped = pool.submit(silent, "stopped", dedicated=True, seconds=601, children=1)
    assert wait_until(lambda: all(job.progress()[1][:1].isdigit() for job in (busy, stopped)))
    pids = [int(pid) for job in (busy, stopped) for pid in job.progress()[1].split()]  # 2 workers, 2 children
    processes = [psutil.Process(pid) for pid in pids]
    os.kill(pids[2], signal.SIGSTOP)
    try:
        started = time.monotonic()
        pool.shutdown()
        assert time.monotonic() - started < CANCEL_GRACE_S + 2 * TERM_GRACE_S + 1
        assert not [p.pid for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert type(polite.error()).__name__ == "JobCancelled"  # it stopped by itself, at its next report
    finally:
        for process in processes:  # what a failing shutdown left must not outlive the test
            with contextlib.suppress(psutil.Error):
                process.kill()


def test_progress_reported_at_once_by_several_tasks_of_one_job_is_never_lost(tmp_path):
    """A study's per-source tasks report into one job folder at the same moment (on Dask, in other processes;
    here in threads): each report lands whole, and none fails on another's temporary file."""
    import concurrent.futures
    import json

    from ui.compute.jobs import Progress

    progress = Progress(tmp_path, "extract")

    def report(source: int):
        for step in range(300):
            progress(step / 300, f"source {source}", detail={"source": source}, arrays={"rows": np.arange(3)})

    with concurrent.futures.ThreadPoolExecutor(4) as threads:
        list(threads.map(report, range(4)))  # raises what a report raised
    last = json.loads((tmp_path / "progress.json").read_text())
    assert last["message"] == f"source {last['detail']['source']}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrays.npz", "progress.json"]  # no temporary left


def test_a_results_large_arrays_come_back_through_the_jobs_folder_with_their_bits(pool):
    check_spilled(pool.submit(arrays_of, rows=400_000), 400_000)


def test_keys_follow_the_arguments():
    fit = tasks.fit_embedding
    assert job_key(fit, {"a": 1, "b": 2}) == job_key(fit, {"b": 2, "a": 1})
    assert job_key(fit, {"a": 1}) != job_key(fit, {"a": 2})
    assert job_key(fit, {"a": 1}) != job_key(tasks.kmeans_labels, {"a": 1})  # the function is part of the key
    with pytest.raises(TypeError):  # a worker could not import it
        job_key(lambda progress: 0, {})


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
        assert pool.submit(sleep_steps, steps=1, seconds=0.0).result(timeout=60) != os.getpid()
    finally:
        pool.shutdown()
    assert not marker.exists(), "the worker ran the parent's main script"
    assert sys.modules["__main__"].__file__ == str(script)  # restored once the workers started


# -- the heavy tasks in the pool: threads, extraction, training --------------------------------

def test_a_worker_uses_every_core_at_a_lower_priority(pool, monkeypatch):
    from ui.compute.jobs import WORKER_NICE, WORKER_OOM_BIAS, worker_threads

    counts = pool.submit(thread_counts).result(timeout=60)
    threads = worker_threads()
    assert threads == len(os.sched_getaffinity(0))
    assert counts["pid"] != os.getpid()  # not this (the server's) process
    assert counts["nice"] == min(19, os.nice(0) + WORKER_NICE)  # the server's reruns come first
    server_adj = int(Path("/proc/self/oom_score_adj").read_text())
    assert counts["oom_score_adj"] == min(1000, server_adj + WORKER_OOM_BIAS)  # out of memory, a worker ends first
    assert counts["torch"] == threads and counts["OMP_NUM_THREADS"] == str(threads)
    assert counts["NUMBA_NUM_THREADS"] == str(threads)
    assert all(n <= threads for n in counts["pools"].values()), counts["pools"]
    monkeypatch.setenv("LATENT_EXPLORER_WORKER_THREADS", "1")  # a deployment can ask for fewer
    assert worker_threads() == 1


def test_a_worker_loads_torch_only_for_a_task_that_needs_it_and_then_with_the_pool_s_threads(tmp_path):
    """torch costs a worker about 2 CPU s and 0.2 GB: loaded by the task, it takes the pool's threads from
    OMP_NUM_THREADS, as when the worker's setup set them."""
    one_thread = JobPool(tmp_path, workers=1, threads=1)
    try:
        counts = one_thread.submit(thread_counts).result(timeout=60)
    finally:
        one_thread.shutdown()
    assert not counts["torch_loaded"] and counts["torch"] == 1 and counts["OMP_NUM_THREADS"] == "1"


def test_a_dedicated_worker_s_openmp_threads_sleep_while_they_wait(pool):
    """Training runs in a dedicated worker, whose OpenMP threads sleep while they wait, set before torch loads, as
    train-vae's (latentcore.train.config.openmp_waits_sleep: spinning, a thread per core trained 4-10x slower beside
    other busy processes); the pool's workers keep the server's setting."""
    dedicated = pool.submit(thread_counts, dedicated=True, fresh=True).result(timeout=60)
    shared = pool.submit(thread_counts, fresh=True).result(timeout=60)
    assert dedicated["OMP_WAIT_POLICY"] == os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
    assert shared["OMP_WAIT_POLICY"] == os.environ.get("OMP_WAIT_POLICY") and dedicated["pid"] != shared["pid"]


def demo_model_spec():
    from latentcore.demo import DEMO_MODEL

    return {"path": str(DEMO_MODEL), "arch": "vae", "options": None}


def test_an_extraction_job_reports_rows_can_be_cancelled_and_writes_what_the_cli_writes(pool, tmp_path, ebsd_h5):
    from latentcore.cli import main
    from latentcore.latents import read_latents

    kwargs = dict(source=str(ebsd_h5), model=demo_model_spec(), out_dir=str(tmp_path / "app"), pool="mean",
                  batch_size=8, device="cpu", partitions=None, clobber=False)
    job = pool.submit(tasks.extract, "extract", dedicated=True, **kwargs)  # 300 batches of 8
    # cancelled once the task has reported (loading the model, rarely a block already): the cancel lands at its next
    # report, the rows of the first block written, well before the job could end by itself
    assert wait_until(lambda: job.progress()[1] == "loading the model" or job.progress()[1].endswith("items"))
    job.cancel()
    assert wait_until(job.done, timeout=30)
    assert type(job.error()).__name__ == "JobCancelled"
    assert list((tmp_path / "app").glob("*.partial*")), "the rows written so far are kept to resume"

    # a pool worker this time, resuming the cancelled job's rows in the same batches of 8 (a batch of 8 takes
    # other oneDNN kernels than one of 256, so the batch size is kept for the bits to be compared below)
    job = pool.submit(tasks.extract, "extract", fresh=True, **kwargs)
    result = job.result(timeout=120)
    assert job.progress()[0] == 1.0 and not result.skipped and result.rows == {"all": 2400}
    assert job.progress()[1].endswith("2,400 / 2,400 items"), job.progress()  # the rows are reported
    assert main(["extract", str(ebsd_h5), "--model", kwargs["model"]["path"], "--out", str(tmp_path / "cli"),
                 "--device", "cpu", "--batch-size", "8"]) == 0
    cli = tmp_path / "cli" / result.path.name
    app, ref = read_latents(result.path), read_latents(cli)
    assert list(app.partitions) == list(ref.partitions)
    # the same bits, whatever the threads of the worker and of this process
    assert app.partitions["all"].tobytes() == ref.partitions["all"].tobytes()
    np.testing.assert_array_equal(app.x, ref.x)
    assert sorted(app.point_maps) == sorted(ref.point_maps)
    same = ("model_sha256", "source_sha256", "pooling", "latent_dim")
    assert {k: app.attrs[k] for k in same} == {k: ref.attrs[k] for k in same}


def test_the_grain_table_job_in_a_worker_is_the_engines(pool, tmp_path, grains_h5oina):
    import pandas as pd

    from latentcore.analysis.ebsd.grains import grain_table
    from latentcore.analysis.ebsd.records import GRAIN_PARAMETERS
    from latentcore.analysis.ebsd.scan_points import latents_points
    from latentcore.cli import main
    from latentcore.demo import DEMO_MODEL
    from latentcore.latents import read_latents
    from latentcore.outputs import latents_path_for

    assert main(["extract", str(grains_h5oina), "--model", str(DEMO_MODEL), "--out", str(tmp_path), "--device",
                 "cpu"]) == 0
    path = latents_path_for(grains_h5oina, tmp_path, model="demo-vae")
    options = {"min_grain_points": 2, "fill_not_indexed": True, "twin_tolerance_deg": 5.0}
    parameters = GRAIN_PARAMETERS(boundary_deg=5.0, **options)  # one value, carried whole to the worker
    job = pool.submit(tasks.grain_table, "grains", latents=(str(path), 0, 0), parameters=parameters)
    result = job.result(timeout=120)
    assert job.progress() == (1.0, "done")
    lat = read_latents(path)
    expected = grain_table(latents_points(lat), lat.stacked()[0], parameters=parameters)
    pd.testing.assert_frame_equal(result["table"], expected.table)
    np.testing.assert_array_equal(result["grain_of_row"], expected.grain_of_row)
    assert result["reconstruction"] == expected.reconstruction and result["reconstruction"]["pixels_filled"] > 0


def test_a_training_job_reports_epochs_stops_resumes_and_writes_what_the_cli_writes(pool, tmp_path, ebsd_h5):
    from latentcore.cli import main
    from latentcore.train import TrainConfig

    config = TrainConfig(data=str(ebsd_h5), out_dir=str(tmp_path / "app"), epochs=200, **TINY)
    job = pool.submit(tasks.train, "train", dedicated=True, config=config.to_dict())
    assert wait_until(lambda: job.detail().get("history"), timeout=90), job.progress()
    assert job.progress()[1].startswith("epoch ") and set(job.arrays()) == {"inputs", "reconstructions"}
    assert job.arrays()["inputs"].shape[1:] == (16, 16)
    job.cancel()  # the trainer stops after its current batch, keeping the checkpoint
    stopped = job.result(timeout=60)
    assert stopped.stop_reason == "stopped" and 1 <= len(stopped.history) < 200
    assert (tmp_path / "app" / "checkpoint.pth").is_file() and stopped.model_path.is_file()

    done_before = len(stopped.history)
    config = TrainConfig(data=str(ebsd_h5), out_dir=str(tmp_path / "app"), epochs=done_before + 1, **TINY)
    resumed = pool.submit(tasks.train, "train", config=config.to_dict()).result(timeout=90)  # a pool worker
    assert resumed.stop_reason == "completed" and resumed.resumed_from == done_before
    assert [row["epoch"] for row in resumed.history] == list(range(1, done_before + 2))

    assert main(["train-vae", str(ebsd_h5), "--out", str(tmp_path / "cli"), "--roi", "0,28.5,0,28.5",
                 "--latent-dim", "3", "--input-size", "16", "--channels", "4,8", "--batch-size", "32",
                 "--device", "cpu", "--lr-schedule", "constant", "--epochs", str(done_before + 1)]) == 0
    names = sorted(p.name for p in (tmp_path / "cli").iterdir() if p.is_file())
    assert sorted(p.name for p in resumed.out_dir.iterdir() if p.is_file()) == names
    import pandas as pd

    app, cli = pd.read_csv(resumed.out_dir / "loss.csv"), pd.read_csv(tmp_path / "cli" / "loss.csv")
    assert list(app.columns) == list(cli.columns) and len(app) == len(cli) == done_before + 1
    losses = ["train_loss", "val_loss", "train_rec", "val_rec"]
    np.testing.assert_allclose(app[losses].to_numpy(), cli[losses].to_numpy(), rtol=1e-3)


def test_the_server_warm_up_compiles_the_distance_correlation_once_per_numba_cache(tmp_path, monkeypatch):
    """A server's warm-up compiles dcor's and the Spearman sort's code only while numba's cache lacks it (their
    markers); UMAP's every time, which this worker then fits with."""
    import latentcore.analysis.embedding.fit as fit
    import latentcore.analysis.embedding.umap_numba as umap_numba
    import latentcore.analysis.rank as rank

    calls = {"dcor": 0, "spearman": 0, "umap": 0}
    monkeypatch.setattr(umap_numba, "compiled_marker", lambda name, packages, code=(): tmp_path / f"{name}.compiled")
    monkeypatch.setattr(rank, "distance_correlation", lambda a, b: calls.__setitem__("dcor", calls["dcor"] + 1))
    monkeypatch.setattr(rank, "spearman_of_ranks", lambda a, b: calls.__setitem__("spearman", calls["spearman"] + 1))
    monkeypatch.setattr(fit, "warm_up", lambda: calls.__setitem__("umap", calls["umap"] + 1))
    steps = []
    tasks.warm_up(lambda fraction, message: steps.append(message))
    assert calls == {"dcor": 1, "spearman": 1, "umap": 1}
    assert (tmp_path / "distance-correlation.compiled").exists() and (tmp_path / "spearman-sort.compiled").exists()
    assert steps == ["compiling UMAP's numba code", "compiling the distance correlation's numba code",
                     "compiling the spearman sort's numba code"]
    tasks.warm_up(lambda fraction, message: None)
    assert calls == {"dcor": 1, "spearman": 1, "umap": 2}


def test_the_compiled_marker_names_the_versions_it_was_compiled_with(monkeypatch, tmp_path):
    from latentcore.analysis.embedding.umap_numba import compiled_marker

    first = compiled_marker("distance-correlation", ("dcor",))
    assert first == compiled_marker("distance-correlation", ("dcor",))
    assert first != compiled_marker("distance-correlation", ("hyppo",))  # another package's version, another file
    source = tmp_path / "kernel.py"
    source.write_text("x = 1\n")
    before = compiled_marker("spearman-sort", ("latentcore",), (source,))
    assert before == compiled_marker("spearman-sort", ("latentcore",), (source,))
    source.write_text("x = 2\n")  # the code edited, the version the same: compiled again
    assert before != compiled_marker("spearman-sort", ("latentcore",), (source,))
    monkeypatch.setattr("platform.python_version", lambda: "3.99.0")  # another Python
    assert first != compiled_marker("distance-correlation", ("dcor",))
