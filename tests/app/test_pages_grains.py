"""Grains and the vendor files through the real app with AppTest, on an uploaded H5OINA scan with orientations: the
Latent maps page's grain table is the CLI's (ranked by latent spread, the labels' majority), a grain picked by its id
becomes the selection every page's linked panels show; on a scan with a Σ3 twin pair, one-pixel grains and bad
points, MTEX's reconstruction options and the Σ3 tolerance give the table the command gives with them, said under
it, and its grain-size and GOS distributions download as the command writes them (CSV, PNG, the report); the Clusters page and the labels panel download the scan with
the clusters or labels as phases (.ctf, .ang), which orix (test-only) reads back with the scan's orientations. A scan
never indexed shows no grain table and says why there is no .ctf, no orientations panel and no misorientation."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driving import chart_specs, go, overlay_rows, point_panels, run, send_shape, texts, with_upload
from latentcore.analysis.ebsd.grains import grain_distributions, grain_table
from latentcore.analysis.ebsd.records import GRAIN_PARAMETERS
from latentcore.analysis.ebsd.scan_points import latents_points
from latentcore.analysis.labels.labelled import LabelledRows
from latentcore.latents import read_latents
from report_paths import check_report

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


def extracted_upload(path):
    at = with_upload(path)
    run(at.selectbox(key="data_source").select(path.name))
    run(at, "extract")
    return run(at.button(key="extract_run").click())


def test_the_grain_table_ranks_by_latent_spread_and_a_picked_grain_is_the_selection(grains_h5oina, downloads):
    at = extracted_upload(grains_h5oina)
    lat = read_latents(at.session_state["latents"])
    found = grain_table(latents_points(lat), lat.stacked()[0])  # what `grains SCAN --latents LATENTS` finds
    halves = np.flatnonzero(lat.x < 10), np.flatnonzero(lat.x >= 10)
    at.session_state["labels"] = LabelledRows.from_names(np.r_[halves], ["left"] * len(halves[0]) +
                                                         ["right"] * len(halves[1]))
    run(at, "maps")
    assert "Grains" in texts(at.subheader)
    shown = at.dataframe[0].value
    assert list(shown["grain"]) == list(found.table["grain"])  # ranked by latent spread, highest first
    assert shown["latent_spread"].is_monotonic_decreasing
    assert set(shown["label"]) <= {"left", "right"} and (shown["class_fraction"] > 0).all()
    table_name = "grains__grains.csv"
    written = pd.read_csv(io.BytesIO(downloads[table_name]()))
    pd.testing.assert_frame_equal(written.drop(columns=["label", "class_fraction"]),
                                  found.table.reset_index(drop=True), check_dtype=False)

    grain = int(found.table["grain"].iloc[0])
    run(at.number_input(key="maps_grain").set_value(grain))
    run(at.button(key="maps_grain_select").click())
    pixels = np.flatnonzero(found.grain_of_row == grain)
    np.testing.assert_array_equal(at.session_state["selection"], pixels)
    assert f"Selected: grain {grain} ({len(pixels):,} pixels)." in texts(at.caption)
    run(at, "umap")  # the UMAP page's scatter and scan map show the grain's pixels
    np.testing.assert_array_equal(overlay_rows(point_panels(at)["overlay:umap"]), pixels)
    assert "the grain picker" in texts(at.caption) + texts(at.info)


@pytest.fixture(scope="module")
def twins_h5oina(tmp_path_factory) -> Path:
    """An H5OINA of `small_files.twinned_scan`: a Σ3 twin pair, three one-pixel grains, 5 % bad points."""
    from small_files import twinned_scan

    from latentcore.demo.simulate import write_h5oina

    return write_h5oina(twinned_scan()[0], tmp_path_factory.mktemp("twins") / "twins.h5oina")


def test_the_reconstruction_options_and_the_distributions_are_the_commands(twins_h5oina, downloads):
    at = extracted_upload(twins_h5oina)
    lat = read_latents(at.session_state["latents"])
    points, matrix = latents_points(lat), lat.stacked()[0]
    run(at, "maps")
    assert "not-indexed pixels in no grain" in texts(at.caption)  # both options off by default, and said
    pd.testing.assert_frame_equal(at.dataframe[0].value, grain_table(points, matrix).table, check_dtype=False)
    run(at.number_input(key="maps_min_grain_points").set_value(2))
    run(at.toggle(key="maps_fill_not_indexed").set_value(True))
    run(at.toggle(key="maps_boundaries").set_value(True))  # the boundary angle and the Σ3 tolerance
    run(at.number_input(key="maps_twin_tolerance_deg").set_value(0.1))  # below the twins' noise: fewer twin edges
    options = {"min_grain_points": 2, "fill_not_indexed": True, "twin_tolerance_deg": 0.1}
    expected = grain_table(points, matrix, parameters=GRAIN_PARAMETERS(**options))  # `grains SCAN --latents LATENTS`
    pd.testing.assert_frame_equal(at.dataframe[0].value, expected.table, check_dtype=False)
    brandon = grain_table(points, matrix, parameters=GRAIN_PARAMETERS(min_grain_points=2, fill_not_indexed=True)).table
    assert expected.table["twin_boundary_fraction"].sum() < brandon["twin_boundary_fraction"].sum()  # it took 0.1°
    changed = expected.reconstruction
    assert changed["grains_dissolved"] == 3 and changed["pixels_filled"] > 0
    said = texts(at.caption)
    assert f"({changed['pixels_filled']:,} pixels" in said and f"({changed['grains_dissolved']:,} grains" in said
    assert "within 0.10° of 60° about <111>" in said
    [figure] = [spec for spec in chart_specs(at)
                if spec["layout"].get("title", {}).get("text", "").startswith("Grain size, GOS and boundary")]
    assert {trace["name"] for trace in figure["data"]} == {"share of the grains", "share of the area",
                                                           "share of the boundary segments"}
    bins = pd.read_csv(io.BytesIO(downloads["grain_distributions__twins.csv"]()))
    pd.testing.assert_frame_equal(bins, grain_distributions(expected.table, "um", boundaries=expected.boundaries),
                                  check_dtype=False)
    report = json.loads(downloads["grains_report__twins.json"]())
    assert {k: report["parameters"][k] for k in options} == options and report["reconstruction"] == changed
    workspace = Path(at.session_state["workdir"])
    [written] = workspace.rglob("grains_report__twins.json")
    assert check_report(written, Path(__file__).resolve().parents[2], within=workspace) >= 1  # the latents, relative
    figure_png = downloads["grain_distributions__twins.png"]()
    assert figure_png.startswith(b"\x89PNG") and figure_png.find(b"pHYs") > 0


def orix_load(data: bytes, tmp_path, name: str):
    from orix import io as orix_io

    path = tmp_path / name
    path.write_bytes(data)
    return orix_io.load(str(path))


def test_the_clusters_and_labels_download_as_phases_of_ctf_and_ang(grains_h5oina, downloads, tmp_path):
    at = extracted_upload(grains_h5oina)
    lat = read_latents(at.session_state["latents"])
    run(at, "clusters")
    run(at.radio(key="clusters_features").set_value("latent"))
    ctf = next(name for name in downloads if name.startswith("cluster_assignments__") and name.endswith(".ctf"))
    xmap = orix_load(downloads[ctf](), tmp_path, ctf)
    names = {phase_id: phase.name for phase_id, phase in xmap.phases if phase_id > 0}
    assert set(names.values()) <= {f"cluster {k}" for k in range(10)} | {"unclassified"} and len(names) >= 2
    indexed = lat.orientations.phase_id >= 0
    assert (xmap.phase_id[indexed] > 0).all() and (xmap.phase_id[~indexed] == -1).all()
    stored = xmap.rotations.to_euler()[indexed]
    from scipy.spatial.transform import Rotation

    angles = (Rotation.from_euler("ZXZ", lat.orientations.euler[indexed]).inv()
              * Rotation.from_euler("ZXZ", stored)).magnitude()
    assert np.rad2deg(angles).max() < 2e-4  # 4 decimals of a degree

    at.session_state["labels"] = LabelledRows.from_names(np.arange(20), ["edge"] * 20)
    run(at, "maps")
    ang = "grains__demo-vae_latents_labels.ang"
    xmap = orix_load(downloads[ang](), tmp_path, ang)
    assert sorted(phase.name for phase_id, phase in xmap.phases if phase_id > 0) == ["edge", "unclassified"]
    edge = next(phase_id for phase_id, phase in xmap.phases if phase.name == "edge")
    assert set(np.flatnonzero(xmap.phase_id == edge)) == set(np.flatnonzero(indexed[:20]))
    workspace = Path(at.session_state["workdir"])  # each file's report: the latents and classes by relative paths
    reports = sorted(workspace.rglob("*.ctf.json")) + sorted(workspace.rglob("*.ang.json"))
    assert [path.name for path in reports] == [f"{ctf}.json", f"{ang}.json"]
    for report in reports:
        assert check_report(report, Path(__file__).resolve().parents[2], within=workspace) == 2, report.name


def test_a_scan_never_indexed_says_why_each_orientation_view_is_missing(never_indexed_h5):
    at = extracted_upload(never_indexed_h5)
    at.session_state["selection"] = np.arange(5)
    run(go(at, "umap").toggle(key="umap_orient_show").set_value(True))
    assert "These latents hold no orientations" in texts(at.info)
    send_shape(at, "umap_map", {"shape": "line", "op": "replace", "x": [5.2, 80.3], "y": [10.1, 50.7], "count": 0})
    assert "No misorientation: these latents hold no orientations." in texts(at.caption)
    run(at, "maps")
    assert "Grains" not in texts(at.subheader)
    at.session_state["labels"] = LabelledRows.from_names(np.arange(4), ["a", "a", "b", "b"])
    run(at, "maps")
    assert "as phases of a .ctf or .ang need a scan with orientations" in texts(at.caption)
