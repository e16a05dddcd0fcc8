"""Every page computes from exactly the settings its widgets show (issue 38), through the real app with AppTest.

AppTest reads the server's values; `driving.Browser` follows what Streamlit's frontend shows of each widget: the
value a run sends, else the one it already shows (a new default leaves a shown widget as it is), else the run's
default. After every run the two agree, and what each page says it computed (the UMAP's and Compare's fit, the
latent maps' ROI and smoothing, the clustering's fit, rows and files, the ranking's files) was computed from what the
browser shows: rerun in one session, in a new tab (a new session on the workspace), in a new context (a first run
on the page's URL), and after another tab changed or cleared the settings."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from latentcore.analysis.artifacts.cluster import cluster_tag
from latentcore.analysis.cluster import METHODS
from latentcore.analysis.maps import Roi
from latentcore.analysis.rank import ranking_names, ranking_tag
from latentcore.latents import read_latents
from driving import Browser, extracted, fresh_context, new_app, run, texts, url_workspace

pytestmark = pytest.mark.timeout(600)
SET = {"umap": ("umap_neighbors", 10), "maps": ("roi_x", (15.0, 39.0)), "clusters": ("clusters_k", 4),
       "compare": ("compare_neighbors", 12), "rank": ("rank_top", 2)}  # one of the settings `set_everything` sets
PAGES = list(SET)  # the pages that compute from the latents
SCAN = (0.0, 88.5, 0.0, 58.5)  # the demo scan's extent (um)


class Tab:
    """One browser tab: an AppTest session and what its browser shows; every run is checked to show what the
    server holds."""

    def __init__(self, at):
        self.at, self.browser = at, Browser()
        self.check()

    def check(self):
        differ = self.browser.saw(self.at)
        assert not differ, f"the browser shows other values than the page computed with: {differ}"

    def run(self, page=None, widget=None):
        if widget is not None:
            self.browser.sets(widget)
        run(widget or self.at, page)
        self.check()
        return self

    def shown(self, key):
        return self.browser.shown[key]


def shown_roi(tab: Tab) -> Roi | None:
    roi = (*tab.shown("roi_x"), *tab.shown("roi_y"))
    return None if roi == SCAN else Roi(*roi)


def rows_in(lat, roi) -> int:
    return len(lat.x) if roi is None else int(roi.mask(lat.x, lat.y).sum())


def said(tab: Tab, pattern: str) -> re.Match:
    found = re.search(pattern, texts(tab.at.caption))
    assert found, (pattern, texts(tab.at.caption))
    return found


def downloads(at) -> list[str]:
    return [button.proto.label for button in at.get("download_button")]


def computed_as_shown(page: str, tab: Tab, lat):
    """What the page says it computed matches what the browser shows of its widgets."""
    at, roi = tab.at, None
    if page in ("maps", "clusters", "rank"):
        roi = shown_roi(tab)
        banner = texts(at.info)
        assert ("ROI:" in banner) == (roi is not None), banner
        if roi is not None:
            assert f"({rows_in(lat, roi):,} of 2,400 pixels) — set on Latent maps" in banner, banner
    if page in ("umap", "compare"):
        method = ["umap", "pca"][tab.shown(f"{page}_method")]
        if method == "umap":
            said(tab, rf"UMAP of 2,400 latents: {tab.shown(f'{page}_neighbors')} neighbours, min distance "
                      rf"{tab.shown(f'{page}_min_dist'):g}, seed {tab.shown(f'{page}_seed')}\.")
    elif page == "maps":
        x0, x1, y0, y1 = roi.to_json() if roi else SCAN
        said(tab, rf"ROI x {x0:g} to {x1:g} µm, y {y0:g} to {y1:g} µm: {rows_in(lat, roi):,} pixels")
        assert ("Smoothed: Gaussian of sigma" in texts(at.caption)) == bool(tab.shown("maps_smooth"))
    elif page == "clusters":
        method = METHODS[tab.shown("clusters_method")]
        fit = said(tab, rf"Fit: {method} fitted on all ([\d,]+) rows with (.*?)\.")
        assert int(fit.group(1).replace(",", "")) == rows_in(lat, roi)
        if method == "kmeans":
            assert f"n_clusters {tab.shown('clusters_k')}," in fit.group(2)
        assert [m.value for m in at.metric][2] == f"{rows_in(lat, roi):,}"
        tag = cluster_tag(method, tab.shown("clusters_dim"), roi, "pair",
                          tab.shown("clusters_smooth"))
        assert any(label.startswith(f"cluster_assignments__{tag}.csv") for label in downloads(at)), downloads(at)
    elif page == "rank":
        metric = at.multiselect(key="rank_metrics").options[tab.shown("rank_metrics")[0]]
        names = ranking_names(ranking_tag(metric, tab.shown("rank_top"), roi))
        assert names["scores"] in downloads(at), downloads(at)


def set_everything(tab: Tab):
    """Settings other than the defaults on every page."""
    tab.run("maps")
    tab.run(widget=tab.at.slider(key="roi_x").set_value((15.0, 39.0)))
    tab.run(widget=tab.at.slider(key="roi_y").set_value((0.0, 21.0)))
    tab.run(widget=tab.at.number_input(key="maps_smooth").set_value(1.0))
    tab.run("clusters")
    tab.run(widget=tab.at.selectbox(key="clusters_method").select("kmeans"))
    tab.run(widget=tab.at.number_input(key="clusters_k").set_value(4))
    tab.run("umap")
    tab.run(widget=tab.at.number_input(key="umap_neighbors").set_value(10))
    tab.run(widget=tab.at.number_input(key="umap_min_dist").set_value(0.25))
    tab.run("compare")
    tab.run(widget=tab.at.number_input(key="compare_neighbors").set_value(12))
    tab.run("rank")
    tab.run(widget=tab.at.slider(key="rank_top").set_value(2))


def workspace_with_everything_set():
    """A tab whose workspace has the demo latents, a second latents file of them (the Compare page's) and
    settings other than the defaults on every page."""
    first = Tab(extracted(new_app()))
    latents = Path(first.at.session_state["latents"])
    (latents.parent / "copy").mkdir()
    shutil.copy(latents, latents.parent / "copy" / latents.name)
    set_everything(first)
    return first, read_latents(latents)


@pytest.fixture
def workspace(private_folders):
    return workspace_with_everything_set()


@pytest.fixture(scope="module")
def set_once(tmp_path_factory):
    """One such workspace (about 20 s to make) for the pages' reruns, which read it and change nothing: in folders
    of the module's own (as `private_folders`)."""
    import ui.session.workspace

    folder = tmp_path_factory.mktemp("pages_shown")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(ui.session.workspace, "WORKDIR_ROOT", folder / "sessions")
        monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(folder / "embedding-cache"))
        yield workspace_with_everything_set()


@pytest.mark.parametrize("page", PAGES)
def test_a_page_computes_what_it_shows_rerun_in_a_new_tab_and_in_a_new_context(set_once, page):
    first, lat = set_once
    new_tab = Tab(new_app(workspace_id=url_workspace(first.at)))
    new_context = Tab(fresh_context(url_workspace(first.at), page))
    for tab in (first.run(page).run(), new_tab.run(page), new_context):  # rerun; a new tab; a new context
        computed_as_shown(page, tab, lat)
        key, value = SET[page]
        assert tab.shown(key) == value


def test_a_page_shows_and_computes_what_another_tab_set_or_cleared(workspace):
    """Issue 38: another tab's ROI reached the page's computation but not its sliders, whose old value the browser
    then sent back as a change made on that page."""
    first, lat = workspace
    other = Tab(new_app(workspace_id=url_workspace(first.at)))
    other.run("clusters")
    first.run("maps")
    first.run(widget=first.at.slider(key="roi_x").set_value((30.0, 60.0)))
    first.run(widget=first.at.number_input(key="maps_smooth").set_value(0.0))
    for _ in range(2):  # taken in, then sent back by the browser as it shows it
        other.run()
        assert shown_roi(other) == Roi(30.0, 60.0, 0.0, 21.0)
        computed_as_shown("clusters", other, lat)
    first.run("clusters")
    first.run(widget=first.at.selectbox(key="clusters_method").select("gmm"))
    other.run()
    assert METHODS[other.shown("clusters_method")] == "gmm"
    computed_as_shown("clusters", other, lat)

    first.run("rank")
    first.run(widget=first.at.button(key="rank_roi_clear").click())  # cleared in another tab...
    assert shown_roi(first) is None
    other.run()
    assert shown_roi(other) is None
    computed_as_shown("clusters", other, lat)
    other.run(widget=other.at.slider(key="roi_y").set_value((0.0, 29.0)))  # ...and in this one, on its own page
    other.run(widget=other.at.button(key="clusters_roi_clear").click())
    assert shown_roi(other) is None
    computed_as_shown("clusters", other, lat)


def test_the_browser_model_sees_a_value_that_never_reached_the_browser():
    """The checks above can fail: a widget the browser shows keeps its value when the server drops it and a later
    run draws it with another default, and `Browser` says so."""
    from streamlit.testing.v1 import AppTest

    script = ("import streamlit as st\n"
              "runs = st.session_state['runs'] = st.session_state.get('runs', 0) + 1\n"
              "if runs > 1:\n"
              "    del st.session_state['k']  # the server drops the widget's value...\n"
              "st.number_input('k', 1, 30, runs, key='k')  # ...and draws it with a new default\n")
    at = AppTest.from_string(script).run()
    browser = Browser()
    assert browser.saw(at) == {}
    assert browser.saw(at.run()) == {"k": (1, 2)}  # the browser shows 1, the server holds 2
