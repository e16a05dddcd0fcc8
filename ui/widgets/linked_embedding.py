"""An embedding's scatter and, for a scan, the same rows on the scan map, linked point panels
(ui/widgets/point_panel/; binned above `point_panel.geometry.MAX_POINTS` rows). Each takes the selection just made on
it before anything is drawn (`take`), then draws (`draw`). The UMAP page shows every row; the Clusters page a part of
them (its ROI: `row_ids`, on the part's own grid: `scan`)."""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import streamlit as st

from latentcore.data.base import display_units

from ..compute import scan_maps
from . import line_profile, point_panel, scales, selection


@dataclasses.dataclass
class LinkedEmbedding:
    key: str  # the page's prefix: panels `{key}_scatter` and `{key}_map`, the group `{key}`
    lat_stamp: tuple
    lat: object
    coords: np.ndarray  # (rows, 2): the scatter's coordinates of the rows shown
    row_ids: np.ndarray | None = None  # the global id of each row shown; None: every row, in order
    scan: tuple | None = None  # (grid, each row's grid cell) of the rows shown; None: the scan's own

    def __post_init__(self):
        if self.row_ids is not None and every_row(self.row_ids, self.lat):
            self.row_ids = None  # the same rows: not sent (4 bytes a row on each panel)

    @property
    def on_scan(self) -> bool:
        return self.lat.x is not None and self.lat.y is not None

    @functools.cached_property
    def overview(self) -> dict:
        """Panel key -> its points over every row shown (the scatter, and the scan map on a scan): found once."""
        panels = {f"{self.key}_scatter": selection.scatter_points(self.coords[:, 0], self.coords[:, 1])}
        if self.on_scan:
            panels[f"{self.key}_map"] = selection.map_points(*(self.scan or scan_maps.scan_grid(self.lat_stamp)))
        return panels

    @property
    def panels(self) -> dict:
        """Panel key -> its points as drawn: a binned scatter zoomed into shows the rows in its view (the view
        may change between a page's fragment reruns, which keep this object)."""
        return {key: selection.zoomed_points(key, points) for key, points in self.overview.items()}

    def take(self):
        """Apply a selection just made on either panel, so this run draws it."""
        selection.take_shapes({key: geometry for key, (geometry, _, _) in self.panels.items()}, self.row_ids)

    def draw(self, colour, chosen, *, marks=(), values=None, lines=None, histogram=None,
             map_title: str = "The same rows on the scan", **titles):
        """The two panels side by side (the scatter alone without a scan), the scan map's boundary `lines`, the
        `histogram` (values) under it, and the line profile of a line drawn on it under both."""
        columns = st.columns(2) if self.on_scan else [st.container()]
        scatter_key, map_key = f"{self.key}_scatter", f"{self.key}_map"
        with columns[0]:
            point_panel.draw(scatter_key, self.panels[scatter_key], colour, group=self.key, values=values,
                             units=self.lat.units, row_ids=self.row_ids, **titles)
        if self.on_scan:
            with columns[1]:
                unit = display_units(self.lat.units)
                point_panel.draw(map_key, self.panels[map_key], colour, group=self.key, title=map_title,
                                 x_title=f"x ({unit})", y_title=f"y ({unit})", units=self.lat.units, lines=lines,
                                 row_ids=self.row_ids)  # its hover shows the scatter's values
                if histogram is not None:
                    scales.histogram(histogram, f"{self.key}_histogram", colour=colour, value_name=colour.title)
        point_panel.overlays(self.key, self.panels, len(self.coords), chosen, row_ids=self.row_ids,
                             marks={scatter_key: list(marks), **line_profile.marks([map_key] if self.on_scan else [])})
        if self.on_scan:
            line_profile.profile_panel(self.key, self.lat_stamp, self.lat)


def every_row(row_ids: np.ndarray, lat) -> bool:
    """`row_ids` are every row of the latents (`lat`, its partitions stacked), in order."""
    total = sum(len(rows) for rows in lat.partitions.values())
    return len(row_ids) == total and bool(np.array_equal(row_ids, np.arange(total)))
