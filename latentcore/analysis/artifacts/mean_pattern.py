"""The mean pattern of chosen rows, as `python -m latentcore mean-pattern` and the pages' mean pattern make it: the
job (`MeanPatternJob`: the rows, the latents file and the data file they came from), its run (`mean_pattern`: the
mean item streamed in float64, `items.mean_item`), its files (`pattern_names`: `mean_pattern__{tag}.npy`, `.png`,
`.json`) and its report (`write_mean_pattern`). `run_mean_pattern_job` is all four at once."""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...versions import package_versions
from ..items import mean_pattern_names, mean_pattern_tag
from .common import REPORT_FORMAT, VERSION_PACKAGES, input_record, now, write_json, write_npy


@dataclasses.dataclass(frozen=True)
class MeanPatternJob:
    """The rows whose mean item is taken (row ids over the latents file's partitions stacked in order, as the UMAP
    and cluster tables' `row`; kept sorted, each once), the latents file and the data file they came from. How the
    rows were chosen, for the report and the names: `cluster` (a cluster's rows), `rows_text` (`--rows`), `table`
    (`--table`, a CSV with a `row` column). `rows_sha1` (their digest) makes the job's key exact."""

    latents: str
    source: str
    rows: np.ndarray
    cluster: int | None = None
    rows_text: str | None = None
    table: str | None = None
    rows_sha1: str = dataclasses.field(init=False)

    def __post_init__(self):
        from ...arrays import unique

        rows = unique(np.asarray(self.rows, np.int64))
        rows.flags.writeable = False
        object.__setattr__(self, "latents", str(self.latents))
        object.__setattr__(self, "source", str(self.source))
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "rows_sha1", hashlib.sha1(rows.tobytes()).hexdigest())

    def __eq__(self, other):
        return isinstance(other, MeanPatternJob) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _key(self) -> tuple:
        return self.latents, self.source, self.rows_sha1, self.cluster, self.rows_text, self.table


@dataclasses.dataclass(frozen=True)
class MeanPattern:
    """A job's mean item (float64, the items' shape; NaN where no item had a finite pixel) and how many items."""

    mean: np.ndarray
    count: int


def partition_sizes(latents) -> dict[str, int]:
    """partition -> row count, in the file's order: how row ids map onto the source's partitions."""
    return {name: len(values) for name, values in latents.partitions.items()}


def mean_pattern(job: MeanPatternJob, sizes: dict[str, int], progress=None) -> MeanPattern:
    """The mean item of the job's rows, streamed from its source (`sizes`: `partition_sizes` of its latents;
    `progress(fraction, message)` told after each block)."""
    from ...data import open_source
    from ...latents import source_items
    from ..items import by_partition, mean_item

    parts = source_items(job.latents, by_partition(sizes, job.rows))
    with open_source(job.source) as reader:
        mean, count = mean_item(reader, parts, progress=progress)
    return MeanPattern(mean, count)


def pattern_names(job: MeanPatternJob, run: MeanPattern) -> dict[str, str]:
    """The files of a job's mean: `mean` (NPY, float64), `figure` (PNG), `report` (JSON)."""
    return mean_pattern_names(mean_pattern_tag(job.source, run.count, job.cluster))


def pattern_figure(job: MeanPatternJob, run: MeanPattern, what: str | None = None):
    """The mean with its colour bar, titled by its count and what was averaged (`what`; default: the cluster)."""
    from ...figures.items import as_plane, mean_pattern_figure

    plane, note = as_plane(run.mean)
    what = what or (f"cluster {job.cluster}" if job.cluster is not None else None)
    title = f"Mean of {run.count:,} patterns" + (f": {what}" if what else "") + (f" ({note})" if note else "")
    return mean_pattern_figure(plane, title)


def source_record(job: MeanPatternJob, latents_attrs: dict, out_dir=None, root=None) -> dict:
    """The source's input record (`common.input_record`), checked against the SHA-256 its latents recorded: rows
    of these latents mean nothing in another file."""
    record = input_record(job.source, out_dir, root)
    expected = latents_attrs.get("source_sha256")
    if expected and expected != record["sha256"]:
        raise InputError(f"not the data file these latents came from ({latents_attrs.get('source')}: "
                         f"SHA-256 {str(expected)[:12]}...): give that file as --source", job.source)
    return record


def write_mean_pattern(job: MeanPatternJob, run: MeanPattern, out_dir, *, source: dict | None = None, figure=None,
                       dpi: float = 300, browser="auto", root=None) -> dict:
    """Write the mean (NPY), its figure when one is given (`pattern_figure`, or the page's own) as PNG at `dpi`
    and its report into `out_dir`; returns the report. `source`: the source's input record when already made
    (`source_record`). Inputs are named relative to `out_dir` when they lie inside `root` (the workspace; None:
    anywhere)."""
    from ...figures import write_png

    out = Path(out_dir)
    names = pattern_names(job, run)
    write_npy(out / names["mean"], run.mean)
    engine = write_png(figure, out / names["figure"], dpi=dpi, browser=browser) if figure is not None else None
    inputs = {"latents": input_record(job.latents, out, root), "source": source or input_record(job.source, out, root)}
    if job.table:
        inputs["table"] = input_record(job.table, out, root)
    report = {
        "kind": "mean_pattern", "format": REPORT_FORMAT, "tag": mean_pattern_tag(job.source, run.count, job.cluster),
        "created": now(), "rows": job.rows_text, "cluster": job.cluster, "count": run.count,
        "rows_sha1": job.rows_sha1, "shape": list(run.mean.shape), "accumulation": "float64", "dpi": dpi,
        "inputs": inputs, "versions": package_versions(VERSION_PACKAGES),
        "outputs": {kind: name for kind, name in names.items() if kind != "figure" or engine}, "figure_engine": engine}
    write_json(out / names["report"], report)
    return report


def run_mean_pattern_job(job: MeanPatternJob, out_dir, *, png: bool = True, dpi: float = 300, browser="auto",
                         latents=None) -> dict:
    """The job's mean, written with its figure (`png`) and its report into `out_dir` (`latents`: the file already
    read); returns the report. A source that is not the one the latents came from is refused before any read."""
    from ...latents import read_latents

    latents = latents if latents is not None else read_latents(job.latents)
    source = source_record(job, latents.attrs, out_dir)
    run = mean_pattern(job, partition_sizes(latents))
    figure = pattern_figure(job, run) if png else None
    return write_mean_pattern(job, run, out_dir, source=source, figure=figure, dpi=dpi, browser=browser)
