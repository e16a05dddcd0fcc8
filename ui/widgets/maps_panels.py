"""The Latent maps page's point panels, one linked group over the ROI's pixels: the click map (a latent dimension,
the picked pixel marked) and, when the page colours by label, the labels map above the maps. A click, box or lasso
on either is the session's selection, applied (`take`) before anything is drawn."""
from __future__ import annotations

import dataclasses

import numpy as np

from latentcore.analysis.maps import Roi, values_at
from latentcore.data.base import display_units

from ..compute import scan_maps
from ..figures import plots
from ..kept import Kept, digest
from . import line_profile, point_panel, selection

GROUP, PICKER, LABELS = "maps", "maps_picker", "maps_labels_map"


@dataclasses.dataclass
class MapsPanels:
    rows: np.ndarray  # the ROI's rows (global ids: a study's rows on one of its sources): the group's rows, in order
    cells: tuple  # each one's (grid row, grid column) on the ROI's grid
    points: tuple  # as the panels draw them (`selection.map_points`)
    keys: tuple  # the panels the page draws
    units: str | None
    lat_stamp: tuple  # the scan's latents file: a line drawn on its maps is its profile line

    @classmethod
    def over(cls, lat_stamp: tuple, lat, roi: Roi | None, found, by_label: bool, first_row: int = 0) -> MapsPanels:
        """The panels over the ROI's pixels where the latent maps `found` (`scan_maps.latent_maps`) put them, on
        their grid; the labels map too with `by_label`. `first_row`: the latents' first row among the session's (a
        study's source: its start), so that a selection made here is the study's rows."""
        rows = scan_maps.roi_rows(lat_stamp, roi)
        return cls(rows + first_row if first_row else rows, found.cells, selection.map_points(found.grid, found.cells),
                   (LABELS, PICKER) if by_label else (PICKER,), lat.units, lat_stamp)

    def take(self):
        selection.take_shapes({key: self.points[0] for key in self.keys}, self.rows, self.lat_stamp)

    def _axes(self) -> dict:
        unit = display_units(self.units)
        return {"x_title": f"x ({unit})", "y_title": f"y ({unit})", "units": self.units, "row_ids": self.rows}

    def draw_labels(self, lat_stamp: tuple, roi: Roi | None, labelled):
        """The labels over the ROI's pixels in their colours, a legend of counts (unlabelled grey)."""
        colour = scan_maps.roi_label_colour(lat_stamp, roi, labelled.digest(), labelled)
        point_panel.draw(LABELS, self.points, colour, group=GROUP, title="Labels on the scan", height=420,
                         **self._axes())

    def draw_picker(self, values_map, title: str, colorscale: str, limits, nan_colour: str, lines=None):
        """`values_map` (the ROI's map of a dimension, as the maps above show it) to click on, in their colours and
        limits; pixels without a value, or without a row, in the maps' `nan_colour`."""
        key = (digest(values_map), digest(self.cells[0]), digest(self.cells[1]), title, colorscale, limits, nan_colour)
        values, colour = _PICKED.get(key, lambda: _picker_colour(values_at(values_map, self.cells), *key[3:]))
        point_panel.draw(PICKER, self.points, colour, group=GROUP, title=title, values=values, lines=lines,
                         background=nan_colour, **self._axes())

    def overlay(self, chosen, lat, picked: int | None):
        """The selection on the panels, the `picked` row of `lat` (the one whose pattern the page shows) marked, and
        the session's profile line."""
        marks = line_profile.marks(self.keys, self.lat_stamp)
        if picked is not None:
            marks.setdefault(PICKER, []).append({"x": [lat.x[picked]], "y": [lat.y[picked]], "name": "picked",
                                                 "symbol": "diamond-open", "size": 16, "colour": "#e31a1c"})
        point_panel.overlays(GROUP, {key: self.points for key in self.keys}, len(self.rows), chosen, marks=marks,
                             row_ids=self.rows)


_PICKED = Kept(4)  # the click map's values and colour, kept for the page's reruns: 1.5 s at 10M pixels


def _picker_colour(values, title: str, colorscale: str, limits, nan_colour: str) -> tuple:
    colour = plots.continuous_colour(values, title, colorscale, *(limits or (None, None)))
    colour = dataclasses.replace(colour, colours=[*colour.colours[:-1], nan_colour])  # the NaN code: the last
    values.flags.writeable = colour.codes.flags.writeable = False  # shared by reruns and sessions
    return values, colour
