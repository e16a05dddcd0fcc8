"""Crystal orientation maths for EBSD reference maps, with numpy and scipy only.

Conventions: Euler angles are Bunge (phi1, Phi, phi2), in radians, about Z, X', Z''. An orientation
is the rotation from the sample frame to the crystal frame, so a sample direction v is the crystal
direction `sample_to_crystal(euler).apply(v)`; this is the convention of the inverse pole figure.

    laue_group("432")                                   -> "m-3m"
    ipf_colours(euler, "m-3m", direction=(0, 0, 1))     -> (N, 3) RGB in 0..1 (TSL colour key)
    ipf_key_image("m-3m", size=200)                     -> (size, size, 4) RGBA of the key's sector
    misorientation_angles(euler_a, euler_b, "m-3m")     -> (N,) radians, symmetry-reduced
    boundary_map(euler_grid, phase_grid, laue_of_phase) -> (rows, columns) bool, 5 degrees by default
    kernel_average_misorientation(euler_grid, phase_grid, laue_of_phase, order=1) -> (rows, columns) degrees
    schmid_factors(euler, "fcc", loading=(1, 0, 0))     -> (N,) the largest Schmid factor over the 12 slip systems
    grain_map(euler_grid, phase_grid, laue_of_phase)    -> (rows, columns) grain id, -1 not indexed
    boundary_edges(euler_grid, phase_grid, laue_of_phase) -> (right, down): the same as edges between pixels
    boundary_classes(euler_grid, phase_grid, laue_of_phase) -> the edges by class: low-angle, high-angle, Σ3 twins
    sigma3_distances(euler_a, euler_b)                  -> (N,) radians from the Σ3 twin misorientation (cubic)
    reconstructed_grains(grains, not_indexed, min_points=0, fill=False) -> (grain ids, pixels given, what changed)

The parameters these take, as the command line, the app and the reports share them, are declared in `records`.

Laue groups with a colour key: m-3m (cubic), 6/mmm (hexagonal), 4/mmm (tetragonal), -3m (trigonal)
and mmm (orthorhombic). The TSL key (hue from the azimuth about the sector's centre, lightness from
the distance to it) follows Nolze and Hielscher (2016), as MTEX draws it.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.transform import Rotation

from ...errors import InputError
from .records import (BRANDON_SIGMA3_DEG, DEFAULT_BOUNDARY_DEG, DEFAULT_KAM_ORDER, DEFAULT_KAM_THRESHOLD_DEG,
                      HIGH_ANGLE_DEG, LOADING_DIRECTION, SCHMID_FAMILY, SLIP_FAMILIES, kernel_offsets)

SQRT3_2 = np.sqrt(3) / 2
TWIN_LAUE = "m-3m"  # Σ3 twins (CSL(3), as MTEX's) are defined here for cubic crystals only
SIGMA3_AXIS, SIGMA3_DEG = (1, 1, 1), 60.0  # the Σ3 misorientation: 60° about <111>

# Laue group -> the plane normals bounding its colour key's sector (inverse pole figure)
SECTOR_NORMALS = {
    "m-3m": [(1, -1, 0), (-1, 0, 1), (0, 1, 0)],
    "6/mmm": [(0, 0, 1), (0, 1, 0), (0.5, -SQRT3_2, 0)],
    "4/mmm": [(0, 0, 1), (0, 1, 0), (np.sqrt(0.5), -np.sqrt(0.5), 0)],
    "-3m": [(0, 0, 1), (0.5, SQRT3_2, 0), (0.5, -SQRT3_2, 0)],
    "mmm": [(0, 0, 1), (0, 1, 0), (1, 0, 0)],
}
LAUE_GROUPS = tuple(SECTOR_NORMALS)

# point group (Hermann-Mauguin, as vendors and orix spell them) -> its Laue group
_POINT_GROUPS = {
    "m-3m": ("432", "-43m", "m-3m", "m3m"),
    "6/mmm": ("622", "6mm", "-6m2", "-62m", "6/mmm"),
    "4/mmm": ("422", "4mm", "-42m", "-4m2", "4/mmm"),
    "-3m": ("32", "321", "312", "3m", "3m1", "31m", "-3m", "-3m1", "-31m"),
    "mmm": ("222", "mm2", "mmm"),
}
POINT_GROUP_LAUE = {name: laue for laue, names in _POINT_GROUPS.items() for name in names}
# first space group number of each Laue class (International Tables), for files that give only the number
_SPACE_GROUP_LAUE = [(1, None), (3, None), (16, "mmm"), (75, None), (89, "4/mmm"), (143, None),
                     (149, "-3m"), (168, None), (177, "6/mmm"), (195, None), (207, "m-3m"), (231, None)]


def laue_group(point_group) -> str | None:
    """The Laue group of a point group name ("432" -> "m-3m"), or None when it has no colour key here."""
    name = str(point_group).strip().replace(" ", "")
    return name if name in SECTOR_NORMALS else POINT_GROUP_LAUE.get(name)


def laue_of_space_group(number: int) -> str | None:
    """The Laue group of a space group number (1-230), or None when it has no colour key here."""
    found = None
    for first, laue in _SPACE_GROUP_LAUE:
        if int(number) >= first:
            found = laue
    return found if 1 <= int(number) <= 230 else None


def sample_to_crystal(euler) -> Rotation:
    """Bunge Euler angles (N, 3) in radians -> rotations taking sample directions to crystal ones: the inverse of
    scipy's `Rotation.from_euler("ZXZ", euler)`, its quaternion written out (scipy 1.17 took 3.5 s a million)."""
    euler = np.asarray(euler, np.float64).reshape(-1, 3)
    if not np.isfinite(euler).all():  # NaN angles (a point not indexed) give NaN rotations, as scipy's do
        return Rotation.from_euler("ZXZ", euler).inv()
    half, plus, minus = euler[:, 1] / 2, (euler[:, 0] + euler[:, 2]) / 2, (euler[:, 0] - euler[:, 2]) / 2
    quaternion = np.stack([np.sin(half) * np.cos(minus), np.sin(half) * np.sin(minus), np.cos(half) * np.sin(plus),
                           np.cos(half) * np.cos(plus)], -1)
    return Rotation.from_quat(quaternion).inv()


def checked_laue(laue: str) -> str:
    """`laue` when it is one of LAUE_GROUPS (every name the functions below take), else one line saying so."""
    if laue not in SECTOR_NORMALS:
        raise InputError(f"no IPF colour key for Laue group {laue!r}: choose one of {', '.join(LAUE_GROUPS)} "
                         "(laue_group names a point group's)")
    return laue


@functools.lru_cache(maxsize=None)
def proper_rotations(laue: str) -> Rotation:
    """The rotations of a Laue group's proper subgroup (O, D6, D4, D3, D2)."""
    checked_laue(laue)
    if laue == "m-3m":  # every signed permutation matrix of determinant +1
        matrices = [np.diag(signs)[list(perm)] for perm in itertools.permutations(range(3))
                    for signs in itertools.product((1, -1), repeat=3)]
        return Rotation.from_matrix([m for m in matrices if np.linalg.det(m) > 0])
    n = {"6/mmm": 6, "4/mmm": 4, "-3m": 3, "mmm": 2}[laue]
    turns = [Rotation.from_rotvec([0, 0, 2 * np.pi * k / n]) for k in range(n)]
    flips = [Rotation.from_rotvec(np.pi * np.array([np.cos(a), np.sin(a), 0]))  # two-fold axes from x
             for a in np.pi * np.arange(n) / n]
    return Rotation.concatenate(turns + flips)


@functools.lru_cache(maxsize=None)
def _sector(laue: str):
    """(unit plane normals (K, 3), unit vertices (V, 3), centre (3,) unit): the key's fundamental sector."""
    normals = np.array(SECTOR_NORMALS[checked_laue(laue)], np.float64)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    candidates = [np.cross(a, b) for a, b in itertools.permutations(normals, 2)]
    vertices = []
    for v in candidates:
        v = v / np.linalg.norm(v)
        if (normals @ v > -1e-9).all() and not any(np.allclose(v, w) for w in vertices):
            vertices.append(v)
    vertices = np.array(vertices)
    centre = vertices.mean(0)
    return normals, vertices, centre / np.linalg.norm(centre)


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.arccos(np.clip(np.sum(_unit(a) * _unit(b), -1), -1, 1))


def to_fundamental_sector(directions: np.ndarray, laue: str) -> np.ndarray:
    """Crystal directions (N, 3) moved into the key's sector: those already inside stay, the others
    take their symmetry equivalent (rotations and inversion) nearest the sector's centre."""
    v = _unit(np.asarray(directions, np.float64))
    normals, _, centre = _sector(laue)
    inside = (v @ np.array(SECTOR_NORMALS[laue]).T > -1e-9).all(1)
    matrices = proper_rotations(laue).as_matrix()
    equivalents = np.einsum("kji,nj->nki", matrices, v)  # R^T v for each rotation R
    equivalents = np.concatenate([equivalents, -equivalents], 1)
    best = np.argmax(np.round(equivalents @ centre, 12), axis=1)
    moved = equivalents[np.arange(len(v)), best]
    return np.where(inside[:, None], v, moved)


def _azimuth(centre: np.ndarray, rx: np.ndarray, v: np.ndarray) -> np.ndarray:
    rx = _unit(rx - (rx @ centre) * centre)
    ry = _unit(np.cross(centre, rx))
    towards = _unit(v - centre)
    azimuth = np.mod(np.arctan2(towards @ ry, towards @ rx), 2 * np.pi)
    return np.nan_to_num(azimuth, nan=0.0)


@functools.lru_cache(maxsize=None)
def _azimuth_correction(laue: str) -> tuple[np.ndarray, np.ndarray]:
    """(azimuths, corrected azimuths) to interpolate: each of the sector's three corners gets a third
    of the hue circle, whatever the corners' spacing around the centre."""
    normals, vertices, centre = _sector(laue)
    rx = np.array([0, 0, 1.0]) - centre
    steps = 1000
    azimuths = np.linspace(0, 2 * np.pi, steps)
    spin = Rotation.from_rotvec(centre[None, :] * azimuths[:-1, None])
    great_circles = spin.apply(_unit(np.cross(rx, centre)))
    distance = np.min([_angle(np.cross(n, great_circles), centre) for n in normals], axis=0)
    corners = np.round(steps * np.sort(_azimuth(centre, rx, vertices)) / (2 * np.pi)).astype(int)
    if corners[0] < 10:
        corners = corners[1:]
    for part in (slice(0, corners[0]), slice(corners[0], corners[1]), slice(corners[1], None)):
        distance[part] /= distance[part].sum() / 3
    corrected = 2 * np.pi * np.cumsum(np.append(0.0, distance / distance.sum()))
    return azimuths, corrected


def _polar(v: np.ndarray, laue: str) -> np.ndarray:
    """Distance from the centre, 0 there and 1 on the sector's edge."""
    normals, _, centre = _sector(laue)
    towards = _unit(np.cross(v, centre))
    polar = np.full(len(v), np.inf)
    for normal in normals:
        edge_point = _unit(np.cross(towards, normal))
        with np.errstate(invalid="ignore", divide="ignore"):
            distance = _angle(-v, edge_point) / _angle(-centre[None], edge_point)
        polar = np.minimum(polar, np.nan_to_num(distance, nan=1.0))
    return polar


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """(..., 3) HSV in 0..1 -> RGB in 0..1."""
    h, s, v = np.moveaxis(np.asarray(hsv, np.float64), -1, 0)
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    return np.stack([np.choose(i, [c[k] for c in choices]) for k in range(3)], -1)


def direction_colours(directions: np.ndarray, laue: str) -> np.ndarray:
    """TSL colours (N, 3) of crystal directions (N, 3)."""
    v = to_fundamental_sector(directions, laue)
    _, _, centre = _sector(laue)
    azimuths, corrected = _azimuth_correction(laue)
    azimuth = np.interp(_azimuth(centre, np.array([0, 0, 1.0]) - centre, v), azimuths, corrected)
    lightness = 0.5 + _polar(v, laue) / 2
    hue = np.mod(azimuth / (2 * np.pi), 1)
    l2 = 2 * lightness  # HSL (saturation 1) -> HSV
    s2 = np.where(l2 <= 1, l2, 2 - l2)
    with np.errstate(invalid="ignore", divide="ignore"):
        saturation = np.nan_to_num(2 * s2 / (l2 + s2), nan=0.0)
    return np.clip(hsv_to_rgb(np.stack([hue, saturation, (l2 + s2) / 2], -1)), 0, 1)


def ipf_colours(euler, laue: str, direction=(0, 0, 1)) -> np.ndarray:
    """IPF colours (N, 3) in 0..1: the TSL colour of the crystal direction along a sample direction."""
    checked_laue(laue)
    euler = np.asarray(euler, np.float64).reshape(-1, 3)
    if not len(euler):
        return np.empty((0, 3))
    crystal = sample_to_crystal(euler).apply(np.asarray(direction, np.float64))
    return direction_colours(crystal.reshape(-1, 3), laue)


def ipf_key_image(laue: str, size: int = 200) -> np.ndarray:
    """(size, size, 4) RGBA image of the colour key: the sector in stereographic projection
    (x right, y up; row 0 at the top), transparent outside it."""
    normals, vertices, _ = _sector(laue)
    xy = vertices[:, :2] / (1 + vertices[:, 2:3])
    low, high = xy.min(0), xy.max(0)
    span = max(high - low) * 1.02
    u, v = np.meshgrid(low[0] + span * (np.arange(size) + 0.5) / size,
                       low[1] + span * (size - 0.5 - np.arange(size)) / size)
    r2 = u ** 2 + v ** 2
    directions = np.stack([2 * u, 2 * v, 1 - r2], -1).reshape(-1, 3) / (1 + r2).reshape(-1, 1)
    inside = (directions @ normals.T > -1e-9).all(1)
    rgba = np.zeros((size * size, 4))
    rgba[inside, :3] = direction_colours(directions[inside], laue)
    rgba[inside, 3] = 1
    return rgba.reshape(size, size, 4)


def ipf_key_corners(laue: str) -> list[tuple[str, float, float]]:
    """(label, x, y) of the key's corners in the `ipf_key_image` frame (fractions of its width, y up)."""
    _, vertices, _ = _sector(laue)
    xy = vertices[:, :2] / (1 + vertices[:, 2:3])
    low, span = xy.min(0), max(xy.max(0) - xy.min(0)) * 1.02
    out = []
    for vertex, (x, y) in zip(vertices, xy):
        scaled = vertex / np.min(np.abs(vertex[np.abs(vertex) > 1e-6]))
        label = "[" + "".join(str(int(round(c))) for c in scaled) + "]" if np.allclose(scaled, np.round(scaled), atol=1e-3) \
            else "[" + " ".join(f"{c:.2f}" for c in vertex) + "]"
        out.append((label, (x - low[0]) / span, (y - low[1]) / span))
    return out


def compose(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quaternions (..., 4), scalar last as scipy's, of rotation `p` applied after `q`: scipy's `p * q`, row by row
    (scipy's product took 3.7 µs a rotation)."""
    px, py, pz, pw = np.moveaxis(np.asarray(p, np.float64), -1, 0)
    x, y, z, w = np.moveaxis(np.asarray(q, np.float64), -1, 0)
    return np.stack([pw * x + px * w + py * z - pz * y, pw * y + py * w + pz * x - px * z,
                     pw * z + pz * w + px * y - py * x, pw * w - px * x - py * y - pz * z], -1)


def misorientation_angles(euler_a, euler_b, laue: str) -> np.ndarray:
    """Symmetry-reduced misorientation angles (N,) in radians between orientations of one phase:
    the smallest rotation angle among the symmetry equivalents of O_b O_a^-1."""
    inverse_a = sample_to_crystal(euler_a).as_quat() * [-1, -1, -1, 1]
    q = compose(sample_to_crystal(euler_b).as_quat(), inverse_a)  # (N, 4): x, y, z, w
    best = np.zeros(len(q))
    for s in proper_rotations(laue).as_quat():  # |w| of s * q
        w = s[3] * q[:, 3] - s[0] * q[:, 0] - s[1] * q[:, 1] - s[2] * q[:, 2]
        best = np.maximum(best, np.abs(w))
    return 2 * np.arccos(np.clip(best, 0, 1))


def neighbour_misorientations(euler: np.ndarray, phase: np.ndarray, laue_of_phase: dict[int, str]):
    """Misorientation angles (radians) of each point to its right and lower neighbours on the grid:
    arrays (rows, columns - 1) and (rows - 1, columns); inf across phases, NaN where either point is
    not indexed (phase < 0) or its phase has no symmetry here."""
    euler, phase = np.asarray(euler, np.float64), np.asarray(phase)
    return tuple(_offset_angles(euler, phase, laue_of_phase, dr, dc)[0] for dr, dc in ((0, 1), (1, 0)))


def boundary_edges(euler: np.ndarray, phase: np.ndarray, laue_of_phase: dict[int, str],
                   threshold_deg: float = DEFAULT_BOUNDARY_DEG) -> tuple[np.ndarray, np.ndarray]:
    """The grain boundaries as edges between pixels: (right, down), each (rows, columns) bool, `right[r, c]`
    when pixels (r, c) and (r, c + 1) are misoriented by more than the threshold (symmetry-reduced) or of
    different phases, `down[r, c]` the same for (r, c) and (r + 1, c); the last column of `right` and row of
    `down` are False. Arguments as `boundary_map`'s."""
    right, down = neighbour_misorientations(euler, phase, laue_of_phase)
    threshold = np.deg2rad(threshold_deg)
    across_right, across_down = np.zeros(np.shape(phase), bool), np.zeros(np.shape(phase), bool)
    with np.errstate(invalid="ignore"):
        across_right[:, :-1], across_down[:-1] = right > threshold, down > threshold
    return across_right, across_down


@functools.lru_cache(maxsize=None)
def sigma3_equivalents() -> np.ndarray:
    """(K, 4) quaternions of every cubic equivalent S1 * Σ3 * S2 of the Σ3 misorientation, each once."""
    symmetry = proper_rotations(TWIN_LAUE)
    twin = Rotation.from_rotvec(np.deg2rad(SIGMA3_DEG) * np.array(SIGMA3_AXIS) / np.linalg.norm(SIGMA3_AXIS))
    q = np.concatenate([(s * twin * symmetry).as_quat() for s in symmetry])
    q *= np.where(q[:, 3:] < -1e-12, -1.0, 1.0)  # q and -q are one rotation
    return np.unique(np.round(q, 12), axis=0)


def sigma3_distances(euler_a, euler_b) -> np.ndarray:
    """(N,) radians: how far the misorientation of each pair of cubic orientations lies from Σ3 (60° about <111>),
    reduced by the symmetry of both crystals: the smallest angle of T^-1 O_b O_a^-1 over the equivalents T."""
    inverse_a = sample_to_crystal(euler_a).as_quat() * [-1, -1, -1, 1]
    q = compose(sample_to_crystal(euler_b).as_quat(), inverse_a)
    best = np.max(np.abs(q @ sigma3_equivalents().T), axis=1, initial=0.0)  # |scalar part of T^-1 q|
    return 2 * np.arccos(np.clip(best, 0, 1))


def boundary_classes(euler: np.ndarray, phase: np.ndarray, laue_of_phase: dict[int, str],
                     threshold_deg: float = DEFAULT_BOUNDARY_DEG,
                     twin_tolerance_deg: float = BRANDON_SIGMA3_DEG, angles: dict | None = None
                     ) -> dict[str, np.ndarray]:
    """The grain boundaries as edges between pixels (as `boundary_edges`: "right", "down"), and by class:
    "high_right", "high_down" those misoriented by more than HIGH_ANGLE_DEG or between phases; "twin_right",
    "twin_down" the Σ3 twin boundaries, those of one cubic (m-3m) phase within `twin_tolerance_deg` of Σ3
    (`sigma3_distances`). A boundary neither high-angle nor a twin is low-angle. Arguments as `boundary_map`'s;
    `angles`: {"right", "down"} `neighbour_misorientations`' angles where the caller has them."""
    if angles is None:
        angles = dict(zip(("right", "down"), neighbour_misorientations(euler, phase, laue_of_phase)))
    cubic = [p for p, laue in laue_of_phase.items() if laue == TWIN_LAUE]
    phase, out = np.asarray(phase), {}
    for side, first, second in (("right", np.s_[:, :-1], np.s_[:, 1:]), ("down", np.s_[:-1], np.s_[1:])):
        boundary, high, twin = (np.zeros(phase.shape, bool) for _ in range(3))
        with np.errstate(invalid="ignore"):  # NaN: not indexed, never a boundary; inf: between phases, high-angle
            boundary[first] = angles[side] > np.deg2rad(threshold_deg)
            high[first] = angles[side] > np.deg2rad(HIGH_ANGLE_DEG)
        pair = boundary[first] & (phase[first] == phase[second]) & np.isin(phase[first], cubic)
        twin_part = twin[first]  # a view: the pairs' flags land in `twin`
        twin_part[pair] = sigma3_distances(euler[first][pair], euler[second][pair]) <= np.deg2rad(twin_tolerance_deg)
        out[side], out[f"high_{side}"], out[f"twin_{side}"] = boundary, high & boundary, twin
    return out


def boundary_map(euler: np.ndarray, phase: np.ndarray, laue_of_phase: dict[int, str],
                 threshold_deg: float = DEFAULT_BOUNDARY_DEG) -> np.ndarray:
    """(rows, columns) bool: points with a 4-neighbour misoriented by more than the threshold
    (symmetry-reduced), or of another phase. `euler` is (rows, columns, 3), `phase` (rows, columns)
    with -1 where not indexed (never a boundary)."""
    return pixels_of_edges(*boundary_edges(euler, phase, laue_of_phase, threshold_deg))


def pixels_of_edges(right: np.ndarray, down: np.ndarray) -> np.ndarray:
    """(rows, columns) bool: the pixels on either side of a flagged edge (`boundary_edges`)."""
    out = right | down
    out[:, 1:] |= right[:, :-1]
    out[1:] |= down[:-1]
    return out


def _offset_angles(euler, phase, laue_of_phase, dr: int, dc: int):
    """(misorientation angles in radians of each pixel to the one `dr` rows down and `dc` columns right, over the
    pixels that have one; their slice of the grid; the other pixels' slice): NaN where either is not indexed or
    its phase has no symmetry here, inf across phases."""
    n_rows, n_columns = np.shape(phase)
    first = np.s_[:n_rows - dr, max(0, -dc):n_columns - max(0, dc)]
    second = np.s_[dr:, max(0, dc):n_columns - max(0, -dc)]
    a, b, pa, pb = euler[first], euler[second], phase[first], phase[second]
    out = np.full(pa.shape, np.nan)
    out[(pa != pb) & (pa >= 0) & (pb >= 0)] = np.inf
    for p, laue in laue_of_phase.items():
        same = (pa == p) & (pb == p)
        if laue is not None and same.any():
            out[same] = misorientation_angles(a[same], b[same], laue)
    return out, first, second


def kernel_average_misorientation(euler: np.ndarray, phase: np.ndarray, laue_of_phase: dict[int, str],
                                  threshold_deg: float = DEFAULT_KAM_THRESHOLD_DEG,
                                  order: int = DEFAULT_KAM_ORDER) -> np.ndarray:
    """(rows, columns) kernel average misorientation in degrees: the mean symmetry-reduced misorientation of each
    point to its neighbours of `order` (`kernel_offsets`: 1, the 4 that share an edge; 2, the 12 within two edge
    steps; MTEX's `KAM(ebsd, 'order', n)` on a square grid), leaving out neighbours misoriented by more than the
    threshold (grain boundaries), of another phase or not indexed. NaN where the point is not indexed (phase < 0)
    or no neighbour is left."""
    euler, phase = np.asarray(euler, np.float64), np.asarray(phase)
    threshold = np.deg2rad(threshold_deg)
    total, count = np.zeros(phase.shape), np.zeros(phase.shape)
    for dr, dc in kernel_offsets(order):
        angles, first, second = _offset_angles(euler, phase, laue_of_phase, dr, dc)
        with np.errstate(invalid="ignore"):
            kept = angles <= threshold  # NaN and inf (not indexed, another phase) are never kept
        for side in (first, second):  # each pair counts for both of its points
            total[side] += np.where(kept, angles, 0.0)
            count[side] += kept
    with np.errstate(invalid="ignore", divide="ignore"):
        kam = np.rad2deg(total / count)
    kam[phase < 0] = np.nan
    return kam


# -- Schmid factors ---------------------------------------------------------------------------------------

SCHMID_LAUE = "m-3m"  # the slip system families here are cubic


@functools.lru_cache(maxsize=None)
def slip_systems(family: str) -> tuple[np.ndarray, np.ndarray]:
    """(unit plane normals (12, 3), unit slip directions (12, 3)) of a family of `SLIP_FAMILIES` in the crystal frame:
    its system's equivalents under the 24 rotations of m-3m, each once (a normal or a direction of the other sign is
    the same system: a Schmid factor is an absolute value)."""
    _, plane, direction = SLIP_FAMILIES[SCHMID_FAMILY.check(family)]
    matrices = proper_rotations(SCHMID_LAUE).as_matrix()
    systems = {}
    for normal, slip in zip(matrices @ np.array(plane, np.float64), matrices @ np.array(direction, np.float64)):
        systems[tuple(np.round(np.concatenate([_one_sign(normal), _one_sign(slip)]), 9))] = (normal, slip)
    normals, slips = (np.array(vectors) for vectors in zip(*systems.values()))
    return _unit(normals), _unit(slips)


def _one_sign(v: np.ndarray) -> np.ndarray:
    """`v` or `-v`, whichever has its first non-zero component positive."""
    return v if v[np.flatnonzero(np.abs(v) > 1e-9)[0]] > 0 else -v


def schmid_factors(euler, family: str = "fcc", loading=(1.0, 0.0, 0.0)) -> np.ndarray:
    """(N,) the largest Schmid factor |cos phi cos lambda| of each cubic orientation (Bunge Euler angles (N, 3) in
    radians) over the family's 12 slip systems (`slip_systems`), for uniaxial loading along `loading` in the sample
    frame: phi the angle of the loading direction to a system's plane normal, lambda to its slip direction; 0 to
    0.5. The loading direction is taken into each crystal's frame by `sample_to_crystal`, as an IPF direction is."""
    euler = np.asarray(euler, np.float64).reshape(-1, 3)
    load = np.asarray(LOADING_DIRECTION.check(loading), np.float64)
    if not len(euler):
        return np.empty(0)
    crystal = sample_to_crystal(euler).apply(load / np.linalg.norm(load)).reshape(-1, 3)
    normals, slips = slip_systems(family)
    return np.max(np.abs((crystal @ normals.T) * (crystal @ slips.T)), axis=1)


def grain_map(euler: np.ndarray, phase: np.ndarray, laue_of_phase: dict[int, str],
              threshold_deg: float = DEFAULT_BOUNDARY_DEG) -> np.ndarray:
    """(rows, columns) int64 grain ids: points joined through 4-neighbours of one phase misoriented
    by at most the threshold (the complement of `boundary_map`) share an id (scipy's connected
    components); ids 0, 1, ... in row-major order of each grain's first point, -1 where not indexed."""
    right, down = neighbour_misorientations(euler, phase, laue_of_phase)
    threshold = np.deg2rad(threshold_deg)
    nodes = np.arange(np.size(phase)).reshape(np.shape(phase))
    with np.errstate(invalid="ignore"):
        joined_right, joined_down = right <= threshold, down <= threshold
    first = np.concatenate([nodes[:, :-1][joined_right], nodes[:-1][joined_down]])
    second = np.concatenate([nodes[:, 1:][joined_right], nodes[1:][joined_down]])
    graph = coo_matrix((np.ones(len(first)), (first, second)), shape=(nodes.size, nodes.size))
    _, labels = connected_components(graph, directed=False)
    return renumbered(np.where(np.asarray(phase) >= 0, labels.reshape(np.shape(phase)), -1))


def renumbered(grains: np.ndarray) -> np.ndarray:
    """Grain ids (any integers, -1 none) as 0, 1, ... in row-major order of each grain's first pixel."""
    grains = np.asarray(grains)
    flat, out = grains.reshape(-1), np.full(grains.size, -1, np.int64)
    inside = flat >= 0
    _, first_seen, ids = np.unique(flat[inside], return_index=True, return_inverse=True)
    out[inside] = np.argsort(np.argsort(first_seen))[ids]  # grain -> its rank by first pixel
    return out.reshape(grains.shape)


def reconstructed_grains(grains: np.ndarray, not_indexed: np.ndarray, min_points: int = 0,
                         fill: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """A `grain_map` with MTEX's two reconstruction options, both off by default (`MIN_GRAIN_POINTS`,
    `FILL_NOT_INDEXED`): with `fill`, the `not_indexed` pixels (rows, columns bool: points without an orientation)
    are given to their neighbours' grains (`grown`); then, with `min_points`, the grains of fewer indexed pixels (MTEX's
    grainSize: filled pixels not counted) are dissolved and their pixels, filled ones too, given to the grains left
    (`grown`), as MTEX removes their measurements and reconstructs; a small grain no kept grain touches, through
    pixels given away, keeps its pixels. Ids renumbered as `grain_map`'s. Returns (grain ids; the pixels given a
    grain whose orientation they do not share, filled or from a dissolved grain: they count in its size, never in
    its orientation; {"pixels_filled", "grains_dissolved", "pixels_reassigned"})."""
    grains, measured = np.asarray(grains), np.asarray(grains) >= 0
    if fill:
        grains = grown(grains, np.asarray(not_indexed, bool) & ~measured)
    given, dissolved = (grains >= 0) & ~measured, 0
    if min_points > 0:
        sizes = np.bincount(grains[measured], minlength=int(grains.max(initial=-1)) + 1)
        free = np.isin(grains, np.flatnonzero(sizes < min_points))
        regrown = grown(grains, free)
        kept = free & (regrown < 0)  # nowhere to go: the grain stays
        regrown[kept] = grains[kept]
        dissolved = int(np.count_nonzero(sizes < min_points)) - len(np.unique(grains[kept]))
        grains, given = regrown, given | (free & ~kept)
    changes = {"pixels_filled": int(np.count_nonzero((grains >= 0) & ~measured)), "grains_dissolved": dissolved,
               "pixels_reassigned": int(np.count_nonzero(given & measured))}
    return renumbered(grains), given, changes


def grown(grains: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Grain ids (rows, columns; -1 none) with the `free` pixels given to the grains around them: each free pixel
    with an edge neighbour in a grain takes the grain most of those neighbours are in (a tie: the smallest id), all
    such pixels at once; then again from the pixels just given, until no free pixel is next to a grain. Free pixels
    never reached are -1. One deterministic rule, whatever the order of the pixels."""
    shape = np.shape(grains)
    out = np.where(free, -1, grains).astype(np.int64).reshape(-1)
    free = np.asarray(free, bool).reshape(-1).copy()
    candidates = np.flatnonzero(free)
    frontier = candidates[(_neighbour_ids(out, candidates, shape) >= 0).any(1)]
    while len(frontier):
        out[frontier] = _most_common(_neighbour_ids(out, frontier, shape))
        free[frontier] = False
        around = _neighbour_indices(frontier, shape).reshape(-1)
        frontier = np.unique(around[(around >= 0) & free[np.maximum(around, 0)]])
    return out.reshape(shape)


def _neighbour_indices(pixels: np.ndarray, shape) -> np.ndarray:
    """(P, 4) flat indices of each pixel's edge neighbours (up, down, left, right), -1 off the grid."""
    rows, columns = np.divmod(pixels, shape[1])
    out = np.full((len(pixels), 4), -1, np.int64)
    for k, (dr, dc) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1))):
        r, c = rows + dr, columns + dc
        on = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
        out[on, k] = r[on] * shape[1] + c[on]
    return out


def _neighbour_ids(ids: np.ndarray, pixels: np.ndarray, shape) -> np.ndarray:
    """(P, 4) the grain ids (flat `ids`) of each pixel's edge neighbours, -1 where none or off the grid."""
    around = _neighbour_indices(pixels, shape)
    return np.where(around >= 0, ids[np.maximum(around, 0)], -1)


def _most_common(ids: np.ndarray) -> np.ndarray:
    """(P,) the id most frequent in each row of (P, 4) ids, leaving out -1; a tie goes to the smallest id."""
    counts = (ids[:, :, None] == ids[:, None, :]).sum(-1)
    score = np.where(ids >= 0, counts * (int(ids.max(initial=0)) + 2) - ids, -1)  # more first, then smaller
    return ids[np.arange(len(ids)), np.argmax(score, axis=1)]


def grain_sizes(grains: np.ndarray) -> np.ndarray:
    """(n_grains,) points in each grain of a `grain_map` (ids 0 .. n_grains - 1)."""
    ids = np.asarray(grains).reshape(-1)
    return np.bincount(ids[ids >= 0], minlength=int(ids.max(initial=-1)) + 1)
