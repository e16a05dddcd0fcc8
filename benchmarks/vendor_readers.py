"""Vendor readers stream: for each binary format (NORDIF, EDAX .up2, Oxford .ebsp with records stored
out of map order) and a Bruker h5ebsd ROI stored out of map order, one scan is written to a temporary
folder and read whole in batches of 256, as extraction reads it. Printed per format: the largest
anonymous (heap) memory growth while reading, as a fraction of the file size (streamed: far below 1;
file pages of the memory map are page cache, not counted), and the read speed relative to reading
the file front to back in blocks of 256 patterns with np.fromfile (for the Bruker ROI: relative to the
same ROI stored in map order).

    nice python benchmarks/vendor_readers.py [--rows 120 --columns 160 --side 60]

Results: docs/benchmarks.md.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from vendor_writers import write_bruker_roi, write_ebsp, write_nordif, write_up2_square  # noqa: E402  (the test suite's writers)

from latentcore.data import open_source  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--rows", type=int, default=120)
parser.add_argument("--columns", type=int, default=160)
parser.add_argument("--side", type=int, default=60, help="pattern height and width")
args = parser.parse_args()


def anonymous_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def stream(path) -> tuple[float, int, np.ndarray]:
    """Seconds to read every batch, peak heap growth, and a checksum of the patterns."""
    base, peak, total = anonymous_rss(), 0, np.zeros(2)
    start = time.perf_counter()
    with open_source(path) as reader:
        for batch, rows in reader.iter_batches("all", 256):
            total += [batch.sum(dtype=np.float64), (batch[:, 0, 0, 0].astype(np.float64) * rows).sum()]
            peak = max(peak, anonymous_rss() - base)
    return time.perf_counter() - start, peak, total


def plain_read_seconds(path, dtype, block_items: int) -> float:
    """The ceiling: the file's bytes read front to back in blocks of 256 patterns and made float32."""
    start, size, offset = time.perf_counter(), path.stat().st_size, 0
    while offset < size:
        block = np.fromfile(path, dtype, count=block_items, offset=offset)
        block.astype(np.float32).sum(dtype=np.float64)  # the same work as `stream` does per batch
        offset += block.nbytes
    return time.perf_counter() - start


rng = np.random.default_rng(0)
patterns = rng.integers(0, 256, (args.rows, args.columns, args.side, args.side), dtype=np.uint8)
print(f"{args.rows} x {args.columns} scan of {args.side} x {args.side} uint8 patterns "
      f"({patterns.nbytes / 2**20:.0f} MB of pixels); batches of 256")
with tempfile.TemporaryDirectory() as tmp:
    folder = Path(tmp)
    files = {"NORDIF Pattern.dat": (write_nordif(folder, patterns), np.uint8),
             "EDAX .up2 (uint16)": (write_up2_square(folder / "scan.up2", patterns), np.uint16),
             "Oxford .ebsp v2, out of order": (write_ebsp(folder / "scan.ebsp", patterns, 2), np.uint8)}
    flat = patterns.reshape(-1, args.side, args.side)
    expected = [float(flat.sum(dtype=np.float64)),
                float((flat[:, 0, 0] * np.arange(len(flat), dtype=np.float64)).sum())]
    for name, (path, dtype) in files.items():
        plain = plain_read_seconds(path, dtype, 256 * args.side ** 2)
        seconds, peak, total = stream(path)
        assert np.allclose(total, expected), name  # every pattern, in map order
        size = path.stat().st_size
        print(f"{name:32s} heap growth {peak / size:.3f} of the file ({size / 2**20:.0f} MB); "
              f"read speed {plain / seconds:.2f} of plain block reads")
    points = np.arange(args.rows * args.columns).reshape(args.rows, args.columns)
    in_order = write_bruker_roi(folder / "bruker_in_order.h5", patterns, points.ravel())
    shuffled = write_bruker_roi(folder / "bruker_shuffled.h5", patterns, points[:, ::-1].ravel())
    timings = {}
    for path in (in_order, shuffled):
        timings[path], peak, total = stream(path)
        assert np.allclose(total, expected)
    print(f"{'Bruker ROI, rows stored reversed':32s} heap growth {peak / shuffled.stat().st_size:.3f} of the file; "
          f"read speed {timings[in_order] / timings[shuffled]:.2f} of the same ROI stored in map order")
