"""Grains and the vendor files through the real app with AppTest, on an uploaded H5OINA scan with orientations: the
Latent maps page's grain table is the CLI's (ranked by latent spread, the labels' majority), a grain picked by its id
becomes the selection every page's linked panels show; the Clusters page and the labels panel download the scan with
the clusters or labels as phases (.ctf, .ang), which orix (test-only) reads back with the scan's orientations. The
demo scan (no orientations) shows no grain table and says why there is no .ctf."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driving import extracted, new_app, overlay_rows, point_panels, run, texts, with_upload
from latentcore.analysis.ebsd.grains import grain_table
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


def test_the_demo_without_orientations_has_no_grains_and_says_why_there_is_no_ctf():
    at = extracted(new_app())
    run(at, "maps")
    assert "Grains" not in texts(at.subheader)
    at.session_state["labels"] = LabelledRows.from_names(np.arange(4), ["a", "a", "b", "b"])
    run(at, "maps")
    assert "as phases of a .ctf or .ang need a scan with orientations" in texts(at.caption)
