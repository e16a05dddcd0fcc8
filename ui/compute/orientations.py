"""A selection's orientations (`ui.widgets.orientations`): the whole scan's projections of a phase for a sample
direction, made once per latents file (`tasks.orientation_projections`; in the worker pool at scale), the
selection's taken from them (`latentcore.analysis.ebsd.pole_figures.orientation_plots`); its misorientation-angle
distribution (`latentcore.analysis.ebsd.misorientations.angle_distribution`, the command's defaults: 100,000 random
pairs at most, seed 0), made once per selection, its neighbours found on the scan's grid (`scan_maps.scan_grid`, the
grid the command finds from the same coordinates)."""
from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from . import tasks
from .dispatch import pooled
from .scan_maps import scan_grid
from .sources import latents


def orientation_plots(lat_stamp: tuple, rows, direction: str, phase: int | None = None):
    """The `OrientationPlots` of `rows` of the latents at `lat_stamp` (phase: default the one most rows have)."""
    from latentcore.analysis.ebsd.pole_figures import orientation_plots as plots_of, selection_orientations

    found = latents(lat_stamp).orientations
    phase = selection_orientations(found, rows, phase).phase
    scan = pooled(tasks.orientation_projections, "Projecting the scan's orientations",
                  int((found.phase_id == phase).sum()), latents=lat_stamp, direction=direction, phase=phase)
    return plots_of(found, rows, direction, phase, scan=scan)


def misorientations(lat_stamp: tuple, plots):
    """The `AngleDistribution` of the `OrientationPlots`' selection (its rows of one phase)."""
    rows = plots.found.rows
    return _misorientations(lat_stamp, hashlib.sha1(rows.tobytes()).hexdigest(), plots.found.laue, rows)


@st.cache_resource(show_spinner="Measuring the misorientation angles...", max_entries=16)
def _misorientations(lat_stamp: tuple, rows_sha1: str, laue: str, _rows: np.ndarray):
    """`misorientations` of the rows whose digest is `rows_sha1`."""
    from latentcore.analysis.ebsd.misorientations import angle_distribution

    _, (grid_rows, grid_columns) = scan_grid(lat_stamp)
    return angle_distribution(latents(lat_stamp).orientations.euler[_rows], laue,
                              (grid_rows[_rows], grid_columns[_rows]))
