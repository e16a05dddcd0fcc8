"""The analysis commands on a study (several latents files, a glob, or one NAME.study.json), on three simulated scans
that share their grains' orientations (latentcore/demo/simulate.py, `orientation_seed`): `cluster` (one clustering of
every row, each scan smoothed over its own grid, each source's cluster fractions; it finds a grain's orientation as
one cluster in every scan), `umap` (one embedding, each source's table kept), `maps`, `rank` and `mean-pattern` (each
source on its own scan and data file) and `probe` (one scan's labels predicted on the others). Every refusal is one
line naming the member or the option. Latents are real HDF5 files: the PCA of the three scans' patterns, as one model
would make them."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from cli_lines import refused
from latentcore.analysis.artifacts.cluster import ClusterJob
from latentcore.analysis.artifacts.cluster_run import load_inputs
from latentcore.analysis.smoothing import smooth_rows
from latentcore.cli import main
from latentcore.demo.simulate import ScanSettings, simulate_scan
from latentcore.errors import InputError
from latentcore.latents import LatentsWriter, read_latents
from latentcore.study import make_study, write_study

SHAPE = (24, 32)  # each scan's grid
MODEL = {"model": "pca", "model_name": "pca", "model_sha256": "e" * 64}
TAG = "kmeans_latents_smooth1_full"


def write_scan_latents(folder: Path, name: str, scan, rows, *, maps=True, model=MODEL) -> Path:
    writer = LatentsWriter(folder / f"{name}__pca_latents.h5", {"all": rows.shape}, {})
    writer.write_rows("all", 0, rows.astype(np.float32))
    writer.write_array("x", scan.x)
    writer.write_array("y", scan.y)
    writer.write_array("grid_shape", list(SHAPE))
    if maps:
        writer.write_point_maps({"Band Contrast": scan.band_contrast.astype(np.float64)},
                                {"all": np.arange(len(rows))})
    return writer.finish({**model, "source": f"{name}.h5", "units": "um"})


@pytest.fixture(scope="module")
def textured(tmp_path_factory):
    """Three scans (p, q, r) of six grains laid out anew by each seed, grain g of each with the same orientation;
    their latents one PCA of the three scans' patterns. Returns (folder, {name: scan}, {name: latents path})."""
    folder = tmp_path_factory.mktemp("textured")
    scans = {name: simulate_scan(ScanSettings(n_rows=SHAPE[0], n_columns=SHAPE[1], pattern_size=32, n_grains=6,
                                              seed=seed, orientation_seed=7))
             for seed, name in enumerate("pqr", start=1)}
    patterns = np.concatenate([s.patterns.reshape(len(s.patterns), -1) for s in scans.values()]).astype(np.float32)
    patterns = (patterns - patterns.mean(1, keepdims=True)) / patterns.std(1, keepdims=True)
    rows = np.split(PCA(8, random_state=0).fit_transform(patterns), 3)
    paths = {name: write_scan_latents(folder, name, scan, part) for (name, scan), part in zip(scans.items(), rows)}
    return folder, scans, paths


def test_one_clustering_of_a_study_finds_the_grains_its_scans_share(textured, tmp_path, capsys):
    folder, scans, paths = textured
    out = tmp_path / "out"
    assert main(["cluster", *map(str, paths.values()), "--features", "latent", "--method", "kmeans", "--k", "6",
                 "--smooth", "1", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "study p+2: 3 sources, 2,304 rows in one clustering" in said and "\n  r: 0: " in said
    assert sorted(p.name for p in out.iterdir()) == [
        f"cluster_assignments__{TAG}.csv", f"cluster_fractions__{TAG}.csv", f"cluster_fractions__{TAG}.png",
        *(f"cluster_pca__{TAG}__{name}.png" for name in "pqr"), f"cluster_report__{TAG}.json"]
    table = pd.read_csv(out / f"cluster_assignments__{TAG}.csv")
    assert list(table.columns) == ["source", "row", "x_um", "y_um", *(f"latent_{d}" for d in range(8)), "cluster"]
    for name, scan in scans.items():
        mine = table[table["source"] == name]
        assert mine["row"].tolist() == list(range(len(scan.x)))
        np.testing.assert_array_equal(mine["x_um"], scan.x)
        latent_3 = read_latents(paths[name]).partitions["all"][:, 3]
        np.testing.assert_array_equal(mine["latent_3"].astype(np.float32), latent_3)

    # what the scans share: a grain's orientation is one cluster in every scan (interior, good points)
    grain = np.concatenate([s.grain_id for s in scans.values()])
    interior = np.concatenate([~(s.is_boundary | s.is_bad) for s in scans.values()])
    assert adjusted_rand_score(grain[interior], table["cluster"][interior]) > 0.95  # measured 1.0
    for g in range(6):
        clusters = [table["cluster"][interior & (grain == g) & (table["source"] == name)].mode()[0] for name in scans]
        assert len(set(clusters)) == 1, (g, clusters)

    fractions = pd.read_csv(out / f"cluster_fractions__{TAG}.csv")
    assert list(fractions.columns) == ["source", "cluster", "count", "fraction"] and len(fractions) == 3 * 6
    np.testing.assert_allclose(fractions.groupby("source")["fraction"].sum(), 1.0)
    counted = table.groupby(["source", "cluster"]).size()
    assert fractions.set_index(["source", "cluster"])["count"].to_dict() == counted.to_dict()

    report = json.loads((out / f"cluster_report__{TAG}.json").read_text())
    study = make_study("p+2", list(map(str, paths.values())))
    assert report["study"]["name"] == "p+2" and report["study"]["rows"] == 2304
    assert [(m["name"], m["sha256"], m["rows"]) for m in report["study"]["members"]] == [
        (m.name, m.sha256, m.rows) for m in study.members]
    assert [m["name"] for m in report["inputs"]["latents"]] == [p.name for p in paths.values()]
    assert report["fractions"]["q"]["counts"] == {str(k): int(v) for k, v in counted["q"].items()}
    assert report["outputs"]["fractions_figure"]["name"] == f"cluster_fractions__{TAG}.png"
    assert (out / f"cluster_fractions__{TAG}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [f["name"] for f in report["outputs"]["source_figures"].values()] == [
        f"cluster_pca__{TAG}__{name}.png" for name in "pqr"]
    assert str(tmp_path) not in json.dumps(report)  # no server path
    refused(["rerun", out / f"cluster_report__{TAG}.json"], capsys, "running the same cluster command on the study")

    # the study file gives the same clustering
    study_file = write_study(study, folder)
    again = tmp_path / "again"
    assert main(["cluster", str(study_file), "--features", "latent", "--method", "kmeans", "--k", "6", "--smooth",
                 "1", "--out", str(again), "--no-png"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(again / f"cluster_assignments__{TAG}.csv"), table)


def test_each_scan_of_a_study_is_smoothed_over_its_own_grid(textured):
    _, scans, paths = textured
    study = make_study("three", list(map(str, paths.values())))
    job = ClusterJob(latents="three", bandcontrast=None, method="kmeans", features="latent", smooth=1.0)
    features = load_inputs(job, study).features
    own = [smooth_rows(read_latents(p).partitions["all"], s.x, s.y, 1.0) for p, s in zip(paths.values(),
                                                                                        scans.values())]
    np.testing.assert_allclose(features, np.concatenate(own))
    # the scans lie on the same coordinates: as one grid, their pixels would be one another's
    x, y = (np.concatenate([getattr(s, axis) for s in scans.values()]) for axis in "xy")
    with pytest.raises(InputError, match="pixels share their coordinates"):
        smooth_rows(study.stacked(), x, y, 1.0)


def test_pairs_take_each_members_band_contrast_and_a_member_without_is_named(textured, tmp_path, capsys):
    folder, scans, paths = textured
    out = tmp_path / "pair"
    assert main(["cluster", str(folder / "*__pca_latents.h5"), "--dim", "0", "--method", "gmm", "--k", "3",
                 "--out", str(out), "--no-png"]) == 0  # the default band contrast: each scan's own map
    table = pd.read_csv(out / "cluster_assignments__gmm_dim0_full.csv")
    assert list(table.columns) == ["source", "row", "x_um", "y_um", "latent_0", "bandcontrast", "cluster"]
    np.testing.assert_array_equal(table["bandcontrast"], np.concatenate([s.band_contrast for s in scans.values()]))

    bare = tmp_path / "bare"
    bare.mkdir()
    members = [*map(str, paths.values()), str(write_scan_latents(bare, "s", scans["p"], read_latents(
        paths["p"]).partitions["all"] + 1, maps=False))]
    line = refused(["cluster", *members, "--method", "gmm", "--out", tmp_path / "no"], capsys,
                   "member s carries no per-point maps (band contrast) to pair with its latents: leave it out of "
                   "the study, or cluster whole vectors (--features latent)")
    assert "s__pca_latents.h5" in line and not (tmp_path / "no").exists()
    table_csv = tmp_path / "bc.csv"
    pd.DataFrame({"x": scans["p"].x, "y": scans["p"].y, "bandcontrast": 1.0}).to_csv(table_csv, index=False)
    refused(["cluster", *map(str, paths.values()), "--bandcontrast", table_csv, "--method", "gmm", "--out",
             tmp_path / "no"], capsys, "a study's band contrast is each member's own scan map; use 'scan'")


def test_a_member_of_another_model_is_refused_and_nothing_is_written(textured, tmp_path, capsys):
    _, scans, paths = textured
    other = write_scan_latents(tmp_path, "s", scans["p"], read_latents(paths["p"]).partitions["all"],
                               model={"model": "vae", "model_name": "vae", "model_sha256": "f" * 64})
    line = refused(["cluster", *map(str, paths.values()), str(other), "--features", "latent", "--method", "kmeans",
                    "--out", tmp_path / "out"], capsys, "member s was made by model vae (SHA-256 ffffffffffff)")
    assert "leave it out" in line and not (tmp_path / "out").exists()


def test_umap_of_a_study_is_one_table_of_every_source_and_their_kept_tables(textured, tmp_path, capsys):
    folder, scans, paths = textured
    out = tmp_path / "embedding" / "three.csv"
    assert main(["umap", *map(str, paths.values()), "--method", "pca", "--sample-size", "1000", "--out",
                 str(out)]) == 0
    said = capsys.readouterr().out
    assert "2,304 rows of 3 sources" in said and "PCA fitted on a seeded sample of 1,000 of the 2,304 rows" in said
    table = pd.read_csv(out)
    assert list(table.columns) == ["source", "row", "x_um", "y_um", "pca_0", "pca_1", "partition", "index"]
    assert table.groupby("source", sort=False).size().to_dict() == {"p": 768, "q": 768, "r": 768}
    np.testing.assert_array_equal(table["y_um"], np.concatenate([s.y for s in scans.values()]))
    [kept] = [p for p in out.parent.iterdir() if p.is_dir()]  # each source's table, for a rerun to keep
    assert sorted(p.name for p in kept.iterdir()) == ["p.parquet", "q.parquet", "r.parquet", "report.json"]
    q = pd.read_parquet(kept / "q.parquet")
    np.testing.assert_allclose(table.loc[table["source"] == "q", "pca_0"], q["pca_0"], rtol=1e-6)
    line = refused(["umap", *map(str, paths.values()), "--partitions", "all,train", "--out", tmp_path / "x.csv"],
                   capsys, "no partition(s) ['train']; it holds ['all']: pick from those")
    assert str(paths["p"]) in line and not (tmp_path / "x.csv").exists()


def test_maps_and_rank_of_a_study_run_per_source_each_on_its_own_scan(textured, tmp_path, capsys):
    folder, scans, paths = textured
    cutouts = tmp_path / "cutouts"  # a source without coordinates joins the scans: it has no maps, and says so
    cutouts.mkdir()
    writer = LatentsWriter(cutouts / "c__pca_latents.h5", {"all": (50, 8)}, {})
    writer.write_rows("all", 0, np.zeros((50, 8), np.float32))
    writer.finish({**MODEL, "source": "c.h5"})
    members = [*map(str, paths.values()), str(cutouts / "c__pca_latents.h5")]
    assert main(["maps", *members, "--dims", "0-2", "--out", str(tmp_path / "maps"), "--no-png"]) == 0
    assert "c: no coordinates, no maps (not a scan)" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["p", "q", "r"]
    for name in scans:
        maps = np.load(tmp_path / "maps" / name / "latent_maps__dims0-2_full.npy")
        rows = read_latents(paths[name]).partitions["all"]
        np.testing.assert_array_equal(maps[1], rows[:, 1].reshape(SHAPE))  # its own scan's grid, row-major
        report = json.loads((tmp_path / "maps" / name / "latent_maps__dims0-2_full.json").read_text())
        assert report["inputs"]["latents"]["name"] == paths[name].name
    assert main(["maps", str(folder / "*__pca_latents.h5"), "--source", "q", "--dims", "0", "--out",
                 str(tmp_path / "one"), "--no-png"]) == 0
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["q"]

    for name, scan in scans.items():  # each scan's own grains, a reference of labels
        pd.DataFrame({"x": scan.x, "y": scan.y, "grain": scan.grain_id}).to_csv(tmp_path / f"{name}_grains.csv",
                                                                               index=False)
    assert main(["rank", *map(str, paths.values()), "--labels", str(tmp_path / "{source}_grains.csv"), "--metrics",
                 "ari", "--out", str(tmp_path / "rank"), "--no-figures"]) == 0
    for name in scans:
        scores = pd.read_csv(tmp_path / "rank" / name / "ranking_scores__ari_top10.csv")
        assert set(scores["reference"]) == {"grain"} and len(scores) == 8
    refused(["rank", *map(str, paths.values()), "--labels", tmp_path / "p_grains.csv", "--out", tmp_path / "no"],
            capsys, "is one scan's file, and the study has 3 sources: put {source} in its path")
    refused(["maps", *map(str, paths.values()), "--source", "s", "--out", tmp_path / "no"], capsys,
            "has no source 's': choose one of its sources p, q, r")


def test_the_mean_pattern_of_a_study_cluster_is_read_per_source_from_its_own_data_file(textured, tmp_path, capsys):
    from latentcore.demo.simulate import write_h5ebsd

    _, scans, paths = textured
    for name, scan in scans.items():
        write_h5ebsd(scan, tmp_path / f"{name}.h5")
    assert main(["cluster", *map(str, paths.values()), "--features", "latent", "--method", "kmeans", "--k", "6",
                 "--smooth", "1", "--out", str(tmp_path / "clusters"), "--no-png"]) == 0
    table = tmp_path / "clusters" / f"cluster_assignments__{TAG}.csv"
    assert main(["mean-pattern", *map(str, paths.values()), "--source", str(tmp_path / "{source}.h5"), "--table",
                 str(table), "--cluster", "2", "--out", str(tmp_path / "mean"), "--no-png"]) == 0
    clusters = pd.read_csv(table)
    for name, scan in scans.items():
        rows = clusters.loc[(clusters["source"] == name) & (clusters["cluster"] == 2), "row"].to_numpy()
        mean = np.load(tmp_path / "mean" / name / f"mean_pattern__{name}__cluster2.npy")
        np.testing.assert_allclose(mean[0], scan.patterns[rows].mean(axis=0, dtype=np.float64))  # (1, S, S)
    # one member's latents with the study's table: its own source's rows, as in the study's run
    assert main(["mean-pattern", str(paths["q"]), "--source", str(tmp_path / "q.h5"), "--table", str(table),
                 "--cluster", "2", "--out", str(tmp_path / "q"), "--no-png"]) == 0
    assert np.load(tmp_path / "q" / "mean_pattern__q__cluster2.npy").tobytes() == \
        np.load(tmp_path / "mean" / "q" / "mean_pattern__q__cluster2.npy").tobytes()
    line = refused(["mean-pattern", *map(str, paths.values()), "--source", tmp_path / "p.h5", "--rows", "0-9",
                    "--out", tmp_path / "no"], capsys, "p.h5 is one scan's file, and the study has 3 sources")
    assert line.endswith(f"put {{source}} in its path for a file per source ({tmp_path / '{source}.h5'})")


def test_labels_on_one_scan_are_predicted_over_the_study_with_each_sources_fractions(textured, tmp_path, capsys):
    _, scans, paths = textured
    p = scans["p"]
    labels = pd.DataFrame({"source": "p", "x_um": p.x, "y_um": p.y,
                           "label": np.where(p.grain_id == 3, "grain 3", "other")}).iloc[::4]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    assert main(["probe", *map(str, paths.values()), "--labels", str(tmp_path / "labels.csv"), "--smooth", "1",
                 "--out", str(tmp_path / "probe")]) == 0
    assert "\n  r: grain 3 " in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "probe" / "probe_predictions__logistic_smooth1.csv", keep_default_na=False)
    assert list(table.columns) == ["source", "row", "x_um", "y_um", "label", "probability", "given"]
    assert (table.loc[table["source"] != "p", "given"] == "").all()
    for name in ("q", "r"):  # scans no label was given on: the same orientation found there
        scan, mine = scans[name], table[table["source"] == name]
        interior = ~(scan.is_boundary | scan.is_bad)
        truth = np.where(scan.grain_id == 3, "grain 3", "other")
        assert (mine["label"].to_numpy()[interior] == truth[interior]).mean() > 0.97
    fractions = pd.read_csv(tmp_path / "probe" / "probe_fractions__logistic_smooth1.csv")
    assert list(fractions.columns) == ["source", "label", "count", "fraction"]
    np.testing.assert_allclose(fractions.groupby("source")["fraction"].sum(), 1.0)
    counted = table.groupby(["source", "label"]).size().to_dict()
    assert fractions.set_index(["source", "label"])["count"].to_dict() == counted
    report = json.loads((tmp_path / "probe" / "probe_report__logistic_smooth1.json").read_text())
    assert [m["name"] for m in report["study"]["members"]] == ["p", "q", "r"]
    assert report["fractions"]["r"]["counts"]["grain 3"] == counted[("r", "grain 3")]
    assert (tmp_path / "probe" / "probe_fractions__logistic_smooth1.png").is_file()
    figures = report["outputs"]["source_figures"]  # each scan's predicted labels and probability, on its own grid
    assert {name: figure["name"] for name, figure in figures.items()} == {
        name: f"probe_maps__logistic_smooth1__{name}.png" for name in "pqr"}
    assert all((tmp_path / "probe" / f["name"]).read_bytes()[:4] == b"\x89PNG" for f in figures.values())
    labels.drop(columns="source").to_csv(tmp_path / "plain.csv", index=False)
    refused(["probe", *map(str, paths.values()), "--labels", tmp_path / "plain.csv", "--out", tmp_path / "no"],
            capsys, "a study's labels name each row's source: give a table with columns source,row,label")


def test_a_study_smaller_than_the_sample_is_fitted_on_every_row(textured, tmp_path, capsys):
    _, _, paths = textured
    out = tmp_path / "three.parquet"
    assert main(["umap", *map(str, paths.values()), "--out", str(out)]) == 0  # 2,304 rows, a sample of 30,000
    assert "fitted on every one of the 2,304 rows" in capsys.readouterr().out
    table = pd.read_parquet(out)
    assert list(table.columns) == ["source", "row", "x_um", "y_um", "umap_0", "umap_1", "partition", "index"]
    assert np.isfinite(table[["umap_0", "umap_1"]].to_numpy()).all() and len(table) == 2304


def test_a_study_beyond_its_fit_sample_is_drawn_on_the_samples_principal_axes_said_and_near_every_rows(
        textured, tmp_path):
    """The Clusters page's run of a study (`run_cluster_tasks` with `drawn`, one source after another): beyond the fit
    sample the scatter's principal axes are the sample's, its titles say so, and they are near every row's."""
    from latentcore.analysis.artifacts.cluster import cluster_names
    from latentcore.analysis.artifacts.cluster_run import run_cluster_tasks
    from latentcore.study import make_study, read_study, write_study

    folder, _, paths = textured
    path = write_study(make_study("drawn", [str(path) for path in paths.values()]), folder)
    study = read_study(path)
    job = ClusterJob(latents=str(path), bandcontrast=None, method="kmeans", features="latent",
                     params={"n_clusters": 6, "max_fit_samples": 600})
    report, result, (inputs, labels, view) = run_cluster_tasks(job, study, tmp_path, None, png=False, drawn=True)
    assert report["sample"]["used"] and report["sample"]["size"] == 600 and report["run"] == "one source after another"
    assert (view.x_title, view.y_title) == tuple(f"PC{axis} (axes of the 600-row fit sample)" for axis in (1, 2))
    table = pd.read_csv(tmp_path / cluster_names(job)["assignments"])
    assert table["cluster"].tolist() == labels.tolist() and len(table) == 2304
    np.testing.assert_array_equal(inputs.sources, np.repeat([0, 1, 2], 768))
    every_row = PCA(2, random_state=0).fit_transform(table.filter(like="latent_").to_numpy())
    for axis, exact in zip((view.horizontal, view.vertical), every_row.T):  # a sample of 600 of 2,304 rows: 0.988
        assert abs(np.corrcoef(axis, exact)[0, 1]) > 0.98
