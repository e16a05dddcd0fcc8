"""The pages' logic with Streamlit's AppTest: the real app script, the real demo scan and demo VAE,
real extraction and analysis; only the browser is left out (tests/browser/test_e2e_browser.py has it).
Selection tests set the session's selection (the global row ids every panel reads), or a point panel's
message as its browser side sends it, and check what each page shows for it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from driving import chart_specs, extracted, go, new_app, overlay_rows, point_panels, run, steps_from_row, texts

from latentcore.data.bandcontrast import BandContrast
from latentcore.demo import DEMO_BANDCONTRAST, DEMO_MODEL, DEMO_SCAN
from latentcore.outputs import latents_path_for
from latentcore.storage import sha256_file

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


def test_every_page_draws_its_title_first_also_before_any_latents_exist():
    """A first visit says where it is before anything else (issue 55): the heading begins with the page's title in
    the navigation, also on a page that then waits for latents (Compare drew none)."""
    from ui.session.settings import PAGES

    at = new_app()
    for key, page in PAGES.items():
        run(at, key)
        assert at.title and at.title[0].value.startswith(page.title), (key, [t.value for t in at.title])


# -- Data ---------------------------------------------------------------------------------------

def test_data_page_opens_on_the_demo_and_shows_what_it_holds():
    at = new_app()
    assert [t.value for t in at.title] == ["Data"]
    assert [m.value for m in at.metric] == ["h5ebsd", "2,400", "1 x 60 x 60", "40 x 60"]
    assert at.metric[3].label == "Grid (rows x columns)"  # which of 40 and 60 is the rows
    info = at.get("json")[0].proto.body
    assert json.loads(info)["grid_shape"] == [40, 60]
    assert len(at.get("image")) == 6  # the first six patterns
    assert at.selectbox(key="data_bc").value.endswith("(demo)")
    assert "built-in demo" in at.sidebar.markdown[0].value
    assert re.search(r"Heavy work runs on this server's \d+ worker processes\.", texts(at.sidebar.caption))
    assert Path(at.session_state["workdir"]).is_dir()  # the session's private folder


def test_demo_button_restores_the_demo_after_another_choice():
    at = new_app()
    at.selectbox(key="data_bc").select("none").run()
    assert at.session_state["bandcontrast"] is None
    at.button(key="use_demo").click().run()
    assert at.session_state["bandcontrast"] == BandContrast.table(DEMO_BANDCONTRAST)
    assert "The built-in demo scan and its band contrast are selected." in texts(at.success)


# -- Extract ------------------------------------------------------------------------------------

def test_extract_writes_the_latents_then_reuses_them_unless_overwrite():
    import torch

    at = go(new_app(), "extract")
    assert at.selectbox(key="extract_model").value == "Built-in demo VAE"
    devices = at.radio(key="extract_device").options
    if torch.cuda.is_available():  # what is present is named: auto, CPU and the GPU
        assert len(devices) == 3 and devices[2].startswith("GPU (")
    else:
        assert devices == ["auto (CPU: no GPU found)", "CPU"]
    at.button(key="extract_run").click().run()
    name = latents_path_for(DEMO_SCAN, model="demo-vae").name  # the name the demo VAE's checkpoint records
    assert f"Wrote {name}: all 2,400 rows" in texts(at.success)
    path = Path(at.session_state["latents"])
    assert path.exists() and path.is_relative_to(at.session_state["workdir"])
    from latentcore.latents import read_latents

    assert f"all 2,400 x {read_latents(path).dim} with x, y" in texts(at.markdown)
    written = path.stat().st_mtime_ns

    at.button(key="extract_run").click().run()
    assert f"Reused {name}" in texts(at.success)
    assert path.stat().st_mtime_ns == written
    at.checkbox(key="extract_overwrite").check().run()
    at.button(key="extract_run").click().run()
    assert f"Wrote {name}" in texts(at.success)
    assert path.stat().st_mtime_ns != written
    assert at.get("download_button")  # the latents file can be downloaded
    assert f"**ni_grains_h5ebsd · demo-vae · 2,400 rows** (`{name}`)" in texts(at.markdown)


def test_a_second_model_of_the_same_scan_writes_latents_of_its_own_named_by_the_model():
    import torch

    from latentcore.models.vae import ConvVAE, VAEConfig

    at = go(new_app(), "extract")
    at.button(key="extract_run").click().run()
    demo = Path(at.session_state["latents"])
    demo_bytes = demo.read_bytes()
    checkpoint = Path(at.session_state["workdir"]) / "models" / "small.pth"  # a model recording no name
    checkpoint.parent.mkdir(exist_ok=True)
    torch.manual_seed(0)
    torch.save(ConvVAE(VAEConfig(input_size=60, latent_dim=3, channels=(8, 16))).checkpoint(), checkpoint)
    at.session_state["models"] = {"small.pth": {"path": str(checkpoint), "arch": "vae", "options": None}}
    at.run()
    at.selectbox(key="extract_model").select("small.pth").run()
    name = latents_path_for(DEMO_SCAN, model=sha256_file(checkpoint)[:12]).name  # no name: its short hash
    assert f"Writes `{name}`." in texts(at.caption)  # not "reused": the demo VAE's file is another model's
    assert "reused" not in texts(at.caption)
    at.button(key="extract_run").click().run()
    assert f"Wrote {name}: all 2,400 rows" in texts(at.success)
    second = Path(at.session_state["latents"])
    assert second.name == name and second != demo and demo.read_bytes() == demo_bytes
    assert f"**ni_grains_h5ebsd · {sha256_file(checkpoint)[:12]} · 2,400 rows**" in texts(at.markdown)


def test_analysis_pages_without_latents_offer_the_demo_extraction():
    at = go(new_app(), "umap")
    assert "No latents yet" in texts(at.info)
    at.button(key="require_latents_demo").click().run()
    assert not at.exception
    assert at.session_state["latents"] is not None
    assert at.get("plotly_chart")  # the UMAP is drawn


# -- UMAP ---------------------------------------------------------------------------------------

def test_umap_colours_by_band_contrast_and_shows_a_selection():
    at = go(extracted(new_app()), "umap")
    (scatter, points), (scan, pixels) = point_panels(at)["umap_scatter"], point_panels(at)["umap_map"]
    assert scatter["kind"] == "scatter" and points["qx"].dtype == np.uint16 and points["codes"].dtype == np.uint8
    assert len(points["qx"]) == 2400 and scatter["x_title"] == "UMAP 1"
    assert scan["kind"] == "grid" and len(pixels["cell"]) == 2400 and scan["group"] == scatter["group"]  # linked
    at.selectbox(key="umap_colour").select("band contrast").run()
    assert point_panels(at)["umap_scatter"][0]["colorbar"]["title"] == "band contrast"
    at.selectbox(key="umap_colour").select("k-means clusters of the latents").run()
    at.number_input(key="umap_kmeans").set_value(4).run()
    legend = [name for name, _ in point_panels(at)["umap_scatter"][0]["legend"]]
    assert [name.split(" (")[0] for name in legend] == ["cluster 0", "cluster 1", "cluster 2", "cluster 3"]
    assert sum(int(name.split("(")[1].rstrip(")").replace(",", "")) for name in legend) == 2400  # with counts
    empty = at.dataframe[0].value  # before a selection: its table, empty (the browser loads a table's code now)
    assert empty.empty and list(empty.columns)[:3] == ["row", "x_um", "y_um"] and not at.get("image")

    at.session_state["selection"] = np.array([5, 17, 900])
    at.run()
    assert "Selected: 3 points" in texts(at.subheader)
    assert len(at.get("image")) == 3  # their patterns
    table = at.dataframe[0].value
    assert list(table["row"]) == [5, 17, 900]  # the columns of the UMAP table's download (docs/outputs.md)
    assert list(table.columns) == ["row", "x_um", "y_um", "umap_0", "umap_1", "bandcontrast", "partition", "index"]
    overlay = point_panels(at)["overlay:umap"]  # both panels highlight the selection
    assert overlay["rows"] == [5, 17, 900] and overlay["count"] == 3


def png_of(trace) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(trace["source"].split(",", 1)[1]))).convert("RGBA"))[..., :3]


def test_umap_scan_panel_has_its_colour_bar_legend_limits_and_histogram():
    at = go(extracted(new_app()), "umap")
    at.selectbox(key="umap_colour").select("band contrast").run()
    scan_map, (histogram,) = point_panels(at)["umap_map"][0], chart_specs(at)
    assert scan_map["colorbar"]["title"] == "band contrast" and "µm" in scan_map["x_title"]
    assert histogram["data"][0]["type"] == "bar" and histogram["layout"]["xaxis"]["title"]["text"] == "band contrast"
    at.selectbox(key="umap_scale_cmap").select("Greys").run()
    at.checkbox(key="umap_scale_fixed").check().run()
    at.number_input(key="umap_scale_vmin").set_value(100.0).run()
    at.number_input(key="umap_scale_vmax").set_value(150.0).run()
    scan_map, (histogram,) = point_panels(at)["umap_map"][0], chart_specs(at)
    bar = scan_map["colorbar"]
    assert (bar["low"], bar["high"]) == (100.0, 150.0) and bar["scale"][0] == "#ffffff"  # Greys: white
    assert sorted(s["x0"] for s in histogram["layout"]["shapes"]) == [100.0, 150.0]

    at.selectbox(key="umap_colour").select("a latent dimension").run()
    from latentcore.latents import read_latents

    latent = read_latents(at.session_state["latents"]).partitions["all"][:, 0]
    own = pytest.approx((float(latent.min()), float(latent.max())), rel=1e-6)
    bar = point_panels(at)["umap_map"][0]["colorbar"]
    assert bar["title"] == "latent 0" and (bar["low"], bar["high"]) == own  # fixed limits: other values, their range
    assert (at.number_input(key="umap_scale_vmin").value, at.number_input(key="umap_scale_vmax").value) == own
    at.selectbox(key="umap_colour").select("none").run()
    assert chart_specs(at) == []  # no histogram of nothing
    scan_map, pixels = point_panels(at)["umap_map"]
    from latentcore import figures

    neutral = [int(figures.NEUTRAL[i:i + 2], 16) for i in (1, 3, 5)]
    assert all(scan_map["palette"][code][:3] == neutral for code in np.unique(pixels["codes"]))  # one neutral grey
    assert scan_map["legend"] == [["all rows (2,400)", figures.NEUTRAL]]


def test_umap_limits_show_the_coloured_values_range_and_start_from_it_when_fixed():
    """vmin and vmax showed 0 and 255 for a latent dimension ranging -0.15..0.73 (band contrast's, the first
    colour), and Fixed limits started from them."""
    from latentcore.latents import read_latents

    at = go(extracted(new_app()), "umap")
    at.selectbox(key="umap_colour").select("band contrast").run()
    at.selectbox(key="umap_colour").select("a latent dimension").run()
    at.number_input(key="umap_dim").set_value(2).run()
    latent = read_latents(at.session_state["latents"]).partitions["all"][:, 2]
    own = pytest.approx((float(latent.min()), float(latent.max())), rel=1e-6)
    shown = lambda: (at.number_input(key="umap_scale_vmin").value, at.number_input(key="umap_scale_vmax").value)  # noqa: E731
    assert shown() == own
    at.checkbox(key="umap_scale_fixed").check().run()
    bar = point_panels(at)["umap_map"][0]["colorbar"]
    assert shown() == own and (bar["low"], bar["high"]) == own


def test_one_selected_point_is_said_in_the_singular_and_its_table_fits_its_row(monkeypatch):
    """One selected point's table was drawn 240 px high (its row and five empty ones) under "Selected: 1 points"."""
    import streamlit as st

    drawn, dataframe = {}, st.dataframe

    def recording(data, *args, **kwargs):
        drawn[kwargs.get("key")] = (len(data), kwargs.get("height", "auto"))
        return dataframe(data, *args, **kwargs)
    monkeypatch.setattr(st, "dataframe", recording)
    at = go(extracted(new_app()), "umap")
    at.session_state["selection"] = np.array([42])
    run(at)
    assert drawn["umap_selected_table"] == (1, "auto")  # as high as its one row
    assert "Selected: 1 point" in [h.value for h in at.subheader]  # not "1 points"
    at.session_state["selection"] = np.arange(100)
    run(at)
    rows, height = drawn["umap_selected_table"]
    assert rows == 100 and isinstance(height, int) and height < 10 * 35  # the first rows, then a scroll


def test_latents_whose_data_file_is_not_here_name_it_as_recorded():
    """No images without the data file: its name as the latents file records it, drawn as it is (a name holding
    `![x](http://...)` drew a remote image)."""
    import h5py

    at = extracted(new_app())
    with h5py.File(at.session_state["latents"], "r+") as f:
        f.attrs["source"] = "![x](http://example.org/p.png).h5"
    at.session_state["selection"] = np.arange(3)
    go(at, "umap")
    assert "data file, !\\[x\\](http\\://example.org/p.png).h5, is not among this session's" in texts(at.caption)


def test_umap_clicked_point_lists_its_nearest_neighbours():
    from latentcore.analysis.embedding.search import nearest_neighbours
    from latentcore.latents import read_latents

    at = go(extracted(new_app()), "umap")
    at.session_state["selection"] = np.array([42])
    at.number_input(key="umap_k").set_value(5).run()
    latents = read_latents(at.session_state["latents"]).partitions["all"]
    expected, _ = nearest_neighbours(latents, 42, k=5)
    neighbours = at.dataframe[1].value
    assert list(neighbours["row"]) == list(expected)
    marks = point_panels(at)["overlay:umap"]["marks"]["umap_scatter"]
    assert [len(m["x"]) for m in marks if m["name"] == "nearest neighbours"] == [5]


# -- Latent maps --------------------------------------------------------------------------------

def test_maps_roi_sliders_and_dimension_picker():
    at = go(extracted(new_app()), "maps")
    assert "2,400 pixels on a grid of 40 rows x 60 columns" in texts(at.caption)
    at.slider(key="roi_x").set_value((15.0, 88.5)).run()
    at.slider(key="roi_y").set_value((0.0, 29.0)).run()
    assert "ROI x 15 to 88.5 µm, y 0 to 29 µm: 1,000 pixels on a grid of 20 rows x 50 columns, step 1.5 x 1.5 µm" in texts(at.caption)
    at.multiselect(key="maps_dims").unselect(0).run()
    grid = chart_specs(at)[0]
    assert [a["text"] for a in grid["layout"]["annotations"]][:2] == ["dim 1", "dim 2"]
    assert len([t for t in grid["data"] if t["type"] == "heatmap"]) == 7


def maps_grid_and_histogram(at) -> tuple[dict, dict]:
    """The Latent maps page's grid of maps (its first chart) and the histogram under the map to click on."""
    specs = chart_specs(at)
    return specs[0], next(s for s in specs if s["data"][0]["type"] == "bar" and "latent" in str(s["layout"]["xaxis"]))


def test_maps_colour_map_limits_histogram_and_scale_bar(monkeypatch):
    from ui.widgets import maps_panels

    made, make = [], maps_panels._picker_colour  # the click map's colour: made again only when it changes
    monkeypatch.setattr(maps_panels, "_picker_colour", lambda *args: made.append(args[2]) or make(*args))
    at = go(extracted(new_app()), "maps")
    grid, histogram = maps_grid_and_histogram(at)
    picker, values = point_panels(at)["maps_picker"]  # the map to click on: a point panel of the ROI's pixels
    made_before = len(made)
    at.run()
    assert len(made) == made_before
    assert at.checkbox(key="maps_scale_bar").value and grid["layout"]["shapes"]
    assert histogram["data"][0]["type"] == "bar" and histogram["layout"]["xaxis"]["title"]["text"] == "latent dim 0"
    assert picker["title"] == picker["colorbar"]["title"] == "latent dim 0" and len(values["values"]) == 2400
    at.selectbox(key="maps_scale_cmap").select("Magma").run()
    assert made[made_before:] == ["Magma"]
    at.checkbox(key="maps_scale_fixed").check().run()
    at.number_input(key="maps_scale_vmin").set_value(-1.0).run()
    at.number_input(key="maps_scale_vmax").set_value(1.0).run()
    grid, histogram = maps_grid_and_histogram(at)
    picker = point_panels(at)["maps_picker"][0]
    heatmaps = [t for t in grid["data"] if t["type"] == "heatmap"]
    assert all((t["zmin"], t["zmax"]) == (-1, 1) for t in heatmaps)
    assert (picker["colorbar"]["low"], picker["colorbar"]["high"]) == (-1, 1)
    assert heatmaps[0]["colorscale"][0][1] == picker["colorbar"]["scale"][0] == "#000004"  # Magma, in both
    assert sorted(s["x0"] for s in histogram["layout"]["shapes"]) == [-1.0, 1.0]


def test_maps_smoothing_is_applied_and_said():
    at = go(extracted(new_app()), "maps")
    raw = chart_specs(at)[0]["data"][0]["z"]
    at.number_input(key="maps_smooth").set_value(1.5).run()
    assert "Smoothed: Gaussian of sigma 1.5 grid steps" in texts(at.caption)
    assert chart_specs(at)[0]["data"][0]["z"] != raw


@pytest.fixture
def download_names(monkeypatch) -> list[str]:
    """The file names of the downloads a page offers (made when clicked: Streamlit registers them by name)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    names, register = [], MediaFileManager.add_deferred

    def recording(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        names.append(file_name)
        return register(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", recording)
    return names


def test_the_maps_page_and_the_maps_command_name_the_same_maps_the_same_way(download_names, tmp_path):
    from latentcore.cli import main

    at = go(extracted(new_app()), "maps")
    at.slider(key="roi_x").set_value((15.0, 88.5)).run()
    at.number_input(key="maps_smooth").set_value(1.5).run()
    download_names.clear()
    at.multiselect(key="maps_dims").set_value([5, 1, 2, 3]).run()
    assert not at.exception, at.exception
    page = {name for name in download_names if name and name.startswith("latent_maps__")}  # not the scan's maps
    assert main(["maps", at.session_state["latents"], "--dims", "5,1,2,3", "--roi", "15,88.5,0,58.5",
                 "--smooth", "1.5", "--out", str(tmp_path / "cli")]) == 0
    tag = "dims1-3_5_smooth1.5_roi15-88.5_0-58.5"
    assert page == {f"latent_maps__{tag}.{suffix}" for suffix in ("png", "npz", "npy", "json")}  # + the report
    assert {path.name for path in (tmp_path / "cli").iterdir()} == page


def test_maps_selected_pixel_shows_its_pattern_and_latent():
    at = go(extracted(new_app()), "maps")
    assert "No pixel selected yet" in texts(at.caption)
    at.session_state["selection"] = np.array([61])  # row 1, column 1 of the 40 x 60 scan
    at.run()
    assert "Pixel row 61 at x = 1.5 µm, y = 1.5 µm" in texts(at.markdown)
    assert len(at.get("image")) == 1
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # its latent vector
    mark = point_panels(at)["overlay:maps"]["marks"]["maps_picker"][0]  # the picked pixel, marked on the click map
    assert (mark["x"], mark["y"]) == ([1.5], [1.5])


def test_maps_click_map_selects_by_click_and_box_and_names_the_pixel():
    at = go(extracted(new_app()), "maps")
    at.slider(key="roi_y").set_value((30.0, 58.5)).run()  # the ROI's 1,200 rows: the panel's rows are a part
    at.session_state["maps_picker"] = {"shape": {"shape": "click", "row": 61, "x": [1.5], "y": [31.5]}}
    at.run()  # as the browser sends a click on the ROI's 62nd pixel
    assert at.session_state["selection"].tolist() == [1200 + 61] and not at.warning
    assert "Pixel row 1261 at x = 1.5 µm, y = 31.5 µm" in texts(at.markdown)
    at.session_state["maps_picker"] = {"shape": {"shape": "box", "x": [0, 3], "y": [30, 31.5], "op": "add"}}
    at.run()
    assert at.session_state["selection"].tolist() == [1200, 1201, 1202, 1260, 1261, 1262]
    assert overlay_rows(point_panels(at)["overlay:maps"]).tolist() == [0, 1, 2, 60, 61, 62]


# -- Clusters -----------------------------------------------------------------------------------

def test_clusters_method_parameters_and_roi_change_the_result():
    at = go(extracted(new_app()), "clusters")
    assert [m.value for m in at.metric][:3] == ["3", "0", "2,400"]
    at.selectbox(key="clusters_method").select("kmeans").run()
    at.number_input(key="clusters_k").set_value(5).run()
    assert at.metric[0].value == "5"
    at.slider(key="roi_y").set_value((0.0, 29.0)).run()
    assert at.metric[2].value == "1,200"
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[3:] == ["Scan with the clusters as phases (Oxford .ctf: AZtecCrystal, MTEX)",
                          "Scan with the clusters as phases (EDAX .ang: OIM, MTEX)"]
    labels = labels[:3]  # the clustering's own files
    assert all(f" — model demo-vae (SHA-256 {sha256_file(DEMO_MODEL)[:8]})" in label for label in labels)  # which model made the latents
    names = [label.split(" — ")[0] for label in labels]  # each whole file name
    assert names == ["cluster_assignments__kmeans_dim0_roi0-88.5_0-29.csv",
                     "cluster_report__kmeans_dim0_roi0-88.5_0-29.json",
                     "cluster_latent_bc__kmeans_dim0_roi0-88.5_0-29.png"]


def test_clusters_smoothing_auto_k_curve_and_the_parameters_used_are_shown():
    at = go(extracted(new_app()), "clusters")
    at.radio(key="clusters_features").set_value("latent").run()
    at.number_input(key="clusters_smooth").set_value(1.0).run()
    assert "kmeans" not in texts(at.caption) and "sigma 1 grid steps" in texts(at.caption)
    assert [b.proto.label for b in at.get("download_button")][0].split(" — ")[0] == \
        "cluster_assignments__gmm_latents_smooth1_full.csv"
    at.checkbox(key="clusters_auto").check().run()
    at.slider(key="clusters_krange").set_value((2, 3)).run()  # six grains: the best k is the top of 2-3
    assert "upper end of the range 2-3" in texts(at.warning)
    curve = chart_specs(at)[-1]
    assert [t["x"] for t in curve["data"][:2]] == [[2, 3], [2, 3]] and "chosen k = 3" in curve["data"][2]["name"]
    at.selectbox(key="clusters_method").select("hdbscan").run()
    assert "hdbscan fitted on all 2,400 rows with min_cluster_size 50, min_samples 10" in texts(at.caption)


@pytest.mark.usefixtures("empty_embedding_cache")  # no UMAP of these latents yet
def test_whole_vector_clusters_show_on_pc1_pc2_until_the_umap_page_fits_a_umap_then_on_it(monkeypatch):
    from sklearn.decomposition import PCA

    import latentcore.analysis.artifacts.cluster as cluster
    from latentcore.latents import read_latents

    at = go(extracted(new_app()), "clusters")
    at.radio(key="clusters_features").set_value("latent").run()
    scatter, points = point_panels(at)["clusters_scatter"]
    assert (scatter["x_title"], scatter["y_title"]) == ("PC1", "PC2")
    assert "first two principal components" in texts(at.caption) + texts(at.markdown)
    matrix = read_latents(at.session_state["latents"]).stacked()[0]
    expected = PCA(2, random_state=0).fit_transform(matrix.astype(np.float64))  # every row, in row order
    for axis, values in (("x", expected[:, 0]), ("y", expected[:, 1])):  # uint16 codes over their range
        codes = (values - values.min()) / (values.max() - values.min()) * 65535
        assert np.abs(points[f"q{axis}"].astype(np.float64) - codes).max() <= 1.01
    names = [b.proto.label.split(" — ")[0] for b in at.get("download_button")]
    assert "cluster_pca__gmm_latents_full.png" in names  # the figure is named by what it shows

    at = go(at, "umap")  # the UMAP page fits the workspace's UMAP ...
    umap = point_panels(at)["umap_scatter"][1]  # its coordinates, quantised as the clusters' scatter's are
    at = go(at, "clusters")  # ... and the clusters are drawn on it
    scatter, points = point_panels(at)["clusters_scatter"]
    assert (scatter["x_title"], scatter["y_title"]) == ("UMAP 1", "UMAP 2")
    assert np.array_equal(points["qx"], umap["qx"]) and np.array_equal(points["qy"], umap["qy"])
    names = [b.proto.label.split(" — ")[0] for b in at.get("download_button")]
    assert "cluster_umap__gmm_latents_full.png" in names
    gathered, umap_view = [], cluster.umap_view
    monkeypatch.setattr(cluster, "umap_view", lambda coords: gathered.append(len(coords)) or umap_view(coords))
    at.session_state["selection"] = np.arange(0, 2400, 5)
    at = at.run()  # a selection's rerun draws the coordinates made once for this clustering and UMAP
    assert not gathered and at.metric[3].value == "480"  # "Selected here"
    at.slider(key="roi_y").set_value((0.0, 29.0)).run()  # a part of the scan: its rows' UMAP points
    assert gathered == [1200]  # another clustering: its rows gathered once
    rows = np.flatnonzero(read_latents(at.session_state["latents"]).y <= 29.0)
    part = umap["qx"].astype(np.float64)[rows]  # quantised again over the part's own range
    codes = (part - part.min()) / (part.max() - part.min()) * 65535
    points = point_panels(at)["clusters_scatter"][1]
    assert len(rows) == 1200 and np.abs(points["qx"] - codes).max() <= 2.5
    assert np.array_equal(rows, np.arange(1200)) and "row_ids" not in points  # the file's first rows: the hover's
    # row i is the file's row i, so no ids are sent (a part further in sends them: below)


def test_clusters_selection_is_highlighted_in_both_panels_of_one_group():
    at = go(extracted(new_app()), "clusters")
    empty = at.dataframe[0].value  # before a selection: its table, empty (the browser loads a table's code now)
    assert empty.empty and list(empty.columns) == ["row", "x_um", "y_um", "latent_0", "bandcontrast", "cluster"]
    rows = np.arange(0, 2400, 7)
    at.session_state["selection"] = rows
    at.run()
    assert at.metric[3].value == f"{len(rows):,}"
    panels = point_panels(at)
    assert panels["clusters_scatter"][0]["group"] == panels["clusters_map"][0]["group"] == "clusters"
    assert np.array_equal(overlay_rows(panels["overlay:clusters"]), rows)  # both panels show it
    assert not any("row_ids" in panels[key][1] for key in ("clusters_scatter", "clusters_map"))  # every row: not sent
    assert list(at.dataframe[0].value["row"]) == list(rows)
    assert list(at.dataframe[0].value.columns) == ["row", "x_um", "y_um", "latent_0", "bandcontrast", "cluster"]

    at.slider(key="roi_y").set_value((30.0, 58.5)).run()  # the ROI's rows: the panels' positions among them
    panels = point_panels(at)
    shown = panels["clusters_map"][1]["row_ids"]
    assert len(shown) == 1200 and shown.min() == 1200
    assert np.array_equal(shown[overlay_rows(panels["overlay:clusters"])], rows[rows >= 1200])
    assert at.metric[3].value == f"{int((rows >= 1200).sum()):,}"


def test_clusters_map_has_a_legend_with_counts_and_shading_is_optional():
    from latentcore import figures

    at = go(extracted(new_app()), "clusters")
    panels = point_panels(at)
    scan, scatter = panels["clusters_map"][0], panels["clusters_scatter"][0]
    assert scan["title"] == "Clusters on the scan" and scan["x_title"] == "x (µm)"
    assert scan["legend"] == scatter["legend"]
    names = [name for name, _ in scan["legend"]]
    assert [name.split(" (")[0] for name in names] == ["cluster 0", "cluster 1", "cluster 2"]
    assert sum(int(name.split("(")[1].rstrip(")").replace(",", "")) for name in names) == 2400
    assert [hue for _, hue in scan["legend"]] == [figures.cluster_hue(k) for k in range(3)]
    palette = ["#%02x%02x%02x" % tuple(rgba[:3]) for rgba in scatter["palette"]]
    assert palette == [figures.NOISE_GREY] + [figures.cluster_hue(k) for k in range(3)]  # flat hues by default
    assert not at.toggle(key="clusters_shade").value
    at.toggle(key="clusters_shade").set_value(True).run()
    panels = point_panels(at)
    assert len(panels["clusters_scatter"][0]["palette"]) == 1 + 3 * figures.SHADE_LEVELS  # each cluster's shades
    assert panels["clusters_map"][0]["palette"] == panels["clusters_scatter"][0]["palette"]  # in both panels
    assert panels["clusters_map"][0]["legend"]


def test_cluster_colours_are_the_same_in_map_and_scatter_and_each_pixel_is_its_row():
    from latentcore import figures
    from latentcore.latents import read_latents

    at = go(extracted(new_app()), "clusters")
    panels = point_panels(at)
    (scan, on_map), (scatter, on_scatter) = panels["clusters_map"], panels["clusters_scatter"]
    assert np.array_equal(on_map["codes"], on_scatter["codes"]) and scan["palette"] == scatter["palette"]
    clusters = at.session_state["last_clusters"]
    palette = np.array(["#%02x%02x%02x" % tuple(rgba[:3]) for rgba in scan["palette"]])
    hues = [figures.cluster_hue(k) if k >= 0 else figures.NOISE_GREY for k in clusters["labels"]]
    assert (palette[on_map["codes"]] == np.array(hues)).all()  # each row its cluster's hue
    lat, grid = read_latents(at.session_state["latents"]), scan["grid"]
    column = np.rint((lat.x[clusters["rows"]] - grid["x0"]) / grid["dx"]).astype(int)
    row = np.rint((lat.y[clusters["rows"]] - grid["y0"]) / grid["dy"]).astype(int)
    assert np.array_equal(on_map["cell"], row * grid["nx"] + column)  # each row on its own pixel


def test_rank_scores_dimensions_against_band_contrast_and_pattern_components():
    at = go(extracted(new_app()), "rank")
    assert at.multiselect(key="rank_references").value == ["band contrast"]  # band contrast first, by default
    at = run(at.multiselect(key="rank_references").set_value(["band contrast", "pattern PC1"]))
    best = at.dataframe[0].value
    assert set(best["reference"]) == {"band contrast", "pattern PC1"}
    assert (best.groupby("reference")["rank"].max() == 4).all()
    at.slider(key="rank_top").set_value(2).run()
    assert len(at.dataframe[0].value) == 4
    assert len(at.get("plotly_chart")) == 4  # a bar chart and the top maps per reference


def test_the_rank_page_and_the_rank_command_name_a_ranking_the_same_way(download_names, tmp_path):
    from latentcore.cli import main
    from latentcore.demo import DEMO_BANDCONTRAST

    at = go(extracted(new_app()), "rank")
    download_names.clear()
    at.slider(key="rank_top").set_value(2).run()
    assert not at.exception, at.exception
    page = set(download_names) - {None}
    assert page == {"ranking_scores__pearson_top2.csv", "ranking_report__pearson_top2.json",
                    "ranking_top__pearson_top2.png"}
    assert main(["rank", at.session_state["latents"], "--reference", str(DEMO_BANDCONTRAST), "--metrics", "pearson",
                 "--top", "2", "--no-figures", "--out", str(tmp_path / "cli")]) == 0
    assert {path.name for path in (tmp_path / "cli").iterdir()} == page - {"ranking_top__pearson_top2.png"}


# -- selection helpers --------------------------------------------------------------------------

def test_above_max_points_the_linked_panels_are_binned_and_show_the_selection_as_their_cells(monkeypatch):
    from latentcore.analysis.maps import Grid
    from latentcore.latents import read_latents
    from ui.widgets.point_panel import geometry

    monkeypatch.setattr(geometry, "MAX_POINTS", 1000)  # the demo's 2,400 rows drawn as a big scan's are
    monkeypatch.setattr(geometry, "MAX_CELLS", 700)
    at = go(extracted(new_app()), "umap")
    panels = point_panels(at)
    (scatter, cells), (scan, pixels) = panels["umap_scatter"], panels["umap_map"]
    assert scatter["binned"] and scatter["group"] == "umap_scatter" and cells["count"].sum() == 2400
    assert scan["block"] == 2 and (scan["grid"]["nx"], scan["grid"]["ny"]) == (30, 20) and pixels["count"].sum() == 2400
    assert "2,400 rows, drawn as a 512 x 512 grid of cells" in texts(at.caption)
    assert "2,400 rows, drawn as blocks of 2 x 2 pixels" in texts(at.caption)

    rows = np.arange(0, 2400, 7)
    at.session_state["selection"] = rows
    at.run()
    panels = point_panels(at)
    lat = read_latents(at.session_state["latents"])
    row, column = Grid.from_coordinates(lat.x, lat.y).indices(lat.x, lat.y)
    blocks = np.unique((row[rows] // 2) * 30 + column[rows] // 2)  # the 2 x 2 blocks holding a selected row
    assert np.array_equal(panels["umap_map"][1]["cell"][overlay_rows(panels["overlay:umap_map"])], blocks)
    shown = overlay_rows(panels["overlay:umap_scatter"])
    assert 0 < len(shown) <= len(rows) and panels["overlay:umap_scatter"]["n"] == len(cells["cell"])
    assert at.subheader[0].value == f"Selected: {len(rows):,} points"


def test_the_clusters_pages_binned_panels_show_a_selection_within_the_roi(monkeypatch):
    from ui.widgets.point_panel import geometry

    monkeypatch.setattr(geometry, "MAX_POINTS", 500)
    at = go(extracted(new_app()), "clusters")
    at.slider(key="roi_y").set_value((30.0, 58.5)).run()  # the ROI's 1,200 rows: binned, its own grid's pixels
    rows = np.arange(0, 2400, 7)
    at.session_state["selection"] = rows
    at.run()
    panels = point_panels(at)
    (scatter, cells), (scan, pixels) = panels["clusters_scatter"], panels["clusters_map"]
    assert scatter["binned"] and scan["block"] == 1 and cells["count"].sum() == pixels["count"].sum() == 1200
    inside = rows[rows >= 1200] - 1200  # the selected rows among the ROI's, on its 20 x 60 grid (in order)
    assert np.array_equal(pixels["cell"][overlay_rows(panels["overlay:clusters_map"])], inside)
    assert 0 < len(overlay_rows(panels["overlay:clusters_scatter"])) <= len(inside)
    assert at.metric[3].value == f"{len(inside):,}"


def test_a_features_file_is_explored_without_extraction(tmp_path):
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (60, 5)), rng.normal(6, 1, (60, 5))]).astype(np.float32)
    path = tmp_path / "features.npz"
    np.savez(path, X=features, y=np.repeat([0, 1], 60), idx_train=np.arange(0, 120, 2))
    at = new_app()
    at.session_state["_files"] = {"data": [str(path)]}  # as an upload leaves it (AppTest cannot upload)
    at.run()
    at.selectbox(key="data_source").select("features.npz").run()
    assert at.metric[0].value == "npz"
    assert "already holds latents or features" in texts(at.info)
    at.button(key="explore_latents").click().run()
    assert not at.exception
    latents = Path(at.session_state["latents"])
    from latentcore.latents import read_latents

    read = read_latents(latents)
    assert np.array_equal(read.partitions["all"], features)
    assert list(read.metadata["all"]["label"]) == [0] * 60 + [1] * 60
    go(at, "umap")
    assert "label" in at.selectbox(key="umap_colour").options
    at.selectbox(key="umap_colour").select("label").run()
    legend = point_panels(at)["umap_scatter"][0]["legend"]
    assert [name for name, _ in legend] == ["0 (60)", "1 (60)"]  # the legend: a label, its count


def test_uploads_are_saved_in_the_session_and_sorted(sst_h5, bandcontrast_csv):
    from latentcore.demo import DEMO_MODEL

    at = new_app()
    at.file_uploader(key="uploads").set_value([
        ("sst_preproc.h5", sst_h5.read_bytes(), "application/x-hdf5"),
        ("../../ni bc.csv", bandcontrast_csv.read_bytes(), "text/csv"),  # a hostile name stays in the folder
        ("vae_model.pth", DEMO_MODEL.read_bytes(), "application/octet-stream")]).run()
    assert not at.exception
    uploads = Path(at.session_state["workdir"])
    assert (uploads / "uploads" / "sst_preproc.h5").read_bytes() == sst_h5.read_bytes()
    assert (uploads / "uploads" / "ni_bc.csv").exists() and (uploads / "models" / "vae_model.pth").exists()
    assert "sst_preproc.h5" in at.selectbox(key="data_source").options
    assert "ni_bc.csv" in at.selectbox(key="data_bc").options
    assert "vae_model.pth" in at.session_state["models"]

    at.selectbox(key="data_source").select("sst_preproc.h5").run()
    assert [m.value for m in at.metric] == ["nenya", "18", "1 x 64 x 64", "none"]
    assert "lat" in json.loads(at.get("json")[0].proto.body)["metadata_columns"]


def test_a_new_image_lands_where_its_twin_lies_in_the_saved_umap():
    from latentcore.data import open_source
    from latentcore.demo import DEMO_SCAN

    at = go(extracted(new_app()), "umap")
    with open_source(DEMO_SCAN) as reader:
        pattern = reader.read("all", 123, 124)[0, 0]  # row 123's pattern, as a user's NPY file
    buffer = __import__("io").BytesIO()
    np.save(buffer, pattern)
    at.file_uploader(key="umap_new_image").set_value(("pattern.npy", buffer.getvalue(), "application/octet-stream")).run()
    assert not at.exception and not at.error
    # an image identical to row 123 has row 123's latent, so it lands on row 123's point (within a step of
    # the scatter's uint16 grid)
    assert steps_from_row(at, "new image: pattern.npy", 123) <= 1
    assert "Lands at" in texts(at.markdown)
    assert "DT" not in texts(at.markdown)  # an EBSD pattern: no SST temperature range
