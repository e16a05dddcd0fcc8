"""Latent maps, as `python -m latentcore maps` and the Latent maps page make them: the job (`MapsJob`: the latents,
dimensions, ROI, smoothing, partition), its run (`latent_maps`: each dimension on the scan grid, or the ROI's, NaN
where no pixel; smoothed over that grid), its files (`maps_names`: `latent_maps__{tag}.npy`, `.npz` with the grid,
`.png`, `.json`) and its report (`write_latent_maps`). `run_maps_job` is all four at once."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ...errors import InputError, about_file
from ...versions import package_versions
from ..maps import Grid, Roi, grid_cells, latent_maps_names, latent_maps_tag, maps_on, placed_rows, scan_grid
from .common import REPORT_FORMAT, VERSION_PACKAGES, input_record, now, write_json, write_npy


@dataclasses.dataclass(frozen=True)
class MapsJob:
    """Everything that decides a set of latent maps (what their report records): the latents file, the
    dimensions (None: every one), the ROI (None: the whole scan), the Gaussian smoothing (sigma in grid
    steps, 0: none) and the partition (None: the first). Frozen and hashable: caches are keyed by it."""

    latents: str
    dims: tuple[int, ...] | None = None
    roi: Roi | None = None
    smooth: float = 0.0
    partition: str | None = None

    def __post_init__(self):
        from ..smoothing import check_sigma

        if self.roi is not None and not isinstance(self.roi, Roi):
            raise TypeError(f"a job's ROI is a Roi (Roi.from_json of {self.roi!r})")
        object.__setattr__(self, "latents", str(self.latents))
        object.__setattr__(self, "dims", None if self.dims is None else tuple(int(d) for d in self.dims))
        object.__setattr__(self, "smooth", check_sigma(self.smooth))


@dataclasses.dataclass(frozen=True)
class LatentMaps:
    """A job's maps: (len(dims), rows, columns) float32, NaN where no pixel, on `grid` (the ROI's, or the whole
    scan's), with the dimensions drawn, the coordinates' units, the partition read and each of the ROI's rows'
    (grid row, grid column) on the grid (`cells`: where the Latent maps page's click map puts them too)."""

    maps: np.ndarray
    grid: Grid
    dims: tuple[int, ...]
    units: str | None
    partition: str
    cells: tuple = ()


def latent_maps(job: MapsJob, latents=None) -> LatentMaps:
    """The job's maps (`latents`: the file already read, read here when None). Smoothing runs on the ROI's grid:
    pixels outside the ROI are NaN there, never mixed in."""
    from ...latents import read_latents
    from .._validation import check_dimensions
    from ..smoothing import smooth_maps

    latents = latents if latents is not None else read_latents(job.latents)
    partition = job.partition or next(iter(latents.partitions))
    if partition not in latents.partitions:
        raise InputError(f"no partition {partition!r}; it holds {sorted(latents.partitions)}: pick one of them",
                         job.latents)
    if latents.x is None:
        raise InputError("the latents have no x, y coordinates: maps need a scan (extract the latents of a scan file, "
                         "or embed these with umap)", job.latents)
    rows = latents.partitions[partition]
    with about_file(job.latents):  # the map errors (duplicate pixels, off-grid points) are this file's
        dims = check_dimensions(list(job.dims) if job.dims is not None else list(range(rows.shape[1])),
                                rows.shape[1])
        if job.roi:
            keep, grid, cells = placed_rows(latents.x, latents.y, None, job.roi)
        else:  # the scan's rows as placed once for every map of these latents
            keep, grid = None, scan_grid(latents)
            cells = grid_cells(latents, grid)
        maps = maps_on(rows, dims, grid, cells, keep)
    maps = smooth_maps(maps, job.smooth) if job.smooth else maps  # unsmoothed: no copy (640 MB at 10M x 16)
    return LatentMaps(maps, grid, tuple(dims), latents.units, partition, cells)


def maps_tag(job: MapsJob, run: LatentMaps) -> str:
    """`dims0-2_5_smooth1_roi15-45_6-30`: the dimensions drawn, the smoothing and the ROI."""
    return latent_maps_tag(run.dims, job.roi, job.smooth)


def maps_names(job: MapsJob, run: LatentMaps) -> dict[str, str]:
    """The files of a job's maps: `maps` (NPY), `maps_npz` (NPZ with the grid), `figure` (PNG), `report` (JSON)."""
    return latent_maps_names(maps_tag(job, run))


def maps_figure(job: MapsJob, run: LatentMaps, *, nan_colour: str = "#ffffff", scale_bar: bool = False):
    """The command's figure of the maps: one panel per dimension, in a grid."""
    from ...figures import latent_map_grid

    tag = maps_tag(job, run)
    title = f"latent maps ({tag})" + (f", Gaussian-smoothed sigma {job.smooth:g} grid steps" if job.smooth else "")
    return latent_map_grid(run.maps, run.grid, list(run.dims), nan_colour=nan_colour, title=title, units=run.units,
                           scale_bar=scale_bar)


def write_latent_maps(job: MapsJob, run: LatentMaps, out_dir, *, figure=None, dpi: float = 300,
                      browser="auto", root=None) -> dict:
    """Write the maps (NPY, NPZ with their grid), their figure when one is given (the command's `maps_figure`,
    or the page's own) as PNG at `dpi`, and their report into `out_dir`; returns the report. The latents are
    named relative to `out_dir` when they lie inside `root` (the workspace; None: anywhere)."""
    from ...export import export_maps_npz
    from ...figures import write_png
    from ..smoothing import smoothing_record

    out = Path(out_dir)
    names = maps_names(job, run)
    write_npy(out / names["maps"], run.maps)
    export_maps_npz(out / names["maps_npz"], run.maps, run.grid, [f"dim {d}" for d in run.dims], run.units)
    engine = write_png(figure, out / names["figure"], dpi=dpi, browser=browser) if figure is not None else None
    report = {
        "kind": "maps", "format": REPORT_FORMAT, "tag": maps_tag(job, run), "created": now(),
        "dims": list(run.dims), "partition": run.partition, "roi": job.roi.to_json() if job.roi else None,
        "grid": run.grid.to_dict(), "units": run.units, "shape": list(run.maps.shape), "dpi": dpi,
        "smoothing": smoothing_record(job.smooth), "inputs": {"latents": input_record(job.latents, out, root)},
        "versions": package_versions(VERSION_PACKAGES),
        "outputs": {kind: name for kind, name in names.items() if kind != "figure" or engine}, "figure_engine": engine}
    write_json(out / names["report"], report)
    return report


def run_maps_job(job: MapsJob, out_dir, *, png: bool = True, nan_colour: str = "#ffffff", scale_bar: bool = False,
                 dpi: float = 300, browser="auto", latents=None) -> dict:
    """The job's maps, written with the command's figure (`png`) and their report into `out_dir`; returns the
    report."""
    run = latent_maps(job, latents)
    figure = maps_figure(job, run, nan_colour=nan_colour, scale_bar=scale_bar) if png else None
    return write_latent_maps(job, run, out_dir, figure=figure, dpi=dpi, browser=browser)
