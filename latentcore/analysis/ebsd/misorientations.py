"""The misorientation-angle distribution of chosen points (a selection, a cluster, a label), as MTEX users plot it
(`plotAngleDistribution(calcMisorientation(ebsd))`): the symmetry-reduced angles (`orientation.misorientation_angles`)
between neighbouring points, "correlated", and between random pairs of the points, "uncorrelated", with the angle
distribution of random orientations (Mackenzie's, cubic m-3m) to compare.

    found = angle_distribution(euler, "m-3m", cells, pairs=UNCORRELATED_PAIRS, seed=0)
    found.table()       a row per bin: angle_low_deg, angle_high_deg, correlated_count, correlated_frequency,
                        uncorrelated_count, uncorrelated_frequency, mackenzie_frequency (cubic only; else empty)
    found.record()      the JSON report's: the pairs of each kind, the sample of uncorrelated pairs (size, seed)
    found.figure(title) the histogram (`figures.misorientation_figures`)
    selection_cells(x, y, rows)            (grid row, grid column) of each chosen row on the scan's grid
    neighbour_pairs(cells)                 (P, 2) positions of the chosen points that are 4-neighbours, each pair once
    uncorrelated_pairs(n, pairs, seed)     (P, 2) every pair of n points when there are at most `pairs`, else a
                                           seeded sample of `pairs` of them (i != j, drawn with replacement)
    max_angle_deg("m-3m")                  62.80: the largest symmetry-reduced misorientation of the Laue group
    mackenzie_density(angles_deg)          per degree: the random (uniform) orientations' angle density, m-3m
    mackenzie_frequency(edges_deg)         the random orientations' share in each bin (the density integrated)

Correlated pairs are the boundary segments of the points' pixels: two chosen points whose pixels share an edge on the
scan grid (the chosen points are of one phase and indexed: `pole_figures.selection_orientations`). Uncorrelated pairs
are exact (every pair) up to `pairs`, a seeded sample beyond, said in the report, the figure and the notes.

Mackenzie's density of the misorientation angle w between random cubic orientations, in closed form: the rotations
of angle w are spread uniformly over the axes, and one is its own symmetry-reduced misorientation where its Rodrigues
vector tan(w/2) n lies in the fundamental zone of the 24 rotations of m-3m, the truncated cube bounded by the 6 planes
|r_i| = sqrt(2) - 1 and the 8 planes |r_1| + |r_2| + |r_3| = 1. So the density is 24 (1 - cos w) / pi times the share of
the sphere of radius tan(w/2) inside that zone: the whole sphere, less a spherical cap beyond each plane it crosses,
plus the lens where two caps overlap (adjacent faces: 12 square-square and 24 square-triangle pairs, from 60.72°);
three caps meet only at the zone's corners, w = 62.80°, its largest angle.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

from ... import columns as col
from . import orientation as ori
from .records import SEED, UNCORRELATED_PAIRS

BIN_DEG = 1.0  # the histogram's bin width in degrees; the last bin ends at the Laue group's largest angle
CUBE_FACE = np.sqrt(2) - 1  # distance of the cubic zone's square faces (4-fold axes) from the origin, Rodrigues
OCTAHEDRON_FACE = 1 / np.sqrt(3)  # of its triangular faces (3-fold axes)
MACKENZIE = "m-3m"  # the Laue group with a closed-form random distribution here
CORRELATED_RULE = ("pairs of chosen points whose pixels share an edge on the scan grid (4-neighbours; one phase, "
                   "both indexed), each pair once")
UNCORRELATED_RULE = "pairs of chosen points regardless of where they lie, each of two different points"


def max_angle_deg(laue: str) -> float:
    """The largest symmetry-reduced misorientation angle (degrees) between two orientations of one Laue group: twice
    the arctangent of the Rodrigues distance of its fundamental zone's farthest corner (a truncated cube for m-3m,
    a prism on a regular 2n-gon for the dihedral groups, n the main axis' order)."""
    if ori.checked_laue(laue) == "m-3m":
        corner = np.sqrt(23 - 16 * np.sqrt(2))
    else:
        n = {"6/mmm": 6, "4/mmm": 4, "-3m": 3, "mmm": 2}[laue]
        corner = np.hypot(np.tan(np.pi / (2 * n)), 1 / np.cos(np.pi / (2 * n)))
    return float(np.rad2deg(2 * np.arctan(corner)))


def bin_edges(laue: str, width: float = BIN_DEG) -> np.ndarray:
    """Bins of `width` degrees from 0, the last ending at the Laue group's largest angle (62.8° for m-3m)."""
    top = max_angle_deg(laue)
    return np.append(np.arange(0.0, top - 1e-9, width), top)


# -- random orientations (Mackenzie, cubic) ---------------------------------------------------------------------

def _cap(d: float, rho: np.ndarray) -> np.ndarray:
    """The share of the sphere of radius `rho` beyond a plane at distance `d` from its centre (0 when it does not
    reach it)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rho > d, (1 - d / rho) / 2, 0.0)


def _lens(d1: float, d2: float, between: float, rho: np.ndarray) -> np.ndarray:
    """The share of the sphere of radius `rho` beyond two planes at distances `d1`, `d2` whose normals are `between`
    radians apart: the overlap of their caps, of angular radii a = arccos(d1 / rho), b = arccos(d2 / rho), by
    Gauss-Bonnet: 2 (pi - psi - phi_a cos a - phi_b cos b) over 4 pi, psi the angle at a corner of the lens (between
    the caps' centres as seen from it), phi_a, phi_b half the arcs' angles at the caps' centres."""
    rho = np.asarray(rho, np.float64)
    meet = rho > 0
    a = np.arccos(np.clip(np.divide(d1, rho, out=np.ones_like(rho), where=meet), -1, 1))
    b = np.arccos(np.clip(np.divide(d2, rho, out=np.ones_like(rho), where=meet), -1, 1))
    overlap = a + b > between
    with np.errstate(divide="ignore", invalid="ignore"):
        psi = np.arccos(np.clip((np.cos(between) - np.cos(a) * np.cos(b)) / (np.sin(a) * np.sin(b)), -1, 1))
        phi_a = np.arccos(np.clip((np.cos(b) - np.cos(a) * np.cos(between)) / (np.sin(a) * np.sin(between)), -1, 1))
        phi_b = np.arccos(np.clip((np.cos(a) - np.cos(b) * np.cos(between)) / (np.sin(b) * np.sin(between)), -1, 1))
        area = 2 * (np.pi - psi - phi_a * np.cos(a) - phi_b * np.cos(b))
    return np.where(overlap, area / (4 * np.pi), 0.0)


def _inside_cubic_zone(rho: np.ndarray) -> np.ndarray:
    """The share of the sphere of radius `rho` (Rodrigues) inside m-3m's fundamental zone (to its largest angle)."""
    square_square, square_triangle = np.pi / 2, np.arccos(1 / np.sqrt(3))  # angles between adjacent faces' normals
    return (1 - 6 * _cap(CUBE_FACE, rho) - 8 * _cap(OCTAHEDRON_FACE, rho)
            + 12 * _lens(CUBE_FACE, CUBE_FACE, square_square, rho)
            + 24 * _lens(CUBE_FACE, OCTAHEDRON_FACE, square_triangle, rho))


def mackenzie_density(angles_deg) -> np.ndarray:
    """Mackenzie's density (per degree) of the symmetry-reduced misorientation angle between random (uniformly
    distributed) cubic orientations, m-3m; 0 beyond 62.80°. Integrates to 1."""
    w = np.deg2rad(np.asarray(angles_deg, np.float64))
    inside = (w >= 0) & (w <= np.deg2rad(max_angle_deg(MACKENZIE)))
    rotations = len(ori.proper_rotations(MACKENZIE).as_quat())  # 24
    density = rotations * (1 - np.cos(w)) / np.pi * _inside_cubic_zone(np.tan(np.where(inside, w, 0) / 2))
    return np.where(inside, np.clip(density, 0, None), 0.0) * np.pi / 180


@functools.lru_cache(maxsize=8)
def _mackenzie_shares(edges: tuple) -> np.ndarray:
    from scipy.integrate import quad

    kinks = [45.0, 60.0, float(np.rad2deg(2 * np.arctan(2 - np.sqrt(2))))]  # where caps, then lenses begin
    density = lambda w: float(mackenzie_density(w))  # noqa: E731
    return np.array([quad(density, low, high, points=[k for k in kinks if low < k < high] or None)[0]
                     for low, high in zip(edges[:-1], edges[1:])])


def mackenzie_frequency(edges_deg) -> np.ndarray:
    """Random cubic orientations' share of misorientation angles in each bin (edges in degrees): the density
    integrated over the bin."""
    return _mackenzie_shares(tuple(float(e) for e in edges_deg)).copy()


# -- pairs ----------------------------------------------------------------------------------------------------------

def selection_cells(x, y, rows) -> tuple[np.ndarray, np.ndarray] | None:
    """(grid row, grid column) of each of `rows` on the grid of every point's coordinates `x`, `y`; None without
    coordinates (no neighbours then)."""
    from ..maps import Grid

    if x is None or y is None:
        return None
    rows = np.asarray(rows, np.int64)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return Grid.from_coordinates(x, y).indices(x[rows], y[rows])


def neighbour_pairs(cells: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(P, 2) positions (into `cells`) of the points whose pixels share an edge: each one's right and lower
    neighbour among them, each pair once, found by sorting the pixels' ids (no grid held in memory)."""
    grid_rows, grid_columns = (np.asarray(c, np.int64) for c in cells)
    width = int(grid_columns.max(initial=0)) + 2  # a row longer than the points reach: (r, c + 1) never wraps
    ids = grid_rows * width + grid_columns
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    found = []
    for step in (1, width):  # right, down
        at = np.searchsorted(ordered, ids + step)
        hit = at < len(ordered)
        hit[hit] = ordered[at[hit]] == ids[hit] + step
        found.append(np.column_stack([np.flatnonzero(hit), order[at[hit]]]))
    return np.concatenate(found).astype(np.int64)


def uncorrelated_pairs(n: int, pairs: int = UNCORRELATED_PAIRS, seed: int = SEED) -> tuple[np.ndarray, bool]:
    """((P, 2) positions of pairs of n points, whether they are a sample): every pair when there are at most `pairs`,
    else `pairs` pairs drawn with a seeded generator (two different points each; a pair may come twice)."""
    every = n * (n - 1) // 2
    if every <= pairs:
        first, second = np.triu_indices(n, 1)
        return np.column_stack([first, second]).astype(np.int64), False
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, pairs)
    second = rng.integers(0, n - 1, pairs)
    second += second >= first  # any point but the first
    return np.column_stack([first, second]).astype(np.int64), True


# -- the distribution --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AngleDistribution:
    """The histogram of misorientation angles of `points` orientations of one Laue group: `edges` (degrees), the
    counts of `correlated` (neighbours) and `uncorrelated` (random pairs: `sampled` of `possible` or every one, drawn
    with `seed`) pairs in each bin; `neighbours_known`: whether the points had coordinates to find neighbours by."""

    laue: str
    points: int
    edges: np.ndarray
    correlated: np.ndarray
    uncorrelated: np.ndarray
    possible: int
    sampled: bool
    sample_size: int
    seed: int
    neighbours_known: bool = True

    @property
    def mackenzie(self) -> np.ndarray | None:
        """Random cubic orientations' share in each bin; None for other Laue groups."""
        return mackenzie_frequency(self.edges) if self.laue == MACKENZIE else None

    def table(self) -> pd.DataFrame:
        """A row per bin: its edges, each kind's count and share of its pairs (empty without pairs), Mackenzie's
        share (empty unless cubic)."""
        table = pd.DataFrame({col.ANGLE_BIN[0]: self.edges[:-1], col.ANGLE_BIN[1]: self.edges[1:]})
        for (count_name, share_name), counts in ((col.CORRELATED, self.correlated),
                                                 (col.UNCORRELATED, self.uncorrelated)):
            table[count_name] = counts
            table[share_name] = _shares(counts)
        random = self.mackenzie
        table[col.MACKENZIE_FREQUENCY] = random if random is not None else np.nan
        return table

    def record(self) -> dict:
        """The report's `misorientations`: the angles, the bins, each kind's pairs and how they were chosen."""
        return {"angles": "symmetry-reduced misorientation angle (the smallest over the Laue group's rotations), "
                          "degrees", "laue": self.laue, "points": self.points, "bin_deg": BIN_DEG,
                "max_deg": round(float(self.edges[-1]), 4),
                "correlated": {"pairs": int(self.correlated.sum()), "rule": CORRELATED_RULE,
                               "neighbours_known": self.neighbours_known},
                "uncorrelated": {"pairs": int(self.uncorrelated.sum()), "possible_pairs": self.possible,
                                 "sampled": self.sampled, "sample_size": self.sample_size if self.sampled else None,
                                 "seed": self.seed if self.sampled else None, "rule": UNCORRELATED_RULE},
                "random": ("Mackenzie (1958): uniformly random cubic orientations, in closed form"
                           if self.laue == MACKENZIE else None)}

    def notes(self) -> list[str]:
        """The approximation and what is missing, in words."""
        notes = []
        if self.sampled:
            notes.append(f"uncorrelated misorientations: a seeded sample of {self.sample_size:,} of the "
                         f"{self.possible:,} pairs (seed {self.seed})")
        if not self.neighbours_known:
            notes.append("no coordinates: no neighbours, so no correlated misorientations")
        elif not self.correlated.sum():
            notes.append("no two chosen points are neighbours: no correlated misorientations")
        if self.laue != MACKENZIE:
            notes.append(f"no random (Mackenzie) distribution drawn for {self.laue}: only for cubic m-3m here")
        return notes

    def described(self) -> dict[str, str]:
        """Each kind's title: how many pairs, and how they were chosen (the sample, where it is one)."""
        uncorrelated = (f"a seeded sample of {self.sample_size:,} of the {self.possible:,} pairs (seed {self.seed})"
                        if self.sampled else f"every pair of the points ({self.possible:,})")
        return {"correlated": f"Correlated: neighbouring points ({int(self.correlated.sum()):,} pairs)",
                "uncorrelated": f"Uncorrelated: {uncorrelated}",
                "random": f"random orientations ({MACKENZIE}, Mackenzie)"}

    def figure(self, title: str = ""):
        """The histogram (`figures.misorientation_figures.angle_figure`): % of pairs per degree."""
        from ...figures.misorientation_figures import angle_figure

        curve = None
        if self.laue == MACKENZIE:
            angles = np.linspace(0, self.edges[-1], 400)
            curve = (angles, mackenzie_density(angles))
        return angle_figure(self.edges, _shares(self.correlated), _shares(self.uncorrelated), curve,
                            self.described(), title)


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.full(len(counts), np.nan)


def angle_distribution(euler, laue: str, cells=None, pairs: int = UNCORRELATED_PAIRS,
                       seed: int = SEED) -> AngleDistribution:
    """The distribution of `euler` (N, 3), orientations of one phase of Laue group `laue`; `cells` their (grid row,
    grid column) for the neighbours (`selection_cells`; None: no correlated pairs)."""
    euler = np.asarray(euler, np.float64).reshape(-1, 3)
    edges = bin_edges(laue)
    correlated = neighbour_pairs(cells) if cells is not None else np.empty((0, 2), np.int64)
    random, sampled = uncorrelated_pairs(len(euler), pairs, seed)

    def counts(chosen: np.ndarray) -> np.ndarray:
        if not len(chosen):
            return np.zeros(len(edges) - 1, np.int64)
        angles = np.rad2deg(ori.misorientation_angles(euler[chosen[:, 0]], euler[chosen[:, 1]], laue))
        return np.histogram(np.minimum(angles, edges[-1]), edges)[0]  # a rounding past the largest: its last bin

    return AngleDistribution(laue, len(euler), edges, counts(correlated), counts(random),
                             len(euler) * (len(euler) - 1) // 2, sampled, int(pairs), int(seed), cells is not None)
