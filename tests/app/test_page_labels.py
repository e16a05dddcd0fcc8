"""The labels panel on the UMAP page (AppTest: the real app, demo scan and demo VAE; selections are set in the
session, as tests/app/test_pages.py does, since AppTest cannot draw on a plotly chart)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from driving import chart_specs, extracted, go, new_app, overlay_rows, point_panels

from latentcore.analysis.labels.labelled import LabelledRows
from latentcore.demo import DEMO_SCAN
from latentcore.latents import LatentsWriter, read_latents
from latentcore.outputs import latents_path_for

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


def select(at: AppTest, rows) -> AppTest:
    at.session_state["selection"] = np.asarray(rows, np.int64)
    return at.run()


def label(at: AppTest, rows, name: str) -> AppTest:
    select(at, rows)
    at.text_input(key="labels_umap_name").input(name).run()
    at.button(key="labels_umap_assign").click().run()
    assert not at.exception, at.exception
    return at


def labels_of(at: AppTest) -> LabelledRows:
    return at.session_state["labels"]


def test_label_edit_predict_and_persist_on_the_umap_page(truth_csv):
    at = go(extracted(new_app()), "umap")
    truth = pd.read_csv(truth_csv)
    grain = truth["grain_id"].to_numpy()
    rng = np.random.default_rng(0)
    picks = {k: rng.choice(np.flatnonzero((grain == k) & (truth["is_bad"] == 0)), 20, replace=False) for k in (0, 1)}
    label(at, picks[0], "grain zero")
    label(at, picks[1], "grain one")
    labelled = labels_of(at)
    assert labelled.classes == ["grain one", "grain zero"] and labelled.counts() == {"grain one": 20, "grain zero": 20}
    assert "labels (from the labels panel)" in at.selectbox(key="umap_colour").options

    # rename merges into an existing name; then split again by labelling
    at.selectbox(key="labels_umap_pick").select("grain one").run()
    at.text_input(key="labels_umap_new_name").input("grain zero").run()
    at.button(key="labels_umap_rename").click().run()
    assert labels_of(at).counts() == {"grain zero": 40}
    label(at, picks[1], "grain one")
    assert labels_of(at).counts() == {"grain one": 20, "grain zero": 20}

    # predict: accuracy, confusion matrix, the maps and their downloads
    at.toggle(key="labels_umap_predict").set_value(True).run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Cross-validated accuracy"]) > 0.9
    workdir = Path(at.session_state["workdir"])  # the CLI's CSV, written for the probe, in the workspace
    csv = pd.read_csv(workdir / "labels" / "labels.csv")
    assert list(csv.columns) == ["row", "x_um", "y_um", "label"] and len(csv) == 40
    found = list((workdir / "probe").glob("*/probe_predictions__logistic.csv"))  # a folder per latents file
    assert len(found) == 1
    predictions = pd.read_csv(found[0], keep_default_na=False)
    assert set(predictions["label"]) == {"grain one", "grain zero"} and len(predictions) == 2400

    # remove rows, delete a label
    select(at, picks[1][:5])
    at.button(key="labels_umap_remove_rows").click().run()
    assert labels_of(at).counts() == {"grain one": 15, "grain zero": 20}
    at.selectbox(key="labels_umap_pick").select("grain one").run()
    at.button(key="labels_umap_delete").click().run()
    assert labels_of(at).classes == ["grain zero"]
    assert at.toggle(key="labels_umap_predict").disabled  # one class: nothing to predict, no training set
    assert "one class only ('grain zero')" in " ".join(c.value for c in at.caption)


def test_the_confidence_slider_makes_uncertain_rows_unknown_grey_on_the_map_and_counted(truth_csv):
    at = go(extracted(new_app()), "umap")
    truth = pd.read_csv(truth_csv)
    grain = truth["grain_id"].to_numpy()
    rng = np.random.default_rng(0)
    for k in (0, 1, 2):  # three of the six grains labelled: the rest of the scan is neither
        label(at, rng.choice(np.flatnonzero((grain == k) & (truth["is_bad"] == 0)), 20, replace=False), f"grain {k}")
    at.selectbox(key="labels_umap_method").select("knn").run()
    at.toggle(key="labels_umap_predict").set_value(True).run()
    assert {m.label: m.value for m in at.metric}["Unknown rows"] == "0"  # threshold 0: every row labelled

    at.slider(key="labels_umap_min_confidence").set_value(0.9).run()
    assert not at.exception, at.exception
    found = list((Path(at.session_state["workdir"]) / "probe").glob("*/probe_predictions__knn_conf0.9.csv"))
    predictions = pd.read_csv(found[0], keep_default_na=False)
    unknown = predictions["label"] == "unknown"
    assert 0 < unknown.sum() < 2400 and (predictions["probability"][unknown] < 0.9).all()
    assert {m.label: m.value for m in at.metric}["Unknown rows"] == f"{unknown.sum():,}"
    labels_map = next(spec for spec in chart_specs(at) if "predicted label" in str(spec["layout"]))["data"][0]
    assert labels_map["colorbar"]["ticktext"] == ["grain 0", "grain 1", "grain 2", "unknown"]
    assert labels_map["colorscale"][-1][1] == "#9a9a9a"  # the noise grey
    names = [b.proto.label for b in at.get("download_button")]
    assert "probe_predictions__knn_conf0.9.csv" in names and "probe_report__knn_conf0.9.json" in names


def test_knn_on_fewer_labelled_rows_than_its_neighbours_says_it_used_fewer():
    at = go(extracted(new_app()), "umap")
    label(at, np.arange(0, 4), "left")
    label(at, np.arange(100, 104), "right")  # 8 rows: each of 4 folds trains on 6
    at.selectbox(key="labels_umap_method").select("knn").run()
    at.toggle(key="labels_umap_predict").set_value(True).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    said = " ".join(c.value for c in at.caption)
    assert "kNN with 5 neighbours, not the default 10: a cross-validation fold trains on 6 of the 8 labelled rows" \
        in said, said


def noisy_copy(at: AppTest, scale: float = 3.0, model: str = "noisy", source_sha256: str | None = None) -> Path:
    """Another latents file in the workspace, made by `model`: the session's latents plus noise, of the same
    source unless another `source_sha256` is given."""
    latents = read_latents(at.session_state["latents"])
    rows = latents.partitions["all"]
    noisy = rows + np.random.default_rng(0).normal(0, scale * rows.std(), rows.shape).astype(np.float32)
    path = latents_path_for(DEMO_SCAN, Path(at.session_state["workdir"]) / "latents" / model, model=model)
    writer = LatentsWriter(path, {"all": rows.shape}, {"m": 1})
    writer.write_rows("all", 0, noisy)
    writer.write_array("x", latents.x)
    writer.write_array("y", latents.y)
    writer.finish({"model": "vae", "model_name": model, "source": DEMO_SCAN.name,
                   "source_sha256": source_sha256 or latents.attrs["source_sha256"]})
    return path


def test_keep_kmeans_as_labels_and_colour_by_them():
    at = go(extracted(new_app()), "umap")
    at.button(key="labels_umap_keep_clusters").click().run()
    assert not at.exception, at.exception
    labelled = labels_of(at)
    assert len(labelled.rows) == 2400 and labelled.classes == [f"cluster {k}" for k in range(6)]
    at.selectbox(key="labels_umap_pick").select("cluster 0").run()
    at.button(key="labels_umap_delete").click().run()
    at.selectbox(key="umap_colour").select("labels (from the labels panel)").run()
    assert not at.exception, at.exception
    legend = [name for name, _ in point_panels(at)["umap_scatter"][0]["legend"]]
    unlabelled = 2400 - len(labels_of(at).rows)
    assert f"unlabelled ({unlabelled:,})" in legend and any(name.startswith("cluster 1 (") for name in legend), legend


def test_workspace_keeps_labels_as_plain_arrays(tmp_path):
    from ui.session import workspace

    labelled = LabelledRows.from_names([4, 2, 7], ["b", "a", "b"])
    workspace.save_labels(tmp_path, labelled.rows, labelled.y, labelled.classes, labelled.digest())
    back = LabelledRows.from_codes(*workspace.load_labels(tmp_path))
    assert back.rows.tolist() == [2, 4, 7] and back.names.tolist() == ["a", "b", "b"] and back.classes == ["a", "b"]
    before = (tmp_path / "labels.npz").stat().st_mtime_ns
    workspace.save_labels(tmp_path, labelled.rows, labelled.y, labelled.classes, labelled.digest())
    assert (tmp_path / "labels.npz").stat().st_mtime_ns == before  # unchanged: not rewritten
    workspace.save_labels(tmp_path, [], [], [], "")
    assert workspace.load_labels(tmp_path) is None and not (tmp_path / "labels.npz").exists()
    np.savez(tmp_path / "labels.npz", rows=np.array([1]), y=np.array([0]), classes=np.array([{"a": 1}], dtype=object))
    assert workspace.load_labels(tmp_path) is None  # a pickled object is never loaded


def legend_names(at: AppTest, key: str) -> list[str]:
    return [name for name, _ in point_panels(at)[key][0]["legend"]]


def label_on(at: AppTest, page: str, rows, name: str) -> AppTest:
    select(at, rows)
    at.text_input(key=f"labels_{page}_name").input(name).run()
    at.button(key=f"labels_{page}_assign").click().run()
    assert not at.exception, at.exception
    return at


def test_clusters_page_labels_the_selection_keeps_the_clustering_and_colours_by_label():
    at = go(extracted(new_app()), "clusters")
    assert at.toggle(key="clusters_by_label").disabled  # no labels yet
    label_on(at, "clusters", np.arange(30), "corner")
    assert labels_of(at).counts() == {"corner": 30}
    at.toggle(key="clusters_by_label").set_value(True).run()
    assert not at.exception, at.exception
    legend = legend_names(at, "clusters_map")
    assert "corner (30)" in legend and "unlabelled (2,370)" in legend, legend
    assert legend_names(at, "clusters_scatter") == legend
    assert point_panels(at)["clusters_map"][0]["title"] == "Labels on the scan"

    clusters = at.session_state["last_clusters"]  # the page's own clustering, one click
    offered = at.button(key="labels_clusters_keep_this").label
    assert f"{len(np.unique(clusters['labels']))} labels" in offered and "noise" not in offered, offered  # GMM
    at.button(key="labels_clusters_keep_this").click().run()
    assert not at.exception, at.exception
    kept = labels_of(at)
    found = np.unique(clusters["labels"][clusters["labels"] >= 0])
    assert kept.classes == [f"cluster {k}" for k in found]
    assert len(kept.rows) == int((clusters["labels"] >= 0).sum())
    assert np.array_equal(kept.names, np.array([f"cluster {k}" for k in clusters["labels"][np.argsort(clusters["rows"])]]))
    for key in ("clusters_map", "clusters_scatter"):  # the map and the scatter coloured by the new labels
        legend = legend_names(at, key)
        assert any(name.startswith("cluster 0 (") for name in legend) and not any(n.startswith("corner") for n in legend)


def test_maps_page_labels_the_selection_and_shows_the_labels_map():
    at = go(extracted(new_app()), "maps")
    assert at.toggle(key="maps_by_label").disabled
    label_on(at, "maps", np.arange(60, 120), "second row")
    label_on(at, "maps", np.arange(5), "start")
    assert labels_of(at).counts() == {"second row": 60, "start": 5}
    at.toggle(key="maps_by_label").set_value(True).run()
    assert not at.exception, at.exception
    header, _ = point_panels(at)["maps_labels_map"]  # a point panel in the page's group: it selects too
    assert header["title"] == "Labels on the scan" and header["group"] == "maps" and header["value_name"] == "label"
    legend = [name for name, _ in header["legend"]]
    assert legend == ["unlabelled (2,335)", "second row (60)", "start (5)"], legend
    from latentcore.figures.labels import label_colours

    assert dict(header["legend"])["second row (60)"] == label_colours(["second row", "start"])["second row"].lower()
    at.session_state["maps_labels_map"] = {"shape": {"shape": "box", "x": [0, 3], "y": [0, 0], "op": "replace"}}
    at.run()  # a box along the scan's first row of pixels
    assert at.session_state["selection"].tolist() == [0, 1, 2] and not at.exception


def test_compare_page_links_two_embeddings_and_gives_ari_and_probe_accuracies(truth_csv):
    from latentcore.analysis.labels.probe import clustering_agreement

    at = go(extracted(new_app()), "compare")
    first, second = "ni_grains_h5ebsd · demo-vae · 2,400 rows", "ni_grains_h5ebsd · noisy · 2,400 rows"
    assert f"No other latents of {first}" in " ".join(i.value for i in at.info)
    noisy_copy(at, model="elsewhere", source_sha256="0" * 64)  # latents of another source: never offered
    at.run()
    assert f"No other latents of {first}" in " ".join(i.value for i in at.info)
    other = noisy_copy(at)
    at.run()
    assert at.selectbox(key="compare_other").options == [second]
    at.selectbox(key="compare_method").select("pca").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Compare two latents files of ni_grains_h5ebsd"
    assert at.subheader[0].value == "demo-vae vs noisy"
    table = at.dataframe[0].value
    assert table["model"].tolist() == ["demo-vae", "noisy"] and table["rows"].tolist() == ["2,400", "2,400"]
    assert table["file"].tolist() == [Path(at.session_state["latents"]).name, other.name]
    panels = point_panels(at)
    assert [panels[key][0]["title"] for key in ("compare_a", "compare_b")] == [f"{first} (first)", f"{second} (second)"]
    assert panels["compare_a"][0]["group"] == panels["compare_b"][0]["group"] == "compare"  # linked in the browser
    assert not np.array_equal(panels["compare_a"][1]["qx"], panels["compare_b"][1]["qx"])  # each file's embedding

    rows = np.arange(0, 2400, 11)  # one selection, highlighted in both embeddings
    select(at, rows)
    assert overlay_rows(point_panels(at)["overlay:compare"]).tolist() == rows.tolist()

    at.toggle(key="compare_run").set_value(True).run()  # no labels: the ARI alone
    assert not at.exception, at.exception
    metrics = {m.label: float(m.value) for m in at.metric}
    exact = clustering_agreement(at.session_state["latents"], other, 6)["ari"]
    assert metrics == {"Agreement of their k-means clusterings (ARI, k = 6)": pytest.approx(exact, abs=5e-4)}
    assert -1 <= exact < 0.99

    truth = pd.read_csv(truth_csv)  # labels of two grains: each file's probe accuracy on them
    grain = truth["grain_id"].to_numpy()
    rng = np.random.default_rng(0)
    picks = [rng.choice(np.flatnonzero((grain == k) & (truth["is_bad"] == 0)), 20, replace=False) for k in (0, 1)]
    at.session_state["labels"] = LabelledRows.from_names(np.concatenate(picks), ["a"] * 20 + ["b"] * 20)
    at.run()
    at.selectbox(key="compare_colour").select("labels").run()
    for key in ("compare_a", "compare_b"):
        legend = legend_names(at, key)
        assert "a (20)" in legend and "unlabelled (2,360)" in legend, legend
    at.number_input(key="compare_k").set_value(2).run()
    assert not at.exception, at.exception
    metrics = {m.label: float(m.value) for m in at.metric}
    assert -1 <= metrics["Agreement of their k-means clusterings (ARI, k = 2)"] <= 1
    assert metrics[f"Probe accuracy: {first}"] > metrics[f"Probe accuracy: {second}"]
