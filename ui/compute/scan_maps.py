"""A scan's maps: the ROI's rows and cells, latent maps over the ROI, the scan's grid and each row's cell on it
(each made once per input, shared read-only by every session), and its EBSD reference maps (IPF, phases,
boundaries; VBSE, IQ, ADP from the patterns) and grain table, in the worker pool at scale."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from latentcore.analysis.maps import Roi
from latentcore.parameters import Values

from ..session import workspace
from . import tasks
from .dispatch import pooled
from .sources import latents, read_only, stacked_latents


@st.cache_resource(show_spinner=False, max_entries=32)
def roi_rows(lat_stamp: tuple, roi: Roi | None) -> np.ndarray:
    """Row ids of the scan's pixels inside the ROI (all rows without one)."""
    lat = latents(lat_stamp)
    if roi is None:
        return read_only(np.arange(len(lat.x), dtype=np.int64))
    return read_only(np.flatnonzero(roi.mask(lat.x, lat.y)))


def maps_job(lat_stamp: tuple, dims, roi: Roi | None, smooth: float = 0.0):
    """The page's `MapsJob`: what `python -m latentcore maps` runs for the same dimensions, ROI and smoothing."""
    from latentcore.analysis.artifacts.latent_maps import MapsJob

    return MapsJob(lat_stamp[0], tuple(dims), roi, smooth)


@st.cache_resource(show_spinner="Building the maps...", max_entries=16)
def latent_maps(lat_stamp: tuple, dims: tuple[int, ...], roi: Roi | None, smooth: float = 0.0):
    """The maps of `maps_job` (`artifacts.latent_maps.LatentMaps`: maps (len(dims), rows, cols) float32 over the ROI,
    smoothed over its grid, and that grid), made by the command's own run."""
    from latentcore.analysis.artifacts.latent_maps import latent_maps as run

    return read_only(run(maps_job(lat_stamp, dims, roi, smooth), latents(lat_stamp)))


def maps_files(lat_stamp: tuple, dims: tuple[int, ...], roi: Roi | None, smooth: float, out_dir, figure=None,
               dpi: float = 300) -> dict[str, Path]:
    """Write the maps' files as the command writes them (`artifacts.latent_maps.write_latent_maps`: NPY, NPZ with
    the grid, the JSON report, and the PNG of `figure`, the page's, when given at `dpi`) into `out_dir`: what a
    download asks for, when it asks; returns {kind: path}."""
    from latentcore.analysis.artifacts.latent_maps import maps_names, write_latent_maps

    job = maps_job(lat_stamp, dims, roi, smooth)
    found = latent_maps(lat_stamp, dims, roi, smooth)
    write_latent_maps(job, found, out_dir, figure=figure, dpi=dpi, root=workspace.WORKDIR_ROOT)
    return {kind: Path(out_dir) / name for kind, name in maps_names(job, found).items()}


@st.cache_resource(show_spinner=False, max_entries=8)
def roi_label_colour(lat_stamp: tuple, roi: Roi | None, labels_digest: str, _labelled):
    """The labels' colour of the ROI's rows (`roi_rows`, in order)."""
    from latentcore.analysis.labels.labelled import codes_per_row

    from ..figures.plots import label_colour

    rows = roi_rows(lat_stamp, roi)
    colour = label_colour(codes_per_row(_labelled, len(latents(lat_stamp).x))[rows], _labelled.classes)
    return read_only(colour)


@st.cache_resource(show_spinner=False, max_entries=8)
def scan_grid(lat_stamp: tuple):
    """A scan's grid and each row's (grid row, grid column), checked once (one row per pixel): what every
    colouring of its map reuses (at ten million rows the grid's inference and checks take seconds)."""
    from latentcore.analysis.maps import Grid, grid_cells

    lat = latents(lat_stamp)
    grid = Grid.from_coordinates(lat.x, lat.y)
    return read_only((grid, grid_cells(lat, grid)))  # refuses two rows on one pixel; the latent maps' own on this grid


# -- EBSD reference maps ------------------------------------------------------------------------

def scan_references(lat_stamp: tuple, source_stamp: tuple | None, parameters: Values):
    """The scan's reference maps on the latents' grid (`tasks.scan_references`, a `ScanReferences`): orientation
    maps from the latents file, made with `parameters` (an `ORIENTATION_MAP_PARAMETERS` value); with the scan file,
    VBSE, IQ and ADP from its patterns (in the worker pool at scale). Without either there is nothing to make but
    the grid: made here, of the latents already read."""
    if source_stamp is None and latents(lat_stamp).orientations is None:
        return _grid_references(lat_stamp, parameters)
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.scan_references, "Building the reference maps", rows if source_stamp else rows // 20,
                  latents=lat_stamp, source=source_stamp, parameters=parameters)


@st.cache_resource(show_spinner=False, max_entries=8)
def _grid_references(lat_stamp: tuple, parameters: Values):
    from latentcore.analysis.ebsd.scan_references import latents_references

    return latents_references(latents(lat_stamp), parameters=parameters)


def roi_references(lat_stamp: tuple, source_stamp: tuple | None, parameters: Values, roi: Roi | None):
    """(`scan_references` over the ROI, its grain boundaries as line segments): the references cropped by the
    engine's `scan_references.cropped`, as `python -m latentcore references --roi` crops them and as the latent
    maps are (the ROI's grid, NaN outside, grain ids -1); the lines (x, y, NaN between segments) on the pixels'
    edges, None without orientations."""
    found = scan_references(lat_stamp, source_stamp, parameters)  # draws its wait
    return _cropped_references(lat_stamp, source_stamp, parameters, roi, found)


@st.cache_resource(show_spinner=False, max_entries=16)
def _cropped_references(lat_stamp: tuple, source_stamp: tuple | None, parameters: Values, roi: Roi | None, _found):
    """`roi_references` of `_found`, the references of the other arguments."""
    from latentcore.analysis.ebsd.scan_references import cropped
    from latentcore.analysis.maps import edge_segments

    refs = cropped(_found, roi) if roi is not None else _found
    lines = edge_segments(refs.edges["right"], refs.edges["down"], refs.grid) if refs.edges else None
    return read_only((refs, lines))


def references_files(lat_stamp: tuple, source_stamp: tuple | None, parameters: Values, roi: Roi | None,
                     out_dir) -> dict[str, Path]:
    """Write the references over the ROI as `python -m latentcore references` writes them (references.npz and
    its JSON report, naming the latents and the scan file they came from) into `out_dir`: what a download asks
    for, when it asks; returns {kind: path}."""
    from latentcore.analysis.ebsd.scan_references import write_references

    refs, _ = roi_references(lat_stamp, source_stamp, parameters, roi)
    inputs = {"latents": lat_stamp[0], **({"scan": source_stamp[0]} if source_stamp else {})}
    return write_references(refs, out_dir, inputs, png=False, root=workspace.WORKDIR_ROOT)


def boundary_lines(lat_stamp: tuple, roi: Roi | None, parameters: Values | None = None) -> tuple | None:
    """The grain boundaries within the ROI as line segments (x, y; NaN between segments) on the pixels'
    edges; None when the latents hold no orientations. (`parameters`: the page's, so that its reference maps and
    these lines are one computation; None, the defaults.)"""
    from latentcore.analysis.ebsd.records import ORIENTATION_MAP_PARAMETERS

    return roi_references(lat_stamp, None, parameters or ORIENTATION_MAP_PARAMETERS(), roi)[1]


def grains(lat_stamp: tuple, parameters: Values) -> dict:
    """The scan's grain table from the latents' orientations (`tasks.grain_table`, with `parameters`: a
    `GRAIN_PARAMETERS` value, MTEX's reconstruction options too), in the worker pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.grain_table, "Finding the grains", rows // 20, latents=lat_stamp, parameters=parameters)


def study_grains(study_stamp: tuple, rows: int, parameters: Values) -> dict:
    """Every source's grains of the study of `rows` rows (`tasks.study_grain_table`), in the worker pool at scale."""
    return pooled(tasks.study_grain_table, "Finding every source's grains", rows // 20, study=study_stamp,
                  parameters=parameters)


# -- a line profile -------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=16)
def line_profile(lat_stamp: tuple, line: tuple, bandcontrast, dims: tuple[int, ...]):
    """The values along a line (x0, y0, x1, y1) drawn on the scan (`latentcore.analysis.profile.line_profile` over
    the scan's grid, as `python -m latentcore profile`): misorientations where the latents hold orientations,
    `bandcontrast` (a BandContrast, or None), the latent dimensions `dims`."""
    from latentcore.analysis.profile import Line, line_profile as profile

    lat = latents(lat_stamp)
    grid, cells = scan_grid(lat_stamp)
    band = None if bandcontrast is None else bandcontrast.values(lat.point_maps, lat.x, lat.y, lat_stamp[0])[1]
    return profile(Line(*line), grid, cells, lat.x, lat.y, units=lat.units, orientations=lat.orientations,
                   bandcontrast=band, latents=stacked_latents(lat_stamp)[0], dims=dims)


# -- the quality filter the pages share ----------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=8)
def quality_values(lat_stamp: tuple, bandcontrast) -> dict:
    """The scan's quality maps (`analysis.quality.quality_maps`: short name -> each row's value), `bc` the
    session's band-contrast choice (a BandContrast) when it has one."""
    from latentcore.analysis.quality import quality_maps

    from .sources import bandcontrast_for

    band = bandcontrast_for(bandcontrast, lat_stamp) if bandcontrast is not None else None
    return read_only(quality_maps(latents(lat_stamp).point_maps, band))


@st.cache_resource(show_spinner=False, max_entries=16)
def quality_kept(lat_stamp: tuple, quality) -> np.ndarray:
    """(N,) bool: the rows the quality filter (a QualityFilter) keeps, as the command line finds them."""
    lat = latents(lat_stamp)
    return read_only(quality.rows_kept(lat.point_maps, lat.x, lat.y, Path(lat_stamp[0]).name))


def kept_rows(lat_stamp: tuple, quality) -> np.ndarray:
    """Row ids the quality filter keeps (every row without one)."""
    if quality is None:
        return read_only(np.arange(len(stacked_latents(lat_stamp)[0]), dtype=np.int64))
    return np.flatnonzero(quality_kept(lat_stamp, quality))


def quality_record(lat_stamp: tuple, quality, roi: Roi | None = None) -> dict | None:
    """The quality filter's record for a report (`QualityFilter.record`) over the ROI's rows; None without one."""
    if quality is None:
        return None
    return quality.record(quality_kept(lat_stamp, quality)[roi_rows(lat_stamp, roi)])
