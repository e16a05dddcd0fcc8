"""A selection's orientations (`ui.widgets.orientations`): the whole scan's projections of a phase for a sample
direction, made once per latents file (`tasks.orientation_projections`; in the worker pool at scale), the
selection's taken from them (`latentcore.analysis.ebsd.pole_figures.orientation_plots`)."""
from __future__ import annotations

from . import tasks
from .dispatch import pooled
from .sources import latents


def orientation_plots(lat_stamp: tuple, rows, direction: str, phase: int | None = None):
    """The `OrientationPlots` of `rows` of the latents at `lat_stamp` (phase: default the one most rows have)."""
    from latentcore.analysis.ebsd.pole_figures import orientation_plots as plots_of, selection_orientations

    found = latents(lat_stamp).orientations
    phase = selection_orientations(found, rows, phase).phase
    scan = pooled(tasks.orientation_projections, "Projecting the scan's orientations",
                  int((found.phase_id == phase).sum()), latents=lat_stamp, direction=direction, phase=phase)
    return plots_of(found, rows, direction, phase, scan=scan)
