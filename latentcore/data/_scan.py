"""What the EBSD scan readers share. A scan is one partition "all" of patterns (1, sy, sx) on a
grid of n_rows x n_columns points; `ScanGrid` places them and judges stored coordinates, and
`ScanReader` serves the HDF5 layouts (h5ebsd, EDAX, Oxford, Bruker, EMsoft): each names where its
patterns, grid, step, coordinates and per-point maps live (a `ScanLayout`); this class does the rest."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import h5py
import numpy as np

from ..arrays import unique
from ..errors import InputError
from ._checks import GRID_TOLERANCE, check_finite, check_grid, check_length, check_range, grid_coordinates
from ._hdf5 import H5Reader, find_scan, header_value, per_point_maps, read_whole, sniff_h5
from .base import SourceInfo, compact_dtype, normalise_units



@dataclasses.dataclass(frozen=True)
class ScanGrid:
    """Point (r, c) of a scan sits at x = c * step_x, y = r * step_y; patterns are row-major."""

    n_rows: int
    n_columns: int
    step_x: float
    step_y: float

    def check(self, n: int, what: str, path, points: np.ndarray | None = None) -> "ScanGrid":
        """A grid of n points (or, with `points`, the grid nodes of n patterns) and a positive step."""
        size = self.n_rows * self.n_columns
        if self.n_rows < 1 or self.n_columns < 1 or (size != n if points is None else len(points) != n):
            raise InputError(f"header grid {self.n_rows} x {self.n_columns} = {size} "
                             f"points but {what} holds {n} patterns: export the scan again", path)
        if points is not None and (points.min() < 0 or points.max() >= size or unique(points).size != n):
            raise InputError(f"the {n} patterns are not on distinct points of the {self.n_rows} x "
                             f"{self.n_columns} grid: export the scan again", path)
        if not (np.isfinite(self.step_x) and np.isfinite(self.step_y) and self.step_x > 0 and self.step_y > 0):
            raise InputError(f"header step ({self.step_x:g}, {self.step_y:g}) must be positive", path)
        return self

    def coordinates(self, n: int, points: np.ndarray | None = None):
        """x, y of the first n points, or of the given grid nodes (row-major indices)."""
        if points is None:
            return grid_coordinates(n, self.n_columns, self.step_x, self.step_y)
        rows, columns = np.divmod(np.asarray(points, np.int64), self.n_columns)
        return columns * float(self.step_x), rows * float(self.step_y)

    def misfit(self, x: np.ndarray, y: np.ndarray, x_name: str, y_name: str) -> str | None:
        """Why stored x, y cannot be this scan's positions (None when they can): each point must sit
        on its own node of the grid (any origin, any order)."""
        if len(x) > 1 and self.n_rows > 1 and self.n_columns > 1 and np.array_equal(x, y):
            return f"{y_name} repeats {x_name}"
        columns_f, rows_f = (x - x.min()) / self.step_x, (y - y.min()) / self.step_y
        columns, rows = np.rint(columns_f).astype(np.int64), np.rint(rows_f).astype(np.int64)
        between = (np.abs(columns_f - columns) > GRID_TOLERANCE) | (np.abs(rows_f - rows) > GRID_TOLERANCE)
        if between.any():
            return (f"put {int(between.sum())} points between the nodes of the header grid "
                    f"(step {self.step_x:g}, {self.step_y:g})")
        if rows.max() >= self.n_rows or columns.max() >= self.n_columns:
            return (f"span {rows.max() + 1} x {columns.max() + 1} points, more than the header grid "
                    f"{self.n_rows} x {self.n_columns}")
        shared = len(x) - unique(rows * self.n_columns + columns).size
        if shared:
            return f"put {shared} points on a node another point already has"
        return None


def scan_info(reader, n: int, pattern_shape, dtype, grid: ScanGrid, coordinates: str,
              warnings=(), units: str | None = None, **extra) -> SourceInfo:
    """The SourceInfo of a scan; `warnings` (what was found wrong and worked around) go into
    extra["warnings"], which `info` prints and extraction copies into the latents file."""
    extra = {**extra, "coordinates": coordinates}
    if warnings:
        extra["warnings"] = list(warnings)
    return SourceInfo(path=str(reader.path), format=reader.format_name, partitions={"all": n},
                      item_shape=(1, *pattern_shape), dtype=str(np.dtype(dtype)), has_coordinates=True,
                      grid_shape=(grid.n_rows, grid.n_columns), step=(grid.step_x, grid.step_y), extra=extra,
                      units=units)


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
    order: np.ndarray | None = None  # row i of the scan is stored pattern order[i] (None: the same)
    points: np.ndarray | None = None  # grid node of row i when the scan fills only part of its grid
    warnings: tuple[str, ...] = ()  # what the format plugin found wrong and worked around

    @property
    def grid(self) -> ScanGrid:
        return ScanGrid(self.n_rows, self.n_columns, self.step_x, self.step_y)
    map_names: tuple[str, ...] = ()  # the quality maps offered as band contrast, preferred first


def required_header(group: h5py.Group, names: tuple[str, ...], path) -> list:
    values = [header_value(group, name) for name in names]
    missing = [name for name, value in zip(names, values) if value is None]
    if missing:
        raise InputError(f"scan header {group.name!r} lacks {missing}: export the scan again", path)
    return values


class ScanReader(H5Reader):
    """One EBSD scan in HDF5: partition "all", items (1, sy, sx), x/y per pattern."""

    def __init__(self, path, scan: str | None = None, *, describe_only: bool = False):
        self.scan = scan  # None: the first scan group found
        super().__init__(path, describe_only=describe_only)

    # What a format plugin states: pattern datasets under a scan group (preferred first), the names in
    # `<scan>/EBSD/Header` of (n_rows, n_columns, step_x, step_y), and `_extras` for coordinates and maps.
    patterns: ClassVar[tuple[str, ...]] = ()
    header: ClassVar[tuple[str, str, str, str]] = ()
    stored_background: ClassVar[str | None] = None  # where under the scan group a static background is stored
    ebsd_scan = True

    @classmethod
    def sniff(cls, path):
        return sniff_h5(path, lambda f: any(find_scan(f, name) is not None for name in cls.patterns))

    def _extras(self, scan: str) -> dict:
        """ScanLayout keywords: where x, y and per-point maps live under `scan`."""
        return {}

    def _find_patterns(self, f: h5py.File) -> tuple[str, str]:
        """(scan group, pattern dataset path under it) of the first scan holding patterns."""
        for patterns in self.patterns:
            scan = find_scan(f, patterns, self.scan)
            if scan is not None:
                return scan, patterns
        raise InputError(f"not in the {self.title} layout: no '<scan>/{self.patterns[0]}' dataset; export the scan "
                         "with its patterns", self.path)

    def _layout(self, f: h5py.File) -> ScanLayout:
        scan, patterns = self._find_patterns(f)
        grid = check_grid(*required_header(f[f"{scan}/EBSD/Header"], self.header, self.path), self.path)
        return ScanLayout(scan, f"{scan}/{patterns}", *grid, **self._extras(scan))

    def _describe(self, f):
        self.layout = layout = self._layout(f)
        patterns = self.require(layout.patterns)
        if patterns.ndim != 3:
            raise InputError(f"{layout.patterns!r} must be (N, height, width), got shape {patterns.shape}: export the "
                             "scan again", self.path)
        n = patterns.shape[0]
        layout.grid.check(n, repr(layout.patterns), self.path, layout.points)
        self.coordinate_source, warnings = self._choose_coordinates(f, n)
        return scan_info(self, n, patterns.shape[1:], patterns.dtype, layout.grid, self.coordinate_source,
                         (*layout.warnings, *warnings), units=self._units(f, layout), scan=layout.scan)

    def _choose_coordinates(self, f, n: int) -> tuple[str, list[str]]:
        """"stored" when the file's x, y fit the header grid, else "grid" and a warning saying why.
        Columns of the wrong length or with NaN are left to `coordinates`, which names the fault."""
        layout = self.layout
        if not self._has_stored_xy(f):
            return "grid", []
        x, y = (f[name] for name in (layout.x, layout.y))
        if x.shape != (n,) or y.shape != (n,):
            return "stored", []
        if self._refusals:  # described only (`info`): its rows are refused for reading, so are x, y
            return "stored", ["stored coordinates not checked against the header grid: the scan's data "
                              "is refused for reading"]
        x, y = read_whole(x, self.path).astype(np.float64), read_whole(y, self.path).astype(np.float64)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            return "stored", []
        reason = layout.grid.misfit(x, y, repr(layout.x.rsplit("/", 1)[-1]), repr(layout.y.rsplit("/", 1)[-1]))
        if reason is None:
            return "stored", []
        return "grid", [f"stored coordinates {reason}: the scan is placed on its header grid "
                        f"{layout.n_rows} x {layout.n_columns} (step {layout.step_x:g}, {layout.step_y:g})"]

    def _units(self, f, layout) -> str | None:
        """The unit a header's step datasets declare in a `Unit`-like attribute, else None (microns)."""
        header = f.get(f"{layout.scan}/EBSD/Header")
        if not isinstance(header, h5py.Group):  # EMsoft's simulated patterns have no scan header
            return None
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

    def read_stored(self, partition: str, start: int, stop: int) -> np.ndarray:
        if self.layout.order is None:
            return super().read_stored(partition, start, stop)
        start, stop = check_range(self, partition, start, stop)
        return self._read_stored_rows(self.layout.order[start:stop])

    def _read_stored_rows(self, stored: np.ndarray) -> np.ndarray:
        """Patterns at stored positions in any order: one slice when they lie close together (an ROI
        stored out of order within rows), else one h5py read of the increasing positions."""
        dataset = self._open_dataset(self.layout.patterns)
        if not stored.size:
            block = dataset[0:0]
        elif stored.max() - stored.min() < 4 * stored.size:
            block = dataset[stored.min():stored.max() + 1][stored - stored.min()]
        else:
            ascending, inverse = np.unique(stored, return_inverse=True)
            block = dataset[ascending][inverse]
        return block.astype(compact_dtype(block.dtype), copy=False).reshape((len(stored), *self._info.item_shape))

    def coordinates(self, partition: str = "all"):
        n = self.count(partition)
        layout = self.layout
        if self.coordinate_source == "grid" or not self._has_stored_xy(self.file):
            return layout.grid.coordinates(n, layout.points)
        xy = []
        for name in (layout.x, layout.y):
            values = check_length(read_whole(self.file[name], self.path).astype(np.float64), n, repr(name),
                                  f"{layout.patterns!r} (patterns)", self.path)
            check_finite(values, repr(name), self.path)
            xy.append(values if layout.order is None else values[layout.order])
        return tuple(xy)

    def orientations(self):
        found = self._orientations(self.file, self.count("all"))
        if found is not None and self.layout.order is not None:
            found = found.take(self.layout.order)
        return found

    def _orientations(self, f: h5py.File, n: int):
        """The format's `data.orientations` function applied to its file, in stored order (None: none)."""
        return None

    def point_maps(self):
        if not self.layout.maps_group or self.layout.maps_group not in self.file:
            return {}
        maps = per_point_maps(self.file[self.layout.maps_group], self.count("all"), self.layout.not_maps)
        if self.layout.order is not None:
            maps = {name: values[self.layout.order] for name, values in maps.items()}
        if not self.layout.map_names:
            return maps
        return {name: maps[name] for name in self.layout.map_names if name in maps}
