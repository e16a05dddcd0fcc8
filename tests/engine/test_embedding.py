"""Embedding (UMAP/PCA): determinism, on-disk cache, fast path quality, PCA, projection, save/load."""
import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness

from latentcore.analysis.embedding import fit as embedding
from latentcore.analysis.embedding import cache, fitted as fitted_module, knn
from latentcore.analysis.embedding.fit import embed, fit_embedding
from latentcore.analysis.embedding.fitted import load_embedding, save_embedding
from latentcore.analysis.embedding.fit import warm_up
from latentcore.errors import InputError

REPO = Path(__file__).resolve().parents[2]


def clustered_latents(n, dim=64, seed=0):
    """Six Gaussian clusters in 5-D, mapped nonlinearly to `dim` dimensions (structure UMAP can keep)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(6, 5))
    z = centers[rng.integers(0, 6, n)] + rng.normal(size=(n, 5))
    x = np.tanh(z @ rng.normal(size=(5, dim)) / 3) + 0.02 * rng.normal(size=(n, dim))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def latents():
    return clustered_latents(800)


def test_same_seed_same_result_other_seed_differs(latents):
    reports = []
    first = embed(latents, cache_dir=False, sample_size=300, progress=lambda f, m: reports.append((f, m)))
    assert reports[-1][0] == 1.0 and len(reports) >= 3
    assert [f for f, _ in reports] == sorted(f for f, _ in reports)
    again = embed(latents, cache_dir=False, sample_size=300)
    other = embed(latents, cache_dir=False, sample_size=300, random_state=1)
    assert first.shape == (len(latents), 2) and first.dtype == np.float32
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_second_call_reads_the_cache_without_refitting(latents, tmp_path, monkeypatch):
    warm_up()  # the process's first fit is preceded by a tiny warm-up fit: not one of those counted here
    fits = []
    real_fit = embedding._fit_umap_fast
    monkeypatch.setattr(embedding, "_fit_umap_fast", lambda *a: fits.append(1) or real_fit(*a))

    first = embed(latents, cache_dir=tmp_path)
    files = list(tmp_path.glob("umap-*.npz"))
    assert len(fits) == 1 and len(files) == 1
    mtime = files[0].stat().st_mtime_ns

    second = embed(latents, cache_dir=tmp_path)
    assert len(fits) == 1, "the second call refitted instead of reading the cache"
    assert np.array_equal(first, second)
    assert files[0].stat().st_mtime_ns == mtime
    assert not list(tmp_path.glob("*.partial"))

    embed(latents, cache_dir=tmp_path, min_dist=0.5)  # another parameter: another entry
    assert len(fits) == 2 and len(list(tmp_path.glob("umap-*.npz"))) == 2
    embed(latents + 1e-3, cache_dir=tmp_path)  # other content: another entry
    assert len(fits) == 3


def test_cache_dir_from_environment_and_corrupt_entry_is_refitted(latents, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    first = embed(latents, method="pca")
    (entry,) = tmp_path.glob("pca-*.npz")
    entry.write_bytes(b"not an npz")
    assert np.array_equal(embed(latents, method="pca"), first)
    assert load_embedding(entry).coords.shape == first.shape  # rewritten whole
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.warns(RuntimeWarning, match="not cached"):  # an unwritable cache is not an error
        assert np.array_equal(embed(latents, method="pca", cache_dir=blocked / "cache"), first)


def test_fast_path_keeps_neighbourhoods_like_plain_umap():
    latents = clustered_latents(2000, seed=1)
    fast = embed(latents, cache_dir=False, sample_size=600)  # 600 fitted, 1400 placed
    plain = embed(latents, cache_dir=False, fast=False)
    fast_trust = trustworthiness(latents, fast, n_neighbors=10)
    plain_trust = trustworthiness(latents, plain, n_neighbors=10)
    assert plain_trust > 0.9
    assert fast_trust > plain_trust - 0.02, (fast_trust, plain_trust)


def test_pca_matches_scikit_learn(latents):
    fitted = fit_embedding(latents, method="pca", n_components=3, cache_dir=False)
    reference = PCA(n_components=3, svd_solver="full").fit(latents)
    expected = reference.transform(latents)
    signs = np.sign((fitted.coords * expected).sum(axis=0))  # components are defined up to sign
    np.testing.assert_allclose(fitted.coords * signs, expected, atol=1e-4)
    new = clustered_latents(10, seed=7)
    np.testing.assert_allclose(fitted.transform(new) * signs, reference.transform(new), atol=1e-4)


def test_projection_of_training_rows_lands_on_their_embedding(latents):
    fitted = fit_embedding(latents, cache_dir=False, sample_size=300)
    sampled = fitted.reference_index
    placed = np.setdiff1d(np.arange(len(latents)), sampled)
    assert len(sampled) == 300 and fitted.pca_components.shape == (embedding.FAST_PCA_DIMS, 64)
    np.testing.assert_allclose(fitted.transform(latents[sampled]), fitted.coords[sampled], atol=1e-4)
    # rows outside the sample were placed exactly the way transform places new rows
    np.testing.assert_allclose(fitted.transform(latents[placed]), fitted.coords[placed], atol=1e-5)
    # a slightly perturbed training row lands near its row, far closer than the embedding's spread
    noisy = latents[placed[:50]] + 0.01 * np.random.default_rng(3).normal(size=(50, 64))
    moved = np.linalg.norm(fitted.transform(noisy) - fitted.coords[placed[:50]], axis=1)
    assert np.median(moved) < 0.05 * fitted.coords.std(axis=0).sum()


ROUND_TRIP = """
import sys, numpy as np
from latentcore.analysis.embedding.fitted import load_embedding
fitted = load_embedding(sys.argv[1])
np.save(sys.argv[3], fitted.transform(np.load(sys.argv[2])))
"""


@pytest.mark.parametrize("method", ["umap", "pca"])
def test_saved_embedding_projects_identically_in_a_new_process(latents, tmp_path, method):
    fitted = fit_embedding(latents, method=method, cache_dir=False, sample_size=300)
    path = save_embedding(tmp_path / "fitted.npz", fitted)
    new = clustered_latents(40, seed=11)
    np.save(tmp_path / "new.npy", new)
    subprocess.run([sys.executable, "-c", ROUND_TRIP, str(path), str(tmp_path / "new.npy"),
                    str(tmp_path / "out.npy")], cwd=REPO, check=True, timeout=300)
    assert np.array_equal(np.load(tmp_path / "out.npy"), fitted.transform(new))
    with np.load(path, allow_pickle=False) as stored:  # plain arrays only, nothing pickled
        assert json.loads(str(stored["params_json"]))["method"] == method
        assert np.array_equal(stored["coords"], fitted.coords)


@pytest.mark.parametrize("bad, words", [
    (np.full((50, 4), np.nan, np.float32), ["latents", "NaN"]),
    (np.zeros(50, np.float32), ["latents", "2-D"]),
    (np.zeros((1, 4), np.float32), ["latents", "rows"]),
    (np.random.default_rng(0).normal(size=(10, 4)), ["latents", "n_neighbors"]),
    (np.array([["a", "b"], ["c", "d"]]), ["latents", "numeric"]),
])
def test_bad_latents_raise_input_error_naming_the_argument(bad, words):
    with pytest.raises(InputError) as error:
        embed(bad, cache_dir=False)
    assert all(word in str(error.value) for word in words), str(error.value)


def test_bad_parameters_and_files_raise_input_error(latents, tmp_path):
    for kwargs, word in [({"method": "tsne"}, "method"), ({"n_components": 0}, "n_components"),
                         ({"random_state": None}, "random_state"), ({"metric": "nope"}, "metric"),
                         ({"method": "pca", "n_components": 65}, "n_components")]:
        with pytest.raises(InputError, match=word):
            embed(latents, cache_dir=False, **kwargs)
    fitted = fit_embedding(latents, method="pca", cache_dir=False)
    with pytest.raises(InputError, match="new_latents"):
        fitted.transform(np.zeros((3, 5), np.float32))
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00" * 10)
    with pytest.raises(InputError, match="garbage.npz"):
        load_embedding(garbage)


def test_warm_up_runs_the_fast_path():
    assert warm_up() > 0


def test_a_processs_first_fit_compiles_under_the_cross_process_lock(latents, monkeypatch):
    entered = []

    @contextlib.contextmanager
    def recording_lock():
        entered.append(True)
        yield

    monkeypatch.setattr(embedding, "_warmed", False)  # as in a new process
    monkeypatch.setattr(embedding, "cache_lock", recording_lock)
    fit_embedding(latents[:100], cache_dir=False, sample_size=50)
    fit_embedding(latents[:100], cache_dir=False, sample_size=50, random_state=1)
    assert entered == [True]  # the first fit warmed up under the lock, the second did not need it


def test_a_umaps_expected_time_is_the_compilation_then_the_last_timed_fits_pace(monkeypatch, tmp_path):
    from latentcore import machine_rates
    from latentcore.analysis.embedding import fit_time

    monkeypatch.setenv(machine_rates.RATE_FILE_ENV, str(tmp_path / "rates.json"))  # nothing timed yet
    first = fit_time.expected_fit(2_400, 30_000, is_compiled=False)
    assert first.seconds == fit_time.COMPILE_SECONDS + 2_400 / fit_time.FIT_ROWS_PER_SECOND
    assert "compiling UMAP's code" in first.text and "until a fit here is timed" in first.text

    warm_up()  # numba's code loaded: what follows is the fit alone
    assert fit_time.compiled()  # a warm-up leaves its marker: later fits expect to load the code
    timed = []

    def recording(rows, seconds):
        timed.append((rows, seconds))
        fit_time.record_fit(rows, seconds)
    monkeypatch.setattr(embedding, "record_fit", recording)
    fit_embedding(clustered_latents(3_000, dim=16), cache_dir=False, sample_size=2_000)
    [(rows, seconds)] = timed
    assert rows == 2_000  # the sample: the rows UMAP fitted
    expected = fit_time.expected_fit(9_000, 4_000)  # a larger fit, its sample twice the timed one
    assert expected.seconds == pytest.approx(fit_time.LOAD_SECONDS + 2 * seconds)
    assert "a sample of 9,000" in expected.text and "measured here" in expected.text
    fit_embedding(clustered_latents(500, dim=16), cache_dir=False)  # too small to time: the pace kept stays
    assert fit_time.expected_fit(9_000, 4_000).seconds == expected.seconds


def test_the_numba_cache_lock_excludes_other_processes():
    from latentcore.analysis.embedding.umap_numba import cache_lock, lock_path

    try_lock = ("import fcntl, sys\n"
                "with open(sys.argv[1], 'a') as f:\n"
                "    try:\n        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print('took it')\n"
                "    except BlockingIOError:\n        print('held')\n")
    command = [sys.executable, "-c", try_lock, str(lock_path())]
    with cache_lock():
        held = subprocess.run(command, capture_output=True, text=True, check=True)
    free = subprocess.run(command, capture_output=True, text=True, check=True)
    assert (held.stdout.strip(), free.stdout.strip()) == ("held", "took it")


# -- placement by a walk of the sample's kNN graph (large fits and projections) -------------------

def exact_neighbours(queries, reference, k):
    return knn.knn(queries, reference, "euclidean", k)[1]


def overlap(found, exact):
    return np.mean([len(np.intersect1d(a, b)) for a, b in zip(found, exact)]) / exact.shape[1]


def test_graph_walk_finds_the_exact_nearest_rows_whatever_the_threads():
    from latentcore.analysis.embedding.graph_search import GraphIndex

    data = clustered_latents(9000, dim=24, seed=4)
    reference, queries = data[:3000], data[3000:]
    index = GraphIndex(reference, exact_neighbours(reference, reference, 15))
    exact = exact_neighbours(queries, reference, 5)
    found = index.query(queries, 5, threads=2)
    assert found.shape == (6000, 5) and found.dtype == np.int64
    assert overlap(found, exact) >= 0.995  # approximate: the tolerance the fit relies on
    assert np.array_equal(index.query(queries, 5, threads=1), found)  # each query alone: same answer
    assert np.array_equal(index.query(queries[:7], 5), found[:7])
    # holding every row, the walk measures every row it can reach: the exact answer
    assert overlap(index.query(queries[:300], 5, ef=len(reference)), exact[:300]) == 1.0
    # found nearest first
    dist = np.linalg.norm(queries[:, None, :] - reference[found], axis=-1)
    assert np.all(np.diff(dist, axis=1) >= -1e-5)


def test_graph_walk_reaches_a_small_cluster_far_from_the_rest():
    from latentcore.analysis.embedding.graph_search import GraphIndex

    rng = np.random.default_rng(5)
    far = rng.normal(size=(20, 8)).astype(np.float32) + 100  # its kNN graph: a component of its own
    reference = np.concatenate([rng.normal(size=(4000, 8)).astype(np.float32), far])
    index = GraphIndex(reference, exact_neighbours(reference, reference, 15), seed=2)
    assert np.count_nonzero(index.entries >= 4000) == 1  # not a random entry row: its component's
    queries = far[:4] + 0.01
    assert np.all(index.query(queries, 5) >= 4000)
    assert overlap(index.query(queries, 5), exact_neighbours(queries, reference, 5)) == 1.0


def test_fit_placement_by_graph_walk_is_transform_and_close_to_the_exact_placement(monkeypatch):
    latents = clustered_latents(4000, seed=2)
    exact = fit_embedding(latents, cache_dir=False, sample_size=800)
    monkeypatch.setattr(knn, "GRAPH_SEARCH_MIN_PAIRS", 0)  # every search walks the graph
    walked = fit_embedding(latents, cache_dir=False, sample_size=800)
    placed = np.setdiff1d(np.arange(len(latents)), walked.reference_index)
    assert np.array_equal(walked.coords[walked.reference_index], exact.coords[exact.reference_index])
    # the fit places its rows exactly as transform places new rows (the graph is recomputed the same)
    np.testing.assert_allclose(walked.transform(latents[placed]), walked.coords[placed], atol=1e-5)
    # and nearly every row where the exact search places it
    same = np.all(np.isclose(walked.coords[placed], exact.coords[placed], atol=1e-5), axis=1)
    assert same.mean() >= 0.995, same.mean()


def test_the_gpu_search_is_the_exact_search(monkeypatch):
    """`knn._torch_knn` is what runs on a GPU; here on torch's CPU device, against scikit-learn."""
    data = clustered_latents(3000, dim=16, seed=6)
    reference, queries = data[:1000], data[1000:]
    monkeypatch.setattr(knn, "GPU_BLOCK_PAIRS", 300_000)  # several blocks
    found = knn._torch_knn(queries, reference, 5, "cpu")
    assert overlap(found, exact_neighbours(queries, reference, 5)) >= 0.9999
    monkeypatch.setattr(knn, "_gpu_device", lambda: "cpu")  # every euclidean search on torch
    dists, index = knn.knn(queries, reference, "euclidean", 5)
    assert np.array_equal(index, knn._sorted_by_distance(queries, reference, found, "euclidean")[1])
    assert np.all(np.diff(dists, axis=1) >= 0)


def test_the_pca_of_every_row_is_the_same_bits_whatever_the_threads(monkeypatch):
    latents = clustered_latents(2 * fitted_module.REDUCE_BLOCK_ROWS + 5, seed=8)  # three blocks, the last short
    fitted = fit_embedding(latents[:600], cache_dir=False, sample_size=300)
    monkeypatch.setattr(knn, "_threads", lambda: 1)
    one = fitted._reduce(latents)
    monkeypatch.setattr(knn, "_threads", lambda: 3)
    assert np.array_equal(fitted._reduce(latents), one)
    expected = (latents[-5:].astype(np.float64) - fitted.pca_mean) @ fitted.pca_components.astype(np.float64).T
    np.testing.assert_allclose(one[-5:], expected, rtol=1e-5, atol=1e-5)
