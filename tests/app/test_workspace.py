"""Workspaces named in the URL: a new session gets one, the same URL restores it (data, latents,
selection, settings), one workspace never shows another's things, and old ones are cleaned up.
The real app script under AppTest, real files on disk."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui.session import workspace
from driving import new_app, url_workspace

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


def test_reload_restores_latents_selection_and_settings_and_others_see_none_of_it(tmp_path):
    first = new_app(errors_ok=True)
    workspace_id = url_workspace(first)
    assert workspace.is_valid_id(workspace_id) and first.session_state["workdir"].endswith(workspace_id)
    first.switch_page("pages/extract.py").run()
    first.button(key="extract_run").click().run()
    latents = first.session_state["latents"]
    first.switch_page("pages/maps.py").run()
    first.slider(key="roi_x").set_value((15.0, 88.5)).run()
    first.session_state["selection"] = np.array([3, 61, 62])
    first.switch_page("pages/data.py").run()  # the ROI slider is not drawn here: its value must survive

    reloaded = new_app(workspace_id=workspace_id, errors_ok=True)
    assert reloaded.session_state["latents"] == latents
    assert reloaded.session_state["selection"].tolist() == [3, 61, 62]
    reloaded.switch_page("pages/clusters.py").run()  # one ROI for every page
    assert reloaded.slider(key="roi_x").value == (15.0, 88.5)

    other = new_app(errors_ok=True)
    assert url_workspace(other) != workspace_id
    assert other.session_state["latents"] is None and other.session_state["selection"].size == 0
    assert not Path(other.session_state["workdir"]).is_relative_to(reloaded.session_state["workdir"])


@pytest.mark.parametrize("bad", ["../../etc", "short", "a" * 21 + "/", "A" * 22])
def test_unknown_or_malformed_ids_say_so_and_offer_a_new_workspace(bad):
    at = new_app(workspace_id=bad, errors_ok=True)  # no longer opens a new empty workspace silently: one line, and a button
    assert [e.value for e in at.error] == [("Workspace `AAAAAAAAAAAAAAAAAAAAAA`" if bad == "A" * 22 else
                                            "The workspace in this link") + " does not exist or has expired."]
    assert url_workspace(at) == bad and "workdir" not in at.session_state and not at.title[1:]
    at.button(key="workspace_start_new").click().run()
    assert not at.exception and not at.error, at.error
    assert url_workspace(at) != bad and workspace.is_valid_id(url_workspace(at))
    assert Path(at.session_state["workdir"]).parent.name == "workspaces"
    assert at.session_state["source"] is not None  # the demo, as in any new workspace


def test_paths_outside_the_workspace_are_not_restored(tmp_path):
    root = tmp_path / "root"
    workspace_id, path = workspace.create(root)
    inside = path / "uploads" / "scan.h5"
    inside.parent.mkdir()
    inside.write_bytes(b"x")
    (path / "state.json").write_text(json.dumps({
        "source": str(inside), "bandcontrast": "/etc/passwd", "latents": str(path / ".." / ".." / "x.h5"),
        "models": {"mine": {"path": str(inside)}, "theirs": {"path": "/tmp/other/model.pth"}},
        "files": {"data": [str(inside), "/etc/shadow"]},
        "settings": {"umap_seed": 3, "s3_bucket": "not a setting"}}))
    record, selection = workspace.load(path)
    assert record["source"] == str(inside.resolve())
    assert record["bandcontrast"] is None and record["latents"] is None
    assert list(record["models"]) == ["mine"] and record["settings"] == {"umap_seed": 3}
    assert record["files"] == {"data": [str(inside)]}
    assert selection.size == 0
    with pytest.raises(ValueError, match="22 URL-safe"):
        workspace.folder(root, "../" + workspace_id[3:])


def test_old_workspaces_are_removed_by_age(tmp_path):
    old_id, old = workspace.create(tmp_path)
    new_id, new = workspace.create(tmp_path)
    week_ago = time.time() - 8 * 86400
    os.utime(old, (week_ago, week_ago))
    assert workspace.remove_old(tmp_path, max_age_days=7) == [old_id]
    assert not old.exists() and new.exists()


def label_selection(at: AppTest, rows, name: str):
    at.session_state["selection"] = np.asarray(rows, np.int64)
    at.run()
    at.text_input(key="labels_umap_name").input(name).run()
    at.button(key="labels_umap_assign").click().run()
    assert not at.exception, at.exception


def test_two_tabs_on_one_workspace_keep_each_others_labels_and_settings():
    """The reported bug: tab B, open on the workspace, undid tab A's labels with its next click."""
    tab_a = new_app(errors_ok=True)
    workspace_id = url_workspace(tab_a)
    tab_a.switch_page("pages/extract.py").run()
    tab_a.button(key="extract_run").click().run()
    tab_b = new_app(workspace_id=workspace_id, errors_ok=True)
    folder = Path(tab_a.session_state["workdir"])
    tab_a.switch_page("pages/umap.py").run()
    tab_b.switch_page("pages/umap.py").run()

    label_selection(tab_a, range(0, 10), "left")
    tab_b.switch_page("pages/data.py").run()  # a click in B: it takes A's labels, and writes none of its own
    assert tab_b.session_state["labels"].counts() == {"left": 10}
    assert workspace.read(folder).labels.counts() == {"left": 10}
    tab_b.switch_page("pages/umap.py").run()
    label_selection(tab_b, range(20, 25), "right")
    tab_a.run()
    assert tab_a.session_state["labels"].counts() == {"left": 10, "right": 5}
    assert workspace.read(folder).labels.counts() == {"left": 10, "right": 5}

    tab_a.number_input(key="umap_neighbors").set_value(10).run()
    tab_b.run()  # B's widget shows A's value, and B's save keeps it
    assert tab_b.number_input(key="umap_neighbors").value == 10 and not tab_b.exception
    tab_b.run()
    assert workspace.read(folder).record["settings"]["umap_neighbors"] == 10
    assert tab_b.session_state["selection"].tolist() == [20, 21, 22, 23, 24]
