"""Training settings sized for the machine and the data, and the time any settings take, measured in a few seconds.

    sized = sized_settings(n_patterns=5120, pattern_side=60, device="auto")
    sized.values       {"input_size": 32, "channels": (16, 32, 64), "batch_size": 64, "epochs": 30,
                        "patterns_per_epoch": None, "threads": 1}: TrainConfig fields
    sized.estimate     a `pace.Pace`: the run's time at the pace measured (`estimate_text()`, `for_epochs(60)`)
    estimate(sized.values | {"epochs": 60}, 5120, "cpu", latent_dim=8)   any settings' Pace, measured alike
    longer_runs_text(pace)   "60 epochs: about 6 min; 120 epochs: about 12 min"

How: a candidate model trains a few batches of random patterns of its input size on the device, which is
the compute of real ones (reading and preprocessing the patterns is not timed: the trainer's first batches
are, for the time left it reports). Its weights take a plain gradient step rather than Adam's (a few more
element-wise operations on the weights): the first Adam of a process imports torch's compiler, 2-6 s. The candidates of `LADDER` are timed from the smallest up, and the
largest whose run of EPOCHS epochs fits the budget is chosen; when even the smallest does not fit, it trains
fewer epochs (MIN_EPOCHS at least), then a part of the patterns in each epoch (another draw each epoch).
On a CPU with several threads, one thread is timed against all of them first: on a 2-core machine busy
with other work, one thread trained 5 to 20 times faster (docs/benchmarks.md).
"""
from __future__ import annotations

import contextlib
import dataclasses
import time

import torch

from ..extract import one_intra_op_thread, resolve_device
from ..models.vae import ConvVAE, VAEConfig
from .config import BUDGET_SECONDS
from .dataset import split_train_val
from .pace import Pace, duration
from .trainer import _autocast, _sync, vae_loss

EPOCHS, MIN_EPOCHS = 30, 10  # 30: TrainConfig's default, which benchmarks/train_quality.py measured
BATCH_SIZE = 64
MIN_BATCHES_PER_EPOCH = 4
# (input size, conv widths), cheapest first; the last is TrainConfig's default model
LADDER = ((32, (8, 16, 32)), (32, (16, 32, 64)), (48, (16, 32, 64)), (48, (32, 64, 128)), (60, (32, 64, 128)))
THREAD_PROBE_CALLS = 10  # convolutions timed with one thread and with all of them
TIMED_BATCHES = 3  # after one untimed batch (first-call allocations)
PROBE_SECONDS = 0.5  # timed batches stop after this long (one at least)


@dataclasses.dataclass(frozen=True)
class Timing:
    """One model's measured pace: seconds per training batch and per validation pattern, over `batches` timed
    batches."""

    seconds_per_batch: float
    seconds_per_validation_pattern: float
    batches: int


@dataclasses.dataclass(frozen=True)
class Sized:
    values: dict  # TrainConfig fields: input_size, channels, batch_size, epochs, patterns_per_epoch, threads
    estimate: Pace  # the run's time at the pace measured
    patterns_per_second: float  # training patterns per second of the chosen model, as measured

    def text(self) -> str:
        """"input 32 px, widths 16,32,64, batch 64, 30 epochs of all 4,608 training patterns, 1 CPU thread"."""
        v = self.values
        per_epoch = (f"{v['patterns_per_epoch']:,} of the training patterns" if v["patterns_per_epoch"]
                     else "all the training patterns")
        threads = f", {v['threads']} CPU thread{'s' * (v['threads'] != 1)}" if v["threads"] else ""
        return (f"input {v['input_size']} px, widths {','.join(map(str, v['channels']))}, batch {v['batch_size']}, "
                f"{v['epochs']} epochs of {per_epoch}{threads}")


def sized_settings(n_patterns: int, pattern_side: int, device="auto", latent_dim: int = 16,
                   budget_seconds: float = BUDGET_SECONDS, val_fraction: float = 0.1) -> Sized:
    """The largest model of `LADDER` (input sizes cut to `pattern_side`) whose EPOCHS epochs over the training
    patterns of `n_patterns` take at most `budget_seconds` at the pace measured now; the smallest, with fewer
    epochs or a part of the patterns per epoch, when none does."""
    device = resolve_device(device)
    threads = fastest_threads(device)
    candidates = list(dict.fromkeys((min(size, pattern_side), channels) for size, channels in LADDER))
    chosen = None
    for size, channels in candidates:
        timing = time_model(size, channels, latent_dim, BATCH_SIZE, device, threads)
        values = {"input_size": size, "channels": channels, "batch_size": BATCH_SIZE, "epochs": EPOCHS,
                  "patterns_per_epoch": None, "threads": threads}
        fits = pace_of(timing, values, n_patterns, val_fraction).seconds_total <= budget_seconds
        if chosen is None or fits:
            chosen = (values, timing)
        if not fits:
            break
    values, timing = chosen
    values = shortened(values, timing, n_patterns, val_fraction, budget_seconds)
    return Sized(values, pace_of(timing, values, n_patterns, val_fraction), BATCH_SIZE / timing.seconds_per_batch)


def shortened(values: dict, timing: Timing, n_patterns: int, val_fraction: float, budget_seconds: float) -> dict:
    """`values` with fewer epochs (MIN_EPOCHS at least), then fewer patterns per epoch, until the run fits the budget."""
    epoch_seconds = pace_of(timing, {**values, "epochs": 1}, n_patterns, val_fraction).seconds_total
    epochs = max(MIN_EPOCHS, min(values["epochs"], int(budget_seconds // epoch_seconds)))
    values = {**values, "epochs": epochs}
    if epochs * epoch_seconds <= budget_seconds:
        return values
    validation = pace_of(timing, values, n_patterns, val_fraction).validation_seconds
    batches = int((budget_seconds / epochs - validation) // timing.seconds_per_batch)
    return {**values, "patterns_per_epoch": max(MIN_BATCHES_PER_EPOCH, batches) * values["batch_size"]}


def estimate(values: dict, n_patterns: int, device="auto", latent_dim: int = 16, val_fraction: float = 0.1) -> Pace:
    """The time of a run of these settings (TrainConfig fields: input_size, channels, batch_size, epochs,
    patterns_per_epoch, threads) over `n_patterns`, its model timed now on the device."""
    timing = time_model(values["input_size"], values["channels"], latent_dim, values["batch_size"],
                        resolve_device(device), values.get("threads"))
    return pace_of(timing, values, n_patterns, val_fraction)


def pace_of(timing: Timing, values: dict, n_patterns: int, val_fraction: float) -> Pace:
    """The Pace of a run of `values` at `timing`: the trainer's split of `n_patterns`, batches of its epochs."""
    n_train, n_val = (len(part) for part in split_train_val(n_patterns, val_fraction, 0))
    per_epoch = min(values.get("patterns_per_epoch") or n_train, n_train)
    return Pace(int(values["epochs"]), -(-per_epoch // int(values["batch_size"])), 0, timing.batches,
                timing.seconds_per_batch, n_val * timing.seconds_per_validation_pattern)


def longer_runs_text(pace: Pace, factors=(2, 4)) -> str:
    """What more epochs cost: "60 epochs: about 6 min; 120 epochs: about 12 min"."""
    return "; ".join(f"{pace.epochs * k} epochs: about {duration(pace.for_epochs(pace.epochs * k).seconds_total)}"
                     for k in factors)


def fastest_threads(device: torch.device) -> int | None:
    """On a CPU, 1 when one thread runs a convolution of the models' size faster than torch's thread count,
    else that count; None on a GPU (threads do not set its pace). A convolution, not a batch: with more runnable
    threads than cores, each parallel step waits for a time slice, and a batch of tens of steps took seconds."""
    if device.type != "cpu":
        return None
    threads = torch.get_num_threads()
    if threads == 1:
        return 1
    convolution, maps = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.rand(BATCH_SIZE, 16, 16, 16)
    with torch.no_grad():
        with one_intra_op_thread():
            one = _seconds(convolution, maps)
        every = _seconds(convolution, maps, limit=2 * one * THREAD_PROBE_CALLS)
    return 1 if one < every else threads


def _seconds(function, argument, limit: float = float("inf")) -> float:
    """Seconds per call of `function(argument)` over THREAD_PROBE_CALLS calls after an untimed one (inf once
    they take longer than `limit`)."""
    function(argument)
    start = time.monotonic()
    for _ in range(THREAD_PROBE_CALLS):
        function(argument)
        if time.monotonic() - start > limit:
            return float("inf")
    return (time.monotonic() - start) / THREAD_PROBE_CALLS


def time_model(input_size: int, channels, latent_dim: int, batch_size: int, device: torch.device,
               threads: int | None = None) -> Timing:
    """The pace of one ConvVAE training on random patterns as the trainer does (autocast, loss, backward, clip,
    a step: a plain one, see the module's docstring): TIMED_BATCHES batches after an untimed one, fewer once PROBE_SECONDS are spent; `threads`: 1
    (one thread) or torch's count (None)."""
    torch.manual_seed(0)
    model = ConvVAE(VAEConfig(input_size=input_size, latent_dim=latent_dim, channels=tuple(channels))).to(device)
    batch = torch.rand(batch_size, 1, input_size, input_size, device=device) * 2 - 1
    with one_intra_op_thread() if threads == 1 else contextlib.nullcontext():
        _step(model, batch, device)
        timed, start = 0, time.monotonic()
        while timed < TIMED_BATCHES and (not timed or time.monotonic() - start < PROBE_SECONDS):
            _step(model, batch, device)
            timed += 1
        seconds_per_batch = (time.monotonic() - start) / timed
        model.eval()
        start = time.monotonic()
        with torch.no_grad(), _autocast(device):
            model(batch)
        _sync(device)
    return Timing(seconds_per_batch, (time.monotonic() - start) / batch_size, timed)


def _step(model, batch, device) -> None:
    with _autocast(device):
        reconstruction, mu, logvar = model(batch)
    loss = vae_loss(reconstruction, batch, mu, logvar, 0.5)["loss"]
    model.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 100.0)
    with torch.no_grad():
        for weights in model.parameters():
            weights.add_(weights.grad, alpha=-1e-3)
    _sync(device)
