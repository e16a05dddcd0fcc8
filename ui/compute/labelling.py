"""The labels' compute (ui.widgets.labels, the Compare page): the probe, training sets, two latents files
compared."""
from __future__ import annotations

from ..session import workspace
from . import tasks
from .dispatch import pooled
from .sources import stacked_latents


def probe(lat_stamp: tuple, labels_stamp: tuple, method: str, smooth: float, out_dir: str,
          min_confidence: float = 0.0, quality=None) -> dict:
    """The probe over every row of a latents file or a study (those the quality filter keeps: a `QualityFilter`)
    (`tasks.probe_run`, the CLI's `probe`; `unknown` below `min_confidence`): in the worker pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.probe_run, f"Predicting the labels ({method})", rows, latents=lat_stamp,
                  labels=labels_stamp, method=method, smooth=float(smooth), out_dir=out_dir,
                  min_confidence=float(min_confidence), root=str(workspace.WORKDIR_ROOT),
                  **({"quality": quality} if quality is not None else {}))


def training_set(source_stamp: tuple, labels_stamp: tuple, out_path: str, latents: str) -> dict:
    """The labelled rows' own items as a training set (the CLI's `export --latents`: the labels' row ids are those
    of `latents`), in this process: it runs in a download's deferred callable, outside any script run, so no job
    progress can be shown (the labelled rows are read in contiguous runs)."""
    from latentcore.analysis.labels.trainset import export_training_set

    return export_training_set(source_stamp[0], labels_stamp[0], out_path, latents=latents)


def compare_latents(lat_stamp: tuple, other_stamp: tuple, labels_stamp: tuple, method: str, smooth: float,
                    n_clusters: int | None = None) -> dict:
    """Two latents files of one source on the same labels (`tasks.compare_latents`): in the pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.compare_latents, "Comparing two latents files", rows, latents=lat_stamp, other=other_stamp,
                  labels=labels_stamp, method=method, smooth=float(smooth),
                  n_clusters=None if n_clusters is None else int(n_clusters))


def clustering_agreement(lat_stamp: tuple, other_stamp: tuple, n_clusters: int, smooth: float = 0.0) -> dict:
    """The ARI of two latents files' k-means clusterings (`tasks.clustering_agreement`): in the pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.clustering_agreement, f"K-means (k={n_clusters}) of both latents files", rows,
                  latents=lat_stamp, other=other_stamp, n_clusters=int(n_clusters), smooth=float(smooth))
