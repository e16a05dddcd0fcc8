"""Grains and the .ctf/.ang export at scale (issue 41, items 3 and 7): a synthetic cubic scan of N points (a square
grid of Voronoi grains, N / 500 of them, each a random orientation with 0.5° of noise per point) with 16-D latents
and five classes.

Measured, CPU seconds of this process (the machine is shared: wall times drift with the load, also printed):
- the rotations of N Euler angles: `orientation.sample_to_crystal` (their quaternion written out in numpy) against
  scipy's `Rotation.from_euler("ZXZ", ...).inv()` (3.5 µs a rotation in scipy 1.17), and their ratio;
- the grain table (`grains.grain_table`: grains and KAM as the reference maps find them, mean orientations, GOS,
  the latents' spread, the majority class), the app's worker job and `python -m latentcore grains`;
- writing the scan with its classes as a .ctf and an .ang (`vendor_files.export_ebsd`: fixed-point text by Arrow).
Goal: a million-point scan's grain table and each export within a minute of CPU (the app runs them in a worker).

    nice python benchmarks/grains_scale.py [--n 1000000]

Results: docs/benchmarks.md.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from latentcore.analysis.ebsd import orientation as ori
from latentcore.analysis.ebsd.grains import grain_table
from latentcore.analysis.ebsd.scan_points import RowClasses, ScanPoints
from latentcore.analysis.ebsd.vendor_files import export_ebsd
from latentcore.analysis.maps import Grid
from latentcore.data.orientations import Phase, ScanOrientations
from latentcore.demo.simulate import voronoi_grains


def timed(name, fn):
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{name}: cpu {cpu:.2f} s, wall {wall:.2f} s", flush=True)
    return result, cpu


def synthetic_scan(n: int) -> ScanPoints:
    side = int(round(np.sqrt(n)))
    rng = np.random.default_rng(0)
    grain = voronoi_grains(side, side, max(side * side // 500, 1), rng)
    truth = Rotation.random(grain.max() + 1, random_state=1)
    noise = Rotation.from_rotvec(rng.normal(0, np.deg2rad(0.5) / np.sqrt(3), (grain.size, 3)))
    euler = np.mod((noise * truth[grain]).inv().as_euler("ZXZ"), 2 * np.pi)
    rows, columns = np.divmod(np.arange(grain.size), side)
    x, y = columns * 1.0, rows * 1.0
    orientations = ScanOrientations(euler, np.ones(grain.size, np.int64), {1: Phase("Ni", "m-3m")}, "synthetic")
    return ScanPoints(x, y, Grid.from_coordinates(x, y, (side, side)), "um", orientations,
                      {"Band Contrast": rng.uniform(0, 255, grain.size)}, Path("synthetic"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    points = synthetic_scan(parser.parse_args().n)
    n = len(points)
    rng = np.random.default_rng(1)
    latents = rng.normal(size=(n, 16)).astype(np.float32)
    classes = RowClasses(rng.integers(-1, 5, n), list("abcde"), "label")
    print(f"{n:,} points on a {points.grid.n_rows} x {points.grid.n_columns} grid")
    euler = points.orientations.euler
    _, ours = timed("sample_to_crystal (numpy)", lambda: ori.sample_to_crystal(euler))
    _, scipys = timed("Rotation.from_euler(...).inv() (scipy)", lambda: Rotation.from_euler("ZXZ", euler).inv())
    print(f"ratio scipy / numpy: {scipys / max(ours, 1e-9):.1f}")
    found, _ = timed("grain table with latents and classes", lambda: grain_table(points, latents, classes))
    print(f"{len(found.table):,} grains")
    with tempfile.TemporaryDirectory() as folder:
        for ending in ("ctf", "ang"):
            target = Path(folder) / f"scan.{ending}"
            timed(f"export .{ending}", lambda: export_ebsd(points, classes, target))
            print(f".{ending}: {target.stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
