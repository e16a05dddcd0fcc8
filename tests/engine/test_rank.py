"""Ranking latent dimensions against reference maps (latentcore.analysis.rank and the `rank` command)."""
import concurrent.futures
import json
import os
import threading
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.feature_selection import mutual_info_regression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from latentcore.analysis import rank, spearman, references
from latentcore.cli import main
from latentcore.errors import InputError
from latentcore.latents import LatentsWriter
from latentcore.storage import sha256_file


@pytest.fixture(scope="module")
def scan(ebsd_h5, bandcontrast_csv, truth_csv):
    """Real scan: raw patterns (flattened), x, y, band contrast and grain ids, all in row order."""
    with h5py.File(ebsd_h5, "r") as f:
        patterns = f["Scan 1/EBSD/Data/patterns"][()]
        x = f["Scan 1/EBSD/CrystalMap/crystal_map/data/x"][()]
        y = f["Scan 1/EBSD/CrystalMap/crystal_map/data/y"][()]
    bc = pd.read_csv(bandcontrast_csv)
    truth = pd.read_csv(truth_csv)
    assert np.allclose(bc[["x", "y"]].to_numpy(), np.column_stack([x, y]))
    return {"patterns": patterns, "x": x, "y": y, "bc": bc["bandcontrast"].to_numpy(np.float64),
            "grain": truth["grain_id"].to_numpy()}


@pytest.fixture(scope="module")
def pca_latents(scan):
    return references.pattern_components(scan["patterns"], 6, "pca")


def test_metric_values_equal_the_reference_packages(scan, pca_latents):
    """Every value equals scipy / scikit-learn / dcor on the same rows: NaN rows dropped pairwise and
    the O(N^2) metrics on the documented seeded sample."""
    import dcor  # here, not at collection: its import compiles numba code, about 6 s of CPU in every process

    latents = pca_latents[:, :3].copy()
    latents[[5, 17, 400], 1] = np.nan
    reference = scan["bc"].copy()
    reference[[17, 900]] = np.nan
    table = rank.rank_dimensions(latents, {"bc": reference}, scan["x"], scan["y"], max_samples=500,
                                 random_state=3, metrics=["pearson", "spearman", "kendall", "mutual_information",
                                                          "distance_correlation", "partial_pearson"])
    for dim in range(3):
        row = table[table["dimension"] == dim].iloc[0]
        keep = np.isfinite(latents[:, dim]) & np.isfinite(reference)
        a, b = latents[keep, dim], reference[keep]
        assert row["n_nan_dropped"] == (~keep).sum() == (4 if dim == 1 else 2)
        sample = np.sort(np.random.default_rng(3).choice(len(a), 500, replace=False))
        assert row["n_sampled"] == 500 and row["n_valid"] == len(a)
        assert row["pearson"] == pytest.approx(stats.pearsonr(a, b).statistic, abs=1e-9)
        assert row["spearman"] == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-9)
        assert row["kendall"] == pytest.approx(stats.kendalltau(a[sample], b[sample]).statistic, abs=1e-9)
        assert row["mutual_information"] == pytest.approx(
            mutual_info_regression(a[sample].reshape(-1, 1), b[sample], n_neighbors=3, random_state=3)[0], abs=1e-9)
        assert row["distance_correlation"] == pytest.approx(dcor.distance_correlation(a[sample], b[sample]),
                                                            abs=1e-9)
        x, y = scan["x"][keep], scan["y"][keep]
        design = np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y])  # quadratic trend

        def detrended(v):
            return v - design @ np.linalg.lstsq(design, v, rcond=None)[0]

        assert row["partial_pearson"] == pytest.approx(stats.pearsonr(detrended(a), detrended(b)).statistic,
                                                       abs=1e-9)
    assert any("sample of 500" in note for note in table.attrs["notes"])
    assert any("dropped pairwise" in note for note in table.attrs["notes"])



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ranks_are_scipys_rankdata(dtype):
    """rank.ranks (one radix sort for float32, np.argsort otherwise, ties averaged here) gives rankdata's
    ranks exactly: distinct values, many ties, signed zeros, infinities, one value, none."""
    rng = np.random.default_rng(4)
    cases = [rng.standard_normal(50_000), np.round(rng.standard_normal(50_000), 2), rng.integers(0, 3, 1000),
             [0.0, -0.0, 1, 1, 1, -1, -np.inf, np.inf, -0.0, 1e-40, -1e-40], [2.5], []]
    for values in cases:
        values = np.asarray(values, dtype)
        assert np.array_equal(rank.ranks(values), stats.rankdata(values)), values[:10]
    many = rng.standard_normal(200_000).astype(dtype)  # float32: some draws share a value, averaged
    assert np.array_equal(rank.ranks(many), stats.rankdata(many))


def test_spearman_of_float32_values_is_scipys_and_leaves_the_reference_alone():
    """spearman_of_ranks (float32: the compiled radix sort that carries the reference's ranks) equals spearmanr to
    1e-12 on distinct values, ties, signed zeros and infinities, keys that skip a radix pass (one middle digit),
    float64 values that are float32 ones, and a constant (NaN); the reference's array is not written."""
    rng = np.random.default_rng(6)
    n = 30_000
    digit = (1 << spearman.DIGIT_BITS) - 1 << spearman.DIGIT_BITS  # the second radix digit, one value for all
    # (a positive float's key has its bits there)
    middle_digit_fixed = ((np.abs(rng.standard_normal(n)).astype(np.float32).view(np.uint32) & ~np.uint32(digit))
                          | np.uint32(5 << spearman.DIGIT_BITS)).view(np.float32)
    cases = [rng.standard_normal(n).astype(np.float32), np.round(rng.standard_normal(n), 1).astype(np.float32),
             np.array([0.0, -0.0, 1, 1, -1, -np.inf, np.inf, -0.0, 1e-40, -1e-40], np.float32),
             middle_digit_fixed, np.round(rng.standard_normal(n), 2)]  # the last float64, exactly float32 values
    for values in cases:
        reference = np.round(rng.standard_normal(len(values)) + np.nan_to_num(values, posinf=5, neginf=-5), 1)
        unit = rank.unit_centred(rank.ranks(reference))
        before = unit.copy()
        assert rank.spearman_of_ranks(values, unit) == pytest.approx(stats.spearmanr(values, reference).statistic,
                                                                     abs=1e-12, rel=0)
        assert np.array_equal(unit, before)
    assert np.isnan(rank.spearman_of_ranks(np.full(5, 2.0, np.float32), rank.unit_centred(np.arange(5.0))))


def test_latent_columns_are_each_dimensions_values_taken_in_any_order_and_then_dropped(monkeypatch):
    """The scoring threads' columns come out of the latents a block at a time (here 3 columns, from chunks of 7
    rows): each is the dimension's own values, taken in any order, and no block is kept once its columns are."""
    monkeypatch.setattr(rank.LatentColumns, "CHUNK_ROWS", 7)
    latents = np.random.default_rng(8).normal(size=(50, 40)).astype(np.float32)
    dims = [39, 3, 5, 17, 0, 21, 22, 8]
    columns = rank.LatentColumns(latents, dims)
    monkeypatch.setattr(columns, "width", 3)
    order = [5, 0, 7, 2, 1, 6, 3, 4]
    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        taken = dict(zip(order, threads.map(columns, order)))
    assert all(np.array_equal(taken[at], latents[:, dim]) and taken[at].flags.c_contiguous
               for at, dim in enumerate(dims))
    assert columns.blocks == {}


def test_a_dimension_without_a_value_scores_nan_with_none_valid(scan):
    x, y, n = scan["x"], scan["y"], len(scan["x"])
    latents = np.column_stack([scan["bc"], np.full(n, np.nan)]).astype(np.float32)
    metrics = ["pearson", "spearman", "mutual_information", "partial_pearson"]
    row = rank.rank_dimensions(latents, {"bc": scan["bc"]}, x, y, metrics=metrics).set_index("dimension").loc[1]
    assert row[metrics].isna().all() and row["n_valid"] == 0 and row["n_nan_dropped"] == n


def test_correlations_equal_scipy_on_ties_nan_and_constants(scan):
    """pearson, spearman and partial_pearson, made with the reference's side once and a dot product per
    dimension, equal scipy's pearsonr, spearmanr and pearsonr of least-squares residuals to 1e-12: float32
    latents with and without ties and NaN, a reference with ties and NaN, a constant dimension (NaN, partial r too)."""
    x, y, n = scan["x"], scan["y"], len(scan["x"])
    rng = np.random.default_rng(5)
    trend = (x - x.mean()) / x.std()
    latents = np.column_stack([scan["bc"] + rng.normal(scale=scan["bc"].std(), size=n),  # no ties
                               np.round(trend + rng.normal(size=n), 1),  # ties
                               rng.normal(size=n), np.full(n, 3.0)]).astype(np.float32)
    latents[[3, 50, 700], 2] = np.nan
    reference = np.round(scan["bc"] / scan["bc"].std() * 4)  # integer-valued, as band contrast: ties
    reference[[10, 50]] = np.nan
    for ref in (reference, np.nan_to_num(reference, nan=0.0) + rng.normal(scale=1e-3, size=n)):  # NaN or not
        table = rank.rank_dimensions(latents, {"r": ref}, x, y, metrics=["pearson", "spearman", "partial_pearson"])
        for dim in range(latents.shape[1]):
            row = table[table["dimension"] == dim].iloc[0]
            keep = np.isfinite(latents[:, dim]) & np.isfinite(ref)
            a, b = latents[keep, dim], ref[keep]
            coords = np.column_stack([x[keep], y[keep]])
            coords = (coords - coords.mean(axis=0)) / coords.std(axis=0)
            design = np.column_stack([np.ones(len(a)), coords, coords ** 2, coords[:, 0] * coords[:, 1]])

            def detrended(v):
                v = v.astype(np.float64)
                return v - design @ np.linalg.lstsq(design, v, rcond=None)[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", stats.ConstantInputWarning)  # the constant dimension: NaN
                expected = {"pearson": stats.pearsonr(a, b).statistic, "spearman": stats.spearmanr(a, b).statistic,
                            "partial_pearson": stats.pearsonr(detrended(a), detrended(b)).statistic}
            for metric, value in expected.items():
                if dim == 3:  # a constant: NaN (scipy's partial r of its residuals is r of rounding errors)
                    assert np.isnan(row[metric]), metric
                else:
                    assert row[metric] == pytest.approx(value, abs=1e-12, rel=0), (dim, metric)


def test_the_trend_basis_spans_the_design_and_drops_what_is_constant(scan):
    """SpatialTrend's basis (orthonormalised through its Gram matrix) is orthonormal and removes what the
    least-squares fit removes; what is degenerate on the rows is dropped: on one column of the scan x, x^2 and xy
    are constant or y's multiples; on two columns x^2 is the constant (x standardised is -1 or 1)."""
    x, y = scan["x"], scan["y"]
    values = np.random.default_rng(6).normal(size=len(x)) + 0.3 * x * y / (x.max() * y.max())
    trend = rank.SpatialTrend(x, y, 2)
    for rows, kept in ((np.ones(len(x), bool), 6), (x == np.unique(x)[3], 3), (np.isin(x, np.unique(x)[3:5]), 5)):
        residuals = trend.residuals(values[rows], rows)
        basis = trend._basis
        assert basis.shape[1] == kept and np.allclose(basis.T @ basis, np.eye(kept), atol=1e-13, rtol=0)
        coords = np.column_stack([x[rows], y[rows]])
        spread = coords.std(axis=0)
        coords = (coords - coords.mean(axis=0)) / np.where(spread > 0, spread, 1)
        design = np.column_stack([np.ones(rows.sum()), coords, coords ** 2, coords[:, 0] * coords[:, 1]])
        fitted = design @ np.linalg.lstsq(design, values[rows], rcond=1e-10)[0]
        assert np.allclose(residuals, values[rows] - fitted, atol=1e-12, rtol=0)

def test_hsic_equals_centred_kernel_alignment(scan, pca_latents):
    """hyppo's biased HSIC statistic on median-bandwidth Gaussian kernels, checked against the
    definition: sqrt(<HKH, HLH> / (|HKH| |HLH|))."""
    a, b = pca_latents[:600, 0], scan["bc"][:600]

    def centred_kernel(v):
        d = np.abs(v[:, None] - v[None, :])
        k = np.exp(-d ** 2 / (2 * np.median(d[np.triu_indices(len(v), 1)]) ** 2))
        h = np.eye(len(v)) - 1.0 / len(v)
        return h @ k @ h

    k, l = centred_kernel(a), centred_kernel(b)
    expected = np.sqrt((k * l).sum() / np.sqrt((k * k).sum() * (l * l).sum()))
    assert rank.hsic(a, b) == pytest.approx(expected, abs=1e-9)
    table = rank.rank_dimensions(pca_latents[:600, :1], {"bc": b}, metrics=["hsic"], max_samples=None)
    assert table["hsic"].iloc[0] == pytest.approx(expected, abs=1e-9)
    assert rank.hsic(a, np.random.default_rng(0).permutation(b)) < expected


def test_progress_counts_each_dimension_and_reference_pair_as_it_is_scored(scan, pca_latents):
    calls = []
    rank.rank_dimensions(pca_latents[:, :4], {"bc": scan["bc"], "negated": -scan["bc"]},
                         labels={"grain": scan["grain"]}, metrics=["pearson", "ari"],
                         progress=lambda done, total: calls.append((done, total)))
    assert calls == [(done, 12) for done in range(1, 13)]  # 4 dimensions x (2 maps + 1 labels)

    class Cancelled(Exception):
        pass

    def cancel_at_first(done, total):
        raise Cancelled
    started, dropped = [], threading.Event()  # never set: dimensions after the first wait until their time is up
    original = rank._score_continuous

    def slowed(values, *args):
        started.append(1)
        if len(started) > 1:
            dropped.wait(2.0)  # the first's progress cancels while these wait: nothing after them is started
        return original(values, *args)
    with pytest.raises(Cancelled), pytest.MonkeyPatch.context() as patch:  # a job cancelled: the rest is dropped
        patch.setattr(rank, "_score_continuous", slowed)
        patch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # two scoring threads
        rank.rank_dimensions(pca_latents, {"bc": scan["bc"]}, dimensions=range(6), metrics=["pearson"],
                             progress=cancel_at_first)
    assert len(started) <= 3  # the first, and one more in each thread; not the 6


def test_band_contrast_with_noise_ranks_first_among_random_dimensions(scan):
    rng = np.random.default_rng(7)
    bc = scan["bc"]
    latents = rng.normal(size=(len(bc), 12))
    latents[:, 9] = bc + rng.normal(scale=bc.std(), size=len(bc))  # as much noise as signal
    metrics = ["pearson", "spearman", "kendall", "mutual_information", "distance_correlation", "hsic",
               "partial_pearson"]
    for metric in metrics:
        table = rank.rank_dimensions(latents, {"bandcontrast": bc}, scan["x"], scan["y"], metrics=[metric],
                                     max_samples=800)
        assert table["dimension"].iloc[0] == 9, metric
        assert table["rank"].iloc[0] == 1


def test_partial_pearson_removes_a_shared_spatial_trend(scan):
    x, y = scan["x"], scan["y"]
    rng = np.random.default_rng(1)
    trend = x / x.max()
    follows_trend = trend + rng.normal(scale=0.05, size=len(x))       # the dimension: a trend in x only
    shares_trend = 2 * trend + rng.normal(scale=0.05, size=len(x))    # the reference: same trend, own noise
    shares_signal = follows_trend + 0.05 * rng.normal(size=len(x))    # this one shares more than the trend
    latents = np.column_stack([follows_trend, shares_signal])
    table = rank.rank_dimensions(latents, {"ref": shares_trend}, x, y, metrics=["pearson", "partial_pearson"])
    by_dim = table.set_index("dimension")
    assert by_dim.loc[0, "pearson"] > 0.9
    assert abs(by_dim.loc[0, "partial_pearson"]) < 0.08
    # a reference that shares more than the trend keeps its partial correlation
    table = rank.rank_dimensions(latents, {"ref": follows_trend}, x, y, metrics=["partial_pearson"])
    assert table.set_index("dimension").loc[1, "partial_pearson"] > 0.6
    assert np.allclose(rank.SpatialTrend(x, y, 1).residuals(3 * x - 2 * y + 5), 0, atol=1e-9)
    # a dimension that is the trend leaves nothing to correlate: NaN, not r of rounding errors
    table = rank.rank_dimensions(np.column_stack([trend, follows_trend]), {"ref": shares_trend}, x, y,
                                 metrics=["partial_pearson"], trend_degree=1)
    partial = table.set_index("dimension")["partial_pearson"]
    assert np.isnan(partial[0]) and abs(partial[1]) < 0.08


def test_ari_nmi_against_grain_labels(scan):
    grain = scan["grain"]
    rng = np.random.default_rng(2)
    separates = grain * 10.0 + rng.normal(size=len(grain))  # one tight mode per grain
    latents = np.column_stack([rng.normal(size=len(grain)), separates])
    table = rank.rank_dimensions(latents, labels={"grain": grain}, metrics=["ari", "nmi"])
    best = table.iloc[0]
    assert best["dimension"] == 1 and best["ranked_by"] == "ari"
    predicted = rank.gmm_labels(separates, 6, random_state=0)
    assert best["ari"] == pytest.approx(adjusted_rand_score(grain, predicted), abs=1e-12)
    assert best["nmi"] == pytest.approx(normalized_mutual_info_score(grain, predicted), abs=1e-12)
    assert best["ari"] > 0.95
    assert table.iloc[1]["ari"] < 0.05


def test_element_map_helpers_and_rgb_reference(scan):
    bc, x = scan["bc"], scan["x"]
    combined = references.combine_element_maps({"Ni": bc, "Cr": x}, {"Ni": 3, "Cr": 1})
    expected = (3 * (bc - bc.min()) / np.ptp(bc) + (x - x.min()) / np.ptp(x)) / 4
    assert np.allclose(combined, expected)
    rgb = references.element_rgb(bc, x)
    assert rgb.shape == (len(bc), 3) and rgb.min() == 0 and rgb.max() == 1 and not rgb[:, 2].any()
    latents = np.column_stack([bc, np.random.default_rng(0).normal(size=len(bc))])
    table = rank.rank_dimensions(latents, {"rgb": rgb}, metrics=["distance_correlation", "pearson"],
                                 max_samples=400)
    assert table["dimension"].iloc[0] == 0 and table["pearson"].isna().all()
    with pytest.raises(rank.InputError, match="differ in length"):
        references.combine_element_maps({"a": bc, "b": bc[:10]})


def test_pattern_components_streamed_from_a_reader_match_in_memory_pca(ebsd_h5, scan):
    from latentcore.data import open_source

    in_memory = references.pattern_components(scan["patterns"], 3, "pca")
    with open_source(ebsd_h5) as reader:
        streamed = references.pattern_components(reader, 3, "pca", partition="all", batch_size=700)
        sampled = references.pattern_components(reader, 3, "pca", batch_size=700, max_fit_rows=800)
    assert np.allclose(streamed, in_memory, atol=1e-6 * np.abs(in_memory).max())
    assert sampled.shape == (2400, 3)
    assert abs(np.corrcoef(in_memory[:, 0], sampled[:, 0])[0, 1]) > 0.99  # fitted on a third of the scan


def test_nmf_components_are_the_non_negative_least_squares_fit(scan):
    from scipy.optimize import nnls
    from sklearn.decomposition import NMF

    patterns = scan["patterns"][::20]  # 120 patterns
    flat = patterns.reshape(len(patterns), -1).astype(np.float64)
    weights = references.pattern_components(patterns, 2, "nmf")
    model = NMF(2, init="nndsvda", random_state=0).fit(flat)
    assert weights.shape == (120, 2) and weights.min() >= 0
    for row in (0, 60, 119):  # each row's weights: scipy's NNLS on the fitted components
        assert np.allclose(weights[row], nnls(model.components_.T, flat[row])[0], rtol=1e-6, atol=1e-9)
    assert references.pattern_components(patterns, 2, "nmf", max_fit_rows=60).shape == (120, 2)
    negative = patterns.astype(np.float64)
    negative[3, 0, 0] = -1
    with pytest.raises(rank.InputError, match="non-negative"):
        references.pattern_components(negative, 2, "nmf")


def test_bad_inputs_are_named(scan):
    latents = np.zeros((len(scan["bc"]), 2))
    with pytest.raises(rank.InputError, match="has shape"):
        rank.rank_dimensions(latents, {"bc": scan["bc"][:-1]})
    with pytest.raises(rank.InputError, match="needs x and y"):
        rank.rank_dimensions(latents, {"bc": scan["bc"]}, metrics=["partial_pearson"])
    with pytest.raises(rank.InputError, match="unknown metric"):
        rank.rank_dimensions(latents, {"bc": scan["bc"]}, metrics=["pearsn"])
    with pytest.raises(rank.InputError, match="must be integers"):
        rank.rank_dimensions(latents, labels={"g": scan["bc"] + 0.5})


def test_write_ranking_outputs(tmp_path, scan, pca_latents, bandcontrast_csv):
    table = rank.rank_dimensions(pca_latents, {"bc": scan["bc"]}, scan["x"], scan["y"],
                                 metrics=["spearman", "pearson"], max_samples=500)
    with pytest.warns(RuntimeWarning, match="matplotlib"):  # browser=None: the fallback, fast
        paths = rank.write_ranking(table, tmp_path, {"reference": bandcontrast_csv}, top=3,
                                   latents=pca_latents, references={"bc": scan["bc"]}, browser=None)
    written = pd.read_csv(paths["scores"])
    assert len(written) == 6 and np.allclose(written["spearman"], table["spearman"])
    report = json.loads(paths["report"].read_text())
    assert report["inputs"]["reference"]["sha256"] == sha256_file(bandcontrast_csv)
    assert [r["dimension"] for r in report["top"]] == table["dimension"].head(3).tolist()
    assert {"dcor", "hyppo", "scipy", "scikit-learn"} <= set(report["versions"])
    assert report["parameters"]["sort_by"] == "spearman" and report["parameters"]["top"] == 3
    for path in paths.values():
        assert path.stat().st_size > 0
    assert paths["figure_bars"].read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("*.partial"))


@pytest.fixture(scope="module")
def latents_file(tmp_path_factory, scan, pca_latents):
    """A scan latents file from PCA of the raw patterns, with x, y (built with LatentsWriter)."""
    path = tmp_path_factory.mktemp("rank") / "ni_grains_latents.h5"
    writer = LatentsWriter(path, {"all": pca_latents.shape}, {"model": "pca"})
    writer.write_rows("all", 0, pca_latents.astype(np.float32))
    writer.write_array("x", scan["x"])
    writer.write_array("y", scan["y"])
    writer.write_array("grid_shape", [40, 60])
    return writer.finish({"model": "pca-6"})


def test_cli_rank_aligns_csv_references_by_coordinates(tmp_path, latents_file, bandcontrast_csv, truth_csv):
    shuffled = tmp_path / "bc_shuffled.csv"
    pd.read_csv(bandcontrast_csv).sample(frac=1, random_state=0).to_csv(shuffled, index=False)
    args = ["--metrics", "spearman", "pearson", "ari", "--top", "2", "--max-samples", "500"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert main(["rank", str(latents_file), "--reference", str(bandcontrast_csv),
                     "--labels", f"{truth_csv}:grain_id", "--out", str(tmp_path / "a"), "--tag", "t", *args]) == 0
        assert main(["rank", str(latents_file), "--reference", str(shuffled), "--no-figures",
                     "--out", str(tmp_path / "b"), "--tag", "t", *args]) == 0
    ordered = pd.read_csv(tmp_path / "a" / "ranking_scores__t.csv")
    permuted = pd.read_csv(tmp_path / "b" / "ranking_scores__t.csv")
    assert set(ordered["reference"]) == {"bandcontrast", "grain_id"} and len(ordered) == 12
    bc_rows = ordered[ordered["reference"] == "bandcontrast"].reset_index(drop=True)
    assert np.allclose(bc_rows["spearman"], permuted["spearman"])  # same values whatever the CSV's row order
    report = json.loads((tmp_path / "a" / "ranking_report__t.json").read_text())
    assert report["inputs"]["latents"]["sha256"] == sha256_file(latents_file)
    assert len(report["top"]) == 4 and report["parameters"]["metrics"] == ["spearman", "pearson", "ari"]
    for name in ("ranking_top__t.png", "ranking_scatter__t.png"):
        assert (tmp_path / "a" / name).read_bytes()[:4] == b"\x89PNG"
        assert name in report["outputs"].values()


def test_cli_rank_npy_reference_and_errors(tmp_path, latents_file, scan, capsys):
    np.save(tmp_path / "bc.npy", scan["bc"])
    np.save(tmp_path / "short.npy", scan["bc"][:100])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert main(["rank", str(latents_file), "--reference", str(tmp_path / "bc.npy"), "--metrics", "pearson",
                     "--no-figures", "--out", str(tmp_path / "out"), "--tag", "n"]) == 0
    assert not list((tmp_path / "out").glob("*.png"))
    table = pd.read_csv(tmp_path / "out" / "ranking_scores__n.csv")
    expected = max(abs(stats.pearsonr(v, scan["bc"]).statistic) for v in references.pattern_components(
        scan["patterns"], 6, "pca").T)
    assert abs(table["pearson"].iloc[0]) == pytest.approx(expected, abs=1e-6)  # float32 latents
    assert main(["rank", str(latents_file), "--reference", str(tmp_path / "short.npy"),
                 "--out", str(tmp_path / "bad")]) == 2
    assert "short.npy" in capsys.readouterr().err


@pytest.mark.parametrize("engine", ["matplotlib", "kaleido"])
def test_ranking_pngs_have_the_dpi_asked(tmp_path, scan, pca_latents, engine):
    """The PNG's pixels are its size in inches (layout px / 96) times the dpi, and it says that dpi."""
    import warnings

    from PIL import Image

    from latentcore import figures

    browser = figures.browser_path() if engine == "kaleido" else None
    if engine == "kaleido" and browser is None:
        pytest.skip("no Chromium on this machine for kaleido")
    table = rank.rank_dimensions(pca_latents, {"bc": scan["bc"]}, scan["x"], scan["y"],
                                 metrics=["pearson"], max_samples=500)
    drawn = figures.ranking_bars(rank.top_rows(table, 3))
    for dpi in (300, 150):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the matplotlib fallback says so
            paths = rank.write_ranking(table, tmp_path / str(dpi), top=3, browser=browser, dpi=dpi)
        with Image.open(paths["figure_bars"]) as image:
            expected = (drawn.layout.width * dpi / 96, drawn.layout.height * dpi / 96)
            assert np.abs(np.subtract(image.size, expected)).max() < 1, (image.size, expected)  # whole pixels
            assert image.info["dpi"] == pytest.approx((dpi, dpi), abs=0.1)


def test_the_scatter_figure_shows_each_references_top_dimension_on_a_sample_it_names(scan, pca_latents):
    """One panel per 1-D reference, its best dimension against it, on one seeded sample of max_points in all, which
    the title says."""
    from latentcore import figures

    references = {"bc": scan["bc"], "bc2": scan["bc"] ** 2, "rgb": np.stack([scan["bc"]] * 3, axis=1)}
    table = rank.rank_dimensions(pca_latents, references, metrics=["pearson"], max_samples=None)
    best = rank.top_rows(table, 3)
    drawn = figures.ranking_scatter(best, pca_latents, references, max_points=1000)
    firsts = best.drop_duplicates("reference").set_index("reference")["dimension"]
    assert [a.text for a in drawn.layout.annotations] == [f"dim {firsts[r]} vs {r}" for r in ("bc", "bc2")]
    assert sum(len(trace.x) for trace in drawn.data) <= 1000
    np.testing.assert_array_equal(drawn.data[1].x, pca_latents[drawn.data[1].customdata, firsts["bc2"]])
    assert f"a seeded sample of 500 of {len(pca_latents):,} points" in drawn.layout.title.text


def test_a_bar_chart_of_a_metric_not_ranked_says_what_to_pass():
    from latentcore import figures

    table = pd.DataFrame({"dimension": [0, 1, 2], "pearson": [0.5, -0.8, 0.1]})
    assert list(figures.ranking_bar(table, "pearson", dim_column="dimension").data[0].y) == ["dim 2", "dim 0", "dim 1"]
    with pytest.raises(InputError, match=r"scores need columns 'dimension' and 'hsic', .*: pass a metric the ranking "
                                         "computed"):
        figures.ranking_bar(table, "hsic", dim_column="dimension")
