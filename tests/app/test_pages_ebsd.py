"""EBSD as its users know it, through the real app with AppTest: an uploaded H5OINA scan is clustered
against its own Band Contrast (no CSV), units on every axis, slider and caption, colour bars on the
maps, the resize and the model's domain said on the Extract page, and the UMAP's hover and table
carrying x, y and band contrast."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from driving import chart_specs, point_panels, run, texts, with_upload

from latentcore.data.bandcontrast import BandContrast
from latentcore.demo import DEMO_BANDCONTRAST
from latentcore.outputs import latents_path_for

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]
SCAN_MAP = "Band Contrast (the scan's own map)"


def scan_extracted(h5oina_small) -> AppTest:
    at = with_upload(h5oina_small)
    run(at.selectbox(key="data_source").select(h5oina_small.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    assert f"Wrote {latents_path_for(h5oina_small, model='demo-vae').name}: all 180 rows" in texts(at.success)
    return at


def test_an_uploaded_h5oina_is_clustered_against_its_own_band_contrast(h5oina_small):
    at = with_upload(h5oina_small)
    assert at.session_state["bandcontrast"] == BandContrast.table(DEMO_BANDCONTRAST)  # the demo, with the demo scan
    run(at.selectbox(key="data_source").select(h5oina_small.name))
    picker = at.selectbox(key="data_bc")
    assert picker.value == SCAN_MAP  # the scan's own map by default: the demo table does not follow
    assert picker.options == [SCAN_MAP, "Band Slope (the scan's own map)",
                              "Mean Angular Deviation (the scan's own map)", "none"]
    assert at.session_state["bandcontrast"] == BandContrast.scan_map("Band Contrast")  # the value, kept whole
    run(at, "extract")
    run(at.button(key="extract_run").click())
    run(at, "clusters")
    assert at.selectbox(key="clusters_bc").value == SCAN_MAP
    assert [m.value for m in at.metric][2] == "180"  # every pixel, paired with its Band Contrast
    (scan, _), (scatter, _) = point_panels(at)["clusters_map"], point_panels(at)["clusters_scatter"]
    assert scatter["y_title"] == "Band Contrast"
    assert (scan["x_title"], scan["y_title"]) == ("x (µm)", "y (µm)")
    assert at.slider(key="roi_x").label == "ROI x range (µm)"
    from latentcore.latents import read_latents

    latents = read_latents(at.session_state["latents"])
    assert latents.attrs["units"] == "um" and "Band Contrast" in latents.point_maps


def test_a_table_that_does_not_cover_the_scan_is_said_by_name(h5oina_small, tmp_path, bandcontrast_csv):
    shifted = tmp_path / "shifted_bc.csv"
    pd.read_csv(bandcontrast_csv).assign(x=lambda t: t["x"] + 0.75).to_csv(shifted, index=False)
    at = with_upload(h5oina_small, shifted)
    run(at.selectbox(key="data_source").select(h5oina_small.name))
    run(at.selectbox(key="data_bc").select("shifted_bc.csv"))
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("shifted_bc.csv does not cover small_scan.h5oina: cannot align the table")
    assert str(tmp_path) not in warning and "/" not in warning.split(":")[0]


def test_extract_says_the_resize_and_warns_of_another_data_kind(h5oina_small, sst_h5):
    at = with_upload(h5oina_small, sst_h5)
    run(at.selectbox(key="data_source").select(h5oina_small.name))
    run(at, "extract")
    assert ("Preprocessing: Each item is resized (bilinear) from 40 x 40 to the model's 60 x 60; "
            "normalisation: minmax.") in texts(at.caption)
    assert "40 x 40 items are resized to the 60 x 60 pixels the model was trained on" in texts(at.warning)
    run(at, "data")
    run(at.selectbox(key="data_source").select("sst_preproc.h5"))
    assert at.session_state["bandcontrast"] is None  # no scan map, and the demo table is not the SST's
    run(at, "extract")
    assert "was trained on EBSD patterns but the data are SST cutouts" in texts(at.warning)


def test_maps_have_colour_bars_and_units_and_the_umap_carries_x_y_band_contrast(h5oina_small):
    at = scan_extracted(h5oina_small)
    run(at, "maps")
    grid = chart_specs(at)[0]
    heatmaps = [t for t in grid["data"] if t["type"] == "heatmap"]
    assert heatmaps and all(t["showscale"] and t["colorbar"]["title"]["text"] == "latent value" for t in heatmaps)
    assert grid["layout"]["xaxis"]["title"]["text"] == "x (µm)"
    assert "ROI x 0 to 21 µm, y 0 to 16.5 µm: 180 pixels on a grid of 12 rows x 15 columns, step 1.5 x 1.5 µm." in texts(at.caption)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Maps (PNG, 300 dpi)" in labels and "Maps (NPZ: maps, origin, step, units µm)" in labels
    run(at.checkbox(key="maps_scale_bar").check())
    assert "2 µm" in [a.get("text") for a in chart_specs(at)[0]["layout"]["annotations"]]  # a fifth of 22.5 µm, rounded

    run(at, "umap")
    from latentcore.latents import read_latents

    (scatter, _), (scan, cells) = point_panels(at)["umap_scatter"], point_panels(at)["umap_map"]
    lat, grid = read_latents(at.session_state["latents"]), scan["grid"]  # the hover: row, its x and y in µm
    assert scatter["unit"] == "µm" and scatter["group"] == scan["group"]  # from the linked scan map's cells:
    assert np.array_equal(grid["x0"] + cells["cell"] % grid["nx"] * grid["dx"], lat.x)
    assert np.array_equal(grid["y0"] + cells["cell"] // grid["nx"] * grid["dy"], lat.y)
    at.session_state["selection"] = np.array([16, 30])  # rows 1 and 2 of the 15-column scan
    run(at)
    table = at.dataframe[0].value
    assert list(table["x_um"]) == [1.5, 0.0] and list(table["y_um"]) == [1.5, 3.0]
    band_contrast = read_latents(at.session_state["latents"]).point_maps["Band Contrast"]
    np.testing.assert_allclose(table["bandcontrast"], band_contrast[[16, 30]])


def test_the_train_page_filters_an_uploaded_scan_by_its_own_band_contrast(h5oina_small):
    at = with_upload(h5oina_small)
    run(at.selectbox(key="data_source").select(h5oina_small.name))
    at = run(at, "train")
    assert at.checkbox(key="train_use_bc").label == f"Band contrast at least (from {SCAN_MAP})"
