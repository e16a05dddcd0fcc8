"""Nearest neighbours and the linear probe (latentcore.analysis.embedding.search) on real data."""
import h5py
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.decomposition import PCA

from latentcore.analysis.embedding.search import linear_probe, nearest_neighbours, row_at
from latentcore.errors import InputError


@pytest.fixture(scope="module")
def cutouts(sst_h5):
    """The 18 real SST cutouts, flattened: (18, 4096)."""
    with h5py.File(sst_h5, "r") as f:
        images = np.concatenate([f["valid"][()], f["train"][()]])
    return images.reshape(len(images), -1).astype(np.float64)


@pytest.fixture(scope="module")
def grains(ebsd_h5, truth_csv):
    """PCA (16) of the real EBSD patterns and the grain id of each point."""
    with h5py.File(ebsd_h5, "r") as f:
        patterns = f["Scan 1/EBSD/Data/patterns"][()].reshape(2400, -1).astype(np.float64)
    latents = PCA(16, random_state=0).fit_transform(patterns)
    return latents, pd.read_csv(truth_csv)["grain_id"].to_numpy()


def test_nearest_neighbours_match_exact_cosine_distances(cutouts):
    for row in (0, 7, 17):
        indices, distances = nearest_neighbours(cutouts, row, k=5)
        expected = cdist(cutouts[row:row + 1], cutouts, metric="cosine")[0]
        expected[row] = np.inf  # the row itself is left out
        assert row not in indices
        assert np.allclose(distances, np.sort(expected)[:5], atol=1e-12)
        assert np.allclose(expected[indices], distances, atol=1e-12)


def test_a_scaled_copy_is_the_nearest_cosine_neighbour_and_duplicates_are_kept(cutouts):
    latents = np.vstack([cutouts, 2.5 * cutouts[3], cutouts[3]])  # rows 18 (scaled) and 19 (exact copy)
    indices, distances = nearest_neighbours(latents, 3, k=3)
    assert set(indices[:2]) == {18, 19} and np.allclose(distances[:2], 0, atol=1e-9)
    indices, _ = nearest_neighbours(latents, 19, k=2, metric="euclidean")
    assert indices[0] == 3 and 19 not in indices
    assert len(nearest_neighbours(cutouts, 0, k=100)[0]) == 17  # k capped at the other rows
    with pytest.raises(InputError, match="out of range"):
        nearest_neighbours(cutouts, 18)


def test_linear_probe_reads_grains_off_pattern_pca(grains):
    latents, grain = grains
    result = linear_probe(latents, grain, cv=5, random_state=0)
    assert result["accuracy_mean"] > 0.9
    assert result["classes"] == list(range(6)) and result["n_samples"] == 2400
    confusion = np.array(result["confusion_matrix"])
    assert confusion.shape == (6, 6) and confusion.sum() == 2400
    assert confusion.sum(axis=1).tolist() == np.bincount(grain).tolist()
    assert np.trace(confusion) / 2400 == pytest.approx(np.mean(result["fold_accuracies"]), abs=0.01)
    assert linear_probe(latents, grain, cv=5, random_state=0) == result  # seeded: the same again


def test_linear_probe_on_shuffled_labels_is_near_chance(grains):
    latents, grain = grains
    shuffled = np.random.default_rng(0).permutation(grain)
    result = linear_probe(latents, shuffled, cv=3)
    assert result["accuracy_mean"] < result["chance"] + 0.05


def test_linear_probe_rejects_classes_too_small_for_the_folds(grains):
    latents, grain = grains
    labels = grain.copy()
    labels[:3] = 9
    with pytest.raises(InputError, match="'9': 3"):
        linear_probe(latents, labels, cv=5)
    with pytest.raises(InputError, match="at least 2 classes"):
        linear_probe(latents, np.zeros(len(latents)))


def test_row_at_is_the_row_nearest_a_position_ignoring_rows_without_one():
    x = np.array([0.0, 1.5, 3.0, np.nan, 0.0, 1.5])
    y = np.array([0.0, 0.0, 0.0, 1.5, 1.5, 1.5])
    assert row_at(x, y, 1.4, 0.2) == 1
    assert row_at(x, y, 0.1, 1.4) == 4  # not the NaN row 3
    assert row_at(x, y, 99.0, -99.0) == 2  # outside the scan: the nearest edge pixel
    with pytest.raises(InputError, match="finite"):
        row_at(x, y, np.nan, 0.0)
    with pytest.raises(InputError, match="no row"):
        row_at(np.full(2, np.nan), np.zeros(2), 0.0, 0.0)
