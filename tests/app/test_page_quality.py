"""The quality filter the pages share (ui/widgets/quality.py) on the demo: set on one page, it holds on the others,
shown as a mask where it is set, and applied alike to the UMAP's fit, the clustering, the ranking and the labels."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from driving import chart_specs, extracted, go, new_app, point_panels, run, texts

from latentcore.demo import DEMO_BANDCONTRAST

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]
BC = pd.read_csv(DEMO_BANDCONTRAST)["bandcontrast"].to_numpy()  # the demo's rows are the table's, in order


def with_filter(at, threshold: float):
    """The band-contrast threshold on: the demo's band contrast is its table."""
    at.checkbox(key="quality_bc_on").check().run()
    return run(at.number_input(key="quality_bc").set_value(threshold))


def test_clusters_cluster_only_the_kept_pixels_show_the_mask_and_record_the_filter(downloads):
    at = go(extracted(new_app()), "clusters")
    assert [m.value for m in at.metric][2] == "2,400" and "Quality filter" not in texts(at.info)
    at = with_filter(at, 150.0)
    kept = BC >= 150
    assert f"Quality filter bc >= 150: {kept.sum():,} of 2,400 points kept" in texts(at.info)
    assert at.metric[2].value == f"{kept.sum():,}"
    mask = [spec for spec in chart_specs(at) if "Pixels kept by bc" in json.dumps(spec)]
    assert len(mask) == 1, [spec["layout"].get("title") for spec in chart_specs(at)]
    legend = [trace["name"] for trace in mask[0]["data"] if trace["type"] == "scatter" and trace.get("name")]
    assert legend[-2:] == [f"removed ({(~kept).sum():,})", f"kept ({kept.sum():,})"], legend  # its legend counts them
    names = [b.proto.label.split(" — ")[0] for b in at.get("download_button")]
    assert names[:2] == ["cluster_assignments__gmm_dim0_full_q-bc-ge150.csv",
                         "cluster_report__gmm_dim0_full_q-bc-ge150.json"]
    table = pd.read_csv(io.BytesIO(downloads[names[0]]()))
    assert list(table["row"]) == list(np.flatnonzero(kept))
    report = json.loads(downloads[names[1]]())
    assert report["quality"]["filter"] == "bc>=150" and report["quality"]["kept"] == kept.sum()


def test_the_filter_set_on_clusters_holds_on_umap_and_rank_and_clears_from_any(downloads):
    at = with_filter(go(extracted(new_app()), "clusters"), 150.0)
    kept = BC >= 150
    line = f"Quality filter bc >= 150: {kept.sum():,} of 2,400 points kept"
    at = go(at, "umap")
    assert line in texts(at.info)
    panels = point_panels(at)
    assert list(panels["umap_scatter"][1]["row_ids"]) == list(np.flatnonzero(kept))  # the rows fitted and shown
    assert list(panels["umap_map"][1]["row_ids"]) == list(np.flatnonzero(kept))
    at = go(at, "rank")
    assert line in texts(at.info)
    at.button(key="rank_quality_clear").click().run()
    assert "Quality filter" not in texts(at.info)
    at = go(at, "clusters")
    assert at.metric[2].value == "2,400"


def test_the_labels_probe_trains_and_predicts_on_the_kept_rows():
    at = with_filter(go(extracted(new_app()), "umap"), 150.0)
    at.button(key="labels_umap_keep_clusters").click().run()  # every row labelled by its k-means cluster
    at = run(at.toggle(key="labels_umap_predict").set_value(True))
    kept = BC >= 150
    assert f"Quality filter bc >= 150: trained on the labelled rows it keeps and predicted over its {kept.sum():,} " \
           "kept rows" in texts(at.caption)
    assert at.metric[2].value == f"{kept.sum():,}"  # the labelled rows it learnt from
    found = list((Path(at.session_state["workdir"]) / "probe").glob("*/probe_predictions__logistic_q-bc-ge150.csv"))
    assert list(pd.read_csv(found[0])["row"]) == list(np.flatnonzero(kept))  # the download's file
    report = json.loads(found[0].with_name("probe_report__logistic_q-bc-ge150.json").read_text())
    assert report["quality"]["filter"] == "bc>=150" and report["quality"]["kept"] == kept.sum()


def test_a_filter_that_keeps_too_few_rows_is_said_in_one_line_on_each_page():
    """Issue 53, item 4: a threshold that keeps one row (the demo's one band contrast of 255) used to end the UMAP,
    Clusters and Rank pages in "latents has shape (1, 12)"; each page now says the filter's one line, naming it and
    how many rows it keeps, under the filter's widgets (set there again to go on), with no exception."""
    at = go(extracted(new_app()), "clusters")
    at.checkbox(key="quality_bc_on").check().run()
    at = run(at.number_input(key="quality_bc").set_value(float(BC.max())), errors_ok=True)
    line = ("ni_grains_h5ebsd__demo-vae_latents.h5: the quality filter bc >= 255 keeps 1 of 2,400 rows: too few to "
            "compute on (at least 3); lower its thresholds")
    for page in ("clusters", "umap", "rank"):
        at = at if page == "clusters" else run(at, page, errors_ok=True)
        assert [e.value for e in at.error] == [line], page
        assert at.number_input(key="quality_bc").value == BC.max() and not at.exception
    at = run(at.number_input(key="quality_bc").set_value(150.0))  # lowered: the page goes on
    assert f"Quality filter bc >= 150: {(BC >= 150).sum():,} of 2,400 points kept" in texts(at.info)
