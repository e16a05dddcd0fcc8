"""Simulated EBSD scans with known grains, for benchmarks and tests (no kikuchipy needed).

    scan = simulate_scan(ScanSettings(n_rows=30, n_columns=40, pattern_size=48, n_grains=8, seed=3))
    write_h5ebsd(scan, "sim.h5")        # kikuchipy's h5ebsd layout, as latentcore/demo/ni_grains_h5ebsd.h5
    write_h5oina(scan, "sim.h5oina")    # Oxford H5OINA: uint8 background-corrected patterns, 0-255
    scan.grain_id                       # ground truth, row-major like the patterns

How a scan is made (the usual recipe for simulated EBSD maps, with a cheap pattern model instead of a
master pattern):
- grains: a Voronoi tessellation of the scan area, one uniformly random orientation per grain (grain i of every
  scan with the same `orientation_seed` has the same orientation: samples of one texture), and a
  small random misorientation per point (one of VARIANTS drawn per grain, an approximation that keeps
  the cost independent of the number of points);
- patterns: Kikuchi-like bands on a gnomonic detector, one band per fcc reflector ({111}, {200},
  {220}, {311}) of the point's orientation, each a Gaussian profile across the band's great circle;
- boundaries (a 4-neighbour in another grain) mix the pattern 50/50 with that grain's pattern;
- bad points hold mostly white noise and less intensity;
- intensities: detector background (bright spot, dark corners, dust) x (1 + contrast x bands, each pattern's bands stretched to [0, 1]) x a gain
  that drifts across the scan, Poisson noise at `counts` in the brightest pixel, scaled to uint8.
Everything comes from `seed`: the same settings give the same arrays.
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from ..errors import InputError
from ..storage import atomic_path
from ..storage.csv_cells import neutralised_table

PATTERN_CENTRE = (0.425, 0.213, 0.501)  # (PCx, PCy, PCz) in detector widths, as the shared scan
FAMILIES = {(1, 1, 1): 1.0, (2, 0, 0): 0.8, (2, 2, 0): 0.55, (3, 1, 1): 0.4}  # reflector -> band strength
BAND_WIDTH = 0.035  # Gaussian sigma of a {111} band across its great circle (sine of the angle)
VARIANTS = 16  # misorientations drawn per grain (see simulate_scan)
POINTS_PER_CHUNK = 256  # patterns computed at once: bounds the memory of the (points, pixels, bands) array


@dataclasses.dataclass(frozen=True)
class ScanSettings:
    n_rows: int = 40
    n_columns: int = 60
    pattern_size: int = 60
    n_grains: int = 6
    step: float = 1.5  # um
    misorientation_deg: float = 0.5  # standard deviation per point, about the grain's orientation
    contrast: float = 0.1  # band amplitude relative to the detector background
    counts: float = 6000.0  # photon counts in the brightest pixel: fewer means noisier
    bad_fraction: float = 0.03
    gain: tuple[float, float] = (0.75, 1.08)  # top-left, bottom-right
    seed: int = 0
    orientation_seed: int | None = None  # the grains' orientations from this seed: scans of other seeds share them

    def __post_init__(self):
        if min(self.n_rows, self.n_columns) < 2 or self.pattern_size < 8:
            raise InputError("a scan must have at least 2 x 2 points and patterns of at least 8 pixels")
        if not 1 <= self.n_grains <= self.n_rows * self.n_columns:
            raise InputError(f"n_grains must lie in [1, {self.n_rows * self.n_columns}], got {self.n_grains}")


@dataclasses.dataclass
class SimulatedScan:
    settings: ScanSettings
    patterns: np.ndarray  # (N, S, S) uint8, raw (background not removed), row-major
    static_background: np.ndarray  # (S, S) uint8: the detector background at the scan's mean gain
    grain_id: np.ndarray  # (N,) int
    is_boundary: np.ndarray  # (N,) bool
    is_bad: np.ndarray  # (N,) bool
    band_contrast: np.ndarray  # (N,) uint8, 0-255: band strength of the pattern, as an image-quality map
    euler: np.ndarray | None = None  # (N, 3) Bunge Euler angles (radians) of each point's own grain variant

    @property
    def x(self) -> np.ndarray:
        return np.tile(np.arange(self.settings.n_columns) * self.settings.step, self.settings.n_rows)

    @property
    def y(self) -> np.ndarray:
        return np.repeat(np.arange(self.settings.n_rows) * self.settings.step, self.settings.n_columns)

    def truth(self) -> pd.DataFrame:
        """x, y, grain_id, is_boundary, is_bad: the layout of ni_grains_truth.csv."""
        return pd.DataFrame({"x": self.x, "y": self.y, "grain_id": self.grain_id,
                             "is_boundary": self.is_boundary.astype(int), "is_bad": self.is_bad.astype(int)})


def simulate_scan(settings: ScanSettings = ScanSettings()) -> SimulatedScan:
    s = settings
    rng = np.random.default_rng(s.seed)
    grain_id = voronoi_grains(s.n_rows, s.n_columns, s.n_grains, rng)
    is_boundary, neighbour_grain = grain_boundaries(grain_id.reshape(s.n_rows, s.n_columns))
    # each point takes one of VARIANTS misorientations of its grain: patterns are computed once per
    # (grain, variant), not per point, so large scans stay cheap
    orientations = rng.integers(2**31)  # drawn either way: a seed gives the same scan as before the option
    grain_rotations = Rotation.random(s.n_grains, random_state=orientations if s.orientation_seed is None
                                      else s.orientation_seed)
    wobble = Rotation.from_rotvec(rng.normal(0, np.deg2rad(s.misorientation_deg), (VARIANTS, 3)))
    library = kikuchi_bands(wobble[np.tile(np.arange(VARIANTS), s.n_grains)] *
                            grain_rotations[np.repeat(np.arange(s.n_grains), VARIANTS)], s.pattern_size)
    variant = rng.integers(VARIANTS, size=grain_id.size)
    bands = library[grain_id * VARIANTS + variant]
    neighbour_variant = library[neighbour_grain[is_boundary] * VARIANTS + variant[is_boundary]]
    bands[is_boundary] = 0.5 * bands[is_boundary] + 0.5 * neighbour_variant
    is_bad = np.zeros(grain_id.size, bool)
    is_bad[rng.choice(grain_id.size, round(s.bad_fraction * grain_id.size), replace=False)] = True
    intensity = np.ones(grain_id.size, np.float32)
    bands[is_bad] = 0.85 * rng.random((is_bad.sum(), *bands.shape[1:]), dtype=np.float32) + 0.15 * bands[is_bad]
    intensity[is_bad] = 0.7
    background = detector_background(s.pattern_size)
    gain = scan_gain(s.n_rows, s.n_columns, s.gain)
    patterns = np.empty(bands.shape, np.uint8)
    to_uint8 = 255 / (s.counts * 1.1)  # the brightest pixels of the brightest patterns reach 255
    for start in range(0, len(bands), POINTS_PER_CHUNK):
        part = slice(start, start + POINTS_PER_CHUNK)
        expected = (background * (1 + s.contrast * bands[part]) * (gain[part] * intensity[part])[:, None, None])
        counts = rng.poisson(expected * s.counts)
        patterns[part] = np.clip(np.rint(counts * to_uint8), 0, 255).astype(np.uint8)
    static = np.clip(np.rint(background * gain.mean() * s.counts * to_uint8), 0, 255).astype(np.uint8)
    quality = bands.reshape(len(bands), -1).std(1) * intensity
    band_contrast = np.rint(255 * (quality - quality.min()) / max(np.ptp(quality), 1e-12)).astype(np.uint8)
    # the patterns turn crystal normals into detector directions (R), so R = from_euler("ZXZ", euler):
    # the Bunge angles of the sample-to-crystal rotation R^-1
    rotations = wobble[variant] * grain_rotations[grain_id]
    euler = np.mod(rotations.as_euler("ZXZ"), 2 * np.pi)
    return SimulatedScan(s, patterns, static, grain_id, is_boundary, is_bad, band_contrast, euler)


# -- grains --------------------------------------------------------------------------------------------

def voronoi_grains(n_rows: int, n_columns: int, n_grains: int, rng) -> np.ndarray:
    """Grain id of every grid point (row-major): the nearest of n_grains random seeds; ids are
    renumbered 0.. in order of first appearance, and every grain keeps at least one point."""
    rows, columns = np.divmod(np.arange(n_rows * n_columns), n_columns)
    points = np.column_stack([rows, columns]).astype(float)
    seeds = points[rng.choice(len(points), n_grains, replace=False)] + rng.uniform(-0.5, 0.5, (n_grains, 2))
    _, nearest = cKDTree(seeds).query(points)
    _, first, ids = np.unique(nearest, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # renumber by first appearance
    return order[ids].astype(np.int64)


def grain_boundaries(grains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is_boundary, other grain) per point: a point is on a boundary when one of its four neighbours
    belongs to another grain; the other grain is the one most frequent among those neighbours."""
    n_rows, n_columns = grains.shape
    padded = np.pad(grains, 1, constant_values=-1)
    neighbours = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]], -1)
    other = np.where((neighbours != grains[..., None]) & (neighbours >= 0), neighbours, -1).reshape(-1, 4)
    neighbour_grain = np.full(len(other), -1)
    for i in np.flatnonzero((other >= 0).any(1)):
        values, counts = np.unique(other[i][other[i] >= 0], return_counts=True)
        neighbour_grain[i] = values[np.argmax(counts)]
    return neighbour_grain >= 0, neighbour_grain


# -- patterns ------------------------------------------------------------------------------------------

def detector_directions(size: int) -> np.ndarray:
    """Unit vectors (size*size, 3) from the source point to each detector pixel (gnomonic projection)."""
    pcx, pcy, pcz = PATTERN_CENTRE
    centres = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(centres - pcx, (1 - pcy) - centres)  # v: up on the detector
    directions = np.stack([u, v, np.full_like(u, pcz)], -1).reshape(-1, 3)
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def reflectors() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit plane normals (G, 3) of every fcc reflector of FAMILIES (one per +-pair), band widths and strengths."""
    normals, widths, strengths = [], [], []
    for family, strength in FAMILIES.items():
        seen = set()
        for perm in set(itertools.permutations(family)):
            for signs in itertools.product((1, -1), repeat=3):
                hkl = tuple(p * s for p, s in zip(perm, signs))
                if hkl in seen or tuple(-h for h in hkl) in seen:
                    continue
                seen.add(hkl)
                normals.append(np.array(hkl, float) / np.linalg.norm(hkl))
                widths.append(BAND_WIDTH * np.linalg.norm(hkl) / np.sqrt(3))  # Bragg angle grows with |g|
                strengths.append(strength)
    return np.array(normals), np.array(widths), np.array(strengths)


def kikuchi_bands(orientations: Rotation, size: int) -> np.ndarray:
    """Band patterns (len(orientations), size, size) float32, each stretched to [0, 1]."""
    directions = detector_directions(size).T.astype(np.float32)  # (3, pixels)
    normals, widths, strengths = (v.astype(np.float32) for v in reflectors())
    out = np.empty((len(orientations), size, size), np.float32)
    for start in range(0, len(orientations), POINTS_PER_CHUNK):
        part = slice(start, start + POINTS_PER_CHUNK)
        rotations = orientations[part].as_matrix().astype(np.float32)
        cosines = (rotations @ normals.T).transpose(0, 2, 1) @ directions  # (n, bands, pixels)
        profile = strengths @ np.exp(-0.5 * (cosines / widths[:, None]) ** 2)  # (n, pixels)
        low, high = profile.min(1, keepdims=True), profile.max(1, keepdims=True)
        out[part] = ((profile - low) / (high - low)).reshape(-1, size, size)
    return out


def detector_background(size: int) -> np.ndarray:
    """(size, size) relative intensity: a bright spot just above the centre, dark corners, three dust spots."""
    centres = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(centres, centres)
    spot = np.exp(-((u - 0.5) ** 2 + (v - 0.4) ** 2) / (2 * 0.3 ** 2))
    corners = 1 - 0.35 * (np.hypot(u - 0.5, v - 0.5) / np.sqrt(0.5)) ** 3
    dust = 1 - sum(0.25 * np.exp(-((u - a) ** 2 + (v - b) ** 2) / (2 * 0.015 ** 2))
                   for a, b in ((0.2, 0.7), (0.75, 0.3), (0.6, 0.8)))
    return (0.35 + 0.65 * spot) * corners * dust


def scan_gain(n_rows: int, n_columns: int, gain: tuple[float, float]) -> np.ndarray:
    """(N,) smooth gain per point: from gain[0] at the top-left to gain[1] at the bottom-right,
    mostly along x."""
    rows, columns = np.divmod(np.arange(n_rows * n_columns), n_columns)
    t = 0.75 * columns / max(n_columns - 1, 1) + 0.25 * rows / max(n_rows - 1, 1)
    return (gain[0] + (gain[1] - gain[0]) * t).astype(np.float32)


# -- writers -------------------------------------------------------------------------------------------

def write_h5ebsd(scan: SimulatedScan, path) -> Path:
    """kikuchipy's h5ebsd layout (as latentcore/demo/ni_grains_h5ebsd.h5): patterns, header with the
    grid, step and static background, and the x, y of the crystal map."""
    s = scan.settings
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["manufacturer"], f["version"] = np.array([b"kikuchipy"]), np.array([b"0.13.1"])
        f.create_dataset("Scan 1/EBSD/Data/patterns", data=scan.patterns, compression="gzip",
                         chunks=(min(len(scan.patterns), 256), s.pattern_size, s.pattern_size))
        header = f.create_group("Scan 1/EBSD/Header")
        for name, value in {"n_rows": s.n_rows, "n_columns": s.n_columns, "pattern_height": s.pattern_size,
                            "pattern_width": s.pattern_size}.items():
            header[name] = np.array([value], np.int64)
        for name, value in {"step_x": s.step, "step_y": s.step, "pcx": PATTERN_CENTRE[0], "pcy": PATTERN_CENTRE[1],
                            "pcz": PATTERN_CENTRE[2], "sample_tilt": 70.0}.items():
            header[name] = np.array([value], np.float64)
        header["static_background"] = scan.static_background
        crystal_map = f.create_group("Scan 1/EBSD/CrystalMap/crystal_map/data")
        crystal_map["x"], crystal_map["y"] = scan.x, scan.y
        if scan.euler is not None:
            for k, name in enumerate(("phi1", "Phi", "phi2")):
                crystal_map[name] = scan.euler[:, k]
            crystal_map["phase_id"] = np.zeros(len(scan.euler), np.int64)
            phase = f.create_group("Scan 1/EBSD/CrystalMap/crystal_map/header/phases/0")
            phase["name"], phase["point_group"] = np.array([b"ni"]), np.array([b"m-3m"])
    return Path(path)


def oxford_processed(scan: SimulatedScan) -> np.ndarray:
    """What Oxford stores as Processed Patterns: each raw pattern divided by the static background and
    stretched to the full 0-255 range (uint8)."""
    background = np.maximum(scan.static_background.astype(np.float32), 1)
    out = np.empty_like(scan.patterns)
    for start in range(0, len(out), POINTS_PER_CHUNK):
        corrected = scan.patterns[start:start + POINTS_PER_CHUNK] / background
        low = corrected.min(axis=(1, 2), keepdims=True)
        high = corrected.max(axis=(1, 2), keepdims=True)
        out[start:start + POINTS_PER_CHUNK] = np.rint(255 * (corrected - low) / np.maximum(high - low, 1e-12))
    return out


def write_h5oina(scan: SimulatedScan, path) -> Path:
    """Oxford Instruments' H5OINA layout, as latentcore.data.oxford reads it."""
    s = scan.settings
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["Manufacturer"], f["Format Version"] = np.array([b"Oxford Instruments"]), np.array([b"5.0"])
        data, header = f.create_group("1/EBSD/Data"), f.create_group("1/EBSD/Header")
        data.create_dataset("Processed Patterns", data=oxford_processed(scan), compression="gzip",
                            chunks=(min(len(scan.patterns), 256), s.pattern_size, s.pattern_size))
        data["Band Contrast"] = scan.band_contrast
        data["X"], data["Y"] = scan.x.astype(np.float32), scan.y.astype(np.float32)
        if scan.euler is not None:  # Euler in radians, phase 1 = nickel (Laue group 11, m-3m)
            data["Euler"] = scan.euler.astype(np.float32)
            data["Phase"] = np.where(scan.is_bad, 0, 1).astype(np.uint8)
            phase = header.create_group("Phases/1")
            phase["Phase Name"], phase["Laue Group"] = np.array([b"Nickel"]), np.array([11], np.int32)
            phase["Space Group"] = np.array([225], np.int32)
            phase["Lattice Dimensions"] = np.array([3.524, 3.524, 3.524], np.float32)  # Å
            phase["Lattice Angles"] = np.full(3, np.pi / 2, np.float32)  # radians, as Oxford stores them
        header["X Cells"], header["Y Cells"] = np.array([s.n_columns], np.int32), np.array([s.n_rows], np.int32)
        header["X Step"], header["Y Step"] = np.array([s.step], np.float32), np.array([s.step], np.float32)
        header["Pattern Height"] = header["Pattern Width"] = np.array([s.pattern_size], np.int32)
    return Path(path)


def write_truth_csv(scan: SimulatedScan, path) -> Path:
    with atomic_path(path) as tmp:
        neutralised_table(scan.truth()).to_csv(tmp, index=False)
    return Path(path)


def grain_latents(n: int, dims: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """EBSD-like latent vectors without a scan, for clustering benchmarks and tests: six grains
    (centres 3 apart on average, spread 0.3), 11 % boundary rows halfway between two grains, 3 % bad
    rows scattered widely. Returns (rows (n, dims), grain id of each interior row, -1 elsewhere)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (6, dims))
    kind = rng.choice(3, size=n, p=[0.86, 0.11, 0.03])
    grain, other = rng.integers(0, 6, size=n), rng.integers(0, 6, size=n)
    rows = centres[grain] + rng.normal(0, 0.3, (n, dims))
    boundary = kind == 1
    rows[boundary] = 0.5 * (centres[grain[boundary]] + centres[other[boundary]]) + rng.normal(0, 0.3, (boundary.sum(), dims))
    rows[kind == 2] = rng.normal(0, 3, ((kind == 2).sum(), dims))
    return rows, np.where(kind == 0, grain, -1)
