"""Writers of vendor pattern files (.ebsp, .up2, NORDIF, Bruker ROI) from their format descriptions (the
readers' docstrings in latentcore/data/), for tests/engine/test_vendor_readers.py, tests/app/test_uploads.py and
benchmarks/vendor_readers.py."""
import h5py
import numpy as np


def write_ebsp(path, patterns, version, step=1.5, stored=None):
    """An Oxford .ebsp file: records stored in a rotated order (so only the offsets table places them),
    beam positions in µm; `stored` (bool per map point) leaves points out, as non-indexed-only files do."""
    n_rows, n_columns, height, width = patterns.shape
    n = n_rows * n_columns
    stored = np.ones(n, bool) if stored is None else np.asarray(stored)
    head = (np.array([-version], "<i8").tobytes() if version else b"") + (b"\0" if version >= 4 else b"")
    record_header = [0, height, width, patterns[0, 0].nbytes]
    footer_size = {0: 0, 1: 16}.get(version, 18)
    record_size = 4 * (len(record_header) + 2 * (version >= 5)) + patterns[0, 0].nbytes + footer_size
    file_order = np.roll(np.flatnonzero(stored), -1)
    offsets = np.zeros(n, "<i8")
    offsets[file_order] = len(head) + 8 * n + record_size * np.arange(len(file_order))
    with open(path, "wb") as f:
        f.write(head + offsets.tobytes())
        for point in file_order:
            row, column = divmod(int(point), n_columns)
            map_xy = [column, row] if version >= 5 else []
            f.write(np.array(map_xy + record_header, "<i4").tobytes() + patterns[row, column].tobytes())
            beam = np.array([column * step, row * step], "<f8").tobytes()
            f.write(b"" if version == 0 else beam if version == 1 else b"\1" + beam[:8] + b"\1" + beam[8:])
    return path


def write_up2_square(path, patterns, step_x=0.5, step_y=0.75):
    """EDAX .up2 of version 3 on a square grid (the bundled one is hexagonal)."""
    n_rows, n_columns, height, width = patterns.shape
    header = (np.array([3, width, height, 42], "<u4").tobytes() + b"\0"
              + np.array([n_columns, n_rows], "<u4").tobytes() + b"\0" + np.array([step_x, step_y], "<f8").tobytes())
    path.write_bytes(header + patterns.astype("<u2").tobytes())
    return path


def write_nordif(folder, patterns, step=1.5):
    """NORDIF's Pattern.dat (uint8 patterns, no header) and the Setting.txt beside it; returns the Pattern.dat."""
    n_rows, n_columns, height, width = patterns.shape
    (folder / "Pattern.dat").write_bytes(patterns.astype(np.uint8).tobytes())
    settings = ["[NORDIF]", "[Acquisition settings]", f"Resolution\t{width}x{height}\tpx", "[Area]",
                f"Step size\t{step:.3f}\tum", f"Number of samples\t{n_rows}x{n_columns}\t#"]
    (folder / "Setting.txt").write_text("\n".join(settings) + "\n", encoding="latin-1")
    return folder / "Pattern.dat"


def write_bruker_roi(path, patterns, stored_points, step=1.5):
    """A Bruker h5ebsd ROI of a (n_rows, n_columns, h, w) map whose pattern i is map point
    `stored_points[i]` (row-major index): the ROI positions go to `<scan>/EBSD/SEM/IY, IX`."""
    n_rows, n_columns = patterns.shape[:2]
    rows, columns = np.divmod(np.asarray(stored_points), n_columns)
    with h5py.File(path, "w") as f:
        f["Scan 0/EBSD/Data/RawPatterns"] = patterns[rows, columns]
        f["Scan 0/EBSD/Data/MAD"] = np.asarray(stored_points, np.float32)
        for name, value in [("NROWS", n_rows), ("NCOLS", n_columns), ("XSTEP", step), ("YSTEP", step)]:
            f[f"Scan 0/EBSD/Header/{name}"] = value
        f["Scan 0/EBSD/SEM/IY"], f["Scan 0/EBSD/SEM/IX"] = rows, columns
    return path
