"""Extract: run an encoder over the selected data and write its latents file."""
import streamlit as st

import ui.widgets.starting  # noqa: F401  first: a server's first run says it is starting while the rest loads
from latentcore.domain import describe_preprocessing, domain_warnings, preprocessing
from latentcore.extract import POOLING
from latentcore.models import ARCHS
from latentcore.outputs import latents_path_for, model_tag
from ui.compute import sources
from ui.session import defaults, files, state
from ui.widgets import access, common, extraction

access.require_app()

st.title("Extract latents")
source, from_s3 = state.source(), bool(files.s3_sources())  # S3 objects: extracted by the study form below
if source is None and not from_s3:
    st.info("Choose data on the Data page first.")
    st.stop()
info = None
if source is not None:
    with common.user_errors():
        info = sources.source_info(sources.stamp(source))
    st.write(f"Data: **{source.name}** ({info['format']}, "
             + ", ".join(f"{name}: {n:,} items" for name, n in info["partitions"].items()) + ")")
    if info.get("is_features"):
        st.info("This file already holds latents or features: explore it from the Data page.")
        if not from_s3:
            st.stop()
        info = None

st.subheader("Model")
choices = extraction.model_choices()
if not choices:
    st.warning("No model yet: upload a checkpoint (.pth/.pt, or a TorchScript file) on the Data page, "
               "or train a VAE on the Train page.")
    st.stop()
label = st.selectbox("Model", list(choices), key="extract_model")
spec = dict(choices[label])
if label != extraction.DEMO_MODEL_LABEL:
    arch = st.selectbox("Architecture", ["detect from the file", *ARCHS], key="extract_arch")
    spec["arch"] = None if arch.startswith("detect") else arch
    options = files.options_files()
    chosen = st.selectbox("Options JSON (Nenya's opts.json; TorchScript input_channels/input_size/normalize)",
                          list(options), key="extract_options")
    spec["options"] = files.read_options(options[chosen])
with common.user_errors():
    model, _ = sources.get_model(spec)
tag = model_tag(model.recorded_name, model.sha256)  # names its latents file: `<stem>__<tag>_latents.h5`
st.caption(f"{tag}: {model.name} ({model.arch}); input: {model.input_spec.channels} channel(s), "
           f"size {model.input_spec.size or 'any'}, normalisation {model.input_spec.normalize}; "
           f"SHA-256 {model.sha256[:12]}...")
if info is not None:
    st.caption("Preprocessing: " + describe_preprocessing(preprocessing(info["item_shape"], model.input_spec)))
    for warning in domain_warnings(info, model):  # another data kind or pattern size than the model's
        st.warning(warning, icon=":material/warning:")

st.subheader("Settings")
devices = sources.devices()
cols = st.columns(3)
device = cols[0].radio("Device", list(devices), format_func=devices.get, key="extract_device")
batch_size = cols[1].number_input("Batch size", min_value=1, max_value=4096, step=16,
                                  value=defaults.setting("extract_batch", 64, bounds=(1, 4096)),
                                  key="extract_batch")
pool = cols[2].selectbox("Pooling of spatial outputs", POOLING, key="extract_pool")
overwrite = st.checkbox("Overwrite an existing latents file", key="extract_overwrite")
if info is not None:
    offered = list(info["partitions"])
    partitions = st.multiselect("Partitions", offered,
                                default=defaults.setting("extract_partitions", offered, offered),
                                key="extract_partitions")
    target = latents_path_for(source, extraction.latents_folder(source, model, pool, partitions), model=tag)
    if target.exists() and not overwrite:
        st.caption(f"`{target.name}` exists in this session: it will be reused (tick overwrite to redo it).")
    else:
        st.caption(f"Writes `{target.name}`.")
    if st.button("Extract", type="primary", icon=":material/play_arrow:",
                 disabled=not partitions or extraction.running(), key="extract_run"):
        extraction.run_extraction(source, spec, device=device, batch_size=batch_size, pool=pool,
                                  partitions=partitions, clobber=overwrite)
extraction.study_form(spec, device=device, batch_size=batch_size, pool=pool, clobber=overwrite)
result = extraction.extraction_outcome()  # the latest: its progress while it runs in a worker, or its end
if result is not None:
    verb = "Reused" if result.skipped else "Wrote"
    st.success(f"{verb} {result.path.name}: " + ", ".join(f"{p} {n:,} rows" for p, n in result.rows.items()))

latents_path = state.latents()
latents_stamp = common.latents_stamp(latents_path) if latents_path is not None else None
try:  # for data that came from S3: which files have latents there, and an upload (the storage work's panel)
    from ui.widgets import s3_panel
except ImportError:
    s3_panel = None
if s3_panel is not None:
    made_by = sources.latents_summary(latents_stamp)["model"] if latents_path is not None else tag
    s3_panel.render_latents_upload(source, latents_path, overwrite, model=made_by)
if latents_path is not None:
    lat = sources.latents(latents_stamp)
    st.subheader("Latents")
    shapes = ", ".join(f"{name} {rows.shape[0]:,} x {rows.shape[1]}" for name, rows in lat.partitions.items())
    st.write(f"**{sources.latents_label(latents_path)}** (`{latents_path.name}`): {shapes}"
             + (" with x, y" if lat.x is not None else ""))
    common.download_file("Download the latents file", latents_path, key="download_latents",
                          mime="application/x-hdf5")
    with st.expander("File attributes"):
        st.json({k: v for k, v in lat.attrs.items()})
    st.page_link("pages/umap.py", label="Next: explore the UMAP", icon=":material/arrow_forward:")
