"""The Data page's studies: several latents files of the workspace made into one study (`NAME.study.json` in the
workspace's top folder, `latentcore.study.write_study`; a member of another model or dimension, or a source twice, is
refused in one line), and a saved study picked as the session's latents (restored on reload as a latents file is;
the pages read it through `ui.compute.sources.latents`)."""
from __future__ import annotations

import streamlit as st

from latentcore.errors import LatentError
from latentcore.study import STUDY_SUFFIX

from ..compute import sources
from ..session import files, lifecycle, state
from . import common


def panel():
    """Make a study, and pick a saved one as the session's latents."""
    with st.expander("Studies: several latents files as one latent space", icon=":material/stacks:",
                     expanded=bool(files.workspace_studies())):
        st.caption("A study explores the latents of several scans or files of one model together: one embedding, "
                   "one clustering, each row named by its source and its row in it.")
        make_study()
        if saved := files.workspace_studies():
            pick_study(saved)


def make_study():
    found = files.workspace_latents()
    if not found:
        st.caption("No latents files in this workspace yet: extract some (one model, several data files) first.")
        return
    offered = {}
    for path in found:  # "source · model · rows", the file's name when two read alike
        label = sources.latents_label(path)
        offered[label if label not in offered else f"{label} ({path.name}, {path.parent.name})"] = path
    cols = st.columns([3, 1])
    chosen = cols[0].multiselect("Latents files of the study", sorted(offered), key="data_study_members")
    name = cols[1].text_input("Study name", key="data_study_name", placeholder="letters, digits, ._+-")
    if st.button("Make the study", key="data_study_make", icon=":material/add:"):
        if not chosen or not name.strip():
            st.error("Choose the study's latents files and give it a name, then make it.", icon=":material/block:")
            return
        try:
            path = sources.write_study(name.strip(), [offered[c] for c in chosen], lifecycle.workdir())
        except LatentError as exc:
            st.error(common.error_line(exc), icon=":material/block:")
            return
        st.success(f"Study {path.name} saved: {len(chosen)} sources. Pick it below to explore it.")


def pick_study(saved):
    names = {path.name.removesuffix(STUDY_SUFFIX): path for path in saved}
    current = state.latents()
    index = next((i for i, path in enumerate(names.values()) if path == current), 0)
    cols = st.columns([3, 1])
    name = cols[0].selectbox("Saved study", list(names), index=index, key="data_study_pick")
    try:  # a member changed or missing since the study was made: one line naming it
        study = sources.study(sources.stamp(names[name]))
        summary = sources.latents_summary(sources.stamp(names[name]))
    except LatentError as exc:
        cols[0].error(common.error_line(exc), icon=":material/block:")
        return
    cols[0].caption(f"{summary['source']} · {summary['model'] or 'model not recorded'} · {summary['rows']:,} rows")
    for note in study.notes:  # sources without coordinates; sources the model was not trained on
        cols[0].caption(note)
    if cols[1].button("Explore this study", key="data_study_explore", icon=":material/arrow_forward:"):
        state.set_latents(names[name])
        st.switch_page("pages/umap.py")
