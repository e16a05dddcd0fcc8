"""Grains as objects (latentcore.analysis.ebsd.grains, `python -m latentcore grains`): the mean orientation respects
the crystal symmetry (points given as random symmetry equivalents average to the grain's orientation, where a plain
quaternion mean does not), GOS agrees with orix's symmetry-reduced angles (test-only), sizes and KAM are those of the
reference maps, an inhomogeneous grain's latents rank it first, the majority class is found; on a scan with a Σ3 twin
pair, one-pixel grains and bad points: the twin boundary fraction is the share of boundary orix puts within Brandon's
tolerance of Σ3 (empty for a hexagonal phase), a minimum grain size dissolves the one-pixel grains into their hosts
and filling gives each bad point its neighbours' grain, neither touching the orientation columns; the grain-size and
GOS distributions hold every grain in round bins; the command writes its CSVs, figure and report with the options and
what they changed, and refuses bad input in one line."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from cli_lines import refused
from small_files import twinned_scan
from latentcore.analysis.ebsd import orientation as ori
from latentcore.analysis.ebsd.grains import bunge_radians, grain_distributions, grain_table, mean_orientations
from latentcore.analysis.ebsd.records import GRAIN_PARAMETERS
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


def test_bad_inputs_are_refused_in_one_line(grains_h5oina, latents_of_grains, ebsd_h5, never_indexed_h5, tmp_path,
                                           capsys):
    refused(["grains", never_indexed_h5, "--out", tmp_path], capsys, "holds no orientations")
    refused(["export-ebsd", never_indexed_h5, "--classes", tmp_path / "none.csv", "--out", tmp_path / "a.ctf"], capsys,
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


# -- Σ3 twins, MTEX's reconstruction options, distributions ----------------------------------------------------

@pytest.fixture(scope="module")
def twins():
    """(scan, (parent, twin) grain ids, the one-pixel grains' rows): `small_files.twinned_scan`, 12 x 16 points."""
    return twinned_scan()


def twin_points(scan, laue="m-3m") -> ScanPoints:
    """The simulated scan's points, its bad points not indexed (as its H5OINA holds them), of one phase."""
    orientations = ScanOrientations(scan.euler, np.where(scan.is_bad, -1, 1), {1: Phase("Nickel", laue)}, "test")
    return ScanPoints(scan.x, scan.y, Grid.from_coordinates(scan.x, scan.y), "um", orientations, {}, "twins.h5")


def orix_boundary_shares(grain: np.ndarray, euler: np.ndarray, shape) -> np.ndarray:
    """Each grain's share of its edges with other grains (both pixels in a grain) that orix puts within 15°/sqrt(3)
    of 60° about [111]: orix's misorientations O_b O_a^-1 with both crystals' symmetry, their distance matrix with Σ3."""
    from orix.quaternion import Misorientation, Orientation
    from orix.quaternion import Rotation as OrixRotation
    from orix.quaternion.symmetry import Oh

    ids = grain.reshape(shape)
    index = np.arange(ids.size).reshape(shape)
    a = np.concatenate([index[:, :-1].ravel(), index[:-1].ravel()])
    b = np.concatenate([index[:, 1:].ravel(), index[1:].ravel()])
    between = (grain[a] != grain[b]) & (grain[a] >= 0) & (grain[b] >= 0)
    a, b = a[between], b[between]
    oa, ob = Orientation.from_euler(euler[a], Oh), Orientation.from_euler(euler[b], Oh)
    sigma3 = OrixRotation.from_axes_angles([1, 1, 1], 60, degrees=True)
    stacked = Misorientation(np.concatenate([(ob * ~oa).data.reshape(-1, 4), sigma3.data]), symmetry=(Oh, Oh))
    twin = np.rad2deg(stacked.get_distance_matrix(lazy=False)[-1, :-1]) <= 15 / np.sqrt(3)
    n = grain.max() + 1
    total = np.bincount(grain[a], minlength=n) + np.bincount(grain[b], minlength=n)
    return (np.bincount(grain[a], twin, minlength=n) + np.bincount(grain[b], twin, minlength=n)) / total


def test_the_twin_boundary_fraction_is_the_share_orix_puts_within_brandons_tolerance_of_sigma3(twins):
    scan, (parent, twin), _ = twins
    found = grain_table(twin_points(scan))
    by_id = found.table.set_index("grain").sort_index()
    shape = (scan.settings.n_rows, scan.settings.n_columns)
    expected = orix_boundary_shares(found.grain_of_row, scan.euler, shape)
    np.testing.assert_allclose(by_id["twin_boundary_fraction"], expected)
    pair = [found.grain_of_row[np.flatnonzero((scan.grain_id == g) & ~scan.is_bad)[0]] for g in (parent, twin)]
    assert (by_id.loc[pair, "twin_boundary_fraction"] > 0.2).all()  # the twin pair the scan was made with
    assert (by_id.drop(index=pair)["twin_boundary_fraction"] < 0.2).all()
    assert found.parameters["twin_tolerance_deg"] == pytest.approx(8.660254)
    tight = grain_table(twin_points(scan), parameters=GRAIN_PARAMETERS(twin_tolerance_deg=0.1))  # noise: 0.3° a point
    tight = tight.table.set_index("grain")
    assert tight.loc[pair, "twin_boundary_fraction"].max() < by_id.loc[pair, "twin_boundary_fraction"].min()
    hexagonal = grain_table(twin_points(scan, "6/mmm"))
    assert hexagonal.table["twin_boundary_fraction"].isna().all()
    assert any("cubic (m-3m) phases only" in note for note in hexagonal.notes)


def test_the_boundary_misorientations_are_orixs_angles_of_each_segment_binned_by_degree(twins):
    """Each grain boundary segment (an edge between 4-neighbour pixels of two grains) has orix's symmetry-reduced
    misorientation angle, and the distribution bins them by degree from 0, MTEX's plotAngleDistribution."""
    from orix.quaternion import Orientation
    from orix.quaternion.symmetry import Oh

    scan = twins[0]
    found = grain_table(twin_points(scan))
    grain, shape = found.grain_of_row, (scan.settings.n_rows, scan.settings.n_columns)
    index = np.arange(grain.size).reshape(shape)
    a = np.concatenate([index[:, :-1].ravel(), index[:-1].ravel()])
    b = np.concatenate([index[:, 1:].ravel(), index[1:].ravel()])
    between = (grain[a] != grain[b]) & (grain[a] >= 0) & (grain[b] >= 0)
    a, b = a[between], b[between]
    expected = Orientation.from_euler(scan.euler[a], Oh).angle_with(Orientation.from_euler(scan.euler[b], Oh),
                                                                     degrees=True)
    angles = found.boundaries["boundary_misorientation_deg"].to_numpy()
    np.testing.assert_allclose(np.sort(angles), np.sort(expected), atol=1e-3)
    assert (angles > 60 - 8.7).sum() > 0 and angles.min() > 5  # the twin pair's boundary; above the threshold
    bins = grain_distributions(found.table, "um", boundaries=found.boundaries)
    part = bins[bins["quantity"] == "boundary_misorientation_deg"]
    assert (part["bin_high"] - part["bin_low"] == 1).all() and part["bin_low"].iloc[0] == 0
    np.testing.assert_array_equal(part["count"], np.histogram(angles, np.arange(len(part) + 1))[0])
    assert part["fraction"].sum() == pytest.approx(1) and part["area_fraction"].isna().all()
    assert part["bin_high"].iloc[-1] == np.ceil(angles.max())


def test_a_minimum_grain_size_dissolves_one_pixel_grains_into_their_hosts_and_leaves_the_orientations(twins):
    scan, _, specks = twins
    plain = grain_table(twin_points(scan))
    kept = grain_table(twin_points(scan), parameters=GRAIN_PARAMETERS(min_grain_points=2))
    small = plain.table["points"] < 2
    assert small.sum() == len(specks) and set(plain.grain_of_row[specks]) == set(plain.table["grain"][small])
    assert kept.reconstruction == {"pixels_filled": 0, "grains_dissolved": len(specks),
                                   "pixels_reassigned": len(specks)}
    assert len(kept.table) == len(plain.table) - len(specks) and (kept.table["points"] >= 2).all()
    assert kept.parameters["min_grain_points"] == 2 and any("dissolved" in note for note in kept.notes)
    plain_by_id, kept_by_id = plain.table.set_index("grain"), kept.table.set_index("grain")
    for speck in specks:  # each speck's 4 neighbours are in its host: the speck joins it
        host = speck + 1
        assert kept.grain_of_row[speck] == kept.grain_of_row[host]
        before, after = plain_by_id.loc[plain.grain_of_row[host]], kept_by_id.loc[kept.grain_of_row[host]]
        assert after["points"] == before["points"] + np.sum(plain.grain_of_row[host] == plain.grain_of_row[specks + 1])
        np.testing.assert_allclose(after[["phi1_deg", "Phi_deg", "phi2_deg", "gos_deg", "kam_deg"]].to_numpy(float),
                                   before[["phi1_deg", "Phi_deg", "phi2_deg", "gos_deg", "kam_deg"]].to_numpy(float),
                                   atol=1e-9)  # the speck's own orientation is no part of its host's


def test_filling_gives_each_bad_point_the_grain_most_of_its_neighbours_are_in(twins):
    scan, _, _ = twins
    plain = grain_table(twin_points(scan))
    filled = grain_table(twin_points(scan), parameters=GRAIN_PARAMETERS(fill_not_indexed=True))
    bad = np.flatnonzero(scan.is_bad)
    assert filled.reconstruction == {"pixels_filled": len(bad), "grains_dissolved": 0, "pixels_reassigned": 0}
    assert (filled.grain_of_row >= 0).all() and filled.table["points"].sum() == len(scan.x)
    n_rows, n_columns = scan.settings.n_rows, scan.settings.n_columns
    checked = 0
    for row in bad:  # those with every edge neighbour indexed are filled in the first round, by the rule
        r, c = divmod(int(row), n_columns)
        around = [(r + dr) * n_columns + c + dc for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                  if 0 <= r + dr < n_rows and 0 <= c + dc < n_columns]
        if scan.is_bad[around].any():
            continue
        ids, counts = np.unique(plain.grain_of_row[around], return_counts=True)
        chosen = ids[np.argmax(counts)]  # np.unique sorts: a tie goes to the smaller id, as the rule says
        assert filled.grain_of_row[row] == filled.grain_of_row[around][plain.grain_of_row[around] == chosen][0]
        checked += 1
    assert checked >= len(bad) // 2
    plain_by_id, filled_by_id = plain.table.set_index("grain"), filled.table.set_index("grain")
    for grain in plain_by_id.index:  # the orientation columns are the indexed points' only
        same = filled.grain_of_row[np.flatnonzero(plain.grain_of_row == grain)[0]]
        np.testing.assert_allclose(filled_by_id.loc[same, ["gos_deg", "phi1_deg", "kam_deg"]].to_numpy(float),
                                   plain_by_id.loc[grain, ["gos_deg", "phi1_deg", "kam_deg"]].to_numpy(float),
                                   atol=1e-9)


def test_the_distributions_hold_every_grain_in_round_bins_with_its_share_of_the_area(twins):
    table = grain_table(twin_points(twins[0])).table
    bins = grain_distributions(table, "um")
    assert list(bins.columns) == ["quantity", "bin_low", "bin_high", "count", "fraction", "area_fraction"]
    assert list(bins["quantity"].unique()) == ["ecd_um", "gos_deg"]
    for quantity, part in bins.groupby("quantity"):
        values, area = table[quantity].to_numpy(), table["area_um2"].to_numpy()
        width = (part["bin_high"] - part["bin_low"]).to_numpy()
        assert np.allclose(width, width[0]) and len(part) <= 20 and part["bin_low"].iloc[0] == 0
        mantissa = width[0] / 10 ** np.floor(np.log10(width[0]))
        assert any(np.isclose(mantissa, m) for m in (1, 2, 2.5, 5)), width[0]
        last = len(part) - 1
        for k, (low, high) in enumerate(zip(part["bin_low"], part["bin_high"])):
            inside = (values >= low) & ((values < high) | ((k == last) & (values <= high)))
            assert part["count"].iloc[k] == inside.sum(), (quantity, low)
            assert part["area_fraction"].iloc[k] == pytest.approx(area[inside].sum() / area.sum())
        assert part["count"].sum() == len(table) and part["fraction"].sum() == pytest.approx(1)
        assert part["bin_high"].iloc[-1] >= values.max() > part["bin_low"].iloc[-1]


def test_the_command_takes_mtex_options_and_writes_the_distributions_beside_the_table(grains_h5oina, tmp_path, capsys):
    out = tmp_path / "grains"
    assert main(["grains", str(grains_h5oina), "--min-grain-points", "2", "--fill-not-indexed",
                 "--twin-tolerance-deg", "5", "--dpi", "40", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "not-indexed pixels filled from their neighbours' grains" in said and "grain_distributions__grains" in said
    points = scan_points(grains_h5oina)
    expected = grain_table(points, parameters=GRAIN_PARAMETERS(min_grain_points=2, fill_not_indexed=True,
                                                               twin_tolerance_deg=5.0))
    table = pd.read_csv(out / "grains__grains.csv")
    pd.testing.assert_frame_equal(table, expected.table, check_dtype=False)
    bins = pd.read_csv(out / "grain_distributions__grains.csv")
    pd.testing.assert_frame_equal(bins, grain_distributions(expected.table, "um", boundaries=expected.boundaries),
                                  check_dtype=False)
    assert "boundary_misorientation_deg" in set(bins["quantity"])
    figure = (out / "grain_distributions__grains.png").read_bytes()
    assert figure.startswith(b"\x89PNG") and b"pHYs" in figure  # its dpi recorded
    report = json.loads((out / "grains_report__grains.json").read_text())
    assert {k: report["parameters"][k] for k in ("min_grain_points", "fill_not_indexed", "twin_tolerance_deg")} == \
        {"min_grain_points": 2, "fill_not_indexed": True, "twin_tolerance_deg": 5.0}
    bad = int((points.orientations.phase_id < 0).sum())
    assert report["reconstruction"] == expected.reconstruction and report["reconstruction"]["pixels_filled"] == bad
    assert report["indexed_points"] == len(points) - bad and report["points_in_grains"] == len(points)
    assert sorted(report["outputs"]) == ["distributions", "figure", "table"]
    assert all(len(record["sha256"]) == 64 for record in report["outputs"].values())
    for option, value, needle in (("--min-grain-points", "-1", "--min-grain-points"),
                                  ("--min-grain-points", "2.5", "whole number"),
                                  ("--twin-tolerance-deg", "20", "--twin-tolerance-deg")):
        refused(["grains", grains_h5oina, option, value, "--out", tmp_path / "again"], capsys, needle)


@pytest.fixture(scope="module")
def study_of_scans(tmp_path_factory):
    """A study file of three simulated scans' latents that hold their scans' orientations (tests/study_scans.py)."""
    from latentcore.study import make_study, write_study
    from study_scans import scan_latents

    folder = tmp_path_factory.mktemp("grain_study")
    members = scan_latents(folder, shape=(20, 24), scans=folder / "scans")
    return write_study(make_study("three", [str(path) for path in members.values()]), folder)


def test_a_studys_grains_are_each_sources_own_table_side_by_side(study_of_scans):
    from latentcore.analysis.ebsd.grains import grain_summary, study_grains
    from latentcore.analysis.ebsd.scan_points import latents_points
    from latentcore.latents import read_latents
    from latentcore.study import read_study

    study = read_study(study_of_scans)
    found = study_grains(study)
    assert list(found.table["source"].unique()) == ["p", "q", "r"] and len(found.grain_of_row) == study.rows
    for member in study.members:  # each source's rows are the grain table of its file alone
        lat = read_latents(member.location)
        alone = grain_table(latents_points(lat), lat.stacked()[0])
        mine = found.table[found.table["source"] == member.name].drop(columns="source").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone.table)
        own = found.boundaries[found.boundaries["source"] == member.name].drop(columns="source")
        pd.testing.assert_frame_equal(own.reset_index(drop=True), alone.boundaries)
    assert len(found.table) > 3 * 4 - 1  # four simulated grains a scan, split where a boundary cuts them
    bins = grain_distributions(found.table, found.units, "source", found.boundaries)
    assert list(bins["quantity"].unique()) == ["ecd_um", "gos_deg", "boundary_misorientation_deg"]
    for quantity, part in bins.groupby("quantity"):
        edges = {source: tuple(own["bin_low"]) for source, own in part.groupby("source")}
        assert len(set(edges.values())) == 1, edges  # the same bins for every source
        for source, own in part.groupby("source"):
            frame = found.boundaries if quantity == "boundary_misorientation_deg" else found.table
            values = frame.loc[frame["source"] == source, quantity]
            expected = np.histogram(values, [*own["bin_low"], own["bin_high"].iloc[-1]])[0]
            np.testing.assert_array_equal(own["count"], expected)
            assert own["fraction"].sum() == pytest.approx(1.0)
    summary = grain_summary(found.table, found.units)
    assert list(summary["source"]) == ["p", "q", "r"]
    for row in summary.itertuples():
        own = found.table[found.table["source"] == row.source]
        assert row.grains == len(own) and row.points == own["points"].sum()
        assert row.area_weighted_mean_ecd_um == pytest.approx(float((own["ecd_um"] * own["area_um2"]).sum()
                                                                    / own["area_um2"].sum()), rel=1e-9)
        assert row.median_gos_deg == pytest.approx(float(np.median(own["gos_deg"])), rel=1e-9)


def test_the_command_on_a_study_writes_the_sources_grains_summary_and_report(study_of_scans, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["grains", str(study_of_scans), "--out", str(out), "--no-png"]) == 0
    said = capsys.readouterr().out
    assert "grains in 3 sources" in said and "area_weighted_mean_ecd_um" in said
    table = pd.read_csv(out / "grains__three.csv")
    assert list(table.columns[:2]) == ["source", "grain"] and set(table["source"]) == {"p", "q", "r"}
    bins = pd.read_csv(out / "grain_distributions__three.csv")
    assert list(bins.columns[:2]) == ["source", "quantity"] and set(bins["source"]) == {"p", "q", "r"}
    summary = pd.read_csv(out / "grain_summary__three.csv")
    assert summary["grains"].tolist() == table.groupby("source", sort=False).size().tolist()
    report = json.loads((out / "grains_report__three.json").read_text())
    assert [m["name"] for m in report["study"]["members"]] == ["p", "q", "r"]
    assert [m["name"] for m in report["inputs"]["latents"]] == [f"{n}__pca_latents.h5" for n in "pqr"]
    assert set(report["outputs"]) == {"table", "distributions", "summary"}
    refused(["grains", study_of_scans, "--latents", study_of_scans, "--out", tmp_path / "x"], capsys,
            "--latents and --classes name one scan's files")
