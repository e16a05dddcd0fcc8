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

from latentcore.latents import LatentsWriter, read_latents

from driving import go, new_app, texts

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


def test_whole_vectors_of_a_scan_cluster_without_band_contrast_and_join_the_umap_table():
    at = go(new_app(), "extract")
    at.button(key="extract_run").click().run()
    assert not at.exception and not at.error
    assert "made by vae (SHA-256 f92bed0c)" in sidebar_caption(at.session_state["latents"])  # which model

    at = go(at, "clusters")
    at.selectbox(key="clusters_bc").select("none").run()
    assert "needs band contrast" in texts(at.warning) and not at.exception  # the pairs need it ...
    at.radio(key="clusters_features").set_value("latent").run()  # ... whole vectors do not
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not at.warning and at.metric[2].value == "2,400"
    assert at.session_state["bandcontrast"] is None
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[0] == "cluster_assignments__gmm_latents_full.csv — model vae (SHA-256 f92bed0c)"

    from ui.compute import front  # the files the Download buttons serve (written on the first click)

    lat_stamp = front.stamp(at.session_state["latents"])
    job = front.cluster_job(lat_stamp, None, "gmm", 0, "latent", {"n_components": 3}, None)
    folder = Path(at.session_state["workdir"]) / "clusters"
    report = json.loads(Path(front.cluster_files(lat_stamp, None, front.job_json(job), str(folder))["report"]).read_text())
    assert report["inputs"]["bandcontrast"] is None and report["model"]["name"] == "vae"
    table = pd.read_csv(folder / "cluster_assignments__gmm_latents_full.csv")
    dims = read_latents(at.session_state["latents"]).partitions["all"].shape[1]
    assert list(table.columns) == ["row", "x_um", "y_um", *(f"latent_{d}" for d in range(dims)), "cluster"]

    at = go(at, "umap")  # the UMAP page's table joins the cluster table by `row`
    from ui.widgets import common

    lat = read_latents(at.session_state["latents"])
    matrix, meta = lat.stacked()
    umap = pd.read_csv(io.StringIO(common.table_csv(meta, {"x_um": lat.x, "y_um": lat.y}, [])))
    joined = table.merge(umap, on="row", suffixes=("", "_umap"), validate="one_to_one")
    assert len(joined) == 2400
    np.testing.assert_array_equal(joined["x_um"], joined["x_um_umap"])
    np.testing.assert_array_equal(joined[[f"latent_{d}" for d in range(dims)]].to_numpy(np.float32),
                                  matrix[joined["row"]])


def test_cutout_latents_cluster_as_whole_vectors_without_a_map(tmp_path):
    rng = np.random.default_rng(0)
    rows = np.r_[rng.normal(0, 0.1, (40, 4)), rng.normal(3, 0.1, (40, 4))].astype(np.float32)
    writer = LatentsWriter(tmp_path / "cutouts_latents.h5", {"valid": rows.shape}, {"t": 1})
    writer.write_rows("valid", 0, rows)
    path = writer.finish({"model": "nenya", "model_sha256": "ab" * 32})

    assert "made by nenya (SHA-256 abababab)" in sidebar_caption(path)
    at = new_app()
    at.session_state["latents"] = str(path)
    at = go(at, "clusters")
    assert not at.error, [e.value for e in at.error]
    assert "no x, y coordinates" in texts(at.caption)
    assert at.metric[2].value == "80" and at.metric[0].value == "3"
    assert len(at.get("plotly_chart")) == 1  # the scatter alone: no map
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["cluster_assignments__gmm_latents_full.csv — model nenya (SHA-256 abababab)",
                      "cluster_report__gmm_latents_full.json — model nenya (SHA-256 abababab)"]
