"""latentcore.data.preprocess: static and dynamic background correction and neighbour averaging, checked
against scipy on real (simulated) scan files, streamed in blocks of grid rows."""
import numpy as np
import pytest
from scipy import ndimage

import latentcore.data.preprocess as preprocess
from latentcore.data import open_source
from latentcore.data.preprocess import Preprocessing, iter_preprocessed, static_background_origin, window_weights
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd, write_h5oina
from latentcore.errors import InputError

SMALL = ScanSettings(n_rows=9, n_columns=7, pattern_size=20, n_grains=3, seed=2)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    scan = simulate_scan(SMALL)
    folder = tmp_path_factory.mktemp("scans")
    return scan, write_h5ebsd(scan, folder / "sim.h5"), write_h5oina(scan, folder / "sim.h5oina")


def everything(path, preprocessing, allowed=None):
    with open_source(path) as reader:
        parts = list(iter_preprocessed(reader, "all", preprocessing, 16, allowed))
    return np.concatenate([p for p, _ in parts]), np.concatenate([r for _, r in parts])


def test_backgrounds_stored_static_then_gaussian_dynamic(files):
    scan, h5ebsd, _ = files
    raw = scan.patterns.astype(np.float32)[:, None]
    prepared, rows = everything(h5ebsd, {"static_background": "subtract", "dynamic_background": "subtract",
                                         "dynamic_sigma": 2.0})
    static = raw - scan.static_background.astype(np.float32)  # the file's stored background
    expected = static - ndimage.gaussian_filter(static, sigma=(0, 0, 2, 2), truncate=4.0)
    np.testing.assert_allclose(prepared, expected, atol=1e-3)
    np.testing.assert_array_equal(rows, np.arange(63))


def test_without_a_stored_background_the_scan_mean_is_used(files):
    _, _, oxford = files
    with open_source(oxford) as reader:
        raw = reader.read("all", 0, 63)
        assert static_background_origin(reader, Preprocessing(static_background="divide")) == "scan mean"
    divided, _ = everything(oxford, {"static_background": "divide"})
    np.testing.assert_allclose(divided, raw / raw.mean(0), rtol=1e-5)


@pytest.mark.parametrize("window", ["circular", "gaussian"])
def test_neighbour_averaging_streamed_by_rows_equals_the_whole_scan_at_once(files, window, monkeypatch):
    scan, h5ebsd, _ = files
    monkeypatch.setattr(preprocess, "BLOCK_BYTES", 4 * 7 * 400 * 4)  # 4 grid rows a read: 2 blocks + halo
    options = Preprocessing(neighbour_window=window, neighbour_size=3, neighbour_sigma=0.8)
    allowed = np.arange(5, 60, 3)
    averaged, rows = everything(h5ebsd, options, allowed)
    grid = scan.patterns.astype(np.float64).reshape(9, 7, 20, 20)
    weights = window_weights(options).astype(np.float64)
    sums = ndimage.correlate(grid, weights[:, :, None, None], mode="constant")
    norms = ndimage.correlate(np.ones((9, 7)), weights, mode="constant")  # edges: only neighbours that exist
    expected = (sums / norms[:, :, None, None]).reshape(63, 1, 20, 20)
    np.testing.assert_array_equal(rows, allowed)
    np.testing.assert_allclose(averaged, expected[allowed], rtol=1e-5)


def test_bad_options_and_sources_without_a_grid_are_refused(tmp_path):
    with pytest.raises(InputError, match="neighbour_size must be an odd number"):
        Preprocessing(neighbour_window="gaussian", neighbour_size=4)
    with pytest.raises(InputError, match="static_background must be None or one of"):
        Preprocessing(static_background="median")
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"im{i}.npy", np.full((8, 8), i, np.float32))
    with open_source(folder) as reader, pytest.raises(InputError, match="needs patterns on a scan grid"):
        list(iter_preprocessed(reader, reader.partitions[0], {"neighbour_window": "circular"}))
