"""The orientations of a selection, a cluster or a label, under the linked panels of the UMAP and Clusters pages
(AppTest on the real app): an uploaded H5OINA scan with orientations, extracted with the demo VAE; the panel
draws the selection's inverse pole figure beside the scan's and the {100}, {111} pole figures, at the points the
engine puts them, for the sample direction chosen; its downloads are the command's files (the table of the chosen
rows' orientations, the pole figures' points, the report); latents without orientations say so
(test_pages_grains.py)."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.ebsd import pole_figures
from latentcore.analysis.labels.labelled import LabelledRows
from latentcore.cli import main
from latentcore.data import open_source

from driving import extracted, go, run, texts, with_upload

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


def panel(at, key: str) -> dict:
    """The orientations figure's plotly spec (the chart keyed `<key>_orient_chart`)."""
    [chart] = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"{key}_orient_chart")
               or f"{key}_orient_chart" in c.proto.id]
    return json.loads(chart.proto.spec)


def xy(trace) -> np.ndarray:
    from driving import array_of

    return np.column_stack([array_of(trace["x"]), array_of(trace["y"])])


@pytest.fixture
def scan_app(grains_h5oina):
    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    at = extracted(at)
    with open_source(grains_h5oina) as reader:
        return at, reader.orientations()


def test_a_selection_on_the_umap_page_shows_its_orientations_where_the_engine_puts_them(scan_app, downloads,
                                                                                        tmp_path):
    at, orientations = scan_app
    rows = np.arange(20, 60)
    at.session_state["selection"] = rows
    run(go(at, "umap").toggle(key="umap_orient_show").set_value(True))
    assert at.selectbox(key="umap_orient_of").value == "selection"
    run(at.radio(key="umap_orient_direction").set_value("x"))
    spec = panel(at, "umap")
    selection, scan, *_ = [t for t in spec["data"] if t.get("mode") == "markers"]
    indexed = rows[orientations.phase_id[rows] >= 0]  # a bad point of the simulation is not indexed
    assert 0 < len(indexed) < len(rows)
    expected = pole_figures.ipf_xy(orientations.euler[indexed], "m-3m", (1, 0, 0))
    np.testing.assert_allclose(xy(selection), expected, atol=1e-6)  # the selection's IPF-x, in its IPF colours
    assert len(selection["marker"]["color"]) == len(indexed)
    scan_points = int((orientations.phase_id >= 0).sum())
    assert len(xy(scan)) == scan_points  # beside the whole scan's
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert {f"Selection: IPF-x ({len(indexed)} points)", f"Whole scan: IPF-x ({scan_points} points)",
            "{100} pole figure", "{111} pole figure"} <= set(titles)
    poles = [t for t in spec["data"] if t.get("mode") == "markers" and t.get("xaxis") == "x4"]
    np.testing.assert_allclose(xy(poles[1]), pole_figures.pole_xy(orientations.euler[indexed], (1, 1, 1), "m-3m")
                               .reshape(-1, 2), atol=1e-6)  # {111}: 4 poles a point, over the scan's
    caption = texts(at.caption)
    assert "sample x" in caption and f"{len(rows) - len(indexed)} selected points are not of phase" in caption
    name = "orientations__grains__40rows__ipf_x.csv"  # as `python -m latentcore orientations` names it
    table = pd.read_csv(io.BytesIO(downloads[name]()))
    assert list(table.columns) == ["row", "x_um", "y_um", "phi1_deg", "Phi_deg", "phi2_deg", "ipf_plane_x",
                                   "ipf_plane_y"]
    assert table["row"].tolist() == indexed.tolist()
    np.testing.assert_allclose(np.deg2rad(table[["phi1_deg", "Phi_deg", "phi2_deg"]].to_numpy()),
                               np.mod(orientations.euler[indexed], 2 * np.pi), atol=1e-9)
    np.testing.assert_allclose(table[["ipf_plane_x", "ipf_plane_y"]].to_numpy(), expected, atol=1e-9)
    assert main(["orientations", str(at.session_state["latents"]), "--rows", "20-59", "--direction", "x",
                 "--no-png", "--out", str(tmp_path)]) == 0  # the command on the latents: the same files
    assert (tmp_path / name).read_bytes() == downloads[name]()
    poles = "pole_figures__grains__40rows__ipf_x.csv"
    assert (tmp_path / poles).read_bytes() == downloads[poles]()
    assert len(pd.read_csv(tmp_path / poles)) == 7 * len(indexed)  # {100}: 3 poles a point, {111}: 4
    report, theirs = (json.loads(text) for text in (downloads["orientations__grains__40rows__ipf_x.json"](),
                                                    (tmp_path / "orientations__grains__40rows__ipf_x.json").read_text()))
    assert report["positions"] == theirs["positions"] and report["positions"]["rows"] == indexed.tolist()
    assert report["inputs"]["data"]["sha256"] == theirs["inputs"]["data"]["sha256"]


def test_a_cluster_and_a_label_on_the_clusters_page(scan_app):
    at, orientations = scan_app
    typed = "grain a: $x$ :red[y]"  # Markdown would draw red text and LaTeX
    at.session_state["labels"] = LabelledRows.from_names(np.arange(10), [typed] * 10)
    run(go(at, "clusters").toggle(key="clusters_orient_show").set_value(True))
    options = at.selectbox(key="clusters_orient_of").options
    assert options[0].startswith("cluster 0 (") and options[-1] == f"label {typed!r} (10 points)"
    run(at.selectbox(key="clusters_orient_of").select(f"label {typed!r} (10 points)"))
    said = next(c.value for c in at.caption if c.value.startswith("The orientations of"))
    assert r"label 'grain a\: \$x\$ \:red\[y\]' (10 points)" in said, said
    run(at.radio(key="clusters_orient_look").set_value("density"))
    heatmaps = [t for t in panel(at, "clusters")["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 4  # the label's IPF, the scan's, and its two pole figures
    from driving import array_of

    label, scan = (array_of(heatmap["z"]) for heatmap in heatmaps[:2])
    assert np.nansum(label) == pytest.approx(100) and np.nansum(scan) == pytest.approx(100)  # % of each panel's
    assert np.isfinite(label).any() and (np.isfinite(scan) | ~np.isfinite(label)).all()  # its cells: the scan's too
    assert (label[np.isfinite(label)] >= 10).all()  # 10 points: each cell holds 10 % of them at least



def test_the_selections_misorientation_angles_are_the_commands_and_download_as_its_files(scan_app, downloads,
                                                                                          tmp_path):
    """Under the pole figures: the correlated and uncorrelated histograms (% of pairs per degree, 0 to 62.8°) with
    Mackenzie's curve, at the engine's values; the PNG and the bins' CSV download as the command's files, the
    report carries the same record; unticked, the histogram and its record are gone."""
    from latentcore.analysis.ebsd.misorientations import angle_distribution, selection_cells

    at, orientations = scan_app
    rows = np.arange(0, 120)  # 8 of the 12 rows of the 12 x 15 scan: 120 points, 7,140 pairs: every one
    at.session_state["selection"] = rows
    run(go(at, "umap").toggle(key="umap_orient_show").set_value(True))
    assert at.checkbox(key="umap_orient_miso").value  # on by default
    [chart] = [c for c in at.get("plotly_chart") if "umap_orient_angles_chart" in c.proto.id]  # the histogram
    spec = json.loads(chart.proto.spec)
    correlated, random_curve, uncorrelated, _ = spec["data"]
    indexed = rows[orientations.phase_id[rows] >= 0]
    lat = at.session_state["latents"]
    from latentcore.latents import read_latents

    latents = read_latents(lat)
    expected = angle_distribution(orientations.euler[indexed], "m-3m",
                                  selection_cells(latents.x, latents.y, indexed))
    shares, width = expected.table(), np.diff(expected.edges)  # per degree: the last bin is 0.8° wide
    from driving import array_of

    for trace, kind in ((correlated, "correlated"), (uncorrelated, "uncorrelated")):
        np.testing.assert_allclose(array_of(trace["y"]), 100 * shares[f"{kind}_frequency"] / width, atol=1e-9)
    assert spec["layout"]["xaxis2"]["range"] == [0, pytest.approx(62.7994, abs=1e-4)]
    assert random_curve["name"] == "random orientations (m-3m, Mackenzie)"
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    pairs = len(indexed) * (len(indexed) - 1) // 2
    assert f"Uncorrelated: every pair of the points ({pairs:,})" in titles
    assert f"Correlated: neighbouring points ({expected.correlated.sum():,} pairs)" in titles
    tag = f"grains__{len(rows)}rows__ipf_z"
    assert main(["orientations", str(lat), "--rows", f"0-{len(rows) - 1}", "--no-png", "--out", str(tmp_path)]) == 0
    assert downloads[f"misorientations__{tag}.csv"]() == (tmp_path / f"misorientations__{tag}.csv").read_bytes()
    assert downloads[f"misorientations__{tag}.png"]()[:4] == b"\x89PNG"
    report = json.loads(downloads[f"orientations__{tag}.json"]())
    theirs = json.loads((tmp_path / f"orientations__{tag}.json").read_text())
    assert report["misorientations"] == theirs["misorientations"] and report["misorientations"]["correlated"]["pairs"]
    run(at.checkbox(key="umap_orient_miso").uncheck())
    assert not [c for c in at.get("plotly_chart") if "umap_orient_angles_chart" in c.proto.id]
    assert json.loads(downloads[f"orientations__{tag}.json"]())["misorientations"] is None
