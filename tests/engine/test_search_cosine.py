"""CosineSearch (latentcore/analysis/embedding/search.py) against scikit-learn's brute-force cosine search: the
same neighbours, nearest first, the row itself left out, zero vectors at distance 1."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from latentcore.analysis.embedding.search import CosineSearch, nearest_neighbours
from latentcore.errors import InputError


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cosine_search_finds_scikit_learns_neighbours(dtype):
    rng = np.random.default_rng(3)
    latents = rng.normal(size=(3000, 12)).astype(dtype)
    latents[7] = 0  # a zero vector: at distance 1 from every row
    search = CosineSearch(latents)
    reference = NearestNeighbors(n_neighbors=11, metric="cosine", algorithm="brute").fit(latents)
    for row in (0, 7, 1234, 2999):
        indices, distances = search.nearest(row, 10)
        want_d, want_i = reference.kneighbors(latents[row:row + 1])
        keep = want_i[0] != row
        assert list(indices) == list(want_i[0][keep][:10]) or row == 7  # row 7: every row ties at 1
        np.testing.assert_allclose(distances, want_d[0][keep][:10], atol=1e-6)
        assert row not in indices and np.all(np.diff(distances) >= 0)
    assert list(search.nearest(7, 3)[1]) == [1.0, 1.0, 1.0]
    assert np.array_equal(nearest_neighbours(latents, 1234, k=5)[0], search.nearest(1234, 5)[0])


def test_cosine_search_refuses_a_row_out_of_range_and_gives_every_other_row_when_k_is_large():
    search = CosineSearch(np.eye(4))
    with pytest.raises(InputError, match="row 4 is out of range: the latents have 4 rows"):
        search.nearest(4, 2)
    assert sorted(search.nearest(0, 10)[0]) == [1, 2, 3]
