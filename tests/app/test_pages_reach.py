"""What scientists reach for, on an uploaded H5OINA scan (180 patterns, AppTest): the UMAP coloured by any
per-point map the latents carry, with a colour bar named after it (and its unit); the gallery paging
through the whole selection, reading only the page's patterns; the mean pattern of the selection and of
a cluster, equal to numpy's mean of the patterns read directly from the file."""
from __future__ import annotations

import io

import h5py
import numpy as np
import pytest
from latentcore.analysis.items import item_caption
from latentcore.latents import read_latents
from streamlit.testing.v1 import AppTest
from driving import REPO, array_of, chart_specs, point_panels, run, texts

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]




@pytest.fixture
def scan(h5oina_small) -> AppTest:
    """The scan uploaded, chosen and extracted (its own Band Contrast as band contrast)."""
    at = run(AppTest.from_file(str(REPO / "app.py"), default_timeout=240))
    at.file_uploader(key="uploads").set_value([(h5oina_small.name, h5oina_small.read_bytes(), "application/octet-stream")])
    run(at)
    run(at.selectbox(key="data_source").select(h5oina_small.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    return at


def patterns_of(h5oina_small, rows) -> np.ndarray:
    with h5py.File(h5oina_small) as f:
        return f["1/EBSD/Data/Processed Patterns"][()][np.asarray(rows)].astype(np.float64)


def test_the_umap_is_coloured_by_any_point_map_with_its_name_and_unit(scan):
    at = run(scan, "umap")
    options = at.selectbox(key="umap_colour").options
    assert {"map: Band Contrast", "map: Band Slope", "map: Mean Angular Deviation"} <= set(options)
    run(at.selectbox(key="umap_colour").select("map: Band Slope"))
    (scatter, points), scan_map, (histogram,) = point_panels(at)["umap_scatter"], point_panels(at)["umap_map"][0], \
        chart_specs(at)
    assert scatter["colorbar"]["title"] == scan_map["colorbar"]["title"] == "Band Slope"  # the scan panel too
    assert histogram["layout"]["xaxis"]["title"]["text"] == "Band Slope"
    slope = read_latents(at.session_state["latents"]).point_maps["Band Slope"]
    assert np.corrcoef(points["codes"].astype(np.float64), slope)[0, 1] > 0.999  # the map's values, row for row
    assert np.array_equal(points["values"], slope.astype(np.float32))  # shown on hover

    run(at.selectbox(key="umap_colour").select("map: Mean Angular Deviation"))
    panels = point_panels(at)
    assert panels["umap_scatter"][0]["colorbar"]["title"] == panels["umap_map"][0]["colorbar"]["title"] == \
        "Mean Angular Deviation (°)"


def test_the_gallery_pages_through_the_selection_reading_only_the_page(scan, h5oina_small, monkeypatch):
    from latentcore.analysis import items

    read = []
    real = items.read_items
    monkeypatch.setattr(items, "read_items", lambda reader, partitions, indices: read.append(list(indices))
                        or real(reader, partitions, indices))
    selection = np.arange(3, 180, 3)  # 59 rows: pages of 24, 24 and 11
    at = run(scan, "umap")
    at.session_state["selection"] = selection
    run(at)
    assert len(at.get("image")) == 24 and "Images 1-24 of 59" in texts(at.caption)
    run(at.number_input(key="umap_selected_page").set_value(3))
    captions = [c.value for c in at.caption if c.value.startswith("row ")]  # under each image
    latents = read_latents(at.session_state["latents"])
    contrast = latents.point_maps["Band Contrast"]  # the scan's own map: the band contrast picked by default
    assert captions == [item_caption(r, latents.x[r], latents.y[r], latents.units, contrast[r])
                        for r in selection[48:]] and "Images 49-59 of 59" in texts(at.caption)
    assert captions[0] == (f"row {selection[48]} · x {latents.x[selection[48]]:.1f} µm, "
                           f"y {latents.y[selection[48]]:.1f} µm · BC {contrast[selection[48]]:.4g}")
    assert read[-1] == selection[48:].tolist()  # only the page's 11 patterns were read
    assert max(len(r) for r in read) <= 24

    at.session_state["selection"] = selection[:30]  # other rows: back to their first page
    run(at)
    assert "Images 1-24 of 30" in texts(at.caption)


def test_gallery_captions_are_drawn_whole_under_each_image_and_as_written():
    """Under each image (an image's own caption is cut to one line), escaped: a study's sources are named by their
    files, which may hold Markdown's marks."""
    from ui.widgets.common import plain

    written = ["*p* · row 10 · x 15.0 µm, y 0.0 µm · BC 143", "[q](http://example.org) · row 2"]

    def grid(captions):
        import numpy as np

        from ui.widgets import common

        common.gallery([np.zeros((4, 4))] * len(captions), captions, columns=4)

    at = AppTest.from_function(grid, args=(written,), default_timeout=60).run()
    assert not at.exception and [image.proto.imgs[0].caption for image in at.get("image")] == ["", ""]
    assert [c.value for c in at.caption] == [plain(text) for text in written]
    assert at.caption[0].value.startswith(r"\*p\*") and at.caption[1].value.startswith(r"\[q\]")


def test_the_mean_pattern_of_the_selection_beside_the_gallery_when_asked_for(scan, h5oina_small, monkeypatch):
    import latentcore.analysis.items

    means = []
    mean_item = latentcore.analysis.items.mean_item
    monkeypatch.setattr(latentcore.analysis.items, "mean_item", lambda *a, **k: means.append(1) or mean_item(*a, **k))
    at = run(scan, "umap")
    selection = np.array([0, 7, 19, 44, 101, 179])
    at.session_state["selection"] = selection
    run(at)
    assert not means and not [s for s in chart_specs(at) if s["data"][0]["type"] == "heatmap"]  # off: nothing read
    run(at.toggle(key="umap_mean_show").set_value(True))
    assert means
    heatmap = [s for s in chart_specs(at) if s["data"][0]["type"] == "heatmap"]
    assert len(heatmap) == 1
    trace = heatmap[0]["data"][0]
    assert trace["showscale"] and trace["colorbar"]["title"]["text"] == "mean intensity"
    np.testing.assert_allclose(array_of(trace["z"]), patterns_of(h5oina_small, selection).mean(axis=0), rtol=1e-12)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Mean pattern (PNG, 300 dpi)" in labels and "Mean pattern (NPY, float64)" in labels


def test_the_mean_pattern_of_a_cluster_on_the_clusters_page(scan, h5oina_small):
    at = run(scan, "clusters")
    run(at.toggle(key="clusters_mean_show").set_value(True))
    choice = at.selectbox(key="clusters_mean_of")
    assert choice.options[0].startswith("cluster 0 (")  # nothing selected: the clusters only
    run(choice.select("cluster 1"))
    clusters = at.session_state["last_clusters"]
    members = np.asarray(clusters["rows"])[np.asarray(clusters["labels"]) == 1]
    figure = next(s for s in chart_specs(at) if s["data"][0]["type"] == "heatmap")
    trace = figure["data"][0]
    assert figure["layout"]["title"]["text"] == f"Mean of {len(members):,} patterns: cluster 1"
    np.testing.assert_allclose(array_of(trace["z"]), patterns_of(h5oina_small, members).mean(axis=0), rtol=1e-12)


def test_the_mean_pattern_png_has_its_colour_bar_at_the_dpi_asked(tmp_path):
    from PIL import Image

    from latentcore.figures import items as item_figures
    from ui.figures.png import figure_png

    plane, note = item_figures.as_plane(np.arange(3 * 20 * 30, dtype=np.float64).reshape(3, 20, 30))
    assert plane.shape == (20, 30) and note == "mean of 3 channels"
    fig = item_figures.mean_pattern_figure(plane, "Mean of 3 patterns")
    with Image.open(io.BytesIO(figure_png(fig, str(tmp_path / "mean.png"), 300))) as image:
        assert round(image.info["dpi"][0]) == 300 and image.size[0] == round(420 * 300 / 96)


def test_a_large_selection_mean_is_asked_for_then_streamed_in_a_worker_while_the_page_draws_on(scan, h5oina_small,
                                                                                       monkeypatch):
    import time

    import latentcore.analysis.items
    import ui.compute.jobs

    monkeypatch.setattr(ui.compute.jobs, "INLINE_PATTERNS", 0)  # every selection counts as large

    def refuse(*args, **kwargs):
        raise AssertionError("ran in the server process")
    monkeypatch.setattr(latentcore.analysis.items, "mean_item", refuse)
    at = run(scan, "umap")
    selection = np.arange(0, 180, 2)
    at.session_state["selection"] = selection
    run(at)
    run(at.toggle(key="umap_mean_show").set_value(True))
    assert not [s for s in chart_specs(at) if s["data"][0]["type"] == "heatmap"]  # a large selection: only when asked
    run(at.button(key="umap_mean_run").click())
    assert at.dataframe and at.get("image")  # the table and gallery are drawn while the mean is computed
    end = time.time() + 120
    while not [s for s in chart_specs(at) if s["data"][0]["type"] == "heatmap"] and time.time() < end:
        time.sleep(0.5)
        run(at)
    trace = next(s for s in chart_specs(at) if s["data"][0]["type"] == "heatmap")["data"][0]
    np.testing.assert_allclose(array_of(trace["z"]), patterns_of(h5oina_small, selection).mean(axis=0), rtol=1e-12)
