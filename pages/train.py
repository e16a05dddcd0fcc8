"""Train: a VAE on the session's scan (or the built-in demo, or several of the workspace's pattern files: one model for
a study), with a live loss curve and
reconstructions. The settings' defaults are sized for this machine and data (a few minutes; the same at any
load, said with what they were sized from), and the estimate of the run's time on idle cores is shown before Start
(ui.widgets.train_settings); the run goes on
in a worker process (ui.widgets.training) when you leave the page, showing the time left; when it ends,
the model joins the Extract page's models under its name. A stopped run resumes from its last finished batch,
in this tab or any other: the workspace's stopped runs are listed from their files, each with Resume.
Without a run in this session (a reload, a new visit), the workspace's last finished run is shown from
the files it wrote (loss curve, reconstructions, best epoch, where the model is)."""
import time

import streamlit as st

import ui.widgets.starting  # noqa: F401  first: a server's first run says it is starting while the rest loads
from latentcore.data.bandcontrast import BandContrast
from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN
from latentcore.train import TrainConfig
from ui.compute import sources
from ui.session import defaults, lifecycle, state
from ui.widgets import access, common, extraction, train_settings, training
from ui.widgets import bandcontrast as bc_choice

access.require_app()
SEVERAL = "Several pattern files: one model for a study"

st.title("Train a VAE")
st.write("A convolutional VAE learns a few latent dimensions per pattern. Each pattern is preprocessed as "
         "chosen below and scaled to [-1, 1], as extraction does it. Training goes on if you leave this page.")

choices = {"Built-in demo scan": ((DEMO_SCAN,), BandContrast.table(DEMO_BANDCONTRAST))}
if state.source() is not None and not state.is_demo():
    choices = {f"Session data: {state.source().name}": ((state.source(),), state.bandcontrast()), **choices}
patterns = extraction.pattern_files()
for name, files_of in extraction.study_pattern_files(patterns).items():
    choices[f"Study {name}: the pattern files of its {len(files_of)} sources"] = (files_of, None)
if len(patterns) > 1:
    choices[SEVERAL] = ((), None)
new_name = {"on_change": defaults.forget_widget, "args": ("train_name",)}  # the default name follows the data
paths, bandcontrast = choices[st.radio("Data", list(choices), key="train_data", **new_name)]
if not paths:
    uploaded = [label for label, path in patterns.items() if path != DEMO_SCAN]
    chosen = st.multiselect("Pattern files", list(patterns), default=defaults.setting(
        "train_files", uploaded if len(uploaded) > 1 else list(patterns), list(patterns)), key="train_files",
        **new_name)
    paths = tuple(patterns[label] for label in chosen)
    if len(paths) < 2:
        st.info("Pick two or more files, or one of the choices above.")
        st.stop()
if len(paths) > 1:
    st.caption("One model for all of them, trained on the same number of patterns from each: as many as the "
               "smallest file holds, a seeded draw from the larger ones. Then extract them with it into one study "
               "on the Extract page (Several files into one study).")
with common.user_errors():
    infos = [sources.source_info(sources.stamp(path)) for path in paths]
if any(i.get("is_features") or len(i["item_shape"]) != 3 for i in infos):
    st.warning("This file holds features or videos, not images: a VAE trains on patterns or images.")
    st.stop()
info, source = infos[0], paths[0]
partition = next(iter(info["partitions"]))
side = int(min(min(i["item_shape"][-2:]) for i in infos))

with st.expander("Which patterns: band contrast and region", icon=":material/filter_alt:"):
    bc_min, roi = None, None
    if bandcontrast is not None and st.checkbox(f"Band contrast at least (from {bc_choice.label(bandcontrast)})",
                                                key="train_use_bc"):
        bc_min = st.number_input("Threshold", value=defaults.setting("train_bc_min", 150.0), key="train_bc_min")
    if len(paths) == 1 and info.get("has_coordinates") and st.checkbox("Only a region (ROI)", key="train_use_roi"):
        roi = common.roi_sliders(*sources.scan_coordinates(sources.stamp(source), partition), key="train")

with st.expander("Pattern preprocessing (extraction repeats it)", icon=":material/tune:"):
    static = st.checkbox("Remove the static background (the file's own, else the scan's mean pattern)",
                         value=defaults.setting("train_static_bg", True),  # the defaults of TrainConfig
                         key="train_static_bg")
    dynamic = st.checkbox("Remove the dynamic background (Gaussian blur, sigma = width / 8)",
                          value=defaults.setting("train_dynamic_bg", True),
                          key="train_dynamic_bg")
    average = st.checkbox("Average each pattern with its neighbours (3 x 3 Gaussian window, sigma 1 step)",
                          key="train_average", disabled=not all(i.get("grid_shape") for i in infos))
    preprocessing = {"static_background": "subtract" if static else None,
                     "dynamic_background": "subtract" if dynamic else None,
                     "neighbour_window": "gaussian" if average and all(i.get("grid_shape") for i in infos) else None}

st.subheader("Hyperparameters")
count = train_settings.pattern_count(paths, infos, roi)
settings, sized = train_settings.hyperparameters(count, side, paths)
train_settings.estimate(settings, count, sized)

job = training.current()
if st.button("Start training", type="primary", icon=":material/play_arrow:",
             disabled=job is not None and job.running, key="train_start"):
    if training.name_taken(settings["name"]):
        st.error(f"A model named \"{common.plain(settings['name'])}\" is in this session already: its latents files "
                 "would be this one's. Choose another name.")
        st.stop()
    with common.user_errors():
        config = TrainConfig(
            data=paths, out_dir=str(lifecycle.workdir("models") / time.strftime("vae-%Y%m%d-%H%M%S")),
            bandcontrast=bandcontrast if bc_min is not None else None, bc_min=bc_min, roi=roi,
            preprocessing=preprocessing, **settings)
        training.start(config)
    defaults.forget_widget("train_name")  # the next run's default name: another time
    st.rerun()

training.live_panel(settings["epochs"])
