"""Orientations and phases read from vendor scan files (`reader.orientations()`), against orix and
kikuchipy (GPL-3.0, test-only): Bruker h5ebsd as orix reads it, kikuchipy's h5ebsd and EMsoft's
EMEBSD files as kikuchipy reads them (their lattices in nm, read as Å), and EDAX h5 / Oxford H5OINA against the
`.ang` / `.ctf` text files written here from the same datasets (orix reads those; its readers skip the HDF5 files);
the microscope's settings each file records as kikuchipy reads them."""
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from latentcore.analysis.ebsd.orientation import laue_group, laue_of_space_group, sample_to_crystal
from latentcore.data import open_source
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5oina

kp = pytest.importorskip("kikuchipy")
from kikuchipy.data._dummy_files.bruker_h5ebsd import create_dummy_bruker_h5ebsd_file  # noqa: E402
from orix import io as orix_io  # noqa: E402

KIKUCHIPY_DATA = Path(kp.__file__).parent / "data"


def our_reading(path):
    with open_source(path) as reader:
        return reader.orientations()


def assert_same_rotations(euler, orix_rotations):
    """Rotations equal (quaternions up to sign): Euler angles of one rotation may differ by 2 pi."""
    ours = sample_to_crystal(euler).as_quat()
    theirs = orix_rotations.data  # (N, 4): w, x, y, z
    theirs = np.column_stack([theirs[:, 1:], theirs[:, 0]])
    np.testing.assert_allclose(np.abs(np.sum(ours * theirs, 1)), 1, atol=1e-6)


def laue_of(phase):
    return laue_group(phase.point_group) if phase.point_group else laue_of_space_group(phase.space_group)


def random_degrees(n, seed):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, 360, n), rng.uniform(0, 180, n), rng.uniform(0, 360, n)])


def test_bruker_orientations_and_phases_are_orixs(tmp_path):
    path = tmp_path / "bruker.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        create_dummy_bruker_h5ebsd_file(path)
    degrees = random_degrees(9, 1)
    with h5py.File(path, "r+") as f:  # varied angles, one point not indexed, positions orix can place
        data = f["Scan 0/EBSD/Data"]
        for k, name in enumerate(("phi1", "PHI", "phi2")):
            data[name][...] = degrees[:, k]
        data["Phase"][4] = 0
        data["X SAMPLE"][...], data["Y SAMPLE"][...] = np.tile([0, 1, 2], 3), np.repeat([0, 1, 2], 3)
        del f["Scan 0/SEM/SEM IX"], f["Scan 0/SEM/SEM IY"]  # one position for 9 points: orix would keep one
        atoms = f["Scan 0/EBSD/Header/Phases/1/AtomPositions"]
        for name in list(atoms):  # orix reads an integer occupancy only
            atoms[name][...] = b"Ni,0,0,0,1"
    found = our_reading(path)
    xmap = orix_io.load(path)
    assert_same_rotations(found.euler, xmap.rotations)
    np.testing.assert_array_equal(found.phase_id, xmap.phase_id)
    assert found.phase_id[4] == -1
    assert {k: (p.name, laue_of(p)) for k, p in found.phases.items()} == \
        {k: (p.name, p.point_group.laue.name) for k, p in xmap.phases if k >= 0}
    assert {k: p.lattice for k, p in found.phases.items()} == \
        {k: tuple(np.round(p.structure.lattice.abcABG(), 4)) for k, p in xmap.phases if k >= 0}  # Å: 3.56


@pytest.mark.parametrize("name", ["kikuchipy_h5ebsd/patterns.h5", "emsoft_ebsd/simulated_ebsd.h5"])
def test_h5ebsd_and_emsoft_orientations_are_kikuchipys(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xmap = kp.load(KIKUCHIPY_DATA / name).xmap
    found = our_reading(KIKUCHIPY_DATA / name)
    assert_same_rotations(found.euler, xmap.rotations)
    np.testing.assert_array_equal(found.phase_id, xmap.phase_id)
    assert {k: laue_of(p) for k, p in found.phases.items()} == \
        {k: p.point_group.laue.name for k, p in xmap.phases if k >= 0}
    for k, phase in xmap.phases:  # kikuchipy's lattices in nm (nickel 0.35236), ours in Å
        if k >= 0:
            a_b_c, angles = np.split(np.asarray(phase.structure.lattice.abcABG()), 2)
            np.testing.assert_allclose(found.phases[k].lattice, [*10 * a_b_c, *angles], atol=1e-4)


def test_a_two_phase_crystal_map_keeps_each_phases_lattice(ni_ti_h5ebsd):
    """kikuchipy's writer stores orix's `structure/lattice/abcABG` per phase (as given: Å here), and a lattice of
    a = b = c = 1 (orix's placeholder, here its `not_indexed` phase) as none."""
    found = our_reading(ni_ti_h5ebsd)
    assert found.phases[1].lattice == (3.524, 3.524, 3.524, 90.0, 90.0, 90.0)
    assert found.phases[2].lattice == (2.95, 2.95, 4.68, 90.0, 90.0, 120.0)
    assert found.phases[-1].lattice is None


def kikuchipys_acquisition(path) -> dict:
    """What kikuchipy reads of a scan's microscope: its SEM metadata and its detector's sample tilt."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal = kp.load(path, lazy=True)
    sem = signal.metadata.Acquisition_instrument.SEM.as_dictionary()
    read = {"voltage_kv": sem.get("beam_energy"), "tilt_deg": signal.detector.sample_tilt,
            "magnification": sem.get("magnification"), "working_distance_mm": sem.get("working_distance")}
    return {name: float(value) for name, value in read.items() if value}  # kikuchipy's 0: not given


def test_the_acquisition_is_what_kikuchipy_reads(tmp_path):
    """Beam voltage, sample tilt, magnification and working distance as kikuchipy reads them: its own H5OINA
    writer's file (20 kV, 69.9° stored in radians), its EDAX and h5ebsd examples, its Bruker writer's file (whose
    `SampleTilt` kikuchipy's reader misses, looking for `Sample Tilt`: 0.0)."""
    from kikuchipy.data._dummy_files.oxford_h5ebsd import create_dummy_oxford_h5ebsd_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        create_dummy_oxford_h5ebsd_file(tmp_path / "oxford.h5oina")
        create_dummy_bruker_h5ebsd_file(tmp_path / "bruker.h5")
    files = [tmp_path / "oxford.h5oina", KIKUCHIPY_DATA / "edax_h5ebsd/patterns.h5",
             KIKUCHIPY_DATA / "kikuchipy_h5ebsd/patterns.h5", tmp_path / "bruker.h5"]
    for path in files:
        ours, theirs = our_reading(path).acquisition.known(), kikuchipys_acquisition(path)
        if path.name == "bruker.h5":
            with h5py.File(path) as f:
                theirs["tilt_deg"] = float(f["Scan 0/EBSD/Header/SampleTilt"][()])
        assert ours == pytest.approx(theirs, abs=1e-4), path.name
    assert our_reading(files[0]).acquisition.known() == pytest.approx(
        {"voltage_kv": 20.0, "tilt_deg": 69.9, "magnification": 2000.0, "working_distance_mm": 23.5})


def write_ang(path, euler, x, y, ci, phase, material, symmetry):
    header = ["# TEM_PIXperUM          1.000000", "# Phase 1", f"# MaterialName  \t{material}",
f"# Symmetry              {symmetry}",
              "# LatticeConstants      3.520 3.520 3.520  90.000  90.000  90.000", "# GRID: SqrGrid"]
    rows = np.column_stack([euler, x, y, np.ones_like(x), ci, phase, np.ones_like(x), np.zeros_like(x)])
    np.savetxt(path, rows, fmt="%.6f", header="\n".join(h[2:] for h in header), comments="# ")


def test_edax_orientations_and_phases_are_orixs_reading_of_the_same_ang(tmp_path):
    path = tmp_path / "edax.h5"
    shutil.copy(KIKUCHIPY_DATA / "edax_h5ebsd/patterns.h5", path)
    radians = np.deg2rad(random_degrees(9, 2))
    with h5py.File(path, "r+") as f:
        data = f["Scan 1/EBSD/Data"]
        for k, name in enumerate(("Phi1", "Phi", "Phi2")):
            data[name][...] = radians[:, k]
        data["CI"][3] = -1
        ci, phase = data["CI"][()], data["Phase"][()]
        material = f["Scan 1/EBSD/Header/Phase/1/MaterialName"][()][0].decode()
        symmetry = int(f["Scan 1/EBSD/Header/Phase/1/Symmetry"][()][0])
    found = our_reading(path)
    write_ang(tmp_path / "edax.ang", radians, np.arange(9.0) % 3, np.arange(9.0) // 3, ci, phase, material, symmetry)
    xmap = orix_io.load(tmp_path / "edax.ang")
    assert_same_rotations(found.euler, xmap.rotations)
    assert found.phase_id[3] == -1 and xmap.phase_id[3] == -1
    indexed = found.phase_id >= 0
    assert {laue_of(found.phases[k]) for k in found.phase_id[indexed]} == \
        {xmap.phases[k].point_group.laue.name for k in xmap.phase_id[indexed]} == {"m-3m"}
    assert found.phases[1].name == xmap.phases[int(xmap.phase_id[0])].name == material


def write_ctf(path, euler_degrees, x, y, phase, name, laue):
    lines = ["Channel Text File", "Prj\tsim", "Author\t[Unknown]", "JobMode\tGrid", "XCells\t3", "YCells\t3",
             "XStep\t1", "YStep\t1", "AcqE1\t0", "AcqE2\t0", "AcqE3\t0", "Euler angles refer to Sample Coordinate system (CS0)!",
             "Phases\t1", f"3.524;3.524;3.524\t90;90;90\t{name}\t{laue}\t225\t\t\t",
             "Phase\tX\tY\tBands\tError\tEuler1\tEuler2\tEuler3\tMAD\tBC\tBS"]
    for p, xi, yi, (a, b, c) in zip(phase, x, y, euler_degrees):
        lines.append(f"{p}\t{xi:.4f}\t{yi:.4f}\t8\t0\t{a:.6f}\t{b:.6f}\t{c:.6f}\t0.5\t100\t100")
    Path(path).write_text("\n".join(lines) + "\n")


def test_oxford_orientations_and_phases_are_orixs_reading_of_the_same_ctf(tmp_path):
    scan = simulate_scan(ScanSettings(n_rows=3, n_columns=4, pattern_size=16, n_grains=2, bad_fraction=0.2, seed=1))
    path = write_h5oina(scan, tmp_path / "scan.h5oina")
    with h5py.File(path) as f:
        euler, phase = f["1/EBSD/Data/Euler"][()], f["1/EBSD/Data/Phase"][()]
        name, laue = f["1/EBSD/Header/Phases/1/Phase Name"][()][0].decode(), int(f["1/EBSD/Header/Phases/1/Laue Group"][0])
    found = our_reading(path)
    write_ctf(tmp_path / "scan.ctf", np.rad2deg(euler.astype(np.float64)), scan.x, scan.y, phase, name, laue)
    xmap = orix_io.load(tmp_path / "scan.ctf")
    indexed = xmap.phase_id >= 0
    assert_same_rotations(found.euler[indexed], xmap.rotations[indexed])  # orix keeps not-indexed as identity
    np.testing.assert_array_equal(found.phase_id, xmap.phase_id)
    assert (found.phase_id == -1).sum() == 2
    assert {k: (p.name, laue_of(p)) for k, p in found.phases.items()} == \
        {k: (p.name, p.point_group.laue.name) for k, p in xmap.phases if k >= 0}


def test_formats_without_orientations_say_none_and_the_simulated_scan_is_self_consistent(tmp_path):
    with open_source(KIKUCHIPY_DATA / "nordif/Pattern.dat") as reader:
        assert reader.orientations() is None
    scan = simulate_scan(ScanSettings(n_rows=3, n_columns=4, pattern_size=16, n_grains=2, seed=1))
    found = our_reading(write_h5oina(scan, tmp_path / "scan.h5oina"))
    np.testing.assert_allclose(found.euler, scan.euler, atol=1e-6)  # float32 on disk


def test_the_demo_scan_holds_its_edax_copys_orientations_as_kikuchipy_reads_them(ebsd_h5, edax_h5):
    demo, edax = our_reading(ebsd_h5), our_reading(edax_h5)
    np.testing.assert_array_equal(demo.euler, edax.euler)
    assert (demo.phase_id == 0).all() and demo.phases[0].name == "Nickel" and laue_of(demo.phases[0]) == "m-3m"
    assert demo.phases[0].lattice == edax.phases[1].lattice == (3.524, 3.524, 3.524, 90.0, 90.0, 90.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_rotations(demo.euler, kp.load(ebsd_h5, lazy=True).xmap.rotations)


def test_kikuchipys_placeholder_crystal_map_is_no_orientations(never_indexed_h5):
    assert our_reading(never_indexed_h5) is None
