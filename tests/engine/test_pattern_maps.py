"""Maps from the patterns (latentcore.analysis.ebsd.pattern_maps) against kikuchipy 0.13.1, the GPL-3.0 reference
used only here: VBSE tile images, image quality and average neighbour dot product within 1e-5 (relative)."""
import warnings

import numpy as np
import pytest

from latentcore.analysis.ebsd.pattern_maps import pattern_maps, tile_edges, vbse_rgb
from latentcore.data import open_source
from latentcore.demo.simulate import ScanSettings, simulate_scan

kp = pytest.importorskip("kikuchipy")


@pytest.fixture(scope="module")
def scan_file(tmp_path_factory):
    """A small simulated scan written by kikuchipy itself (its h5ebsd layout)."""
    scan = simulate_scan(ScanSettings(n_rows=7, n_columns=9, pattern_size=40, n_grains=3, seed=4))
    path = tmp_path_factory.mktemp("pm") / "scan.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal = kp.signals.EBSD(scan.patterns.reshape(7, 9, 40, 40))
        signal.static_background = scan.static_background
        signal.save(path)
    return path


def relative_error(found, expected):
    return np.max(np.abs(found - expected) / np.abs(expected))


def test_vbse_iq_and_adp_match_kikuchipy(scan_file):
    with open_source(scan_file) as reader:
        maps = pattern_maps(reader, vbse_grid=(5, 5), batch_size=10)  # batches cut grid rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signal = kp.load(scan_file)
        iq = signal.get_image_quality(show_progressbar=False).reshape(-1)
        adp = signal.get_average_neighbour_dot_product_map(show_progressbar=False).reshape(-1)
        imager = kp.imaging.VirtualBSEImager(signal)
        imager.grid_shape = (5, 5)
        tiles = imager.get_images_from_grid().data.reshape(5, 5, -1)
    assert relative_error(maps.iq, iq) < 1e-5
    assert relative_error(maps.adp, adp) < 1e-5
    assert relative_error(maps.vbse, tiles) < 1e-5


def test_the_rgb_image_stretches_three_tiles_and_edges_cover_the_detector():
    vbse = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4) ** 2
    rgb = vbse_rgb(vbse)  # default: the lowest row's three tiles
    assert rgb.shape == (4, 3)
    np.testing.assert_allclose(rgb.min(0), 0)
    np.testing.assert_allclose(rgb.max(0), 1)
    edges = tile_edges(61, 5)
    assert edges[0] == 0 and edges[-1] == 61 and np.all(np.diff(edges) >= 12)


def test_a_scan_that_fills_part_of_its_grid_has_neighbours_only_where_points_are(scan_file):
    with open_source(scan_file) as reader:
        full = pattern_maps(reader, batch_size=64)

        class FirstRowsOnly:  # the first 14 points, placed on the first two rows with a gap
            def info(self):
                return reader.info()

            def count(self, partition):
                return 14

            def iter_batches(self, partition, batch_size):
                yield reader.read("all", 0, 14), np.arange(14)

        nodes = np.r_[0:9, 10:15]  # row 1 lacks its first point
        part = pattern_maps(FirstRowsOnly(), grid_nodes=nodes)
    assert np.isfinite(part.adp).all()
    # point 0's neighbours: 1 (right) only, its lower neighbour (node 9) is missing
    with open_source(scan_file) as reader:
        p = reader.read("all", 0, 2).reshape(2, -1).astype(float)
    p -= p.mean(1, keepdims=True)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    assert part.adp[0] == pytest.approx(p[0] @ p[1])
    np.testing.assert_allclose(part.iq, full.iq[:14])
