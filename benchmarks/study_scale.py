"""A study at scale: the embedding of every row of 100 sources x 100,000 rows (10M rows, 16-D latents), fitted on a
seeded sample of 30,000 rows and every row placed source by source (`latentcore.analysis.embedding.study`), in this
process and on a Dask LocalCluster, on the same study.

    python benchmarks/study_scale.py                          # 100 sources x 100,000 rows (10M), 2 workers
    python benchmarks/study_scale.py --small                  # 10 x 100,000 (1M rows): quicker
    python benchmarks/study_scale.py --sources 20 --rows 50000 --workers 2 --folder /scratch/study
    python benchmarks/study_scale.py --cluster                # the study's clustering instead of its embedding
    python benchmarks/study_scale.py --sources 1 --rows 1000000 --one-file   # a study of one against its file

Data: each source's rows drawn around 20 cluster centres every source shares (seeded: per-axis scales, Dirichlet
weights that differ per source, 0.5 isotropic noise), written as real latents files (`LatentsWriter`, scans on a
grid, memory-mapped when read) in `--folder` (default: a temporary folder, removed at the end).

Measured, in one run:
- making the study: every member read once (its SHA-256, rows, model);
- in this process: `embed_study` (the fit: the sample read from the members, UMAP of the sample, its kNN graph;
  then every source placed and written as Parquet), its two stages, its CPU seconds (every thread's: on a shared
  machine the wall time depends on the load, the CPU time much less), and the process's peak resident memory after
  it (`ru_maxrss`: the server's memory; data generation holds one source at a time);
- on a LocalCluster of `--workers` processes (one thread each, started before the clock: its start is reported
  apart), the same job on the same study (the sample read and every source placed as Dask tasks, a task per source);
  the CPU seconds of this process and the workers; the workers' peak memory; the ratios of the wall times
  (LocalCluster / in this process), whole and by stage;
- that both placed every row in the same place (the tables equal, byte for byte).
With `--one-file` (one source), the UMAP page's two bodies instead: the file's own fit (`fit.fit_embedding` of its
rows, its other rows' search beside UMAP's fit) against the file as a study of one (`study.study_embedding`, every
row placed after the fit), alternated `--repeats` times: their wall times, and whether the coordinates are the same
bits. With `--cluster`, the same for the study's clustering (KMeans, k = 20, of whole latent vectors,
`artifacts.cluster_run.run_cluster` in this process and with the cluster as its scheduler: a seeded sample drawn
from every source, each source labelled and written by a task), and the ARI between the two runs' clusters.
The fits are not cached (`cache_dir=False`): each run fits. umap-learn's and the graph walk's numba code are
compiled first (`warm_up`), as on a server that has fitted once; the workers load it from numba's disk cache.

Goals (docs/benchmarks.md): at 10M rows the embedding (fit + placement) <= 300 s on 2 cores in this process, and the
server's memory <= 12 GB.
"""
from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from latentcore.analysis.embedding.fit import warm_up  # noqa: E402
from latentcore.analysis.embedding.study import embed_study, read_study_embedding  # noqa: E402
from latentcore.latents import LatentsWriter  # noqa: E402
from latentcore.study import make_study  # noqa: E402

CLUSTERS = 20
WIDTH = 400  # pixels per scan line


def write_sources(folder: Path, sources: int, rows: int, dim: int) -> list[Path]:
    shared = np.random.default_rng(0)
    centres = shared.normal(scale=4.0, size=(CLUSTERS, dim))
    scales = shared.uniform(0.3, 1.0, size=(CLUSTERS, dim))
    paths = []
    for s in range(sources):
        rng = np.random.default_rng(1000 + s)
        label = rng.choice(CLUSTERS, size=rows, p=rng.dirichlet(np.full(CLUSTERS, 2.0)))
        values = centres[label] + rng.normal(size=(rows, dim)) * scales[label] + 0.5 * rng.normal(size=(rows, dim))
        path = folder / f"sample{s:04d}__bench_latents.h5"
        writer = LatentsWriter(path, {"all": (rows, dim)}, {"source": s})
        writer.write_rows("all", 0, values.astype(np.float32))
        lines, columns = np.divmod(np.arange(rows), WIDTH)
        writer.write_array("x", 0.5 * columns)
        writer.write_array("y", 0.5 * lines)
        writer.write_array("grid_shape", [-(-rows // WIDTH), WIDTH])
        paths.append(writer.finish({"model": "bench", "model_name": "bench", "model_sha256": "b" * 64,
                                    "source": f"sample{s:04d}.h5", "units": "um"}))
    return paths


def peak_gb() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would count a spawned worker's parent's, kept across
    exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 2**20  # KiB


def cpu_seconds() -> float:
    """This process's CPU time, every thread's (the machine is shared: wall times depend on the load)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per source")
    parser.add_argument("--small", action="store_true", help="10 sources x 100,000 rows (1M)")
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--sample-size", type=int, default=30_000)
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster processes")
    parser.add_argument("--no-dask", action="store_true", help="in this process only")
    parser.add_argument("--cluster", action="store_true", help="the clustering (KMeans) instead of the embedding")
    parser.add_argument("--folder", help="where the latents and results go (default: a temporary folder, removed)")
    parser.add_argument("--one-file", action="store_true", help="one source's own fit against it as a study of one")
    parser.add_argument("--repeats", type=int, default=2, help="--one-file: alternated fits of each")
    args = parser.parse_args()
    if args.small:
        args.sources, args.rows = 10, 100_000
    folder = Path(args.folder or tempfile.mkdtemp(prefix="study-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    n = args.sources * args.rows
    print(f"{args.sources} sources x {args.rows:,} rows = {n:,} rows, D={args.dim}, sample {args.sample_size:,}; "
          f"load {os.getloadavg()[0]:.1f}; cores {len(os.sched_getaffinity(0))}", flush=True)
    try:
        start = time.perf_counter()
        paths = write_sources(folder / "latents", args.sources, args.rows, args.dim)
        print(f"written: {time.perf_counter() - start:.1f} s, {sum(p.stat().st_size for p in paths) / 2**30:.2f} "
              f"GiB", flush=True)
        start = time.perf_counter()
        study = make_study("bench", paths)
        print(f"study made (every member hashed): {time.perf_counter() - start:.1f} s", flush=True)
        if args.cluster:
            return cluster_both(study, folder, args)
        print(f"warm-up (numba): {warm_up():.1f} s; peak memory so far {peak_gb():.2f} GB", flush=True)
        options = {"sample_size": args.sample_size, "cache_dir": False}
        if args.one_file:
            return file_against_study(study, paths[0], args.repeats, options)

        start, cpu = time.perf_counter(), cpu_seconds()
        here = embed_study(study, folder / "here", **options)
        whole_here, cpu_here = time.perf_counter() - start, cpu_seconds() - cpu
        stages = here.report["seconds"]
        print(f"in this process: {whole_here:.1f} s (fit {stages['fit']:.1f}, place {stages['place']:.1f}), "
              f"{cpu_here:.1f} CPU s; {here.report['placement']}; peak memory {peak_gb():.2f} GB; load "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        if args.no_dask:
            return
        from distributed import Client, LocalCluster

        start = time.perf_counter()
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            print(f"LocalCluster of {args.workers} started: {time.perf_counter() - start:.1f} s", flush=True)
            start, cpu, workers_cpu = time.perf_counter(), cpu_seconds(), client.run(cpu_seconds)
            there = embed_study(study, folder / "there", scheduler=client, **options)
            whole_there = time.perf_counter() - start
            cpu_there = cpu_seconds() - cpu + sum(client.run(cpu_seconds).values()) - sum(workers_cpu.values())
            workers_gb = client.run(peak_gb)
        dask_stages = there.report["seconds"]
        print(f"LocalCluster: {whole_there:.1f} s (fit {dask_stages['fit']:.1f}, place {dask_stages['place']:.1f}), "
              f"{cpu_there:.1f} CPU s (this process and the workers); "
              f"workers' peak memory {', '.join(f'{v:.2f}' for v in workers_gb.values())} GB; server peak "
              f"{peak_gb():.2f} GB; load {os.getloadavg()[0]:.1f}", flush=True)
        print(f"ratio LocalCluster / in this process: whole {whole_there / whole_here:.2f}, fit "
              f"{dask_stages['fit'] / stages['fit']:.2f}, place {dask_stages['place'] / stages['place']:.2f}")
        same = read_study_embedding(study, here.folder).equals(read_study_embedding(study, there.folder))
        print(f"the same coordinates: {same}")
    finally:
        if not args.folder:
            shutil.rmtree(folder, ignore_errors=True)


def file_against_study(study, path: Path, repeats: int, options: dict):
    """The file's own fit against the file as a study of one, alternated: wall times and the same bits."""
    from latentcore.analysis.embedding.fit import fit_embedding
    from latentcore.analysis.embedding.study import study_embedding
    from latentcore.latents import read_latents

    if len(study.members) != 1:
        raise SystemExit("--one-file compares one source: give --sources 1")
    rows = read_latents(path).stacked()[0]
    seconds = {"file": [], "study of one": []}
    for _ in range(repeats):
        fitted = {}
        for name, fit in (("file", lambda: fit_embedding(rows, **options)),
                          ("study of one", lambda: study_embedding(study, **options))):
            start = time.perf_counter()
            fitted[name] = fit()
            seconds[name].append(time.perf_counter() - start)
        same = fitted["file"].coords.tobytes() == fitted["study of one"].coords.tobytes()
        print(f"the same coordinates (bits): {same}; load {os.getloadavg()[0]:.1f}", flush=True)
    for name, times in seconds.items():
        print(f"{name}: {', '.join(f'{t:.1f}' for t in times)} s (mean {sum(times) / len(times):.1f})")
    print(f"ratio study of one / file: {sum(seconds['study of one']) / sum(seconds['file']):.2f}")


def cluster_both(study, folder: Path, args):
    """The study's clustering in this process, then as Dask tasks on a LocalCluster; times, memory and agreement."""
    import pandas as pd
    from distributed import Client, LocalCluster
    from sklearn.metrics import adjusted_rand_score

    from latentcore.analysis.artifacts.cluster import ClusterJob
    from latentcore.analysis.artifacts.cluster_run import run_cluster

    job = ClusterJob(latents="bench", bandcontrast=None, method="kmeans", features="latent",
                     params={"n_clusters": CLUSTERS})
    start, cpu = time.perf_counter(), cpu_seconds()
    here = run_cluster(job, folder / "here", study=study, png=False)
    whole_here, cpu_here = time.perf_counter() - start, cpu_seconds() - cpu
    print(f"in this process: {whole_here:.1f} s, {cpu_here:.1f} CPU s; {here['fit_summary']}; peak memory "
          f"{peak_gb():.2f} GB; load {os.getloadavg()[0]:.1f}", flush=True)
    start = time.perf_counter()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        print(f"LocalCluster of {args.workers} started: {time.perf_counter() - start:.1f} s", flush=True)
        start, cpu, workers_cpu = time.perf_counter(), cpu_seconds(), client.run(cpu_seconds)
        there = run_cluster(job, folder / "there", study=study, scheduler=client, png=False)
        whole_there = time.perf_counter() - start
        cpu_there = cpu_seconds() - cpu + sum(client.run(cpu_seconds).values()) - sum(workers_cpu.values())
        workers_gb = client.run(peak_gb)
    print(f"LocalCluster: {whole_there:.1f} s, {cpu_there:.1f} CPU s (this process and the workers); "
          f"{there['fit_summary']}; workers' peak memory {', '.join(f'{v:.2f}' for v in workers_gb.values())} GB; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"ratio LocalCluster / in this process: wall {whole_there / whole_here:.2f}, CPU {cpu_there / cpu_here:.2f}")
    one = pd.read_csv(folder / "here" / here["outputs"]["assignments"]["name"], usecols=["cluster"])["cluster"]
    per_source = pd.read_csv(folder / "there" / there["outputs"]["assignments"]["name"], usecols=["cluster"])["cluster"]
    print(f"ARI between the two runs' clusters: {adjusted_rand_score(one, per_source):.4f}")


if __name__ == "__main__":
    main()
