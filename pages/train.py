"""Train: a VAE on the session's scan (or the built-in demo), with a live loss curve and
reconstructions. Start first times a few batches and shows the estimate (Go on, or change the settings);
the run goes on in a worker process (ui.widgets.training) when you leave the page, showing the time left;
when it ends, the model joins the Extract page's models. A stopped run resumes from its last finished batch,
in this tab or any other: the workspace's stopped runs are listed from their files, each with Resume.
Without a run in this session (a reload, a new visit), the workspace's last finished run is shown from
the files it wrote (loss curve, reconstructions, best epoch, where the model is)."""
import time

import streamlit as st

from latentcore.data.bandcontrast import BandContrast
from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN
from latentcore.train import TrainConfig
from ui.compute import sources
from ui.session import state
from ui.widgets import access, common, training
from ui.widgets import bandcontrast as bc_choice

access.require_app()

st.title("Train a VAE")
st.write("A convolutional VAE learns a few latent dimensions per pattern. Each pattern is preprocessed as "
         "chosen below and scaled to [-1, 1], as extraction does it. Training goes on if you leave this page.")

choices = {"Built-in demo scan": (DEMO_SCAN, BandContrast.table(DEMO_BANDCONTRAST))}
if state.source() is not None and not state.is_demo():
    choices = {f"Session data: {state.source().name}": (state.source(), state.bandcontrast()), **choices}
source, bandcontrast = choices[st.radio("Data", list(choices), key="train_data")]
with common.user_errors():
    info = sources.source_info(sources.stamp(source))
if info.get("is_features") or len(info["item_shape"]) != 3:
    st.warning("This file holds features or videos, not images: a VAE trains on patterns or images.")
    st.stop()
partition = next(iter(info["partitions"]))
side = int(min(info["item_shape"][-2:]))

with st.expander("Which patterns: band contrast and region", icon=":material/filter_alt:"):
    bc_min, roi = None, None
    if bandcontrast is not None and st.checkbox(f"Band contrast at least (from {bc_choice.label(bandcontrast)})",
                                                key="train_use_bc"):
        bc_min = st.number_input("Threshold", value=state.setting("train_bc_min", 150.0), key="train_bc_min")
    if info.get("has_coordinates") and st.checkbox("Only a region (ROI)", key="train_use_roi"):
        roi = common.roi_sliders(*sources.scan_coordinates(sources.stamp(source), partition), key="train")

with st.expander("Pattern preprocessing (extraction repeats it)", icon=":material/tune:"):
    static = st.checkbox("Remove the static background (the file's own, else the scan's mean pattern)",
                         value=state.setting("train_static_bg", True),  # the defaults of TrainConfig
                         key="train_static_bg")
    dynamic = st.checkbox("Remove the dynamic background (Gaussian blur, sigma = width / 8)",
                          value=state.setting("train_dynamic_bg", True),
                          key="train_dynamic_bg")
    average = st.checkbox("Average each pattern with its neighbours (3 x 3 Gaussian window, sigma 1 step)",
                          key="train_average", disabled=not info.get("grid_shape"))
    preprocessing = {"static_background": "subtract" if static else None,
                     "dynamic_background": "subtract" if dynamic else None,
                     "neighbour_window": "gaussian" if average and info.get("grid_shape") else None}

st.subheader("Hyperparameters")
cols = st.columns(4)
latent_dim = cols[0].number_input("Latent dimensions", 1, 256, state.setting("train_latent_dim", 8, bounds=(1, 256)),
                                    key="train_latent_dim")
input_size = cols[1].number_input("Input size (pixels, resized)", 8, 512, key="train_input_size",
                                    value=state.setting("train_input_size", min(side, 30), bounds=(8, 512)))
epochs = cols[2].number_input("Epochs", 1, 10_000, state.setting("train_epochs", 20, bounds=(1, 10_000)),
                               key="train_epochs")
batch_size = cols[3].number_input("Batch size", 2, 8192, state.setting("train_batch", 32, bounds=(2, 8192)),
                                   key="train_batch")
cols = st.columns(4)
beta = cols[0].number_input("beta (KL weight)", 0.0, 100.0,
                             state.setting("train_beta", TrainConfig.beta, bounds=(0, 100)),
                             format="%.3f", key="train_beta")
lr = cols[1].number_input("Learning rate", 1e-6, 1.0, state.setting("train_lr", 2e-3, bounds=(1e-6, 1)), format="%.4f",
                           key="train_lr")
channels = cols[2].text_input("Conv channels", state.setting("train_channels", "16,32,64"), key="train_channels")
devices = sources.devices()
device = cols[3].selectbox("Device", list(devices), format_func=devices.get, key="train_device")

job = training.current()
if st.button("Start training", type="primary", icon=":material/play_arrow:",
             disabled=job is not None and job.running, key="train_start",
             help="Times the first batches and shows how long the whole run would take; Go on then trains"):
    with common.user_errors():
        try:
            widths = tuple(int(c) for c in channels.split(","))
        except ValueError:
            st.error(f"Conv channels must be comma-separated integers, got {channels!r}")
            st.stop()
        config = TrainConfig(
            data=str(source), out_dir=str(state.workdir("models") / time.strftime("vae-%Y%m%d-%H%M%S")),
            bandcontrast=bandcontrast if bc_min is not None else None, bc_min=bc_min, roi=roi,
            preprocessing=preprocessing,
            latent_dim=int(latent_dim), input_size=int(input_size), epochs=int(epochs),
            batch_size=int(batch_size), beta=float(beta), lr=float(lr), channels=widths, device=device)
    job = training.start(config, estimate_only=True)


training.live_panel(int(epochs))
