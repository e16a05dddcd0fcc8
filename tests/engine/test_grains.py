"""Grains as objects (latentcore.analysis.ebsd.grains, `python -m latentcore grains`): the mean orientation respects
the crystal symmetry (points given as random symmetry equivalents average to the grain's orientation, where a plain
quaternion mean does not), GOS agrees with orix's symmetry-reduced angles (test-only), sizes and KAM are those of the
reference maps, an inhomogeneous grain's latents rank it first, the majority class is found; the command writes its
CSV and report and refuses bad input in one line."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from cli_lines import refused
from latentcore.analysis.ebsd import orientation as ori
from latentcore.analysis.ebsd.grains import bunge_radians, grain_table, mean_orientations
from latentcore.analysis.ebsd.scan_points import RowClasses, ScanPoints, scan_points
from latentcore.analysis.ebsd.scan_references import scan_references
from latentcore.analysis.labels.labelled import labels_table, write_labels
from latentcore.analysis.maps import Grid
from latentcore.cli import main
from latentcore.data.orientations import Phase, ScanOrientations
from latentcore.demo import DEMO_MODEL
from latentcore.outputs import latents_path_for

pytestmark = pytest.mark.timeout(300)


def two_grain_points(seed=0, spread_deg=1.0, symmetrised=True) -> tuple[ScanPoints, Rotation]:
    """A 10 x 12 cubic scan of two grains (left and right half), each a known orientation with `spread_deg` of
    noise per point; with `symmetrised`, every point stored as a random one of its 24 symmetry equivalents."""
    rng = np.random.default_rng(seed)
    n_rows, n_columns = 10, 12
    rows, columns = np.divmod(np.arange(n_rows * n_columns), n_columns)
    grain = (columns >= n_columns // 2).astype(int)
    truth = Rotation.random(2, random_state=seed)  # sample to crystal
    noise = Rotation.from_rotvec(rng.normal(0, np.deg2rad(spread_deg) / np.sqrt(3), (len(grain), 3)))
    point = noise * truth[grain]
    if symmetrised:
        point = ori.proper_rotations("m-3m")[rng.integers(24, size=len(grain))] * point
    euler = np.mod(point.inv().as_euler("ZXZ"), 2 * np.pi)
    orientations = ScanOrientations(euler, np.ones(len(grain), np.int64), {1: Phase("Nickel", "m-3m")}, "test")
    x, y = 1.5 * columns.astype(float), 1.5 * rows.astype(float)
    return ScanPoints(x, y, Grid.from_coordinates(x, y), "um", orientations, {}, "two_grains.h5"), truth


def test_the_mean_orientation_respects_the_symmetry_and_gos_agrees_with_orix():
    from orix.quaternion import Orientation
    from orix.quaternion.symmetry import Oh

    points, truth = two_grain_points()
    found = grain_table(points).table.sort_values("grain")
    mean = np.deg2rad(found[["phi1_deg", "Phi_deg", "phi2_deg"]].to_numpy())
    truth_euler = np.mod(truth.inv().as_euler("ZXZ"), 2 * np.pi)
    assert np.rad2deg(ori.misorientation_angles(mean, truth_euler, "m-3m")).max() < 0.3
    # a plain quaternion mean of the symmetrised points (no symmetry) lands far from the grains' orientations
    q = ori.sample_to_crystal(points.orientations.euler).as_quat()
    grain = (points.x >= 9).astype(int)
    plain = np.stack([q[grain == g].mean(0) for g in (0, 1)])
    plain_euler = bunge_radians(plain / np.linalg.norm(plain, axis=1, keepdims=True))
    assert np.rad2deg(ori.misorientation_angles(plain_euler, truth_euler, "m-3m")).min() > 5
    # GOS: the mean of orix's symmetry-reduced angles of each point to the grain's mean
    orientations = Orientation.from_euler(points.orientations.euler, Oh)
    expected = [np.rad2deg(orientations[grain == g].angle_with(Orientation.from_euler(mean[g], Oh))).mean()
                for g in (0, 1)]
    np.testing.assert_allclose(found["gos_deg"], expected, atol=1e-6)
    assert 0.5 < min(expected) and max(expected) < 2  # about the noise added, 1 degree


def test_mean_orientations_are_those_of_unsymmetrised_points_when_given_symmetrised():
    points, _ = two_grain_points(seed=3, symmetrised=False)
    twisted, _ = two_grain_points(seed=3, symmetrised=True)
    grain, phase = (points.x >= 9).astype(int), points.orientations.phase_id
    plain = bunge_radians(mean_orientations(points.orientations.euler, grain, phase, {1: "m-3m"})[0])
    symmetrised = bunge_radians(mean_orientations(twisted.orientations.euler, grain, phase, {1: "m-3m"})[0])
    assert np.rad2deg(ori.misorientation_angles(plain, symmetrised, "m-3m")).max() < 1e-6


def test_sizes_and_kam_are_the_reference_maps_and_the_table_is_ranked_by_latent_spread(grains_h5oina):
    points = scan_points(grains_h5oina)
    refs = scan_references(grains_h5oina, patterns=False)
    rows, columns = refs.grid.indices(points.x, points.y)
    grain_map, kam_map = refs.maps["grains"][rows, columns], refs.maps["kam"][rows, columns]
    rng = np.random.default_rng(0)
    latents = np.eye(4)[np.maximum(grain_map, 0) % 4] + rng.normal(0, 0.01, (len(points), 4))
    inhomogeneous = grain_map == 1
    latents[inhomogeneous] += rng.normal(0, 1.0, (inhomogeneous.sum(), 4))  # sub-grains, deformation
    latents[~refs.maps["indexed"][rows, columns]] = np.nan
    found = grain_table(points, latents)
    table = found.table
    assert table["grain"].iloc[0] == 1 and table["latent_spread"].is_monotonic_decreasing
    assert found.parameters["ranked_by"] == "latent_spread"
    by_id = table.set_index("grain").sort_index()
    ids, sizes, areas = refs.grains()
    np.testing.assert_array_equal(by_id["points"], sizes)
    np.testing.assert_allclose(by_id["area_um2"], areas)
    np.testing.assert_allclose(by_id["ecd_um"], 2 * np.sqrt(areas / np.pi))
    np.testing.assert_array_equal(found.grain_of_row, grain_map)
    expected_kam = [np.nanmean(kam_map[grain_map == g]) for g in ids]
    np.testing.assert_allclose(by_id["kam_deg"], expected_kam)
    one = grain_map == 2  # the spread and mean of one grain, by hand
    mean = latents[one].mean(0)
    assert by_id.loc[2, "latent_spread"] == pytest.approx(np.linalg.norm(latents[one] - mean, axis=1).mean())
    np.testing.assert_allclose(by_id.loc[2, [f"latent_{d}" for d in range(4)]].to_numpy(float), mean)
    assert by_id.loc[2, "latent_norm"] == pytest.approx(np.linalg.norm(mean))
    np.testing.assert_allclose(by_id[["centroid_x_um", "centroid_y_um"]].loc[2],
                               [points.x[one].mean(), points.y[one].mean()])


def test_each_grain_gets_the_class_most_of_it_has(grains_h5oina):
    points = scan_points(grains_h5oina)
    grain_map = grain_table(points).grain_of_row
    codes = np.where(grain_map == 0, 1, np.where(grain_map >= 0, 0, -1))
    codes[np.flatnonzero(grain_map == 0)[:3]] = 0  # three points of grain 0 in the other class
    table = grain_table(points, classes=RowClasses(codes, ["matrix", "twin"], "label")).table.set_index("grain")
    assert table.loc[0, "label"] == "twin" and (table.drop(index=0)["label"] == "matrix").all()
    assert table.loc[0, "class_fraction"] == pytest.approx(1 - 3 / (grain_map == 0).sum())


@pytest.fixture(scope="module")
def latents_of_grains(grains_h5oina, tmp_path_factory):
    out = tmp_path_factory.mktemp("grains_latents")
    assert main(["extract", str(grains_h5oina), "--model", str(DEMO_MODEL), "--out", str(out), "--device", "cpu"]) == 0
    return latents_path_for(grains_h5oina, out, model="demo-vae")


def test_the_command_writes_the_table_and_its_report(grains_h5oina, latents_of_grains, tmp_path, capsys):
    points = scan_points(grains_h5oina)
    labels = tmp_path / "labels.csv"
    left = np.flatnonzero(points.x < 10)
    write_labels(labels, labels_table(left, ["left"] * len(left), points.x, points.y, "um"))
    out = tmp_path / "grains"
    assert main(["grains", str(grains_h5oina), "--latents", str(latents_of_grains), "--classes", str(labels),
                 "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "grains in 175 indexed points (boundaries above 5°), ranked by latent spread" in said
    table = pd.read_csv(out / "grains__grains.csv")
    assert list(table.columns[:12]) == ["grain", "points", "area_um2", "ecd_um", "centroid_x_um", "centroid_y_um",
                                        "phase", "phi1_deg", "Phi_deg", "phi2_deg", "gos_deg", "kam_deg"]
    assert {"label", "class_fraction", "latent_spread", "latent_norm", "latent_11"} <= set(table.columns)
    assert table["latent_spread"].is_monotonic_decreasing and table["points"].sum() == 175
    report = json.loads((out / "grains_report__grains.json").read_text())
    assert report["kind"] == "grains" and report["n_grains"] == len(table)
    assert set(report["inputs"]) == {"scan", "latents", "classes"}
    assert all(len(record["sha256"]) == 64 for record in report["inputs"].values())
    assert report["parameters"]["boundary_deg"] == 5.0 and "numpy" in report["versions"]
    assert any("mean orientation" in note for note in report["notes"])


def test_bad_inputs_are_refused_in_one_line(grains_h5oina, latents_of_grains, ebsd_h5, tmp_path, capsys):
    refused(["grains", ebsd_h5, "--out", tmp_path], capsys, "holds no orientations")
    refused(["export-ebsd", ebsd_h5, "--classes", tmp_path / "none.csv", "--out", tmp_path / "a.ctf"], capsys,
            "holds no orientations")
    other = tmp_path / "other.csv"  # the labels of another scan: none of its coordinates is a pixel here
    pd.DataFrame({"x_um": [500.0, 501.5], "y_um": [0.0, 0.0], "label": ["a", "b"]}).to_csv(other, index=False)
    for command in (["grains", grains_h5oina, "--classes", other, "--out", tmp_path],
                    ["export-ebsd", grains_h5oina, "--classes", other, "--out", tmp_path / "a.ang"]):
        refused(command, capsys, "for another scan")
    no_class = tmp_path / "no_class.csv"
    pd.DataFrame({"x_um": [0.0], "y_um": [0.0], "value": [1]}).to_csv(no_class, index=False)
    refused(["grains", grains_h5oina, "--classes", no_class, "--out", tmp_path], capsys, "`cluster` column")
    demo_latents = tmp_path / "demo"
    assert main(["extract", str(ebsd_h5), "--model", str(DEMO_MODEL), "--out", str(demo_latents), "--device",
                 "cpu"]) == 0
    bigger = latents_path_for(ebsd_h5, demo_latents, model="demo-vae")  # 40 x 60 pixels: most beyond this scan
    refused(["grains", grains_h5oina, "--latents", bigger, "--out", tmp_path], capsys, "not of this scan")
    refused(["export-ebsd", grains_h5oina, "--classes", other, "--out", tmp_path / "a.txt"], capsys, ".ctf")
    assert not list(tmp_path.glob("grains__*")) and not list(tmp_path.glob("a.*"))


def test_the_csv_gives_areas_as_the_decimals_they_are(tmp_path):
    """At 0.7 µm steps a grain's area is its points times 0.49 µm², a decimal of two places, which float arithmetic
    on the step found from the coordinates misses in its last digits (29.39999999999994 for 60 points, as
    127.88999999999845 for 261). The CSV gives every area as that decimal, every measurement to 10 significant
    digits, the ids and counts as integers."""
    from decimal import Decimal

    from latentcore.analysis.ebsd.grains import write_grains

    points, _ = two_grain_points()
    points.x, points.y = points.x / 1.5 * 0.7, points.y / 1.5 * 0.7
    points.grid = Grid.from_coordinates(points.x, points.y)
    assert points.grid.step_x * points.grid.step_y != 0.49  # the step, from the coordinates, is not 0.7 exactly
    paths = write_grains(grain_table(points), tmp_path, "steps", {})
    table = pd.read_csv(paths["table"], dtype=str)
    assert table["points"].tolist() == ["60", "60"] and table["grain"].tolist() == ["0", "1"]
    assert [Decimal(cell) for cell in table["area_um2"]] == [Decimal(60) * Decimal("0.49")] * 2  # "29.4"
    for name in ("ecd_um", "centroid_x_um", "centroid_y_um", "phi1_deg", "gos_deg", "kam_deg"):
        digits = [len(cell.replace("-", "").replace(".", "").lstrip("0")) for cell in table[name]]
        assert max(digits) <= 10, (name, table[name].tolist())
