"""A VAE training run for the Train page: `latentcore.train.train_vae` in a process of its own
(through the front door, `front.start_training`: the task `ui.compute.tasks.train`), so the
server only draws its progress. Each epoch the worker reports the loss history and the latest
reconstructions; Stop cancels the job, and the trainer stops after its current batch keeping the
last epoch's checkpoint and the best model, so the same config resumes. The finished model joins the session's models (the Extract page's choices)."""
from __future__ import annotations

import concurrent.futures
import time
from types import SimpleNamespace

from latentcore.train import TrainConfig

from ..compute import front, jobs
from ..session import state


class TrainingRun:
    """What the page reads of a training job: running, status, history, latest, result, error."""

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
        self.job.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the run has ended."""
        concurrent.futures.wait([self.job.future], timeout)
        if self.job.done():
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
        return self.job.future.result()

    @property
    def status(self) -> str:
        if self.running:
            return "stopping" if self.job.cancelled() else f"running ({self.job.progress()[1]}, in a worker process)"
        if self.job.future.cancelled():
            return "stopped"
        if self.error is not None:
            return "failed"
        return self.result.stop_reason if self.result else "stopped"

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
    `front.last_training_run`'s dict plus "label", the model's name on the Extract page."""
    run = front.last_training_run(str(state.workdir("models")))
    if run is None:
        return None
    models = state.models()
    label = next((name for name, spec in models.items() if spec.get("path") == str(run["model_path"])), None)
    if label is None:
        dims = f", {run['latent_dim']} dims" if run.get("latent_dim") else ""
        label = f"VAE trained here ({run['out_dir'].name}{dims})"
        state.add_model(label, {"path": str(run["model_path"]), "arch": "vae", "options": None})
    return {**run, "label": label}


def end_unseen() -> bool:
    """True once per run, the first time the page sees it ended."""
    return state.train_end_unseen()


def start(config: TrainConfig, label: str | None = None) -> TrainingRun:
    """Start (or resume: the same out_dir) a run in its own worker process; when it wrote a model,
    the model is added to the session's models (a plain dict in session state, which the pool's
    thread can add to without Streamlit calls)."""
    models = state.models_dict()
    label = label or f"VAE trained here ({time.strftime('%H:%M:%S')}, {config.latent_dim} dims)"

    job = front.start_training(config.to_dict(), f"Training ({config.epochs} epochs)")
    run = TrainingRun(job, config, models, label)
    state.set_train_run(run)
    return run
