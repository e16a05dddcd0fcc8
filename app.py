"""Latent Explorer: `streamlit run app.py` opens on the built-in demo scan.

One file per step in pages/; this entry point sets the page up, lets in only who may use the app (with
sign-in configured, a signed-in user; without, a visitor on this computer: ui.widgets.access), opens
the session's workspace (named in the URL, restored on reload, if this user may open it), shows the
shared sidebar with the pages' links, saves the workspace after the page, and starts numba's compilation in a
worker once per server and, after its first page, the other pages' imports (ui.widgets.starting).
Every page begins with `access.require_app()`: whatever URL a visitor opens first, this runs before it.
Heavy work runs in the worker pool (ui.compute.jobs), reached through its door (ui.compute.dispatch),
whose waits ui.widgets.waiting draws; the layout of `ui` is in ui/__init__.py.
"""
import sys
from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Latent Explorer", page_icon=":material/scatter_plot:", layout="wide")
first_run = "ui.widgets.starting" not in sys.modules
from ui.widgets import starting  # noqa: E402  first: a server's first run says it is starting while the rest loads

from ui.compute import dispatch  # noqa: E402
from ui.session import lifecycle, settings  # noqa: E402
from ui.widgets import access, common, waiting  # noqa: E402

if first_run:
    starting.loaded()

PAGES = [(f"pages/{key}.py", page.title, page.icon) for key, page in settings.PAGES.items()]  # one record each


def only(page):
    """Show this page and nothing else of the app, at every page's URL (a bookmark to /train shows it,
    not "page not found"): no page of the app can be reached."""
    st.navigation([st.Page(page, title="Latent Explorer", default=True),
                   *[st.Page(page, title="Latent Explorer", url_path=Path(path).stem) for path, _, _ in PAGES]],
                  position="hidden").run()
    st.stop()


if (gate := access.gate()) is not None:  # the sign-in page, or the refusal to serve another computer
    only(gate)
lifecycle.init_session()
if lifecycle.blocked():  # the URL names a workspace that does not exist, or is not shared with this user
    only(access.blocked_page)
if __name__ == "__main__":  # not when a spawned process re-runs this script as its main module (__mp_main__)
    dispatch.start_warm_up()  # numba's compilation, in a worker
dispatch.show_waits_with(waiting)  # the pool's waits, drawn by a widget

here = Path(__file__).parent
pages = [st.Page(path, title=title, icon=icon) for path, title, icon in PAGES if (here / path).exists()]
navigation = st.navigation(pages, position="hidden")  # drawn here, first: Streamlit's own list is off (config.toml)
for page in pages:
    st.sidebar.page_link(page)
summary = common.SidebarSummary()
summary.draw(buttons=False)  # drawn now, so a page that stops early (st.stop, an error) keeps it
common.png_dpi_setting()
with common.user_errors():  # a deployment's Dask scheduler that cannot be reached: every page says so
    st.sidebar.caption(f"Heavy work runs on {dispatch.where_work_runs()}.")
access.account_sidebar()
try:
    starting.preloaded()  # the other pages' libraries, loading after the server's first page
    with access.through_app():
        navigation.run()
finally:
    lifecycle.save_session()
    # redrawn after the page, to show what it just did (skipped by Streamlit after st.stop)
    summary.draw()
    if __name__ == "__main__":
        starting.preload(here / path for path, _, _ in PAGES)
