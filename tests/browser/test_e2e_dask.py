"""The app on a Dask cluster (LATENT_EXPLORER_SCHEDULER=local: a LocalCluster of 2 workers the server starts) in real
headless Chromium: the sidebar says where work runs; a study of three scans clustered from the Clusters page runs on
the cluster's workers and its assignments CSV is the one `latentcore cluster` writes for the same files."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from steps import choose, explore_study, open_page, shoot, tab_with_study
from streamlit_server import serve, settle, worker_cache


@pytest.fixture(scope="module")
def dask_server(tmp_path_factory):
    """A server of its own whose pool is a LocalCluster of 2 workers; every job goes to it (no inline runs)."""
    env = {"LATENT_EXPLORER_SCHEDULER": "local", "LATENT_EXPLORER_WORKERS": "2", "LATENT_EXPLORER_INLINE_ROWS": "0"}
    with serve(tmp_path_factory.mktemp("dask"), env=env, cache=worker_cache()) as (url, log):
        yield url, log
    assert "Traceback" not in log.read_text(), log.read_text()


def test_a_study_clustered_from_the_page_on_a_local_cluster_is_the_command_line_s(dask_server, browser, tmp_path):
    from latentcore.cli import main

    tab, paths = tab_with_study(browser, dask_server)
    sidebar = tab.locator("[data-testid=stSidebarUserContent]")
    said = sidebar.get_by_text("Heavy work runs on")
    said.wait_for()
    assert said.inner_text() == "Heavy work runs on a Dask LocalCluster of 2 workers started by this server.", \
        sidebar.inner_text()
    explore_study(tab)
    open_page(tab, "Clusters", "Clusters")
    choose(tab, "Method", "kmeans")
    tab.get_by_test_id("stRadioGroup").get_by_text("whole latent vectors").click()
    settle(tab)
    box = tab.locator("[data-testid=stNumberInput]", has_text="clusters (k)").first.locator("input")
    box.fill("4")
    box.press("Enter")
    settle(tab)
    button = tab.get_by_role("button", name="cluster_assignments__kmeans_latents_full.csv").first
    with tab.expect_download(timeout=120_000) as download:
        button.click()
    shown = pd.read_csv(download.value.path())
    shoot(tab, "dask_study_clusters")

    assert main(["cluster", *map(str, paths.values()), "--features", "latent", "--method", "kmeans", "--k", "4",
                 "--bandcontrast", "scan", "--no-png", "--out", str(tmp_path)]) == 0  # the page's: each scan's map
    pd.testing.assert_frame_equal(shown, pd.read_csv(tmp_path / "cluster_assignments__kmeans_latents_full.csv"))
    assert sorted(shown["cluster"].unique()) == [0, 1, 2, 3]

    jobs = dask_server[1].parent / "sessions" / "jobs"
    workers = {json.loads(report.read_text()).get("worker")
               for report in jobs.glob("*/*/progress.json")}  # each job's key, then its attempt
    assert workers - {None}, "no job reported a Dask worker"  # the UMAP fit and the clustering ran on the cluster
