"""Writers of vendor pattern files (.ebsp, .up2, NORDIF, Bruker ROI) from their format descriptions (the
readers' docstrings in latentcore/data/), for tests/engine/test_vendor_readers.py, tests/app/test_uploads.py and
benchmarks/vendor_readers.py; and a two-phase nickel/titanium kikuchipy h5ebsd scan written by kikuchipy and orix
themselves (test-only, GPL-3.0), for the orientation readers, the .ctf/.ang export and the pole figures."""
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


NICKEL = ("Ni", 225, (3.524, 3.524, 3.524, 90.0, 90.0, 90.0))  # name, space group, a, b, c (Å), alpha, beta, gamma
TITANIUM = ("Ti", 194, (2.95, 2.95, 4.68, 90.0, 90.0, 120.0))
# kikuchipy's SEM metadata (kV, -, mm) and detector sample tilt (degrees) of the tests' nickel/titanium scan
NI_TI_ACQUISITION = {"beam_energy": 20.0, "magnification": 500.0, "working_distance": 15.0, "sample_tilt": 70.0}


def nickel_titanium_orientations(n_rows=12, n_columns=20, seed=0):
    """(Bunge Euler angles (N, 3) in radians, phase ids (N,)) of a two-phase scan: nickel (phase 1) on the left half,
    two grains split 10° apart at the middle row; titanium (phase 2) on the right, one grain turning 0.5° a column
    (a gradient); every point stored as a random symmetry equivalent of its orientation (orix's O and D6); three
    points not indexed (-1)."""
    from orix.quaternion import Rotation
    from orix.quaternion.symmetry import D6, O

    rng = np.random.default_rng(seed)
    rows, columns = np.divmod(np.arange(n_rows * n_columns), n_columns)
    titanium = columns >= n_columns // 2
    lower = rows >= n_rows // 2
    grain = Rotation.from_euler(np.where(titanium[:, None], [0.3, 0.9, 1.2], [1.1, 0.6, 0.4]))
    turn = Rotation.from_axes_angles([0, 0, 1], np.deg2rad(np.where(titanium, 0.5 * columns, 10.0 * lower)))
    equivalent = np.where(titanium[:, None], D6.data[rng.integers(D6.size, size=len(rows))],
                          O.data[rng.integers(O.size, size=len(rows))])
    euler = (Rotation(equivalent) * grain * turn).to_euler()
    phase_id = np.where(titanium, 2, 1)
    phase_id[[5, 77, 200 % len(rows)]] = -1
    return euler, phase_id


def write_kikuchipy_h5ebsd(path, euler, phase_id, phases, shape, step=1.5, acquisition=None):
    """A kikuchipy h5ebsd scan saved by kikuchipy (its EBSD signal with an orix crystal map): 8 x 8 random patterns,
    `phases` {id: (name, space group, lattice)} (NICKEL, TITANIUM), `acquisition` {name: value} of kikuchipy's SEM
    metadata (`beam_energy`, `magnification`, `working_distance`) and its detector's `sample_tilt`."""
    import kikuchipy as kp
    from diffpy.structure import Lattice, Structure
    from orix.crystal_map import CrystalMap, Phase, PhaseList
    from orix.quaternion import Rotation

    n_rows, n_columns = shape
    rows, columns = np.divmod(np.arange(n_rows * n_columns), n_columns)
    phase_list = PhaseList([Phase(name, space_group=group, structure=Structure(lattice=Lattice(*lattice)))
                            for name, group, lattice in phases.values()], ids=list(phases))
    xmap = CrystalMap(Rotation.from_euler(euler), phase_id=phase_id, x=columns * step, y=rows * step,
                      phase_list=phase_list, scan_unit="um")
    patterns = np.random.default_rng(1).integers(0, 256, (n_rows, n_columns, 8, 8), dtype=np.uint8)
    signal = kp.signals.EBSD(patterns, xmap=xmap)
    for axis, name in zip(signal.axes_manager.navigation_axes, ("x", "y")):
        axis.name, axis.scale, axis.units = name, step, "um"
    acquisition = dict(acquisition or {})
    signal.detector.sample_tilt = acquisition.pop("sample_tilt", 70.0)
    for name, value in acquisition.items():
        signal.metadata.set_item(f"Acquisition_instrument.SEM.{name}", value)
    signal.save(path)
    return path
