"""Reference maps over an ROI and the grain boundaries as lines (latentcore.analysis.maps `roi_grid`,
`crop_to_roi`, `edge_segments`; latentcore.analysis.ebsd.orientation `boundary_edges`): a reference map is
cropped exactly as the latent maps are (same grid, same pixels, NaN outside), and the boundary segments lie on
the edges between pixels misoriented by more than the angle, and nowhere else."""
import numpy as np
import pytest

from latentcore.analysis.ebsd import orientation as ori
from latentcore.analysis.ebsd.scan_references import load_npz, references_names, scan_references, write_npz
from latentcore.analysis.maps import Grid, Roi, crop_to_roi, edge_segments, spatial_maps
from latentcore.data import open_source
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5oina
from latentcore.figures.reference_figures import add_boundary_lines

ROWS, COLUMNS, STEP = 20, 28, 1.5


@pytest.fixture(scope="module")
def scan():
    return simulate_scan(ScanSettings(n_rows=ROWS, n_columns=COLUMNS, pattern_size=16, n_grains=5, seed=4))


@pytest.fixture(scope="module")
def scan_file(scan, tmp_path_factory):
    return write_h5oina(scan, tmp_path_factory.mktemp("roi_refs") / "grains.h5oina")


@pytest.fixture(scope="module")
def refs(scan_file):
    path = scan_file
    with open_source(path) as reader:
        x, y = reader.coordinates("all")
    return scan_references(path, patterns=False), np.asarray(x), np.asarray(y)


def unit_edges(xs, ys, grid):
    """The segments (x, y with NaN between them) as the set of unit pixel edges they cover:
    ("right", r, c) between (r, c) and (r, c + 1), ("down", r, c) between (r, c) and (r + 1, c).
    Every end must sit on a pixel corner."""
    found = set()
    for x0, x1, gap_x, y0, y1, gap_y in zip(xs[0::3], xs[1::3], xs[2::3], ys[0::3], ys[1::3], ys[2::3]):
        assert np.isnan(gap_x) and np.isnan(gap_y)
        c0, c1 = (x0 - grid.x0) / grid.step_x + 0.5, (x1 - grid.x0) / grid.step_x + 0.5  # corner indices
        r0, r1 = (y0 - grid.y0) / grid.step_y + 0.5, (y1 - grid.y0) / grid.step_y + 0.5
        corners = np.array([c0, c1, r0, r1])
        np.testing.assert_allclose(corners, np.rint(corners), atol=1e-9)  # on the pixels' corners
        c0, c1, r0, r1 = (int(v) for v in np.rint(corners))
        if c0 == c1:  # vertical: between columns c0 - 1 and c0
            found.update(("right", r, c0 - 1) for r in range(min(r0, r1), max(r0, r1)))
        else:
            assert r0 == r1
            found.update(("down", r0 - 1, c) for c in range(min(c0, c1), max(c0, c1)))
    return found


def test_a_reference_map_is_cropped_exactly_as_the_latent_maps(refs):
    full, x, y = refs
    rng = np.random.default_rng(0)
    kept = np.sort(rng.choice(len(x), len(x) - 25, replace=False))  # latents of some pixels only: holes
    x, y = x[kept], y[kept]
    latents = rng.normal(size=(len(x), 3)).astype(np.float32)
    for roi in (Roi(5, 30.2, 4, 22), Roi(-3, 100, -3, 100), None):  # off-grid bounds, all of it, no ROI
        maps, grid, _ = spatial_maps(latents, x, y, [0, 2], roi=roi)
        cropped, cropped_grid = crop_to_roi(full.maps, full.grid, x, y, roi)
        assert cropped_grid == grid  # the same extent in µm and the same pixels
        for name in ("grains", "ipf_z", "boundaries"):
            assert cropped[name].shape[:2] == grid.shape
        np.testing.assert_array_equal(np.isnan(cropped["grains"]), np.isnan(maps[0]))  # NaN exactly where they are
        inside = roi.mask(x, y) if roi else np.ones(len(x), bool)
        rows, columns = grid.indices(x[inside], y[inside])
        at_points = full.point_values(x[inside], y[inside])
        np.testing.assert_array_equal(cropped["kam"][rows, columns], at_points["kam"])
        np.testing.assert_array_equal(cropped["ipf_z"][rows, columns, 2], at_points["ipf_z[b]"])
        assert cropped["boundaries"].dtype == bool and not cropped["boundaries"][np.isnan(maps[0])].any()
    roi = Roi(5, 30.2, 4, 22)
    _, grid, _ = spatial_maps(latents, x, y, [0], roi=roi)
    assert (grid.x0, grid.y0) == (6.0, 4.5) and grid.x_values[-1] == 30.0 and grid.y_values[-1] == 21.0


def test_cropped_maps_download_with_their_roi(refs, tmp_path):
    full, x, y = refs
    roi = Roi(5, 30.2, 4, 22)
    maps, grid = crop_to_roi(full.maps, full.grid, x, y, roi)
    names = references_names(roi)
    assert names["npz"] == "references__roi5-30.2_4-22.npz"
    assert names["figure"].format(name="ipf_z") == "references_ipf_z__roi5-30.2_4-22.png"
    assert references_names()["npz"] == "references.npz"
    path = write_npz(maps, grid, "um", tmp_path / names["npz"], roi)
    with np.load(path) as npz:
        np.testing.assert_array_equal(npz["roi"], [5, 30.2, 4, 22])
    loaded, loaded_grid, units, loaded_roi = load_npz(path)
    assert loaded_grid == grid and units == "um" and set(loaded) == set(maps) and loaded_roi == roi


def test_references_roi_writes_the_crop_the_app_shows_and_rank_reads_it_nan_outside(refs, scan_file, tmp_path):
    """`references --roi` crops as the Latent maps page does (`crop_to_roi` over the scan's points), names its
    files by the ROI, and a rank against that NPZ gets NaN outside the ROI rather than an off-grid error."""
    from latentcore.analysis.references import npz_references
    from latentcore.cli import main

    full, x, y = refs
    roi = Roi(5, 30.2, 4, 22)
    out = tmp_path / "refs"
    assert main(["references", str(scan_file), "--out", str(out), "--no-patterns", "--no-figures",
                 "--roi", "5,30.2,4,22"]) == 0
    written = out / references_names(roi)["npz"]
    maps, grid, _, recorded = load_npz(written)
    expected, expected_grid = crop_to_roi(full.maps, full.grid, x, y, roi)
    assert grid == expected_grid and recorded == roi
    np.testing.assert_array_equal(maps["boundaries"], expected["boundaries"])
    np.testing.assert_allclose(maps["ipf_z"], expected["ipf_z"])
    at_points = npz_references(written, "ipf_z", x, y)["ipf_z[r]"]
    inside = roi.mask(x, y)
    assert 0 < inside.sum() < len(x) and np.isnan(at_points[~inside]).all()
    np.testing.assert_allclose(at_points[inside], full.point_values(x[inside], y[inside])["ipf_z[r]"])  # NaN: unindexed


def test_boundary_edges_flag_exactly_the_pairs_beyond_the_angle():
    euler = np.zeros((4, 5, 3))
    euler[:, 3:, 0] = np.deg2rad(10)  # columns 3-4 turned 10 degrees about z: a boundary at 5
    euler[1, 1, 0] = np.deg2rad(3)  # one pixel 3 degrees off: no boundary at 5
    phase = np.zeros((4, 5), np.int64)
    phase[3, 0] = -1  # not indexed: never on a boundary
    right, down = ori.boundary_edges(euler, phase, {0: "m-3m"}, 5.0)
    expected_right = np.zeros((4, 5), bool)
    expected_right[:, 2] = True
    np.testing.assert_array_equal(right, expected_right)
    assert not down.any()
    right, down = ori.boundary_edges(euler, phase, {0: "m-3m"}, 2.0)  # now the 3-degree pixel is a grain
    assert right[1, 0] and right[1, 1] and down[0, 1] and down[1, 1] and right.sum() == 6 and down.sum() == 2
    np.testing.assert_array_equal(ori.boundary_map(euler, phase, {0: "m-3m"}, 5.0), np.isin(np.arange(5), [2, 3])[None]
                                  .repeat(4, 0))


def test_boundary_segments_lie_on_the_edges_between_grains_and_nowhere_else(refs, scan):
    full, x, y = refs
    grains = scan.grain_id.reshape(ROWS, COLUMNS)
    indexed = ~scan.is_bad.reshape(ROWS, COLUMNS)
    misorientation = {}  # the grains' mean orientations are far apart: a grain change is a boundary at 5 degrees
    for a, b in {(int(p), int(q)) for p, q in zip(grains[:, :-1].ravel(), grains[:, 1:].ravel()) if p != q}:
        ea, eb = scan.euler[scan.grain_id == a][:1], scan.euler[scan.grain_id == b][:1]
        misorientation[a, b] = np.rad2deg(ori.misorientation_angles(ea, eb, "m-3m"))[0]
    assert min(misorientation.values()) > 10
    truth = {("right", r, c) for r in range(ROWS) for c in range(COLUMNS - 1)
             if grains[r, c] != grains[r, c + 1] and indexed[r, c] and indexed[r, c + 1]}
    truth |= {("down", r, c) for r in range(ROWS - 1) for c in range(COLUMNS)
              if grains[r, c] != grains[r + 1, c] and indexed[r, c] and indexed[r + 1, c]}
    xs, ys = edge_segments(full.edges["right"], full.edges["down"], full.grid)
    assert len(truth) > 40 and unit_edges(xs, ys, full.grid) == truth
    assert len(xs) // 3 < len(truth)  # edges in a line join into one segment

    roi = Roi(5, 30.2, 4, 22)  # over an ROI: the crop's edges, none on the ROI's border
    edges, grid = crop_to_roi(full.edges, full.grid, x, y, roi)
    row0, column0 = full.grid.indices([grid.x0], [grid.y0])
    shifted = {(kind, r - int(row0[0]), c - int(column0[0])) for kind, r, c in truth}
    inside = {(kind, r, c) for kind, r, c in shifted  # edges facing outside the ROI's grid are not drawn
              if 0 <= r < grid.n_rows - (kind == "down") and 0 <= c < grid.n_columns - (kind == "right")}
    assert unit_edges(*edge_segments(edges["right"], edges["down"], grid), grid) == inside


def test_boundary_lines_are_one_thin_line_trace_with_gaps():
    import plotly.graph_objects as go

    fig = add_boundary_lines(go.Figure(), np.array([0.5, 0.5, np.nan]), np.array([-0.5, 2.5, np.nan]))
    black = fig.data[-1]
    assert black.type == "scatter" and black.mode == "lines" and black.line.width <= 1.5
    assert list(black.x) == [0.5, 0.5, None] and black.hoverinfo == "skip"
    no_edges = np.zeros((2, 2), bool)
    assert edge_segments(no_edges, no_edges, Grid(0.0, 0.0, 1.0, 1.0, 2, 2))[0].size == 0


@pytest.mark.parametrize("stride", [1, 2])
def test_many_boundary_segments_are_one_image_whose_lines_lie_on_the_pixels_edges(monkeypatch, stride):
    """Above LINE_IMAGE_SEGMENTS, the lines are a layout image over the map: two image pixels per pixel shown,
    each edge black on the image pixels either side of it, the rest transparent, laid on the grid's outer edges."""
    import base64
    import io

    import plotly.graph_objects as go
    from PIL import Image

    from latentcore.figures import reference_figures as rf

    rows, columns = 12, 10
    grains = np.random.default_rng(2).integers(0, 3, (rows, columns))
    right, down = np.zeros((rows, columns), bool), np.zeros((rows, columns), bool)
    right[:, :-1], down[:-1] = grains[:, 1:] != grains[:, :-1], grains[1:] != grains[:-1]
    grid = Grid(3.0, -2.0, 1.5, 1.5, rows, columns)
    lines = edge_segments(right, down, grid)
    monkeypatch.setattr(rf, "LINE_IMAGE_SEGMENTS", 0)
    fig = add_boundary_lines(go.Figure(), *lines, grid=grid, stride=stride)
    assert not fig.data and len(fig.layout.images) == 1
    image = fig.layout.images[0]
    assert (image.x, image.y, image.xref, image.yref) == (2.25, -2.75, "x", "y") and image.layer == "above"
    assert (image.sizex, image.sizey) == (15.0, 18.0)
    drawn = np.asarray(Image.open(io.BytesIO(base64.b64decode(image.source.split(",")[1])))) == 1
    k = 2 // stride  # image pixels per map pixel; a map pixel r spans image rows k r to k (r + 1) - 1
    expected = np.zeros((rows * k, columns * k), bool)
    for r, c in zip(*np.nonzero(right[:, :-1])):  # the edge at column c + 1: the image columns either side of it
        expected[k * r:k * (r + 1), k * (c + 1) - 1:k * (c + 1) + 1] = True
    for r, c in zip(*np.nonzero(down[:-1])):
        expected[k * (r + 1) - 1:k * (r + 1) + 1, k * c:k * (c + 1)] = True
    assert drawn.shape == expected.shape and np.array_equal(drawn, expected)
    monkeypatch.setattr(rf, "LINE_IMAGE_SEGMENTS", len(lines[0]) // 3)  # not above: the lines themselves
    assert add_boundary_lines(go.Figure(), *lines, grid=grid, stride=stride).data[0].type == "scatter"


def test_a_references_npz_with_a_broken_roi_record_is_refused_naming_it(refs, tmp_path):
    from latentcore.errors import InputError

    full, _, _ = refs
    path = write_npz(full.maps, full.grid, "um", tmp_path / "references.npz")
    for roi, refusal in (([1.0, 2.0], "array 'roi' has shape \\(2,\\)"), ([0, np.nan, 0, 1], "ROI x1 must be a finite "),
                         ([5.0, 1.0, 0, 1], "ROI ranges must be increasing")):
        with np.load(path) as written:
            np.savez(path, **{**written, "roi": np.asarray(roi)})
        with pytest.raises(InputError, match=refusal) as refused:
            load_npz(path)
        assert "references.npz" in str(refused.value)
