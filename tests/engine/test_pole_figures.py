"""A selection's orientations (latentcore.analysis.ebsd.pole_figures) against orix, the GPL-3.0 reference used only
in tests: the inverse pole figure's points are orix's crystal directions in its fundamental sector, and the pole
figures' points orix's symmetrised poles in the sample frame, both in orix's stereographic projection; the
pole figures' CSV names each pole's plane, which orix's Miller indices put at the same place (a two-phase
nickel/titanium scan kikuchipy wrote), and the report gives the same positions; the selection's phase and table;
the density's shares (`figures.pole_figures`)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.ebsd import pole_figures
from latentcore.analysis.labels.labelled import labels_table, match_labels, read_labels_table, write_labels
from latentcore.cli import main
from latentcore.data import open_source
from latentcore.errors import InputError
from latentcore.figures.pole_figures import density

orix_symmetry = pytest.importorskip("orix.quaternion.symmetry")
from orix.projections import StereographicProjection  # noqa: E402
from orix.quaternion import Orientation  # noqa: E402
from orix.vector import Vector3d  # noqa: E402

GROUPS = {"m-3m": "Oh", "6/mmm": "D6h"}
SCAN = Path(__file__).resolve().parents[1] / "data" / "ebsd" / "ni_grains_edax.h5"  # 2,400 points of nickel, m-3m


def random_euler(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, 2 * np.pi, n), np.arccos(rng.uniform(-1, 1, n)),
                            rng.uniform(0, 2 * np.pi, n)])


def orix_xy(vectors: Vector3d) -> np.ndarray:
    """orix's stereographic plane coordinates of upper-hemisphere vectors."""
    x, y = StereographicProjection().vector2xy(vectors)
    return np.column_stack([x, y])


@pytest.mark.parametrize("laue", ["m-3m", "6/mmm"])
@pytest.mark.parametrize("direction", [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
def test_inverse_pole_figure_points_are_orix_crystal_directions_in_its_sector(laue, direction):
    euler = random_euler(1000, seed=7)
    symmetry = getattr(orix_symmetry, GROUPS[laue])
    crystal = (Orientation.from_euler(euler, symmetry) * Vector3d(direction)).in_fundamental_sector(symmetry)
    np.testing.assert_allclose(pole_figures.ipf_xy(euler, laue, direction), orix_xy(crystal.unit), atol=1e-9)


@pytest.mark.parametrize("laue, family, count", [("m-3m", "{100}", 3), ("m-3m", "{111}", 4), ("6/mmm", "{0001}", 1),
                                                 ("6/mmm", "{2-1-10}", 3)])
def test_pole_figure_points_are_orix_symmetrised_poles_in_the_sample_frame(laue, family, count):
    euler = random_euler(300, seed=3)
    ours = pole_figures.pole_xy(euler, pole_figures.POLE_FAMILIES[laue][family], laue)
    assert ours.shape == (300, count, 2)  # a pole and its opposite drawn once
    symmetry = getattr(orix_symmetry, GROUPS[laue])
    poles = symmetry.outer(Vector3d(pole_figures.POLE_FAMILIES[laue][family])).unique()  # crystal directions
    sample = (~Orientation.from_euler(euler, symmetry)).outer(poles).data  # (N, P, 3) in the sample frame
    sample = np.where(sample[..., 2:3] < 0, -sample, sample)  # the upper hemisphere, as a pole figure draws it
    expected = orix_xy(Vector3d(sample.reshape(-1, 3)).unit).reshape(len(euler), -1, 2)
    for mine, theirs in zip(ours, expected):  # the same points: each of orix's poles (pairs twice) among ours
        distances = np.linalg.norm(mine[:, None] - theirs[None], axis=-1)
        assert distances.min(1).max() < 1e-9 and distances.min(0).max() < 1e-9


@pytest.fixture(scope="module")
def scan():
    with open_source(SCAN) as reader:
        return reader.orientations(), *reader.coordinates("all")


def test_a_selections_table_holds_its_rows_their_orientations_and_ipf_points(scan):
    orientations, x, y = scan
    rows = np.arange(100, 160)
    plots = pole_figures.orientation_plots(orientations, rows[::-1], "y")  # in any order: the table in row order
    found = plots.found
    assert (found.phase, found.phase_name, found.laue, found.left_out) == (1, "Nickel", "m-3m", 0)
    table = plots.table(x, y, "um")
    assert list(table.columns) == ["row", "x_um", "y_um", "phi1_deg", "Phi_deg", "phi2_deg", "ipf_plane_x",
                                   "ipf_plane_y"]
    assert table["row"].tolist() == rows.tolist()
    np.testing.assert_array_equal(table[["x_um", "y_um"]].to_numpy(), np.column_stack([x[rows], y[rows]]))
    euler = orientations.euler[rows]
    np.testing.assert_allclose(np.deg2rad(table[["phi1_deg", "Phi_deg", "phi2_deg"]].to_numpy()),
                               np.mod(euler, 2 * np.pi), atol=1e-12)
    np.testing.assert_allclose(table[["ipf_plane_x", "ipf_plane_y"]].to_numpy(),
                               pole_figures.ipf_xy(euler, "m-3m", (0, 1, 0)))
    assert len(plots.scan["ipf"]) == len(plots.scan["poles"]["{111}"]) == 2400  # beside the whole scan's
    np.testing.assert_allclose(plots.selection["poles"]["{100}"], pole_figures.pole_xy(euler, (1, 0, 0), "m-3m"))


def test_points_of_no_phase_are_left_out_and_said(grains_h5oina):
    with open_source(grains_h5oina) as reader:
        orientations = reader.orientations()
    unindexed = np.flatnonzero(orientations.phase_id < 0)
    rows = np.r_[unindexed[:3], 0:10]
    plots = pole_figures.orientation_plots(orientations, rows)
    assert len(plots.found.rows) == len(np.setdiff1d(np.arange(10), unindexed)) and plots.found.left_out == 3
    assert plots.notes()[0].startswith("3 selected points are not of phase")
    with pytest.raises(InputError, match="row ids must lie in 0..179"):
        pole_figures.orientation_plots(orientations, [180])
    with pytest.raises(InputError, match="phase 7 is not one of"):
        pole_figures.orientation_plots(orientations, rows, phase=7)
    with pytest.raises(InputError, match="sample direction must be one of x, y, z"):
        pole_figures.orientation_plots(orientations, rows, "w")


def test_the_density_is_the_share_of_the_points_per_cell():
    xy = np.array([[0.1, 0.1], [0.12, 0.11], [-0.5, 0.5], [0.9, -0.9]])
    share, x, y = density(xy, bins=4)
    assert np.nansum(share) == pytest.approx(1) and np.isnan(share).sum() == 16 - 3
    assert share[2, 2] == pytest.approx(0.5)  # rows indexed by y: the cell of (0.1, 0.1) holds two of the four
    assert share[0, 3] == pytest.approx(0.25) and x.tolist() == y.tolist() == [-0.75, -0.25, 0.25, 0.75]


def test_the_sector_outline_runs_through_its_corners():
    outline = pole_figures.sector_outline("m-3m")
    corners = {label: (x, y) for label, x, y in pole_figures.ipf_corners("m-3m")}
    assert set(corners) == {"[001]", "[101]", "[111]"} and corners["[001]"] == pytest.approx((0, 0))
    for point in corners.values():
        assert np.linalg.norm(outline - point, axis=1).min() < 1e-12
    inside = pole_figures.ipf_xy(random_euler(500), "m-3m")  # every IPF point within the outline's box
    assert (inside >= outline.min(0) - 1e-9).all() and (inside <= outline.max(0) + 1e-9).all()


def test_the_command_writes_a_labels_orientations_as_table_figure_and_report(scan, tmp_path, capsys):
    orientations, x, y = scan
    rows = np.r_[0:30, 2000:2010]
    labels = tmp_path / "labels.csv"
    write_labels(labels, labels_table(rows, ["grain A"] * 30 + ["other"] * 10, x, y, "um"))
    assert main(["orientations", str(SCAN), "--labels", str(labels), "--label", "grain A", "--direction", "x",
                 "--look", "density", "--out", str(tmp_path / "out"), "--dpi", "60"]) == 0
    stem = tmp_path / "out" / "orientations__ni_grains_edax__label_grain-A__ipf_x"
    table = pd.read_csv(stem.with_suffix(".csv"))
    assert table["row"].tolist() == list(range(30))
    np.testing.assert_allclose(table[["ipf_plane_x", "ipf_plane_y"]].to_numpy(),
                               pole_figures.ipf_xy(orientations.euler[:30], "m-3m", (1, 0, 0)))
    assert stem.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads(stem.with_suffix(".json").read_text())
    assert (report["points"], report["scan_points"], report["look"], report["phase"]["laue"]) == (30, 2400, "density",
                                                                                                   "m-3m")
    assert report["pole_families"] == {"{100}": [1, 0, 0], "{111}": [1, 1, 1]}
    assert "30 points of phase 1 (Nickel, m-3m); the scan has 2,400" in capsys.readouterr().out


def test_the_command_takes_a_cluster_of_a_table(tmp_path):
    table = tmp_path / "clusters.csv"
    pd.DataFrame({"row": [5, 6, 7, 8], "cluster": [2, 1, 2, 2]}).to_csv(table, index=False)
    assert main(["orientations", str(SCAN), "--table", str(table), "--cluster", "2", "--no-png",
                 "--out", str(tmp_path)]) == 0
    written = pd.read_csv(tmp_path / "orientations__ni_grains_edax__cluster2__ipf_z.csv")
    assert written["row"].tolist() == [5, 7, 8] and not list(tmp_path.glob("*.png"))


def test_a_studys_table_gives_the_rows_of_the_datas_own_source_or_the_one_named(scan, tmp_path, capsys):
    """A study's row ids count within each source: a scan's rows are its own source's (named as its file, or by
    --source), never the union of every source's row numbers (which, on scans of one grid, no coordinate check
    would catch); a study's table without the source is refused."""
    _, x, y = scan
    own, picked = SCAN.stem, [1, 2, 5, 6, 7, 9]
    table = tmp_path / "study_clusters.csv"
    pd.DataFrame({"source": ["p", "p", own, own, own, "r"], "row": picked, "cluster": [0, 0, 0, 1, 0, 0],
                  "x_um": x[picked], "y_um": y[picked]}).to_csv(table, index=False)

    def cluster0(*options, out="out"):
        code = main(["orientations", str(SCAN), "--table", str(table), "--cluster", "0", *options, "--no-png",
                     "--out", str(tmp_path / out)])
        written = tmp_path / out / f"orientations__{own}__cluster0__ipf_z"
        return code, (pd.read_csv(written.with_suffix(".csv"))["row"].tolist() if code == 0 else None), written

    assert cluster0()[:2] == (0, [5, 7])
    code, rows, written = cluster0("--source", "p", out="p")
    assert (code, rows) == (0, [1, 2])
    assert json.loads(written.with_suffix(".json").read_text())["inputs"]["table"]["source"] == "p"
    assert cluster0("--source", "s", out="s")[0] == 2
    assert f"the table is a study's, of the sources {own}, p, r, and none is 's'" in capsys.readouterr().err
    labels = tmp_path / "study_labels.csv"  # a labels table of a study: by coordinates, each source's own pixels
    pd.DataFrame({"source": ["p", "q"], "x_um": x[[3, 4]], "y_um": y[[3, 4]], "label": ["A", "A"]}).to_csv(
        labels, index=False)
    assert main(["orientations", str(SCAN), "--labels", str(labels), "--label", "A", "--source", "p", "--no-png",
                 "--out", str(tmp_path / "label")]) == 0
    assert pd.read_csv(tmp_path / "label" / f"orientations__{own}__label_A__ipf_z.csv")["row"].tolist() == [3]
    assert main(["orientations", str(SCAN), "--labels", str(labels), "--label", "A", "--out", str(tmp_path / "b")]) == 2
    assert f"of the sources p, q, and none is {own!r}: pick one of them (--source NAME)" in capsys.readouterr().err
    assert not (tmp_path / "s").exists() and not (tmp_path / "b").exists()
    with pytest.raises(InputError, match=r"a study's table of 2 sources \(p, q\)"):  # a one-file command's labels
        match_labels(read_labels_table(labels), len(x), x, y, labels)


def test_a_scan_without_orientations_is_one_line_naming_it(never_indexed_h5, tmp_path, capsys):
    assert main(["orientations", str(never_indexed_h5), "--rows", "0-9", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(never_indexed_h5) in error and "holds no orientations" in error
    assert main(["orientations", str(SCAN), "--rows", "0-9", "--cluster", "1", "--out", str(tmp_path)]) == 2
    assert "--cluster picks rows of a cluster table" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("phase, point_group, lattice, indices", [
    (1, "m-3m", (3.524, 3.524, 3.524, 90, 90, 90), "hkl"), (2, "6/mmm", (2.95, 2.95, 4.68, 90, 90, 120), "hkil")])
def test_the_pole_figures_csv_holds_each_points_planes_where_orix_puts_them(ni_ti_h5ebsd, tmp_path, phase,
                                                                           point_group, lattice, indices):
    """`orientations` of one phase's points of the nickel/titanium scan: the pole figures' CSV has a row per point and
    pole, whose plane (`(1 -1 1)`, Miller-Bravais `(2 -1 -1 0)` for titanium) orix's Miller indices of the phase's
    lattice turn into the same point of the sample frame's upper hemisphere, stereographic; the JSON report gives
    the same positions (to 6 decimals) and the planes of each family."""
    from diffpy.structure import Lattice, Structure
    from orix.crystal_map import Phase
    from orix.quaternion import Rotation
    from orix.vector import Miller

    assert main(["orientations", str(ni_ti_h5ebsd), "--rows", "0-239", "--phase", str(phase), "--no-png",
                 "--out", str(tmp_path)]) == 0
    stem = "ni_ti__240rows__ipf_z"
    poles = pd.read_csv(tmp_path / f"pole_figures__{stem}.csv")
    report = json.loads((tmp_path / f"orientations__{stem}.json").read_text())
    with open_source(ni_ti_h5ebsd) as reader:
        orientations = reader.orientations()
    rows = np.flatnonzero(orientations.phase_id == phase)
    per_point = sum(len(planes) for planes in report["poles"].values())  # {100}, {111}: 7; {0001}, {2-1-10}: 4
    assert list(poles.columns) == ["row", "family", "pole", "pole_plane_x", "pole_plane_y"]
    assert per_point == {1: 7, 2: 4}[phase] and poles["row"].tolist() == np.repeat(rows, per_point).tolist()
    assert poles["pole"].tolist()[:per_point] == [plane for planes in report["poles"].values() for plane in planes]
    orix_phase = Phase(point_group=point_group, structure=Structure(lattice=Lattice(*lattice)))
    planes = np.array([[int(v) for v in plane.strip("()").split()] for plane in poles["pole"]])
    normals = Miller(**{indices: planes}, phase=orix_phase).unit  # in orix's crystal frame: x along a, z along c
    sample = (~Rotation.from_euler(orientations.euler[poles["row"]]) * normals).data
    sample = np.where(sample[:, 2:3] < 0, -sample, sample)  # of a plane's two normals, the upper one
    xy = poles[["pole_plane_x", "pole_plane_y"]].to_numpy()
    np.testing.assert_allclose(xy, orix_xy(Vector3d(sample)), atol=1e-9)
    positions, table = report["positions"], pd.read_csv(tmp_path / f"orientations__{stem}.csv")
    assert positions["rows"] == rows.tolist() and not positions["sampled"]
    for name in "xy":
        np.testing.assert_allclose(positions["ipf_plane"][name], table[f"ipf_plane_{name}"], atol=1e-6)
    for family, planes in report["poles"].items():
        mine = (poles["family"] == family).to_numpy()
        for axis, name in enumerate("xy"):
            np.testing.assert_allclose(positions["poles"][family][name], xy[mine, axis].reshape(len(rows), -1),
                                       atol=1e-6)
