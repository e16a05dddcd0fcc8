"""The app's worker pool on a real Dask LocalCluster (LATENT_EXPLORER_SCHEDULER): a job runs on a Dask worker and
says which, is shared by key, stops when cancelled, gives the same bits as in this process, and the worker refuses
a path outside the session's folders; the pool stops the LocalCluster it started."""
from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from latentcore.errors import InputError
from pool_tasks import arrays_of, check_spilled, sleep_steps, wait_until
from study_scans import scan_latents
from ui.compute import jobs, tasks
from ui.compute.jobs import JobPool
from ui.compute.sources import stamp
from ui.widgets.waiting import pace

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    pool = JobPool(tmp_path_factory.mktemp("jobs"), workers=2, scheduler="local")
    yield pool
    pool.shutdown()


@pytest.fixture(scope="module")
def latents(tmp_path_factory):
    return scan_latents(tmp_path_factory.mktemp("latents"), names=("p",), shape=(30, 40))["p"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A study file of three scans' latents."""
    from latentcore.study import make_study, write_study

    folder = tmp_path_factory.mktemp("study")
    members = scan_latents(folder, shape=(30, 40))
    return write_study(make_study("three", [str(path) for path in members.values()]), folder)


def keys_run(pool, submit) -> list[str]:
    """The keys of the Dask tasks run while `submit()`'s job ran (its result returned with them)."""
    from distributed import get_task_stream

    with get_task_stream(pool.dask.client) as stream:
        job = submit()
        result = job.result(timeout=180)
    return result, [task["key"] if isinstance(task["key"], str) else task["key"][0] for task in stream.data]


def test_a_job_runs_on_a_dask_worker_which_its_progress_names(pool):
    assert pool.where() == "a Dask LocalCluster of 2 workers started by this server"
    job = pool.submit(sleep_steps, "test", steps=6, seconds=0.3)
    assert wait_until(lambda: job.progress()[0] > 0), "no progress reported"
    workers = pool.dask.client.scheduler_info()["workers"]
    assert job.worker() in {str(info["name"]) for info in workers.values()}
    assert f"on Dask worker {job.worker()}" in pace(job)
    assert job.wait(60)
    assert job.result(timeout=0) in pool.dask.client.run(os.getpid).values()
    assert pool.submit(sleep_steps, steps=6, seconds=0.3) is job  # same key: the same job, its result kept


def test_cancel_stops_the_task_on_its_worker_and_cancels_its_future(pool):
    job = pool.submit(sleep_steps, "long", steps=200, seconds=0.1)  # 20 s unless cancelled
    assert wait_until(lambda: job.progress()[1].startswith("step "))
    started = time.time()
    job.cancel()
    assert wait_until(job.done, timeout=10) and time.time() - started < 2
    assert job.cancelled()
    # the worker's thread left the task at its next report: both workers are free again at once
    assert wait_until(lambda: not any(pool.dask.client.processing().values()), timeout=5)
    quick = [pool.submit(sleep_steps, f"quick {n}", steps=1, seconds=n / 1000) for n in range(2)]
    assert all(job.wait(20) for job in quick)


def test_a_job_cancelled_and_asked_again_at_once_runs_afresh_in_a_folder_the_cancelled_task_never_writes(
        pool, tmp_path):
    """On Dask a cancelled job's future is done at once while its task runs on to its next report. Asked again at
    once, the job starts afresh in a folder of its own, and the cancelled task stops at its next report (its folder
    removed reads as a cancel): it never writes on beside the new one (the progress, the result the server maps)."""
    from pool_tasks import logged_steps

    log = tmp_path / "steps.log"
    first = pool.submit(logged_steps, "first", log=str(log), steps=400, seconds=0.2)
    assert wait_until(lambda: first.progress()[1].startswith("step 3"))
    first.cancel()
    assert first.done() and first.cancelled()
    again = pool.submit(logged_steps, "again", log=str(log), steps=400, seconds=0.2)
    assert again is not first and again.folder != first.folder and not first.folder.exists()

    def steps_of(job):
        return [line for line in log.read_text().splitlines() if line.split()[0] == job.folder.name]

    assert wait_until(lambda: len(steps_of(again)) >= 5)
    stopped = len(steps_of(first))
    time.sleep(1.0)  # five steps more of the new attempt
    assert len(steps_of(first)) == stopped and len(steps_of(again)) >= 8
    assert again.progress()[1].startswith("step ")  # its own report, in its own folder
    again.cancel()
    assert wait_until(lambda: not any(pool.dask.client.processing().values()), timeout=10)


def test_a_cancel_between_a_jobs_per_source_tasks_cancels_those_not_started(pool, tmp_path):
    """A job's per-source tasks (`batch.run_tasks`): a cancel raised as a source ends (its progress report) cancels
    the sources' tasks not started, rather than leaving them to run on the cluster for nobody."""
    from latentcore.batch import run_tasks
    from pool_tasks import logged_sleep

    log, done = tmp_path / "started.log", []

    def cancelled_after_one(_, worker):
        done.append(worker)
        raise jobs.JobCancelled("the page's Cancel")

    with pytest.raises(jobs.JobCancelled):
        run_tasks(logged_sleep, range(10), pool.dask.client, name="sleep", lost=None, on_result=cancelled_after_one,
                  log=str(log), seconds=0.5)
    time.sleep(3.0)  # the ten would have run by now, two at a time
    assert done in (["0"], ["1"]) and len(log.read_text().split()) <= 4  # the source said where it ran
    assert not any(pool.dask.client.processing().values())


def _allow_failures(dask_scheduler, count: int) -> int:
    before, dask_scheduler.allowed_failures = dask_scheduler.allowed_failures, count
    return before


def test_a_job_whose_worker_dies_each_time_is_said_in_words_and_names_an_extractions_file(pool):
    """Dask runs a task again when its worker dies, up to the scheduler's allowed failures (here none): then the
    page shows one line saying what happened and what to do, never Dask's KilledWorker traceback; a study's
    extraction names the file whose worker died."""
    from latentcore.errors import MachineError
    from pool_tasks import dies

    before = pool.dask.client.run_on_scheduler(_allow_failures, count=0)
    try:
        job = pool.submit(dies, "dies")
        assert job.wait(60)
    finally:
        pool.dask.client.run_on_scheduler(_allow_failures, count=before)
    assert type(job.future.exception()).__name__ == "KilledWorker"
    assert isinstance(job.error(), MachineError) and "Dask gave up" in str(job.error())
    with pytest.raises(MachineError, match=r"run it again \(what it finished is kept\)"):
        job.result()
    with pytest.raises(MachineError, match="^scan2.h5: its Dask worker died each time it extracted this file"):
        tasks._member_lost((1, 3, "/data/scan2.h5", "/out"), job.future.exception())
    assert wait_until(lambda: len(pool.dask.client.scheduler_info()["workers"]) == 2)  # the nanny restarted it


def test_cancel_restarts_the_worker_of_a_task_in_its_own_process_that_never_reports_again(pool, monkeypatch):
    """A job that runs in a process of its own in the server's pool (`dedicated`) runs as any task on Dask; one that
    never reaches its next report (`silent`) is cancelled at once, and CANCEL_END_S later (here 1 s) its worker is
    restarted by its nanny: the task held it for good, as a thread cannot be stopped. The job reads as done only
    then: until then the task runs on (and may write) in its worker's thread."""
    from pool_tasks import silent

    monkeypatch.setattr(jobs, "CANCEL_END_S", 1.0)
    job = pool.submit(silent, "silent", dedicated=True, seconds=604, children=0)
    assert wait_until(lambda: job.progress()[1][:1].isdigit())
    held = int(job.progress()[1].split()[0])
    job.cancel()
    assert job.cancelled() and not job.done()
    assert wait_until(job.done, timeout=60)
    assert wait_until(lambda: not psutil.pid_exists(held) or psutil.Process(held).status() == psutil.STATUS_ZOMBIE,
                      timeout=60)
    assert wait_until(lambda: len(pool.dask.client.scheduler_info()["workers"]) == 2, timeout=60)
    quick = [pool.submit(sleep_steps, f"after {n}", steps=1, seconds=n / 1000) for n in range(2)]
    assert all(job.wait(60) for job in quick)


def test_a_worker_lost_mid_job_has_dask_run_the_job_again_and_the_page_gets_its_result(pool):
    import signal

    job = pool.submit(sleep_steps, "lost", steps=30, seconds=0.1)
    assert wait_until(lambda: job.progress()[1].startswith("step 3"))
    lost = job.worker()
    address = next(address for address, info in pool.dask.client.scheduler_info()["workers"].items()
                   if str(info["name"]) == lost)
    os.kill(pool.dask.client.run(os.getpid, workers=[address])[address], signal.SIGKILL)
    assert job.wait(120) and not job.cancelled()
    assert job.result() in pool.dask.client.run(os.getpid).values()  # a live worker's: the job ran again
    assert wait_until(lambda: len(pool.dask.client.scheduler_info()["workers"]) == 2)  # the nanny restarted it
    assert set(pool.dask.client.run(os.nice, 0).values()) == {jobs.WORKER_NICE}  # the new one as low as the other


def test_the_local_clusters_workers_run_below_the_server(pool):
    assert os.nice(0) < jobs.WORKER_NICE
    assert set(pool.dask.client.run(os.nice, 0).values()) == {jobs.WORKER_NICE}
    server_adj = int(open("/proc/self/oom_score_adj").read())  # out of memory, a worker ends first
    assert set(pool.dask.client.run(lambda: int(open("/proc/self/oom_score_adj").read())).values()) == {
        min(1000, server_adj + jobs.WORKER_OOM_BIAS)}


def test_a_results_large_arrays_come_back_through_the_workspace_not_the_scheduler(pool):
    check_spilled(pool.submit(arrays_of, rows=400_000), 400_000)


def test_a_task_on_the_cluster_gives_the_bits_it_gives_here(pool, latents):
    arguments = {"latents": stamp(latents), "k": 4}
    there = pool.submit(tasks.kmeans_labels, "k-means", roots=(str(latents.parent),), **arguments)
    here = jobs.run_inline(tasks.kmeans_labels, **arguments)
    assert there.wait(120) and there.worker() is not None
    np.testing.assert_array_equal(there.result(), here)
    assert len(np.unique(here)) == 4


def test_a_ranking_on_the_cluster_is_the_ranking_here(pool, latents):
    """The Rank page's job on a Dask worker: the same scores, bit for bit, with the sampled metrics' seeded draws."""
    arguments = {"latents": stamp(latents), "bandcontrast": None, "references": ["Band Contrast"],
                 "metrics": ["pearson", "spearman", "mutual_information", "partial_pearson"], "components": 2,
                 "roi": None, "source": None}
    there = pool.submit(tasks.rank, "ranking", roots=(str(latents.parent),), **arguments)
    here = jobs.run_inline(tasks.rank, **arguments)
    assert there.wait(120) and there.worker() is not None
    pd.testing.assert_frame_equal(there.result(), here, check_exact=True)
    assert len(here) == 6 and here[arguments["metrics"]].notna().all().all()  # each dimension, by each metric


def test_a_study_s_embedding_is_a_task_per_source_with_the_bits_it_has_here(pool, study):
    arguments = dict(latents=stamp(study), method="umap", n_neighbors=10, min_dist=0.1, seed=0)
    asked = []

    def submit():
        asked.append(pool.submit(tasks.fit_embedding, "UMAP", roots=(str(study.parent),), **arguments))
        return asked[0]

    there, keys = keys_run(pool, submit)
    # the bar's last words: the sources placed and the workers that placed them
    assert re.fullmatch(r"placed the rows of 3 of 3 sources, on (worker [01]|workers 0, 1)", asked[0].progress()[1])
    here = jobs.run_inline(tasks.fit_embedding, **arguments)
    assert len(here.coords) == 3 * 1200
    np.testing.assert_array_equal(there.coords, here.coords)
    np.testing.assert_array_equal(there.reference_index, here.reference_index)
    assert sum(key.startswith("study-coords-") for key in keys) == 3  # one placement task per source
    assert sum(key.startswith("study-sample-") for key in keys) == 3


@pytest.mark.parametrize("features", ["pair", "latent"])
def test_a_study_s_kmeans_labels_each_source_in_a_task_of_its_own_and_writes_what_the_command_line_writes(
        pool, study, tmp_path, features):
    """The Clusters page's job on a study by KMeans (`tasks.cluster_run`): a sample task and a label task per source,
    no task given every source's features; the same bits as in one process; within the fit sample the CSV of the
    command line's run of every row at once, byte for byte, and the scatter on the principal axes of every row."""
    from sklearn.decomposition import PCA

    from latentcore.analysis.artifacts.cluster import ClusterJob, cluster_names
    from latentcore.analysis.artifacts.cluster_run import run_cluster
    from latentcore.data.bandcontrast import BandContrast

    job = ClusterJob(latents=str(study), bandcontrast=BandContrast.scan_map(), method="kmeans", dim=1,
                     features=features, params={"n_clusters": 4}, smooth=1.0)
    arguments = dict(job=job, latents=stamp(study))
    there, keys = keys_run(pool, lambda: pool.submit(tasks.cluster_run, "Clusters", out_dir=str(tmp_path / "a"),
                                                     roots=(str(study.parent), str(tmp_path)), **arguments))
    said = []
    here = jobs.run_inline(tasks.cluster_run, out_dir=str(tmp_path / "b"),
                           progress=lambda fraction, message: said.append(message), **arguments)
    assert sum(key.startswith("cluster-sample-") for key in keys) == 3
    assert sum(key.startswith("cluster-label-") for key in keys) == 3
    assert not any(key.startswith("cluster-features-") for key in keys)
    assert "sampled 3 of 3 sources" in said and "labelled 3 of 3 sources" in said
    assert len(here["labels"]) == 3 * 1200 and len(np.unique(here["labels"])) == 4
    for name in ("rows", "sources", "labels", "x", "latent", "bandcontrast"):
        np.testing.assert_array_equal(there[name], here[name])
    np.testing.assert_array_equal(there["view"].coords(), here["view"].coords())
    assert there["file_report"]["run"] == "dask tasks, one per source"
    assert here["file_report"]["run"] == "one source after another"

    run_cluster(job, tmp_path / "cli", png=False)  # `cluster`: every row clustered at once
    csv = cluster_names(job)["assignments"]
    assert (tmp_path / "a" / csv).read_bytes() == (tmp_path / "cli" / csv).read_bytes()
    table = pd.read_csv(tmp_path / "cli" / csv)
    assert table["cluster"].tolist() == here["labels"].tolist()
    if features == "latent":
        every_row = PCA(2, random_state=0).fit_transform(table.filter(like="latent_").to_numpy())
        np.testing.assert_allclose(here["view"].coords(), every_row, atol=1e-4)
    else:
        np.testing.assert_array_equal(here["view"].vertical, table["bandcontrast"].to_numpy(np.float32))


def test_a_study_s_dbscan_reads_each_source_s_features_in_a_task_of_its_own_with_the_bits_it_has_here(
        pool, study, tmp_path):
    """DBSCAN has no predict: the sources' features are read by a task each and clustered as one."""
    from latentcore.analysis.artifacts.cluster import ClusterJob
    from latentcore.data.bandcontrast import BandContrast

    job = ClusterJob(latents=str(study), bandcontrast=BandContrast.scan_map(), method="dbscan", dim=1, smooth=1.0)
    arguments = dict(job=job, latents=stamp(study))
    there, keys = keys_run(pool, lambda: pool.submit(tasks.cluster_run, "Clusters", out_dir=str(tmp_path / "a"),
                                                     roots=(str(study.parent), str(tmp_path)), **arguments))
    said = []
    here = jobs.run_inline(tasks.cluster_run, out_dir=str(tmp_path / "b"),
                           progress=lambda fraction, message: said.append((round(fraction, 2), message)), **arguments)
    assert sum(key.startswith("cluster-features-") for key in keys) == 3
    assert (0.1, "read the features of 1 of 3 sources") in said and (0.2, "read the features of 3 of 3 sources") in said
    assert len(here["labels"]) == 3 * 1200 and len(np.unique(here["labels"])) > 1
    for name in ("rows", "sources", "labels", "latent", "bandcontrast"):
        np.testing.assert_array_equal(there[name], here[name])


def test_compare_on_a_study_samples_and_labels_each_source_in_tasks_of_its_own_with_the_shift_it_gives_here(
        pool, study):
    """The Compare page's job on a study (`tasks.compare_sources`): a sample task and a label task per source on
    the cluster, the study never stacked; the same fractions and shift as in one process, its progress per source."""
    arguments = dict(study=stamp(study), first=0, second=1, k=3)
    (shift, fractions, clustering), keys = keys_run(pool, lambda: pool.submit(
        tasks.compare_sources, "Compare", roots=(str(study.parent),), **arguments))
    said = []
    here = jobs.run_inline(tasks.compare_sources, progress=lambda fraction, message: said.append(message), **arguments)
    assert sum(key.startswith("cluster-sample-") for key in keys) == 3
    assert sum(key.startswith("cluster-label-") for key in keys) == 3
    assert "sampled 3 of 3 sources" in said and "labelled 3 of 3 sources" in said
    pd.testing.assert_frame_equal(fractions, here[1])
    pd.testing.assert_frame_equal(shift.within, here[0].within)
    assert shift.energy == here[0].energy and clustering.counts == here[2].counts
    assert "a Dask task per source" in clustering.fit["assign"] and "one source after another" in here[2].fit["assign"]


def test_a_study_s_probe_reads_and_predicts_each_source_in_a_task_of_its_own_as_it_does_here(pool, study, tmp_path):
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"source": ["p"] * 6 + ["q"] * 6, "row": [*range(0, 600, 100), *range(50, 650, 100)],
                  "label": ["a", "b"] * 6}).to_csv(labels, index=False)
    arguments = dict(latents=stamp(study), labels=stamp(labels), method="logistic", smooth=1.0)
    there, keys = keys_run(pool, lambda: pool.submit(tasks.probe_run, "Probe", out_dir=str(tmp_path / "a"),
                                                     roots=(str(study.parent), str(tmp_path)), **arguments))
    said = []
    here = jobs.run_inline(tasks.probe_run, out_dir=str(tmp_path / "b"),
                           progress=lambda fraction, message: said.append(message), **arguments)
    assert sum(key.startswith("probe-labels-") for key in keys) == 2  # the sources the labels name
    assert sum(key.startswith("probe-predict-") for key in keys) == 3
    assert "read the labelled rows of 2 of 2 sources" in said and "predicted the rows of 3 of 3 sources" in said
    assert here["classes"] == ["a", "b"] and len(here["predicted"]) == 3 * 1200
    assert set(here["predicted"]) == {0, 1}
    np.testing.assert_array_equal(there["predicted"], here["predicted"])
    pd.testing.assert_frame_equal(there["fractions"], here["fractions"])
    name = here["report"]["outputs"]["predictions"]["name"]
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_extracting_several_files_is_a_task_per_file_writing_what_one_process_writes(pool, tmp_path, ebsd_h5,
                                                                                      edax_h5):
    from latentcore.demo import DEMO_MODEL
    from latentcore.latents import read_latents

    sources = [str(ebsd_h5), str(edax_h5)]
    arguments = dict(sources=sources, model={"path": str(DEMO_MODEL), "arch": "vae", "options": None},
                     pool="mean", batch_size=64, device="cpu", clobber=False)
    there, keys = keys_run(pool, lambda: pool.submit(
        tasks.extract_several, "extract", out_dirs=[str(tmp_path / "there" / n) for n in "ab"], **arguments))
    assert sum(key.startswith("extract-") for key in keys) == 2
    assert pool.jobs[jobs.job_key(tasks.extract_several, {"out_dirs": [str(tmp_path / "there" / n) for n in "ab"],
                                                           **arguments})].progress()[0] == 1.0
    here = jobs.run_inline(tasks.extract_several, out_dirs=[str(tmp_path / "here" / n) for n in "ab"], **arguments)
    for one, other in zip(there, here):
        assert one.path.name == other.path.name and one.rows == other.rows
        one, other = read_latents(one.path), read_latents(other.path)
        assert one.partitions["all"].tobytes() == other.partitions["all"].tobytes()


def test_an_s3_object_is_extracted_on_the_worker_with_the_user_s_keys_in_its_arguments_and_its_allow_list(
        pool, moto_s3, visitor_keys, tmp_path, ebsd_h5):
    """The Extract page's S3 objects: each task downloads its object where it runs with the user's keys (the server's
    own are refused), writes what one process writes from the downloaded file, and leaves no copy and no key on a
    disk; the allow-list is checked on the worker; shared values are scattered, the S3 settings never are."""
    from latentcore.batch import run_tasks
    from latentcore.demo import DEMO_MODEL
    from latentcore.latents import read_latents
    from latentcore.storage import s3
    from pool_tasks import worker_data_and_keys

    bucket = moto_s3.new_bucket()
    uri = f"s3://{bucket}/scans/{ebsd_h5.name}"
    s3.upload(ebsd_h5, uri, moto_s3.settings)
    key_id, secret = visitor_keys
    mine = s3.S3Settings(endpoint_url=moto_s3.endpoint, access=s3.S3Access((f"{bucket}/scans",)), max_attempts=2,
                         credentials=s3.S3Credentials(key_id, secret), server_credentials=False).for_tasks()
    arguments = dict(model={"path": str(DEMO_MODEL), "arch": "vae", "options": None}, pool="mean", batch_size=64,
                     device="cpu", clobber=False)
    moto_s3.require_auth(True)  # the environment's keys, which the workers inherited, are refused from now on
    try:
        there = pool.submit(tasks.extract_several, "extract", sources=[uri], out_dirs=[str(tmp_path / "there")],
                            s3=mine, keep_free=0, **arguments).result(timeout=180)
        outside = dataclasses.replace(mine, access=s3.S3Access((f"{bucket}/elsewhere",)))
        with pytest.raises(s3.S3Error, match=f"^{uri}: outside the S3 locations allowed here"):
            pool.submit(tasks.extract_several, "extract", sources=[uri], out_dirs=[str(tmp_path / "refused")],
                        s3=outside, keep_free=0, **arguments).result(timeout=180)
        seen = run_tasks(worker_data_and_keys, [0, 1], pool.dask.client, name="probe", lost=None, s3=mine,
                         shared={"scattered": True})
    finally:
        moto_s3.require_auth(False)
    here = jobs.run_inline(tasks.extract_several, sources=[str(ebsd_h5)], out_dirs=[str(tmp_path / "here")],
                           **arguments)
    assert there[0].path.name == here[0].path.name and there[0].rows == here[0].rows
    assert read_latents(there[0].path).partitions["all"].tobytes() == \
        read_latents(here[0].path).partitions["all"].tobytes()
    for data, arrived in seen:  # the keys arrived, in the task's arguments, not in the worker's (spillable) data
        assert "dict" in data and "S3Settings" not in data and arrived == secret
    for folder in set(pool.dask.client.run(tempfile.gettempdir).values()):
        assert not list(Path(folder).glob("latentcore-s3-*")), folder  # the worker's copy went with its task
    for folder in [tmp_path, pool.folder, *pool.dask.client.run(lambda dask_worker: dask_worker.local_directory)
                   .values()]:  # the workspace, the jobs' folders (progress, results) and the workers' own
        for path in (p for p in Path(folder).rglob("*") if p.is_file()):
            assert secret.encode() not in path.read_bytes(), path


def test_a_path_outside_the_session_s_folders_is_refused_at_submit_and_on_the_worker(pool, latents, tmp_path):
    arguments = {"latents": stamp(latents), "k": 3}
    with pytest.raises(InputError, match="outside the folders this session may read") as refused:
        pool.submit(tasks.kmeans_labels, roots=(str(tmp_path),), **arguments)
    assert str(latents) in str(refused.value)
    # a server that skipped its check: the worker refuses before the task reads anything
    (tmp_path / "job").mkdir()
    future = pool.executor.submit(jobs._run_task, str(tmp_path / "job"), tasks.kmeans_labels, arguments,
                                  (str(tmp_path),))
    with pytest.raises(InputError, match="outside the folders"):
        future.result(timeout=60)
    assert not (tmp_path / "job" / "progress.json").exists()  # refused before it started
    linked = tmp_path / "inside"
    linked.symlink_to(latents.parent)  # a link inside the roots that leads out is resolved and refused
    with pytest.raises(InputError, match="outside the folders"):
        jobs.refuse_outside({"latents": (str(linked / latents.name), 0, 0)}, (str(tmp_path),))


def test_a_running_scheduler_is_reached_by_its_address(pool, tmp_path):
    address = pool.dask.client.scheduler.address
    other = JobPool(tmp_path, scheduler=address)
    try:
        assert other.where() == f"the Dask scheduler {address} (2 workers)"
        assert other.submit(sleep_steps, steps=1, seconds=0.0).result(timeout=60) != os.getpid()
    finally:
        other.shutdown()
    assert pool.dask.client.status == "running"  # closing a client leaves the scheduler it reached running


def test_a_scheduler_address_dask_cannot_use_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(InputError, match="not a Dask scheduler address.*LATENT_EXPLORER_SCHEDULER"):
        JobPool(tmp_path, scheduler="http://lab-scheduler")


def test_shutdown_stops_the_local_cluster_the_pool_started(tmp_path):
    pool = JobPool(tmp_path, workers=1, scheduler="local")
    pids = list(pool.dask.client.run(os.getpid).values())
    job = pool.submit(sleep_steps, steps=400, seconds=0.1)
    assert wait_until(lambda: job.progress()[0] > 0)
    started = time.time()
    pool.shutdown()
    assert job.cancelled() and time.time() - started < 15
    assert wait_until(lambda: not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                                      for pid in pids), timeout=10)


def test_a_training_is_a_task_on_a_worker_and_ends_with_the_command_lines_weights(pool, tmp_path, ebsd_h5):
    """The Train page's job (`tasks.train`, dedicated: a process of its own in the server's pool) is a task as any
    other on the cluster: its epochs reported from its worker, and on one thread the very losses and weights that
    `train-vae` writes with the same settings in this process."""
    import torch

    from latentcore.cli import main
    from latentcore.train import TrainConfig
    from pool_tasks import TINY

    config = TrainConfig(data=str(ebsd_h5), out_dir=str(tmp_path / "app"), epochs=3, threads=1, **TINY)
    job = pool.submit(tasks.train, "train", dedicated=True, roots=(str(ebsd_h5.parent), str(tmp_path)),
                      config=config.to_dict())
    there = job.result(timeout=180)
    assert there.stop_reason == "completed" and job.worker() in {"0", "1"}
    assert main(["train-vae", str(ebsd_h5), "--out", str(tmp_path / "cli"), "--roi", "0,28.5,0,28.5",
                 "--latent-dim", "3", "--input-size", "16", "--channels", "4,8", "--batch-size", "32", "--device",
                 "cpu", "--lr-schedule", "constant", "--epochs", "3", "--threads", "1"]) == 0
    losses = ["train_loss", "train_rec", "train_kl", "val_loss"]
    app, cli = (pd.read_csv(folder / "loss.csv")[losses] for folder in (there.out_dir, tmp_path / "cli"))
    assert app.equals(cli)
    weights = [torch.load(path, weights_only=True)["model"] for path in (there.model_path,
                                                                         tmp_path / "cli" / there.model_path.name)]
    assert all(torch.equal(value, weights[1][name]) for name, value in weights[0].items())
