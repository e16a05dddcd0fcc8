"""Band-contrast (or any per-point value) tables `x,y,bandcontrast` (or `x_um,y_um,bandcontrast`), and their
alignment to the pattern coordinates BY x,y VALUE (never by row position), tolerant to float round-off.

Wherever band contrast is asked for, a scan's own vendor map may stand in for a table: the spec
`scan:<name>` (e.g. `scan:Band Contrast`, `scan:IQ`) names a per-point map that the scan (and its
latents file) carries, row for row; `scan` alone takes the scan's first map (its band contrast).
That string is the choice's form at the edges only (a CLI argument, a workspace's or a report's JSON):
`BandContrast.parse` decodes it once into the value every caller carries."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..columns import plain_coordinates
from ..errors import InputError
from ._checks import infer_step

if TYPE_CHECKING:  # pandas and SciPy load when a table is read: a reader process needs neither
    import pandas as pd


SCAN_MAP = "scan"


def scan_map_name(spec) -> str | None:
    """`scan:Band Contrast` -> "Band Contrast", `scan` -> "" (the scan's own map); a path -> None."""
    text = str(spec) if spec is not None else ""
    if text == SCAN_MAP:
        return ""
    return text[len(SCAN_MAP) + 1:].strip() if text.startswith(SCAN_MAP + ":") else None


@dataclasses.dataclass(frozen=True)
class BandContrast:
    """A band-contrast choice: a per-point map the scan carries (`kind` "scan", `name` the map's name, ""
    for its first map) or a table x, y, bandcontrast (`kind` "table", `name` its path, `stamp` its
    (mtime_ns, size) when made: a rewritten table is a new value, so results keyed by it are made anew)."""

    kind: str
    name: str
    stamp: tuple = ()

    @classmethod
    def parse(cls, spec) -> BandContrast:
        """The value of a spec string: `scan`, `scan:<name>` or a table's path."""
        name = scan_map_name(spec)
        return cls.scan_map(name) if name is not None else cls.table(spec)

    @classmethod
    def scan_map(cls, name: str = "") -> BandContrast:
        return cls("scan", str(name))

    @classmethod
    def table(cls, path) -> BandContrast:
        """A table, stamped as it is now (no stamp when it is missing: reading it says so, naming it)."""
        path = Path(path)
        found = path.stat() if path.is_file() else None
        return cls("table", str(path), (found.st_mtime_ns, found.st_size) if found else ())

    @property
    def from_scan(self) -> bool:
        return self.kind == "scan"

    @property
    def path(self) -> Path | None:
        """The table's file; None for a scan map (it lives in the scan's and its latents' files)."""
        return None if self.from_scan else Path(self.name)

    @property
    def spec(self) -> str:
        """The string form (`scan`, `scan:<name>`, or the table's path), for the edges."""
        if self.from_scan:
            return f"{SCAN_MAP}:{self.name}" if self.name else SCAN_MAP
        return self.name

    @property
    def value_name(self) -> str:
        """The name shown on axes and colour bars: the scan map's own name, else "band contrast"."""
        return self.name if self.from_scan and self.name else "band contrast"

    def values(self, point_maps: dict, x, y, where=None) -> tuple[str, np.ndarray]:
        """(name, float64 value per row): the scan's map row for row (`point_maps`: the latents', named in
        errors by `where`), or the table aligned to the rows' x, y."""
        if self.from_scan:
            return self._scan_map(point_maps, where)
        return "band contrast", align_to_coordinates(read_bandcontrast(self.name), x, y)

    def _scan_map(self, maps: dict, where) -> tuple[str, np.ndarray]:
        """(name, values) of the point map this names; the first map for a bare `scan`."""
        if not maps:
            raise InputError("the scan carries no per-point maps (h5ebsd scans have none): give a band-contrast "
                             "table x,y,bandcontrast instead (--bandcontrast FILE.csv)", where)
        name = self.name or next(iter(maps))
        if name not in maps:
            raise InputError(f"no point map {name!r}; the scan carries {list(maps)}: pick one of them", where)
        return name, np.asarray(maps[name], np.float64)


# Units of vendors' per-point maps where they have one: the angular fits are in degrees; band contrast,
# band slope, pattern quality, IQ and CI are unitless scores.
POINT_MAP_UNITS = {"Mean Angular Deviation": "°", "MAD": "°", "Fit": "°"}


def point_map_title(name: str) -> str:
    """A per-point map's name for a colour bar or an axis, with its unit when known: "Mean Angular Deviation (°)"."""
    unit = POINT_MAP_UNITS.get(name)
    return f"{name} ({unit})" if unit else name


def read_bandcontrast(path, column: str = "bandcontrast") -> pd.DataFrame:
    """The table with numeric, finite `x`, `y` and `column` (other columns are kept as read)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such band-contrast file: check the path", path)
    import pandas as pd

    try:
        table = pd.read_csv(path, skipinitialspace=True, dtype={"source": str})  # a study's source `001` is not 1
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read as CSV ({exc}): give a CSV table x,y,bandcontrast", path) from exc
    table.columns = [str(name).strip() for name in table.columns]
    table = plain_coordinates(table)  # `x_um,y_um` as this project writes them (`bandcontrast --out kept.csv`)
    missing = [name for name in ("x", "y", column) if name not in table.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}: expected x,y,{column} (or x_um,y_um,{column}), "
                         f"found {list(table.columns)}; rename its columns", path)
    if table.empty:
        raise InputError("the table has a header but no rows: give a table with values", path)
    for name in ("x", "y", column):
        table[name] = _numeric_column(table[name], name, path)
    table.attrs["path"] = str(path)  # so that alignment errors can name the file
    return table


def _numeric_column(values: pd.Series, name: str, path) -> pd.Series:
    import pandas as pd

    numeric = pd.to_numeric(values, errors="coerce").astype(np.float64)
    bad = ~np.isfinite(numeric.to_numpy())
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"column {name!r} has {int(bad.sum())} empty, NaN or non-numeric values "
                         f"(first on line {first + 2}: {values.iloc[first]!r}); correct or remove those lines", path)
    return numeric


def align_to_coordinates(table: pd.DataFrame, x, y, column: str = "bandcontrast",
                         tolerance: float | None = None) -> np.ndarray:
    """`table[column]` reordered to the pattern coordinates (x[i], y[i]): each pattern takes the
    table row at the same position, within `tolerance` (default a quarter of the grid step).
    The table may cover more than the patterns (full field vs ROI), never less. A table that lists the
    patterns' own coordinates in their order is paired row for row, without a search (1.6 s of the
    Clusters page's run at a million rows)."""
    path = table.attrs.get("path")
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if len(x) != len(y):
        raise InputError(f"x has {len(x)} values but y has {len(y)}: pass one y per x", path)
    for name in ("x", "y", column):
        if name not in table.columns:
            raise InputError(f"table lacks column {name!r} (has {list(table.columns)}): rename one of its columns",
                             path)
    table_xy = table[["x", "y"]].to_numpy(np.float64)
    if len(table_xy) == len(x) and np.array_equal(table_xy[:, 0], x) and np.array_equal(table_xy[:, 1], y):
        return table[column].to_numpy(np.float64)
    tolerance = tolerance or _default_tolerance(x, y, table_xy)
    from scipy.spatial import cKDTree

    tree = cKDTree(table_xy)
    distance, nearest = tree.query(np.column_stack([x, y]), k=2, distance_upper_bound=tolerance)
    if np.isfinite(distance[:, 1]).any():
        first = int(np.flatnonzero(np.isfinite(distance[:, 1]))[0])
        raise InputError(f"the table holds two rows within {tolerance:g} of ({x[first]:g}, {y[first]:g}): "
                         "duplicate coordinates cannot be aligned; remove one of them", path)
    missing = ~np.isfinite(distance[:, 0])
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise InputError(
            f"cannot align the table ({len(table)} rows) to the {len(x)} pattern coordinates: "
            f"{int(missing.sum())} coordinates have no table row within {tolerance:g} (first: x={x[first]:g}, "
            f"y={y[first]:g}); the table covers another region or grid: give the table of this scan", path)
    return table[column].to_numpy(np.float64)[nearest[:, 0]]


def _default_tolerance(x, y, table_xy) -> float:
    steps = [s for s in (infer_step(x), infer_step(y)) if s]
    if not steps:  # a single pattern: take the table's spacing
        steps = [s for s in (infer_step(table_xy[:, 0]), infer_step(table_xy[:, 1])) if s]
    return 0.25 * min(steps) if steps else 1e-6
