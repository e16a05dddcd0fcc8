"""How long a training run takes: timed from its first batches on the real data and device, then
from the rate measured so far. `Pace` is what the trainer reports (`train_vae(on_pace=...)`); the CLI
and the Train page print its `estimate_text()` before the full run and its `left_text()` while it runs."""
from __future__ import annotations

import dataclasses
import time

from ..machine_rates import duration

ESTIMATE_BATCHES = 5  # batches timed for the estimate, after one untimed batch (first-call allocations)


@dataclasses.dataclass
class Pace:
    """Where a run stands and the seconds it should still take, from the batches timed in this call."""

    epochs: int
    batches_per_epoch: int
    batches_done: int  # of the whole run, batches of an earlier (resumed) call included
    measured_batches: int  # batches timed in this call
    seconds_per_batch: float
    validation_seconds: float  # per epoch: measured at the last epoch's end, else from one validation chunk

    @property
    def batches_total(self) -> int:
        return self.epochs * self.batches_per_epoch

    @property
    def epoch(self) -> int:
        """The epoch under way (the last one once every batch is done)."""
        return min(self.batches_done // self.batches_per_epoch + 1, self.epochs)

    @property
    def batch(self) -> int:
        """Batches done of the epoch under way."""
        return self.batches_done - (self.epoch - 1) * self.batches_per_epoch

    @property
    def seconds_total(self) -> float:
        """The whole run, from its first batch, at this pace."""
        return self.epochs * (self.batches_per_epoch * self.seconds_per_batch + self.validation_seconds)

    @property
    def seconds_left(self) -> float:
        validations_left = self.epochs - self.batches_done // self.batches_per_epoch
        return (self.batches_total - self.batches_done) * self.seconds_per_batch + validations_left * self.validation_seconds

    def for_epochs(self, epochs: int) -> "Pace":
        """The same pace for a run of `epochs` epochs (the Train page's form may have changed)."""
        return dataclasses.replace(self, epochs=int(epochs))

    def estimate_text(self) -> str:
        return (f"about {duration(self.seconds_total)} for {self.epochs} epoch{'s' * (self.epochs != 1)} "
                f"(measured on {self.measured_batches} batches)")

    def left_text(self) -> str:
        return "done" if self.batches_done >= self.batches_total else f"about {duration(self.seconds_left)} left"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class PaceMeter:
    """Times each batch of one train_vae call. The first batch is not timed (allocations, first calls);
    the estimate is ready after ESTIMATE_BATCHES timed ones, or at the end of a shorter first epoch.
    `sync` waits for the device (a GPU runs ahead of Python), so timed spans end when the work does."""

    def __init__(self, epochs: int, batches_per_epoch: int, batches_done: int, validation_seconds: float,
                 sync=lambda: None):
        self.epochs, self.batches_per_epoch, self.batches_done = epochs, batches_per_epoch, batches_done
        self.validation_seconds, self.sync = validation_seconds, sync
        self.untimed_seconds, self.timed_seconds, self.timed = None, 0.0, 0
        self.mark = time.monotonic()
        self.ready = False  # the estimate can be given

    def epoch_started(self) -> None:
        self.mark = time.monotonic()

    def batch_done(self) -> None:
        if not self.ready and self.timed + 1 >= ESTIMATE_BATCHES:
            self.sync()
        now = time.monotonic()
        if self.untimed_seconds is None:
            self.untimed_seconds = now - self.mark
        else:
            self.timed_seconds += now - self.mark
            self.timed += 1
        self.mark, self.batches_done = now, self.batches_done + 1
        self.ready = self.ready or self.timed >= ESTIMATE_BATCHES

    def epoch_done(self, validation_seconds: float) -> None:
        """After an epoch's validation and checkpoint (their time, measured): a short first epoch gives the estimate."""
        self.validation_seconds, self.ready = validation_seconds, self.untimed_seconds is not None

    def pace(self) -> Pace:
        measured, seconds = (self.timed, self.timed_seconds) if self.timed else (1, self.untimed_seconds or 0.0)
        return Pace(self.epochs, self.batches_per_epoch, self.batches_done, measured, seconds / measured,
                    self.validation_seconds)
