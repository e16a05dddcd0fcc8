"""A VAE training run for the Train page: `latentcore.train.train_vae` in a process of its own
(through the pool's door, `dispatch.start_training`: the task `ui.compute.tasks.train`), so the
server only draws its progress (the estimate before Start: `train_settings`). While it runs the worker
reports its pace (the time left), and each epoch the loss history and the latest reconstructions; Stop
asks the job to stop, and the trainer stops after its current batch keeping that batch's checkpoint and
the best model, so Resume (the same config) goes on from that batch. The finished model joins the
session's models (the Extract page's choices) under its name; what more epochs would buy is said from
the end of its loss curve. `live_panel(epochs)` draws the run (or the workspace's last finished one, `saved_run_panel`),
and the workspace's other stopped runs, found from their files in every tab and after a reload, each with
its Resume (`stopped_runs_panel`)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import streamlit as st

from latentcore.train import TrainConfig
from latentcore.train.outputs import (CHECKPOINT_FILE, MODEL_FILE, RECONSTRUCTIONS_PNG, improvement_text,
                                      inputs_found)
from latentcore.train.pace import Pace

from ..compute import dispatch, jobs
from ..figures import training as training_figures
from ..session import files, lifecycle, state
from . import common


class TrainingRun:
    """What the page reads of a training job: running, status, pace, history, latest, result, error."""

    def __init__(self, job: jobs.Job, config: TrainConfig, models: dict, label: str):
        self.job, self.config, self.models, self.label = job, config, models, label
        job.future.add_done_callback(lambda future: self.register())  # in the pool's thread, when it ends

    def register(self) -> None:
        """Add the model, once written, to the session's models (plain dict updates, no Streamlit)."""
        result = self.result
        if result is not None and result.model_path.is_file():
            self.models[self.label] = {"path": str(result.model_path), "arch": "vae", "options": None}

    @property
    def running(self) -> bool:
        return not self.job.done()

    def stop(self) -> None:
        """After the current batch; a run not started yet starts and stops at once, its files saying so."""
        self.job.stop()

    def wait(self, timeout: float) -> bool:
        """True once the run has ended."""
        if self.job.wait(timeout):
            self.register()  # the done callback may still be on its way
        return self.job.done()

    @property
    def error(self) -> BaseException | None:
        error = self.job.error()
        return None if isinstance(error, jobs.JobCancelled) else error

    @property
    def result(self):
        if not self.job.done() or self.job.future.cancelled() or self.job.future.exception() is not None:
            return None
        return self.job.result()

    @property
    def status(self) -> str:
        if self.running:
            if self.job.stop_asked():
                return "stopping after this batch"
            return f"running ({self.job.progress()[1]}, in a worker process)"
        if self.job.future.cancelled():
            return "stopped"
        if self.error is not None:
            return "failed"
        return self.result.stop_reason if self.result else "stopped"

    @property
    def pace(self) -> Pace | None:
        """The last pace the run reported (at its end: the estimate from its first batches), or None."""
        result = self.result
        if result is not None:
            return result.estimate
        pace = self.job.detail().get("pace")
        return Pace(**pace) if pace else None

    @property
    def history(self) -> list[dict]:
        """One row per epoch so far (loss.csv's columns; a resumed run's earlier epochs too once it ended)."""
        result = self.result
        return list(result.history) if result is not None else list(self.job.detail().get("history", []))

    @property
    def latest(self):
        """The latest validation patterns and their reconstructions (.inputs, .reconstructions), or None."""
        arrays = self.job.arrays()
        return SimpleNamespace(**arrays) if "inputs" in arrays else None


def current() -> TrainingRun | None:
    """This session's latest run."""
    return state.train_run()


def last_finished() -> dict | None:
    """The workspace's last finished run, from what it wrote to disk (so it survives reloads), with
    its model offered on the Extract page (added to the session's models when it is not there):
    `dispatch.last_training_run`'s dict plus "label", the model's name on the Extract page."""
    run = dispatch.last_training_run(str(lifecycle.workdir("models")))
    if run is None:
        return None
    label = model_label(run["out_dir"], run.get("latent_dim"), run.get("name"))
    if label not in state.models():
        state.add_model(label, {"path": str(run["model_path"]), "arch": "vae", "options": None})
    return {**run, "label": label}


def model_label(out_dir: Path, latent_dim: int | None, name: str | None = None) -> str:
    """The Extract page's name for the model of the run in `out_dir`: the session's, else the name it records (a
    run of an earlier version: one made of its folder)."""
    path = str(out_dir / MODEL_FILE)
    dims = f", {latent_dim} dims" if latent_dim else ""
    return next((label for label, spec in state.models().items() if spec.get("path") == path),
                name or f"VAE trained here ({out_dir.name}{dims})")


def name_taken(name: str) -> bool:
    """Another model of the session (a trained one, an upload) has this name: its latents files would be the new
    model's (they are named by it)."""
    return name in state.models()


def end_unseen() -> bool:
    """True once per run, the first time the page sees it ended."""
    return state.train_end_unseen()


def start(config: TrainConfig, label: str | None = None) -> TrainingRun:
    """Start (or resume: the same out_dir) a run in its own worker process; when it wrote a model, the model is
    added to the session's models under `label` (default: its name; a plain dict in session state, which the
    pool's thread can add to without Streamlit calls)."""
    models = state.models_dict()
    job = dispatch.start_training(config.to_dict(), f"Training {config.name} ({config.epochs} epochs)")
    run = TrainingRun(job, config, models, label or config.name)
    state.set_train_run(run)
    return run


def saved_run_panel():
    """No run in this session (a reload, a new visit): the workspace's last finished run, from its files."""
    run = last_finished()
    if run is None:
        return
    try:
        where = run["model_path"].relative_to(lifecycle.workdir())
    except ValueError:
        where = run["model_path"].name
    st.subheader("Last finished run")
    if run["history"]:
        st.plotly_chart(training_figures.loss_figure(run["history"]), key="train_saved_loss_chart")
    if RECONSTRUCTIONS_PNG in run["files"]:
        st.image(str(run["files"][RECONSTRUCTIONS_PNG]),
                 caption="Validation patterns (top) and their reconstructions (bottom), by the best model")
    best = f" (validation loss {run['best_val_loss']:.4g})" if run.get("best_val_loss") is not None else ""
    st.success(f"{run['status']} after {run['epochs_done']} epochs: best epoch {run['best_epoch']}{best}. The model "
               f"is {where} in this workspace, and the Extract page offers it as \"{common.plain(run['label'])}\".",
               icon=":material/check:")
    more_epochs_note(run["history"])
    common.download_artifacts([path for name, path in run["files"].items()], key="train_saved_files")


def more_epochs_note(history: list[dict]):
    """What more epochs would buy, from the end of the loss curve."""
    if trend := improvement_text(history):
        st.caption(f"What more epochs would buy: {trend} (a longer run also stretches the learning-rate schedule).")


def stopped_runs_panel(epochs: int, own: TrainingRun | None = None):
    """The workspace's stopped runs but this session's `own` (drawn with its own Resume), from their files: each
    resumes with its settings, from its last finished batch, to `epochs` (the form's value)."""
    runs = [run for run in dispatch.stopped_training_runs(str(lifecycle.workdir("models")), _trainable_files())
            if own is None or str(run["out_dir"]) != str(own.config.out_dir)]
    if not runs:
        return
    st.subheader("Stopped runs")
    st.caption("Resume goes on from a run's last finished batch, with its own settings, to the number of epochs "
               "set above.")
    for run in runs:
        text, button = st.columns([5, 1], vertical_alignment="center")
        text.write(_stopped_text(run))
        if not inputs_found(run["config"]):
            names = ", ".join(Path(path).name for path in run["config"].sources)
            button.caption(f"Load its data ({names}) in this session to resume it.")
        elif button.button("Resume", icon=":material/replay:", key=f"train_resume_{run['out_dir'].name}"):
            config = dataclasses.replace(run["config"], epochs=epochs)
            start(config, model_label(run["out_dir"], config.latent_dim, config.name))
            st.rerun(scope="app")


def _trainable_files() -> list:
    """The files the Train page trains on (its data choices): config.json names a run's files by name, and a
    stopped run resumes with the one of these that has it."""
    from latentcore.demo import DEMO_BANDCONTRAST, DEMO_SCAN

    bandcontrast = state.bandcontrast()
    table = [bandcontrast.path] if bandcontrast is not None and not bandcontrast.from_scan else []
    return [DEMO_SCAN, DEMO_BANDCONTRAST, *([state.source()] if state.source() is not None else []), *table,
            *files.data_sources().values()]


def _stopped_text(run: dict) -> str:
    config, epoch = run["config"], run["epochs_done"] + 1
    where = f"epoch {epoch} of {config.epochs}"
    if run["batches_per_epoch"]:
        where += f", {run['batches_done']} of {run['batches_per_epoch']} batches done"
    why = "stopped at its time limit" if run["status"] == "time_limit" else "stopped"
    return (f"**{run['out_dir'].name}**: {why} in {where}; {config.latent_dim} latent dimensions, input "
            f"{config.input_size} px, batch size {config.batch_size}, learning rate {config.lr:g}, "
            f"beta {config.beta:g}")


def live_panel(epochs: int):
    """This session's run, redrawn alone every second while it runs (a fragment); without one, the
    workspace's last finished run. `epochs`: the form's value, which Resume trains to."""
    job = current()
    st.fragment(run_every=1.0 if job is not None and job.running else None)(_live_view)(epochs)


def _live_view(epochs: int):
    job = current()
    if job is None:
        stopped_runs_panel(epochs)
        saved_run_panel()
        return
    history, latest = job.history, job.latest
    done = len(history) and history[-1]["epoch"] or 0
    if job.running:
        st.progress(min(job.job.progress()[0], 1.0), text=job.status)
        st.button("Stop", icon=":material/stop:", on_click=job.stop, key="train_stop")
    elif job.status == "stopped":  # worded as the stopped runs' list words it
        st.progress(min(done / job.config.epochs, 1.0), text=f"stopped in epoch {done + 1} of {job.config.epochs}")
    else:
        st.progress(min(done / job.config.epochs, 1.0), text=f"{job.status}: {done} of {job.config.epochs} epochs done")
    if job.error is not None:
        st.error(f"Training failed: {common.error_line(job.error)}", icon=":material/error:")
    if not job.running and job.status == "stopped":
        st.caption("The checkpoint of its last finished batch is kept: Resume goes on from that batch to the "
                   "number of epochs set above.")
        if st.button("Resume", icon=":material/replay:", key="train_resume"):
            start(dataclasses.replace(job.config, epochs=epochs), job.label)
            st.rerun(scope="app")
    if history:
        table = pd.DataFrame(history)
        st.plotly_chart(training_figures.loss_figure(history), key="train_loss_chart")
        st.caption(f"Latest: train {table.train_loss.iloc[-1]:.4g}, validation {table.val_loss.iloc[-1]:.4g}, "
                   f"{table.patterns_per_second.iloc[-1]:,.0f} patterns/s")
    if latest is not None:
        st.write("Validation patterns (top) and their reconstructions (bottom)")
        for images in (latest.inputs, latest.reconstructions):
            st.image(training_figures.display_images(images), width=72)
    if job.result is not None and job.result.history:  # a model was written
        result = job.result
        st.success(f"{result.stop_reason}: best epoch {result.best_epoch} (validation loss "
                   f"{result.best_val_loss:.4g}). The model \"{job.label}\" is now on the Extract page.",
                   icon=":material/check:")
        more_epochs_note(result.history)
        common.download_artifacts([p for name, p in result.files.items() if name != CHECKPOINT_FILE], key="train_files")
    if not job.running:
        stopped_runs_panel(epochs, own=job)
    if not job.running and end_unseen():
        st.rerun()  # once: the whole page redraws with the start button enabled and no timer
