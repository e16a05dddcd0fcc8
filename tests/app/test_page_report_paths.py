"""The reports the pages offer (Latent maps and its reference maps, Clusters, Rank, the mean pattern, the labels'
probe) name no server path: each download is made as a click makes it, then read back (AppTest, the real app)."""
from pathlib import Path

import numpy as np
import pytest

from latentcore.analysis.labels.labelled import LabelledRows
from report_paths import check_report
from driving import extracted, new_app, run

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("private_folders")]


def test_no_report_a_page_offers_holds_a_server_path(tmp_path, downloads):
    at = extracted(new_app())
    run(at, "maps")
    run(at.slider(key="roi_x").set_value((15.0, 88.5)))  # the ROI: in the maps', references' and ranking's names
    run(at.checkbox(key="maps_ref_patterns").check())  # the demo's reference maps: VBSE, IQ, ADP from its patterns
    run(at, "clusters")
    run(at, "rank")
    at.session_state["selection"] = np.arange(0, 2400, 97)
    run(at, "umap")
    run(at.toggle(key="umap_mean_show").set_value(True))
    at.session_state["labels"] = LabelledRows.from_names(np.arange(0, 2400, 20), ["a", "b"] * 60)
    run(at)
    run(at.toggle(key="labels_umap_predict").set_value(True))
    for name, read in list(downloads.items()):
        if name.endswith(".json"):
            read()  # what a click on its download writes, beside the files it describes
    workspace = Path(at.session_state["workdir"])
    reports = {path.name: path for path in workspace.rglob("*.json") if path.name != "state.json"}
    kinds = {"latent_maps__", "references_report__roi", "cluster_report__", "ranking_report__", "mean_pattern__",
             "probe_report__"}
    assert {kind for kind in kinds if any(name.startswith(kind) for name in reports)} == kinds, sorted(reports)
    for path in reports.values():  # the latents in the workspace by a path from the report; the demo's files by name
        assert check_report(path, tmp_path, REPO, within=workspace) >= 1, path.name
