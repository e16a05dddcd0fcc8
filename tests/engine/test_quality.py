"""The quality filter (`analysis.quality.QualityFilter`): its parsing, mask and refusals, and `--quality` on the
commands that compute over rows (umap, cluster, rank) on a real latents file with EDAX-style CI and Fit maps and
Oxford's Mean Angular Deviation."""
import json

import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.artifacts.cluster import ClusterJob
from latentcore.analysis.quality import QualityFilter, Threshold, quality_maps, quality_tag
from latentcore.cli import main
from latentcore.data.bandcontrast import BandContrast
from latentcore.errors import InputError
from latentcore.latents import LatentsWriter, read_latents

N_ROWS, N_COLUMNS = 12, 15


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    """A 12 x 15 scan's latents (4 dimensions: two blobs) with per-point CI and MAD (a NaN CI at row 7), and a
    band-contrast table of the same grid."""
    n = N_ROWS * N_COLUMNS
    rng = np.random.default_rng(3)
    rows, columns = np.divmod(np.arange(n), N_COLUMNS)
    latents = rng.normal(size=(n, 4)) + 4.0 * (columns >= N_COLUMNS // 2)[:, None]
    ci = rng.uniform(0, 1, n)
    ci[7] = np.nan
    mad = rng.uniform(0.2, 2.0, n)
    folder = tmp_path_factory.mktemp("quality")
    writer = LatentsWriter(folder / "scan__m_latents.h5", {"all": (n, 4)}, {"test": "quality"})
    writer.write_rows("all", 0, latents.astype(np.float32))
    writer.write_array("x", 1.5 * columns)
    writer.write_array("y", 1.5 * rows)
    writer.write_point_maps({"CI": ci, "Mean Angular Deviation": mad}, {"all": np.arange(n)})
    path = writer.finish({"model": "test"})
    bc = rng.uniform(50, 250, n)
    table = folder / "bc.csv"
    pd.DataFrame({"x": 1.5 * columns, "y": 1.5 * rows, "bandcontrast": bc}).to_csv(table, index=False)
    return path, ci, mad, bc, table


def test_a_filter_parses_from_its_one_string_form_and_reads_back_from_its_record():
    q = QualityFilter.parse(" mad <= 1.2, CI>=0.1 ")
    assert q.spec == "ci>=0.1,mad<=1.2" and str(q) == "ci >= 0.1, mad <= 1.2"
    assert q == QualityFilter.parse("ci>=0.1,mad<=1.2") and hash(q) == hash(QualityFilter.parse(q.spec))
    assert QualityFilter.from_json(json.loads(json.dumps(q.to_json()))) == q
    band = BandContrast.scan_map("Band Contrast")
    assert QualityFilter.from_json(QualityFilter.parse("bc>=90", band).to_json()).bandcontrast == band
    assert QualityFilter.parse("ci>=0.1,ci<=0.9").names == ("ci",)  # a band: both sides of one map
    assert quality_tag(q) == "_q-ci-ge0.1-mad-le1.2" and quality_tag(None) == ""


@pytest.mark.parametrize("text, message", [
    ("ci>0.1", "thresholds like ci>=0.1"), ("ci>=high", "thresholds like ci>=0.1"), ("", "thresholds like"),
    ("snr>=3", "no quality map 'snr'"), ("ci>=nan", "finite number"), ("ci>=0.1,ci>=0.2", "each map once"),
])
def test_bad_filters_are_refused_in_one_line(text, message):
    with pytest.raises(InputError, match=message) as caught:
        QualityFilter.parse(text)
    assert "\n" not in str(caught.value)


def test_the_mask_keeps_rows_meeting_every_threshold_and_nan_meets_none(scan):
    path, ci, mad, _, _ = scan
    maps = quality_maps({"CI": ci, "Mean Angular Deviation": mad, "Fit": mad})
    assert set(maps) == {"ci", "mad"}
    kept = QualityFilter.parse("ci>=0.3,mad<=1.5").mask(maps)
    np.testing.assert_array_equal(kept, (np.nan_to_num(ci, nan=-1) >= 0.3) & (mad <= 1.5))
    assert not kept[7] and 0 < kept.sum() < len(ci)
    record = QualityFilter.parse("ci>=0.3,mad<=1.5").record(kept)
    assert record["kept"] == kept.sum() and record["rows"] == len(ci)
    assert record["fraction"] == pytest.approx(kept.mean())
    assert record["thresholds"] == [{"map": "ci", "op": ">=", "value": 0.3}, {"map": "mad", "op": "<=", "value": 1.5}]


def test_a_threshold_on_a_map_the_scan_lacks_names_the_maps_it_has(scan):
    path, ci, mad, _, _ = scan
    with pytest.raises(InputError, match=r"no iq map \(it has: ci, mad\)") as caught:
        QualityFilter.parse("iq>=3").rows_kept({"CI": ci, "Mean Angular Deviation": mad}, where=path)
    assert str(path.name) in str(caught.value)
    with pytest.raises(InputError, match="for bc give a band-contrast table"):
        QualityFilter.parse("bc>=100").rows_kept({"CI": ci})


def test_bc_comes_from_the_filters_band_contrast_table_aligned_by_coordinates(scan):
    path, ci, _, bc, table = scan
    rows, columns = np.divmod(np.arange(len(bc)), N_COLUMNS)
    order = np.random.default_rng(0).permutation(len(bc))  # rows in another order than the table's
    kept = QualityFilter.parse("bc>=120", BandContrast.table(table)).rows_kept(
        {}, 1.5 * columns[order], 1.5 * rows[order])
    np.testing.assert_array_equal(kept, bc[order] >= 120)


def test_umap_with_quality_differs_from_the_unfiltered_table_by_exactly_the_removed_rows(scan, tmp_path, capsys):
    path, ci, mad, _, _ = scan
    every, some = tmp_path / "every.csv", tmp_path / "kept.csv"
    assert main(["umap", str(path), "--method", "pca", "--out", str(every)]) == 0
    assert main(["umap", str(path), "--method", "pca", "--quality", "ci>=0.3,mad<=1.5", "--out", str(some)]) == 0
    kept = (np.nan_to_num(ci, nan=-1) >= 0.3) & (mad <= 1.5)
    assert f"quality filter ci >= 0.3, mad <= 1.5: {kept.sum():,} of {len(ci):,} rows kept\n" in capsys.readouterr().out
    every, some = pd.read_csv(every), pd.read_csv(some)
    assert len(every) == len(ci) and list(some["row"]) == list(np.flatnonzero(kept))  # the rows keep their ids
    same = every.set_index("row").loc[some["row"]]
    np.testing.assert_array_equal(same[["x_um", "y_um", "index"]].to_numpy(), some[["x_um", "y_um", "index"]])


def test_cluster_with_quality_clusters_only_the_kept_rows_and_records_the_filter(scan, tmp_path):
    path, ci, mad, bc, table = scan
    common = ["cluster", str(path), "--features", "latent", "--method", "kmeans", "--k", "2", "--no-png"]
    assert main([*common, "--out", str(tmp_path / "all")]) == 0
    assert main([*common, "--quality", "ci>=0.3,bc>=100", "--bandcontrast", str(table),
                 "--out", str(tmp_path / "q")]) == 0
    kept = (np.nan_to_num(ci, nan=-1) >= 0.3) & (bc >= 100)
    tag = "kmeans_latents_full"
    every = pd.read_csv(tmp_path / "all" / f"cluster_assignments__{tag}.csv")
    filtered = pd.read_csv(tmp_path / "q" / f"cluster_assignments__{tag}_q-bc-ge100-ci-ge0.3.csv")
    assert len(every) == len(ci) and list(filtered["row"]) == list(np.flatnonzero(kept))
    np.testing.assert_allclose(filtered["bandcontrast"], bc[kept])
    report = json.loads((tmp_path / "q" / f"cluster_report__{tag}_q-bc-ge100-ci-ge0.3.json").read_text())
    assert report["quality"]["filter"] == "bc>=100,ci>=0.3" and report["quality"]["kept"] == kept.sum()
    assert report["quality"]["bandcontrast"] == "bc.csv" and report["n_rows"] == kept.sum()
    assert json.loads((tmp_path / "all" / f"cluster_report__{tag}.json").read_text())["quality"] is None
    job = ClusterJob.from_dict({**report["job"], "latents": str(path),
                                "quality": {**report["job"]["quality"], "bandcontrast": str(table)}})
    assert job.quality == QualityFilter.parse("ci>=0.3,bc>=100", BandContrast.table(table))  # the job reads back


def test_cluster_quality_and_roi_keep_the_rows_in_both(scan, tmp_path):
    path, ci, _, _, _ = scan
    assert main(["cluster", str(path), "--features", "latent", "--method", "kmeans", "--k", "2", "--no-png",
                 "--roi", "0,9,0,9", "--quality", "ci>=0.5", "--out", str(tmp_path)]) == 0
    rows, columns = np.divmod(np.arange(len(ci)), N_COLUMNS)
    in_roi = (1.5 * columns <= 9) & (1.5 * rows <= 9)
    table = pd.read_csv(next(tmp_path.glob("cluster_assignments__*.csv")))
    assert list(table["row"]) == list(np.flatnonzero(in_roi & (np.nan_to_num(ci, nan=-1) >= 0.5)))
    report = json.loads(next(tmp_path.glob("cluster_report__*.json")).read_text())
    assert report["quality"]["rows"] == in_roi.sum()  # applied to the rows in the ROI


def test_rank_with_quality_scores_the_kept_pixels_and_records_the_filter(scan, tmp_path):
    path, ci, mad, bc, table = scan
    assert main(["rank", str(path), "--reference", str(table), "--quality", "mad<=1.0", "--metrics", "pearson",
                 "--no-figures", "--out", str(tmp_path)]) == 0
    report = json.loads(next(tmp_path.glob("*.json")).read_text())
    kept = mad <= 1.0
    assert report["quality"]["filter"] == "mad<=1" and report["quality"]["kept"] == kept.sum()
    from latentcore.latents import read_latents

    latents = read_latents(path).partitions["all"]
    scores = pd.read_csv(next(tmp_path.glob("*.csv"))).set_index("dimension")
    expected = np.corrcoef(latents[kept, 0], bc[kept])[0, 1]
    assert scores.loc[0, "pearson"] == pytest.approx(expected, abs=1e-6) and scores.loc[0, "n_valid"] == kept.sum()


def test_a_quality_filter_no_row_meets_and_a_bad_option_are_one_line_errors(scan, tmp_path, capsys):
    path = scan[0]
    assert main(["cluster", str(path), "--features", "latent", "--method", "kmeans", "--k", "2", "--no-png",
                 "--quality", "ci>=2", "--out", str(tmp_path)]) != 0
    assert ("the quality filter ci >= 2 keeps 0 of 180 rows: too few to compute on (at least 3); lower its "
            "thresholds") in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["umap", str(path), "--quality", "ci>0.1"])
    assert "thresholds like ci>=0.1" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_threshold_values_are_checked():
    with pytest.raises(InputError, match="finite number"):
        Threshold("ci", ">=", float("inf"))


def test_rerun_runs_a_filtered_report_again_with_its_filter_and_table(scan, tmp_path):
    path, ci, _, bc, table = scan
    assert main(["cluster", str(path), "--features", "latent", "--method", "kmeans", "--k", "2", "--no-png",
                 "--quality", "bc>=100", "--bandcontrast", str(table), "--out", str(tmp_path)]) == 0
    report = next(tmp_path.glob("cluster_report__*.json"))
    assert json.loads(report.read_text())["inputs"]["quality_bandcontrast"]["name"] == "bc.csv"
    again = tmp_path / "again"
    assert main(["rerun", str(report), "--out", str(again), "--no-png"]) == 0
    table_again = pd.read_csv(next(again.glob("cluster_assignments__*_q-bc-ge100.csv")))
    assert list(table_again["row"]) == list(np.flatnonzero(bc >= 100))


def test_probe_with_quality_trains_and_predicts_on_the_kept_rows_only(scan, tmp_path):
    path, ci, mad, _, _ = scan
    columns = np.arange(len(ci)) % N_COLUMNS
    labelled = np.arange(0, len(ci), 3)  # every third row, by the blob it lies in
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"row": labelled, "label": np.where(columns[labelled] >= N_COLUMNS // 2, "b", "a")}).to_csv(
        labels, index=False)
    assert main(["probe", str(path), "--labels", str(labels), "--quality", "mad<=1.5", "--no-png",
                 "--out", str(tmp_path / "out")]) == 0
    kept = mad <= 1.5
    table = pd.read_csv(tmp_path / "out" / "probe_predictions__logistic_q-mad-le1.5.csv")
    assert list(table["row"]) == list(np.flatnonzero(kept))
    report = json.loads((tmp_path / "out" / "probe_report__logistic_q-mad-le1.5.json").read_text())
    assert report["n_labelled"] == kept[labelled].sum() < len(labelled)  # labels on removed rows are not learnt
    assert report["quality"]["kept"] == kept.sum() and report["quality"]["filter"] == "mad<=1.5"


def other_scan(scan, folder):
    """A second scan of the same grid and model, its latents the first's reversed, its own MAD map."""
    path, ci, mad, _, _ = scan
    n = len(mad)
    other_mad = np.random.default_rng(4).uniform(0.2, 2.0, n)
    latents = read_latents(path)
    writer = LatentsWriter(folder / "other__m_latents.h5", {"all": (n, 4)}, {"test": "quality"})
    writer.write_rows("all", 0, np.asarray(latents.partitions["all"])[::-1].copy())
    writer.write_array("x", latents.x)
    writer.write_array("y", latents.y)
    writer.write_point_maps({"CI": ci, "Mean Angular Deviation": other_mad}, {"all": np.arange(n)})
    return writer.finish({"model": "test"}), other_mad


def test_probe_with_quality_on_a_study_keeps_each_scans_rows_by_its_own_maps(scan, tmp_path):
    """`probe --quality` on a study (it was refused): each source's rows kept by its own MAD map, the labels on
    removed rows not learnt, the report's record summed over the sources."""
    path, ci, mad, _, _ = scan
    n = len(mad)
    other, other_mad = other_scan(scan, tmp_path)
    columns = np.arange(n) % N_COLUMNS
    labelled = np.arange(0, n, 3)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"source": "scan", "row": labelled,
                  "label": np.where(columns[labelled] >= N_COLUMNS // 2, "b", "a")}).to_csv(labels, index=False)
    assert main(["probe", str(path), str(other), "--labels", str(labels), "--quality", "mad<=1.5", "--no-png",
                 "--out", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "probe_predictions__logistic_q-mad-le1.5.csv")
    for name, kept in (("scan", mad <= 1.5), ("other", other_mad <= 1.5)):
        assert list(table.loc[table["source"] == name, "row"]) == list(np.flatnonzero(kept))
    report = json.loads((tmp_path / "out" / "probe_report__logistic_q-mad-le1.5.json").read_text())
    assert report["n_labelled"] == (mad <= 1.5)[labelled].sum()
    assert report["quality"]["kept"] == (mad <= 1.5).sum() + (other_mad <= 1.5).sum()
    assert report["quality"]["rows"] == 2 * n and report["fractions"]["other"]["counts"]


def test_a_studys_embedding_with_quality_is_fitted_and_placed_on_each_scans_kept_rows(scan, tmp_path):
    """The app's study embedding under the quality filter (it took every row): each scan's rows kept by its own
    MAD map, the sample drawn from them alone, and a fit of every kept row the one fit of those rows stacked."""
    from latentcore.analysis.embedding.fit import fit_embedding
    from latentcore.analysis.embedding.study import fit_study, study_embedding
    from latentcore.study import make_study

    path, _, mad, _, _ = scan
    other, other_mad = other_scan(scan, tmp_path)
    study = make_study("two", [str(path), str(other)])
    quality = QualityFilter.parse("mad<=1.5")
    kept = np.concatenate([mad <= 1.5, other_mad <= 1.5])
    stacked = np.concatenate([read_latents(p).partitions["all"] for p in (path, other)])
    fitted = study_embedding(study, "pca", quality=quality, cache_dir=False)
    np.testing.assert_allclose(fitted.coords, fit_embedding(stacked[kept], "pca", cache_dir=False).coords,
                               atol=1e-5)
    assert f"fitted on every one of the {kept.sum():,} rows" in fitted.params["approximation"]
    sampled = study_embedding(study, "pca", quality=quality, sample_size=100, cache_dir=False)
    assert len(sampled.coords) == kept.sum()
    assert f"a seeded sample of 100 of the {kept.sum():,} rows" in sampled.params["approximation"]
    fit = fit_study(study, "pca", sample_size=100, cache_dir=False, rows=np.flatnonzero(kept))
    assert len(fit.sample) == 100 and kept[fit.sample].all()  # the sample drawn from the kept rows alone


def test_umap_quality_on_a_study_writes_each_scans_kept_rows_as_the_app_embeds_them(scan, tmp_path, capsys):
    """`umap --quality` on a study (it was refused): each source's table holds the rows its own MAD map keeps, with
    the coordinates the app's study embedding gives them; the report records the filter; a band-contrast table,
    one scan's, is refused."""
    from latentcore.analysis.embedding.study import REPORT, study_embedding
    from latentcore.study import make_study

    path, _, mad, _, table_path = scan
    other, other_mad = other_scan(scan, tmp_path)
    argv = ["umap", str(path), str(other), "--method", "pca", "--quality", "mad<=1.5"]
    assert main([*argv, "--out", str(tmp_path / "two.parquet")]) == 0
    kept = np.concatenate([mad <= 1.5, other_mad <= 1.5])
    assert f"quality filter mad <= 1.5: {kept.sum():,} of {len(kept):,} rows kept" in capsys.readouterr().out
    table = pd.read_parquet(tmp_path / "two.parquet")
    for name, mine in (("scan", mad <= 1.5), ("other", other_mad <= 1.5)):
        assert list(table.loc[table["source"] == name, "row"]) == list(np.flatnonzero(mine))
    study = make_study("two", [str(path), str(other)])
    shown = study_embedding(study, "pca", quality=QualityFilter.parse("mad<=1.5"), cache_dir=False)
    np.testing.assert_allclose(table[["pca_0", "pca_1"]].to_numpy(), shown.coords, atol=1e-5)
    report = json.loads(next(tmp_path.glob(f"*/{REPORT}")).read_text())
    assert report["quality"]["kept"] == kept.sum() and [s["placed"] for s in report["sources"]] == [
        int((mad <= 1.5).sum()), int((other_mad <= 1.5).sum())]
    assert main([*argv[:-1], "bc>=100", "--bandcontrast", str(table_path), "--out", str(tmp_path / "no.parquet")]) == 2
    assert "a band-contrast table holds one scan's x, y" in capsys.readouterr().err
