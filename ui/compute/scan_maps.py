"""A scan's maps: the ROI's rows and cells, latent maps over the ROI, the scan's grid and each row's cell on it
(each made once per input, shared read-only by every session), and its EBSD reference maps (IPF, phases,
boundaries; VBSE, IQ, ADP from the patterns) and grain table, in the worker pool at scale."""
from __future__ import annotations

import numpy as np
import streamlit as st

from . import tasks
from .dispatch import pooled
from .sources import latents, read_only, stacked_latents


@st.cache_resource(show_spinner=False, max_entries=32)
def roi_rows(lat_stamp: tuple, roi: tuple | None) -> np.ndarray:
    """Row ids of the scan's pixels inside the ROI (all rows without one)."""
    from latentcore.analysis.maps import Roi

    lat = latents(lat_stamp)
    if roi is None:
        return read_only(np.arange(len(lat.x), dtype=np.int64))
    return read_only(np.flatnonzero(Roi(*roi).mask(lat.x, lat.y)))


@st.cache_resource(show_spinner="Building the maps...", max_entries=16)
def latent_maps(lat_stamp: tuple, dims: tuple[int, ...], roi: tuple | None, smooth: float = 0.0):
    """(maps (len(dims), rows, cols) float32, Grid) over the ROI, smoothed over the ROI's grid
    when `smooth` (sigma in grid steps) > 0, as `python -m latentcore maps --smooth`."""
    from latentcore.analysis.maps import Roi, spatial_maps
    from latentcore.analysis.smoothing import smooth_maps

    lat = latents(lat_stamp)
    rows = next(iter(lat.partitions.values()))
    maps, grid, _ = spatial_maps(rows, lat.x, lat.y, list(dims), roi=Roi(*roi) if roi else None)
    return read_only((smooth_maps(maps, smooth), grid))


@st.cache_resource(show_spinner=False, max_entries=16)
def roi_cells(lat_stamp: tuple, roi: tuple | None):
    """The ROI's rows and each one's (grid row, grid column) on the ROI's map grid."""
    from latentcore.analysis.maps import Grid

    lat = latents(lat_stamp)
    rows = roi_rows(lat_stamp, roi)
    grid = Grid.from_coordinates(lat.x[rows], lat.y[rows])
    return read_only((rows, grid.indices(lat.x[rows], lat.y[rows])))


@st.cache_resource(show_spinner=False, max_entries=8)
def roi_label_colour(lat_stamp: tuple, roi: tuple | None, labels_digest: str, _labelled):
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
    from latentcore.analysis.maps import Grid, values_map

    lat = latents(lat_stamp)
    grid = Grid.from_coordinates(lat.x, lat.y)
    values_map(np.zeros(len(lat.x), np.float32), lat.x, lat.y, grid)  # refuses two rows on one pixel
    return read_only((grid, grid.indices(lat.x, lat.y)))


# -- EBSD reference maps ------------------------------------------------------------------------

def scan_references(lat_stamp: tuple, source_stamp: tuple | None, boundary_deg: float) -> dict:
    """The scan's reference maps on the latents' grid (`tasks.scan_references`): orientation maps from
    the latents file; with the scan file, VBSE, IQ and ADP from its patterns (in the worker pool at scale)."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.scan_references, "Building the reference maps", rows if source_stamp else rows // 20,
                  latents=lat_stamp, source=source_stamp, boundary_deg=float(boundary_deg))


def roi_references(lat_stamp: tuple, source_stamp: tuple | None, boundary_deg: float, roi: tuple | None) -> dict:
    """`scan_references` cropped to the ROI as the latent maps are (`maps.crop_to_roi`: the same grid, pixels
    and NaN outside), with the grain boundaries as line segments on that grid: "lines" (x, y, NaN between
    segments; None without orientations) and "roi" (the ROI, None for the whole scan)."""
    found = scan_references(lat_stamp, source_stamp, boundary_deg)  # out of the cache: a wait draws its progress
    return _cropped_references(lat_stamp, source_stamp, float(boundary_deg), roi, found)


@st.cache_resource(show_spinner=False, max_entries=16)
def _cropped_references(lat_stamp: tuple, source_stamp: tuple | None, boundary_deg: float, roi: tuple | None,
                        _found: dict) -> dict:
    """`roi_references` of `_found`, the references of the first three arguments."""
    from latentcore.analysis.maps import Grid, Roi, crop_to_roi, edge_segments

    found = _found
    if found["grid"] is None:
        return read_only({**found, "lines": None, "roi": roi})
    lat, region = latents(lat_stamp), Roi(*roi) if roi else None
    maps, grid = crop_to_roi(found["maps"], Grid(**found["grid"]), lat.x, lat.y, region)
    edges, _ = crop_to_roi(found["edges"], Grid(**found["grid"]), lat.x, lat.y, region)
    lines = edge_segments(edges["right"], edges["down"], grid) if edges else None
    return read_only({**found, "maps": maps, "grid": grid.to_dict(), "edges": edges, "lines": lines, "roi": roi})


def boundary_lines(lat_stamp: tuple, boundary_deg: float, roi: tuple | None) -> tuple | None:
    """The grain boundaries within the ROI as line segments (x, y; NaN between segments) on the pixels'
    edges; None when the latents hold no orientations."""
    return roi_references(lat_stamp, None, boundary_deg, roi)["lines"]


def grains(lat_stamp: tuple, boundary_deg: float) -> dict:
    """The scan's grain table from the latents' orientations (`tasks.grain_table`), in the worker pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.grain_table, "Finding the grains", rows // 20, latents=lat_stamp,
                  boundary_deg=float(boundary_deg))


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
