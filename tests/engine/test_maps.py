"""Spatial maps, ROI and band-contrast masks on the real simulated scan (40 x 60, step 1.5 um)."""
import numpy as np
import pandas as pd
import pytest

from latentcore import figures
from latentcore.analysis.maps import (Grid, Roi, bandcontrast_histogram, export_kept, kept_mask, parse_dims, roi_tag,
                                      placed_rows, slice_to_roi, spatial_maps, values_at, values_map, values_on)
from latentcore.data import align_to_coordinates, read_bandcontrast
from latentcore.errors import InputError


@pytest.fixture(scope="module")
def scan(truth_csv, bandcontrast_csv):
    """Per-pixel "latents" whose maps we know: grain id, band contrast, the row index."""
    truth = pd.read_csv(truth_csv)
    bc = pd.read_csv(bandcontrast_csv)
    latents = np.column_stack([truth["grain_id"], bc["bandcontrast"], np.arange(len(bc))]).astype(np.float32)
    return latents, bc["x"].to_numpy(), bc["y"].to_numpy(), truth


def test_maps_put_each_pixel_at_its_coordinates_whatever_the_row_order(scan):
    latents, x, y, truth = scan
    maps, grid, dims = spatial_maps(latents, x, y)
    assert maps.shape == (3, 40, 60) and maps.dtype == np.float32 and dims == [0, 1, 2]
    assert grid.step_x == pytest.approx(1.5) and grid.step_y == pytest.approx(1.5)
    np.testing.assert_array_equal(maps[0], truth["grain_id"].to_numpy().reshape(40, 60))
    np.testing.assert_array_equal(maps[2], np.arange(2400).reshape(40, 60))  # row-major scan order
    shuffled = np.random.default_rng(0).permutation(len(x))
    again, _, _ = spatial_maps(latents[shuffled], x[shuffled], y[shuffled])
    np.testing.assert_array_equal(again, maps)


def test_missing_pixels_are_nan_and_dims_choose_maps(scan):
    latents, x, y, _ = scan
    full, grid, _ = spatial_maps(latents, x, y)
    keep = np.ones(len(x), bool)
    keep[[0, 61, 2399]] = False
    maps, _, dims = spatial_maps(latents[keep], x[keep], y[keep], dims=[1], grid=grid)
    assert dims == [1] and maps.shape == (1, 40, 60)
    assert np.isnan(maps[0]).sum() == 3
    assert np.isnan(maps[0, 0, 0]) and np.isnan(maps[0, 1, 1]) and np.isnan(maps[0, 39, 59])
    np.testing.assert_array_equal(maps[0][~np.isnan(maps[0])], full[1][~np.isnan(maps[0])])


def test_roi_is_inclusive_and_maps_the_roi_extent(scan):
    latents, x, y, _ = scan
    full, _, _ = spatial_maps(latents, x, y)
    roi = Roi(0, 30, 0, 20)  # x 0..30 -> 21 columns, y 0..19.5 -> 14 rows
    maps, grid, _ = spatial_maps(latents, x, y, roi=roi)
    assert maps.shape == (3, 14, 21)
    assert grid.x_values[-1] == pytest.approx(30.0)
    np.testing.assert_array_equal(maps, full[:, :14, :21])
    assert roi_tag(roi) == roi_tag(Roi.parse("0,30.0,0,20")) == "roi0-30_0-20" and roi_tag(None) == "full"


def test_a_scans_latents_infer_their_grid_once_for_maps_references_and_points(scan, monkeypatch):
    """`scan_grid`: the maps, the reference maps and the scan points of one `Latents` share one inference, the
    grid of an ROI's latents being the whole scan's (its grid shape)."""
    from latentcore.analysis import maps as maps_module
    from latentcore.analysis.artifacts.latent_maps import MapsJob, latent_maps
    from latentcore.analysis.ebsd.scan_references import latents_references
    from latentcore.latents import Latents

    latents, x, y, _ = scan
    inside = Roi(15, 45, 6, 30).mask(x, y)
    lat = Latents("roi_latents.h5", {"all": latents[inside]}, {}, x[inside], y[inside], (40, 60))
    inferred, infer = [], Grid.from_coordinates
    monkeypatch.setattr(Grid, "from_coordinates", lambda *args: inferred.append(1) or infer(*args))
    found = latent_maps(MapsJob("roi_latents.h5", dims=(0,)), lat)
    assert latents_references(lat).grid is found.grid is maps_module.scan_grid(lat) and len(inferred) == 1
    assert found.grid == infer(x[inside], y[inside], (40, 60)) and found.grid.shape == (40, 60)


def test_a_scans_rows_are_placed_once_for_every_set_of_maps_of_one_latents(scan):
    """`grid_cells`: the latent maps of other dimensions (and the pages' map panels on the same grid) share one
    placement of the rows, the one `placed_rows` finds."""
    from latentcore.analysis.artifacts.latent_maps import MapsJob, latent_maps
    from latentcore.analysis.maps import grid_cells, scan_grid
    from latentcore.latents import Latents

    latents, x, y, _ = scan
    order = np.random.default_rng(1).permutation(len(x))  # rows out of the scan's order: every pixel checked
    lat = Latents("scan_latents.h5", {"all": latents[order]}, {}, x[order], y[order], (40, 60))
    first, second = (latent_maps(MapsJob("scan_latents.h5", dims=dims), lat) for dims in ((0,), (1, 2)))
    assert all(a is b for a, b in zip(first.cells, second.cells))
    assert grid_cells(lat, Grid.from_coordinates(x, y)) is first.cells  # the bounding grid is the scan's here
    for found, placed in zip(first.cells, placed_rows(x[order], y[order], scan_grid(lat))[2]):
        np.testing.assert_array_equal(found, placed)
    np.testing.assert_array_equal(second.maps[0], latents[:, 1].reshape(40, 60))


def test_roi_latents_on_the_whole_scan_grid(scan):
    """Latents extracted from an ROI, drawn on the full scan grid (grid_shape) with NaN around."""
    latents, x, y, _ = scan
    inside = Roi(15, 45, 6, 30).mask(x, y)
    grid = Grid.from_coordinates(x[inside], y[inside], grid_shape=(40, 60))
    assert grid.shape == (40, 60)
    maps, _, _ = spatial_maps(latents[inside], x[inside], y[inside], grid=grid)
    assert np.isfinite(maps[0]).sum() == inside.sum()
    assert np.isfinite(maps[0, 4, 10]) and np.isnan(maps[0, 0, 0])


def test_a_million_pixel_grid_is_filled_pixel_for_pixel():
    rows, columns = np.divmod(np.arange(1_000_000), 1000)
    latents = np.random.default_rng(1).normal(size=(1_000_000, 4)).astype(np.float32)
    maps, grid, _ = spatial_maps(latents, columns * 0.5, rows * 0.5)
    assert grid.shape == (1000, 1000)
    np.testing.assert_array_equal(maps[3].ravel(), latents[:, 3])


def test_maps_and_colour_codes_made_in_blocks_equal_those_made_at_once(scan, monkeypatch):
    """Blocks that end mid-row, rows out of order and an ROI: each pixel where one vectorised step puts it, and the
    first coordinate off the grid named, though it lies in a later block."""
    import latentcore.analysis.maps as maps_module
    import latentcore.data._checks as data_checks
    import latentcore.figures.colours as colours

    latents, x, y, _ = scan
    shuffled = np.random.default_rng(2).permutation(len(x))
    latents, x, y = latents[shuffled], x[shuffled], y[shuffled]
    monkeypatch.setattr(maps_module, "MAPS_BLOCK", 7)
    monkeypatch.setattr(maps_module, "INDEX_BLOCK", 5)
    monkeypatch.setattr(data_checks, "UNIQUE_BLOCK", 9)  # the grid's step from each block's distinct coordinates
    roi = Roi(15, 45, 6, 30)
    maps, grid, _ = spatial_maps(latents, x, y, dims=[2, 0], roi=roi)
    inside = roi.mask(x, y)
    expected = np.full((2, *grid.shape), np.nan, np.float32)
    expected[:, np.rint((y[inside] - 6) / 1.5).astype(int), np.rint((x[inside] - 15) / 1.5).astype(int)] = \
        latents[inside][:, [2, 0]].T
    np.testing.assert_array_equal(maps, expected)
    off = x.copy()
    off[[13, 40]] += 0.7
    with pytest.raises(InputError, match=f"2 coordinates are off the 40x60 grid .*first: x={off[13]:g}"):
        spatial_maps(latents, off, y, grid=Grid.from_coordinates(x, y))
    whole, grid, _ = spatial_maps(latents, x, y)
    cells = grid.indices(x, y)
    np.testing.assert_array_equal(values_at(whole[0], cells), latents[:, 0])  # shuffled: gathered
    order = np.argsort(cells[0] * 60 + cells[1])
    in_place = values_at(whole[0], (cells[0][order], cells[1][order]))  # every pixel in order: the map itself
    assert np.shares_memory(in_place, whole) and np.array_equal(in_place, latents[order, 0])
    in_order = np.arange(10) * 1.5
    in_order[5] = in_order[4]  # the last row of one block on the first of the next
    with pytest.raises(InputError, match="1 pixels share their coordinates"):
        spatial_maps(latents[:10], in_order, np.zeros(10))

    values = np.r_[latents[:, 1], np.nan, np.inf, -np.inf]
    monkeypatch.setattr(colours, "CODES_BLOCK", 6)
    codes = figures.continuous_codes(values, 80.0, 200.0)
    finite = np.isfinite(values)
    assert (codes[~finite] == figures.COLOUR_STEPS + 1).all()
    np.testing.assert_array_equal(codes[finite], np.rint(np.clip((values[finite] - 80) / 120, 0, 1) * 254))


def test_values_of_rows_already_placed_are_the_values_map(scan):
    """`values_on` puts values at the cells `placed_rows` found (the Rank page's reference beside its maps, a
    clustering's codes beside its cells): the map `values_map` makes, placing the rows again, with and without an ROI,
    whatever the rows' order."""
    latents, x, y, _ = scan
    shuffled = np.random.default_rng(3).permutation(len(x))
    values, x, y = latents[shuffled, 1].astype(np.float64), x[shuffled], y[shuffled]
    values[::5] = np.nan
    for roi in (None, Roi(15, 45, 6, 30)):
        keep, grid, cells = placed_rows(x, y, None, roi)
        kept = slice(None) if keep is None else keep
        placed = values_on(values[kept], grid, cells)
        again = values_map(values[kept], x[kept], y[kept], grid)
        assert placed.dtype == again.dtype == np.float32 and np.isnan(placed).sum() > 0
        np.testing.assert_array_equal(placed, again)


def test_bad_coordinates_and_dims_are_clear_errors(scan):
    latents, x, y, _ = scan
    with pytest.raises(InputError, match="off the"):
        spatial_maps(latents, x + np.r_[0.7, np.zeros(len(x) - 1)], y)
    with pytest.raises(InputError, match="share their coordinates"):
        spatial_maps(latents[:3], np.array([0, 0, 1.5]), np.array([0, 0, 0.0]))
    with pytest.raises(InputError, match="out of range"):
        spatial_maps(latents, x, y, dims=[3])
    with pytest.raises(InputError, match="x has 2399 values but the latents have 2400"):
        spatial_maps(latents, x[:-1], y)
    with pytest.raises(InputError, match="holds no pixel"):
        spatial_maps(latents, x, y, roi=Roi(1000, 2000, 0, 1))
    with pytest.raises(InputError, match="four numbers"):
        Roi.parse("1,2,3")
    assert Roi.parse("0, 30, 0, 20") == Roi(0, 30, 0, 20)
    assert parse_dims("0,3,5-7", 8) == [0, 3, 5, 6, 7]
    with pytest.raises(InputError, match="out of range"):
        parse_dims("6-9", 8)


@pytest.mark.parametrize("x, y, said", [
    ([0, 7.5], [0, 0], "1 coordinates are off the 4x5 grid (step 1.5, 1.5); first: x=7.5, y=0"),  # past the edge
    ([0, 0], [-1.5, 0], "first: x=0, y=-1.5"), ([0.8, 0], [0, 0], "first: x=0.8, y=0"),  # before it; between two
    ([0, np.nan, np.inf], [0, 0, 0], "2 coordinates are off the 4x5 grid (step 1.5, 1.5); first: x=nan"),
])
def test_a_grid_places_each_coordinate_on_its_pixel_and_names_the_first_it_cannot(x, y, said):
    grid = Grid(0.0, 0.0, 1.5, 1.5, 4, 5)
    rows, columns = grid.indices(np.array([0, 1.5, 6.0 + 1e-9, 3.1]), np.array([4.5, 3.0, 0.0, 1.5 - 1e-9]))
    assert rows.tolist() == [3, 2, 0, 1] and columns.tolist() == [0, 1, 4, 2] and rows.dtype == np.int64
    assert [part.tolist() for part in grid.indices(np.array([]), np.array([]))] == [[], []]
    with pytest.raises(InputError) as refused:
        grid.indices(np.array(x, float), np.array(y, float))
    assert said in str(refused.value)


def test_bandcontrast_threshold_roi_mask_and_export(bandcontrast_csv, tmp_path):
    table = read_bandcontrast(bandcontrast_csv)
    bc, x, y = table["bandcontrast"].to_numpy(), table["x"].to_numpy(), table["y"].to_numpy()
    counts, edges = bandcontrast_histogram(bc, bins=16)
    np.testing.assert_array_equal(counts, np.histogram(bc, bins=16)[0])
    mask = kept_mask(bc, x, y, threshold=150)
    assert mask.sum() == (bc >= 150).sum() and 2300 < mask.sum() < 2400  # the 72 bad points go
    roi = Roi(0, 30, 0, 20)
    both = kept_mask(bc, x, y, threshold=150, roi=roi)
    np.testing.assert_array_equal(both, (bc >= 150) & roi.mask(x, y))
    np.testing.assert_array_equal(kept_mask(bc, threshold=150, keep="below"), bc <= 150)

    csv = export_kept(tmp_path / "kept.csv", x, y, both, bc)
    kept = pd.read_csv(csv)
    assert list(kept.columns) == ["x_um", "y_um", "bandcontrast"] and len(kept) == both.sum()
    np.testing.assert_allclose(kept[["x_um", "y_um"]].to_numpy(), np.column_stack([x, y])[both])
    npy = np.load(export_kept(tmp_path / "kept.npy", x, y, both))
    np.testing.assert_allclose(npy, np.column_stack([x, y])[both])
    with pytest.raises(InputError, match=".csv or .npy"):
        export_kept(tmp_path / "kept.txt", x, y, both)
    assert not list(tmp_path.glob("*.partial"))


def test_roi_slice_of_full_field_table_gives_exactly_the_roi_latent_rows(bandcontrast_csv, scan):
    latents, x, y, _ = scan
    roi = Roi(0, 30, 0, 20)
    inside = roi.mask(x, y)
    table = read_bandcontrast(bandcontrast_csv)
    sliced = slice_to_roi(table, roi, expected_rows=int(inside.sum()))
    aligned = align_to_coordinates(sliced, x[inside], y[inside])
    np.testing.assert_array_equal(aligned, latents[inside, 1])  # column 1 is the band contrast itself
    with pytest.raises(InputError, match=r"selects 294 rows .* have 280 rows"):
        slice_to_roi(table, roi, expected_rows=280)


def test_values_map_matches_reshape(bandcontrast_csv):
    table = read_bandcontrast(bandcontrast_csv)
    grid = Grid.from_coordinates(table["x"], table["y"])
    image = values_map(table["bandcontrast"].to_numpy(), table["x"], table["y"], grid)
    np.testing.assert_array_equal(image, table["bandcontrast"].to_numpy().reshape(40, 60))
