"""An NPZ from outside as reference maps (`analysis.references.uploaded_npz_references`, the Rank page's upload):
maps on the scan grid and per-row arrays at the latents' rows, a `references.npz` at its own grid, and the file
refused in one line naming it (and the array) when it is too large, not an NPZ, pickled or of the wrong shape."""
from __future__ import annotations

import numpy as np
import pytest

from latentcore.analysis.ebsd.scan_references import ScanReferences, save_npz
from latentcore.analysis.maps import Grid
from latentcore.analysis.references import uploaded_npz_references
from latentcore.errors import InputError

# a 3 x 4 scan, step 0.5, in row-major order
X, Y = (v.ravel() for v in np.meshgrid(np.arange(4) * 0.5, np.arange(3) * 0.5))


def test_grid_maps_and_per_row_arrays_are_read_at_the_latents_rows(tmp_path):
    grid_map = np.arange(12, dtype=np.float64).reshape(3, 4)
    grid_map[1, 2] = np.nan
    order = np.array([6, 0, 11, 3])  # the latents' rows need not be in grid order
    np.savez(tmp_path / "mine.npz", ramp=grid_map, per_row=np.array([1.0, np.nan, 3.0, 4.0]),
             flags=np.ones((3, 4), bool))
    found = uploaded_npz_references(tmp_path / "mine.npz", X[order], Y[order], 4, (3, 4))
    np.testing.assert_array_equal(found["ramp"], [np.nan, 0.0, 11.0, 3.0])  # row 6 is pixel (1, 2): NaN kept
    np.testing.assert_array_equal(found["per_row"], [1.0, np.nan, 3.0, 4.0])
    np.testing.assert_array_equal(found["flags"], np.ones(4))
    assert all(v.dtype == np.float64 for v in found.values())


def test_a_references_npz_is_read_on_its_own_grid(tmp_path):
    iq = np.arange(12, dtype=np.float64).reshape(3, 4)
    rgb = np.random.default_rng(0).random((3, 4, 3))
    refs = ScanReferences({"iq": iq, "vbse_rgb": rgb}, Grid(0.0, 0.0, 0.5, 0.5, 3, 4), "um", {}, {}, [], {})
    path = save_npz(refs, tmp_path / "references.npz")
    found = uploaded_npz_references(path, X, Y, 12)
    assert set(found) == {"iq", "vbse_rgb[r]", "vbse_rgb[g]", "vbse_rgb[b]"}
    np.testing.assert_array_equal(found["iq"], iq.ravel())
    np.testing.assert_array_equal(found["vbse_rgb[g]"], rgb[..., 1].ravel())


@pytest.mark.parametrize("arrays, said", [
    ({"bad": np.zeros((2, 5))}, "array 'bad' has shape (2, 5): give a map of the scan grid (3, 4)"),
    ({"short": np.zeros(11)}, "array 'short' has shape (11,)"),
    ({"words": np.array(["a"] * 12)}, "array 'words' is of type <U1, not numbers"),
    ({"pickled": np.array([{"a": 1}] * 12, dtype=object)}, "array 'pickled' cannot be read"),
    ({}, "the NPZ holds no arrays"),
])
def test_a_wrong_array_is_refused_naming_the_file_and_the_array(tmp_path, arrays, said):
    np.savez(tmp_path / "up.npz", **arrays)
    with pytest.raises(InputError) as raised:
        uploaded_npz_references(tmp_path / "up.npz", X, Y, 12, (3, 4))
    assert str(raised.value).startswith(str(tmp_path / "up.npz") + ": ") and said in str(raised.value)


def test_a_file_is_refused_before_its_arrays_are_read_when_they_are_too_large(tmp_path):
    np.savez_compressed(tmp_path / "bomb.npz", zeros=np.zeros(1_000_000))  # 8 MB in a few kB
    with pytest.raises(InputError, match=r"bomb.npz: its arrays take 8,000,\d+ bytes uncompressed, more than"):
        uploaded_npz_references(tmp_path / "bomb.npz", X, Y, 12, (3, 4), max_bytes=1 << 20)


def test_a_file_that_is_not_an_npz_is_refused(tmp_path):
    (tmp_path / "fake.npz").write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="fake.npz: cannot read as NPZ"):
        uploaded_npz_references(tmp_path / "fake.npz", X, Y, 12, (3, 4))


def test_without_coordinates_only_per_row_arrays_are_taken(tmp_path):
    np.savez(tmp_path / "rows.npz", values=np.arange(12.0), grid=np.zeros((3, 4)))
    with pytest.raises(InputError, match=r"array 'grid' has shape \(3, 4\): give one value per latent row \(12,\)"):
        uploaded_npz_references(tmp_path / "rows.npz", None, None, 12)


@pytest.mark.parametrize("change, said", [
    ({"x": np.zeros(0)}, "array 'x' of a references.npz has shape (0,)"),
    ({"step": np.array([0.5])}, "array 'step' of a references.npz has shape (1,)"),
    ({"step": np.array([0.0, 0.5])}, "array 'step' of a references.npz must be above 0"),
    ({"iq": np.zeros((2, 4))}, "map 'iq' has shape (2, 4), not the grid (3, 4)"),
])
def test_a_references_npz_whose_grid_is_broken_is_refused(tmp_path, change, said):
    arrays = {"iq": np.zeros((3, 4)), "x": np.arange(4) * 0.5, "y": np.arange(3) * 0.5, "step": np.array([0.5, 0.5])}
    np.savez(tmp_path / "references.npz", **(arrays | change))
    with pytest.raises(InputError) as raised:
        uploaded_npz_references(tmp_path / "references.npz", X, Y, 12, (3, 4))
    assert str(raised.value).startswith(str(tmp_path / "references.npz") + ": ") and said in str(raised.value)
