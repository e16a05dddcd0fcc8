"""The pages other than Data and UMAP on a study (several latents files of one model as one latent space,
latentcore/study.py), through the real app with AppTest, on three small simulated scans sharing their grains'
orientations and on a study of one of them: Clusters (one clustering over the study, each scan's map, the
per-source fractions and their downloads, the assignments starting source,row,x_um,y_um), the labels panel (rows
labelled on one scan predicted over the study, the per-source fractions, the export by source and row), Latent maps
and Rank (a source picker, each source on its own grid) and Compare (two sources side by side)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driving import array_of, chart_specs, new_app, overlay_rows, point_panels, run, texts
from study_scans import scan_latents

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("private_folders")]

ROWS = 192  # each scan's: 12 x 16
TAG = "kmeans_latents_smooth1_full"


def source_tables(at) -> list:
    """The tables shown with a source a row (the fractions panel's: fractions, then counts)."""
    return [d.value for d in at.dataframe if list(d.value.index) == list("pqr")]


def on_study(page: str, names: str = "pqr", orientations: bool = False):
    """A new session whose latents are the study `series` of a scan per letter of `names` (as the Data page makes and
    picks it; with `orientations`, the scans' kept in their latents), on `page`."""
    from ui.compute.sources import write_study

    at = new_app()
    folder = Path(at.session_state["workdir"])
    paths = scan_latents(folder, tuple(names), scans=folder / "scans" if orientations else None)
    at.session_state["latents"] = str(write_study("series", list(paths.values()), folder))
    return run(at, page)


def clustered(at, k: int = 4):
    """The Clusters page clustering whole vectors with k-means (k) and smoothing sigma 1."""
    at.radio(key="clusters_features").set_value("latent")
    at.selectbox(key="clusters_method").set_value("kmeans")
    at = run(at)
    at.number_input(key="clusters_k").set_value(k)
    at = run(at)
    at.number_input(key="clusters_smooth").set_value(1.0)
    return run(at)


def test_clusters_on_a_study_of_three_scans_one_clustering_each_scans_map_and_the_fractions(downloads):
    at = clustered(on_study("clusters"))
    assert [m.label for m in at.metric] == ["Clusters", "Noise points", "Pixels", "Selected here"]  # a file's page
    assert at.metric[0].value == "4" and at.metric[2].value == f"{3 * ROWS:,}"
    assert "Every row of the study's 3 sources is on the scatter" in texts(at.caption)
    files = {name: read() for name, read in downloads.items()}
    table = pd.read_csv(io.BytesIO(files[f"cluster_assignments__{TAG}.csv"]))
    assert list(table.columns[:4]) == ["source", "row", "x_um", "y_um"] and table.columns[-1] == "cluster"
    assert table.groupby("source")["row"].apply(list).to_dict() == {name: list(range(ROWS)) for name in "pqr"}
    fractions = pd.read_csv(io.BytesIO(files[f"cluster_fractions__{TAG}.csv"]))
    counts = table.groupby(["source", "cluster"]).size()  # the fractions are the assignments' counts
    assert {(s, c): n for s, c, n in zip(fractions["source"], fractions["cluster"], fractions["count"]) if n} == \
        counts.to_dict()
    assert np.allclose(fractions.groupby("source")["fraction"].sum(), 1)
    record = json.loads(files[f"cluster_fractions__{TAG}.json"])
    assert record["q"]["counts"] == {str(c): int(n) for c, n in counts["q"].reindex(range(4), fill_value=0).items()}
    assert files[f"cluster_fractions__{TAG}.png"][:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads(files[f"cluster_report__{TAG}.json"])
    assert [m["name"] for m in report["study"]["members"]] == list("pqr")
    assert files[f"cluster_pca__{TAG}__p.png"][:8] == b"\x89PNG\r\n\x1a\n"  # a source's figure, named as the CLI's
    at = run(at.selectbox(key="clusters_figure_source").set_value(2))
    assert downloads[f"cluster_pca__{TAG}__r.png"]()[:8] == b"\x89PNG\r\n\x1a\n"
    panels = point_panels(at)
    assert len(panels["clusters_scatter"][1]["qx"]) == 3 * ROWS
    hues = {entry.rsplit(" (", 1)[0]: hue for entry, hue in panels["clusters_scatter"][0]["legend"]}
    for name in "pqr":  # each scan's clusters on its own 12 x 16 grid, in the scatter's colours, its own rows counted
        header, pixels = panels[f"clusters_map_{name}"]
        assert (header["grid"]["nx"], header["grid"]["ny"]) == (16, 12) and len(pixels["cell"]) == ROWS
        own = table[table["source"] == name]["cluster"].value_counts().sort_index()
        assert header["legend"] == [[f"cluster {c} ({n:,})", hues[f"cluster {c}"]] for c, n in own.items()]
    at.session_state["selection"] = np.array([5, 200, 201])
    at = run(at)
    panels = point_panels(at)
    assert overlay_rows(panels["overlay:clusters_map_q"]).tolist() == [8, 9]  # its own rows of the selection
    rows = next(d.value for d in at.dataframe if "cluster" in d.value.columns)
    assert rows[["source", "row"]].astype(str).values.tolist() == [["p", "5"], ["q", "8"], ["q", "9"]]
    assert rows["cluster"].tolist() == table["cluster"].iloc[[5, 200, 201]].tolist()
    shown_fractions, shown_counts = source_tables(at)
    assert shown_counts.loc["q"].tolist() == counts["q"].reindex(range(4), fill_value=0).tolist()
    assert np.allclose(shown_fractions.sum(axis=1), 1)


def test_clusters_on_a_study_in_an_roi_cluster_each_scans_region_and_draw_it_on_its_own_map(downloads):
    at = clustered(on_study("clusters"))
    at = run(at.slider(key="roi_x").set_value((3.0, 12.0)))  # columns 2 to 8 (1.5 µm steps) of every scan
    inside = [row for row in range(ROWS) if 2 <= row % 16 <= 8]
    assert at.metric[2].value == f"{3 * len(inside):,}" and "ROI: x 3–12" in texts(at.info)
    csv = downloads["cluster_assignments__kmeans_latents_smooth1_roi3-12_0-16.5.csv"]()  # the ROI in its name
    table = pd.read_csv(io.BytesIO(csv))
    assert table.groupby("source")["row"].apply(list).to_dict() == {name: inside for name in "pqr"}
    assert table["x_um"].between(3.0, 12.0).all()
    panels = point_panels(at)
    assert len(panels["clusters_scatter"][1]["qx"]) == 3 * len(inside)
    for name in "pqr":  # each scan's region on its own grid, its legend counting it
        header, pixels = panels[f"clusters_map_{name}"]
        assert header["title"] == f"{name} ({len(inside)} of {ROWS} rows)" and len(pixels["cell"]) == len(inside)
        assert sum(int(entry.rsplit("(", 1)[1][:-1]) for entry, _ in header["legend"]) == len(inside)
    at.session_state["selection"] = np.array([0, 2, ROWS + 8, ROWS + 30])  # p's row 0 and q's 30 lie outside it
    at = run(at)
    panels = point_panels(at)
    assert overlay_rows(panels["overlay:clusters_map_p"]).tolist() == [inside.index(2)]  # positions on the map
    assert overlay_rows(panels["overlay:clusters_map_q"]).tolist() == [inside.index(8)]
    rows = next(d.value for d in at.dataframe if "cluster" in d.value.columns)
    assert rows[["source", "row"]].astype(str).values.tolist() == [["p", "2"], ["q", "8"]]
    clusters = table.set_index(["source", "row"])["cluster"]
    assert rows["cluster"].tolist() == [clusters["p", 2], clusters["q", 8]]


def test_a_studys_clusters_download_as_phases_of_a_sources_scan_as_export_ebsd_writes_them(downloads, tmp_path):
    from sklearn.metrics import adjusted_rand_score

    from latentcore.cli import main

    at = clustered(on_study("clusters", orientations=True))
    at = run(at.selectbox(key="clusters_phases_source").set_value(1))  # q
    shown = downloads[f"cluster_assignments__{TAG}__q.ctf"]()
    study_csv = tmp_path / "study.csv"
    study_csv.write_bytes(downloads[f"cluster_assignments__{TAG}.csv"]())
    q = Path(at.session_state["workdir"]) / "scans" / "q.h5"  # q's scan: its source in the study, by name
    assert main(["export-ebsd", str(q), "--classes", str(study_csv), "--out", str(tmp_path / "q.ctf")]) == 0

    def phases(ctf: bytes) -> list[str]:  # each point's phase: the first column of the data lines
        lines = ctf.decode().splitlines()
        header = next(number for number, line in enumerate(lines) if line.startswith("Phase\tX"))
        return [line.split("\t")[0] for line in lines[header + 1:]]

    shown_phases = phases(shown)
    assert shown_phases == phases((tmp_path / "q.ctf").read_bytes())  # the command's (its scan has no band contrast)
    own = pd.read_csv(study_csv).query("source == 'q'").sort_values("row")["cluster"].to_numpy()
    assert len(set(own)) > 1 and adjusted_rand_score(own, shown_phases) == 1  # q's own clusters, point by point


def test_clusters_settings_carry_from_a_study_to_one_of_its_scans(downloads):
    at = clustered(on_study("clusters"), k=6)
    at.session_state["latents"] = str(Path(at.session_state["workdir"]) / "p__pca_latents.h5")  # one of its scans
    at = run(at)
    assert at.selectbox(key="clusters_method").value == "kmeans" and at.number_input(key="clusters_k").value == 6
    assert at.radio(key="clusters_features").value == "latent" and at.number_input(key="clusters_smooth").value == 1.0
    assert at.metric[0].value == "6" and at.metric[2].value == f"{ROWS:,}"  # the scan's own page, the same clustering
    table = pd.read_csv(io.BytesIO(downloads[f"cluster_assignments__{TAG}.csv"]()))  # the scan page's, last drawn
    assert len(table) == ROWS and table["cluster"].nunique() == 6  # the CSV holds the clustering the page shows


@pytest.mark.usefixtures("empty_embedding_cache")  # no UMAP of the study yet
def test_a_studys_whole_vector_clusters_are_drawn_on_its_umap_once_the_umap_page_fitted_it():
    at = clustered(on_study("clusters"))
    scatter, points = point_panels(at)["clusters_scatter"]
    assert (scatter["x_title"], scatter["y_title"]) == ("PC1", "PC2") and len(points["qx"]) == 3 * ROWS
    at = run(at, "umap")  # the UMAP page embeds the study (kept in the embeddings' cache) ...
    umap = point_panels(at)["umap_scatter"][1]
    at = run(at, "clusters")  # ... and the clusters of every source are drawn on it
    scatter, points = point_panels(at)["clusters_scatter"]
    assert (scatter["x_title"], scatter["y_title"]) == ("UMAP 1", "UMAP 2")
    assert np.array_equal(points["qx"], umap["qx"]) and np.array_equal(points["qy"], umap["qy"])
    assert "first two principal components" not in texts(at.caption)


def test_clusters_on_a_study_of_one_scan_is_the_page_of_its_file():
    at = clustered(on_study("clusters", "p"))
    assert [m.label for m in at.metric] == ["Clusters", "Noise points", "Pixels", "Selected here"]  # the file's page
    assert at.metric[2].value == f"{ROWS:,}"
    assert not [box.key for box in at.selectbox if "source" in str(box.key)]  # no source picker
    for page in ("maps", "rank"):
        at = run(at, page)
        assert not [box.key for box in at.selectbox if "source" in str(box.key)]
    at = run(at, "compare", errors_ok=True)  # two latents files of one scan: here there is no other file
    assert at.title[0].value == "Compare two latents files of p"  # as its file's


def test_labels_on_one_scan_are_predicted_over_the_study_with_each_sources_fractions(downloads):
    from latentcore.analysis.labels.labelled import LabelledRows

    at = on_study("clusters")
    at.session_state["labels"] = LabelledRows.from_names(np.r_[0:40, 150:190], ["grain"] * 40 + ["other"] * 40)
    at = run(at)
    at.toggle(key="labels_clusters_predict").set_value(True)
    at = run(at)
    files = {name: read() for name, read in downloads.items()}
    labels = pd.read_csv(io.BytesIO(files["series.study_labels.csv"]))
    assert list(labels.columns) == ["source", "row", "x_um", "y_um", "label"] and set(labels["source"]) == {"p"}
    predictions = pd.read_csv(io.BytesIO(files["probe_predictions__logistic.csv"]))
    assert list(predictions.columns[:4]) == ["source", "row", "x_um", "y_um"] and len(predictions) == 3 * ROWS
    fractions = pd.read_csv(io.BytesIO(files["probe_fractions__logistic.csv"]))
    expected = predictions.groupby(["source", "label"]).size()
    assert dict(zip(zip(fractions["source"], fractions["label"]), fractions["count"])) == expected.to_dict()
    titles = [spec["layout"].get("title", {}).get("text", "") for spec in chart_specs(at)]
    maps = [t for t in titles if "cross-validated accuracy" in t]  # a source's labels and probability, as a file's
    assert [t.split(":")[0] for t in maps] == ["p"] and files["probe_maps__logistic__p.png"][:4] == b"\x89PNG"
    at = run(at.selectbox(key="labels_clusters_maps_source").set_value(2))
    (figure,) = [spec for spec in chart_specs(at) if "cross-validated" in spec["layout"].get("title", {}).get("text",
                                                                                                             "")]
    assert figure["layout"]["title"]["text"].startswith("r: ") and len(figure["data"]) == 2  # labels, probability
    r = predictions[predictions["source"] == "r"]
    assert np.nanmax(array_of(figure["data"][1]["z"])) == pytest.approx(r["probability"].max(), abs=1e-6)
    assert downloads["probe_maps__logistic__r.png"]()[:4] == b"\x89PNG"
    shown_counts = [t for t in source_tables(at) if t.columns[0].startswith("label")][-1]  # fractions, counts
    assert shown_counts.loc["r"].sum() == ROWS and shown_counts.columns.tolist() == ["label grain", "label other"]
    shown = {metric.label: metric.value for metric in at.metric}  # the one probe's numbers, as on one file
    assert shown["Labelled rows"] == "80" and shown["Unknown rows"] == "0"
    assert "Chance (the largest label's share)" in shown
    assert "Confusion matrix of the held-out predictions" in texts(at.caption)

    upload = b"source,row,label\nq,3,a\nq,4,a\nr,0,b\nr,1,b\n"  # by source and row within it
    at.file_uploader(key="labels_clusters_upload").set_value([("mine.csv", upload, "text/csv")])
    at = run(at)
    at = run(at.button(key="labels_clusters_use_upload").click())
    assert at.session_state["labels"].rows.tolist() == [ROWS + 3, ROWS + 4, 2 * ROWS, 2 * ROWS + 1]


def test_latent_maps_and_rank_show_one_source_at_a_time_on_its_own_grid(downloads):
    from latentcore.latents import read_latents

    at = on_study("maps")
    assert at.selectbox(key="maps_source").options == list("pqr")
    at.selectbox(key="maps_source").set_value(2)
    at = run(at)
    assert "192 pixels on a grid of 12 rows x 16 columns" in texts(at.caption)
    folder = Path(at.session_state["workdir"])
    latent_0 = read_latents(folder / "r__pca_latents.h5").partitions["all"][:, 0]
    maps = np.load(io.BytesIO(next(make() for name, make in downloads.items() if name.endswith(".npy"))))
    assert np.allclose(np.sort(maps[0].ravel()), np.sort(latent_0))  # r's latents, on r's grid
    # a click on r's map selects the study's row (r's 62nd, after p's and q's rows): the UMAP page shows it there
    at.session_state["maps_picker"] = {"shape": {"shape": "click", "row": 61, "x": [9.0], "y": [6.0]}}
    at = run(at)
    picked = at.session_state["selection"].tolist()
    assert picked == [2 * ROWS + 61]
    assert "Pixel row 61 of r at x = " in texts(at.markdown)
    assert len(at.get("image")) == 0  # these latents record a source that is not in the workspace: no pattern
    mark = point_panels(at)["overlay:maps"]["marks"]["maps_picker"][0]  # r's own pixel marked on r's map
    assert (mark["x"], mark["y"]) == ([float(read_latents(folder / "r__pca_latents.h5").x[61])],
                                      [float(read_latents(folder / "r__pca_latents.h5").y[61])])
    at.session_state["maps_picker"] = {"shape": {"shape": "box", "x": [-1, 100], "y": [-1, 100], "op": "replace"}}
    at = run(at)
    assert at.session_state["selection"].tolist() == list(range(2 * ROWS, 3 * ROWS))  # every pixel of r
    assert len(overlay_rows(point_panels(at)["overlay:maps"])) == ROWS
    at.text_input(key="labels_maps_name").set_value("all of r")
    at = run(at.button(key="labels_maps_assign").click())
    assert at.session_state["labels"].rows.tolist() == list(range(2 * ROWS, 3 * ROWS))  # the study's rows
    at.toggle(key="maps_by_label").set_value(True)
    at = run(at)
    header, _ = point_panels(at)["maps_labels_map"]  # r's pixels in their label's colour, counted as r's
    assert [entry.rsplit(" (", 1)[0] for entry, _ in header["legend"]] == ["all of r"]
    assert "(192)" in header["legend"][0][0].replace(",", "")
    r = read_latents(folder / "r__pca_latents.h5")  # a vertical line on r's map: the profile of r's own column 3
    down = {"shape": "line", "op": "replace", "x": [float(r.x[3])] * 2, "y": [float(r.y.min()), float(r.y.max())],
            "count": 0}
    at.session_state["maps_picker"] = {"shape": down}
    at = run(at)
    profile = next(frame.value for frame in at.dataframe if "distance_um" in frame.value.columns)
    assert profile["row"].tolist() == [line * 16 + 3 for line in range(12)]  # r's rows, on r's 12 x 16 grid
    assert at.session_state["selection"].tolist() == list(range(2 * ROWS, 3 * ROWS))  # a line keeps the selection
    at.session_state["maps_picker"] = None  # the browser sends a shape once
    at.selectbox(key="maps_source").set_value(0)
    at = run(at)
    assert len(overlay_rows(point_panels(at)["overlay:maps"])) == 0  # p holds none of them
    assert at.session_state["selection"].tolist() == list(range(2 * ROWS, 3 * ROWS))

    at = run(at, "rank")
    assert at.selectbox(key="rank_source").options == list("pqr")
    at.selectbox(key="rank_source").set_value(1)
    at = run(at)
    assert set(at.dataframe[0].value["reference"]) == {"band contrast"}  # q's own scan map
    report = json.loads(next(make() for name, make in downloads.items() if name.startswith("ranking_report")))
    assert report["inputs"]["latents"]["name"] == "q__pca_latents.h5"


def test_compare_two_sources_of_a_study_fractions_side_by_side_and_their_shift(downloads, tmp_path):
    from latentcore.cli import main

    at = on_study("compare")
    assert at.selectbox(key="compare_first").value == 0 and at.selectbox(key="compare_second").value == 1
    both = next(d.value for d in at.dataframe if "difference" in d.value.columns)
    assert list(both.columns) == ["cluster", "count_p", "fraction_p", "count_q", "fraction_q", "difference"]
    assert both["count_p"].sum() == ROWS and both["count_q"].sum() == ROWS
    assert "Energy distance" in texts(at.markdown) and "standardised mean difference" in texts(at.caption)
    files = {name: read() if callable(read) else read for name, read in downloads.items()}
    report = json.loads(files["shift_report__p__q.json"])
    assert report["first"] == "p" and report["second"] == "q" and report["sampled_rows"] == [ROWS, ROWS]
    assert len(report["fractions"]) == len(both)
    side = pd.read_csv(io.BytesIO(files["fractions__p__q.csv"]))
    assert side["count_q"].tolist() == both["count_q"].tolist()
    within = next(d.value for d in at.dataframe if "p_holm" in d.value.columns)  # the same clustering's clusters
    counted = both.set_index("cluster")[["count_p", "count_q"]]
    assert within.set_index("cluster")[["rows_first", "rows_second"]].values.tolist() == counted.values.tolist()
    assert "Within each of the" in texts(at.markdown)
    assert pd.read_csv(io.BytesIO(files["shift_within__p__q.csv"]))["cluster"].tolist() == within["cluster"].tolist()
    assert report["within_clusters"]["correction"] == "holm"
    matches = next(d.value for d in at.dataframe if "next_distance" in d.value.columns)  # each scan's own k-means
    assert len(matches) == at.number_input(key="compare_k").value and "Each source's own clusters" in texts(at.markdown)
    assert matches["cluster_second"].is_unique and sorted(matches["cluster_first"]) == list(range(len(matches)))
    assert f"The study's clustering: kmeans fitted on all {3 * ROWS}" in texts(at.caption)  # no sample: said
    assert f"p: kmeans fitted on all {ROWS} rows" in texts(at.caption)
    assert pd.read_csv(io.BytesIO(files["cluster_matches__p__q.csv"]))["cluster_second"].tolist() == \
        matches["cluster_second"].tolist()
    assert report["matched_clusters"]["pairing"].startswith("least total distance")
    assert main(["compare-sources", at.session_state["latents"], "--first", "p", "--second", "q", "--out",
                 str(tmp_path)]) == 0  # the command: the page's files
    for name in ("shift__p__q.csv", "fractions__p__q.csv", "shift_within__p__q.csv", "cluster_matches__p__q.csv"):
        assert files[name] == (tmp_path / name).read_bytes(), name
    at = run(at.toggle(key="compare_match_means").set_value(True))  # the scans' data files are not in the session
    said = texts(at.caption)
    assert "No mean pattern of p's cluster" in said and "No mean pattern of q's cluster" in said



def test_a_grain_picked_on_a_studys_source_selects_its_pixels_as_the_studys_rows_and_takes_their_label():
    from ui.compute.sources import write_study

    at = new_app()
    folder = Path(at.session_state["workdir"])
    paths = scan_latents(folder, scans=folder / "scans")  # the scans' orientations kept in their latents
    at.session_state["latents"] = str(write_study("series", list(paths.values()), folder))
    at = run(at, "maps")
    at.selectbox(key="maps_source").set_value(1)  # q: the study's rows 192 to 383
    at = run(at)
    assert "Grains" in [h.value for h in at.subheader]
    at.number_input(key="maps_grain").set_value(1)
    at = run(at.button(key="maps_grain_select").click())
    chosen = at.session_state["selection"]
    table = next(d.value for d in at.dataframe if "points" in d.value.columns)
    assert len(chosen) == int(table.loc[table["grain"] == 1, "points"].iloc[0]) > 0
    assert chosen.min() >= ROWS and chosen.max() < 2 * ROWS  # q's pixels, as the study's rows
    assert f"Selected: grain 1 ({len(chosen):,} pixels)." in texts(at.caption)
    at.text_input(key="labels_maps_name").set_value("grain one")
    at = run(at.button(key="labels_maps_assign").click())
    table = next(d.value for d in at.dataframe if "points" in d.value.columns)
    assert table.loc[table["grain"] == 1, "label"].iloc[0] == "grain one"  # q's labelled rows name q's grain
    assert (table.loc[table["grain"] != 1, "label"] != "grain one").all()


def test_the_grains_of_a_studys_sources_side_by_side_are_the_commands_files(downloads, tmp_path, capsys):
    """The Latent maps page on a study: its sources' grains summarised side by side, downloads as `grains STUDY`
    writes them."""
    from latentcore.cli import main
    from ui.compute.sources import write_study

    at = new_app()
    folder = Path(at.session_state["workdir"])
    paths = scan_latents(folder, scans=folder / "scans")
    study = write_study("series", list(paths.values()), folder)
    at.session_state["latents"] = str(study)
    at = run(at, "maps")
    assert "Grains of the study's sources" in [h.value for h in at.subheader]
    assert not any("area_weighted_mean_ecd_um" in d.value.columns for d in at.dataframe)  # asked for: a toggle
    at = run(at.toggle(key="maps_study_grains").set_value(True))
    summary = next(d.value for d in at.dataframe if "area_weighted_mean_ecd_um" in d.value.columns)
    assert summary["source"].tolist() == list("pqr")
    assert main(["grains", str(study), "--out", str(tmp_path), "--no-png"]) == 0  # the command, on the same study
    for name in ("grain_summary__series.csv", "grains__series.csv", "grain_distributions__series.csv"):
        assert downloads[name]() == (tmp_path / name).read_bytes(), name
    pd.testing.assert_frame_equal(summary, pd.read_csv(tmp_path / "grain_summary__series.csv"), check_dtype=False)
    report = json.loads(downloads["grains_report__series.json"]())
    assert [m["name"] for m in report["study"]["members"]] == list("pqr") and "min_grain_points" in report["parameters"]
    assert downloads["grain_distributions__series.png"]()[:4] == b"\x89PNG"


def test_a_matched_pairs_mean_patterns_are_read_from_each_sources_own_data_file(downloads):
    from latentcore.analysis.source_shift import own_clusters
    from latentcore.data import open_source
    from latentcore.latents import read_latents
    from ui.compute.sources import write_study

    at = new_app()
    folder = Path(at.session_state["workdir"])
    paths = scan_latents(folder / "latents", scans=folder / "uploads")
    at.session_state["_files"] = {"data": [str(folder / "uploads" / f"{name}.h5") for name in "pqr"]}
    at.session_state["latents"] = str(write_study("series", list(paths.values()), folder))
    at = run(at, "compare")
    at = run(at.toggle(key="compare_match_means").set_value(True))
    at = run(at.selectbox(key="compare_match_pair").set_value(1))
    pair = next(d.value for d in at.dataframe if "next_distance" in d.value.columns).iloc[1]
    k = at.number_input(key="compare_k").value
    for name, cluster in (("p", int(pair["cluster_first"])), ("q", int(pair["cluster_second"]))):
        rows = np.flatnonzero(own_clusters(read_latents(paths[name]).stacked()[0], k).labels == cluster)
        assert f"Mean of {len(rows):,} patterns: {name}, cluster {cluster}" in str(chart_specs(at))
        mean = np.load(io.BytesIO(downloads[f"mean_pattern__{name}__cluster{cluster}.npy"]()))
        with open_source(folder / "uploads" / f"{name}.h5") as reader:
            patterns = reader.read_rows(next(iter(reader.info().partitions)), rows).astype(np.float64)
        np.testing.assert_allclose(mean, patterns.mean(0), rtol=1e-6)  # its own file's patterns of those rows


def test_the_orientations_of_a_studys_selection_are_shown_one_source_at_a_time_on_its_own_scan(downloads):
    from latentcore.latents import read_latents
    from ui.compute.sources import write_study

    at = new_app()
    folder = Path(at.session_state["workdir"])
    paths = scan_latents(folder, scans=folder / "scans")  # the scans' orientations kept in their latents
    at.session_state["latents"] = str(write_study("series", list(paths.values()), folder))
    at = run(at, "umap")
    chosen = np.array([3, 7, ROWS + 10, ROWS + 11, ROWS + 12])  # two of p's rows, three of q's
    at.session_state["selection"] = chosen
    at = run(at.toggle(key="umap_orient_show").set_value(True))
    assert at.selectbox(key="umap_orient_source").options == list("pqr")
    assert "the selection (2 points)" in texts(at.caption)  # p's rows of the selection
    at = run(at.selectbox(key="umap_orient_source").set_value(1))
    assert "the selection (3 points)" in texts(at.caption)  # q's, as q's own rows
    table = pd.read_csv(io.BytesIO(downloads["orientations__q__3rows__ipf_z.csv"]()))
    q = read_latents(paths["q"])
    assert table["row"].tolist() == [10, 11, 12]
    np.testing.assert_allclose(table["phi1_deg"], np.degrees(q.orientations.euler[[10, 11, 12], 0]), atol=1e-6)


def test_a_quality_filter_on_a_studys_clusters_keeps_each_scans_pixels_as_the_command_line_does(downloads, tmp_path):
    from latentcore.cli import main

    at = clustered(on_study("clusters"))
    at = run(at.checkbox(key="quality_bc_on").check())
    threshold = at.number_input(key="quality_bc").value  # the first offer: a tenth of the pixels removed
    kept = int(at.metric[2].value.replace(",", ""))
    assert 0 < kept < 3 * ROWS
    assert f"{kept:,} of {3 * ROWS:,} points kept" in texts(at.info) and "each scan by its own maps" in texts(at.info)
    kept_in = []  # each scan's mask on its own grid, its legend counting the pixels it keeps
    for index, name in enumerate("pqr"):
        at = run(at.selectbox(key="quality_source").set_value(index))
        mask = next(spec for spec in chart_specs(at) if f"Pixels kept by bc >= {threshold:g} in {name}" in
                    json.dumps(spec))
        legend = [trace["name"] for trace in mask["data"] if trace["type"] == "scatter" and trace.get("name")]
        kept_in.append(int(legend[-1].removeprefix("kept (").removesuffix(")").replace(",", "")))
        assert legend[-2] == f"removed ({ROWS - kept_in[-1]:,})"
    assert sum(kept_in) == kept
    name = next(name for name in downloads if name.startswith("cluster_assignments__") and "_q-bc-ge" in name)
    shown = downloads[name]()
    band = at.session_state["bandcontrast"].spec  # each scan's own map: a column of the CSV, as on a scan
    assert main(["cluster", at.session_state["latents"], "--features", "latent", "--method", "kmeans", "--k", "4",
                 "--bandcontrast", band, "--smooth", "1", "--quality", f"bc>={threshold!r}", "--no-png",
                 "--out", str(tmp_path)]) == 0
    assert shown == (tmp_path / name).read_bytes()  # the command line's rows and clusters
    assert len(pd.read_csv(io.BytesIO(shown))) == kept
    # the labels' probe on the study under the same filter: each scan's kept rows, as `probe --quality` on the study
    from latentcore.analysis.labels.labelled import LabelledRows

    at.session_state["labels"] = LabelledRows.from_names(np.r_[0:40, 150:190], ["grain"] * 40 + ["other"] * 40)
    at = run(run(at).toggle(key="labels_clusters_predict").set_value(True))
    assert "trained on the labelled rows it keeps" in texts(at.caption)
    name = next(name for name in downloads if name.startswith("probe_predictions__") and "_q-bc-ge" in name)
    labels = Path(at.session_state["workdir"]) / "labels" / "labels.csv"
    assert main(["probe", at.session_state["latents"], "--labels", str(labels), "--quality", f"bc>={threshold!r}",
                 "--no-png", "--out", str(tmp_path / "probe")]) == 0
    assert downloads[name]() == (tmp_path / "probe" / name).read_bytes()
    assert len(pd.read_csv(io.BytesIO(downloads[name]()))) == kept
    at = run(at, "umap")  # the study's embedding of the rows the filter keeps, each scan by its own maps
    said = texts(at.caption)
    assert f"of {kept:,} latents" in said and f"fitted on every one of the {kept:,} rows" in said
    assert f"{kept:,} of {3 * ROWS:,} points kept" in texts(at.info)


def test_each_scan_map_of_a_study_draws_its_own_grain_boundaries_as_its_file_does():
    from ui.widgets import explore

    at = on_study("umap", "pq", orientations=True)
    for name in "pq":
        assert "lines_x" not in point_panels(at)[f"umap_map_{name}"][1]
    at = run(at.toggle(key="umap_boundaries").set_value(True))  # offered: the study's scans hold orientations
    drawn = {name: point_panels(at)[f"umap_map_{name}"][1] for name in "pq"}
    at = run(run(at, "clusters").toggle(key="clusters_boundaries").set_value(True))
    for name in "pq":  # the Clusters page's maps of the study: the same lines
        np.testing.assert_array_equal(point_panels(at)[f"clusters_map_{name}"][1]["lines_x"], drawn[name]["lines_x"])
    folder = Path(at.session_state["workdir"])
    for name in "pq":  # each source's lines are those its own file's page draws
        at.session_state["latents"] = str(folder / f"{name}__pca_latents.h5")
        at = run(at, "umap")
        assert at.toggle(key="umap_boundaries").value
        assert explore.CLUSTERS not in at.selectbox(key="umap_colour").options  # the study's clusters are not its
        own = point_panels(at)["umap_map"][1]
        assert np.isnan(own["lines_x"]).sum() > 3  # several segments
        for axis in ("lines_x", "lines_y"):
            np.testing.assert_array_equal(drawn[name][axis], own[axis])
    assert not np.array_equal(drawn["p"]["lines_x"], drawn["q"]["lines_x"])  # each scan its own grains


def test_the_clusters_of_one_latents_colour_no_other_latents_the_session_opens():
    """The UMAP page colours by the Clusters page's last clustering only on the latents it was made on: a study's
    row ids on one of its files raised an IndexError (or, on a larger file, would colour the wrong rows)."""
    from ui.widgets import explore

    at = run(on_study("clusters", "pq"), "umap")
    assert at.selectbox(key="umap_colour").value == explore.CLUSTERS  # the page's own default: the clusters
    at.session_state["latents"] = str(Path(at.session_state["workdir"]) / "q__pca_latents.h5")
    at = run(at)
    assert explore.CLUSTERS not in at.selectbox(key="umap_colour").options
    at = run(run(at, "clusters"), "umap")  # clustered again, on these latents
    assert explore.CLUSTERS in at.selectbox(key="umap_colour").options


def test_labels_made_on_a_study_label_none_of_its_files_rows_and_come_back_with_the_study():
    """Labels name rows of the latents they were made on: a study's row ids on one of its files failed the Rank page
    (IndexError) and would label other rows of a larger file; a new data file dropped them. They are kept, said, and
    back with the study, after a reload too; another model's latents of the same scan share the rows, and the labels."""
    from driving import fresh_context, url_workspace

    from ui.widgets import explore

    at = on_study("umap", "pq")
    study, folder = at.session_state["latents"], Path(at.session_state["workdir"])
    at.session_state["selection"] = np.arange(300, 384)  # rows of q, the study's second source
    at = run(at)
    at = run(at.text_input(key="labels_umap_name").input("grain"))
    at = run(at.button(key="labels_umap_assign").click())
    q = folder / "q__pca_latents.h5"
    at = run(at, "data")  # q's latents uploaded and explored
    at.file_uploader(key="uploads").set_value([(q.name, q.read_bytes(), "application/octet-stream")])
    picker = run(at).selectbox(key="data_source")
    at = run(picker.set_value(next(option for option in picker.options if q.name in option)))
    at = run(at.button(key="explore_latents").click())
    assert Path(at.session_state["latents"]).name == q.name
    for page in ("rank", "clusters", "maps", "umap"):  # Rank failed
        at = run(at, page)
    assert explore.LABELS not in at.selectbox(key="umap_colour").options
    assert "labels name the rows of series.study.json, not of these latents" in texts(at.info)
    at = run(fresh_context(url_workspace(at), "umap"))  # a reload on q: the study's labels are still not q's
    assert explore.LABELS not in at.selectbox(key="umap_colour").options
    at.session_state["latents"] = study
    at = run(at)
    labelled = at.session_state["labels"]
    assert explore.LABELS in at.selectbox(key="umap_colour").options
    np.testing.assert_array_equal(labelled.rows, np.arange(300, 384))
    other = folder / "q__other_latents.h5"  # the same scan's latents by another model: its rows, its labels
    other.write_bytes(q.read_bytes())
    at.session_state["latents"], at.session_state["selection"] = str(q), np.arange(5, 9)
    at = run(run(at).text_input(key="labels_umap_name").input("q grain"))
    at = run(at.button(key="labels_umap_assign").click())
    at.session_state["latents"] = str(other)
    at = run(at)
    assert explore.LABELS in at.selectbox(key="umap_colour").options
    np.testing.assert_array_equal(at.session_state["labels"].rows, np.arange(5, 9))


def test_a_line_on_a_study_sources_map_is_that_sources_profile_as_the_command_writes_it_for_its_file(tmp_path):
    from latentcore.cli import main

    def line_marks(at, group: str, key: str) -> list:
        return [mark for mark in point_panels(at)[f"overlay:{group}"]["marks"].get(key, []) if mark["symbol"] == "line"]

    def profile(at) -> pd.DataFrame:
        return next(frame.value for frame in at.dataframe if "distance_um" in frame.value.columns)

    at = on_study("umap", "pq")  # the session's band contrast the demo's table: a study's scans take their own maps
    assert "Draw a line on the scan map" in texts(at.caption)
    line = {"shape": "line", "op": "replace", "x": [1.0, 20.0], "y": [2.0, 14.0], "count": 0}
    at.session_state["umap_map_q"] = {"shape": line}  # drawn with q's map's Line tool
    at = run(at)
    at.session_state["umap_map_q"] = {}
    assert line_marks(at, "umap_map_q", "umap_map_q")[0]["x"] == line["x"] and not line_marks(at, "umap_map_p",
                                                                                               "umap_map_p")
    shown = profile(at)
    q = Path(at.session_state["workdir"]) / "q__pca_latents.h5"
    assert main(["profile", str(q), "--line", "1,2,20,14", "--bandcontrast", "scan", "--dims", "0-2",
                 "--out", str(tmp_path), "--no-png"]) == 0
    written = pd.read_csv(next(tmp_path.glob("line_profile__*.csv")))
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), written, check_dtype=False)  # q's rows and values
    at = run(at, "maps")  # the Latent maps page shows the line on q's maps only
    assert not line_marks(at, "maps", "maps_picker")
    at = run(at.selectbox(key="maps_source").set_value(1))
    assert line_marks(at, "maps", "maps_picker")[0]["y"] == line["y"]
    pd.testing.assert_frame_equal(profile(at).reset_index(drop=True), written, check_dtype=False)
