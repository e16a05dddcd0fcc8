"""The Clusters page on latents without band contrast (a scan without a map, cutouts), the model of
the latents in the sidebar and the download labels, the cluster table joining the UMAP table by
`row`, and the Train page showing the last finished run from disk (AppTest, the real app)."""
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from latentcore.demo import DEMO_MODEL
from latentcore.latents import LatentsWriter, read_latents
from latentcore.storage import sha256_file

from driving import go, new_app, point_panels, texts

DEMO_SHORT_SHA = sha256_file(DEMO_MODEL)[:8]  # how the sidebar and downloads name the demo VAE

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


def sidebar_caption(latents) -> str:
    """The sidebar's latents summary (AppTest sees an app's sidebar on its first run only: the summary alone)."""
    def summary():
        from ui.widgets import common

        common.SidebarSummary().draw(buttons=False)

    at = AppTest.from_function(summary, default_timeout=60)
    at.session_state["latents"] = str(latents)
    at.run()
    assert not at.exception
    return texts(at.sidebar.caption)


def test_a_clusters_visit_and_its_downloads_cluster_once(monkeypatch, downloads):
    """The downloads are the run on screen: its CSV, and its report and PNG drawn from it; nothing is
    clustered again, in the server or the pool, for a download."""
    import hashlib

    import latentcore.analysis.cluster as engine

    at = go(new_app(), "extract")
    at.button(key="extract_run").click().run()
    clustered, cluster = [], engine.cluster
    monkeypatch.setattr(engine, "cluster",
                        lambda *args, **kwargs: clustered.append(args[1]) or cluster(*args, **kwargs))
    at = go(at, "clusters")
    assert at.session_state["bandcontrast"] is not None and at.metric[2].value == "2,400"
    files = {name: read() for name, read in downloads.items()}
    assert clustered == ["gmm"]  # the page's run, once: the five downloads made none
    tag = "gmm_dim0_full"
    assert sorted(files) == [f"cluster_assignments__{tag}.{kind}" for kind in ("ang", "csv", "ctf")] + \
        [f"cluster_latent_bc__{tag}.png", f"cluster_report__{tag}.json"]  # the scan with the clusters as phases
    report = json.loads(files[f"cluster_report__{tag}.json"])
    csv = files[f"cluster_assignments__{tag}.csv"]
    assert report["outputs"]["assignments"]["sha256"] == hashlib.sha256(csv).hexdigest()
    assert report["outputs"]["figure"]["name"] == f"cluster_latent_bc__{tag}.png"
    assert files[f"cluster_latent_bc__{tag}.png"].startswith(b"\x89PNG")
    table = pd.read_csv(io.BytesIO(csv))
    assert report["counts"] == {str(k): int(n) for k, n in table["cluster"].value_counts().sort_index().items()}
    assert len(table) == 2400 and "bandcontrast" in table.columns

    k = at.number_input(key="clusters_k").value  # another k: files of the same names, each job its own
    at.number_input(key="clusters_k").set_value(k + 1).run()
    other = {name: read() for name, read in downloads.items()}
    at.number_input(key="clusters_k").set_value(k).run()
    again = {name: read() for name, read in downloads.items()}
    assert clustered == ["gmm", "gmm"]  # back to the first k: its run, kept, and its files
    assert again == files and other[f"cluster_assignments__{tag}.csv"] != csv


def test_whole_vectors_of_a_scan_cluster_without_band_contrast_and_join_the_umap_table(downloads):
    at = go(new_app(), "extract")
    at.button(key="extract_run").click().run()
    assert not at.exception and not at.error
    assert f"made by demo-vae (SHA-256 {DEMO_SHORT_SHA})" in sidebar_caption(at.session_state["latents"])  # which model

    at = go(at, "clusters")
    at.selectbox(key="clusters_bc").select("none").run()
    assert "needs band contrast" in texts(at.warning) and not at.exception  # the pairs need it ...
    at.radio(key="clusters_features").set_value("latent").run()  # ... whole vectors do not
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not at.warning and at.metric[2].value == "2,400"
    assert at.session_state["bandcontrast"] is None
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[0] == f"cluster_assignments__gmm_latents_full.csv — model demo-vae (SHA-256 {DEMO_SHORT_SHA})"

    report = json.loads(downloads["cluster_report__gmm_latents_full.json"]())  # what the buttons serve
    assert report["inputs"]["bandcontrast"] is None and report["model"]["name"] == "vae"
    table = pd.read_csv(io.BytesIO(downloads["cluster_assignments__gmm_latents_full.csv"]()))
    dims = read_latents(at.session_state["latents"]).partitions["all"].shape[1]
    assert list(table.columns) == ["row", "x_um", "y_um", *(f"latent_{d}" for d in range(dims)), "cluster"]

    at = go(at, "umap")  # the UMAP page's table (its download) joins the cluster table by `row`
    lat = read_latents(at.session_state["latents"])
    matrix = lat.partitions["all"]
    umap = pd.read_csv(io.BytesIO(downloads[f"{Path(at.session_state['latents']).stem}_umap.csv"]().encode()))
    assert list(umap.columns) == ["row", "x_um", "y_um", "umap_0", "umap_1", "partition", "index", "selected"]
    joined = table.merge(umap, on="row", suffixes=("", "_umap"), validate="one_to_one")
    assert len(joined) == 2400
    np.testing.assert_array_equal(joined["x_um"], joined["x_um_umap"])
    np.testing.assert_array_equal(joined[[f"latent_{d}" for d in range(dims)]].to_numpy(np.float32),
                                  matrix[joined["row"]])


def test_cutout_latents_cluster_as_whole_vectors_without_a_map():
    rng = np.random.default_rng(0)
    rows = np.r_[rng.normal(0, 0.1, (40, 4)), rng.normal(3, 0.1, (40, 4))].astype(np.float32)
    at = new_app()
    writer = LatentsWriter(Path(at.session_state["workdir"]) / "cutouts_latents.h5", {"valid": rows.shape}, {"t": 1})
    writer.write_rows("valid", 0, rows)
    path = writer.finish({"model": "nenya", "model_sha256": "ab" * 32})

    assert "made by nenya (SHA-256 abababab)" in sidebar_caption(path)
    at.session_state["latents"] = str(path)
    at = go(at, "clusters")
    assert not at.error, [e.value for e in at.error]
    assert "no x, y coordinates" in texts(at.caption)
    assert at.metric[2].value == "80" and at.metric[0].value == "3"
    panels = point_panels(at)
    assert "clusters_scatter" in panels and "clusters_map" not in panels  # the scatter alone: no map
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["cluster_assignments__gmm_latents_full.csv — model nenya (SHA-256 abababab)",
                      "cluster_report__gmm_latents_full.json — model nenya (SHA-256 abababab)"]
