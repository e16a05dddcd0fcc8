"""Latent Explorer: `streamlit run app.py` opens on the built-in demo scan.

One file per step in pages/; this entry point sets the page up, opens the session's workspace (named
in the URL, restored on reload), shows the shared sidebar, saves the workspace after the page, and
starts numba's warm-up in the background. Heavy work runs in the worker pool (ui.compute.jobs),
reached through the front door (ui.compute.front); the layout of `ui` is in ui/__init__.py.
"""
from pathlib import Path

import streamlit as st

from ui.compute import front
from ui.session import state
from ui.widgets import common

st.set_page_config(page_title="Latent Explorer", page_icon=":material/scatter_plot:", layout="wide")
state.init_session()
front.start_warm_up()

PAGES = [
    ("pages/data.py", "Data", ":material/folder_open:"),
    ("pages/extract.py", "Extract", ":material/memory:"),
    ("pages/umap.py", "UMAP", ":material/scatter_plot:"),
    ("pages/maps.py", "Latent maps", ":material/grid_on:"),
    ("pages/clusters.py", "Clusters", ":material/bubble_chart:"),
    ("pages/rank.py", "Rank", ":material/leaderboard:"),
    ("pages/train.py", "Train", ":material/model_training:"),
]
here = Path(__file__).parent
navigation = st.navigation([st.Page(path, title=title, icon=icon)
                            for path, title, icon in PAGES if (here / path).exists()])
summary = st.sidebar.empty()  # drawn now, so a page that stops early (st.stop, an error) keeps it
common.sidebar_summary(summary.container(), buttons=False)
common.png_dpi_setting()
try:
    navigation.run()
finally:
    state.save_session()
    # redrawn after the page, to show what it just did (skipped by Streamlit after st.stop)
    common.sidebar_summary(summary.container())
