"""What the EBSD scan readers (h5ebsd, EDAX, Oxford) share: each names where its patterns, grid,
step, coordinates and per-point maps live (a `ScanLayout`); this class does the rest."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import h5py
import numpy as np

from ..errors import InputError
from ._checks import check_finite, check_length, grid_coordinates
from ._hdf5 import H5Reader, find_scan, header_value, per_point_maps, sniff_h5
from .base import SourceInfo, normalise_units


@dataclasses.dataclass
class ScanLayout:
    scan: str  # top-level group of the scan
    patterns: str  # (N, sy, sx) dataset
    n_rows: int
    n_columns: int
    step_x: float
    step_y: float
    x: str | None = None  # stored per-point coordinates, when the file has them
    y: str | None = None
    maps_group: str | None = None  # group of per-point maps (IQ, CI, Band Contrast, ...)
    not_maps: tuple[str, ...] = ()  # datasets of that group that are not maps
    map_names: tuple[str, ...] = ()  # the quality maps offered as band contrast, preferred first


def required_header(group: h5py.Group, names: tuple[str, ...], path) -> list:
    values = [header_value(group, name) for name in names]
    missing = [name for name, value in zip(names, values) if value is None]
    if missing:
        raise InputError(f"scan header {group.name!r} lacks {missing}", path)
    return values


class ScanReader(H5Reader):
    """One EBSD scan: partition "all", items (1, sy, sx), x/y per pattern."""

    def __init__(self, path, scan: str | None = None):
        self.scan = scan  # None: the first scan group found
        super().__init__(path)

    # What a format plugin states: pattern datasets under a scan group (preferred first), the names in
    # `<scan>/EBSD/Header` of (n_rows, n_columns, step_x, step_y), and `_extras` for coordinates and maps.
    patterns: ClassVar[tuple[str, ...]] = ()
    header: ClassVar[tuple[str, str, str, str]] = ()
    layout_name: ClassVar[str] = ""  # the format's own name, for messages

    @classmethod
    def sniff(cls, path):
        return sniff_h5(path, lambda f: any(find_scan(f, name) is not None for name in cls.patterns))

    def _extras(self, scan: str) -> dict:
        """ScanLayout keywords: where x, y and per-point maps live under `scan`."""
        return {}

    def _layout(self, f: h5py.File) -> ScanLayout:
        for patterns in self.patterns:
            scan = find_scan(f, patterns, self.scan)
            if scan is not None:
                break
        else:
            raise InputError(f"not an {self.layout_name} file: no '<scan>/{self.patterns[0]}' dataset", self.path)
        n_rows, n_columns, step_x, step_y = required_header(f[f"{scan}/EBSD/Header"], self.header, self.path)
        return ScanLayout(scan, f"{scan}/{patterns}", int(n_rows), int(n_columns), float(step_x), float(step_y),
                          **self._extras(scan))

    def _describe(self, f):
        self.layout = layout = self._layout(f)
        patterns = self.require(layout.patterns)
        if patterns.ndim != 3:
            raise InputError(f"{layout.patterns!r} must be (N, height, width), got shape {patterns.shape}",
                             self.path)
        n = patterns.shape[0]
        grid_points = layout.n_rows * layout.n_columns
        if grid_points != n:
            raise InputError(f"header grid {layout.n_rows} x {layout.n_columns} = {grid_points} points but "
                             f"{layout.patterns!r} holds {n} patterns", self.path)
        return SourceInfo(
            path=str(self.path), format=self.format_name, partitions={"all": n},
            item_shape=(1, *patterns.shape[1:]), dtype=str(patterns.dtype), has_coordinates=True,
            grid_shape=(layout.n_rows, layout.n_columns), step=(layout.step_x, layout.step_y),
            extra={"scan": layout.scan, "coordinates": "stored" if self._has_stored_xy(f) else "grid"},
            units=self._units(f, layout))

    def _units(self, f, layout) -> str | None:
        """The unit a header's step datasets declare in a `Unit`-like attribute, else None (microns)."""
        header = f[f"{layout.scan}/EBSD/Header"]
        for name in self.header[2:]:
            item = header.get(name)
            for key in ("Unit", "Units", "unit", "units"):
                if isinstance(item, h5py.Dataset) and key in item.attrs:
                    found = normalise_units(np.asarray(item.attrs[key]).reshape(-1)[0])
                    if found and found != "px":
                        return found
        return None

    def _dataset_name(self, partition):
        return self.layout.patterns

    def _has_stored_xy(self, f) -> bool:
        return bool(self.layout.x and self.layout.y and self.layout.x in f and self.layout.y in f)

    def coordinates(self, partition: str = "all"):
        n = self.count(partition)
        layout = self.layout
        if not self._has_stored_xy(self.file):
            return grid_coordinates(n, layout.n_columns, layout.step_x, layout.step_y)
        xy = []
        for name in (layout.x, layout.y):
            values = check_length(self.file[name][()].astype(np.float64), n, repr(name),
                                  f"{layout.patterns!r} (patterns)", self.path)
            check_finite(values, repr(name), self.path)
            xy.append(values)
        return tuple(xy)

    def point_maps(self):
        if not self.layout.maps_group or self.layout.maps_group not in self.file:
            return {}
        maps = per_point_maps(self.file[self.layout.maps_group], self.count("all"), self.layout.not_maps)
        if not self.layout.map_names:
            return maps
        return {name: maps[name] for name in self.layout.map_names if name in maps}
