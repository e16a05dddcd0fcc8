"""The heavy calls the pages hand to the worker pool (`ui.jobs`): the same latentcore calls the
command line makes, with plain arguments (files as `loaders.stamp` tuples: path, mtime, size)
and a `progress(fraction, message)` callback. No Streamlit here: these run in worker processes."""
from __future__ import annotations

import json
import time

import numpy as np


def fit_embedding(latents: tuple, method: str, n_neighbors: int, min_dist: float, seed: int, progress):
    """The 2-D embedding of every row; latentcore caches it on disk by content hash."""
    from latentcore.analysis.embedding import fit_embedding as fit
    from latentcore.latents import read_latents

    progress(0.0, "reading the latents")
    matrix, _ = read_latents(latents[0]).stacked()
    return fit(matrix, method=method, n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed,
               progress=progress)


def cluster_run(job_json: str, inputs, progress) -> dict:
    """The Clusters page's clustering: the same inputs and call as the downloadable artifacts.
    Returns x, y, latent, bandcontrast, labels and the report. (`inputs`: the files' stamps, only
    part of the job's key.)"""
    from latentcore.analysis.artifacts import ClusterJob, cluster_inputs, load_cluster_inputs
    from latentcore.analysis.cluster import describe_fit

    job = ClusterJob(**json.loads(job_json))
    progress(0.05, "reading the latents and band contrast")
    inputs = load_cluster_inputs(job)
    progress(0.2, f"{job.method} on {len(inputs.features):,} rows")
    result = cluster_inputs(job, inputs)
    progress(1.0, "done")
    return {"x": inputs.x.astype(np.float32), "y": inputs.y.astype(np.float32),
            "latent": inputs.latent.astype(np.float32), "bandcontrast": inputs.bandcontrast.astype(np.float32),
            "labels": result.labels, "report": {**result.to_dict(), "fit_summary": describe_fit(result)}}


def kmeans_labels(latents: tuple, k: int, progress) -> np.ndarray:
    """K-means of the whole latent vectors (standardised, seeded)."""
    from latentcore.analysis.cluster import cluster
    from latentcore.latents import read_latents

    progress(0.05, "reading the latents")
    matrix, _ = read_latents(latents[0]).stacked()
    progress(0.2, f"k-means (k={k}) on {len(matrix):,} rows")
    return cluster(matrix, "kmeans", n_clusters=int(k)).labels


def sleep_steps(steps: int, seconds: float, progress) -> int:
    """A job that reports `steps` times (for tests of the pool: progress, cancel, another process)."""
    import os

    for step in range(steps):
        progress(step / steps, f"step {step + 1} of {steps}")
        time.sleep(seconds)
    return os.getpid()
