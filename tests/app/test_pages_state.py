"""What a session remembers, through the real app with AppTest (app.py around every page, as on the
server): the scan's own band contrast (`scan:NAME`) survives a reload while a tampered state.json names
no file; page settings put back after a reload or a page switch make Streamlit warn of no widget set
twice (a default and a Session State value); the shared ROI is said on every page it applies to, and
cleared from any; any row's nearest neighbours by number or position, and undo of the last selection."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from latentcore.analysis.labels.labelled import LabelledRows
from latentcore.data.bandcontrast import BandContrast
from latentcore.demo import DEMO_SCAN
from ui.session import settings, workspace
from driving import extracted, new_app, run, texts, url_workspace

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]
SCAN_MAP = "Band Contrast (the scan's own map)"


@pytest.fixture
def set_twice(monkeypatch):
    """The keys of widgets drawn with a default while their value was also set through the Session State
    API in the same run: every one (Streamlit itself logs the first of a process only), and what
    Streamlit's own logger said."""
    from streamlit.elements.lib import policies
    from streamlit.runtime.state import get_session_state

    keys, logged = [], []
    check = policies.check_session_state_rules

    def recording(default_value, key, writes_allowed=True):
        if key is not None and default_value is not None and get_session_state().is_new_state_value(key):
            keys.append(key)
        return check(default_value, key, writes_allowed)

    class Caught(logging.Handler):
        def emit(self, record):
            logged.append(record.getMessage())

    handler = Caught(logging.WARNING)
    logger = logging.getLogger(policies.__name__)
    logger.addHandler(handler)
    monkeypatch.setattr(policies, "check_session_state_rules", recording)
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    yield keys, logged
    logger.removeHandler(handler)


# -- 1. the scan's own band contrast ---------------------------------------------------------------

def test_the_scans_own_band_contrast_survives_a_reload(h5oina_small):
    first = new_app()
    first.file_uploader(key="uploads").set_value([(h5oina_small.name, h5oina_small.read_bytes(),
                                                   "application/octet-stream")])
    run(first)
    run(first.selectbox(key="data_source").select(h5oina_small.name))
    assert first.session_state["bandcontrast"] == BandContrast.scan_map("Band Contrast")
    extracted(first)

    reloaded = new_app(workspace_id=url_workspace(first))  # F5, or the workspace link in another tab
    assert reloaded.session_state["bandcontrast"] == BandContrast.scan_map("Band Contrast")  # the value again
    assert f"**Band contrast:** {SCAN_MAP}" in texts(reloaded.sidebar.markdown)
    run(reloaded, "clusters")
    assert "Choose band contrast" not in texts(reloaded.warning)
    assert reloaded.selectbox(key="clusters_bc").value == SCAN_MAP
    assert [m.value for m in reloaded.metric][2] == "180"  # every pixel, paired with its Band Contrast
    run(reloaded, "umap")
    run(reloaded.selectbox(key="umap_colour").select("band contrast"))  # offered: the reference is there
    run(reloaded, "rank")
    assert "No reference map" not in texts(reloaded.info)
    assert "Band Contrast" in reloaded.multiselect(key="rank_references").value


@pytest.mark.parametrize("saved, restored", [
    ("scan:Band Contrast", "scan:Band Contrast"), ("scan:IQ", "scan:IQ"), ("scan", "scan"),
    ("scan:../../etc/passwd", None), ("scan:..", None), ("scan:a\x00b", None), ("scan:" + "x" * 101, None),
    ("/etc/passwd", None), ("../bc.csv", None), (["scan:IQ"], None), (7, None)])
def test_a_restored_band_contrast_is_a_plain_map_name_or_a_table_inside_the_workspace(tmp_path, saved, restored):
    workspace_id, path = workspace.create(tmp_path)
    (path / "state.json").write_text(json.dumps({"bandcontrast": saved}))
    record, _ = workspace.load(path)
    assert record["bandcontrast"] == restored
    table = path / "uploads" / "bc.csv"
    table.parent.mkdir()
    table.write_text("x,y,bandcontrast\n")
    (path / "state.json").write_text(json.dumps({"bandcontrast": str(table)}))
    assert workspace.load(path)[0]["bandcontrast"] == str(table.resolve())


# -- 3. no widget is set twice ---------------------------------------------------------------------

PAGES = list(settings.PAGES)  # every page of the app's registry


def test_settings_put_back_after_a_page_switch_or_a_reload_set_no_widget_twice(set_twice):
    keys, logged = set_twice
    first = extracted(new_app())
    run(first.number_input(key="extract_batch").set_value(32))
    run(first, "umap")
    run(first.number_input(key="umap_neighbors").set_value(10))
    run(first.number_input(key="umap_min_dist").set_value(0.25))
    run(first.number_input(key="umap_k").set_value(5))
    run(first.selectbox(key="umap_colour").select("band contrast"))
    run(first, "maps")
    run(first.number_input(key="maps_columns").set_value(3))
    run(first.multiselect(key="maps_dims").unselect(0))
    run(first.slider(key="roi_x").set_value((15.0, 88.5)))
    run(first, "clusters")
    run(first.selectbox(key="clusters_method").select("kmeans"))
    run(first.number_input(key="clusters_k").set_value(4))
    run(first.number_input(key="clusters_smooth").set_value(1.0))
    run(first, "rank")
    run(first.slider(key="rank_top").set_value(2))
    run(first, "train")
    run(first.number_input(key="train_epochs").set_value(5))
    run(first.checkbox(key="train_static_bg").uncheck())
    for page in PAGES:  # every page's widgets were left out by another page: their values are put back
        run(first, page)
    assert keys == [] and logged == []

    reloaded = new_app(workspace_id=url_workspace(first))
    for page in PAGES:
        run(reloaded, page)
    assert keys == [] and logged == [], (keys, logged)
    run(reloaded, "umap")  # and the values are the ones set, not the defaults
    assert reloaded.number_input(key="umap_neighbors").value == 10
    assert reloaded.number_input(key="umap_min_dist").value == 0.25
    assert reloaded.selectbox(key="umap_colour").value == "band contrast"
    run(reloaded, "maps")
    assert reloaded.number_input(key="maps_columns").value == 3 and 0 not in reloaded.multiselect(key="maps_dims").value
    assert reloaded.slider(key="roi_x").value == (15.0, 88.5)
    run(reloaded, "clusters")
    assert reloaded.number_input(key="clusters_k").value == 4 and reloaded.number_input(key="clusters_smooth").value == 1.0
    run(reloaded, "rank")
    assert reloaded.slider(key="rank_top").value == 2
    run(reloaded, "train")
    assert reloaded.number_input(key="train_epochs").value == 5 and reloaded.checkbox(key="train_static_bg").value is False
    run(reloaded, "extract")
    assert reloaded.number_input(key="extract_batch").value == 32
    assert keys == [] and logged == []


COMPARE_SETTINGS = {"compare_method": "pca", "compare_neighbors": 10, "compare_min_dist": 0.25, "compare_seed": 3,
                    "compare_colour": "k-means clusters of the second file", "compare_colour_k": 4, "compare_k": 3,
                    "compare_smooth": 1.0, "compare_probe": "knn"}


def compare_widget(at: AppTest, key: str):
    kind = "selectbox" if key in ("compare_method", "compare_colour", "compare_probe", "compare_other") else "number_input"
    return getattr(at, kind)(key=key)


def test_the_compare_pages_settings_survive_a_page_switch_and_a_reload(set_twice):
    keys, logged = set_twice
    first = extracted(new_app())
    latents = Path(first.session_state["latents"])
    other = latents.parent / "copy" / latents.name  # a second latents file of the same source
    other.parent.mkdir()
    shutil.copy(latents, other)
    first.session_state["labels"] = LabelledRows.from_names([0, 1, 2, 3], ["a", "a", "b", "b"])  # the probe's
    run(first, "compare")
    for key, value in COMPARE_SETTINGS.items():
        widget = compare_widget(first, key)
        run(widget.select(value) if hasattr(widget, "select") else widget.set_value(value))
    chosen = {key: compare_widget(first, key).value for key in [*COMPARE_SETTINGS, "compare_other"]}
    assert chosen == {**COMPARE_SETTINGS, "compare_other": "ni_grains_h5ebsd · demo-vae · 2,400 rows (copy)"}
    run(first, "data")  # the Compare page's widgets are left out: their values must survive
    run(first, "compare")
    assert {key: compare_widget(first, key).value for key in chosen} == chosen

    reloaded = new_app(workspace_id=url_workspace(first))
    run(reloaded, "compare")
    assert {key: compare_widget(reloaded, key).value for key in chosen} == chosen
    assert keys == [] and logged == [], (keys, logged)


VALUE_WIDGETS = ("selectbox", "multiselect", "number_input", "slider", "checkbox", "toggle", "radio", "text_input",
                 "color_picker")


def test_every_value_widget_of_the_pages_is_declared_saved_or_left_out():
    at = extracted(new_app())
    latents = Path(at.session_state["latents"])
    (latents.parent / "copy").mkdir()
    shutil.copy(latents, latents.parent / "copy" / latents.name)  # the Compare page draws all its widgets
    at.session_state["labels"] = LabelledRows.from_names([0, 1, 2, 3], ["a", "a", "b", "b"])
    drawn = set()
    for page in PAGES:
        run(at, page)
        drawn |= {w.key for kind in VALUE_WIDGETS for w in getattr(at, kind) if w.key}
    run(at, "data").file_uploader(key="uploads").set_value([("other.h5", DEMO_SCAN.read_bytes(),
                                                              "application/octet-stream")])
    run(at)  # a second pattern file: the Train and Extract pages' several-files widgets
    run(at, "train")
    run(at.radio(key="train_data").set_value("Several pattern files: one model for a study"))
    drawn |= {w.key for kind in VALUE_WIDGETS for w in getattr(at, kind) if w.key}
    run(at, "extract")
    drawn |= {w.key for kind in VALUE_WIDGETS for w in getattr(at, kind) if w.key}
    ours = {key for key in drawn if key.startswith(settings.PAGE_PREFIXES)}
    assert ours - settings.SAVED.keys == settings.LEFT_OUT
    assert {"compare_other", "compare_probe", "maps_dims", "roi_x", "train_epochs", "train_files",
            "extract_study_files"} <= ours & settings.SAVED.keys


def test_the_recorder_sees_a_widget_set_twice(set_twice):
    """The check above can fail: a value written through the Session State API in the run that draws its
    widget with a default is caught, by the recorder and by Streamlit's own log."""
    keys, logged = set_twice
    script = ("import streamlit as st\n"
              "st.session_state['umap_neighbors'] = 10\n"
              "st.number_input('Neighbours', 2, 200, 15, key='umap_neighbors')\n")
    at = AppTest.from_string(script).run()
    assert not at.exception
    assert keys == ["umap_neighbors"]
    assert any('"umap_neighbors" was created with a default value' in line for line in logged)


# -- 2. the shared ROI is said where it applies ------------------------------------------------------

ROI_LINE = "ROI: x 15–88.5 µm, y 0–58.5 µm (2,000 of 2,400 pixels) — set on Latent maps"


def test_an_roi_set_on_latent_maps_is_said_on_clusters_and_rank_and_cleared_from_there():
    at = extracted(new_app())
    run(at, "clusters")
    assert "ROI:" not in texts(at.info)  # the whole scan: nothing to say
    run(at, "maps")
    run(at.slider(key="roi_x").set_value((15.0, 88.5)))
    assert ROI_LINE in texts(at.info)
    run(at, "clusters")
    assert ROI_LINE in texts(at.info)
    assert [m.value for m in at.metric][2] == "2,000"
    run(at, "rank")
    assert ROI_LINE in texts(at.info)
    run(at.button(key="rank_roi_clear").click())
    assert "ROI:" not in texts(at.info)
    assert at.slider(key="roi_x").value == (0.0, 88.5)
    run(at, "clusters")
    assert "ROI:" not in texts(at.info) and [m.value for m in at.metric][2] == "2,400"

    run(at.slider(key="roi_y").set_value((0.0, 29.0)))  # set on Clusters, said on Rank and after a reload
    run(at, "rank")
    line = "ROI: x 0–88.5 µm, y 0–29 µm (1,200 of 2,400 pixels) — set on Clusters"
    assert line in texts(at.info)
    reloaded = new_app(workspace_id=url_workspace(at))
    run(reloaded, "maps")
    assert line in texts(reloaded.info)


# -- 4. nearest neighbours of any row, and undo ------------------------------------------------------

def test_nearest_neighbours_of_a_row_by_number_or_position_and_undo_of_the_last_selection():
    from latentcore.analysis.embedding.search import nearest_neighbours
    from latentcore.latents import read_latents

    at = run(extracted(new_app()), "umap")
    assert "umap_undo" not in [b.key for b in at.button]  # nothing to undo yet
    latents = read_latents(at.session_state["latents"])
    run(at.number_input(key="umap_k").set_value(5))
    run(at.number_input(key="umap_query_row").set_value(42))
    run(at.button(key="umap_query_run").click())
    assert at.session_state["selection"].tolist() == [42]
    expected, _ = nearest_neighbours(latents.partitions["all"], 42, k=5)
    assert list(at.dataframe[1].value["row"]) == list(expected)
    assert f"nearest neighbours of row 42 (x = {latents.x[42]:g}, y = {latents.y[42]:g} µm)" in texts(at.caption)

    run(at.radio(key="umap_query_by").set_value("position"))
    run(at.number_input(key="umap_query_x").set_value(float(latents.x[61]) + 0.2))  # nearest: row 61's pixel
    run(at.number_input(key="umap_query_y").set_value(float(latents.y[61]) - 0.3))
    run(at.button(key="umap_query_run").click())
    assert at.session_state["selection"].tolist() == [61]
    expected, _ = nearest_neighbours(latents.partitions["all"], 61, k=5)
    assert list(at.dataframe[1].value["row"]) == list(expected)

    run(at.button(key="umap_undo").click())  # back to row 42
    assert at.session_state["selection"].tolist() == [42]
    assert "umap_undo" not in [b.key for b in at.button]  # one level
    run(at.button(key="umap_clear").click())
    assert at.session_state["selection"].size == 0
    run(at.button(key="umap_undo").click())  # a clear is undone too
    assert at.session_state["selection"].tolist() == [42]


def test_results_of_two_models_latents_with_one_file_name_go_to_two_folders(tmp_path):
    """Two models' latents of one scan are both `<scan>_latents.h5` (in folders of their own): their cluster,
    map, UMAP and rank files share names, so each latents file gets its own results folder."""
    def script():
        import streamlit as st

        from ui.session import lifecycle

        st.session_state["workdir"] = st.session_state["root"]
        for path in st.session_state["paths"]:
            st.write(str(lifecycle.results_dir("clusters", path)))

    paths = [str(tmp_path / model / "scan_latents.h5") for model in ("vae", "resnet", "vae")]
    at = AppTest.from_function(script)
    at.session_state["root"], at.session_state["paths"] = str(tmp_path / "ws"), paths
    at.run()
    folders = [Path(m.value) for m in at.markdown]
    assert folders[0] != folders[1] and folders[0] == folders[2]
    assert all(f.is_dir() and f.parent == tmp_path / "ws" / "clusters" and f.name.startswith("scan_latents-")
               for f in folders)
