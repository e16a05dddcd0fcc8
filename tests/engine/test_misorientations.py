"""The misorientation-angle distribution of chosen points (latentcore.analysis.ebsd.misorientations, written by
`python -m latentcore orientations`) against orix, the GPL-3.0 reference used only in tests: Mackenzie's closed form
for cubic m-3m is the share of orix's angles between random orientations in each bin, each Laue group's largest
angle the farthest corner of orix's fundamental zone; the correlated angles of a selection of the EDAX test scan are
orix's angles between its chosen 4-neighbours, found by looping over the grid; the uncorrelated ones are every
pair's up to the sample size, and a seeded sample beyond lands within sampling error of every pair's; the command
writes the bins and the histogram, its report says how the pairs were chosen, and it leaves them out when asked."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_lines import refused
from latentcore.analysis.ebsd import misorientations as mis
from latentcore.analysis.ebsd.pole_figures import orientation_plots
from latentcore.cli import main
from latentcore.data import open_source

orix_symmetry = pytest.importorskip("orix.quaternion.symmetry")
from orix.quaternion import Orientation, OrientationRegion  # noqa: E402

pytestmark = pytest.mark.timeout(300)

SCAN = Path(__file__).resolve().parents[1] / "data" / "ebsd" / "ni_grains_edax.h5"  # 40 x 60 nickel, m-3m
GROUPS = {"m-3m": "O", "6/mmm": "D6", "4/mmm": "D4", "-3m": "D3", "mmm": "D2"}  # the proper subgroups


def orix_random(n: int, seed: int) -> Orientation:
    """n uniformly random cubic orientations (scipy's seeded quaternions in orix's scalar-first order)."""
    from scipy.spatial.transform import Rotation

    q = Rotation.random(n, random_state=seed).as_quat()
    return Orientation(q[:, [3, 0, 1, 2]], orix_symmetry.Oh)


@pytest.fixture(scope="module")
def scan():
    with open_source(SCAN) as reader:
        return reader.orientations(), *reader.coordinates("all")


def test_mackenzie_is_the_share_of_orix_random_misorientations_in_each_bin():
    angles = np.rad2deg(orix_random(300_000, 1).angle_with(orix_random(300_000, 2)))
    edges = np.append(np.arange(0, 62, 2.0), mis.max_angle_deg("m-3m"))  # 2° bins, the last to 62.8°
    expected = mis.mackenzie_frequency(edges)
    sampled = np.histogram(angles, edges)[0] / len(angles)
    assert expected.sum() == pytest.approx(1, abs=1e-9)
    assert expected.argmax() == 22  # 44-46°: the distribution's peak at 45°
    assert np.abs(sampled - expected).max() < 0.0025  # 5 standard errors of the largest bin's share
    assert mis.mackenzie_density([-1, 63, 70]).tolist() == [0, 0, 0]


@pytest.mark.parametrize("laue", list(GROUPS))
def test_the_largest_angle_is_the_farthest_corner_of_orix_fundamental_zone(laue):
    symmetry = getattr(orix_symmetry, GROUPS[laue])
    corners = OrientationRegion.from_symmetry(symmetry, symmetry).vertices()
    assert mis.max_angle_deg(laue) == pytest.approx(np.rad2deg(corners.angle.max()), abs=1e-6)
    edges = mis.bin_edges(laue)
    assert edges[0] == 0 and edges[-1] == pytest.approx(mis.max_angle_deg(laue)) and np.diff(edges).max() <= 1


def orix_neighbour_angles(orientations, x, y, rows) -> np.ndarray:
    """orix's angles (degrees) between chosen points whose pixels share an edge, by looping over the scan grid."""
    step = 1.5
    where = {(round(y[r] / step), round(x[r] / step)): r for r in rows}
    found = Orientation.from_euler(orientations.euler, orix_symmetry.Oh)
    angles = []
    for (row, column), r in where.items():
        for other in ((row, column + 1), (row + 1, column)):
            if other in where:
                angles.append(found[r].angle_with(found[where[other]])[0])
    return np.rad2deg(angles)


def test_correlated_angles_are_orix_angles_between_chosen_neighbours(scan):
    """A selection of two blocks of the scan and a scatter of single points; points not indexed among them (made
    so here: the file indexes every point) are in no pair."""
    import dataclasses

    orientations, x, y = scan
    grid_rows, grid_columns = np.divmod(np.arange(len(x)), 60)
    chosen = np.flatnonzero(((grid_rows < 12) & (grid_columns < 20)) | ((grid_rows >= 30) & (grid_columns >= 45))
                            | (np.arange(len(x)) % 37 == 0))
    phase_id = orientations.phase_id.copy()
    phase_id[[65, 2030]] = -1  # inside each block
    orientations = dataclasses.replace(orientations, phase_id=phase_id)
    plots = orientation_plots(orientations, chosen)
    found = plots.misorientations(x, y)
    expected = orix_neighbour_angles(orientations, x, y, plots.found.rows)
    assert 400 < len(expected) == found.correlated.sum()
    np.testing.assert_array_equal(found.correlated, np.histogram(expected, found.edges)[0])
    assert plots.found.left_out == 2 and not {65, 2030} & set(plots.found.rows)  # not indexed: in no pair
    table = found.table()
    assert list(table.columns) == ["angle_low_deg", "angle_high_deg", "correlated_count", "correlated_frequency",
                                   "uncorrelated_count", "uncorrelated_frequency", "mackenzie_frequency"]
    assert table["correlated_frequency"].sum() == pytest.approx(1)
    assert table["mackenzie_frequency"].sum() == pytest.approx(1)


def test_uncorrelated_angles_are_every_pair_up_to_the_sample_and_a_seeded_sample_beyond(scan):
    orientations, x, y = scan
    plots = orientation_plots(orientations, np.arange(0, 2400, 3))  # 800 points: 319,600 pairs
    points = len(plots.found.rows)
    every = plots.misorientations(x, y, pairs=400_000)
    assert not every.sampled and every.uncorrelated.sum() == every.possible == points * (points - 1) // 2
    euler = Orientation.from_euler(plots.found.euler, orix_symmetry.Oh)
    first, second = np.triu_indices(points, 1)
    exact = np.rad2deg(euler[first].angle_with(euler[second]))
    np.testing.assert_array_equal(every.uncorrelated, np.histogram(exact, every.edges)[0])
    sample = plots.misorientations(x, y, pairs=40_000, seed=3)
    assert sample.sampled and sample.uncorrelated.sum() == 40_000
    shares = lambda counts: counts / counts.sum()  # noqa: E731
    assert np.abs(shares(sample.uncorrelated) - shares(every.uncorrelated)).max() < 0.01  # well within sampling error
    again = plots.misorientations(x, y, pairs=40_000, seed=3)
    np.testing.assert_array_equal(again.uncorrelated, sample.uncorrelated)  # seeded
    record = sample.record()["uncorrelated"]
    assert (record["sampled"], record["sample_size"], record["seed"], record["possible_pairs"]) == \
        (True, 40_000, 3, 319_600)
    assert "a seeded sample of 40,000 of the 319,600 pairs (seed 3)" in sample.described()["uncorrelated"]
    assert "a seeded sample of 40,000 of the 319,600 pairs (seed 3)" in " ".join(sample.notes())


def test_the_command_writes_the_bins_and_histogram_and_leaves_them_out_when_asked(tmp_path, capsys):
    out = tmp_path / "with"
    assert main(["orientations", str(SCAN), "--rows", "0-599", "--uncorrelated-pairs", "5000", "--seed", "7",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Uncorrelated: a seeded sample of 5,000 of the 179,700 pairs (seed 7)" in printed
    tag = "ni_grains_edax__600rows__ipf_z"
    table = pd.read_csv(out / f"misorientations__{tag}.csv")
    assert table["uncorrelated_count"].sum() == 5000 and table["angle_high_deg"].iloc[-1] == pytest.approx(62.7994, 1e-5)
    assert (out / f"misorientations__{tag}.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((out / f"orientations__{tag}.json").read_text())
    angles = report["misorientations"]
    assert angles["uncorrelated"]["sample_size"] == 5000 and angles["uncorrelated"]["seed"] == 7
    assert angles["correlated"]["pairs"] == table["correlated_count"].sum() > 0
    assert report["outputs"]["angles"] == f"misorientations__{tag}.csv"
    bare = tmp_path / "without"
    assert main(["orientations", str(SCAN), "--rows", "0-599", "--no-misorientations", "--no-png", "--out",
                 str(bare)]) == 0
    assert not list(bare.glob("misorientations__*"))
    assert json.loads((bare / f"orientations__{tag}.json").read_text())["misorientations"] is None
    refused(["orientations", SCAN, "--rows", "0-9", "--uncorrelated-pairs", "0", "--out", bare], capsys,
            "--uncorrelated-pairs: must be a whole number of pairs from 1 to 10,000,000, got '0'")
