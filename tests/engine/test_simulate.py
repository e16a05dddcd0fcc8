"""latentcore.demo.simulate: deterministic simulated scans with ground truth, in the h5ebsd and H5OINA layouts
the readers take."""
import numpy as np
import pytest

from latentcore.data import open_source
from latentcore.errors import InputError
from latentcore.demo.simulate import (ScanSettings, grain_boundaries, simulate_scan, write_h5ebsd, write_h5oina,
                                      write_truth_csv)

SMALL = ScanSettings(n_rows=8, n_columns=10, pattern_size=24, n_grains=4, bad_fraction=0.05, seed=5)


@pytest.fixture(scope="module")
def scan():
    return simulate_scan(SMALL)


def test_same_settings_same_scan_other_seed_other_scan(scan):
    again = simulate_scan(SMALL)
    np.testing.assert_array_equal(scan.patterns, again.patterns)
    np.testing.assert_array_equal(scan.grain_id, again.grain_id)
    other = simulate_scan(ScanSettings(**{**SMALL.__dict__, "seed": 6}))
    assert not np.array_equal(scan.patterns, other.patterns)


def test_the_truth_matches_the_recipe(scan):
    assert scan.patterns.shape == (80, 24, 24) and scan.patterns.dtype == np.uint8
    assert sorted(np.unique(scan.grain_id)) == [0, 1, 2, 3]
    assert scan.is_bad.sum() == 4  # 5 % of 80
    grains = scan.grain_id.reshape(8, 10)
    boundary, _ = grain_boundaries(grains)
    np.testing.assert_array_equal(scan.is_boundary, boundary)
    inside = ~scan.is_boundary & ~scan.is_bad
    # the bands make patterns of one grain alike: background-corrected interior patterns correlate more
    # within a grain than across grains
    corrected = (scan.patterns.astype(float) - scan.static_background).reshape(80, -1)
    corr = np.corrcoef(corrected[inside])
    same = scan.grain_id[inside][:, None] == scan.grain_id[inside][None, :]
    assert corr[same & ~np.eye(len(corr), dtype=bool)].mean() > corr[~same].mean() + 0.1


def test_written_files_read_back_with_the_grid_and_truth(scan, tmp_path):
    h5ebsd = open_source(write_h5ebsd(scan, tmp_path / "sim.h5"))
    oxford = open_source(write_h5oina(scan, tmp_path / "sim.h5oina"))
    assert (h5ebsd.info().format, oxford.info().format) == ("h5ebsd", "oxford")
    for reader in (h5ebsd, oxford):
        assert reader.info().grid_shape == (8, 10) and reader.info().step == (SMALL.step, SMALL.step)
        np.testing.assert_allclose(np.stack(reader.coordinates()), np.stack([scan.x, scan.y]))
    np.testing.assert_array_equal(h5ebsd.read("all", 0, 80)[:, 0], scan.patterns)
    processed = oxford.read("all", 0, 80)[:, 0].reshape(80, -1)
    assert (processed.min(1) == 0).all() and (processed.max(1) == 255).all()  # background-corrected, stretched
    np.testing.assert_array_equal(oxford.scan_maps()["Band Contrast"], scan.band_contrast)
    truth = write_truth_csv(scan, tmp_path / "truth.csv").read_text().splitlines()
    assert truth[0] == "x,y,grain_id,is_boundary,is_bad" and len(truth) == 81


def test_settings_out_of_range_are_refused_saying_what_is_allowed():
    with pytest.raises(InputError, match="a scan must have at least 2 x 2 points"):
        ScanSettings(n_rows=1)
    with pytest.raises(InputError, match=r"n_grains must lie in \[1, 4\], got 5"):
        ScanSettings(n_rows=2, n_columns=2, n_grains=5)
