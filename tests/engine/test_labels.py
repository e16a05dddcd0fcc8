"""Labels (issue 23): labels tables, the probe over the whole scan, labelled training sets, two latents compared.

The demo scan's latents are extracted with the demo's own VAE (a few seconds); labels are 20 good pixels per grain
of its ground truth (tests/data/ebsd/ni_grains_truth.csv)."""
import json

import h5py
import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.labels.labelled import (
    LabelledRows,
    check_classes,
    codes_per_row,
    empty_labels,
    from_clustering,
    labels_table,
    match_labels,
    read_labels_table,
    renamed,
    with_label,
    without_class,
    without_rows,
    write_labels,
)
from latentcore.analysis.labels.probe import (
    UNKNOWN,
    UNKNOWN_CODE,
    clustering_agreement,
    compare_latents,
    probe,
    probe_features,
)
from latentcore.analysis.labels.trainset import export_training_set, stratified_split
from latentcore.cli import main
from latentcore.data import open_source
from latentcore.demo import DEMO_MODEL
from latentcore.errors import InputError
from latentcore.latents import LatentsWriter, read_latents
from latentcore.outputs import latents_path_for


@pytest.fixture(scope="module")
def demo_latents(tmp_path_factory, ebsd_h5):
    out = tmp_path_factory.mktemp("labels")
    assert main(["extract", str(ebsd_h5), "--model", str(DEMO_MODEL), "--out", str(out), "--device", "cpu"]) == 0
    return latents_path_for(ebsd_h5, out, model="demo-vae")  # the name the demo VAE's checkpoint records


@pytest.fixture(scope="module")
def truth(truth_csv):
    return pd.read_csv(truth_csv)


@pytest.fixture(scope="module")
def labelled_rows(truth):
    grain, good = truth["grain_id"].to_numpy(), truth["is_bad"].to_numpy() == 0
    rng = np.random.default_rng(0)
    return np.concatenate([rng.choice(np.flatnonzero(good & (grain == k)), 20, replace=False)
                           for k in np.unique(grain)])


@pytest.fixture(scope="module")
def labels_csv(tmp_path_factory, truth, labelled_rows):
    path = tmp_path_factory.mktemp("labels_csv") / "labels.csv"
    rows = labelled_rows[np.random.default_rng(1).permutation(len(labelled_rows))]  # any order: matched by x, y
    pd.DataFrame({"x": truth["x"][rows], "y": truth["y"][rows],
                  "label": [f"grain {k}" for k in truth["grain_id"][rows]]}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("method", ["logistic", "knn"])
def test_probe_smooth_1_predicts_the_grain_of_every_other_good_pixel(demo_latents, labels_csv, truth,
                                                                   labelled_rows, tmp_path, method):
    args = ["probe", str(demo_latents), "--labels", str(labels_csv), "--out", str(tmp_path), "--smooth", "1",
            "--method", method]
    assert main(args + (["--no-png"] if method == "knn" else [])) == 0
    tag = f"{method}_smooth1"
    predictions = pd.read_csv(tmp_path / f"probe_predictions__{tag}.csv", keep_default_na=False)
    assert list(predictions.columns) == ["row", "x_um", "y_um", "label", "probability", "given"]
    assert len(predictions) == 2400 and np.allclose(predictions[["x_um", "y_um"]], truth[["x", "y"]])
    others = np.ones(2400, bool)
    others[labelled_rows] = False
    others &= truth["is_bad"].to_numpy() == 0
    expected = "grain " + truth["grain_id"].astype(str)
    accuracy = (predictions["label"] == expected)[others].mean()
    assert accuracy >= 0.95  # measured: logistic 0.990, knn 0.99
    assert (predictions["given"][labelled_rows] == expected[labelled_rows]).all()
    assert (predictions["given"][~np.isin(np.arange(2400), labelled_rows)] == "").all()
    assert predictions["probability"].between(1 / 6, 1).all()
    report = json.loads((tmp_path / f"probe_report__{tag}.json").read_text())
    assert report["kind"] == "probe" and report["n_labelled"] == 120 and report["smoothing"]["sigma"] == 1
    assert report["inputs"]["latents"]["sha256"] and report["inputs"]["labels"]["sha256"]
    assert report["versions"]["scikit-learn"] and report["job"]["method"] == method
    confusion = np.array(report["cross_validation"]["confusion_matrix"])
    assert confusion.shape == (6, 6) and confusion.sum() == 120 and (confusion.sum(axis=1) == 20).all()
    assert report["cross_validation"]["accuracy_mean"] > 0.85
    if method == "logistic":
        assert (tmp_path / f"probe_maps__{tag}.png").read_bytes()[:4] == b"\x89PNG"


def test_probe_is_seeded_and_smoothing_helps(demo_latents, labels_csv, truth, labelled_rows):
    latents = read_latents(demo_latents)
    labelled = match_labels(read_labels_table(labels_csv), 2400, latents.x, latents.y)
    assert sorted(labelled.rows) == sorted(labelled_rows)
    raw, smoothed = (probe(probe_features(latents, s)[0], labelled) for s in (0, 1))
    again = probe(probe_features(latents, 1)[0], labelled)
    assert again.cv == smoothed.cv and np.array_equal(again.predicted, smoothed.predicted)
    truth_names = np.array([f"grain {k}" for k in truth["grain_id"]])
    good = truth["is_bad"].to_numpy() == 0
    assert (smoothed.predicted_names() == truth_names)[good].mean() > (raw.predicted_names() == truth_names)[good].mean()


def test_the_app_probe_task_reports_rows_predicted(demo_latents, labels_csv, tmp_path, monkeypatch):
    from latentcore.analysis.labels import probe as probe_module
    from ui.compute import tasks

    monkeypatch.setattr(probe_module, "PREDICT_BLOCK", 1000)  # three blocks of the demo's 2,400 rows
    told = []
    result = tasks.probe_run((str(demo_latents),), (str(labels_csv),), "logistic", 0.0, str(tmp_path),
                             progress=lambda fraction, message: told.append((fraction, message)))
    predicted = [m for _, m in told if "rows predicted" in m]
    assert predicted == [f"logistic probe: {done:,} of 2,400 rows predicted" for done in (1000, 2000, 2400)]
    assert [f for f, _ in told] == sorted(f for f, _ in told) and len(result["predicted"]) == 2400


@pytest.mark.parametrize("method", ["logistic", "knn"])
def test_a_confidence_threshold_makes_the_rows_below_it_unknown_and_counts_them(demo_latents, labels_csv,
                                                                                 tmp_path, method):
    args = ["probe", str(demo_latents), "--labels", str(labels_csv), "--method", method, "--no-png"]
    assert main(args + ["--out", str(tmp_path / "all")]) == 0
    everyone = pd.read_csv(tmp_path / "all" / f"probe_predictions__{method}.csv", keep_default_na=False)
    assert (everyone["label"] != UNKNOWN).all() and (everyone["label"] != "").all()  # threshold 0: all labelled
    report = json.loads((tmp_path / "all" / f"probe_report__{method}.json").read_text())
    assert report["job"]["min_confidence"] == 0 and report["unknown"]["n_rows"] == 0
    threshold = float(np.quantile(everyone["probability"], 0.2))  # about a fifth of the rows fall below
    assert main(args + ["--out", str(tmp_path / "cut"), "--min-confidence", f"{threshold:.6f}"]) == 0
    tag = f"{method}_conf{float(f'{threshold:.6f}'):g}"
    cut = pd.read_csv(tmp_path / "cut" / f"probe_predictions__{tag}.csv", keep_default_na=False)
    below = everyone["probability"] < float(f"{threshold:.6f}")
    assert 0 < below.sum() < len(cut)
    assert (cut["label"][below] == UNKNOWN).all()
    assert (cut["label"][~below] == everyone["label"][~below]).all()  # the others keep their class
    assert np.array_equal(cut["probability"], everyone["probability"])  # the probability is still told
    report = json.loads((tmp_path / "cut" / f"probe_report__{tag}.json").read_text())
    assert report["job"]["min_confidence"] == pytest.approx(threshold, abs=1e-6)
    assert report["unknown"] == {**report["unknown"], "label": UNKNOWN, "n_rows": int(below.sum())}
    assert sum(report["predicted_counts"].values()) + int(below.sum()) == len(cut)


def test_knn_probability_is_the_share_of_neighbours_voting_for_the_class(demo_latents, labels_csv):
    latents = read_latents(demo_latents)
    labelled = match_labels(read_labels_table(labels_csv), 2400, latents.x, latents.y)
    result = probe(probe_features(latents)[0], labelled, "knn", params={"n_neighbors": 10})
    assert result.params == {"n_neighbors": 10, "weights": "uniform"}
    assert np.allclose(result.probabilities * 10, np.round(result.probabilities * 10), atol=1e-5)  # k-ths
    strict = probe(probe_features(latents)[0], labelled, "knn", params={"n_neighbors": 10}, min_confidence=0.95)
    assert np.array_equal(strict.predicted == UNKNOWN_CODE, result.probability < 0.95)  # fewer than 10 of 10 agree
    assert strict.n_unknown == int((result.probability < 0.95).sum()) > 0


def test_a_class_called_unknown_or_a_threshold_outside_0_1_is_refused(demo_latents, labels_csv):
    latents = read_latents(demo_latents)
    labelled = match_labels(read_labels_table(labels_csv), 2400, latents.x, latents.y)
    features = probe_features(latents)[0]
    with pytest.raises(InputError, match="from 0 to 1"):
        probe(features, labelled, min_confidence=1.5)
    called_unknown = renamed(labelled, labelled.classes[0], UNKNOWN)
    with pytest.raises(InputError, match="called 'unknown'"):
        probe(features, called_unknown, min_confidence=0.5)
    assert UNKNOWN in probe(features, called_unknown).predicted_names()  # at 0 it is a class like any other


def test_the_app_probe_task_reads_unknown_rows_back(demo_latents, labels_csv, tmp_path):
    from ui.compute import tasks

    result = tasks.probe_run((str(demo_latents),), (str(labels_csv),), "knn", 0.0, str(tmp_path),
                             progress=lambda fraction, message: None, min_confidence=0.95)
    unknown = result["predicted"] == UNKNOWN_CODE
    assert unknown.sum() == result["report"]["unknown"]["n_rows"] > 0
    assert (result["probability"][unknown] < 0.95).all() and (result["predicted"] >= UNKNOWN_CODE).all()


def test_the_probe_map_draws_unknown_rows_grey_and_names_them(demo_latents):
    from latentcore.analysis.maps import Grid
    from latentcore.figures.colours import NOISE_GREY
    from latentcore.figures.labels import probe_maps

    latents = read_latents(demo_latents)
    predicted = np.arange(2400) % 3
    predicted[:100] = UNKNOWN_CODE
    fig = probe_maps(latents.x, latents.y, predicted, np.full(2400, 0.5), Grid.from_coordinates(latents.x, latents.y),
                     ["a", "b", "c"])
    labels = fig.data[0]
    assert list(labels.colorbar.ticktext) == ["a", "b", "c", UNKNOWN] and labels.zmax == 3.5
    assert labels.colorscale[-1][1] == NOISE_GREY
    assert (np.asarray(labels.z, float) == 3).sum() == 100  # the unknown rows, on the grey category


def test_a_studys_labels_give_a_scan_its_own_sources_and_another_sources_alone_are_refused(
        demo_latents, ebsd_h5, labels_csv, tmp_path, capsys):
    """A study's labels (a `source` column) name each source's own pixels: `export`, `probe` and `rank` on one scan
    take its own source's, named as its file (`ni_grains_h5ebsd`), and refuse a table of another source alone,
    which once ran as this scan's labels."""
    from latentcore.analysis.references import read_reference_file
    from latentcore.latents import read_latents

    table = pd.read_csv(labels_csv)
    mine, other = tmp_path / "mine.csv", tmp_path / "other.csv"
    table.assign(source="ni_grains_h5ebsd").to_csv(mine, index=False)
    table.assign(source="q").to_csv(other, index=False)
    for labels, code in ((mine, 0), (other, 2)):
        assert main(["export", str(ebsd_h5), "--labels", str(labels), "--out", str(tmp_path / f"{code}.npz")]) == code
        assert main(["probe", str(demo_latents), "--labels", str(labels), "--no-png",
                     "--out", str(tmp_path / f"probe{code}")]) == code
    said = capsys.readouterr().err
    assert "the table is a study's, of the sources q, and none is 'ni_grains_h5ebsd'" in said  # export
    assert "the labels name the source 'q', which these latents do not hold" in said  # probe
    lat = read_latents(demo_latents)
    clusters = tmp_path / "clusters.csv"
    pd.DataFrame({"source": "q", "x": lat.x, "y": lat.y, "cluster": 0}).to_csv(clusters, index=False)
    with pytest.raises(InputError, match="none is 'ni_grains_h5ebsd'"):
        read_reference_file(f"{clusters}:cluster", lat.x, lat.y, len(lat.x), own="ni_grains_h5ebsd")


def test_export_of_the_latents_of_one_partition_takes_their_rows_items(tmp_path, capsys):
    """Labels by row name the rows of the latents they were made on: latents of a cutout file's `train` only
    (`extract --partitions train`) number train's items from 0, and `export --latents` writes train's items (where
    rows counted over every partition would be valid's); latents of part of a partition are refused."""
    from latentcore.storage import sha256_path

    source = tmp_path / "cut.h5"
    with h5py.File(source, "w") as f:
        f["valid"], f["train"] = np.zeros((30, 1, 8, 8), np.float32), np.ones((40, 1, 8, 8), np.float32)
    values = np.random.default_rng(0).normal(0, 1, (40, 4)).astype(np.float32)
    made = {}
    for name, rows in (("train", 40), ("part", 20)):
        writer = LatentsWriter(tmp_path / f"{name}__m_latents.h5", {"train": (rows, 4)}, {})
        writer.write_rows("train", 0, values[:rows])
        made[name] = writer.finish({"model": "m", "source": "cut.h5", "source_sha256": sha256_path(source)})
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"row": range(10), "label": ["a"] * 5 + ["b"] * 5}).to_csv(labels, index=False)
    assert main(["export", str(source), "--labels", str(labels), "--latents", str(made["train"]),
                 "--out", str(tmp_path / "set.npz")]) == 0
    with np.load(tmp_path / "set.npz") as npz:
        assert np.unique(npz["X"]).tolist() == [1.0] and npz["rows"].tolist() == list(range(10))
    assert main(["export", str(source), "--labels", str(labels), "--latents", str(made["part"]),
                 "--out", str(tmp_path / "no.npz")]) == 2
    assert "holds 20 rows of train (the source has 40): latents of part of a partition" in capsys.readouterr().err
    assert not (tmp_path / "no.npz").exists()


def test_a_files_own_source_is_named_as_a_study_names_it():
    from latentcore.outputs import own_source_name

    assert own_source_name("/data/a.b__pca_latents.h5") == "a.b"  # a latents file: its source, dots and all
    assert own_source_name("/data/a.b.h5") == "a.b" and own_source_name("scan_preproc.h5") == "scan"
    assert own_source_name("s3://bucket/series/q__demo-vae_latents.h5") == "q"


def test_export_npz_holds_the_source_rows_byte_for_byte_and_the_npz_reader_opens_it(ebsd_h5, labels_csv,
                                                                                   labelled_rows, truth, tmp_path):
    out = tmp_path / "subset.npz"
    assert main(["export", str(ebsd_h5), "--labels", str(labels_csv), "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    rows = np.sort(labelled_rows)
    assert np.array_equal(arrays["rows"], rows)
    with open_source(ebsd_h5) as reader:
        source_items = reader.read_rows("all", rows)
    assert arrays["X"].reshape(-1, *arrays["item_shape"]).tobytes() == source_items.tobytes()
    assert list(arrays["labels"]) == [f"grain {k}" for k in range(6)]
    assert np.array_equal(arrays["y"], truth["grain_id"].to_numpy()[rows])
    assert np.array_equal(arrays["coord_x"], truth["x"].to_numpy()[rows])
    train, test = arrays["idx_train"], arrays["idx_test"]
    assert len(test) == 24 and np.intersect1d(train, test).size == 0 and len(train) + len(test) == 120
    assert (np.bincount(arrays["y"][test]) == 4).all()  # stratified: 4 of each grain's 20
    with open_source(out) as reader:  # the project's NPZ reader
        assert reader.format_name == "npz" and reader.info().partitions == {"all": 120, "train": 96, "test": 24}
        assert np.array_equal(reader.read("test", 0, 24), arrays["X"][test])
        assert np.array_equal(reader.labels("all"), arrays["y"])
    again = tmp_path / "again.npz"
    export_training_set(ebsd_h5, labels_csv, again)
    with np.load(again) as npz:
        assert np.array_equal(npz["idx_test"], test)  # seeded


def test_export_h5_is_the_nenya_layout_with_the_label_in_its_metadata(ebsd_h5, labels_csv, labelled_rows, tmp_path):
    out = tmp_path / "subset.h5"
    summary = export_training_set(ebsd_h5, labels_csv, out, test_fraction=0.25, random_state=3)
    assert summary["n_train"] == 90 and summary["n_test"] == 30
    rows = np.sort(labelled_rows)
    with open_source(out) as reader, open_source(ebsd_h5) as source:
        assert reader.format_name == "nenya" and reader.info().partitions == {"valid": 30, "train": 90}
        for part in ("train", "valid"):
            table = reader.metadata(part)
            assert list(table.columns) == ["label", "label_index", "row", "x", "y"]
            items = reader.read(part, 0, reader.count(part))
            assert items.tobytes() == source.read_rows("all", table["row"].to_numpy()).tobytes()
            assert (table["label"] == "grain " + table["label_index"].astype(str)).all()
        assert set(reader.metadata("train")["row"]) | set(reader.metadata("valid")["row"]) == set(rows)
    with h5py.File(out) as f:
        assert json.loads(f.attrs["labels"]) == [f"grain {k}" for k in range(6)]


def test_export_streams_in_blocks_with_the_same_bytes(ebsd_h5, labels_csv, tmp_path, monkeypatch):
    from latentcore.analysis.labels import trainset

    whole = {suffix: export_training_set(ebsd_h5, labels_csv, tmp_path / f"whole.{suffix}") for suffix in ("npz", "h5")}
    monkeypatch.setattr(trainset, "BLOCK", 7)  # 120 rows: 18 blocks, the last one short
    for suffix in whole:
        export_training_set(ebsd_h5, labels_csv, tmp_path / f"blocks.{suffix}")
        with open_source(tmp_path / f"whole.{suffix}") as a, open_source(tmp_path / f"blocks.{suffix}") as b:
            for part in a.partitions:
                assert a.read(part, 0, a.count(part)).tobytes() == b.read(part, 0, b.count(part)).tobytes()


def test_cutouts_are_labelled_by_row_and_keep_their_metadata(sst_h5, tmp_path):
    labels = tmp_path / "cutout_labels.csv"
    pd.DataFrame({"row": [0, 1, 2, 12, 13, 14, 17], "label": ["front"] * 3 + ["calm"] * 4}).to_csv(labels, index=False)
    out = tmp_path / "fronts.h5"
    export_training_set(sst_h5, labels, out, test_fraction=0.3)
    with open_source(out) as reader, open_source(sst_h5) as source:
        both = pd.concat([reader.metadata("train"), reader.metadata("valid")])
        assert sorted(both["row"]) == [0, 1, 2, 12, 13, 14, 17]
        assert "UID" in both.columns  # the cutouts' own metadata travels with them
        train = reader.metadata("train")
        for i, row in enumerate(train["row"]):
            partition, index = ("valid", row) if row < 12 else ("train", row - 12)
            assert np.array_equal(reader.read("train", i, i + 1)[0], source.read(partition, index, index + 1)[0])
            assert train["UID"].iloc[i] == source.metadata(partition)["UID"].iloc[index]


def bad(tmp_path, name, table):
    path = tmp_path / name
    pd.DataFrame(table).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("table, message", [
    ({"x": [0.0, 1.5, 200.0], "y": [0.0, 0.0, 0.0], "label": ["a", "a", "b"]},
     "1 labelled coordinates are not pixels of the scan (first: x=200, y=0"),
    ({"x": [1000.0, 1001.5, 1003.0, 1004.5], "y": [5.0] * 4, "label": ["a", "a", "b", "b"]},
     "a labels file for another scan: none of its 4 coordinates is a pixel of this scan"),
    ({"x": [0.0, 1.5, 3.0], "y": [0.0, 0.0, 0.0], "label": ["a", "a", "a"]}, "one class only ('a')"),
    ({"x": [0.0, 1.5, 3.0], "y": [0.0, 0.0, 0.0], "label": ["a", "a", "b"]}, "class 'b' has 1 row: every class"),
    ({"x": [0.0, 0.0, 3.0, 4.5], "y": [0.0] * 4, "label": ["a", "b", "b", "a"]},
     "pixel (0, 0) is labelled twice, as 'a' and 'b'"),
    ({"x": [0.0, 1.5], "y": [0.0, 0.0], "name": ["a", "b"]}, "a labels table needs columns x_um,y_um,label"),
    ({"row": [5000, 5001, 5002, 5003], "label": ["a", "a", "b", "b"]},
     "a labels file for another file: none of its 4 rows"),
    ({"x": [0.0, "left"], "y": [0.0, 0.0], "label": ["a", "b"]}, "column 'x' must hold numbers; line 3 has 'left'"),
    ({"x": [0.0, 1.5], "y": [0.0, 0.0], "label": ["a", ""]}, "1 rows have an empty label (first: line 3)"),
])
def test_bad_labels_get_one_line_naming_the_file(demo_latents, ebsd_h5, tmp_path, capsys, table, message):
    path = bad(tmp_path, "bad_labels.csv", table)
    for args in (["probe", str(demo_latents), "--out", str(tmp_path / "o")],
                 ["export", str(ebsd_h5), "--out", str(tmp_path / "o.npz")]):
        assert main([*args, "--labels", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "bad_labels.csv: " in err and message in err, err
    assert not (tmp_path / "o.npz").exists() and not list(tmp_path.glob("o/*"))


def test_labels_table_columns_in_any_case_with_a_bom(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffX,Y,Label\n0,0,grain a\n1.5,0,grain b\n".encode())
    table = read_labels_table(path)
    assert list(table.columns) == ["x", "y", "label"] and table["label"].tolist() == ["grain a", "grain b"]
    assert match_labels(table, 4, [0.0, 1.5, 0.0, 1.5], [0.0, 0.0, 1.5, 1.5]).rows.tolist() == [0, 1]


@pytest.mark.parametrize("header", ["x,y,label", "x_um,y_um,label", "row,x_um,y_um,label", "X_um,Y_um,Label"])
def test_the_labels_reader_takes_x_y_and_x_um_y_um(tmp_path, header):
    """Coordinates spelt as other tools write them (`x,y`) or as this project does (`x_um,y_um`) match the same
    pixels; with `row` as well, the coordinates decide (row ids 7 and 9 are not these pixels)."""
    lines = ["7,0,1.5,grain a", "9,1.5,0,grain b"] if header.startswith("row") else ["0,1.5,grain a", "1.5,0,grain b"]
    path = tmp_path / "labels.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    table = read_labels_table(path)
    assert {"x", "y", "label"} <= set(table.columns)
    labelled = match_labels(table, 4, [0.0, 1.5, 0.0, 1.5], [0.0, 0.0, 1.5, 1.5], path)
    assert labelled.rows.tolist() == [1, 2] and labelled.names.tolist() == ["grain b", "grain a"]


def test_labels_table_round_trip_and_row_tables(tmp_path):
    x, y = np.array([0.0, 1.5, 0.0, 1.5]), np.array([0.0, 0.0, 1.5, 1.5])
    table = labels_table([3, 0, 1], ["b", "a", "a"], x, y, "um")
    assert table.to_dict("list") == {"row": [0, 1, 3], "x_um": [0.0, 1.5, 1.5], "y_um": [0.0, 0.0, 1.5],
                                     "label": ["a", "a", "b"]}
    read = read_labels_table(write_labels(tmp_path / "labels.csv", table))
    labelled = match_labels(read, 4, x, y)
    assert labelled.rows.tolist() == [0, 1, 3] and labelled.classes == ["a", "b"] and labelled.y.tolist() == [0, 0, 1]
    rows = labels_table([2, 0], ["n", "m"])
    assert rows.to_dict("list") == {"row": [0, 2], "label": ["m", "n"]}
    assert match_labels(rows, 4).rows.tolist() == [0, 2]
    with pytest.raises(InputError, match="rows have none"):
        match_labels(read.drop(columns="row"), 4)
    with pytest.raises(InputError, match="class 'm' has 1 row"):
        check_classes(LabelledRows.from_names([0, 1, 2], ["m", "n", "n"]))


def test_stratified_split_keeps_every_class_on_both_sides():
    y = np.repeat([0, 1, 2], [2, 5, 13])
    train, test = stratified_split(y, 0.2, random_state=0)
    assert set(y[train]) == set(y[test]) == {0, 1, 2} and len(train) + len(test) == 20
    assert np.array_equal(stratified_split(y, 0.2, 0)[1], test)


def copy_latents(path, rows, source_sha256, like):
    latents = read_latents(like)
    writer = LatentsWriter(path, {"all": rows.shape}, {"model": "copy"})
    writer.write_rows("all", 0, rows.astype(np.float32))
    writer.write_array("x", latents.x)
    writer.write_array("y", latents.y)
    return writer.finish({"model": "copy", "source_sha256": source_sha256})


def test_compare_two_latents_of_one_source(demo_latents, labels_csv, tmp_path, capsys):
    latents = read_latents(demo_latents)
    digest = latents.attrs["source_sha256"]
    rows = latents.partitions["all"]
    noisy = rows + np.random.default_rng(0).normal(0, 3 * rows.std(), rows.shape)
    other = copy_latents(tmp_path / "noisy_latents.h5", noisy, digest, demo_latents)
    same = compare_latents(demo_latents, demo_latents, labels_csv, smooth=1)
    assert same["ari"] == pytest.approx(1.0) and same["a"]["accuracy"] == same["b"]["accuracy"]
    result = compare_latents(demo_latents, other, labels_csv, smooth=1)
    assert result["ari"] < 0.9 and result["a"]["accuracy"] > result["b"]["accuracy"] and result["n_clusters"] == 6
    assert main(["compare", str(demo_latents), str(other), "--labels", str(labels_csv), "--out",
                 str(tmp_path / "compare.json")]) == 0
    assert "ARI" in capsys.readouterr().out
    assert json.loads((tmp_path / "compare.json").read_text())["inputs"]["b"]["name"] == "noisy_latents.h5"
    foreign = copy_latents(tmp_path / "foreign_latents.h5", rows, "0" * 64, demo_latents)
    with pytest.raises(InputError, match="latents of another source"):
        compare_latents(demo_latents, foreign, labels_csv)


def test_clustering_agreement_needs_no_labels_and_refuses_other_data(demo_latents, tmp_path):
    from sklearn.metrics import adjusted_rand_score

    from latentcore.analysis.cluster import cluster

    latents = read_latents(demo_latents)
    rows = latents.partitions["all"]
    assert clustering_agreement(demo_latents, demo_latents, 4)["ari"] == pytest.approx(1.0)
    noisy = rows + np.random.default_rng(1).normal(0, 3 * rows.std(), rows.shape)
    other = copy_latents(tmp_path / "noisy_latents.h5", noisy, latents.attrs["source_sha256"], demo_latents)
    told = []
    result = clustering_agreement(demo_latents, other, 4, progress=lambda done, total: told.append((done, total)))
    assert told == [(1, 2), (2, 2)]
    exact = adjusted_rand_score(*(cluster(np.asarray(m, np.float64), "kmeans", n_clusters=4, random_state=0).labels
                                  for m in (rows, read_latents(other).partitions["all"])))
    assert result == {"ari": pytest.approx(exact), "n_clusters": 4, "cluster_method": "kmeans", "smooth": 0.0}
    assert result["ari"] < 0.9
    fewer = LatentsWriter(tmp_path / "fewer_latents.h5", {"all": (10, rows.shape[1])}, {"model": "copy"})
    fewer.write_rows("all", 0, rows[:10])
    fewer = fewer.finish({"model": "copy"})
    with pytest.raises(InputError, match="has rows 10 of all but"):
        clustering_agreement(demo_latents, fewer, 4)
    # two partitions of one size, of one data file: other items, compared row by row before
    split = {"valid": rows[: len(rows) // 2], "train": rows[len(rows) // 2:]}
    for name, kept in (("valid_latents.h5", ["valid"]), ("train_latents.h5", ["train"])):
        writer = LatentsWriter(tmp_path / name, {p: split[p].shape for p in kept}, {"model": "copy"})
        for p in kept:
            writer.write_rows(p, 0, split[p])
        writer.finish({"model": "copy", "source_sha256": latents.attrs["source_sha256"]})
    with pytest.raises(InputError, match=f"has rows {len(split['train']):,} of train but valid_latents.h5 has "
                                         f"{len(split['valid']):,} of valid: not latents of the same items"):
        clustering_agreement(tmp_path / "valid_latents.h5", tmp_path / "train_latents.h5", 4)


def test_editing_labels_keeps_one_label_per_row_and_sorted_classes():
    labelled = with_label(with_label(empty_labels(), [5, 1, 3], "b"), [3, 4], "a")
    assert labelled.rows.tolist() == [1, 3, 4, 5] and labelled.names.tolist() == ["b", "a", "a", "b"]
    assert labelled.classes == ["a", "b"] and labelled.counts() == {"a": 2, "b": 2}
    merged = renamed(labelled, "b", "a")
    assert merged.classes == ["a"] and merged.counts() == {"a": 4}
    assert renamed(labelled, "b", "c").names.tolist() == ["c", "a", "a", "c"]
    assert without_class(labelled, "a").rows.tolist() == [1, 5]
    assert without_rows(labelled, [4, 5, 99]).counts() == {"a": 1, "b": 1}
    assert codes_per_row(labelled, 7).tolist() == [-1, 1, -1, 0, 0, 1, -1]
    assert labelled.digest() != merged.digest() and labelled.digest() == with_label(labelled, [], "x").digest()
    clusters = from_clustering(np.arange(12), [0, 1, -1, 10, 10, 0, 1, 1, 0, -1, 10, 1])
    assert clusters.classes == ["cluster 00", "cluster 01", "cluster 10"] and 2 not in clusters.rows
    with pytest.raises(InputError, match="needs a name"):
        with_label(labelled, [1], "  ")


def test_probe_on_cutouts_by_row_writes_no_coordinates_and_no_map(tmp_path, capsys):
    rng = np.random.default_rng(0)
    kind = np.array([0, 1] * 9)
    rows = (rng.normal(0, 1, (18, 8)) + 4 * kind[:, None]).astype(np.float32)
    writer = LatentsWriter(tmp_path / "cutouts_latents.h5", {"valid": (12, 8), "train": (6, 8)}, {"model": "t"})
    writer.write_rows("valid", 0, rows[:12])
    writer.write_rows("train", 0, rows[12:])
    latents = writer.finish({"model": "t"})
    labels = tmp_path / "fronts.csv"
    labelled = [0, 2, 4, 1, 3, 13, 15]  # 15: the train partition's 4th cutout (rows stacked valid, train)
    pd.DataFrame({"row": labelled, "label": np.where(kind[labelled] == 1, "front", "calm")}).to_csv(labels, index=False)
    assert main(["probe", str(latents), "--labels", str(labels), "--out", str(tmp_path / "p"), "--method", "knn",
                 "--neighbors", "3"]) == 0
    assert "2 classes" in capsys.readouterr().out
    predictions = pd.read_csv(tmp_path / "p" / "probe_predictions__knn.csv", keep_default_na=False)
    assert list(predictions.columns) == ["row", "label", "probability", "given"] and len(predictions) == 18
    assert (predictions["label"] == np.where(kind == 1, "front", "calm")).all()
    report = json.loads((tmp_path / "p" / "probe_report__knn.json").read_text())
    assert report["outputs"]["figure"] is None and report["job"]["params"]["n_neighbors"] == 3
    assert not list((tmp_path / "p").glob("*.png"))
    assert main(["probe", str(latents), "--labels", str(labels), "--out", str(tmp_path / "p"), "--smooth", "1"]) == 2
    assert "smoothing needs a scan" in capsys.readouterr().err


def test_a_latents_files_row_table_names_rows_as_its_labels_table_does(demo_latents):
    """The app writes a file's labels CSV from `Latents.row_table` (a study's from its identity): the same columns
    and values as the command line's `labels_table`, with coordinates on a scan and without them elsewhere."""
    import dataclasses

    latents = read_latents(demo_latents)
    rows, names = np.array([0, 7, 2399]), ["a", "b", "a"]
    expected = labels_table(rows, names, latents.x, latents.y, latents.units)
    table = latents.row_table(rows).assign(label=names)
    assert list(table.columns) == ["row", "x_um", "y_um", "label"]
    pd.testing.assert_frame_equal(table, expected)
    cutouts = dataclasses.replace(latents, x=None, y=None)
    pd.testing.assert_frame_equal(cutouts.row_table(rows).assign(label=names), labels_table(rows, names))


def test_a_files_rows_frame_is_the_umap_commands_table(demo_latents):
    """`Latents.rows_frame`, the UMAP page's tables and download: a file's rows as the `umap` command writes them
    (`embedding_table`: row, x_um, y_um, the coordinates, then the stacked table's own columns; a study's:
    tests/engine/test_study.py)."""
    from latentcore.analysis.embedding.fitted import embedding_table

    latents = read_latents(demo_latents)
    matrix, table = latents.stacked()
    rows = np.array([2399, 0, 61])
    coords = np.random.default_rng(0).normal(size=(len(matrix), 2)).astype(np.float32)
    columns = {"umap_0": coords[rows, 0], "umap_1": coords[rows, 1], "bandcontrast": np.array([3.0, 1.0, 2.0])}
    expected = embedding_table(table.iloc[rows], coords[rows], "umap", latents.x[rows], latents.y[rows],
                               units=latents.units, extra={"bandcontrast": columns["bandcontrast"]}, row_ids=rows)
    pd.testing.assert_frame_equal(latents.rows_frame(rows, columns, table), expected)


def test_an_uploaded_table_names_a_files_rows_as_a_study_of_one(demo_latents, labels_csv, tmp_path):
    """`probe_run.labels_of`, the app's upload on a file and a study alike: a file's rows by x, y (or row), a
    `source` column naming the file's own source accepted, another source refused (its rows are not these)."""
    from latentcore.analysis.labels.probe_run import labels_of

    latents = read_latents(demo_latents)
    expected = match_labels(read_labels_table(labels_csv), 2400, latents.x, latents.y)
    found = labels_of(latents, labels_csv)
    assert np.array_equal(found.rows, expected.rows) and np.array_equal(found.names, expected.names)
    table = pd.read_csv(labels_csv)
    table.assign(source=latents.sources()[0].name).to_csv(tmp_path / "own.csv", index=False)
    assert np.array_equal(labels_of(latents, tmp_path / "own.csv").rows, expected.rows)
    table.assign(source="another").to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(InputError, match="the labels name the source 'another', which these latents do not hold"):
        labels_of(latents, tmp_path / "other.csv")
