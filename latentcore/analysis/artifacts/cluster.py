"""A cluster job (`ClusterJob`), the rows it clusters (`read_cluster_rows`) and their features, its files and
report. A run on one latents file writes, atomically, into one folder:
- `cluster_assignments__{tag}.csv`: columns `row` (the row id of the UMAP table: the row's position in
  the latents file's partitions, stacked in order), `x_{unit}`, `y_{unit}` (scans; the unit as the
  latents file names it, `um` when it does not), the latent columns used (`latent_{d}`: the pair's
  dimension, or every dimension for whole vectors and their UMAP), `bandcontrast` (when the job has band
  contrast) and `cluster` (`assignment_columns`);
- `cluster_report__{tag}.json`: method, every parameter, counts per cluster, sample use, inputs
  (name, SHA-256, path relative to the report), package versions and the outputs (names, the CSV's SHA-256);
- `cluster_{view}__{tag}.png`: the two cluster panels, the clusters on the scan and on the scatter `view` names
  (`scatter_view`, `cluster_names`): `latent_bc` the pair's latent against band contrast; for whole vectors `umap`
  (their UMAP, when one is at hand: the job's own for features "umap", the workspace's on the page) or `pca`
  (their first two principal components).
`tag` encodes method, features/dimension, smoothing and ROI, e.g. `gmm_dim3_roi0-30_0-20`,
`kmeans_latents_smooth1_full`.

Whole-vector clustering (`features` "latent" or "umap") needs no band contrast (`bandcontrast` None;
the report records none) and, without an ROI or smoothing, no coordinates (cutouts: no x, y columns,
no figure). The pair features need both. The run, on a file or a study, is `cluster_run.run_cluster`; `rerun`
runs a report's job again.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ...columns import BANDCONTRAST, CLUSTER, ROW, SOURCE, coordinate_names, latent_name
from ...data.bandcontrast import BandContrast
from ...errors import InputError, about_file
from ...storage import sha256_file
from ...versions import package_versions
from ..maps import Roi, roi_tag, smooth_tag
from ..quality import QualityFilter, quality_tag
from .common import REPORT_FORMAT, VERSION_PACKAGES, bandcontrast_record, now, write_csv

FEATURE_KINDS = ("pair", "latent", "umap")


def cluster_tag(method: str, dim: int | None, roi: Roi | None, features: str = "pair", smooth: float = 0.0,
                quality: QualityFilter | None = None) -> str:
    """`gmm_dim3_roi0-30_0-20`; whole latent vectors: `gmm_latents_full`, their UMAP: `gmm_umap_full`;
    smoothed with sigma 1: `gmm_latents_smooth1_full`; quality-filtered: `gmm_latents_full_q-ci-ge0.1`."""
    what = f"dim{int(dim)}" if features == "pair" else {"latent": "latents", "umap": "umap"}[features]
    return f"{method}_{what}{smooth_tag(smooth)}_{roi_tag(roi)}{quality_tag(quality)}"


def cluster_names(job: ClusterJob, view: str | None = None) -> dict:
    """The run's files; the figure named by what its scatter shows (`view`, a `ScatterView.kind`): `latent_bc`
    for pairs (a latent against band contrast); for whole vectors `umap` or, by default, `pca`."""
    tag = job.tag
    return {"assignments": f"cluster_assignments__{tag}.csv", "report": f"cluster_report__{tag}.json",
            "figure": f"cluster_{figure_view(job, view)}__{tag}.png"}


def figure_view(job: ClusterJob, view: str | None = None) -> str:
    """`view` checked, or the job's default: `latent_bc` for pairs, `pca` for whole vectors."""
    view = view or ("latent_bc" if job.features == "pair" else "pca")
    if view not in VIEW_KINDS:
        raise ValueError(f"a cluster figure's view is one of {VIEW_KINDS}, got {view!r}")
    return view


# -- what the cluster scatter shows ------------------------------------------------------------

VIEW_KINDS = ("latent_bc", "umap", "pca")


@dataclasses.dataclass(frozen=True)
class ScatterView:
    """The cluster scatter's axes, one point per clustered row in the rows' order: `latent_bc` (the pair's
    latent against band contrast), `umap` (UMAP 1, UMAP 2 of the whole vectors) or `pca` (PC1, PC2)."""

    kind: str
    horizontal: np.ndarray
    vertical: np.ndarray
    x_title: str
    y_title: str

    def coords(self) -> np.ndarray:
        """(N, 2): each point's horizontal and vertical position, as a point panel takes them."""
        return np.column_stack([self.horizontal, self.vertical])

    @property
    def title(self) -> str:
        return {"umap": "the clusters on the UMAP of these rows",
                "pca": "the clusters on the first two principal components"}.get(
                    self.kind, f"{self.x_title} vs {self.y_title}")


@dataclasses.dataclass(frozen=True)
class PrincipalAxes:
    """The first two principal axes of some rows (sklearn PCA), which place any rows: a study's scatter is fitted on
    its sample and each source placed by a task of its own (`cluster_run.label_source`)."""

    pca: object

    def transform(self, vectors) -> np.ndarray:
        """(N, 2) float32: the rows' first two principal components (a single dimension: PC2 is 0)."""
        coords = np.zeros((len(vectors), 2), np.float32)
        coords[:, :self.pca.n_components_] = self.pca.transform(np.asarray(vectors, np.float64))
        return coords


def principal_axes(vectors, random_state: int = 0) -> PrincipalAxes:
    from sklearn.decomposition import PCA

    vectors = np.asarray(vectors, np.float64)
    n = min(2, vectors.shape[1], len(vectors))
    return PrincipalAxes(PCA(n_components=n, random_state=random_state).fit(vectors))


def scatter_view(job: "ClusterJob", inputs: "ClusterInputs", umap=None, axes: "PrincipalAxes | None" = None
                 ) -> ScatterView:
    """What the cluster scatter shows: for pairs the latent against band contrast (`second_axis`); for whole
    vectors `umap` ((N, 2), the UMAP of these rows) when given, the job's own UMAP features when it clusters
    those (unsmoothed jobs: smoothed ones cluster the UMAP of smoothed latents), else their first two principal
    components (on `axes` when given: a study's, fitted on its sample)."""
    if job.features == "pair":
        vertical, name = second_axis(inputs, job.dim)
        return ScatterView("latent_bc", inputs.latent, vertical, f"latent dim {job.dim}", name)
    if umap is None and job.features == "umap" and not job.smooth:
        umap = inputs.features
    if umap is not None:
        return umap_view(umap)
    coords = (axes or principal_axes(inputs.used, int(job.params.get("random_state", 0)))).transform(inputs.used)
    return ScatterView("pca", coords[:, 0], coords[:, 1], "PC1", "PC2")


def umap_view(coords) -> ScatterView:
    """The rows on their UMAP ((N, 2), the rows' order)."""
    coords = np.asarray(coords, np.float32)
    return ScatterView("umap", coords[:, 0], coords[:, 1], "UMAP 1", "UMAP 2")


# -- the cluster job ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ClusterJob:
    """Everything that decides a cluster run's assignments (what the report records). Frozen, and hashed by
    its `key`: the page's caches and the pool's jobs are keyed by the job itself."""

    latents: str
    bandcontrast: BandContrast | None  # a table or the scan's own map; None: whole vectors only
    method: str
    dim: int = 0  # the latent column of the CSV; the pair's latent when features == "pair"
    features: str = "pair"  # "pair": (dim, band contrast); "latent": whole vectors; "umap": their UMAP
    params: dict = dataclasses.field(default_factory=dict)  # method parameters (+ random_state...)
    roi: Roi | None = None
    partition: str | None = None  # latents partition (scans: "all")
    smooth: float = 0.0  # Gaussian sigma in grid steps over the scan grid before clustering (0: none)
    quality: QualityFilter | None = None  # the rows clustered are those it keeps (in the ROI)

    def __post_init__(self):
        from ..smoothing import check_sigma

        if self.features not in FEATURE_KINDS:
            raise InputError(f"features must be one of {FEATURE_KINDS}, got {self.features!r}")
        if self.bandcontrast is not None and not isinstance(self.bandcontrast, BandContrast):
            raise TypeError(f"a job's band contrast is a BandContrast (BandContrast.parse of {self.bandcontrast!r})")
        if self.features == "pair" and self.bandcontrast is None:
            raise InputError("clustering (latent dimension, band contrast) pairs needs band contrast (a table or "
                             "the scan's own map): give one, or cluster whole latent vectors (features 'latent')")
        if self.roi is not None and not isinstance(self.roi, Roi):
            raise TypeError(f"a job's ROI is a Roi (Roi.from_json of {self.roi!r})")
        if self.quality is not None and not isinstance(self.quality, QualityFilter):
            raise TypeError(f"a job's quality filter is a QualityFilter, got {self.quality!r}")
        object.__setattr__(self, "smooth", check_sigma(self.smooth))

    @classmethod
    def from_dict(cls, fields: dict) -> ClusterJob:
        """The job a report's (or any JSON's) `job` record describes: band contrast as its string form, the ROI
        as its `Roi.to_json` form."""
        spec = fields.get("bandcontrast")
        return cls(**{**fields, "bandcontrast": BandContrast.parse(spec) if spec is not None else None,
                      "roi": Roi.from_json(fields.get("roi")), "quality": QualityFilter.from_json(fields.get("quality"))})

    def to_dict(self) -> dict:
        """The plain record (band contrast as its string form, the ROI a list), as the report keeps it."""
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
                "bandcontrast": self.bandcontrast.spec if self.bandcontrast is not None else None,
                "roi": self.roi.to_json() if self.roi is not None else None,
                "quality": self.quality.to_json() if self.quality is not None else None}

    def record(self) -> dict:
        """The job as its report keeps it: `to_dict` with its files by their names (the report's `inputs` say
        where they are, relative to the report)."""
        fields = self.to_dict()
        table = self.bandcontrast is not None and not self.bandcontrast.from_scan
        quality = self.quality
        quality_table = quality is not None and quality.bandcontrast is not None and not quality.bandcontrast.from_scan
        return {**fields, "latents": Path(self.latents).name,
                "bandcontrast": self.bandcontrast.path.name if table else fields["bandcontrast"],
                "quality": {**fields["quality"], "bandcontrast": quality.bandcontrast.path.name} if quality_table
                else fields["quality"]}

    @property
    def key(self) -> str:
        """A stable text of every field, a table's stamp included (a rewritten table: another key)."""
        stamp = self.bandcontrast.stamp if self.bandcontrast is not None else None
        quality_band = self.quality.bandcontrast if self.quality is not None else None
        return json.dumps([self.to_dict(), stamp, quality_band.stamp if quality_band is not None else None],
                          sort_keys=True, default=str)

    def __hash__(self):
        return hash(self.key)

    @property
    def tag(self) -> str:
        return cluster_tag(self.method, self.dim, self.roi, self.features, self.smooth, self.quality)


@dataclasses.dataclass
class ClusterInputs:
    """The rows a job clusters: their row ids, coordinates, the chosen latent column, the latent
    columns used and band contrast (raw, as the CSV holds them), and the features clustered
    (smoothed over the grid when the job says so). x, y are None for latents without coordinates,
    band contrast None when the job has none."""

    x: np.ndarray | None
    y: np.ndarray | None
    latent: np.ndarray
    bandcontrast: np.ndarray | None
    features: np.ndarray
    units: str | None = "um"  # of x, y
    bandcontrast_name: str = "band contrast"  # or the scan map's name ("Band Contrast", "IQ")
    scale: tuple | None = None  # (mean, std) per feature that standardises them; None: their own
    rows: np.ndarray | None = None  # int64 row ids (the UMAP table's `row`)
    dims: tuple = ()  # the latent dimensions of `used`
    used: np.ndarray | None = None  # (N, len(dims)) float32: the latent columns the CSV holds
    model: dict | None = None  # the model that made the latents: {"name", "sha256"} (None: not recorded)
    sources: np.ndarray | None = None  # a study's rows: each row's member (an index into `source_names`)
    source_names: tuple = ()  # a study's sources, in order
    quality: dict | None = None  # the quality filter's record (`QualityFilter.record`): the rows it kept


def read_cluster_rows(job: ClusterJob, latents=None) -> tuple[ClusterInputs, np.ndarray]:
    """The job's rows (in its partition and ROI) with their coordinates and band contrast, as `ClusterInputs`
    without features, and the rows' latents (N, D). `latents`: the file already read (`read_latents`)."""
    from ...data import align_to_coordinates, read_bandcontrast
    from ...latents import model_record, read_latents
    from .._validation import check_dimensions
    from ..maps import slice_to_roi

    latents = latents if latents is not None else read_latents(job.latents)
    partition = job.partition or next(iter(latents.partitions))
    if partition not in latents.partitions:
        raise InputError(f"no partition {partition!r}; it holds {sorted(latents.partitions)}: pick one of them",
                         job.latents)
    rows = latents.partitions[partition]
    if rows.ndim == 2 and rows.shape[1] == 0:
        raise InputError("has no latent dimensions (0 columns): nothing to cluster; extract the latents again",
                         job.latents)
    row_ids = latents.row_ids([partition])  # as the UMAP table's: every partition stacked in the file's order
    bc = job.bandcontrast
    has_bc = bc is not None
    if latents.x is None or latents.y is None or len(latents.x) != len(rows):
        needs = ("band contrast" if has_bc else "an ROI" if job.roi is not None else "smoothing" if job.smooth
                 else None)
        if needs is not None:
            raise InputError(f"the latents have no x, y coordinates: clustering with {needs} needs a scan; "
                             "cluster whole latent vectors instead (--features latent, without --bandcontrast, "
                             "--roi or --smooth)", job.latents)
        x = y = None
    else:
        x, y = np.asarray(latents.x, np.float64), np.asarray(latents.y, np.float64)
    from_scan = has_bc and bc.from_scan  # the scan's own map, row for row
    name, values = bc.values(latents.point_maps, x, y, job.latents) if from_scan else ("band contrast", None)
    table = read_bandcontrast(bc.path) if has_bc and not from_scan else None
    roi = job.roi
    keep = roi.mask(x, y) if roi is not None else np.ones(len(rows), bool)
    if not keep.any():
        raise InputError(f"ROI {roi} holds none of the latents' pixels: choose an ROI within the scan", job.latents)
    if table is not None and roi is not None:
        table = slice_to_roi(table, roi, int(keep.sum()), f"the latents' rows in the ROI ({Path(job.latents).name})")
    quality = None
    if job.quality is not None:  # rows kept: in the ROI and by the filter
        passes = job.quality.rows_kept(latents.point_maps, x, y, job.latents)
        job.quality.check_kept(passes[keep], job.latents, " in the ROI" if roi is not None else "")
        quality = job.quality.record(passes[keep])
        keep = keep & passes
    if not keep.all():
        rows, x, y, row_ids = rows[keep], x[keep], y[keep], row_ids[keep]
        if from_scan:
            values = values[keep]
    bandcontrast = values if from_scan else align_to_coordinates(table, x, y) if has_bc else None
    with about_file(job.latents):
        dim = check_dimensions([job.dim], rows.shape[1])[0]
    dims = (dim,) if job.features == "pair" else tuple(range(rows.shape[1]))
    used = np.asarray(rows[:, list(dims)], np.float32)
    return ClusterInputs(x, y, np.asarray(rows[:, dim], np.float64), bandcontrast, None, latents.units, name,
                         None, row_ids, dims, used, model_record(latents.attrs), quality=quality), rows


def refuse_non_finite(job: ClusterJob, features, rows) -> None:
    """One line naming the file (the latents or the band-contrast table) when rows to cluster hold NaN or inf."""
    bad = ~np.isfinite(features).reshape(len(features), -1).all(axis=1)
    if bad.any():  # the clustering refuses them too, but cannot name the file
        latent_bad = not np.isfinite((rows[:, job.dim] if job.features == "pair" else rows)[bad]).all()
        culprit = job.latents if latent_bad or job.bandcontrast.from_scan else job.bandcontrast.path
        raise InputError(f"{int(bad.sum())} rows to cluster hold NaN or inf "
                         f"({'latents' if latent_bad else 'band contrast'}): fix that file, or set an ROI that "
                         "leaves them out", culprit)


def job_features(job: ClusterJob, rows, bandcontrast, x, y) -> tuple[np.ndarray, np.ndarray]:
    """(the job's unsmoothed features of these rows: the pair, or the whole vectors in float64; the features
    clustered: smoothed over the grid of these rows when the job says so). `stacked_features` makes the features of
    every source's."""
    from ..cluster import pair_features
    from ..smoothing import smooth_rows

    raw = pair_features(rows, job.dim, bandcontrast) if job.features == "pair" else np.asarray(rows, np.float64)
    return raw, smooth_rows(raw, x, y, job.smooth) if job.smooth else raw


def stacked_features(job: ClusterJob, raw: list, smoothed: list) -> tuple[np.ndarray, tuple | None]:
    """The features clustered, of every source's (`job_features`, stacked), and the (mean, std) that standardises
    them (None: their own).

    With `smooth`, they are standardised by the unsmoothed features' scale: by their own, the dimensions that are
    mostly noise, which smoothing shrinks, would be scaled back up to the weight of the ones that tell grains apart
    (benchmarks/train_quality.py: KMeans ARI of smoothed PCA scores 0.96 -> 0.98, and no more runs stuck at 0.78).
    `umap` clusters the UMAP of the smoothed latents, standardised by its own scale."""
    from ..cluster import feature_scale

    features = np.concatenate(smoothed) if len(smoothed) > 1 else smoothed[0]
    if job.features == "umap":
        from ..embedding.fit import embed

        return embed(features, method="umap", random_state=int(job.params.get("random_state", 0))), None
    return features, feature_scale(np.concatenate(raw) if len(raw) > 1 else raw[0]) if job.smooth else None


def cluster_inputs(job: ClusterJob, inputs: ClusterInputs):
    """Cluster the job's features as the CLI, the artifacts and the Clusters page do (a ClusterResult)."""
    from ..cluster import cluster

    return cluster(inputs.features, job.method, scale=inputs.scale, **job.params)


def assignment_columns(inputs: ClusterInputs) -> list[str]:
    """The CSV's columns: (a study's) source, row, coordinates with their unit (scans), the latent columns used,
    band contrast (when the job has it), cluster."""
    coordinates = list(coordinate_names(inputs.units)) if inputs.x is not None else []
    source = [SOURCE] if inputs.sources is not None else []
    return ([*source, ROW, *coordinates, *(latent_name(d) for d in inputs.dims)]
            + ([BANDCONTRAST] if inputs.bandcontrast is not None else []) + [CLUSTER])


def assignments_table(inputs: ClusterInputs, labels) -> pd.DataFrame:
    columns = {ROW: inputs.rows}
    if inputs.sources is not None:
        columns[SOURCE] = pd.Categorical.from_codes(inputs.sources, categories=list(inputs.source_names))
    if inputs.x is not None:
        columns.update(zip(coordinate_names(inputs.units), (inputs.x, inputs.y)))
    # latents are float32: written as such, their shortest exact text (not float64 digits)
    columns.update({latent_name(d): inputs.used[:, i] for i, d in enumerate(inputs.dims)})
    if inputs.bandcontrast is not None:
        columns[BANDCONTRAST] = inputs.bandcontrast
    columns[CLUSTER] = np.asarray(labels, np.int64)
    return pd.DataFrame(columns, columns=assignment_columns(inputs))


def second_axis(inputs: ClusterInputs, dim: int) -> tuple[np.ndarray, str]:
    """The scatter's vertical axis: band contrast, or without it the next latent dimension."""
    if inputs.bandcontrast is not None:
        return inputs.bandcontrast, inputs.bandcontrast_name
    other = (dim + 1) % inputs.used.shape[1] if inputs.used.shape[1] > 1 else dim
    return inputs.used[:, inputs.dims.index(other)], f"latent dim {other}"


def write_assignments(job: ClusterJob, inputs: ClusterInputs, result, out_dir, inputs_record: dict) -> dict:
    """Write the run's CSV into `out_dir`; returns its report (`inputs_record`: its inputs,
    `cluster_run.report_inputs`), whose figure is None until `with_figure`."""
    names = cluster_names(job)
    csv_path = write_csv(Path(out_dir) / names["assignments"], assignments_table(inputs, result.labels))
    outputs = {"assignments": {"name": names["assignments"], "sha256": sha256_file(csv_path),
                               "columns": assignment_columns(inputs)}}
    return cluster_report(job, result, inputs.model, inputs.quality, len(result.labels), inputs_record, outputs)


def cluster_report(job: ClusterJob, result, model: dict | None, quality: dict | None, n_rows: int,
                   inputs_record: dict, outputs: dict) -> dict:
    """The run's report (its figure None until `with_figure`): `model` what made the latents, `quality` the filter's
    record, `outputs` the files written besides the report."""
    from ..cluster import describe_fit
    from ..smoothing import smoothing_record

    return {
        "kind": "cluster", "format": REPORT_FORMAT, "tag": job.tag, "created": now(),
        "job": {**job.record(), "params": result.params},
        "method": result.method, "params": result.params, "fit": result.fit,
        "counts": result.counts, "n_clusters": sum(int(label) >= 0 for label in result.counts),
        "sample": result.sample, "fit_summary": describe_fit(result), "warnings": result.warnings,
        "smoothing": {**smoothing_record(job.smooth), "applies_to": "the clustered features (when standardised: by "
                      "the unsmoothed features' mean and std); the CSV's latent and bandcontrast columns hold the "
                      "raw values"},
        "model": model,  # what made the latents (their file's attributes): name, SHA-256
        "quality": quality,  # the quality filter and the rows it kept (None: every row)
        "n_rows": int(n_rows),
        "inputs": inputs_record,
        "versions": package_versions(VERSION_PACKAGES),
        "outputs": {**outputs, "report": {"name": cluster_names(job)["report"]}, "figure": None},
    }


def quality_input(job: ClusterJob, out_dir, root=None) -> dict:
    """The quality filter's band-contrast table as an input (`quality_bandcontrast`), when it reads one."""
    band = job.quality.bandcontrast if job.quality is not None else None
    return {} if band is None or band.from_scan else {"quality_bandcontrast": bandcontrast_record(band, out_dir, root)}


def cluster_figure(job: ClusterJob, x, y, latent, view: ScatterView, labels, units: str | None):
    """The two cluster panels: the scan map, and the rows on `view`'s scatter (each cluster shaded by `latent`)."""
    from ...figures import cluster_panels
    from ..maps import Grid

    return cluster_panels(x, y, view.horizontal, view.vertical, labels, Grid.from_coordinates(x, y),
                          latent_name=view.x_title, title=f"{job.method} clusters ({job.tag})", units=units,
                          bandcontrast_name=view.y_title, shade_by=latent, scatter_title=view.title)


def write_cluster_figure(job: ClusterJob, out_dir, x, y, latent, view: ScatterView, labels, units: str | None, *,
                         browser="auto", dpi: float = 300) -> str:
    """Write `cluster_figure` as the run's PNG (named by its view); returns the engine that drew it."""
    from ...figures import write_png

    fig = cluster_figure(job, x, y, latent, view, labels, units)
    return write_png(fig, Path(out_dir) / cluster_names(job, view.kind)["figure"], browser=browser, dpi=dpi)


def with_figure(job: ClusterJob, report: dict, engine: str, view: str | None = None) -> dict:
    """The report of `job` with its figure written (by `engine`; `view`: what its scatter shows)."""
    figure = {"name": cluster_names(job, view)["figure"], "engine": engine, "view": figure_view(job, view)}
    return {**report, "outputs": {**report["outputs"], "figure": figure}}
