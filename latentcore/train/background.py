"""A training run in a background thread, for a script or notebook: start it, then poll `history` /
`latest` to draw the live loss curve and reconstructions, and `pace` for the time left (the app runs
train_vae in a worker process instead). `stop()` stops it after the current batch (that batch's
checkpoint is kept, so the same config resumes from it)."""
from __future__ import annotations

import threading
from typing import Callable

from .config import TrainConfig
from .pace import Pace
from .trainer import EpochReport, TrainResult, train_vae


class TrainingJob:
    def __init__(self, config: TrainConfig, on_finish: Callable[[TrainResult], None] | None = None):
        """`on_finish(result)` runs in the training thread when a model was written: keep it to
        plain-data updates (e.g. adding the model to a dict the app reads)."""
        self.config = config
        self.reports: list[EpochReport] = []
        self.pace: Pace | None = None  # the latest (the first: the estimate from the first batches)
        self.result: TrainResult | None = None
        self.error: BaseException | None = None
        self._on_finish = on_finish
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"train-vae:{config.out_dir}", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def _run(self):
        try:
            self.result = train_vae(self.config, callback=self.reports.append, stop_event=self._stop,
                                    on_pace=self._on_pace)
            if self._on_finish and self.result.model_path.is_file():
                self._on_finish(self.result)
        except Exception as exc:  # shown by the page; the thread must not die silently
            self.error = exc

    def _on_pace(self, pace: Pace) -> None:
        self.pace = pace

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the run has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def status(self) -> str:
        if self.running:
            return "stopping" if self._stop.is_set() else "running"
        if self.error is not None:
            return "failed"
        return self.result.stop_reason if self.result else "not started"

    @property
    def history(self) -> list[dict]:
        """One row per epoch of this run so far (loss.csv's columns)."""
        return [report.row() for report in list(self.reports)]

    @property
    def latest(self) -> EpochReport | None:
        return self.reports[-1] if self.reports else None
