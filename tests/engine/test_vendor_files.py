"""A scan with its classes as an Oxford .ctf and an EDAX .ang (latentcore.analysis.ebsd.vendor_files,
`python -m latentcore export-ebsd`): orix (test-only, an independent reader) reads both back with the scan's own
orientations within the format's precision, the classes as phases with the scan's symmetry and lattice, the scan's
band contrast; grid nodes without a point and unindexed points are not indexed; several scan phases split a class;
a scan in nm is written in µm; the file is written atomically."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from latentcore.analysis.ebsd import vendor_files
from latentcore.analysis.ebsd.scan_points import RowClasses, read_classes, scan_points
from latentcore.analysis.labels.labelled import labels_table, write_labels
from latentcore.cli import main
from latentcore.data.orientations import Phase
from latentcore.errors import InputError

pytestmark = pytest.mark.timeout(300)
# the formats' precision: .ctf degrees with 4 decimals, .ang radians with 5
TOLERANCE_DEG = {"ctf": 2e-4, "ang": 2e-3}


def load(path):
    from orix import io

    return io.load(str(path))


def angles_deg(euler_a, euler_b) -> np.ndarray:
    """The rotation angle between orientations given as Bunge Euler angles (radians), without symmetry."""
    a, b = Rotation.from_euler("ZXZ", euler_a), Rotation.from_euler("ZXZ", euler_b)
    return np.rad2deg((a.inv() * b).magnitude())


@pytest.fixture(scope="module")
def points(grains_h5oina):
    return scan_points(grains_h5oina)


@pytest.fixture(scope="module")
def labels_csv(points, tmp_path_factory):
    """Labels on part of the scan, as the app's labels panel downloads them: left of x = 10 and top right."""
    left, top_right = np.flatnonzero(points.x < 10), np.flatnonzero((points.x >= 10) & (points.y < 5))
    path = tmp_path_factory.mktemp("labels") / "labels.csv"
    write_labels(path, labels_table(np.r_[left, top_right], ["left"] * len(left) + ["top right"] * len(top_right),
                                    points.x, points.y, "um"))
    return path


@pytest.mark.parametrize("ending", ["ctf", "ang"])
def test_orix_reads_back_the_orientations_and_the_classes(points, labels_csv, grains_h5oina, tmp_path, ending,
                                                          capsys):
    out = tmp_path / f"scan.{ending}"
    assert main(["export-ebsd", str(grains_h5oina), "--classes", str(labels_csv), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"wrote {out}: 12 x 15 points, 3 phases" in said and "phase 1: left" in said
    assert not list(tmp_path.glob("*.partial"))
    xmap = load(out)
    assert xmap.shape == (12, 15)
    rows, columns = points.cells
    at = rows * 15 + columns  # the file's lines are the grid's nodes, row by row
    np.testing.assert_allclose(xmap.x[at], points.x, atol=1e-4)
    np.testing.assert_allclose(xmap.y[at], points.y, atol=1e-4)
    names = {phase_id: phase.name for phase_id, phase in xmap.phases}
    classes = read_classes(labels_csv, points)
    indexed = points.orientations.phase_id >= 0
    expected = np.where(classes.codes >= 0, np.asarray(classes.names, dtype=object)[classes.codes], "unclassified")
    found = np.array([names[k] for k in xmap.phase_id[at]], dtype=object)
    np.testing.assert_array_equal(found[indexed], expected[indexed])
    assert (xmap.phase_id[at][~indexed] == -1).all() and (~indexed).sum() == 5
    assert angles_deg(points.orientations.euler[indexed], xmap.rotations.to_euler()[at][indexed]).max() \
        < TOLERANCE_DEG[ending]
    for _, phase in xmap.phases:
        if phase.name != "not_indexed":
            assert phase.point_group.proper_subgroup.name == "432"  # the scan's m-3m
            np.testing.assert_allclose(phase.structure.lattice.abcABG(), [3.524, 3.524, 3.524, 90, 90, 90])
    band_contrast = xmap.prop["BC" if ending == "ctf" else "iq"][at]
    np.testing.assert_array_equal(band_contrast, points.point_maps["Band Contrast"])
    report = json.loads(out.with_name(out.name + ".json").read_text())
    assert [p["name"] for p in report["phases"].values()] == ["left", "top right", "unclassified"]
    assert report["inputs"]["classes"]["sha256"] and report["outputs"]["file"]["name"] == out.name


def test_cluster_assignments_give_cluster_phases_and_noise_none(points, grains_h5oina, tmp_path):
    table = pd.DataFrame({"row": np.arange(len(points)), "x_um": points.x, "y_um": points.y,
                          "cluster": np.where(points.y < 9, 0, np.where(points.x < 6, 1, -1))})
    table.to_csv(tmp_path / "cluster_assignments__kmeans.csv", index=False)
    classes = read_classes(tmp_path / "cluster_assignments__kmeans.csv", points)
    assert classes.names == ["cluster 0", "cluster 1"] and classes.column == "cluster"
    report = vendor_files.export_ebsd(points, classes, tmp_path / "clusters.ctf")
    assert [p["name"] for p in report["phases"].values()] == ["cluster 0", "cluster 1", "unclassified"]
    assert report["phases"]["3"]["points"] == int(((table["cluster"] == -1) & (points.orientations.phase_id >= 0))
                                                  .sum())


def test_a_studys_cluster_assignments_give_the_scan_its_own_sources_rows(points, tmp_path):
    """A study's CSV (`source` first, each source's rows 0, 1, ...): the scan takes its own source's (named as its
    file), not the same row numbers of another scan; a study with no source of its name is refused."""
    own = Path(points.path).stem
    clusters = np.where(points.y < 9, 0, 1)
    table = pd.concat([pd.DataFrame({"source": name, "row": np.arange(len(points)), "x_um": points.x,
                                     "y_um": points.y, "cluster": values})
                       for name, values in (("other", 1 - clusters), (own, clusters), ("third", clusters * 0))])
    table.to_csv(tmp_path / "study.csv", index=False)
    classes = read_classes(tmp_path / "study.csv", points)
    np.testing.assert_array_equal(np.asarray(classes.names)[classes.codes], np.where(clusters == 0, "cluster 0",
                                                                                      "cluster 1"))
    table[table["source"] != own].to_csv(tmp_path / "others.csv", index=False)
    with pytest.raises(InputError) as refusal:
        read_classes(tmp_path / "others.csv", points)
    assert f"of the sources other, third, and none is {own!r}" in str(refusal.value)


def test_nodes_without_points_two_scan_phases_and_nm(points, tmp_path):
    """A scan in nm whose last row misses three points, with grains at y < 3 of a second (cubic) phase."""
    keep = np.arange(len(points)) < len(points) - 3
    phase_id = np.where((points.orientations.phase_id >= 0) & (points.y < 3), 2, points.orientations.phase_id)
    orientations = dataclasses.replace(points.orientations, euler=points.orientations.euler[keep],
                                       phase_id=phase_id[keep],
                                       phases={**points.orientations.phases, 2: Phase("Copper", "m-3m")})
    partial = dataclasses.replace(points, x=points.x[keep], y=points.y[keep], orientations=orientations, units="nm",
                                  point_maps={})
    codes = np.where(partial.x < 10, 0, -1)
    report = vendor_files.export_ebsd(partial, RowClasses(codes, ["left"], "label"), tmp_path / "partial.ang")
    assert [p["name"] for p in report["phases"].values()] == ["left (Nickel)", "left (Copper)",
                                                             "unclassified (Nickel)", "unclassified (Copper)"]
    assert report["nodes_without_point"] == 3 and report["grid"]["step_um"] == [0.0015, 0.0015]
    xmap = load(tmp_path / "partial.ang")
    assert xmap.size == 180 and (xmap.phase_id[-3:] == -1).all()
    np.testing.assert_allclose(xmap.x[:3], [0, 0.0015, 0.003], atol=1e-6)  # µm
    assert "IQ: not in the scan, written as its empty value" in report["notes"]
    assert any("lattice constants" in note for note in report["notes"])  # Copper's: none in the file


def test_class_names_stay_one_field(points, tmp_path):
    codes = np.where(points.x < 10, 0, -1)
    vendor_files.export_ebsd(points, RowClasses(codes, ["grain\tboundary\r\n=1"], "label"), tmp_path / "odd.ctf")
    lines = (tmp_path / "odd.ctf").read_text().splitlines()
    assert "3.5240;3.5240;3.5240\t90.0000;90.0000;90.0000\tgrain boundary =1\t11\t225" in lines
    assert len(load(tmp_path / "odd.ctf").phases.ids) == 3  # not indexed, the class, unclassified


def test_an_interrupted_export_leaves_no_file(points, tmp_path, monkeypatch):
    target = tmp_path / "scan.ctf"
    target.write_text("the earlier export\n")

    def failing(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(vendor_files, "_lines", failing)
    with pytest.raises(OSError):
        vendor_files.export_ebsd(points, RowClasses(np.zeros(len(points), np.int64), ["all"], "label"), target)
    assert target.read_text() == "the earlier export\n" and not list(tmp_path.glob("*.partial"))


def test_the_oxford_and_edax_readers_keep_the_lattice_constants(points, edax_h5):
    nickel = (3.524, 3.524, 3.524, 90.0, 90.0, 90.0)
    assert points.orientations.phases[1].lattice == nickel  # H5OINA: Å, the angles stored in radians
    assert scan_points(edax_h5).orientations.phases[1].lattice == nickel  # EDAX: Å and degrees


@pytest.mark.parametrize("ending", ["ctf", "ang"])
def test_a_two_phase_hexagonal_scan_exports_each_phase_with_its_own_lattice(ni_ti_h5ebsd, tmp_path, ending):
    """The nickel/titanium scan kikuchipy wrote (titanium's lattice stored as orix's `abcABG`), exported with two
    clusters: orix reads each class's nickel phase with nickel's lattice and its titanium phase with titanium's
    (a = b = 2.95 Å, c = 4.68 Å, gamma = 120°), the scan's Euler angles (random symmetry equivalents, as stored)
    within the format's rounding, and the scan's voltage, tilt and magnification in the header."""
    points = scan_points(ni_ti_h5ebsd)
    table = tmp_path / "cluster_assignments__kmeans.csv"
    pd.DataFrame({"row": np.arange(len(points)), "x_um": points.x, "y_um": points.y,
                  "cluster": (points.y >= 9).astype(int)}).to_csv(table, index=False)
    out = tmp_path / f"ni_ti.{ending}"
    assert main(["export-ebsd", str(ni_ti_h5ebsd), "--classes", str(table), "--out", str(out)]) == 0
    report = json.loads(out.with_name(out.name + ".json").read_text())
    assert not any("lattice constants" in note for note in report["notes"])
    xmap = load(out)
    lattices = {"Ni": [3.524, 3.524, 3.524, 90, 90, 90], "Ti": [2.95, 2.95, 4.68, 90, 90, 120]}
    groups = {"Ni": "432", "Ti": "622"}
    found = {}
    for _, phase in xmap.phases:
        if phase.name != "not_indexed":
            scan_phase = phase.name.split("(")[-1].rstrip(")")  # `cluster 0 (Ti)`
            np.testing.assert_allclose(phase.structure.lattice.abcABG(), lattices[scan_phase], atol=1e-9)
            assert phase.point_group.proper_subgroup.name == groups[scan_phase]
            found[phase.name] = scan_phase
    assert sorted(found) == ["cluster 0 (Ni)", "cluster 0 (Ti)", "cluster 1 (Ni)", "cluster 1 (Ti)"]
    rows, columns = points.cells
    at = rows * 20 + columns
    indexed = points.orientations.phase_id >= 0
    names = {phase_id: phase.name for phase_id, phase in xmap.phases}
    exported_phase = np.array([names[k] for k in xmap.phase_id[at]], dtype=object)
    scan_names = {1: "Ni", 2: "Ti"}
    assert [found[name] for name in exported_phase[indexed]] == [scan_names[k] for k in
                                                                 points.orientations.phase_id[indexed]]
    assert angles_deg(points.orientations.euler[indexed], xmap.rotations.to_euler()[at][indexed]).max() \
        < TOLERANCE_DEG[ending]
    header = out.read_text().split("\n#\n# OPERATOR" if ending == "ang" else "Phase\tX\tY", 1)[0]
    if ending == "ctf":
        assert "\tMag\t500.0000\t" in header and "\tKV\t20.0000\tTiltAngle\t70.0000\tTiltAxis\t0.0000" in header
        assert "header TiltAxis: not in the scan, written as 0" in report["notes"]
    else:
        assert "# WorkingDistance       15.000000\n" in header
    assert report["acquisition"] == {"voltage_kv": 20.0, "tilt_deg": 70.0, "magnification": 500.0,
                                     "working_distance_mm": 15.0}


def test_the_ctf_header_carries_the_h5oinas_beam_voltage_and_tilt(grains_h5oina, tmp_path):
    """An H5OINA that records 20 kV, a 70° tilt about the y-axis and x1,000 (radians for angles, as H5OINA stores
    them) gives them to the .ctf's header, where AZtecCrystal reads them; orix reads the file as before."""
    import shutil

    import h5py

    scan = shutil.copy(grains_h5oina, tmp_path / "grains.h5oina")
    with h5py.File(scan, "r+") as f:
        header = f["1/EBSD/Header"]
        header["Beam Voltage"] = np.array([20.0], np.float32)
        header["Tilt Angle"] = np.array([np.deg2rad(70.0)], np.float32)
        header["Tilt Axis"] = np.array([np.pi / 2], np.float32)
        header["Magnification"] = np.array([1000.0], np.float32)
    points = scan_points(scan)
    report = vendor_files.export_ebsd(points, RowClasses(np.zeros(len(points), np.int64), ["all"], "label"),
                                      tmp_path / "grains.ctf")
    lines = (tmp_path / "grains.ctf").read_text().splitlines()
    assert lines[11] == ("Euler angles refer to Sample Coordinate system (CS0)!\tMag\t1000.0000\tCoverage\t100\t"
                         "Device\t0\tKV\t20.0000\tTiltAngle\t70.0000\tTiltAxis\t90.0000")
    assert not any(note.startswith("header") for note in report["notes"])
    assert load(tmp_path / "grains.ctf").size == 180


def test_the_latents_of_the_scan_export_the_same_file(ni_ti_h5ebsd, tmp_path):
    """The app exports from a latents file, which keeps the scan's orientations, phases (their lattices) and
    microscope settings: its .ctf is the scan's, byte for byte."""
    from latentcore.analysis.ebsd.scan_points import latents_points
    from latentcore.demo import DEMO_MODEL
    from latentcore.latents import read_latents
    from latentcore.outputs import latents_path_for

    assert main(["extract", str(ni_ti_h5ebsd), "--model", str(DEMO_MODEL), "--out", str(tmp_path), "--device",
                 "cpu"]) == 0
    from_latents = latents_points(read_latents(latents_path_for(ni_ti_h5ebsd, tmp_path, model="demo-vae")))
    points = scan_points(ni_ti_h5ebsd)
    assert from_latents.orientations.acquisition == points.orientations.acquisition
    assert from_latents.orientations.phases[2].lattice == (2.95, 2.95, 4.68, 90.0, 90.0, 120.0)
    classes = RowClasses(np.zeros(len(points), np.int64), ["all"], "label")
    vendor_files.export_ebsd(points, classes, tmp_path / "scan.ctf")
    vendor_files.export_ebsd(from_latents, classes, tmp_path / "latents.ctf")
    assert (tmp_path / "latents.ctf").read_bytes() == (tmp_path / "scan.ctf").read_bytes()
