"""Data: upload files or take the built-in demo, and see what each file holds."""
import streamlit as st

import ui.widgets.starting  # noqa: F401  first: a server's first run says it is starting while the rest loads
from latentcore.data import scan_formats
from ui.compute import sources
from ui.session import defaults, files, state
from ui.widgets import access, bandcontrast, common, extraction, studies

access.require_app()

st.title("Data")
st.write("Pick the data to explore: the built-in demo (a simulated EBSD scan of nickel with its band "
         "contrast and orientations), or your own files. Uploads stay in this session's private working folder.")


def use_demo():
    """Before the widgets are drawn: the demo in the session, and the pickers re-read from it."""
    state.use_demo()
    for key in ("data_source", "data_bc"):
        defaults.forget_widget(key)


if st.button("Use the built-in demo", type="primary", icon=":material/science:", key="use_demo", on_click=use_demo):
    st.success("The built-in demo scan and its band contrast are selected.")

uploads = st.file_uploader(
    f"Upload files: EBSD scans ({', '.join(scan_formats())}), cutouts, images, videos, features or latents; "
    "band-contrast CSV; model checkpoints and their options",
    accept_multiple_files=True, type=files.UPLOAD_TYPES, key="uploads", help=files.upload_help())
added, refused = files.ingest(uploads)
if room := files.room_line():
    st.caption(room)
for message in added:
    st.toast(message)
for line in refused:
    st.error(line, icon=":material/block:")

try:  # the S3 panel comes from the storage work; the page works without it
    from ui.widgets import s3_panel
except ImportError:
    s3_panel = None
if s3_panel is not None:
    with st.expander("Files in S3", icon=":material/cloud:"):
        s3_panel.render()

st.subheader("Selected data")
offered = files.data_sources()
labels = list(offered)
current = state.source()
index = next((i for i, label in enumerate(labels) if offered[label] == current), 0)
label = st.selectbox("Data file", labels, index=index, key="data_source")
if offered[label] != current:  # the band contrast follows the scan: its own map, never the last scan's table
    state.set_source(offered[label], bandcontrast.default_for(offered[label]))
    defaults.forget_widget("data_bc")
    st.rerun()
bandcontrast.picker("data_bc", offered[label])
if problem := bandcontrast.coverage_problem(state.bandcontrast(), offered[label]):
    st.warning(problem, icon=":material/warning:")

with common.user_errors():
    info = sources.source_info(sources.stamp(offered[label]))
cols = st.columns(4)
cols[0].metric("Format", info["format"])
cols[1].metric("Items", f"{sum(info['partitions'].values()):,}")
cols[2].metric("Item shape", " x ".join(str(s) for s in info["item_shape"]))
cols[3].metric("Grid (rows x columns)", " x ".join(str(s) for s in info["grid_shape"]) if info.get("grid_shape") else "none")
with st.expander("Everything the file holds (info)", expanded=False):
    st.json(info)

if files.is_latents_file(offered[label], info):
    st.info("This file already holds latents or features: nothing to extract.")
    if st.button("Explore these latents", key="explore_latents"):
        state.set_latents(extraction.features_as_latents(offered[label]))
        st.switch_page("pages/umap.py")
else:
    partition = next(iter(info["partitions"]))
    with common.user_errors():
        preview = sources.source_preview(sources.stamp(offered[label]), partition)
    st.caption(f"The first items of partition `{partition}`")
    common.gallery(preview, [f"{partition} #{i}" for i in range(len(preview))])
    if st.button("Next: extract latents", icon=":material/arrow_forward:", key="to_extract"):
        st.switch_page("pages/extract.py")

studies.panel()
if state.latents() is not None:
    st.success(f"Latents ready: {state.latents().name}")
if extraction.model_choices():
    st.caption("Models available: " + ", ".join(extraction.model_choices()))
common.preload_charts()  # last: the page is drawn first
