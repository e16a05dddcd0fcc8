"""An embedding's scatter and, for a scan, the same rows on the scan map, linked: point panels (point_panel.js)
up to `point_panel.MAX_POINTS` rows, plotly's raster and map above. Each takes the selection just made on it
before anything is drawn (`take`), then draws (`draw`). The UMAP page shows every row; the Clusters page a
part of them (its ROI: `row_ids`, on the part's own grid: `scan`)."""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import streamlit as st

from latentcore.data.base import display_units

from ..compute import scan_maps
from ..session import state
from . import point_panel, scales, selection


@dataclasses.dataclass
class LinkedEmbedding:
    key: str  # the page's prefix: panels `{key}_scatter` and `{key}_map`, the group `{key}`
    lat_stamp: tuple
    lat: object
    coords: np.ndarray  # (rows, 2): the scatter's coordinates of the rows shown
    row_ids: np.ndarray | None = None  # the global id of each row shown; None: every row, in order
    scan: tuple | None = None  # (grid, each row's grid cell) of the rows shown; None: the scan's own

    @property
    def on_scan(self) -> bool:
        return self.lat.x is not None and self.lat.y is not None

    @property
    def canvas(self) -> bool:
        return len(self.coords) <= point_panel.MAX_POINTS

    @property
    def rows(self) -> np.ndarray:
        return np.arange(len(self.coords)) if self.row_ids is None else np.asarray(self.row_ids)

    @functools.cached_property
    def points(self):
        """(scatter, scan map or None) as the point panels draw them: found once a run."""
        scatter = selection.scatter_points(self.coords[:, 0], self.coords[:, 1])
        if not self.on_scan:
            return scatter, None
        return scatter, selection.map_points(*(self.scan or scan_maps.scan_grid(self.lat_stamp)))

    def take(self):
        """Apply a selection just made on either panel, so this run draws it."""
        if self.canvas:
            scatter, scan = self.points
            selection.take_shapes({f"{self.key}_scatter": scatter[0], **({f"{self.key}_map": scan[0]} if scan else {})},
                                  self.row_ids)
            return
        rows, lat = self.rows, self.lat
        selection.take_pending({f"{self.key}_scatter": selection.scatter_resolver(
                                    self.coords[:, 0], self.coords[:, 1], rows, state.selection()),
                                **({f"{self.key}_map": lambda s: selection.rows_in_shapes(s, lat.x[rows], lat.y[rows],
                                                                                          rows)}
                                   if self.on_scan else {})})

    def draw(self, colour, chosen, *, marks=(), values=None, hover=None, lines=None, histogram=None,
             map_title: str = "The same rows on the scan", **titles) -> bool:
        """The two panels side by side (the scatter alone without a scan), the scan map's boundary `lines` and
        the `histogram` (values) under it; True when a plotly panel took a new selection (rerun)."""
        panels = st.columns(2) if self.on_scan else [st.container()]
        scatter, scan = self.points if self.canvas else (None, None)
        changed = False
        with panels[0]:
            if self.canvas:
                point_panel.draw(f"{self.key}_scatter", scatter, colour, group=self.key, values=values,
                                 units=self.lat.units, row_ids=self.row_ids, **titles)
            else:
                changed, _ = selection.linked_scatter(self.coords[:, 0], self.coords[:, 1], colour, self.rows, chosen,
                                                      f"{self.key}_scatter", marks=marks, hover=hover, **titles)
        if self.on_scan:
            with panels[1]:
                unit = display_units(self.lat.units)
                if self.canvas:  # its hover shows the scatter's values
                    point_panel.draw(f"{self.key}_map", scan, colour, group=self.key, title=map_title,
                                     x_title=f"x ({unit})", y_title=f"y ({unit})", units=self.lat.units, lines=lines,
                                     row_ids=self.row_ids)
                else:
                    changed |= selection.linked_code_map(self.lat_stamp, self.lat, colour, chosen, f"{self.key}_map",
                                                         lines=lines, title=map_title, row_ids=self.rows,
                                                         scan=self.scan)
                if histogram is not None:
                    scales.histogram(histogram, f"{self.key}_histogram", colour=colour, value_name=colour.title)
        if self.canvas:
            point_panel.overlay(f"{self.key}_overlay", self.key, len(self.coords), chosen,
                                marks={f"{self.key}_scatter": list(marks)}, row_ids=self.row_ids)
        return changed
