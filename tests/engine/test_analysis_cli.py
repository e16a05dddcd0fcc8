"""`python -m latentcore umap|maps|cluster|bandcontrast|rerun` on real files (via latentcore.cli.main)."""
import importlib.util
import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from latentcore.analysis.artifacts.cluster import ClusterJob
from latentcore.analysis.maps import Roi
from latentcore.cli import main
from latentcore.errors import InputError
from latentcore.latents import LatentsWriter, read_latents
from latentcore.storage import sha256_file


def write_latents(path, rows, x, y, grid_shape=(40, 60)):
    writer = LatentsWriter(path, {"all": rows.shape}, {"test": "pca"})
    writer.write_rows("all", 0, rows.astype(np.float32))
    writer.write_array("x", x)
    writer.write_array("y", y)
    writer.write_array("grid_shape", np.array(grid_shape))
    return writer.finish({"model": "pca-of-raw-patterns", "source": "ni_grains_h5ebsd.h5"})


@pytest.fixture(scope="module")
def scan_latents(ebsd_h5, tmp_path_factory):
    """PCA (8 dims) of the normalised raw patterns, with the scan's x, y: a latents file."""
    with h5py.File(ebsd_h5, "r") as f:
        patterns = f["Scan 1/EBSD/Data/patterns"][()].reshape(2400, -1).astype(np.float32)
        x = f["Scan 1/EBSD/CrystalMap/crystal_map/data/x"][()]
        y = f["Scan 1/EBSD/CrystalMap/crystal_map/data/y"][()]
    patterns = (patterns - patterns.mean(1, keepdims=True)) / patterns.std(1, keepdims=True)
    with threadpool_limits(1, user_api="blas"):
        rows = PCA(8, random_state=0).fit_transform(patterns)
    folder = tmp_path_factory.mktemp("latents")
    return write_latents(folder / "ni_grains_latents.h5", rows, x, y)


def test_cluster_writes_the_three_artifacts_and_rerun_reproduces_them_byte_for_byte(
        scan_latents, bandcontrast_csv, truth_csv, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["cluster", str(scan_latents), "--bandcontrast", str(bandcontrast_csv), "--dim", "0",
                 "--features", "latent", "--method", "kmeans", "--k", "6", "--out", str(out)])
    assert code == 0
    tag = "kmeans_latents_full"
    assert sorted(p.name for p in out.iterdir()) == [f"cluster_assignments__{tag}.csv",
                                                    f"cluster_pca__{tag}.png", f"cluster_report__{tag}.json"]
    table = pd.read_csv(out / f"cluster_assignments__{tag}.csv")
    # row ids (the UMAP table's), coordinates with their unit, every latent column clustered (whole vectors)
    assert list(table.columns) == ["row", "x_um", "y_um", *(f"latent_{d}" for d in range(8)), "bandcontrast",
                                   "cluster"]
    assert list(table["row"]) == list(range(2400))
    np.testing.assert_array_equal(table[[f"latent_{d}" for d in range(8)]].to_numpy(np.float32),
                                  read_latents(scan_latents).partitions["all"])
    truth, bc = pd.read_csv(truth_csv), pd.read_csv(bandcontrast_csv)
    np.testing.assert_array_equal(table["bandcontrast"], bc["bandcontrast"])
    good = truth["is_bad"] == 0
    assert adjusted_rand_score(truth["grain_id"][good], table["cluster"][good]) > 0.85  # measured 0.867

    report = json.loads((out / f"cluster_report__{tag}.json").read_text())
    assert report["method"] == "kmeans" and report["params"]["n_clusters"] == 6
    assert report["params"]["random_state"] == 0 and "n_init" in report["params"]
    assert report["counts"] == {str(k): int(v) for k, v in table["cluster"].value_counts().sort_index().items()}
    assert report["sample"]["used"] is False
    relative = Path(os.path.relpath(scan_latents, out)).as_posix()  # from the report's folder: no absolute path
    assert report["inputs"]["latents"] == {"name": scan_latents.name, "path": relative,
                                           "sha256": sha256_file(scan_latents)}
    assert report["job"]["latents"] == scan_latents.name and report["job"]["bandcontrast"] == bandcontrast_csv.name
    assert report["inputs"]["bandcontrast"]["sha256"] == sha256_file(bandcontrast_csv)
    assert report["versions"]["scikit-learn"] and report["versions"]["numpy"]
    assert report["outputs"]["assignments"]["name"] == f"cluster_assignments__{tag}.csv"
    figure = report["outputs"]["figure"]  # whole vectors: the clusters on their first two principal components
    assert figure == {**figure, "name": f"cluster_pca__{tag}.png", "view": "pca"}

    again = tmp_path / "again"
    capsys.readouterr()
    assert main(["rerun", str(out / f"cluster_report__{tag}.json"), "--out", str(again), "--no-png"]) == 0
    assert "byte-identical" in capsys.readouterr().out
    assert (again / f"cluster_assignments__{tag}.csv").read_bytes() == \
        (out / f"cluster_assignments__{tag}.csv").read_bytes()


@pytest.mark.parametrize("method, options", [
    ("gmm", ["--k", "auto", "--k-range", "2,4"]),
    ("hdbscan", ["--min-cluster-size", "20", "--min-samples", "5", "--max-fit-samples", "200"]),
])
def test_pair_clustering_on_an_roi_reruns_identically(scan_latents, bandcontrast_csv, tmp_path, method, options):
    out = tmp_path / "roi"
    assert main(["cluster", str(scan_latents), "--bandcontrast", str(bandcontrast_csv), "--dim", "1",
                 "--method", method, *options, "--roi", "0,30,0,20", "--out", str(out), "--no-png"]) == 0
    tag = f"{method}_dim1_roi0-30_0-20"
    table = pd.read_csv(out / f"cluster_assignments__{tag}.csv")
    assert list(table.columns) == ["row", "x_um", "y_um", "latent_1", "bandcontrast", "cluster"]  # the pair's dim
    assert len(table) == 294 and table["x_um"].max() == 30 and table["y_um"].max() == 19.5
    inside = Roi(0, 30, 0, 20).mask(read_latents(scan_latents).x, read_latents(scan_latents).y)
    assert list(table["row"]) == list(np.flatnonzero(inside))  # row ids of the whole file, not of the ROI
    np.testing.assert_allclose(table["latent_1"], read_latents(scan_latents).partitions["all"][inside, 1], rtol=1e-6)
    report = json.loads((out / f"cluster_report__{tag}.json").read_text())
    assert report["job"]["roi"] == [0, 30, 0, 20] and report["job"]["dim"] == 1
    if method == "hdbscan":
        # min_samples 5 is below the floor a sample may scale it to: every row is fitted, as said
        assert report["sample"] == {"used": False, "size": 294, "total": 294, "seed": 0}
        assert report["fit"]["sample_grown_from"] == 200
        assert report["fit"]["used"] == {"min_cluster_size": 20, "min_samples": 5, "cluster_selection_epsilon": 0.0}
        assert report["fit_summary"].startswith("hdbscan fitted on all 294 rows")
        assert "A sampled (faster) fit needs min_samples >= 15 and min_cluster_size >= 74" in report["warnings"][0]
    else:
        assert report["fit"]["n_components"] in (2, 3, 4) and set(report["fit"]["bic"]) == {"2", "3", "4"}
        assert set(report["fit"]["aic"]) == {"2", "3", "4"}
        assert bool(report["warnings"]) == (report["fit"]["best_at_edge"] is not None)
    csv = (out / f"cluster_assignments__{tag}.csv").read_bytes()
    assert main(["rerun", str(out / f"cluster_report__{tag}.json"), "--no-png"]) == 0  # into the same folder
    assert (out / f"cluster_assignments__{tag}.csv").read_bytes() == csv


def test_roi_latents_with_a_full_field_table_and_length_mismatch(scan_latents, bandcontrast_csv, tmp_path, capsys):
    latents = read_latents(scan_latents)
    inside = Roi(0, 30, 0, 20).mask(latents.x, latents.y)
    roi_file = write_latents(tmp_path / "roi_latents.h5", latents.partitions["all"][inside],
                             latents.x[inside], latents.y[inside])
    out = tmp_path / "out"
    assert main(["cluster", str(roi_file), "--bandcontrast", str(bandcontrast_csv), "--method", "gmm",
                 "--k", "3", "--out", str(out), "--no-png"]) == 0
    assert len(pd.read_csv(out / "cluster_assignments__gmm_dim0_full.csv")) == 294
    capsys.readouterr()
    # an ROI larger than the latents: the table's slice has more rows than the latents inside it
    assert main(["cluster", str(roi_file), "--bandcontrast", str(bandcontrast_csv), "--method", "gmm",
                 "--roi", "0,45,0,20", "--out", str(out), "--no-png"]) == 2
    error = capsys.readouterr().err
    assert "selects 434 rows" in error and "have 294 rows" in error and "ni_grains_bandcontrast.csv" in error


def test_rerun_refuses_changed_inputs(scan_latents, bandcontrast_csv, tmp_path, capsys):
    table = tmp_path / "bc.csv"
    shutil.copy(bandcontrast_csv, table)
    out = tmp_path / "out"
    assert main(["cluster", str(scan_latents), "--bandcontrast", str(table), "--method", "kmeans", "--k", "2",
                 "--out", str(out), "--no-png"]) == 0
    table.write_text(table.read_text().replace(",255\n", ",254\n"))
    capsys.readouterr()
    assert main(["rerun", str(out / "cluster_report__kmeans_dim0_full.json")]) == 2
    assert "input changed since the report" in capsys.readouterr().err


def test_options_of_another_method_are_refused(scan_latents, bandcontrast_csv, tmp_path, capsys):
    assert main(["cluster", str(scan_latents), "--bandcontrast", str(bandcontrast_csv), "--method", "gmm",
                 "--eps", "0.3", "--out", str(tmp_path)]) == 2
    assert "--eps does not apply to gmm" in capsys.readouterr().err


def test_maps_command_writes_npy_png_and_report(scan_latents, tmp_path):
    assert main(["maps", str(scan_latents), "--dims", "0-2,5", "--roi", "15,45,6,30", "--out", str(tmp_path)]) == 0
    tag = "dims0-2_5_roi15-45_6-30"
    maps = np.load(tmp_path / f"latent_maps__{tag}.npy")
    assert maps.shape == (4, 17, 21)  # y 6..30 -> 17 rows, x 15..45 -> 21 columns
    latents = read_latents(scan_latents)
    full = latents.partitions["all"][:, 5].reshape(40, 60)
    np.testing.assert_array_equal(maps[3], full[4:21, 10:31])
    assert (tmp_path / f"latent_maps__{tag}.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((tmp_path / f"latent_maps__{tag}.json").read_text())
    assert report["dims"] == [0, 1, 2, 5] and report["grid"]["n_rows"] == 17
    assert main(["maps", str(scan_latents), "--out", str(tmp_path / "all"), "--no-png"]) == 0
    assert np.load(tmp_path / "all" / "latent_maps__dims0-7_full.npy").shape == (8, 40, 60)


def test_umap_command_writes_a_table(scan_latents, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))  # the embedding cache
    out = tmp_path / "emb.parquet"
    assert main(["umap", str(scan_latents), "--method", "pca", "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    assert len(table) == 2400 and {"row", "pca_0", "pca_1", "x_um", "y_um", "index"} <= set(table.columns)
    assert table["pca_0"].dtype == np.float32
    assert main(["umap", str(scan_latents), "--method", "pca", "--out", str(tmp_path / "emb.csv")]) == 0
    np.testing.assert_allclose(pd.read_csv(tmp_path / "emb.csv")["pca_1"], table["pca_1"], rtol=1e-5)


def test_umap_of_one_file_is_the_umap_pages_fit_of_it_as_a_study_of_one(two_partitions, tmp_path, monkeypatch):
    """`umap FILE` embeds the file as the UMAP page does (its study of one, `study_embedding`): the same
    coordinates, each row beside its partition and metadata, and the fit's report beside the table."""
    from latentcore.analysis.embedding.study import study_embedding
    from latentcore.study import as_study

    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))  # the embedding cache
    _, latents = two_partitions
    assert main(["umap", str(latents), "--out", str(tmp_path / "e.parquet")]) == 0
    table = pd.read_parquet(tmp_path / "e.parquet")
    shown = study_embedding(as_study(str(latents)), cache_dir=False)
    np.testing.assert_array_equal(table[["umap_0", "umap_1"]].to_numpy(), shown.coords)
    assert list(table.columns) == ["row", "umap_0", "umap_1", "partition", "index", "lat", "lon"]  # the file's
    [report] = tmp_path.glob("cut_umap-*/report.json")
    assert json.loads(report.read_text())["sources"][0]["sha256"] == sha256_file(latents)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["umap", str(latents), "--method", "pca"]) == 0  # no --out: beside the file, named by its source
    assert (latents.parent / "cut_pca.parquet").is_file() and not list((tmp_path / "elsewhere").iterdir())


def test_bandcontrast_command_exports_kept_pixels(bandcontrast_csv, tmp_path, capsys):
    out = tmp_path / "kept.npy"
    assert main(["bandcontrast", str(bandcontrast_csv), "--threshold", "150", "--roi", "0,30,0,20",
                 "--out", str(out)]) == 0
    bc = pd.read_csv(bandcontrast_csv)
    expected = (bc["bandcontrast"] >= 150) & Roi(0, 30, 0, 20).mask(bc["x"], bc["y"])
    kept = np.load(out)
    assert kept.shape == (expected.sum(), 3)
    np.testing.assert_allclose(kept[:, :2], bc.loc[expected, ["x", "y"]].to_numpy())
    assert f"kept {expected.sum()} of 2400" in capsys.readouterr().out


def test_whole_vector_clusters_are_drawn_on_pc1_pc2_of_the_same_rows_or_on_their_umap(scan_latents,
                                                                                       bandcontrast_csv):
    from latentcore.analysis.artifacts.cluster import cluster_figure, cluster_inputs, cluster_names, scatter_view
    from latentcore.analysis.artifacts.cluster_run import load_inputs
    from latentcore.data.bandcontrast import BandContrast

    roi = Roi(10.0, 60.0, 5.0, 25.0)  # a part of the scan: the figure's points are the ROI's rows, in their order
    job = ClusterJob(latents=str(scan_latents), bandcontrast=None, method="kmeans", features="latent",
                     params={"n_clusters": 6}, roi=roi)
    inputs = load_inputs(job)
    labels = cluster_inputs(job, inputs).labels
    view = scatter_view(job, inputs)
    fig = cluster_figure(job, inputs.x, inputs.y, inputs.latent, view, labels, inputs.units)
    assert view.kind == "pca" and cluster_names(job, view.kind)["figure"] == f"cluster_pca__{job.tag}.png"
    assert (fig.layout.xaxis2.title.text, fig.layout.yaxis2.title.text) == ("PC1", "PC2")
    rows = read_latents(scan_latents).stacked()[0][inputs.rows]
    expected = PCA(2, random_state=0).fit_transform(rows.astype(np.float64))
    scatter = fig.data[1]
    assert len(scatter.x) == len(inputs.rows) < 2400
    assert np.allclose(scatter.x, expected[:, 0], atol=1e-4) and np.allclose(scatter.y, expected[:, 1], atol=1e-4)

    umap = np.random.default_rng(0).normal(size=(len(inputs.rows), 2)).astype(np.float32)  # the UMAP of these rows
    fig = cluster_figure(job, inputs.x, inputs.y, inputs.latent, scatter_view(job, inputs, umap), labels, inputs.units)
    assert (fig.layout.xaxis2.title.text, fig.layout.yaxis2.title.text) == ("UMAP 1", "UMAP 2")
    assert np.array_equal(fig.data[1].x, umap[:, 0]) and np.array_equal(fig.data[1].y, umap[:, 1])
    assert cluster_names(job, "umap")["figure"] == f"cluster_umap__{job.tag}.png"

    pair = ClusterJob(latents=str(scan_latents), bandcontrast=BandContrast.parse(str(bandcontrast_csv)),
                      method="kmeans", params={"n_clusters": 6})
    view = scatter_view(pair, load_inputs(pair))  # the pair keeps its latent against band contrast
    assert (view.kind, view.x_title, view.y_title) == ("latent_bc", "latent dim 0", "band contrast")


@pytest.fixture(scope="module")
def vae_latents(ebsd_h5, tmp_path_factory):
    """The demo VAE's latents of the demo scan (12 dims), extracted as the app does."""
    import torch

    from latentcore.demo import DEMO_MODEL
    from latentcore.extract import extract_file
    from latentcore.models import load_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return extract_file(ebsd_h5, load_model(DEMO_MODEL), tmp_path_factory.mktemp("vae"), batch_size=256,
                            device="cpu").path
    finally:
        torch.set_num_threads(threads)


def benchmark(name):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[2] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("which", ["vae", "pca"])
def test_smoothed_latent_clustering_finds_the_grains_and_reruns_identically(
        which, vae_latents, scan_latents, bandcontrast_csv, truth_csv, tmp_path, capsys):
    latents = vae_latents if which == "vae" else scan_latents
    out = tmp_path / "smooth"
    common = [str(latents), "--bandcontrast", str(bandcontrast_csv), "--method", "kmeans", "--k", "6",
              "--features", "latent"]
    png = [] if which == "vae" else ["--no-png"]  # the three artifacts once; the PNG takes seconds
    assert main(["cluster", *common, *png, "--smooth", "1", "--out", str(out)]) == 0
    tag = "kmeans_latents_smooth1_full"
    if which == "vae":
        assert sorted(p.name for p in out.iterdir()) == [f"cluster_assignments__{tag}.csv",
                                                        f"cluster_pca__{tag}.png", f"cluster_report__{tag}.json"]
    assert main(["cluster", *common, "--no-png", "--out", str(out)]) == 0  # unsmoothed, under its own name
    smoothed = pd.read_csv(out / f"cluster_assignments__{tag}.csv")["cluster"]
    raw = pd.read_csv(out / "cluster_assignments__kmeans_latents_full.csv")["cluster"]
    grains = pd.read_csv(truth_csv)["grain_id"]
    # every pixel counted, the 72 bad ones included; measured: VAE 0.986 (0.82 raw), PCA 1.000 (0.85 raw)
    assert adjusted_rand_score(grains, smoothed) >= 0.95
    assert adjusted_rand_score(grains, raw) < 0.9
    if which == "pca":  # benchmarks/train_quality.py scores exactly this clustering
        bench, scan = benchmark("train_quality"), read_latents(latents)
        good = pd.read_csv(truth_csv)["is_bad"].to_numpy() == 0
        for sigma, labels in ((1.0, smoothed), (0.0, raw)):
            assert bench.grain_ari(scan.partitions["all"], scan.x, scan.y, grains.to_numpy(), good, 6, sigma) == \
                adjusted_rand_score(grains[good], labels[good])

    report = json.loads((out / f"cluster_report__{tag}.json").read_text())
    assert report["job"]["smooth"] == 1.0
    assert report["smoothing"]["sigma"] == 1.0 and report["smoothing"]["units"] == "grid steps"
    capsys.readouterr()
    assert main(["rerun", str(out / f"cluster_report__{tag}.json"), "--out", str(tmp_path / "again"),
                 "--no-png"]) == 0
    assert "byte-identical" in capsys.readouterr().out  # the smoothing was honoured (raw labels differ)


def test_maps_smooth_writes_smoothed_maps_and_says_so(scan_latents, tmp_path):
    from latentcore.analysis.smoothing import smooth_maps

    assert main(["maps", str(scan_latents), "--dims", "0-1", "--roi", "15,45,6,30", "--smooth", "1.5",
                 "--out", str(tmp_path), "--no-png"]) == 0
    tag = "dims0-1_smooth1.5_roi15-45_6-30"
    maps = np.load(tmp_path / f"latent_maps__{tag}.npy")
    full = read_latents(scan_latents).partitions["all"][:, :2].T.reshape(2, 40, 60)
    np.testing.assert_allclose(maps, smooth_maps(full[:, 4:21, 10:31], 1.5), rtol=1e-6)  # the ROI alone smoothed
    assert not np.allclose(maps, full[:, 4:21, 10:31])
    report = json.loads((tmp_path / f"latent_maps__{tag}.json").read_text())
    assert report["smoothing"]["sigma"] == 1.5 and report["smoothing"]["truncate"] == 4.0


def test_whole_vectors_cluster_without_band_contrast_join_the_umap_table_and_rerun(scan_latents, tmp_path,
                                                                                   monkeypatch, capsys):
    """A scan's latents alone (no map, no table): `--features latent` needs no band contrast."""
    out = tmp_path / "nobc"
    assert main(["cluster", str(scan_latents), "--features", "latent", "--method", "kmeans", "--k", "4",
                 "--roi", "0,30,0,20", "--out", str(out), "--no-png"]) == 0
    tag = "kmeans_latents_roi0-30_0-20"
    table = pd.read_csv(out / f"cluster_assignments__{tag}.csv")
    assert list(table.columns) == ["row", "x_um", "y_um", *(f"latent_{d}" for d in range(8)), "cluster"]
    report = json.loads((out / f"cluster_report__{tag}.json").read_text())
    assert report["job"]["bandcontrast"] is None and report["inputs"]["bandcontrast"] is None
    assert report["outputs"]["assignments"]["columns"] == list(table.columns)
    assert report["model"] == {"name": "pca-of-raw-patterns", "sha256": ""}

    # its rows join the UMAP table's by `row`: the same pixel, the same latents
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    assert main(["umap", str(scan_latents), "--method", "pca", "--out", str(tmp_path / "umap.csv")]) == 0
    umap = pd.read_csv(tmp_path / "umap.csv")
    joined = table.merge(umap, on="row", suffixes=("", "_umap"), validate="one_to_one")
    assert len(joined) == len(table) == 294
    np.testing.assert_array_equal(joined["x_um"], joined["x_um_umap"])
    np.testing.assert_array_equal(joined["y_um"], joined["y_um_umap"])
    np.testing.assert_array_equal(joined[[f"latent_{d}" for d in range(8)]].to_numpy(np.float32),
                                  read_latents(scan_latents).partitions["all"][joined["row"]])

    capsys.readouterr()
    assert main(["rerun", str(out / f"cluster_report__{tag}.json"), "--out", str(tmp_path / "again"),
                 "--no-png"]) == 0
    assert "byte-identical" in capsys.readouterr().out

    # the pair features still need band contrast: the scan's own map by default, which this file lacks
    assert main(["cluster", str(scan_latents), "--method", "kmeans", "--out", str(out), "--no-png"]) == 2
    with pytest.raises(InputError, match="pairs needs band contrast"):
        ClusterJob(latents=str(scan_latents), bandcontrast=None, method="kmeans")


def test_cutout_latents_without_coordinates_cluster_as_whole_vectors(tmp_path, capsys):
    """Cutouts (two partitions, no x, y): whole vectors cluster; row ids count on across partitions."""
    rng = np.random.default_rng(0)
    valid = np.r_[rng.normal(0, 0.1, (30, 4)), rng.normal(3, 0.1, (30, 4))].astype(np.float32)
    train = np.r_[rng.normal(0, 0.1, (20, 4)), rng.normal(3, 0.1, (20, 4))].astype(np.float32)
    writer = LatentsWriter(tmp_path / "cutouts_latents.h5", {"valid": valid.shape, "train": train.shape}, {"t": 1})
    writer.write_rows("valid", 0, valid)
    writer.write_rows("train", 0, train)
    latents = writer.finish({"model": "nenya.pt", "model_sha256": "ab" * 32})
    out = tmp_path / "out"
    assert main(["cluster", str(latents), "--features", "latent", "--method", "kmeans", "--k", "2",
                 "--partition", "train", "--out", str(out)]) == 0  # no --no-png: there is no scan to draw
    assert sorted(p.name for p in out.iterdir()) == ["cluster_assignments__kmeans_latents_full.csv",
                                                    "cluster_report__kmeans_latents_full.json"]
    table = pd.read_csv(out / "cluster_assignments__kmeans_latents_full.csv")
    assert list(table.columns) == ["row", "latent_0", "latent_1", "latent_2", "latent_3", "cluster"]
    assert list(table["row"]) == list(range(60, 100))  # after the 60 valid rows, as the UMAP table counts
    assert table["cluster"].nunique() == 2
    report = json.loads((out / "cluster_report__kmeans_latents_full.json").read_text())
    assert report["outputs"]["figure"] is None and report["model"] == {"name": "nenya.pt", "sha256": "ab" * 32}
    capsys.readouterr()
    assert main(["rerun", str(out / "cluster_report__kmeans_latents_full.json"), "--out", str(tmp_path / "again")]) == 0
    assert "byte-identical" in capsys.readouterr().out
    assert main(["cluster", str(latents), "--features", "latent", "--method", "kmeans", "--roi", "0,1,0,1",
                 "--out", str(out)]) == 2
    assert "no x, y coordinates: clustering with an ROI needs a scan" in capsys.readouterr().err


@pytest.fixture
def two_partitions(tmp_path):
    """A cutout file of `valid` (60 items of 0.0) and `train` (40 of 1.0) and its latents, both partitions."""
    from latentcore.storage import sha256_path

    source = tmp_path / "cut.h5"
    with h5py.File(source, "w") as f:
        f["valid"], f["train"] = np.zeros((60, 1, 8, 8), np.float32), np.ones((40, 1, 8, 8), np.float32)
    rng = np.random.default_rng(0)
    valid, train = rng.normal(0, 1, (60, 4)).astype(np.float32), rng.normal(3, 1, (40, 4)).astype(np.float32)
    writer = LatentsWriter(tmp_path / "cut__m_latents.h5", {"valid": valid.shape, "train": train.shape}, {})
    writer.write_rows("valid", 0, valid)
    writer.write_rows("train", 0, train)
    for name, rows in (("valid", 60), ("train", 40)):  # a Nenya file's metadata: each cutout's place
        writer.write_metadata(name, pd.DataFrame({"lat": np.linspace(-10, 10, rows), "lon": np.full(rows, 5.0)}))
    return source, writer.finish({"model": "m", "model_sha256": "ab" * 32, "source": "cut.h5",
                                  "source_sha256": sha256_path(source)})


@pytest.mark.parametrize("partitions", ["train", "train,valid"])
def test_the_embeddings_rows_are_the_files_row_ids_whichever_partitions_it_embeds(two_partitions, tmp_path,
                                                                                   partitions):
    """`umap --partitions` embeds those partitions' rows alone, each named by its id in the file (every partition
    stacked in the file's order), as the cluster tables do: a table of `train`'s rows names rows 60..99, and the
    mean pattern of its rows is `train`'s."""
    source, latents = two_partitions
    assert main(["umap", str(latents), "--method", "pca", "--partitions", partitions,
                 "--out", str(tmp_path / "e.csv")]) == 0
    table = pd.read_csv(tmp_path / "e.csv")
    expected = {"train": list(range(60, 100)), "train,valid": list(range(100))}[partitions]  # the file's order
    assert table["row"].tolist() == expected
    in_train = (table["partition"] == "train").to_numpy()
    np.testing.assert_array_equal(table.loc[in_train, "lat"], np.linspace(-10, 10, 40))  # each row's own metadata
    train = tmp_path / "train.csv"
    table[in_train].to_csv(train, index=False)
    assert main(["mean-pattern", str(latents), "--source", str(source), "--table", str(train), "--no-png",
                 "--out", str(tmp_path / "mean")]) == 0
    assert np.unique(np.load(next((tmp_path / "mean").glob("*.npy")))).tolist() == [1.0]
    assert main(["cluster", str(latents), "--features", "latent", "--method", "kmeans", "--k", "2", "--no-png",
                 "--partition", "train", "--out", str(tmp_path / "clusters")]) == 0
    clusters = pd.read_csv(next((tmp_path / "clusters").glob("cluster_assignments__*.csv")))
    assert clusters["row"].tolist() == list(range(60, 100))
