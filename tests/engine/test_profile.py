"""A line profile (latentcore/analysis/profile.py): the pixels a line passes through, checked against a pixel-by-pixel
clip of the segment, and the profile `python -m latentcore profile` writes for a simulated H5OINA scan with
orientations, checked against a direct computation (orix's misorientation angles, test-only; the scan's own band
contrast; the latents file's rows)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.maps import Grid
from latentcore.analysis.profile import Line, line_cells, line_profile, rows_along
from latentcore.cli import main
from latentcore.demo import DEMO_MODEL
from latentcore.errors import InputError
from latentcore.latents import read_latents
from latentcore.outputs import latents_path_for

GRID = Grid(10.0, -4.0, 1.5, 2.0, 9, 13)  # pixel (r, c) centred at (10 + 1.5 c, -4 + 2 r)


def clipped(line: Line, grid: Grid, row: int, column: int) -> tuple[float, float]:
    """The part (t from, t to) of the segment inside one pixel's rectangle (Liang-Barsky); to < from when none."""
    x0, x1 = grid.x0 + (column - 0.5) * grid.step_x, grid.x0 + (column + 0.5) * grid.step_x
    y0, y1 = grid.y0 + (row - 0.5) * grid.step_y, grid.y0 + (row + 0.5) * grid.step_y
    low, high = 0.0, 1.0
    for start, delta, edge_low, edge_high in ((line.x0, line.x1 - line.x0, x0, x1),
                                              (line.y0, line.y1 - line.y0, y0, y1)):
        if delta == 0:
            if not edge_low <= start <= edge_high:
                return 1.0, 0.0
            continue
        a, b = sorted(((edge_low - start) / delta, (edge_high - start) / delta))
        low, high = max(low, a), min(high, b)
    return low, high


def crossed(line: Line, grid: Grid, sliver: float = 1e-9) -> tuple[list, list]:
    """Every pixel the segment runs through for more than `sliver` of its length, in order along it; and those it
    only grazes (corners, slivers), which a rule may take or leave."""
    inside, grazed = [], []
    for row in range(grid.n_rows):
        for column in range(grid.n_columns):
            low, high = clipped(line, grid, row, column)
            if high - low > sliver:
                inside.append((low, (row, column)))
            elif high >= low:
                grazed.append((row, column))
    return [cell for _, cell in sorted(inside)], grazed


def cells(line: Line, grid: Grid = GRID) -> list:
    return list(zip(*(a.tolist() for a in line_cells(line, grid))))


def test_a_line_holds_every_pixel_it_runs_through_in_order_and_no_other():
    rng = np.random.default_rng(4)
    for _ in range(300):
        x0, x1 = rng.uniform(5, 35, 2)  # ends inside and outside the grid (x 9.25..28.75, y -5..13)
        y0, y1 = rng.uniform(-9, 17, 2)
        line = Line(x0, y0, x1, y1)
        got, (expected, grazed) = cells(line), crossed(line, GRID)
        assert [c for c in got if c not in grazed] == expected, line
        assert all(abs(a[0] - b[0]) <= 1 and abs(a[1] - b[1]) <= 1 for a, b in zip(got, got[1:]))  # a path
        back = cells(Line(x1, y1, x0, y0))
        assert [c for c in back if c not in grazed] == expected[::-1]  # drawn the other way: reversed


def test_corners_edges_and_degenerate_lines():
    # a diagonal through the pixels' corners: the diagonal pixels only, not those it touches at a corner
    assert cells(Line(9.25, -5.0, 13.75, 1.0)) == [(0, 0), (1, 1), (2, 2)]
    # along the edge between rows 1 and 2 (y = -1): the row above the edge by the floor, u in [k, k+1)
    assert cells(Line(10.0, -1.0, 14.5, -1.0)) == [(2, 0), (2, 1), (2, 2), (2, 3)]
    assert cells(Line(14.5, -1.0, 10.0, -1.0)) == [(2, 3), (2, 2), (2, 1), (2, 0)]
    assert cells(Line(13.0, 2.0, 13.0, 2.0)) == [(3, 2)]  # no length: its point's pixel
    assert cells(Line(0.0, 0.0, 5.0, 30.0)) == []  # beside the grid
    assert cells(Line(-1e300, 0.0, 1e300, 0.0)) == []  # too far out for float64 arithmetic: none, at once
    assert cells(Line(0.0, -1e308, 20.0, 1e308)) == []
    assert cells(Line(0.0, 0.0, 100.0, 0.0)) == [(2, c) for c in range(13)]  # clipped to the grid
    with pytest.raises(InputError, match="four numbers x0,y0,x1,y1"):
        Line.parse("1,2,3")
    with pytest.raises(InputError, match="finite"):
        Line.parse("1,2,3,inf")


def test_the_rows_along_a_line_skip_pixels_without_a_row_and_the_distances_grow_from_the_first():
    grid = Grid(0.0, 0.0, 1.0, 1.0, 3, 5)
    row, column = np.divmod(np.arange(15), 5)
    keep = np.arange(15) != 7  # pixel (1, 2) has no row
    cells_of = (row[keep], column[keep])
    line = Line(0.0, 1.0, 4.0, 1.0)
    rows = rows_along(line, grid, cells_of)
    assert rows.tolist() == [5, 6, 7, 8]  # positions among the 14 rows: (1, 0), (1, 1), (1, 3), (1, 4)
    x, y = column[keep].astype(float), row[keep].astype(float)
    table = line_profile(line, grid, cells_of, x, y, units="um", bandcontrast=np.arange(14.0),
                         latents=np.arange(28.0).reshape(14, 2), dims=[1])
    assert list(table.columns) == ["row", "x_um", "y_um", "distance_um", "bandcontrast", "latent_1"]
    assert table["distance_um"].tolist() == [0, 1, 3, 4] and table["bandcontrast"].tolist() == [5, 6, 7, 8]
    assert table["latent_1"].tolist() == [11, 13, 15, 17]
    slanted = line_profile(Line(0.0, 0.0, 4.0, 2.0), grid, cells_of, x, y)
    assert np.all(np.diff(slanted["distance_um"]) >= 0) and slanted["distance_um"].iloc[0] == 0


@pytest.fixture(scope="module")
def profiled(tmp_path_factory, grains_h5oina):
    """The simulated H5OINA scan's latents (the demo VAE) and the profile command's files for a line across it."""
    out = tmp_path_factory.mktemp("profile")
    assert main(["extract", str(grains_h5oina), "--model", str(DEMO_MODEL), "--out", str(out), "--device", "cpu"]) == 0
    latents = latents_path_for(grains_h5oina, out, model="demo-vae")
    assert main(["profile", str(latents), "--line", "0.7,1,20.3,15.9", "--dims", "1,4", "--out", str(out / "p")]) == 0
    return latents, out / "p"


def orix_angles(euler_a, euler_b) -> np.ndarray:
    """Misorientation angles (degrees) of cubic orientations by orix (test-only)."""
    from orix.quaternion import Orientation
    from orix.quaternion.symmetry import Oh

    a, b = Orientation.from_euler(euler_a, Oh), Orientation.from_euler(euler_b, Oh)
    return np.degrees(a.angle_with(b))


def test_the_profile_command_writes_the_values_along_the_line(profiled, grains_h5oina):
    from latentcore.data import open_source

    latents_path, out = profiled
    stem = "line_profile__from0.7_1_to20.3_15.9"
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}.csv", f"{stem}.json", f"{stem}.png"]
    table = pd.read_csv(out / f"{stem}.csv")
    assert list(table.columns) == ["row", "x_um", "y_um", "distance_um", "misorientation_to_first_deg",
                                   "misorientation_to_previous_deg", "bandcontrast", "latent_1", "latent_4"]
    lat = read_latents(latents_path)
    grid = Grid.from_coordinates(lat.x, lat.y)
    line = Line(0.7, 1.0, 20.3, 15.9)
    expected, grazed = crossed(line, grid)
    on_line = list(zip(*grid.indices(table["x_um"], table["y_um"])))
    assert [c for c in on_line if c not in grazed] == expected and len(table) == len(on_line) > 15
    rows = table["row"].to_numpy()
    assert np.array_equal(table[["x_um", "y_um"]].to_numpy(), np.column_stack([lat.x[rows], lat.y[rows]]))
    with open_source(grains_h5oina) as reader:
        scan, orientations = reader.point_maps(), reader.orientations()
    assert np.array_equal(table["bandcontrast"], scan["Band Contrast"][rows])  # the scan's own map by default
    matrix = lat.stacked()[0]
    assert np.array_equal(table[["latent_1", "latent_4"]].to_numpy(), matrix[rows][:, [1, 4]].astype(np.float64))
    indexed = orientations.phase_id[rows] >= 0
    assert indexed[0] and not indexed.all()  # the simulated scan has pixels without an orientation
    euler = orientations.euler[rows]
    to_first = np.where(indexed, orix_angles(euler[[0] * len(rows)], euler), np.nan)
    np.testing.assert_allclose(table["misorientation_to_first_deg"], to_first, atol=0.01)
    both = np.r_[False, indexed[1:] & indexed[:-1]]
    to_previous = np.where(both, np.r_[np.nan, orix_angles(euler[:-1], euler[1:])], np.nan)
    np.testing.assert_allclose(table["misorientation_to_previous_deg"], to_previous, atol=0.01)
    assert np.nanmax(table["misorientation_to_first_deg"]) > 15  # it crosses a grain boundary
    along = np.hypot(table["x_um"] - table["x_um"][0], table["y_um"] - table["y_um"][0])
    assert np.all(np.diff(table["distance_um"]) >= 0) and np.all(table["distance_um"] <= along + 1e-9)
    report = json.loads((out / f"{stem}.json").read_text())
    assert report["line"] == [0.7, 1.0, 20.3, 15.9] and report["pixels"] == len(table) and report["dims"] == [1, 4]
    assert report["inputs"]["latents"]["name"] == latents_path.name and report["outputs"]["figure"] == f"{stem}.png"


def test_a_bad_line_or_latents_without_a_scan_is_one_line(profiled, capsys, tmp_path):
    latents_path, _ = profiled
    with pytest.raises(SystemExit) as stopped:
        main(["profile", str(latents_path), "--line", "0,0,nan", "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert "--line: a line must be four numbers x0,y0,x1,y1" in capsys.readouterr().err
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros((4, 3), np.float32))
    assert main(["profile", str(flat), "--line", "0,0,1,1", "--out", str(tmp_path / "out")]) == 2
    assert "a line profile needs a scan" in capsys.readouterr().err


def test_values_that_start_with_a_minus_are_values(profiled, tmp_path):
    """`--line -3,-3,20.3,15.9` (a line from off the scan's corner) runs as `--line=-3,...` did; argparse took the
    list for an option and stopped at "expected one argument". Every command's `--roi` takes `-3,50,-3,40` alike."""
    import argparse

    from latentcore.cli import build_parser

    latents_path, _ = profiled
    assert main(["profile", str(latents_path), "--line", "-3,-3,20.3,15.9", "--dims", "1", "--no-png",
                 "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "line_profile__from-3_-3_to20.3_15.9.json").read_text())
    assert report["line"] == [-3.0, -3.0, 20.3, 15.9] and report["pixels"] > 15
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    with_roi = [name for name, command in commands.items() if "--roi" in command._option_string_actions]
    assert {"cluster", "maps", "references"} <= set(with_roi)
    for name in with_roi:
        required = {"cluster": ["--method", "kmeans"]}.get(name, [])
        action = commands[name]._option_string_actions["--roi"]
        args = commands[name].parse_args(["data.h5", *required, "--roi", "-3,50,-3,40", "--out", "o"])
        assert getattr(args, action.dest).to_json() == [-3.0, 50.0, -3.0, 40.0], name
