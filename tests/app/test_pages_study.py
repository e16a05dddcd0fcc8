"""The app on a study (several latents files of one model as one latent space, latentcore/study.py): the Data page
makes one from the workspace's latents files and picks it as the session's latents (restored on reload); the UMAP
page shows one embedding of every row, coloured by source, and each source's scan map; a study of one file is the
file. Three small simulated scans sharing their grains' orientations (tests/study_scans.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from driving import go, new_app, overlay_rows, point_panels, run, texts, url_workspace
from study_scans import scan_latents

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


def workspace_with_scans(names=("p", "q", "r")) -> tuple:
    """A new session whose workspace holds the latents of three scans (and one of another model)."""
    at = new_app()
    folder = Path(at.session_state["workdir"])
    paths = scan_latents(folder / "latents" / "scans", names)
    scan_latents(folder / "latents" / "other", ("s",), model={"model": "other", "model_name": "other",
                                                               "model_sha256": "f" * 64})
    return run(at, "data"), folder, paths


def make_study(at, members: list[str], name: str):
    at.multiselect(key="data_study_members").set_value(members)
    at.text_input(key="data_study_name").input(name)
    return at.button(key="data_study_make").click().run()


def test_the_data_page_makes_a_study_refuses_another_models_member_and_the_study_is_restored_on_reload():
    at, folder, _ = workspace_with_scans()
    options = at.multiselect(key="data_study_members").options
    assert options == ["p · pca · 192 rows", "q · pca · 192 rows", "r · pca · 192 rows", "s · other · 192 rows"]
    make_study(at, ["p · pca · 192 rows", "s · other · 192 rows"], "mixed")
    assert "member s was made by" in texts(at.error) and not (folder / "mixed.study.json").exists()  # one line
    make_study(at, options[:3], "three")
    assert not at.exception and "Study three.study.json saved: 3 sources" in texts(at.success)
    assert (folder / "three.study.json").is_file()
    made = (folder / "three.study.json").read_bytes()
    make_study(at, options[:2], "three")  # the name taken: the saved study is kept
    assert "a study named three is in the workspace already" in texts(at.error)
    assert (folder / "three.study.json").read_bytes() == made
    assert at.selectbox(key="data_study_pick").value == "three"
    assert "three (3 sources) · pca · 576 rows" in texts(at.caption)
    assert "**Data:** a study of" not in texts(at.sidebar.markdown)
    at.button(key="data_study_explore").click().run()
    assert not at.exception and at.session_state["latents"] == str(folder / "three.study.json")
    assert "**Data:** a study of 3 sources (p, q, r)" in texts(at.sidebar.markdown)  # not the demo scan
    again = new_app(workspace_id=url_workspace(at))  # a reload: the study is the session's latents again
    assert again.session_state["latents"] == str(folder / "three.study.json")


def test_a_study_says_which_sources_its_model_was_not_trained_on_on_the_data_page_and_under_its_scatter():
    """Each latents file records its source's SHA-256 and the data its model was trained on (from the checkpoint):
    here p's and q's, not r's."""
    import json

    import h5py

    at, folder, paths = workspace_with_scans()
    for name, digest in zip("pqr", "123"):
        with h5py.File(paths[name], "r+") as f:
            f.attrs["source_sha256"] = digest * 64
            f.attrs["model_trained_on"] = json.dumps(["1" * 64, "2" * 64])
    run(at)
    make_study(at, [o for o in at.multiselect(key="data_study_members").options if "pca" in o], "three")
    note = "the model was not trained on the data of 1 of these 3 sources (r): what the sources share can fall into"
    assert note in texts(at.caption)
    run(at.button(key="data_study_explore").click())
    assert note in texts(go(at, "umap").caption)


def study_session(names=("p", "q", "r")):
    """A session exploring the study of `names` (made and picked on the Data page), on the UMAP page."""
    at, folder, paths = workspace_with_scans(names)
    options = [o for o in at.multiselect(key="data_study_members").options if "pca" in o]
    make_study(at, options, "study")
    run(at.button(key="data_study_explore").click())
    return go(at, "umap"), folder, paths


def test_the_umap_page_embeds_every_row_of_a_study_and_shows_a_selection_on_each_sources_own_map(downloads):
    at, _, paths = study_session()
    panels = point_panels(at)
    scatter, points = panels["umap_scatter"]
    assert len(points["qx"]) == 576 and "fitted on every one of the 576 rows" in texts(at.caption)
    assert [name for name, _ in scatter["legend"]] == ["p (192)", "q (192)", "r (192)"]  # coloured by source
    for name in "pqr":  # each source's own grid: 12 x 16 pixels of 1.5 µm
        header, pixels = panels[f"umap_map_{name}"]
        assert header["kind"] == "grid" and len(pixels["cell"]) == 192 and header["group"] == f"umap_map_{name}"
        assert (header["grid"]["nx"], header["grid"]["ny"]) == (16, 12)
    assert "umap_map" not in panels  # no one map of the three scans' rows on one grid
    assert "**Band contrast:** each scan's own map" in [m.value for m in at.sidebar.markdown]

    at.session_state["selection"] = np.array([5, 200, 201, 500])
    at.run()
    panels = point_panels(at)
    assert overlay_rows(panels["overlay:umap"]).tolist() == [5, 200, 201, 500]
    assert {name: overlay_rows(panels[f"overlay:umap_map_{name}"]).tolist() for name in "pqr"} == {
        "p": [5], "q": [8, 9], "r": [116]}  # each map: its own rows of the selection
    assert "q: 2 of its 192 rows selected" in texts(at.caption) and panels["umap_map_q"][0]["title"] == "q (192 rows)"
    table = at.dataframe[0].value
    assert list(table.columns[:6]) == ["source", "row", "x_um", "y_um", "umap_0", "umap_1"]
    assert table[["source", "row"]].astype(str).values.tolist() == [["p", "5"], ["q", "8"], ["q", "9"], ["r", "116"]]
    assert table["index"].tolist() == [5, 8, 9, 116]  # each row's own columns, read from its source's file
    from latentcore.latents import read_latents

    q = read_latents(paths["q"])
    assert table["x_um"].tolist()[1:3] == q.x[[8, 9]].tolist()
    assert table["bandcontrast"].tolist()[1:3] == q.point_maps["Band Contrast"][[8, 9]].tolist()  # q's own map
    csv = next(make() for name, make in downloads.items() if name.endswith(".csv"))
    assert csv.splitlines()[0].startswith("source,row,x_um,y_um,umap_0,umap_1")
    assert csv.count(",True") == 4 and len(csv.splitlines()) == 577

    at.session_state["selection"] = np.array([200])  # one row: its nearest neighbours across the study
    at.run()
    assert f"nearest neighbours of row 8 of q (x = {q.x[8]:g}, y = {q.y[8]:g} µm)" in texts(at.caption)
    neighbours = at.dataframe[1].value
    assert list(neighbours.columns[:2]) == ["source", "row"] and "cosine_distance" in neighbours.columns

    at.session_state["selection"] = np.array([], np.int64)  # asked by source and its own row, or its own position
    at = run(at.selectbox(key="umap_query_source").set_value(2))
    assert at.number_input(key="umap_query_row").label == "Row (0 to 191)"  # r's rows
    at = run(run(at.number_input(key="umap_query_row").set_value(7)).button(key="umap_query_run").click())
    assert at.session_state["selection"].tolist() == [2 * 192 + 7]
    at = run(at.selectbox(key="umap_query_source").set_value(1))
    at = run(at.radio(key="umap_query_by").set_value("position"))
    at = run(at.number_input(key="umap_query_x").set_value(float(q.x[9])))
    at = run(at.number_input(key="umap_query_y").set_value(float(q.y[9])))
    at = run(at.button(key="umap_query_run").click())
    assert at.session_state["selection"].tolist() == [192 + 9]  # q's row 9, not p's row at that position


def test_a_study_of_one_scan_is_explored_as_its_file():
    at, _, _ = study_session(("p",))
    panels = point_panels(at)
    assert len(panels["umap_scatter"][1]["qx"]) == 192 and panels["umap_map"][0]["group"] == "umap"  # one group
    assert not any(key.startswith("umap_map_") for key in panels)
    at.session_state["selection"] = np.array([3, 7])
    at.run()
    assert list(at.dataframe[0].value.columns[:5]) == ["row", "x_um", "y_um", "umap_0", "umap_1"]  # as a file's


def test_above_six_sources_a_picker_chooses_the_scan_maps_shown_and_the_study_is_stacked_once(monkeypatch):
    """More sources than the server keeps studies: reading each source's file (the legend, the maps) once evicted
    the study itself, stacked again on every run (1.5 GB and seconds at 10M rows)."""
    import latentcore.study

    stacked = latentcore.study.study_latents
    built = []
    monkeypatch.setattr(latentcore.study, "study_latents", lambda *args: built.append(1) or stacked(*args))
    at, _, _ = study_session(tuple("abcdefghi"))
    picker = at.multiselect(key="umap_sources")
    assert picker.options == list("abcdefghi") and picker.value == ["a", "b"]
    assert sorted(k for k in point_panels(at) if k.startswith("umap_map_")) == ["umap_map_a", "umap_map_b"]
    run(picker.set_value(["c", "g"]))
    assert sorted(k for k in point_panels(at) if k.startswith("umap_map_")) == ["umap_map_c", "umap_map_g"]
    assert len(point_panels(at)["umap_scatter"][1]["qx"]) == 9 * 192  # the scatter keeps every row
    assert len(built) == 1  # the study's rows stacked on the first run only


def test_a_studys_chosen_rows_show_their_images_and_mean_pattern_from_their_own_sources_data_file(downloads,
                                                                                                 monkeypatch):
    import io

    from latentcore.data import open_source
    from ui.widgets import common

    drawn = []
    monkeypatch.setattr(common, "gallery", lambda items, captions, columns=6: drawn.append((list(items), captions)))

    at = new_app()
    folder = Path(at.session_state["workdir"])
    scan_latents(folder / "latents" / "scans", scans=folder / "uploads")
    at.session_state["_files"] = {"data": [str(folder / "uploads" / f"{name}.h5") for name in "pqr"]}
    run(at, "data")
    make_study(at, list(at.multiselect(key="data_study_members").options), "three")
    run(at.button(key="data_study_explore").click())
    go(at, "umap")
    at.session_state["selection"] = np.array([5, 200, 201])  # p's row 5, q's rows 8 and 9
    at.run()
    # every chosen row's image at once, each from its own source's file, and captioned so
    with open_source(folder / "uploads" / "p.h5") as p, open_source(folder / "uploads" / "q.h5") as q:
        expected = [*p.read_rows("all", [5]), *q.read_rows("all", [8, 9])]
    items, captions = drawn[-1]
    assert len(items) == 3 and all(np.array_equal(a, b) for a, b in zip(items, expected))
    assert [caption.split(" · x")[0] for caption in captions] == ["p · row 5", "q · row 8", "q · row 9"]
    picker = at.selectbox(key="umap_selected_source")  # the mean is of one source's patterns
    assert picker.options == ["p (1 row)", "q (2 rows)"] and picker.label == "Mean pattern of the rows of"
    run(picker.select_index(1))
    run(at.toggle(key="umap_mean_show").set_value(True))
    assert "Mean of 2 patterns" in str(at.get("plotly_chart")[0].proto.spec)
    mean = np.load(io.BytesIO(next(make() for name, make in downloads.items() if name.endswith(".npy"))))
    with open_source(folder / "uploads" / "q.h5") as reader:
        patterns = reader.read_rows(next(iter(reader.info().partitions)), [8, 9]).astype(np.float64)
    np.testing.assert_allclose(mean, patterns.mean(0), rtol=1e-6)  # q's own patterns, not p's rows 8 and 9
    rows = np.arange(3 * 192)
    at.session_state["last_clusters"] = {"rows": rows, "labels": rows % 7 % 2,  # a clustering of the study's rows
                                         "latents": at.session_state["latents"]}
    at.run()
    of = at.selectbox(key="umap_mean_of")  # the mean of q's own rows of each cluster, as a file's clusters
    assert of.options[1:] == [f"cluster {c} ({n} rows)" for c, n in enumerate(np.bincount(rows[192:384] % 7 % 2))]


def test_a_source_without_coordinates_has_no_map_and_the_page_says_so():
    from latentcore.latents import LatentsWriter, read_latents
    from study_scans import MODEL

    at, folder, paths = workspace_with_scans(("p", "q"))
    rows = read_latents(paths["q"]).partitions["all"][:50]  # cutouts of the same model: rows, no x, y
    writer = LatentsWriter(folder / "latents" / "scans" / "c__pca_latents.h5", {"all": rows.shape}, {})
    writer.write_rows("all", 0, np.asarray(rows))
    writer.finish({**MODEL, "source": "c.h5"})
    run(at, "data")
    make_study(at, [o for o in at.multiselect(key="data_study_members").options if "pca" in o], "mixed")
    run(at.button(key="data_study_explore").click())
    go(at, "umap")
    panels = point_panels(at)
    assert len(panels["umap_scatter"][1]["qx"]) == 434 and "umap_map_c" not in panels and "umap_map_q" in panels
    assert "1 of 3 sources have no coordinates (c): their maps are absent" in texts(at.caption)


@pytest.mark.parametrize("change", ["deleted", "overwritten", "model record edited"])
def test_a_study_whose_member_changed_is_named_in_one_line_on_every_page_and_made_again_on_the_data_page(change):
    """Issue 53: a member gone or rewritten after the study was made, or the study's record edited, is one line on
    every page, naming the member and the page's way out, with no traceback and no server path; making the study
    again under its name on the Data page is that way out."""
    import json
    import shutil

    from ui.session.settings import PAGES  # not app.py's: importing it runs the app outside a session

    at, folder, paths = study_session(("p", "q"))
    study_file = folder / "study.study.json"
    if change == "deleted":
        paths["q"].unlink()
        line = "q__pca_latents.h5: member q is missing: restore the file, or make the study again on the Data page " \
               "without it"
    elif change == "overwritten":  # another scan's latents under q's name: same model, same dimension
        shutil.copy(scan_latents(folder / "elsewhere", ("q",), shape=(10, 16))["q"], paths["q"])
        line = "q__pca_latents.h5: member q changed since the study was made (its SHA-256 is "
    else:
        document = json.loads(study_file.read_text())
        document["model"]["sha256"] = "0" * 64
        study_file.write_text(json.dumps(document))
        line = f"p__pca_latents.h5: member p was made by model pca (SHA-256 {'e' * 12}), the study records model " \
               f"pca (SHA-256 {'0' * 12}): make the study again on the Data page"
    for page in PAGES:
        at.switch_page(f"pages/{page}.py")
        at.run()
        shown = [e.value for e in at.error]
        if page == "train":  # it trains on data files and never opens the latents
            assert not at.exception and not shown
            continue
        assert not at.exception and len(shown) == 1 and shown[0].startswith(line), (page, at.exception, shown)
        assert shown[0].endswith("make the study again on the Data page" + " without it" * (change == "deleted"))
        assert str(folder.parent) not in texts(at.markdown) + texts(at.caption) + shown[0], page

    run(at, "data", errors_ok=True)
    q_rows = {"deleted": 0, "overwritten": 160, "model record edited": 192}[change]
    make_study(at, ["p · pca · 192 rows"] + [f"q · pca · {q_rows} rows"] * bool(q_rows), "study")  # its old name
    assert "Study study.study.json saved" in texts(at.success)
    run(at.button(key="data_study_explore").click())
    go(at, "umap")
    assert len(point_panels(at)["umap_scatter"][1]["qx"]) == 192 + q_rows
