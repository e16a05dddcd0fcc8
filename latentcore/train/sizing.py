"""Training settings sized for the machine and the data, the same for the same command on the same machine
whatever else the machine is doing, and the time any settings take on its idle cores.

    sized = sized_settings(n_patterns=5120, pattern_side=60, device="auto")
    sized.values     {"input_size": 48, "channels": (32, 64, 128), "batch_size": 64, "epochs": 30,
                      "patterns_per_epoch": None, "threads": 2}: TrainConfig fields
    sized.machine    what they were sized for: Machine(device="cpu", name="AMD EPYC", cores=2, rate=2.2e10, ...)
    sized.estimate   a `pace.Pace`: the run's time on the machine's idle cores (`estimate_text()`, `for_epochs(60)`)
    sized.record()   the choice and what it was made from, as the run's config.json keeps it (TrainConfig.sizing)
    estimate(sized.values | {"epochs": 60}, 5120, "cpu", latent_dim=8)   any settings' Pace, counted alike
    longer_runs_text(pace)   "60 epochs: about 6 min; 120 epochs: about 12 min"

How: a run's cost is counted, not timed. A model's multiply-adds per training pattern (forward and backward:
torch's FlopCounterMode over the model built on the meta device, from its layers' shapes, exact) and per validation
pattern (forward), times the run's patterns, over the machine's speed: its rate, the multiply-adds per second of one
core training a fixed model (REFERENCE), measured in that thread's own CPU time (`time.thread_time`), on a GPU in the
synchronised device's time; times the speed-up of the threads, one per core the process may use
(`os.sched_getaffinity`), assumed (THREAD_SPEEDUP), not timed. The rate is measured once per machine (CPU or GPU model
and torch version) and kept in `machine_rates.rate_file()`; delete that file to measure again. Memory does not enter:
the patterns are held in memory whatever the model, and a batch's activations take a few MB.

Why not a timing: until issue 54 this module timed a few batches of each candidate in wall-clock seconds, and one
thread against all of them. Both moved with the load: a quiet 2-core machine chose input 48 px, widths 32,64,128 and
2 threads, whose latents found a held-out scan's grains at ARI 0.865 (PCA 0.861); the same command at load 20 chose
input 32 px, widths 16,32,64 and one thread, ARI 0.805. The wall time of a batch moves several-fold with the load,
one thread's CPU time by 0.67-1.04x (docs/benchmarks.md, 2026-11-27 and 2026-11-29: on a shared virtual machine the
host's load moves it too); kept, the rate moves nothing. A fixed model chosen from the data alone would be the same
too, but on every machine alike: --minutes would be some other machine's minutes; the rate keeps the budget this
machine's. Counting rather than timing each candidate also makes
the sizing take no time once the rate is kept. A thread per core whatever the load needs OpenMP's waiting threads to
sleep (`config.openmp_waits_sleep`). The estimate is the run on idle cores: the trainer's first batches time the
real run (`pace`), and its time left follows the pace as it goes.

The choice: the largest model of LADDER (input sizes cut to the patterns' side) whose EPOCHS epochs over the
training patterns fit the budget; when even the smallest does not, it trains fewer epochs (MIN_EPOCHS at least),
then a part of the patterns in each epoch (another draw each epoch).
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import time

import torch

from ..extract import one_intra_op_thread, resolve_device
from ..machine_rates import available_cores, cpu_name, keep, rates_locked
from ..models.vae import ConvVAE, VAEConfig
from .config import BUDGET_SECONDS, TrainConfig
from .dataset import split_train_val
from .pace import Pace, duration
from .trainer import _autocast, _sync, vae_loss

EPOCHS, MIN_EPOCHS = 30, 10  # 30: TrainConfig's default, which benchmarks/train_quality.py measured
BATCH_SIZE = 64
MIN_BATCHES_PER_EPOCH = 4
# (input size, conv widths), cheapest first; the last is TrainConfig's default model. None under 48 px: on a held-out
# scan (issue 54) input 32 px, widths 16,32,64 found the grains at ARI 0.805, input 48 px, widths 32,64,128 at 0.865
# (PCA 0.861); and smaller models' multiply-adds undercount their time (element-wise work): one thread trained
# 32 px, widths 8,16,32 3.6x slower than its count says, 48 px, widths 16,32,64 1.5x, the larger ones within the
# rate's noise (10-25 %; docs/benchmarks.md).
# For more patterns than the cheapest fits, epochs, then patterns per epoch, are cut rather than the model.
LADDER = ((48, (16, 32, 64)), (48, (32, 64, 128)), (60, (32, 64, 128)))
REFERENCE = (48, (32, 64, 128), 16)  # the model (input size, widths, latent dimensions) whose training measures the rate
WARM_STEPS, RATE_STEPS = 1, 5  # training steps untimed (first calls: allocations, kernels chosen), then timed: the
# fastest gives the rate (a step that other processes interrupted costs more CPU time: its caches refilled)
THREAD_SPEEDUP = 0.7  # n threads on n idle cores train n ** 0.7 times as fast as one: 1.6x on 2 cores (an assumption)


@dataclasses.dataclass(frozen=True)
class Machine:
    """What a run is sized for: the device ("cpu" or "cuda") and its name, the cores this process may use, and the
    rate: multiply-adds per second of one core training (in its CPU time), or of the GPU; `measured`: when."""

    device: str
    name: str
    cores: int
    rate: float
    measured: str

    @property
    def threads(self) -> int | None:
        """A CPU run's threads: one per core; None on a GPU (threads do not set its pace)."""
        return self.cores if self.device == "cpu" else None

    def speed(self, threads: int | None) -> float:
        """Multiply-adds per second of a run of `threads` threads (None: one per core) on idle cores; on a GPU, its
        rate."""
        if self.device != "cpu":
            return self.rate
        return self.rate * min(threads or self.cores, self.cores) ** THREAD_SPEEDUP


@dataclasses.dataclass(frozen=True)
class Sized:
    values: dict  # TrainConfig fields: input_size, channels, batch_size, epochs, patterns_per_epoch, threads
    estimate: Pace  # the run's time on the machine's idle cores
    machine: Machine
    n_patterns: int
    pattern_side: int
    budget_seconds: float

    def text(self) -> str:
        """"input 48 px, widths 32,64,128, batch 64, 30 epochs of all the training patterns, 2 CPU threads"."""
        v = self.values
        per_epoch = (f"{v['patterns_per_epoch']:,} of the training patterns" if v["patterns_per_epoch"]
                     else "all the training patterns")
        threads = f", {v['threads']} CPU thread{'s' * (v['threads'] != 1)}" if v["threads"] else ""
        return (f"input {v['input_size']} px, widths {','.join(map(str, v['channels']))}, batch {v['batch_size']}, "
                f"{v['epochs']} epochs of {per_epoch}{threads}")

    def basis_text(self) -> str:
        """What the choice was made from besides the pattern count: "60 px patterns, 2 cores of AMD EPYC at
        20.7 G multiply-adds/s each (measured 2026-11-26)"."""
        m = self.machine
        on = (f"{m.cores} core{'s' * (m.cores != 1)} of {m.name} at {m.rate / 1e9:.3g} G multiply-adds/s each"
              if m.device == "cpu" else f"{m.name} at {m.rate / 1e9:.3g} G multiply-adds/s")
        return f"{self.pattern_side} px patterns, {on} (measured {m.measured})"

    def estimate_text(self) -> str:
        """"about 2 min for 30 epochs on 2 idle cores"."""
        threads = self.values["threads"]
        on = f"{threads} idle core{'s' * (threads != 1)}" if threads else "the idle GPU"
        return f"about {duration(self.estimate.seconds_total)} for {self.estimate.epochs} epochs on {on}"

    def record(self) -> dict:
        """The choice and what it was made from, for the run's config.json (TrainConfig.sizing)."""
        return {"chosen": {**self.values, "channels": list(self.values["channels"])},
                "n_patterns": self.n_patterns, "pattern_side": self.pattern_side,
                "budget_seconds": self.budget_seconds, "estimate_seconds": round(self.estimate.seconds_total, 1),
                "machine": dataclasses.asdict(self.machine), "thread_speedup_exponent": THREAD_SPEEDUP}


def sized_settings(n_patterns: int, pattern_side: int, device="auto", latent_dim: int = 16,
                   budget_seconds: float = BUDGET_SECONDS, val_fraction: float = 0.1) -> Sized:
    """The largest model of `LADDER` (input sizes cut to `pattern_side`) whose EPOCHS epochs over the training
    patterns of `n_patterns` take at most `budget_seconds` on this machine's idle cores; the smallest, with fewer
    epochs or a part of the patterns per epoch, when none does. The same on the same machine at any load."""
    machine = this_machine(device)
    candidates = list(dict.fromkeys((min(size, pattern_side), channels) for size, channels in LADDER))
    chosen = None
    for size, channels in candidates:
        values = {"input_size": size, "channels": channels, "batch_size": BATCH_SIZE, "epochs": EPOCHS,
                  "patterns_per_epoch": None, "threads": machine.threads}
        if chosen is None or pace_of(values, n_patterns, machine, latent_dim, val_fraction).seconds_total <= budget_seconds:
            chosen = values
    values = shortened(chosen, n_patterns, machine, latent_dim, val_fraction, budget_seconds)
    return Sized(values, pace_of(values, n_patterns, machine, latent_dim, val_fraction), machine, n_patterns,
                 pattern_side, budget_seconds)


def shortened(values: dict, n_patterns: int, machine: Machine, latent_dim: int, val_fraction: float,
              budget_seconds: float) -> dict:
    """`values` with fewer epochs (MIN_EPOCHS at least), then fewer patterns per epoch, until the run fits the budget."""
    epoch = pace_of({**values, "epochs": 1}, n_patterns, machine, latent_dim, val_fraction)
    epochs = max(MIN_EPOCHS, min(values["epochs"], int(budget_seconds // epoch.seconds_total)))
    values = {**values, "epochs": epochs}
    if epochs * epoch.seconds_total <= budget_seconds:
        return values
    batches = int((budget_seconds / epochs - epoch.validation_seconds) // epoch.seconds_per_batch)
    return {**values, "patterns_per_epoch": max(MIN_BATCHES_PER_EPOCH, batches) * values["batch_size"]}


def estimate(values: dict, n_patterns: int, device="auto", latent_dim: int = 16, val_fraction: float = 0.1) -> Pace:
    """The time of a run of these settings (TrainConfig fields: input_size, channels, batch_size, epochs,
    patterns_per_epoch, threads) over `n_patterns` on this machine's idle cores, counted as the sizing counts."""
    return pace_of(values, n_patterns, this_machine(device), latent_dim, val_fraction)


def pace_of(values: dict, n_patterns: int, machine: Machine, latent_dim: int, val_fraction: float) -> Pace:
    """The Pace of a run of `values` on `machine`: the trainer's split of `n_patterns`, batches of its epochs, each
    batch's multiply-adds at the machine's speed (no batch measured: `measured_batches` 0)."""
    n_train, n_val = (len(part) for part in split_train_val(n_patterns, val_fraction, 0))
    per_epoch = min(values.get("patterns_per_epoch") or n_train, n_train)
    training, validation = multiply_adds(int(values["input_size"]), tuple(values["channels"]), latent_dim)
    speed = machine.speed(values.get("threads"))
    batch_size = int(values["batch_size"])
    return Pace(int(values["epochs"]), -(-per_epoch // batch_size), 0, 0, batch_size * training / speed,
                n_val * validation / speed)


def longer_runs_text(pace: Pace, factors=(2, 4)) -> str:
    """What more epochs cost: "60 epochs: about 6 min; 120 epochs: about 12 min"."""
    return "; ".join(f"{pace.epochs * k} epochs: about {duration(pace.for_epochs(pace.epochs * k).seconds_total)}"
                     for k in factors)


@functools.lru_cache(maxsize=64)
def multiply_adds(input_size: int, channels: tuple, latent_dim: int) -> tuple[float, float]:
    """(training, validation) multiply-adds per pattern of a ConvVAE: a training step's forward, loss and backward,
    and a forward, as torch's FlopCounterMode counts them (two flops a multiply-add) on the meta device: from the
    layers' shapes, no arithmetic done."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = ConvVAE(VAEConfig(input_size=input_size, latent_dim=latent_dim, channels=channels))
        batch = torch.zeros(BATCH_SIZE, 1, input_size, input_size)
    with FlopCounterMode(display=False) as training:
        reconstruction, mu, logvar = model(batch)
        vae_loss(reconstruction, batch, mu, logvar, 0.5)["loss"].backward()
    model.eval()
    with FlopCounterMode(display=False) as validation, torch.no_grad():
        model(batch)
    return training.get_total_flops() / 2 / BATCH_SIZE, validation.get_total_flops() / 2 / BATCH_SIZE


def this_machine(device="auto") -> Machine:
    """The machine `device` names ("auto": a CUDA GPU when there is one): its cores and its rate, measured once
    (`measured_rate`) and kept in `machine_rates.rate_file()`, under a lock: two first runs at once keep one rate."""
    device = resolve_device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    key = f"{device.type}: {name}, torch {torch.__version__}"
    with rates_locked() as rates:
        if key not in rates:
            rates[key] = {"rate": measured_rate(device), "measured": datetime.date.today().isoformat()}
            keep(rates)
        kept = rates[key]
    return Machine(device.type, name, available_cores(), float(kept["rate"]), str(kept["measured"]))


def measured_rate(device: torch.device) -> float:
    """Multiply-adds per second of training steps of REFERENCE on one thread, in that thread's CPU time, which
    other processes' load barely changes (on a GPU: in time, the device synchronised): the fastest of RATE_STEPS
    steps after WARM_STEPS untimed ones."""
    size, channels, latent_dim = REFERENCE
    torch.manual_seed(0)
    model = ConvVAE(VAEConfig(input_size=size, latent_dim=latent_dim, channels=channels)).to(device)
    batch = torch.rand(BATCH_SIZE, 1, size, size, device=device) * 2 - 1
    clock = time.thread_time if device.type == "cpu" else time.perf_counter
    seconds = []
    with one_intra_op_thread():
        for _ in range(WARM_STEPS + RATE_STEPS):
            start = clock()
            _step(model, batch, device)
            seconds.append(clock() - start)
    return BATCH_SIZE * multiply_adds(size, channels, latent_dim)[0] / min(seconds[WARM_STEPS:])


def _step(model, batch, device) -> None:
    """A training step as the trainer's (autocast, loss, backward, clipping), then a plain gradient step rather
    than Adam's (a few more element-wise operations on the weights): the first Adam of a process imports torch's
    compiler, 2-6 s."""
    with _autocast(device):
        reconstruction, mu, logvar = model(batch)
    loss = vae_loss(reconstruction, batch, mu, logvar, 0.5)["loss"]
    model.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), TrainConfig.grad_clip)
    with torch.no_grad():
        for weights in model.parameters():
            weights.add_(weights.grad, alpha=-1e-3)
    _sync(device)
