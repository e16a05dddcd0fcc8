"""The app's study clustering in the server's own worker pool against the same job on a Dask LocalCluster of 2
workers (LATENT_EXPLORER_SCHEDULER=local), in one run, on one study.

    python benchmarks/app_dask.py                       # 100 sources x 100,000 rows (10M rows, 16-D)
    python benchmarks/app_dask.py --sources 20 --rows 50000

The job is the one the Clusters page hands to its pool for a study (`ui.compute.tasks.cluster_run`: KMeans,
k = 20, of whole latent vectors, a source at a time: on Dask a sample task and a label task per source,
`jobs.fan_out`; in the server's pool one source after another in the job's process), submitted
as `ui.compute.dispatch` submits it, timed from the submit until the server holds the result (what the page then
draws); the page's drawing is not part of it. The sources are `study_scale.py`'s (seeded, 20 shared centres).

Measured per pool: wall seconds; this process's (the server's) resident memory with the result memory-mapped
(`Job.result`), again once every byte of it was read, and its peak (VmHWM: the pools run in the order given, so the
second's peak is at least the first's: both are said); the bytes of the result's arrays, and of what crossed from
the worker to the server (pickled: the arrays stay in the job's folder, `jobs.spilled`); on Dask, the bytes the workers sent each other and to the client
(`transfer_outgoing_bytes_total`), the scheduler's resident memory (a LocalCluster's scheduler runs in this
process, and is said so), and the LocalCluster's start apart. Then the
ratio of the wall times and whether both runs gave the same clusters, bit for bit. Last, the exact answer the
page's approximation is checked against: every row clustered at once in this process (`cluster` without a
scheduler: KMeans' restarts refined on every row), its seconds, the adjusted Rand index of the page's clusters
against it, and how near the page's scatter (principal axes fitted on the fit sample) is to every row's (|r| per axis).
"""
from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from latentcore.analysis.artifacts.cluster import ClusterJob  # noqa: E402
from latentcore.study import make_study, write_study  # noqa: E402
from study_scale import peak_gb, write_sources  # noqa: E402
from ui.compute import tasks  # noqa: E402
from ui.compute.jobs import JobPool  # noqa: E402
from ui.compute.sources import stamp  # noqa: E402


def result_bytes(result: dict) -> int:
    return sum(value.nbytes for value in result.values() if isinstance(value, np.ndarray))


def page_job(study: Path) -> ClusterJob:
    return ClusterJob(latents=str(study), bandcontrast=None, method="kmeans", features="latent",
                      params={"n_clusters": 20})


def run_on(pool: JobPool, study: Path, out: Path) -> dict:
    job = page_job(study)
    start = time.perf_counter()
    submitted = pool.submit(tasks.cluster_run, "Clusters", job=job, out_dir=str(out), latents=stamp(study),
                            roots=(str(study.parent),))
    crossed = len(pickle.dumps(submitted.future.result())) / 2**20  # its large arrays stay in the job's folder
    result = submitted.result()
    seconds = time.perf_counter() - start
    rss_mapped = psutil.Process().memory_info().rss / 2**30
    read = sum(float(np.sum(value)) for value in result.values() if isinstance(value, np.ndarray))  # every page
    found = {"seconds": seconds, "crossed_mb": crossed, "rss_mapped_gb": rss_mapped, "peak_gb": peak_gb(),
             "rss_gb": psutil.Process().memory_info().rss / 2**30, "read": read,
             "result_mb": result_bytes(result) / 2**20, "labels": result["labels"], "view": result["view"]}
    if pool.dask is not None:
        client = pool.dask.client
        sent = client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total)
        found["transfer_mb"] = sum(sent.values()) / 2**20
        pid, rss = client.run_on_scheduler(lambda: (os.getpid(), psutil.Process().memory_info().rss))
        found["scheduler_gb"] = None if pid == os.getpid() else rss / 2**30  # a LocalCluster's: in this process
    return found


def every_row(job: ClusterJob, page: dict) -> None:
    """Print the exact answer's seconds and the page's distance from it (see the module's docstring)."""
    from sklearn.metrics import adjusted_rand_score

    from latentcore.analysis.artifacts.cluster import cluster_inputs, scatter_view
    from latentcore.analysis.artifacts.cluster_run import load_inputs

    start = time.perf_counter()
    inputs = load_inputs(job)
    labels = cluster_inputs(job, inputs).labels
    view = scatter_view(job, inputs)
    seconds = time.perf_counter() - start
    near = [abs(np.corrcoef(mine, exact)[0, 1]) for mine, exact in zip(page["view"].coords().T, view.coords().T)]
    print(f"every row at once here: {seconds:.1f} s (peak {peak_gb():.2f} GB); the page's clusters against it: ARI "
          f"{adjusted_rand_score(labels, page['labels']):.4f}; its scatter's axes ({page['view'].x_title}) against "
          f"every row's: |r| {near[0]:.4f}, {near[1]:.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per source")
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--folder", type=Path, default=None, help="where the study is written (default: a temp dir)")
    args = parser.parse_args()

    folder = args.folder or Path(tempfile.mkdtemp(prefix="app-dask-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        paths = write_sources(folder, args.sources, args.rows, args.dim)
        study = write_study(make_study("bench", [str(p) for p in paths]), folder)
        print(f"study: {args.sources} sources x {args.rows:,} rows ({args.sources * args.rows:,} rows, {args.dim}-D)")
        results = {}
        for name, scheduler in (("server pool", None), ("LocalCluster", "local")):
            start = time.perf_counter()
            pool = JobPool(folder / f"jobs-{name.split()[0]}", workers=2, scheduler=scheduler)
            started = time.perf_counter() - start
            try:
                results[name] = found = run_on(pool, study, folder / f"out-{name.split()[0]}")
            finally:
                pool.shutdown()
            scheduler_said = ("the scheduler in this process" if found.get("scheduler_gb") is None
                              else f"scheduler RSS {found['scheduler_gb']:.2f} GB")
            extra = (f", workers sent {found['transfer_mb']:.1f} MB, {scheduler_said}, cluster start {started:.1f} s"
                     if "transfer_mb" in found else "")
            print(f"{name}: {found['seconds']:.1f} s, server RSS {found['rss_mapped_gb']:.2f} GB with the result "
                  f"mapped, {found['rss_gb']:.2f} GB once all read (peak {found['peak_gb']:.2f}), result "
                  f"{found['result_mb']:.1f} MB of which {found['crossed_mb']:.3f} MB crossed to the server{extra}")
        here, there = results["server pool"], results["LocalCluster"]
        print(f"LocalCluster / server pool wall: {there['seconds'] / here['seconds']:.2f}; the same clusters bit for "
              f"bit: {np.array_equal(here['labels'], there['labels'])}")
        every_row(page_job(study), here)
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
