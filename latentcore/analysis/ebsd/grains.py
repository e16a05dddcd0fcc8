"""Grains as objects: one row per grain of an indexed scan, with its size, mean orientation, orientation spread,
KAM and, given latents, how much the latents vary inside it (deformation, sub-grains: internally inhomogeneous
grains first).

    found = grain_table(points, latents=None, classes=None, parameters=GRAIN_PARAMETERS(min_grain_points=5))
    GRAIN_PARAMETERS    the grains' parameters, each declared once (`latentcore.parameters`; the command's options, the
                        page's widgets, the report's `parameters`): the reference maps' boundary_deg,
                        kam_threshold_deg, kam_order and twin_tolerance_deg, and MTEX's reconstruction options
                        min_grain_points and fill_not_indexed
    found.table         one row per grain (columns below), ranked by `latent_spread` (highest first) when latents
                        are given, else by grain id
    found.grain_of_row  (N,) the grain of each point, -1 where in none (not indexed, unless filled)
    found.reconstruction  what the reconstruction options changed: pixels filled, grains dissolved, pixels given
    grain_distributions(found.table, found.units)    the grain-size (ECD) and GOS histograms: a row per bin
    study_grains(study, parameters)   every source of a study's grains as one table, `source` first (a Dask task per
                                      source with `scheduler`); `grain_distributions(..., by="source")` each source's
                                      over the same bins, `grain_summary(table, units)` a row per source
    mean_orientations(euler, grain, phase_id, laue)   (each grain's mean orientation as a quaternion, each point's
                                                      misorientation to it)
    write_grains(found, out_dir, stem, inputs, figure)  grains__<stem>.csv, grain_distributions__<stem>.csv (and its
                                                      figure, .png) and grains_report__<stem>.json

Grains are `orientation.grain_map`'s (4-neighbours of one phase within `boundary_deg`), the KAM is
`orientation.kernel_average_misorientation`'s: the same as the reference maps'. MTEX's reconstruction options, both
off by default (`orientation.reconstructed_grains`): `fill_not_indexed` gives not-indexed pixels to their
neighbours' grains, `min_grain_points` dissolves the grains of fewer indexed points into their neighbours. A grain's
every pixel, filled ones included, counts in its points, area, centroid, latents and class; its orientation columns
(mean, GOS, KAM, twin boundaries) come from its indexed points. The columns (`latentcore.columns`):
`grain`, `points`, `area_<unit>2`, `ecd_<unit>` (equivalent circle diameter), `centroid_x_<unit>`,
`centroid_y_<unit>` (lengths in the scan's unit, µm unless it says otherwise), `phase` (the scan's phase id),
`phi1_deg`, `Phi_deg`, `phi2_deg` (the mean orientation, Bunge Euler angles in degrees, in the scan's convention),
`gos_deg` (grain orientation spread: the mean misorientation of its points to the mean orientation), `kam_deg` (the
mean KAM of its points that have one), `twin_boundary_fraction` (the share of its boundary with other grains, between
pixels of their grains' orientations, that is a Σ3 twin boundary: `orientation.boundary_classes` within
`twin_tolerance_deg`; cubic phases only, empty for others and for a grain with no such boundary); with latents
`latent_spread` (the mean Euclidean distance of its points' latent vectors to their mean), `latent_norm` (the norm of
that mean) and `latent_<d>` (the mean of each dimension);
with classes `cluster` or `label` (the class most of its points have) and `class_fraction` (the share of its points
that have it). Measurements are given to MEASURED_DIGITS significant digits: an area of 261 pixels of 0.49 µm² is
127.89, not float arithmetic's 127.88999999999845 (`arrays.significant`; ids and counts are integers).

The mean orientation respects the crystal symmetry: each point's orientation is replaced by its symmetry equivalent
nearest the grain's current mean (first: the grain's first point), the unit quaternions are averaged and
normalised, twice (the chordal mean). The equivalents are the right ones while a grain spreads less than half its
symmetry's smallest rotation (45° for cubic crystals); beyond, the mean is an approximation, said in the notes.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.spatial.transform import Rotation

from ... import columns as col
from ...arrays import significant
from ...errors import InputError
from ...parameters import Values
from ...storage import sha256_file
from ...versions import package_versions
from ..artifacts.common import VERSION_PACKAGES, input_record, now, write_csv, write_json
from . import orientation as ori
from .records import GRAIN_PARAMETERS, HIGH_ANGLE_DEG
from .scan_points import RowClasses, ScanPoints
from .scan_references import laue_of

MEAN_ITERATIONS = 2
BOUNDARY_BIN_DEG = 1.0  # the boundary misorientation-angle distribution's bin width, as MTEX's default histogram
MEASURED_DIGITS = 10  # beyond any EBSD measurement's precision, short of float arithmetic's last-digit noise
LATENT_BLOCK_ROWS = 1 << 18  # distances to the grain means computed this many rows at a time
MEAN_NOTE = ("mean orientation: the normalised mean of the points' unit quaternions, each taken as its symmetry "
             "equivalent nearest the grain's mean (twice, from the grain's first point); the equivalents are the "
             "right ones while a grain spreads less than half its symmetry's smallest rotation (45° for cubic), an "
             "approximation beyond")


@dataclasses.dataclass
class Grains:
    table: pd.DataFrame
    grain_of_row: np.ndarray
    parameters: dict
    notes: list[str]
    units: str | None
    reconstruction: dict = dataclasses.field(default_factory=dict)  # what the options changed (`reconstructed_grains`)
    boundaries: pd.DataFrame | None = None  # each grain boundary segment's misorientation (`boundary_angles`)


def grain_table(points: ScanPoints, latents: np.ndarray | None = None, classes: RowClasses | None = None,
                parameters: Values = GRAIN_PARAMETERS()) -> Grains:
    """The grain table of a scan's points; `latents` (N, D) row for row with the points (NaN rows: none),
    `classes` a class per point; `parameters` a `GRAIN_PARAMETERS` value (the reconstruction options as the module
    docstring says)."""
    found = grains_and_kam(points, parameters)
    grain, notes = found.grain, found.notes
    inside = np.flatnonzero(grain >= 0)
    measured = np.flatnonzero((grain >= 0) & ~found.given)  # the points whose orientation is their grain's
    g, m, n_grains = grain[inside], grain[measured], int(grain.max(initial=-1)) + 1
    euler, phase_id = points.orientations.euler[measured], points.orientations.phase_id[measured]
    mean, spread = mean_orientations(euler, m, phase_id, found.laue)
    table = {col.GRAIN: np.arange(n_grains), **_size_columns(points, inside, g, n_grains),
             col.PHASE: phase_id[_first_rows(m, n_grains)], **dict(zip(col.EULER_DEG, bunge_degrees(mean).T)),
             col.GOS: np.rad2deg(_means(m, spread, n_grains)), col.KAM: _means(m, found.kam[measured], n_grains),
             col.TWIN_FRACTION: found.twin_fraction}
    if np.isnan(table[col.KAM]).any():
        notes.append(f"{int(np.isnan(table[col.KAM]).sum())} grains have no point with a KAM (no neighbour within "
                     f"{parameters.kam_threshold_deg:g}°): kam_deg is empty")
    notes += _twin_notes(table[col.PHASE], table[col.TWIN_FRACTION], found.laue)
    if latents is not None:
        table.update(_latent_columns(g, np.asarray(latents)[inside], n_grains))
    frame = pd.DataFrame(table)
    if classes is not None:
        frame = with_classes(frame, grain, classes)
    if latents is not None:
        frame = frame.sort_values([col.LATENT_SPREAD, col.GRAIN], ascending=[False, True], kind="stable",
                                  na_position="last").reset_index(drop=True)
    frame = _measured(frame)
    record = {**parameters.record(), "high_angle_deg": HIGH_ANGLE_DEG, "mean_iterations": MEAN_ITERATIONS,
              "orientation_convention": points.orientations.convention,
              "ranked_by": col.LATENT_SPREAD if latents is not None else col.GRAIN}
    return Grains(frame, grain, record, [MEAN_NOTE, *notes], points.units, found.reconstruction,
                  pd.DataFrame({col.BOUNDARY_MISORIENTATION: found.boundary_deg}))


@dataclasses.dataclass
class FoundGrains:
    """What `grains_and_kam` finds on a scan's points."""

    grain: np.ndarray  # (N,) each point's grain, -1 none
    given: np.ndarray  # (N,) bool: in a grain whose orientation it does not share (filled, from a dissolved grain)
    kam: np.ndarray  # (N,) each point's KAM in degrees
    laue: dict  # phase id -> Laue group, of the phases with one
    twin_fraction: np.ndarray  # (n_grains,) the Σ3 share of each grain's boundary (`twin_fractions`)
    reconstruction: dict  # what the options changed (`orientation.reconstructed_grains`)
    notes: list[str]
    boundary_deg: np.ndarray  # each grain boundary segment's misorientation angle (`boundary_angles`)


def grains_and_kam(points: ScanPoints, parameters: Values = GRAIN_PARAMETERS()) -> FoundGrains:
    """The reference maps' `grains` and `kam` on the points (`scan_references.orientation_maps`), without the maps
    grains do not need, the reconstruction options applied (`orientation.reconstructed_grains`), and each grain's
    twin boundary fraction."""
    orientations, (rows, columns) = points.orientations, points.cells
    laue = {k: group for k, group in ((k, laue_of(p)) for k, p in orientations.phases.items()) if group}
    known = np.isin(orientations.phase_id, list(laue))
    phase = np.full(points.grid.shape, -1, np.int64)
    phase[rows, columns] = np.where(known, orientations.phase_id, -1)
    euler = np.zeros((*points.grid.shape, 3))
    euler[rows, columns] = orientations.euler
    not_indexed = np.zeros(points.grid.shape, bool)
    not_indexed[rows, columns] = orientations.phase_id < 0
    p = parameters
    grains, given, changes = ori.reconstructed_grains(ori.grain_map(euler, phase, laue, p.boundary_deg), not_indexed,
                                                      p.min_grain_points, p.fill_not_indexed)
    angles = dict(zip(("right", "down"), ori.neighbour_misorientations(euler, phase, laue)))
    edges = ori.boundary_classes(euler, phase, laue, p.boundary_deg, p.twin_tolerance_deg, angles)
    own = (phase >= 0) & ~given  # the pixels whose orientation is their grain's
    twin = twin_fractions(grains, own, edges, points.grid)
    twin[~np.isin(_grain_phases(grains, phase, own), [k for k, g in laue.items() if g == ori.TWIN_LAUE])] = np.nan
    kam = ori.kernel_average_misorientation(euler, phase, laue, p.kam_threshold_deg, p.kam_order)[rows, columns]
    unknown = sorted({int(k) for k in orientations.phase_id[~known & (orientations.phase_id >= 0)]})
    notes = [f"phases {unknown} have no crystal symmetry this package knows ({', '.join(ori.LAUE_GROUPS)}): their "
             "points are in no grain"] if unknown else []
    notes += _reconstruction_notes(changes, p.min_grain_points, p.fill_not_indexed)
    return FoundGrains(grains[rows, columns], given[rows, columns], kam, laue, twin, changes, notes,
                       boundary_angles(grains, own, angles))


def _grain_edges(grains: np.ndarray, measured: np.ndarray):
    """The grains' boundary segments of each side ("right", "down"): (side, the slices of the pixels on either side,
    the edges between pixels of two grains, each pixel of its grain's orientation); `grains` (rows, columns) ids,
    `measured` (rows, columns) bool."""
    for side, first, second in (("right", np.s_[:, :-1], np.s_[:, 1:]), ("down", np.s_[:-1], np.s_[1:])):
        a, b = grains[first], grains[second]
        yield side, first, second, (a != b) & (a >= 0) & (b >= 0) & measured[first] & measured[second]


def boundary_angles(grains: np.ndarray, measured: np.ndarray, angles: dict) -> np.ndarray:
    """(segments,) float32: the misorientation angle in degrees of every grain boundary segment of one phase, an edge
    between 4-neighbour pixels of two grains each of its grain's orientation (a phase boundary has none), as MTEX's
    `grains.boundary('Ni', 'Ni').misorientation.angle`; `angles` {"right", "down"}:
    `orientation.neighbour_misorientations`' radians."""
    found = []
    for side, _, _, between in _grain_edges(grains, measured):
        angle = angles[side][between]
        found.append(np.rad2deg(angle[np.isfinite(angle)]))
    return np.concatenate(found).astype(np.float32)


def twin_fractions(grains: np.ndarray, measured: np.ndarray, edges: dict, grid) -> np.ndarray:
    """(n_grains,) each grain's share of its boundary length with other grains that is a Σ3 twin boundary: over the
    edges between pixels of two grains, each pixel of its grain's orientation (`measured`: indexed, neither filled nor
    given from a dissolved grain), each edge as long as the pixels' side it is (a step in y between left and right
    neighbours, in x between upper and lower); NaN without such an edge. `grains` (rows, columns) ids, `edges`
    `orientation.boundary_classes`'s."""
    n_grains = int(grains.max(initial=-1)) + 1
    total, twin = np.zeros(n_grains), np.zeros(n_grains)
    for side, first, second, between in _grain_edges(grains, measured):
        length = abs(grid.step_y) if side == "right" else abs(grid.step_x)
        is_twin = edges[f"twin_{side}"][first][between]
        for ids in (grains[first][between], grains[second][between]):  # an edge bounds both its grains
            total += length * np.bincount(ids, minlength=n_grains)
            twin += length * np.bincount(ids, is_twin, minlength=n_grains)
    with np.errstate(invalid="ignore", divide="ignore"):
        return twin / total


def _grain_phases(grains: np.ndarray, phase: np.ndarray, own: np.ndarray) -> np.ndarray:
    """(n_grains,) the phase of each grain: of its `own` pixels (indexed, not given to it; one phase a grain)."""
    out = np.full(int(grains.max(initial=-1)) + 1, -1, np.int64)
    out[grains[own]] = phase[own]
    return out


def _twin_notes(phase: np.ndarray, fraction: np.ndarray, laue: dict) -> list[str]:
    other = int(np.count_nonzero(~np.isin(phase, [k for k, g in laue.items() if g == ori.TWIN_LAUE])))
    notes = [f"{col.TWIN_FRACTION}: Σ3 twins are defined here for cubic ({ori.TWIN_LAUE}) phases only; empty for the "
             f"{other} grains of other phases"] if other else []
    alone = int(np.count_nonzero(np.isnan(fraction))) - other
    if alone:
        notes.append(f"{alone} grains share no boundary between indexed pixels with another grain: "
                     f"{col.TWIN_FRACTION} is empty")
    return notes


def _reconstruction_notes(changes: dict, min_grain_points: int, fill_not_indexed: bool) -> list[str]:
    notes = []
    if fill_not_indexed:
        notes.append(f"not-indexed pixels filled from their neighbours' grains: {changes['pixels_filled']:,} pixels "
                     "(in the grains' points, area and latents, not in their orientations)")
    if min_grain_points:
        notes.append(f"grains of fewer than {min_grain_points:,} indexed points dissolved into their neighbours: "
                     f"{changes['grains_dissolved']:,} grains, {changes['pixels_reassigned']:,} pixels given")
    return notes


def _size_columns(points: ScanPoints, inside: np.ndarray, grain: np.ndarray, n_grains: int) -> dict:
    """points, area, equivalent circle diameter and centroid of each grain, in the scan's unit."""
    count = np.bincount(grain, minlength=n_grains)
    area = count * abs(points.grid.step_x * points.grid.step_y)
    x_name, y_name = col.coordinate_names(points.units)
    return {col.POINTS: count, col.area_name(points.units): area, col.ecd_name(points.units): 2 * np.sqrt(area / np.pi),
            f"{col.CENTROID}{x_name}": _means(grain, points.x[inside], n_grains),
            f"{col.CENTROID}{y_name}": _means(grain, points.y[inside], n_grains)}


def _first_rows(grain: np.ndarray, n_grains: int) -> np.ndarray:
    first = np.full(n_grains, len(grain), np.int64)
    np.minimum.at(first, grain, np.arange(len(grain)))
    return first


def _means(grain: np.ndarray, values: np.ndarray, n_grains: int) -> np.ndarray:
    """Each grain's mean of `values`, over its points where they are finite (NaN where none is)."""
    finite = np.isfinite(values)
    total = np.bincount(grain[finite], values[finite], minlength=n_grains)
    count = np.bincount(grain[finite], minlength=n_grains)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


# -- orientations ------------------------------------------------------------------------------------------

def nearest_equivalents(q: np.ndarray, reference: np.ndarray, laue: str) -> tuple[np.ndarray, np.ndarray]:
    """Each orientation of `q` (M, 4: sample to crystal) as its symmetry equivalent nearest `reference` (M, 4), on
    the reference's side of the quaternion sphere (so that they can be averaged), and the symmetry-reduced
    misorientation angle (radians) between the two: 2 arccos of their largest |inner product|, as
    `orientation.misorientation_angles` finds it."""
    q, reference = np.ascontiguousarray(q.T), np.ascontiguousarray(reference.T)  # (4, M): 10x faster products
    best, out = np.full(q.shape[1], -1.0), q.copy()
    for s in ori.proper_rotations(laue).as_quat():  # crystal symmetry acts on the crystal frame: S * O
        candidate = ori.compose(s, np.eye(4)).T @ q  # column j of the matrix: S * (basis quaternion j)
        dot = np.einsum("ij,ij->j", candidate, reference)
        nearer = np.abs(dot) > best
        out[:, nearer] = candidate[:, nearer] * np.where(dot[nearer] < 0, -1.0, 1.0)
        best = np.maximum(best, np.abs(dot))
    return out.T, 2 * np.arccos(np.clip(best, 0, 1))


def mean_orientations(euler: np.ndarray, grain: np.ndarray, phase_id: np.ndarray, laue: dict,
                      iterations: int = MEAN_ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """(n_grains, 4) unit quaternions (scalar last; sample to crystal, as `orientation.sample_to_crystal`) of each
    grain's mean orientation: points as their symmetry equivalent nearest the grain's mean, averaged (see the module
    docstring); and each point's misorientation (radians) to its grain's mean. `grain` ids 0 .. n_grains - 1 per
    point, one phase per grain; `laue`: phase id -> Laue group."""
    q = ori.sample_to_crystal(euler).as_quat()
    n_grains = int(grain.max(initial=-1)) + 1
    mean = q[_first_rows(grain, n_grains)] if n_grains else np.empty((0, 4))
    for step in range(iterations + 1):  # the last pass measures each point against the final mean
        aligned, angle = q.copy(), np.full(len(q), np.nan)
        for phase, group in laue.items():
            mine = phase_id == phase
            aligned[mine], angle[mine] = nearest_equivalents(q[mine], mean[grain[mine]], group)
        if step < iterations:
            total = np.stack([np.bincount(grain, aligned[:, k], minlength=n_grains) for k in range(4)], -1)
            mean = total / np.linalg.norm(total, axis=1, keepdims=True)
    return mean, angle


def bunge_radians(q: np.ndarray) -> np.ndarray:
    """Sample-to-crystal quaternions (N, 4) -> their Bunge Euler angles (N, 3) in radians, each in [0, 2 pi)."""
    if not len(q):
        return np.empty((0, 3))
    return np.mod(Rotation.from_quat(q).inv().as_euler("ZXZ"), 2 * np.pi)


def bunge_degrees(q: np.ndarray) -> np.ndarray:
    return np.rad2deg(bunge_radians(q))


# -- latents and classes -----------------------------------------------------------------------------------

def _latent_columns(grain: np.ndarray, latents: np.ndarray, n_grains: int) -> dict:
    """latent_spread, latent_norm and each dimension's mean per grain, over its points with finite latents."""
    finite = np.isfinite(latents).all(axis=1)
    grain, latents = grain[finite], latents[finite]
    count = np.bincount(grain, minlength=n_grains)
    membership = csr_matrix((np.ones(len(grain)), (grain, np.arange(len(grain)))), shape=(n_grains, len(grain)))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.asarray(membership @ latents.astype(np.float64)) / count[:, None]
    distance = np.empty(len(grain))
    for start in range(0, len(grain), LATENT_BLOCK_ROWS):
        part = slice(start, start + LATENT_BLOCK_ROWS)
        distance[part] = np.linalg.norm(latents[part] - mean[grain[part]], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.bincount(grain, distance, minlength=n_grains) / count
    out = {col.LATENT_SPREAD: spread, col.LATENT_NORM: np.linalg.norm(mean, axis=1)}
    out.update({col.latent_name(d): mean[:, d] for d in range(latents.shape[1])})
    return out


def with_classes(table: pd.DataFrame, grain_of_row: np.ndarray, classes: RowClasses) -> pd.DataFrame:
    """The grain table with the class most of each grain's points have (`cluster` or `label`: `classes.column`;
    empty where none of its points has one) and `class_fraction`, the share of its points in it; put before the
    latent columns."""
    has = (grain_of_row >= 0) & (classes.codes >= 0)
    n_grains, n_classes = int(grain_of_row.max(initial=-1)) + 1, max(len(classes.names), 1)
    counts = np.bincount(grain_of_row[has] * n_classes + classes.codes[has],
                         minlength=n_grains * n_classes).reshape(n_grains, n_classes)
    most, top = counts.argmax(axis=1), counts.max(axis=1)
    named = np.asarray([*classes.names, ""], dtype=object)[np.where(top > 0, most, len(classes.names))]
    ids = table[col.GRAIN].to_numpy()
    out = table.drop(columns=[classes.column, col.CLASS_FRACTION], errors="ignore")
    before = next((i for i, name in enumerate(out.columns) if name.startswith("latent_")), len(out.columns))
    out.insert(before, classes.column, named[ids])
    out.insert(before + 1, col.CLASS_FRACTION, significant(top[ids] / table[col.POINTS].to_numpy(), MEASURED_DIGITS))
    return out


def _measured(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its float columns to MEASURED_DIGITS significant digits."""
    return table.assign(**{name: significant(values, MEASURED_DIGITS) for name, values in table.items()
                           if pd.api.types.is_float_dtype(values.dtype)})


# -- distributions --------------------------------------------------------------------------------------------

MAX_BINS = 20  # a distribution's bins: at most this many, of a round width


def grain_distributions(table: pd.DataFrame, units: str | None, by: str | None = None,
                        boundaries: pd.DataFrame | None = None) -> pd.DataFrame:
    """The grain-size and GOS distributions of a grain table, as MTEX's `histogram(grains.grainSize)` draws them,
    with the area-weighted share beside the count: for each quantity (`ecd_<unit>`, `gos_deg`), bins from 0 of one
    round width (`round_width`: at most MAX_BINS cover every grain; the last bin holds its upper edge), each with the
    grains in it (`count`), their share of the grains (`fraction`) and of the grains' area (`area_fraction`). With
    the grains' `boundaries` (`Grains.boundaries`), the boundary misorientation-angle distribution too, as MTEX's
    `plotAngleDistribution(grains.boundary.misorientation)`: bins of BOUNDARY_BIN_DEG from 0, each with the boundary
    segments in it and their share of the segments (no area). `by` (a study's `source`): one distribution per value
    of that column, first, all over the same bins."""
    area = table[col.area_name(units)].to_numpy(np.float64)
    names = table[by].unique() if by is not None else [None]
    quantities = [(col.ecd_name(units), table, area, _bin_edges), (col.GOS, table, area, _bin_edges)]
    if boundaries is not None:
        quantities.append((col.BOUNDARY_MISORIENTATION, boundaries, None, _angle_edges))
    parts = []
    for quantity, frame, weights, bin_edges in quantities:
        values = frame[quantity].to_numpy(np.float64)
        edges = bin_edges(values[np.isfinite(values)])
        for name in names:
            rows = np.ones(len(frame), bool) if by is None else (frame[by] == name).to_numpy()
            part = _binned(values[rows], None if weights is None else weights[rows], edges)
            parts.append(part.assign(**{col.QUANTITY: quantity}) if by is None else
                         part.assign(**{by: name, col.QUANTITY: quantity}))
    columns = [*([by] if by else []), col.QUANTITY, col.BIN_LOW, col.BIN_HIGH, col.COUNT, col.FRACTION,
               col.AREA_FRACTION]
    return pd.concat(parts, ignore_index=True)[columns]


def _bin_edges(values: np.ndarray) -> np.ndarray:
    """Bins from 0 of one round width, at most MAX_BINS of them, the last holding the largest value."""
    top = float(values.max(initial=0.0))
    width = round_width(top / MAX_BINS)
    n_bins = max(1, int(np.ceil(top / width - 1e-9)))  # from 0 to the bin holding `top`
    return np.round(width * np.arange(n_bins + 1), 12)  # 0.6, not 0.6000000000000001


def _angle_edges(angles: np.ndarray) -> np.ndarray:
    """Bins of BOUNDARY_BIN_DEG from 0, the last holding the largest angle."""
    return BOUNDARY_BIN_DEG * np.arange(max(1, int(np.ceil(angles.max(initial=0.0) / BOUNDARY_BIN_DEG))) + 1)


def _binned(values: np.ndarray, area: np.ndarray | None, edges: np.ndarray) -> pd.DataFrame:
    finite = np.isfinite(values)
    count = np.histogram(values[finite], edges)[0]
    weight = np.histogram(values[finite], edges, weights=area[finite])[0] if area is not None else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({col.BIN_LOW: edges[:-1], col.BIN_HIGH: edges[1:], col.COUNT: count,
                             col.FRACTION: count / count.sum(), col.AREA_FRACTION: weight / np.sum(weight)})


def grain_summary(table: pd.DataFrame, units: str | None, by: str = col.SOURCE) -> pd.DataFrame:
    """One row per value of `by` (a study's sources, in the table's order): its grains, their points, the mean and
    the area-weighted mean ECD, the median GOS and the mean KAM (of the grains that have one)."""
    ecd, area = col.ecd_name(units), col.area_name(units)
    rows = [{by: name, "grains": len(part), col.POINTS: int(part[col.POINTS].sum()),
             f"mean_{ecd}": part[ecd].mean(), f"area_weighted_mean_{ecd}": np.average(part[ecd], weights=part[area]),
             f"median_{col.GOS}": part[col.GOS].median(), f"mean_{col.KAM}": part[col.KAM].mean()}
            for name, part in table.groupby(by, sort=False)]
    return _measured(pd.DataFrame(rows))


# -- a study's grains -----------------------------------------------------------------------------------------

def source_grains(index: int, study, parameters: Values, settings=None) -> Grains:
    """Task: one source's grain table (its scan's grains on its own grid, ranked by its latents' spread), `source`
    first, its notes naming it."""
    from ..artifacts.common import about_source
    from .scan_points import latents_points

    member = study.members[index]
    with about_source(study, index):
        lat = study.latents(index, settings)
        found = grain_table(latents_points(lat), lat.stacked()[0], parameters=parameters)
    for table in (found.table, found.boundaries):
        table.insert(0, col.SOURCE, member.name)
    found.notes = [f"{member.name}: {note}" for note in found.notes if note != MEAN_NOTE]
    return found


def study_grains(study, parameters: Values = GRAIN_PARAMETERS(), settings=None, scheduler=None,
                 workers: int | None = None, progress=None) -> Grains:
    """Every source's grains as one table (`source_grains`: `source` first, each source's grains ranked within it),
    `grain_of_row` each study row's grain within its source; with `scheduler`, a Dask task per source
    (`batch.run_tasks`), `progress` counting the sources done. One unit for every source, or one line saying which
    differs (their grain sizes would not compare)."""
    from ...batch import counted, member_lost, run_tasks

    found = run_tasks(source_grains, range(len(study.members)), scheduler, workers, name="grains",
                      lost=member_lost(study),
                      on_result=counted(progress, len(study.members), "found the grains of"), study=study,
                      parameters=parameters, settings=settings)
    for member, other in zip(study.members[1:], found[1:]):
        if other.units != found[0].units:
            raise InputError(f"source {member.name} is in {other.units}, {study.members[0].name} in "
                             f"{found[0].units}: grain sizes in different units do not compare; make a study of "
                             "scans in one unit, or run grains on each scan", member.location)
    return Grains(pd.concat([one.table for one in found], ignore_index=True),
                  np.concatenate([one.grain_of_row for one in found]), found[0].parameters,
                  [MEAN_NOTE, *(note for one in found for note in one.notes)], found[0].units,
                  {key: sum(one.reconstruction[key] for one in found) for key in found[0].reconstruction},
                  pd.concat([one.boundaries for one in found], ignore_index=True))


def round_width(at_least: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least `at_least` (1 for 0)."""
    if not at_least > 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(at_least))
    return float(next(power * m for m in (1, 2, 2.5, 5, 10) if power * m >= at_least * (1 - 1e-12)))


# -- files ----------------------------------------------------------------------------------------------------

def grains_names(stem: str) -> dict[str, str]:
    """The files of a scan's grain table: `grains__<stem>.csv`, its distributions `grain_distributions__<stem>.csv`
    and their figure `grain_distributions__<stem>.png`, and `grains_report__<stem>.json`."""
    return {"table": f"grains__{stem}.csv", "distributions": f"grain_distributions__{stem}.csv",
            "figure": f"grain_distributions__{stem}.png", "report": f"grains_report__{stem}.json",
            "summary": f"grain_summary__{stem}.csv"}


def write_grains(found: Grains, out_dir, stem: str, inputs: dict, figure=None, dpi: float = 300,
                 study=None) -> dict[str, Path]:
    """The grain table and its distributions (CSV), the distributions' `figure` (a plotly figure, PNG at `dpi`) when
    given, and their JSON report (parameters, what the reconstruction options changed, inputs with their SHA-256,
    counts, notes, versions), each written atomically; `inputs`: name -> an `artifacts.common.input_record` (or None;
    `input_records`). A `study`'s (`study_grains`): the distributions per source, their summary
    (`grain_summary__<stem>.csv`) and the study in the report."""
    from ...figures.png import write_png
    from ..artifacts.common import study_record

    out_dir = Path(out_dir)
    names = grains_names(stem)
    by = col.SOURCE if study is not None else None
    paths = {"table": write_csv(out_dir / names["table"], found.table),
             "distributions": write_csv(out_dir / names["distributions"], grain_distributions(
                 found.table, found.units, by, found.boundaries))}
    if study is not None:
        paths["summary"] = write_csv(out_dir / names["summary"], grain_summary(found.table, found.units))
    if figure is not None:
        paths["figure"] = out_dir / names["figure"]
        write_png(figure, paths["figure"], dpi=dpi)
    in_grains = int((found.grain_of_row >= 0).sum())
    report = {"kind": "grains", "created": now(), "parameters": found.parameters,
              "reconstruction": found.reconstruction, "inputs": {k: v for k, v in inputs.items() if v is not None},
              "units": found.units, "n_grains": len(found.table),
              "indexed_points": in_grains - found.reconstruction.get("pixels_filled", 0), "points_in_grains": in_grains,
              "columns": list(found.table.columns), "notes": found.notes,
              **({"study": study_record(study)} if study is not None else {}),
              "outputs": {kind: {"name": path.name, "sha256": sha256_file(path)} for kind, path in paths.items()},
              "versions": package_versions(VERSION_PACKAGES)}
    return {**paths, "report": write_json(out_dir / names["report"], report)}


def latents_on_points(points: ScanPoints, lat) -> tuple[np.ndarray, list[str]]:
    """A latents file's vectors (N, D) row for row with the scan's points, matched by coordinates (NaN where a
    point has none), and notes: the latents must be of this scan's pixels. Latents of another file (a copy of the
    scan in another format, its preprocessed patterns) must cover the same points and carry the same values of the
    vendor maps both hold (`same_scan`), else they are another scan's and refused."""
    matrix, _ = lat.stacked()
    if lat.x is None:
        raise InputError("these latents have no x, y coordinates: give the latents of this scan", lat.path)
    at = points.rows_at(lat.x, lat.y, "the latents' coordinates", lat.path)
    out = np.full((len(points), matrix.shape[1]), np.nan, np.float32)
    out[at[at >= 0]] = matrix[at >= 0]
    notes = []
    source = lat.attrs.get("source_sha256")
    if source and source != sha256_file(points.path):
        same_scan(points, lat, at)
        notes.append(f"the latents were extracted from another file ({Path(str(lat.attrs.get('source', '?'))).name}, "
                     "not this scan's bytes): matched to its points by their coordinates")
    return out, notes


MAP_TOLERANCE = 1e-3  # relative: a vendor map written by two formats (a .ctf's text, an HDF5 float) of one scan


def same_scan(points: ScanPoints, lat, at: np.ndarray) -> None:
    """Latents of another file than the scan are of the same scan only when their rows are its points, one each
    (`at`: the point of each row), and the vendor maps both carry (Band Contrast, IQ, CI, ...) agree point for
    point; otherwise they are another scan's, refused in one line naming the difference."""
    source = Path(str(lat.attrs.get("source", "?"))).name
    again = f"give the latents of this scan (python -m latentcore extract {points.path.name} ...)"
    grid = f"{points.grid.n_rows} x {points.grid.n_columns}"
    if len(at) != len(points) or not np.array_equal(np.sort(at), np.arange(len(points))):
        raise InputError(f"these latents are of another scan ({source}: {len(at):,} points, {int((at >= 0).sum()):,} "
                         f"of them on this scan's {len(points):,} points of its {grid} grid): {again}", lat.path)
    for name in sorted(set(lat.point_maps) & set(points.point_maps)):
        theirs, ours = np.asarray(lat.point_maps[name], np.float64), np.asarray(points.point_maps[name], np.float64)
        differ = ~np.isclose(theirs, ours[at], rtol=MAP_TOLERANCE, atol=0, equal_nan=True)
        if differ.any():
            raise InputError(f"these latents are of another scan ({source}): their {name} map differs from this "
                             f"scan's at {int(differ.sum()):,} of {len(at):,} points: {again}", lat.path)


def input_records(out_dir, scan, latents=None, classes=None) -> dict:
    """The grain table's inputs as its report (in `out_dir`) names them: by name, SHA-256 and a path relative to it."""
    return {"scan": input_record(scan, out_dir), "latents": input_record(latents, out_dir) if latents else None,
            "classes": input_record(classes, out_dir) if classes else None}


def study_input_records(out_dir, study_file, study, root=None) -> dict:
    """A study's grain tables' inputs: the study file and every member (its recorded SHA-256), as `input_records`
    names them (paths kept for inputs inside `root`, default anywhere)."""
    return {"study": input_record(study_file, out_dir, root),
            "latents": [input_record(m.location, out_dir, root, sha256=m.sha256) for m in study.members]}
