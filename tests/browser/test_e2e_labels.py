"""Labels in a real headless Chromium against `streamlit run app.py` (issue 23): two box selections on the UMAP
page are labelled, a reload finds them, the probe predicts them over the scan, the labels table and the training
set (NPZ) download, the Clusters page colours its panels by them, and the table uploads into a fresh workspace. Two
browser contexts on one workspace label in turn, and neither undoes the other."""
from __future__ import annotations

import numpy as np
import pandas as pd

from steps import ARTIFACTS, label_selection, new_tab, open_page, panel, shoot, umap_box, workspace_of
from streamlit_server import settle


def extract_on_umap(tab):
    open_page(tab, "UMAP", "UMAP")
    tab.get_by_role("button", name="Extract the demo latents now").click()
    panel(tab, "umap_scatter")
    settle(tab)


def selected_count(tab) -> int:
    heading = tab.locator("h3", has_text="Selected:").first.inner_text()
    return int(heading.split()[1].replace(",", ""))


def labelled_caption(tab, labels: int) -> str:
    """The labels panel's caption once it counts `labels` labels (a page still running shows the last)."""
    caption = tab.get_by_text(f"in {labels} label").first
    caption.wait_for()
    return caption.inner_text()


def download(tab, button: str, name: str):
    target = tab.get_by_role("button", name=button).first
    target.scroll_into_view_if_needed()
    with tab.expect_download(timeout=120_000) as event:
        target.click()
    path = ARTIFACTS / name
    event.value.save_as(path)
    settle(tab)
    return path


def test_label_two_selections_reload_predict_download_and_upload(app_url, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab = new_tab(browser, app_url)
    first_id = workspace_of(tab)
    extract_on_umap(tab)
    umap_box(tab, 0.02, 0.02, 0.4, 0.98)
    left = selected_count(tab)
    label_selection(tab, "left island")
    umap_box(tab, 0.6, 0.02, 0.98, 0.98)
    right = selected_count(tab)
    label_selection(tab, "right island")
    assert 1 < left < 2400 and 1 < right < 2400
    assert labelled_caption(tab, 2) == f"{left + right:,} labelled rows in 2 labels."

    tab.reload()  # the workspace brings them back
    tab.get_by_text("labelled rows in").first.wait_for(timeout=60_000)
    settle(tab)
    assert workspace_of(tab) == first_id
    assert labelled_caption(tab, 2) == f"{left + right:,} labelled rows in 2 labels."

    tab.get_by_text("Predict", exact=True).click()  # the toggle
    tab.locator("[data-testid=stMetric]", has_text="Cross-validated accuracy").wait_for(timeout=120_000)
    settle(tab)
    accuracy = tab.locator("[data-testid=stMetric]", has_text="Cross-validated accuracy")
    assert float(accuracy.locator("[data-testid=stMetricValue]").inner_text()) > 0.8
    assert tab.locator("[data-testid=stException]").count() == 0
    shoot(tab, "labels_predicted")

    table = pd.read_csv(download(tab, "Labels (CSV)", "labels.csv"))
    assert list(table.columns) == ["row", "x_um", "y_um", "label"]
    assert table["label"].value_counts().to_dict() == {"left island": left, "right island": right}
    with np.load(download(tab, "Training set (NPZ)", "labels_training_set.npz"), allow_pickle=False) as npz:
        assert npz["X"].shape == (left + right, 3600) and list(npz["labels"]) == ["left island", "right island"]
        assert len(npz["idx_train"]) + len(npz["idx_test"]) == left + right

    open_page(tab, "Clusters", "Clusters")  # the same labels colour the Clusters page's map and scatter
    tab.get_by_text("Colour by label", exact=True).click()
    tab.get_by_text("Labels on the scan").first.wait_for(timeout=60_000)
    settle(tab)
    for key in ("clusters_map", "clusters_scatter"):
        names = tab.locator(f".lp-root[data-key={key}] .lp-item").all_inner_texts()
        assert f"left island ({left:,})" in names and f"right island ({right:,})" in names, names

    fresh = new_tab(browser, app_url)
    assert workspace_of(fresh) != first_id
    extract_on_umap(fresh)
    fresh.get_by_text("No labels yet").first.wait_for()
    fresh.get_by_text("Upload a labels table", exact=True).click()
    fresh.locator("[data-testid=stFileUploaderDropzoneInput]").last.set_input_files(str(ARTIFACTS / "labels.csv"))
    settle(fresh)
    fresh.get_by_role("button", name="Use the uploaded labels").click()
    fresh.get_by_text("labelled rows in").first.wait_for(timeout=60_000)
    settle(fresh)
    assert labelled_caption(fresh, 2) == f"{left + right:,} labelled rows in 2 labels."
    shoot(fresh, "labels_uploaded")


def test_two_contexts_on_one_workspace_label_in_turn_and_keep_both(app_url, browser):
    """The reported bug: tab B, open on the workspace, wrote its older copy back over tab A's labels."""
    tab_a = new_tab(browser, app_url)
    workspace_id = workspace_of(tab_a)
    extract_on_umap(tab_a)
    tab_b = new_tab(browser, f"{app_url}/?workspace={workspace_id}")  # its own context: another browser's tab
    open_page(tab_b, "UMAP", "UMAP")
    panel(tab_b, "umap_scatter")

    umap_box(tab_a, 0.02, 0.02, 0.4, 0.98)
    left = selected_count(tab_a)
    label_selection(tab_a, "left island")
    umap_box(tab_b, 0.6, 0.02, 0.98, 0.98)
    right = selected_count(tab_b)
    label_selection(tab_b, "right island")
    assert 1 < left < 2400 and 1 < right < 2400
    assert labelled_caption(tab_b, 2) == f"{left + right:,} labelled rows in 2 labels."

    for tab in (tab_a, tab_b):
        tab.reload()
        tab.get_by_text("labelled rows in").first.wait_for(timeout=60_000)
        settle(tab)
        assert workspace_of(tab) == workspace_id
        assert labelled_caption(tab, 2) == f"{left + right:,} labelled rows in 2 labels."
    shoot(tab_a, "labels_two_contexts")
