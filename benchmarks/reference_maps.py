"""The streamed pattern maps (latentcore.analysis.ebsd.pattern_maps: VBSE tiles, image quality, ADP in one
pass) against kikuchipy 0.13.1's three calls on the same h5ebsd file (a simulated scan written by
kikuchipy), with the largest relative difference of each map. Both read the file from disk.

    nice python benchmarks/reference_maps.py [--rows 80] [--columns 100] [--size 60]

Results: docs/benchmarks.md.
"""
import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--rows", type=int, default=80)
parser.add_argument("--columns", type=int, default=100)
parser.add_argument("--size", type=int, default=60)
args = parser.parse_args()

warnings.filterwarnings("ignore")
import kikuchipy as kp  # noqa: E402  (test-only, GPL-3.0: the reference, never imported by latentcore)

from latentcore.analysis.ebsd.pattern_maps import pattern_maps  # noqa: E402
from latentcore.data import open_source  # noqa: E402
from latentcore.demo.simulate import ScanSettings, simulate_scan  # noqa: E402

scan = simulate_scan(ScanSettings(n_rows=args.rows, n_columns=args.columns, pattern_size=args.size, n_grains=12))
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "scan.h5"
    signal = kp.signals.EBSD(scan.patterns.reshape(args.rows, args.columns, args.size, args.size))
    signal.static_background = scan.static_background
    signal.save(path)
    start = time.perf_counter()
    with open_source(path) as reader:
        ours = pattern_maps(reader)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    signal = kp.load(path, lazy=True)
    iq = np.asarray(signal.get_image_quality(show_progressbar=False)).reshape(-1)
    adp = np.asarray(signal.get_average_neighbour_dot_product_map(show_progressbar=False)).reshape(-1)
    imager = kp.imaging.VirtualBSEImager(signal)
    imager.grid_shape = (5, 5)
    tiles = np.asarray(imager.get_images_from_grid().data).reshape(5, 5, -1)
    theirs_s = time.perf_counter() - start
relative = {name: float(np.max(np.abs(a - b) / np.abs(b))) for name, a, b in
            (("iq", ours.iq, iq), ("adp", ours.adp, adp), ("vbse", ours.vbse, tiles))}
n = args.rows * args.columns
print(f"{n:,} patterns of {args.size} x {args.size}: latentcore {ours_s:.2f} s, kikuchipy {theirs_s:.2f} s "
      f"(ratio {theirs_s / ours_s:.1f}x); largest relative difference {relative}")
