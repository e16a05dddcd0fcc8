"""Vendor per-point maps, units and preprocessing: read from the scan, carried by the latents file,
used as band contrast without a table, and said in the figures and exports."""
from __future__ import annotations

import io
import json

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from latentcore import figures
from latentcore.analysis.artifacts.cluster import ClusterJob
from latentcore.analysis.artifacts.cluster_run import run_cluster
from latentcore.analysis.artifacts.rerun import rerun
from latentcore.analysis.maps import Roi
from latentcore.data.bandcontrast import BandContrast
from latentcore.analysis.maps import spatial_maps
from latentcore.data import open_source
from latentcore.demo import DEMO_MODEL
from latentcore.domain import CUTOUTS, EBSD, domain_warnings, preprocessing
from latentcore.errors import InputError
from latentcore.export import export_maps_npz
from latentcore.extract import extract_file
from latentcore.latents import read_latents
from latentcore.models import load_model
from latentcore.models.base import InputSpec


@pytest.fixture(scope="module")
def small_latents(h5oina_small, tmp_path_factory):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return extract_file(h5oina_small, load_model(DEMO_MODEL), tmp_path_factory.mktemp("latents"), device="cpu").path


def test_readers_offer_their_quality_maps_scan_map_first(h5oina_small, edax_h5, ebsd_h5):
    with open_source(h5oina_small) as oxford:
        maps = oxford.point_maps()
        assert list(maps) == ["Band Contrast", "Band Slope", "Mean Angular Deviation"]  # not Phase, X, Y
        with h5py.File(h5oina_small) as f:
            np.testing.assert_array_equal(maps["Band Contrast"], f["1/EBSD/Data/Band Contrast"][()])
        assert oxford.info().units == "um"
    with open_source(edax_h5) as edax:
        assert list(edax.point_maps()) == ["IQ", "CI", "Fit"]  # not the Euler angles nor PRIAS
        assert edax.info().units == "um"  # EDAX states none: microns
    with open_source(ebsd_h5) as h5ebsd:
        assert h5ebsd.point_maps() == {} and h5ebsd.info().units == "um"


def test_units_come_from_the_step_attribute(h5oina_small, tmp_path):
    copy = tmp_path / "nm.h5oina"
    copy.write_bytes(h5oina_small.read_bytes())
    with h5py.File(copy, "a") as f:
        for name in ("X Step", "Y Step"):
            f[f"1/EBSD/Header/{name}"].attrs["Unit"] = "nm"
    with open_source(copy) as reader:
        assert reader.info().units == "nm"


def test_latents_carry_point_maps_units_step_and_the_resize(small_latents, h5oina_small):
    latents = read_latents(small_latents)
    with open_source(h5oina_small) as reader:
        expected = reader.point_maps()
    assert list(latents.point_maps) == list(expected)
    np.testing.assert_array_equal(latents.point_maps["Band Contrast"], expected["Band Contrast"])
    assert latents.units == "um" and latents.step == (1.5, 1.5)
    record = latents.attr_json("preprocessing")
    assert record == {"source_size": [40, 40], "crop": None, "model_size": [60, 60], "resized": True,
                      "resize": "bilinear", "normalize": "minmax"}
    assert latents.attrs["data_kind"] == EBSD


def test_cluster_against_the_scans_own_band_contrast_and_rerun(small_latents, tmp_path):
    job = ClusterJob(latents=str(small_latents), bandcontrast=BandContrast.scan_map(), method="kmeans", params={"n_clusters": 3})
    report = run_cluster(job, tmp_path, png=False)
    table = pd.read_csv(tmp_path / report["outputs"]["assignments"]["name"])
    np.testing.assert_array_equal(table["bandcontrast"], read_latents(small_latents).point_maps["Band Contrast"])
    assert report["inputs"]["bandcontrast"] == {"name": "scan", "point_map": "first"}
    again = rerun(tmp_path / report["outputs"]["report"]["name"], tmp_path / "again", png=False)
    assert again["identical"]
    slope = run_cluster(ClusterJob(latents=str(small_latents), bandcontrast=BandContrast.scan_map("Band Slope"), method="kmeans",
                                       params={"n_clusters": 3}, roi=Roi(0, 9, 0, 6)), tmp_path / "slope", png=False)
    kept = pd.read_csv(tmp_path / "slope" / slope["outputs"]["assignments"]["name"])
    assert len(kept) == 7 * 5 and (kept["bandcontrast"] == 255 - table.set_index(["x_um", "y_um"]).loc[
        list(zip(kept["x_um"], kept["y_um"])), "bandcontrast"].to_numpy()).all()
    with pytest.raises(InputError, match=r"no point map 'IQ'; the scan carries \['Band Contrast'"):
        run_cluster(ClusterJob(latents=str(small_latents), bandcontrast=BandContrast.parse("scan:IQ"), method="kmeans"), tmp_path)


def test_cli_cluster_takes_the_scan_map_by_default(small_latents, tmp_path, capsys):
    from latentcore.cli import main

    assert main(["cluster", str(small_latents), "--method", "kmeans", "--k", "2", "--no-png", "--out", str(tmp_path)]) == 0
    report = json.loads(next(tmp_path.glob("cluster_report__*.json")).read_text())
    assert report["inputs"]["bandcontrast"]["point_map"] == "first"


def scan_grid():
    rng = np.random.default_rng(0)
    x, y = np.meshgrid(np.arange(30) * 1.5, np.arange(20) * 1.5)
    latents = rng.normal(size=(600, 4)).astype(np.float32)
    return spatial_maps(latents, x.ravel(), y.ravel(), [0, 1, 2])


def test_map_grid_has_a_colour_bar_per_map_axes_in_microns_and_a_scale_bar():
    maps, grid, dims = scan_grid()
    fig = figures.latent_map_grid(maps, grid, dims, columns=2, scale_bar=True)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 3 and all(t.showscale for t in heatmaps)
    assert all(t.colorbar.title.text == "latent value" for t in heatmaps)
    assert len({round(t.colorbar.x, 3) for t in heatmaps}) == 2  # beside each column of maps
    assert fig.layout.xaxis.title.text == "x (µm)" and fig.layout.yaxis3.title.text == "y (µm)"
    assert fig.layout.xaxis.showticklabels is not False
    bars = [a.text for a in fig.layout.annotations if "µm" in (a.text or "")]
    assert bars == ["5 µm"] * 3  # 20 % of the 45 µm wide map, rounded down to 1, 2 or 5 x 10^k
    assert len(fig.layout.shapes) == 6  # each bar: black on a white edge
    nm = figures.latent_map_grid(maps, grid, dims, units="nm")
    assert nm.layout.xaxis.title.text == "x (nm)"


def test_map_grid_names_the_missing_pixels_colour_beside_its_swatch():
    """The maps' NaN colour was an unlabelled swatch (the colour picker's): the figure now names it, only where a
    pixel is missing."""
    maps, grid, dims = scan_grid()
    assert figures.MISSING_PIXELS not in [t.name for t in figures.latent_map_grid(maps, grid, dims).data]
    maps[:, 3, 4] = np.nan
    fig = figures.latent_map_grid(maps, grid, dims, nan_colour="#ff00ff")
    swatch = next(t for t in fig.data if t.name == "missing pixels")
    assert swatch.marker.color == "#ff00ff" and fig.layout.showlegend and swatch.showlegend is not False


def test_png_at_300_dpi_has_the_pixel_size_and_says_its_resolution(tmp_path):
    maps, grid, dims = scan_grid()
    fig = figures.latent_map_grid(maps, grid, dims, columns=3)
    width, height = fig.layout.width, fig.layout.height
    with pytest.warns(RuntimeWarning, match="no Chromium"):  # matplotlib: the same pixel arithmetic as kaleido
        figures.write_png(fig, tmp_path / "maps.png", dpi=300, browser=None)
    engines = [tmp_path / "maps.png"]
    if figures.browser_path():  # and kaleido itself, where Chromium is installed
        assert figures.write_png(fig, tmp_path / "kaleido.png", dpi=300) == "kaleido"
        engines.append(tmp_path / "kaleido.png")
    for path in engines:
        with Image.open(path) as image:  # the figure's size in inches (layout px / 96) at 300 dpi
            assert image.size == (int(width * 300 / 96), int(height * 300 / 96)) == (3093, 1093)
            assert image.info["dpi"] == pytest.approx((300, 300), abs=0.1)
    with pytest.warns(RuntimeWarning, match="no Chromium"):
        figures.write_png(fig, tmp_path / "wide.png", width_px=2000, browser=None)
    with Image.open(tmp_path / "wide.png") as wide:
        assert wide.size[0] == 2000


def test_maps_npz_holds_origin_step_and_units(tmp_path):
    rng = np.random.default_rng(1)
    x, y = np.meshgrid(10 + np.arange(6) * 0.5, 4 + np.arange(3) * 0.25)
    maps, grid, dims = spatial_maps(rng.normal(size=(18, 2)), x.ravel(), y.ravel())
    with np.load(export_maps_npz(tmp_path / "maps.npz", maps, grid, ["dim 0", "dim 1"], "um")) as saved:
        assert saved["maps"].shape == (2, 3, 6)
        np.testing.assert_array_equal(saved["origin"], [10, 4])
        np.testing.assert_array_equal(saved["step"], [0.5, 0.25])
        assert str(saved["units"]) == "um" and list(saved["names"]) == ["dim 0", "dim 1"]
        r, c = 2, 5  # pixel [r, c] sits at origin + (c step_x, r step_y)
        assert saved["maps"][0, r, c] == maps[0, r, c] and saved["x"][c] == 12.5 and saved["y"][r] == 4.5


def test_domain_warnings_and_resize_record():
    from latentcore.models.base import LoadedModel

    vae = LoadedModel("vae", "vae", None, InputSpec(1, (60, 60), "minmax"))
    scan = {"format": "oxford", "grid_shape": [12, 15], "item_shape": [1, 40, 40]}
    [resize] = domain_warnings(scan, vae)
    assert "40 x 40 items are resized to the 60 x 60 pixels" in resize
    cutouts = {"format": "nenya", "item_shape": [1, 64, 64]}
    warnings = domain_warnings(cutouts, vae)
    assert f"trained on {EBSD} but the data are {CUTOUTS}" in warnings[0]
    assert domain_warnings({**scan, "item_shape": [1, 60, 60]}, vae) == []
    assert preprocessing((1, 80, 80), InputSpec(1, (60, 60), "minmax", crop=60))["resized"] is False


def test_sst_measures_only_for_sst_cutouts(tmp_path, one_torch_thread):
    from latentcore.analysis.embedding.fit import fit_embedding
    from latentcore.analysis.embedding.projection import project_image
    from latentcore.extract import Extractor

    model = load_model(DEMO_MODEL)
    with open_source(DEMO_MODEL.parent / "ni_grains_h5ebsd.h5") as reader:
        patterns = reader.read("all", 0, 40)
    fitted = fit_embedding(Extractor(model, "cpu").extract_batch(patterns), method="pca", cache_dir=False)
    np.save(tmp_path / "pattern.npy", patterns[3, 0])
    ebsd = project_image(tmp_path / "pattern.npy", model, fitted, data_kind=EBSD)
    assert "DT" not in ebsd and "T10" not in ebsd
    assert "DT" not in project_image(tmp_path / "pattern.npy", model, fitted)  # a VAE, kind unknown: no SST
    sst = project_image(tmp_path / "pattern.npy", model, fitted, data_kind=CUTOUTS)
    assert sst["DT"] == sst["T90"] - sst["T10"]


def test_png_bytes_round_trip_keeps_pixels():
    image = Image.new("RGB", (7, 5), (10, 20, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    stamped = Image.open(io.BytesIO(figures._with_dpi(buffer.getvalue(), 300)))
    assert stamped.size == (7, 5) and stamped.getpixel((3, 2)) == (10, 20, 30)
