"""Rank: which latent dimensions follow the reference maps: band contrast (first, and the default), the EBSD maps
(IPF, VBSE, IQ, ADP, ...), the labels, an uploaded NPZ of maps, the patterns' principal components, cutouts' metadata."""
import dataclasses
from pathlib import Path

import streamlit as st

import ui.widgets.starting  # noqa: F401  first: a server's first run says it is starting while the rest loads
from latentcore import figures
from latentcore.analysis.ebsd.records import PATTERN_MAPS, listed
from latentcore.analysis.maps import values_on
from latentcore.analysis.rank import METRICS, ranking_names, ranking_tag
from latentcore.errors import LatentError
from ui.compute import ranking, scan_maps, sources
from ui.figures import maps as map_figures
from ui.session import defaults, lifecycle, state
from ui.widgets import access, common, explore, extraction, labels, quality, study
from ui.widgets.references import uploaded_npz

access.require_app()


def default_references(names: list) -> list:
    """The first map (band contrast when the scan has it) with its other colour channels (an RGB map's [r], [g], [b])."""
    base = names[0].split("[")[0]
    return [n for n in names if n == names[0] or (n.startswith(base + "[") and "[" in names[0])]


st.title("Rank latent dimensions")
st.caption("Each latent dimension is scored against reference maps; correlations rank by their absolute value.")
session_stamp = extraction.require_latents()
member = study.page_source(session_stamp, "rank")  # a study: one source at a time
lat_stamp = member.stamp
lat = sources.latents(lat_stamp)
scan = lat.x is not None
source = explore.source_for(lat)
bc = study.bandcontrast(session_stamp, member, lat) if scan else None
source_stamp = sources.stamp(source) if source is not None and scan else None

cols = st.columns([1, 2], vertical_alignment="bottom")
components = cols[0].number_input("Principal components of the raw patterns", 0, 10,
                                  defaults.setting("rank_components", 3 if source_stamp else 0, bounds=(0, 10)),
                                  disabled=source_stamp is None, key="rank_components")
patterns = cols[1].checkbox(f"{listed(PATTERN_MAPS)} from the patterns", key="rank_patterns",
                            value=defaults.setting("rank_patterns", False),
                            disabled=source_stamp is None, help="Streams every pattern of the scan file once."
                            if source_stamp else "The scan file these latents came from is not loaded in this session.")
labelled, labels_folder = study.session_labels(session_stamp, member)  # a study's source: its own rows' labels
labels_stamp = (sources.stamp(labels.labels_file(lat, labelled, labels_folder))
                if len(labelled.rows) else None)
upload_stamp = uploaded_npz()
extras = ranking.Extras(bool(patterns and source_stamp), upload_stamp, labels_stamp)
try:
    available = ranking.reference_maps(lat_stamp, bc, int(components), source_stamp, extras)
except LatentError as exc:
    if upload_stamp is None:
        raise
    st.error(common.error_line(exc), icon=":material/error:")  # the upload is refused; the rest still ranks
    upload_stamp, extras = None, dataclasses.replace(extras, upload=None)
    with common.user_errors():
        available = ranking.reference_maps(lat_stamp, bc, int(components), source_stamp, extras)
if upload_stamp is not None:  # where the uploaded NPZ's maps went
    added = extras.uploaded_maps(available)
    named = ", ".join(common.plain(name) for name in added)  # the file's own names, drawn as they are
    st.success(f"{common.plain(Path(upload_stamp[0]).name)}: {len(added)} maps added to the reference maps below: "
               f"{named}")
if not available:
    st.info("No reference map: load a band-contrast table on the Data page (scans), upload an NPZ of maps above, "
            "or use cutouts with numeric metadata.")
    st.stop()
offered = list(available)
references = st.multiselect("Reference maps", offered, key="rank_references",
                            default=defaults.setting("rank_references", default_references(offered), offered),
                            help="Band contrast first; RGB maps (IPF, VBSE) as one map per channel; `labels`: the "
                                 "labels, scored by ARI and NMI; `<file>:<array>`: the uploaded NPZ's maps.")
usable = [m for m in METRICS if scan or m != "partial_pearson"]
default = [m for m in ("pearson", "spearman", "mutual_information", "partial_pearson") if m in usable]
metrics = st.multiselect("Metrics (the first one ranks)", usable,
                         default=defaults.setting("rank_metrics", default, usable), key="rank_metrics")
cols = st.columns(2)
top = cols[0].slider("Top N", 1, max(1, lat.dim), defaults.setting("rank_top", min(4, lat.dim),
                     bounds=(1, max(1, lat.dim))), key="rank_top")
roi = None
if scan:
    with cols[1].expander("Region of interest"):
        roi = common.roi_sliders(lat.x, lat.y, "rank", lat.units)
    common.roi_note(lat_stamp, lat, roi, "rank")  # the sliders may be folded away: the ROI is said here
kept = quality.shared_filter(lat_stamp, lat, "rank")  # scored over the ROI's pixels it keeps
if not references or not metrics:
    st.info("Pick at least one reference map and one metric.")
    st.stop()

with common.user_errors():
    table = ranking.ranking(lat_stamp, bc, tuple(references), tuple(metrics), int(components), roi, source_stamp,
                            extras, kept)
for note in table.attrs.get("notes", []):
    st.caption(note)
best = table.groupby("reference", sort=False).head(top)
st.dataframe(best, hide_index=True, key="rank_table")
with st.expander("Every dimension"):
    st.dataframe(table, hide_index=True)

for name in references:
    part = table[table["reference"] == name]
    cols = st.columns([1, 2])
    cols[0].plotly_chart(figures.ranking_bar(part, metrics[0], dim_column="dimension", top_n=top,
                                             title=f"{name}: top {top} by {metrics[0]}"),
                         key=f"rank_bar_{name}", config={"displaylogo": False})
    if scan:  # the reference map first, then its top dimensions
        dims = tuple(int(d) for d in part["dimension"].head(top))
        shown = scan_maps.latent_maps(lat_stamp, dims, roi)
        rows = scan_maps.roi_rows(lat_stamp, roi)
        reference = values_on(available[name][rows], shown.grid, shown.cells)  # where its maps put the rows
        fig = map_figures.reference_and_top_dimensions(name, reference, shown.maps, shown.grid, dims, lat.units)
        cols[1].plotly_chart(fig, key=f"rank_maps_{name}", config={"displaylogo": False})

st.subheader("Downloads")
tag = ranking_tag(metrics[0], top, roi)
names = ranking_names(tag)  # as `python -m latentcore rank` names them
bc_table = bc.path if bc is not None else None  # a scan map is inside the latents file
inputs = {"latents": lat_stamp[0], **({"bandcontrast": str(bc_table)} if bc_table else {}),
          **({"source": source_stamp[0]} if source_stamp else {}), **extras.files(references)}
out = str(lifecycle.results_dir("rank", lat_stamp[0]))
dpi = state.png_dpi()  # read now: a download's data is made after the run, where the session state is not at hand


def written(kind):
    def read():  # the report records the quality filter
        record = scan_maps.quality_record(lat_stamp, kept, roi)
        return Path(ranking.ranking_files(table, out, inputs, top, tag, dpi, record)[kind]).read_bytes()
    return read


cols = st.columns(3)
for col, (kind, mime) in zip(cols, [("scores", "text/csv"), ("report", "application/json"),
                                    ("figure_bars", "image/png")]):
    col.download_button(names[kind], written(kind), file_name=names[kind], mime=mime, key=f"rank_dl_{kind}",
                        on_click="ignore", icon=":material/download:")
