"""The Train page's settings, sized for the machine and the data, and what they would take.

    settings, sized = hyperparameters(count, side, data)   # the model's name and the hyperparameters, drawn
                                                # with defaults sized for this machine (`latentcore.train.sizing`)
    estimate(settings, count, sized)            # the run's time on idle cores, and 2x, 4x epochs; what the
                                                # defaults were sized from

`settings` holds TrainConfig fields (name, device, latent_dim, input_size, channels, batch_size, epochs,
patterns_per_epoch, threads, beta, lr, sizing: the sizing's record).
"""
from __future__ import annotations

import streamlit as st

from latentcore.train import TrainConfig
from latentcore.train.config import default_name, training_patterns
from latentcore.train.pace import Pace, duration
from latentcore.train.sizing import longer_runs_text

from ..compute import dispatch, sources
from ..session import defaults


def pattern_count(paths, infos: list[dict], roi) -> int:
    """The patterns a run trains on: the first partition's, or those in the ROI (a `Roi`) of one file; of several,
    as many from each as the smallest holds (`latentcore.train.dataset.load_training_set`). A band-contrast
    threshold is not counted (it only shortens the run)."""
    counts = [int(next(iter(info["partitions"].values()))) for info in infos]
    if len(paths) > 1:
        return training_patterns(counts)
    if roi is None:
        return counts[0]
    partition = next(iter(infos[0]["partitions"]))
    return int(roi.mask(*sources.scan_coordinates(sources.stamp(paths[0]), partition)).sum())


def hyperparameters(count: int, side: int, data) -> tuple[dict, dict]:
    """The name and hyperparameters of a run on `count` patterns of side `side` (from `data`, whose stem the
    default name starts with), and the sized defaults they were drawn with (`dispatch.sized_training`)."""
    cols = st.columns([1, 3])
    devices = sources.devices()
    device = cols[0].selectbox("Device", list(devices), format_func=devices.get, key="train_device")
    name = cols[1].text_input("Model name", defaults.setting("train_name", default_name(data)), key="train_name",
                              max_chars=80,
                              help="Recorded in the model: latents files, the sidebar and the Compare page name "
                                   "the model by it")
    shown = defaults.setting("train_latent_dim", TrainConfig.latent_dim, bounds=(1, 256))  # `train-vae`'s
    found = dispatch.sized_training(count, side, device, int(defaults.widget_value("train_latent_dim")))
    sized = found["values"]
    cols = st.columns(4)
    latent_dim = cols[0].number_input("Latent dimensions", 1, 256, shown, key="train_latent_dim")
    input_size = cols[1].number_input("Input size (pixels, resized)", 8, 512, key="train_input_size",
                                      value=defaults.setting("train_input_size", sized["input_size"], bounds=(8, 512)))
    channels = cols[2].text_input("Conv channels", key="train_channels", value=defaults.setting(
        "train_channels", ",".join(map(str, sized["channels"]))))
    batch_size = cols[3].number_input("Batch size", 2, 8192, key="train_batch",
                                      value=defaults.setting("train_batch", sized["batch_size"], bounds=(2, 8192)))
    cols = st.columns(4)
    epochs = cols[0].number_input("Epochs", 1, 10_000, key="train_epochs",
                                  value=defaults.setting("train_epochs", sized["epochs"], bounds=(1, 10_000)))
    per_epoch = cols[1].number_input("Patterns per epoch (0: all)", 0, 10**9, key="train_per_epoch",
                                     value=defaults.setting("train_per_epoch", sized["patterns_per_epoch"] or 0,
                                                         bounds=(0, 10**9)),
                                     help="Each epoch trains on this many of the training patterns, another draw "
                                          "each epoch")
    beta = cols[2].number_input("beta (KL weight)", 0.0, 100.0, format="%.3f", key="train_beta",
                                value=defaults.setting("train_beta", TrainConfig.beta, bounds=(0, 100)))
    lr = cols[3].number_input("Learning rate", 1e-6, 1.0, format="%.4f", key="train_lr",
                              value=defaults.setting("train_lr", TrainConfig.lr, bounds=(1e-6, 1)))
    try:
        widths = tuple(int(c) for c in channels.split(","))
    except ValueError:
        st.error(f"Conv channels must be comma-separated integers, got {channels!r}")
        st.stop()
    return {"name": name, "device": device, "latent_dim": int(latent_dim), "input_size": int(input_size),
            "channels": widths, "batch_size": int(batch_size), "epochs": int(epochs),
            "patterns_per_epoch": int(per_epoch) or None, "threads": sized["threads"], "beta": float(beta),
            "lr": float(lr), "sizing": found["record"]}, found


def estimate(settings: dict, count: int, sized: dict):
    """How long the run of `settings` would take on idle cores (the sized defaults' own estimate when only the
    epochs differ, else counted alike), with 2x and 4x epochs, and what the defaults were sized from."""
    counted = {name: settings[name] for name in ("input_size", "channels", "batch_size", "patterns_per_epoch",
                                                 "threads")}
    if counted == {name: sized["values"][name] for name in counted} | {"channels": tuple(sized["values"]["channels"])}:
        pace = Pace(**sized["pace"]).for_epochs(settings["epochs"])
    else:
        pace = dispatch.training_estimate({**counted, "epochs": settings["epochs"]}, count, settings["device"],
                                          settings["latent_dim"])
    threads = settings["threads"]
    on = f"{threads} idle CPU core{'s' * (threads != 1)}" if threads else "the idle device"
    st.info(f"Training would take about {duration(pace.seconds_total)} for {pace.epochs} epoch"
            f"{'s' * (pace.epochs != 1)} of {pace.batches_per_epoch:,} batches on {on}, plus reading the patterns. "
            f"More epochs: {longer_runs_text(pace)}.", icon=":material/timer:")
    st.caption(f"The defaults are sized for a run of a few minutes from {count:,} {sized['basis']}: the same on "
               "this machine whatever else runs. The time is counted from the model's multiply-adds, for idle cores: "
               "the run's own first batches time it on the real data and load, and the progress bar shows the time "
               "left.")
