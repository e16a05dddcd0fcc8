"""Compare: two latents files of one source (two models, or one model before and after training) side by side:
their embeddings linked row by row (in the browser), the agreement of their clusterings and each one's probe
accuracy on the labels."""
import streamlit as st

import ui.widgets.starting  # noqa: F401  first: a server's first run says it is starting while the rest loads
from ui.compute import latent_space, sources
from ui.widgets import access, common, compare, compare_sources, extraction, study

access.require_app()

title = st.empty()  # drawn first, as every page's: said more precisely once the latents are known
title.title("Compare")
lat_stamp = extraction.require_latents()
lat = sources.latents(lat_stamp)
if study.many(lat):  # two sources of the study side by side
    compare_sources.page(lat_stamp, lat, title)
    st.stop()
first = sources.latents_summary(lat_stamp)
title.title(f"Compare two latents files of {first['source']}")
st.caption("The session's latents (the first file) beside another latents file of the same data in this workspace. "
           "Each row is the same source row in both: a selection in one embedding is highlighted in the other.")
other_stamp, other_name = compare.pick_other(lat)
second = sources.latents_summary(other_stamp)
st.subheader(f"{first['model'] or 'model not recorded'} vs {second['model'] or 'model not recorded'}")
compare.files_table(lat.path, other_stamp[0])
method, neighbours, min_dist, seed = compare.embedding_params()
with common.user_errors():
    fitted = [latent_space.fitted_embedding(stamp, method, neighbours, min_dist, seed)
              for stamp in (lat_stamp, other_stamp)]
st.caption(f"Each file: {common.embedding_note(fitted[0])}")
colour = compare.colour_choice(lat_stamp, other_stamp, len(fitted[0].coords))
compare.linked_embeddings(fitted[0].coords, fitted[1].coords, colour,
                          (f"{sources.latents_label(lat.path)} (first)", f"{other_name} (second)"), method)

st.subheader("Agreement")
compare.agreement(lat_stamp, other_stamp, lat, other_name)
