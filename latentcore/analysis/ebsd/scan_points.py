"""An indexed scan's points and the classes given to them: what the grain table (`grains`) and the vendor files
(`vendor_files`) are made from.

    points = scan_points("scan.h5oina")     a scan file's points: x, y, grid, units, orientations, vendor maps
    points = latents_points(lat)            the same from a latents file (which keeps the scan's orientations)
    classes = read_classes("clusters.csv", points)   a cluster assignments or labels CSV, matched to the points
    classes = row_classes(labelled, n)      labels (`labels.labelled.LabelledRows`) already keyed by row
    rows = points.rows_at(x, y, "the latents", path)  the points at other coordinates (latents of the same scan)

A classes CSV is one the project writes: `cluster_assignments__*.csv` (`cluster`: noise, -1, has no class; the
others become `cluster 0`, `cluster 1`, ...) or a labels table (`label`), matched to the scan's pixels by their
coordinates (or by `row` when it has none), as labels are (`labels.labelled.match_labels`): a table of another scan
is refused in one line. A study's table (`source` first) gives the scan the rows of its own source, the one named as
its latents file is (`p__demo-vae_latents.h5` and the scan `p.h5oina` are both `p`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ...columns import CLUSTER, LABEL, SOURCE
from ...data import open_source
from ...data.orientations import ScanOrientations
from ...errors import InputError
from ..labels import labelled as lab
from ..maps import Grid, scan_grid

NO_ORIENTATIONS = "no orientations (Euler angles and phases), which grains and the .ctf/.ang export need"
INDEXED = ("a scan indexed by its vendor's software (Oxford H5OINA, EDAX HDF5, Bruker h5ebsd, kikuchipy h5ebsd with a "
           "crystal map)")


@dataclasses.dataclass
class ScanPoints:
    """One point per row: its coordinates (in `units`) on `grid`, orientation and phase, and the scan's vendor maps
    (Band Contrast, MAD, IQ, CI, ...), all in row order; `path` is the file they were read from."""

    x: np.ndarray
    y: np.ndarray
    grid: Grid
    units: str | None
    orientations: ScanOrientations
    point_maps: dict
    path: Path

    def __len__(self) -> int:
        return len(self.x)

    @property
    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """(grid row, grid column) of every point."""
        return self.grid.indices(self.x, self.y)

    def rows_at(self, x, y, what: str, path) -> np.ndarray:
        """The point (row) at each coordinate, -1 where the grid node has none; refused in one line when a
        coordinate is off this scan's grid (`what` of another scan)."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        try:
            rows, columns = self.grid.indices(x, y)
        except InputError as exc:
            raise InputError(f"{what} are not of this scan ({self.path.name}): {exc}", path) from None
        here = np.full(self.grid.n_rows * self.grid.n_columns, -1, np.int64)
        scan_rows, scan_columns = self.cells
        here[scan_rows * self.grid.n_columns + scan_columns] = np.arange(len(self))
        return here[rows * self.grid.n_columns + columns]


def scan_points(path) -> ScanPoints:
    """The points of an indexed scan file; refused in one line when it is not a scan or holds no orientations."""
    with open_source(path) as reader:
        info = reader.info()
        if not info.has_coordinates or info.grid_shape is None:
            raise InputError("not an EBSD scan (patterns on a grid): give an indexed scan file", path)
        orientations = reader.orientations()
        if orientations is None:
            raise InputError(f"the scan holds {NO_ORIENTATIONS}: give {INDEXED}", path)
        x, y = reader.coordinates("all")
        maps = reader.point_maps()
    return ScanPoints(x, y, Grid.from_coordinates(x, y, info.grid_shape), info.units, orientations, maps, Path(path))


def latents_points(lat) -> ScanPoints:
    """The points of a latents file (`latents.Latents`) of an indexed scan: its rows, coordinates, orientations
    and the vendor maps it carries."""
    if lat.orientations is None or lat.x is None:
        raise InputError(f"these latents hold {NO_ORIENTATIONS}: use the latents of {INDEXED}", lat.path)
    return ScanPoints(lat.x, lat.y, scan_grid(lat), lat.units, lat.orientations,
                      lat.point_maps, Path(lat.path))


@dataclasses.dataclass
class RowClasses:
    """A class per row: `codes` (N,) int64 index into `names`, -1 where the row has none; `column` says what the
    classes are (`cluster` or `label`)."""

    codes: np.ndarray
    names: list[str]
    column: str


def row_classes(labelled: lab.LabelledRows, n_rows: int, column: str = LABEL) -> RowClasses:
    return RowClasses(lab.codes_per_row(labelled, n_rows), list(labelled.classes), column)


def read_classes(path, points: ScanPoints) -> RowClasses:
    """A cluster assignments CSV (`cluster`) or a labels CSV (`label`) as a class per point, matched by coordinates
    (or `row`); one-line errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such classes file: give a cluster assignments or labels CSV", path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        reason = (str(exc).splitlines() or ["empty"])[0]
        raise InputError(f"not a CSV table ({reason}): give a cluster assignments or labels CSV", path) from None
    table = own_rows(table.rename(columns=lambda name: str(name).strip().lstrip("\ufeff").lower()), points, path)
    if LABEL not in table.columns and CLUSTER in table.columns:
        return _cluster_classes(table, path, points)
    if LABEL not in table.columns:
        raise InputError(f"a classes table needs a `cluster` column (cluster assignments) or a `label` column "
                         f"(labels), with x_um,y_um or row; it has {list(table.columns)[:10]}", path)
    labelled = lab.match_labels(lab.check_labels_table(table, path), len(points), points.x, points.y, path)
    return row_classes(labelled, len(points), LABEL)


def own_rows(table: pd.DataFrame, points: ScanPoints, path) -> pd.DataFrame:
    """The rows of a study's classes table (a `source` column) that are of this scan's source (`items.source_rows`,
    the source named as the scan's or latents file); a table without one as it is."""
    from ...outputs import own_source_name
    from ..items import source_rows

    return source_rows(table, None, path, "give the scan (or latents) of one of them, named as the study names it",
                       own=own_source_name(points.path)).drop(columns=SOURCE, errors="ignore")


def _cluster_classes(table: pd.DataFrame, path, points: ScanPoints) -> RowClasses:
    clusters = pd.to_numeric(table[CLUSTER], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(clusters) | (clusters % 1 != 0)
    if bad.any():
        first = int(np.argmax(bad))
        raise InputError(f"column 'cluster' must hold whole numbers; line {first + 2} has "
                         f"{table[CLUSTER].iloc[first]!r}: fix that line, or give the CSV a cluster run wrote", path)
    table = lab.check_labels_table(table.assign(label=table[CLUSTER]), path)
    matched = lab.match_labels(table, len(points), points.x, points.y, path)
    clustering = lab.from_clustering(matched.rows, matched.names.astype(np.int64))  # noise (-1) has no class
    return row_classes(clustering, len(points), CLUSTER)
