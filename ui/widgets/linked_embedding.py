"""An embedding's scatter and, for a scan, the same rows on the scan map, linked point panels
(ui/widgets/point_panel/; binned above `point_panel.geometry.MAX_POINTS` rows). Each takes the selection just made on
it before anything is drawn (`take`), then draws (`draw`). The UMAP page shows every row, or those the quality filter
keeps (`of_rows`: on the scan's grid); the Clusters page a part of them (its ROI and filter: `row_ids`, on the part's
own grid: `scan`).

On a study of several sources (`sources.study_sources`) every row is on the scatter and each source's rows on a scan
map of their own, in its own grid (two a row; a picker chooses which above MAX_MAPS sources): each map a group of its
own (its rows are a part of the scatter's) that shows a selection made on the scatter at once (its rows a block of the
scatter's: `follows`) and the server's after a rerun (`point_panel.overlays` with the source's `row_ids`); a shape
drawn on a map selects that source's rows."""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import streamlit as st

from latentcore.analysis.maps import Roi
from latentcore.data.base import display_units

from ..compute import scan_maps, sources
from ..session import defaults, state
from ..figures import plots
from . import line_profile, point_panel, scales, selection

MAX_MAPS = 6  # a study's scan maps drawn at once; above, a picker chooses them


@dataclasses.dataclass
class LinkedEmbedding:
    key: str  # the page's prefix: panels `{key}_scatter` and `{key}_map`, the group `{key}`
    lat_stamp: tuple
    lat: object
    coords: np.ndarray  # (rows, 2): the scatter's coordinates of the rows shown
    row_ids: np.ndarray | None = None  # the global id of each row shown; None: every row, in order
    scan: tuple | None = None  # (grid, each row's grid cell) of the rows shown; None: the scan's own

    @classmethod
    def of_rows(cls, key: str, lat_stamp: tuple, lat, coords, rows) -> LinkedEmbedding:
        """The panels of `rows` (row ids, in order) on the scan's own grid; `coords`: every row's (N, 2)."""
        if len(rows) == len(coords):
            return cls(key, lat_stamp, lat, coords)
        panels = cls(key, lat_stamp, lat, coords[rows], np.asarray(rows))
        if panels.on_scan:  # one scan's grid (a study's sources each keep their own: `maps`)
            grid, cells = scan_maps.scan_grid(lat_stamp)
            panels.scan = (grid, tuple(np.asarray(c)[rows] for c in cells))
        return panels

    def __post_init__(self):
        if self.row_ids is not None and every_row(self.row_ids, self.lat):
            self.row_ids = None  # the same rows: not sent (4 bytes a row on each panel)

    @property
    def on_scan(self) -> bool:
        return self.lat.x is not None and self.lat.y is not None and not self.study

    @functools.cached_property
    def study(self) -> list:
        """The study's sources, [] for a latents file."""
        return sources.study_sources(self.lat_stamp)

    @functools.cached_property
    def maps(self) -> dict:
        """A study's map panel key -> its `Block` of the rows shown: the scans' (each source with x, y), picked
        above MAX_MAPS."""
        scans = [source for source, member in zip(self.study, getattr(self.lat, "members", ())) if member.x is not None]
        blocks = {source.name: Block.of(source, self.row_ids) for source in scans}
        if len(blocks) > MAX_MAPS:
            key = f"{self.key}_sources"
            picked = st.multiselect(f"Scan maps shown (up to {MAX_MAPS} of {len(blocks)} sources)", list(blocks),
                                    defaults.setting(key, list(blocks)[:2], offered=list(blocks)), key=key,
                                    max_selections=MAX_MAPS)
            blocks = {name: blocks[name] for name in picked}
        return {f"{self.key}_map_{name}": block for name, block in blocks.items()}

    @functools.cached_property
    def overview(self) -> dict:
        """Panel key -> its points over every row shown (the scatter, and the scan map on a scan; a study's maps):
        found once."""
        panels = {f"{self.key}_scatter": selection.scatter_points(self.coords[:, 0], self.coords[:, 1])}
        if self.on_scan:
            panels[f"{self.key}_map"] = selection.map_points(*(self.scan or scan_maps.scan_grid(self.lat_stamp)))
        for key, block in self.maps.items():
            grid, cells = scan_maps.scan_grid(block.source.stamp)
            panels[key] = selection.map_points(grid, cells if block.every_row else
                                               tuple(np.asarray(c)[block.ids - block.source.start] for c in cells))
        return panels

    @property
    def panels(self) -> dict:
        """Panel key -> its points as drawn: a binned scatter zoomed into shows the rows in its view (the view
        may change between a page's fragment reruns, which keep this object)."""
        return {key: selection.zoomed_points(key, points) for key, points in self.overview.items()}

    def take(self):
        """Apply a selection just made on any panel, so this run draws it (a study's map: its source's rows)."""
        panels = {key: geometry for key, (geometry, _, _) in self.panels.items()}
        if not selection.take_shapes({k: g for k, g in panels.items() if k not in self.maps}, self.row_ids,
                                     self.lat_stamp):
            any(selection.take_shapes({key: panels[key]}, block.ids, block.source.stamp)
                for key, block in self.maps.items())

    def draw(self, colour, chosen, *, marks=(), values=None, boundaries: bool = False, histogram=None,
             map_title: str = "The same rows on the scan", **titles):
        """The two panels side by side (the scatter alone without a scan), the scan map's grain boundaries (with
        `boundaries`), the `histogram` (values) under it, and the line profile of a line drawn on it under both; a
        study's scatter and the histogram beside it, then its sources' maps, each with its own boundaries."""
        if self.study:
            return self.draw_study(colour, chosen, marks=marks, values=values, boundaries=boundaries,
                                   histogram=histogram, **titles)
        columns = st.columns(2) if self.on_scan else [st.container()]
        scatter_key, map_key = f"{self.key}_scatter", f"{self.key}_map"
        with columns[0]:
            point_panel.draw(scatter_key, self.panels[scatter_key], colour, group=self.key, values=values,
                             units=self.lat.units, row_ids=self.row_ids, **titles)
        if self.on_scan:
            with columns[1]:
                unit = display_units(self.lat.units)
                lines = boundary_lines(self.lat_stamp, self.scan) if boundaries else None
                point_panel.draw(map_key, self.panels[map_key], colour, group=self.key, title=map_title,
                                 x_title=f"x ({unit})", y_title=f"y ({unit})", units=self.lat.units, lines=lines,
                                 row_ids=self.row_ids)  # its hover shows the scatter's values
                if histogram is not None:
                    scales.histogram(histogram, f"{self.key}_histogram", colour=colour, value_name=colour.title)
        point_panel.overlays(self.key, self.panels, len(self.coords), chosen, row_ids=self.row_ids,
                             marks={scatter_key: list(marks),
                                    **line_profile.marks([map_key] if self.on_scan else [], self.lat_stamp)})
        if self.on_scan:
            line_profile.profile_panel(self.key, self.lat_stamp, sources.members(self.lat_stamp)[0], self.lat)

    def draw_study(self, colour, chosen, *, marks=(), values=None, boundaries: bool = False, histogram=None, **titles):
        chosen, scatter_key = np.asarray(chosen, np.int64), f"{self.key}_scatter"
        left, right = st.columns(2)
        with left:
            point_panel.draw(scatter_key, self.panels[scatter_key], colour, group=self.key, values=values,
                             units=self.lat.units, row_ids=self.row_ids, **titles)
        with right:
            if histogram is not None:
                scales.histogram(histogram, f"{self.key}_histogram", colour=colour, value_name=colour.title)
            st.caption(f"Every row of the study's {len(self.study)} sources {'' if self.row_ids is None else 'shown '}"
                       "is on the scatter; each scan's rows are on its own map below, in its own grid.")
            for note in sources.study(self.lat_stamp).notes:  # sources without coordinates: no map
                st.caption(note)
        unit = display_units(self.lat.units)
        columns = []
        for number, (key, block) in enumerate(self.maps.items()):
            columns = st.columns(2) if number % 2 == 0 else columns
            part, name, rows = block.shown, block.source.name, len(block.ids)
            picked = int(np.count_nonzero(plots.is_chosen(block.ids, chosen)))
            of = f"{rows:,} rows" if block.every_row else f"{rows:,} of {block.source.rows:,} rows"
            lines = boundary_lines(block.source.stamp) if boundaries else None
            with columns[number % 2]:  # its hover names the row within the source
                point_panel.draw(key, self.panels[key], colour.of_rows(part), group=key, title=f"{name} ({of})",
                                 x_title=f"x ({unit})", y_title=f"y ({unit})", units=self.lat.units, height=420,
                                 lines=lines, values=None if values is None else np.asarray(values)[part],
                                 follows=(self.key, part.start, len(self.coords)))  # its legend: its own rows
                st.caption(f"{name}: {picked:,} of its {rows:,} rows {'' if block.every_row else 'shown '}selected")
        point_panel.overlays(self.key, {scatter_key: self.panels[scatter_key]}, len(self.coords), chosen,
                             marks={scatter_key: list(marks)}, row_ids=self.row_ids)
        for key, block in self.maps.items():  # a line drawn on a source's map: its profile line
            point_panel.overlays(key, {key: self.panels[key]}, len(block.ids), chosen, row_ids=block.ids,
                                 marks=line_profile.marks([key], block.source.stamp))
        shown = [block.source for block in self.maps.values()]
        if shown:  # the profile of the source whose map holds the line (how to draw one, without)
            source = next((source for source in shown if state.profile_line(source.stamp)), shown[0])
            line_profile.profile_panel(self.key, self.lat_stamp, source,
                                       self.lat.source_latents(self.study.index(source)))


@dataclasses.dataclass(frozen=True)
class Block:
    """A study's source among the rows shown: `shown` their positions (a slice: rows come in source order), `ids`
    their global ids; `every_row`: all its rows, in order."""

    source: sources.Source
    shown: slice
    ids: np.ndarray

    @classmethod
    def of(cls, source: sources.Source, shown: np.ndarray | None) -> Block:
        """`source`'s block of `shown` (the global ids of the rows shown, ascending; None: every row, in order)."""
        if shown is None:  # no array of every row's id: ten million at a study's scale
            return cls(source, slice(source.start, source.start + source.rows), source.row_ids)
        first, end = np.searchsorted(shown, [source.start, source.start + source.rows])
        return cls(source, slice(int(first), int(end)), np.asarray(shown[first:end], np.int64))

    @property
    def every_row(self) -> bool:
        return len(self.ids) == self.source.rows


def boundary_lines(lat_stamp: tuple, scan: tuple | None = None):
    """The grain boundaries of a scan's latents over a map of `scan` ((grid, cells) of the rows shown, an ROI's;
    None: the scan's own grid); None without orientations."""
    grid = (scan or scan_maps.scan_grid(lat_stamp))[0]
    return scan_maps.boundary_lines(lat_stamp, Roi.around(grid))


def colour_of_rows(colour, rows):
    """`colour` (a `plots.Colour` of every row) for `rows` only (row ids, in order), its legend counting them."""
    return colour if len(rows) == len(colour.codes) else colour.of_rows(rows)


def every_row(row_ids: np.ndarray, lat) -> bool:
    """`row_ids` are every row of the latents (`lat`, its partitions stacked), in order."""
    total = sum(len(rows) for rows in lat.partitions.values())
    return len(row_ids) == total and bool(np.array_equal(row_ids, np.arange(total)))
