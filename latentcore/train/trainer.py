"""Train the ConvVAE on a pattern source: seeded, CPU or GPU (bf16 autocast), per-epoch callback,
early stop on a validation plateau, an atomic checkpoint every epoch and at a stop (the last finished
batch), resuming an interrupted run, and its pace (`pace.Pace`: an estimate from the first batches, then
the time left).

    result = train_vae(TrainConfig(data="scan.h5", out_dir="run1", epochs=20), callback=print)

Resuming is exact on the CPU, even in the middle of an epoch: the checkpoint holds the weights, the
optimizer, the RNG state, the history and the epoch's position (its batches done and their loss sums),
and each epoch's shuffle comes from its own seeded generator, so the resumed run trains on the same
batches in the same order with the same random draws. An epoch of `patterns_per_epoch` trains on the
first patterns of that shuffle. The model records its name (`config.name`, else `default_name`).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR

from ..errors import CheckpointError, InputError, TrainingError
from ..extract import resolve_device
from ..models.vae import ConvVAE, VAEConfig
from ..storage import atomic_path, lock_exclusive, make_folder, sha256_path
from ..versions import PACKAGES, package_versions
from . import outputs
from .config import LR_FLOOR, TrainConfig, default_name
from .dataset import PatternSet, load_training_set, split_train_val
from .pace import Pace, PaceMeter

DEVICE_RESIDENT_BYTES = 4 * 2**30  # training sets up to this size are copied to the device once
LOSS_PARTS = ("loss", "rec", "kl")
VALIDATION_CHUNK = 4  # a validation chunk holds this many batches (no gradients: less memory)
PACE_INTERVAL = 1.0  # seconds between two pace reports while batches run


@dataclasses.dataclass
class EpochReport:
    """What the callback gets after each epoch (losses are per pattern)."""

    epoch: int
    epochs: int
    beta: float
    train_loss: float
    train_rec: float
    train_kl: float
    val_loss: float
    val_rec: float
    val_kl: float
    seconds: float  # wall time of this epoch, validation included
    patterns_per_second: float  # training patterns per second of the training pass
    is_best: bool
    inputs: np.ndarray  # (k, S, S) validation patterns
    reconstructions: np.ndarray  # (k, S, S) their reconstructions after this epoch

    def row(self) -> dict:
        return {name: getattr(self, name) for name in outputs.LOSS_COLUMNS}


@dataclasses.dataclass
class TrainResult:
    out_dir: Path
    model_path: Path
    history: list[dict]  # one loss.csv row per epoch, resumed epochs included
    best_epoch: int
    best_val_loss: float
    stop_reason: str  # completed | early_stop | time_limit | stopped | already_done (a diverged run raises)
    resumed_from: int  # epochs done before this call (0: a fresh run)
    n_train: int
    n_val: int
    device: str
    seconds: float
    resumed_at_batch: int = 0  # batches of epoch resumed_from + 1 done before this call
    estimate: Pace | None = None  # the pace after this call's first batches (None: too few ran)

    @property
    def files(self) -> dict[str, Path]:
        names = ("MODEL_FILE", "CONFIG_FILE", "LOSS_CSV", "LOSS_PNG", "RECONSTRUCTIONS_PNG", "CHECKPOINT_FILE")
        return {getattr(outputs, n): self.out_dir / getattr(outputs, n) for n in names}


@dataclasses.dataclass
class _State:
    """Training state that survives an interruption (saved in checkpoint.pth)."""

    epoch: int = 0
    history: list = dataclasses.field(default_factory=list)
    best_epoch: int = 0
    best_val: float = float("inf")
    best_beta: float = -1.0
    bad_epochs: int = 0
    batch: int = 0  # batches done of epoch `epoch + 1` (a run stopped in the middle of it)
    partial_sums: list = dataclasses.field(default_factory=lambda: [0.0, 0.0, 0.0])  # their LOSS_PARTS x patterns
    partial_count: int = 0  # their patterns


def train_vae(config: TrainConfig, callback: Callable[[EpochReport], None] | None = None,
              stop_event: threading.Event | None = None, on_pace: Callable[[Pace], None] | None = None) -> TrainResult:
    """Train (or resume) a VAE as `config` says; outputs go to `config.out_dir`. `callback` is
    called after each epoch; `on_pace` once the first batches were timed (the estimate), then at most
    every PACE_INTERVAL seconds and after each epoch. Setting `stop_event` stops after the current
    batch, checkpointing that batch (the same config resumes from it) and keeping the best model so far.
    `config.threads` sets torch's CPU threads for the call (restored after). A loss that is no
    longer finite raises TrainingError (one line: the epoch and the likely cause) after writing the
    outputs of the epochs before it. The run's folder is locked meanwhile: a second call on it (the
    same stopped run resumed from two tabs) raises OutputError at once."""
    out_dir = make_folder(config.out_dir)
    lock = lock_exclusive(out_dir / outputs.LOCK_FILE)
    threads = torch.get_num_threads()
    try:
        if config.threads:
            torch.set_num_threads(config.threads)
        return _Run(config).train(callback, stop_event, on_pace)
    finally:
        torch.set_num_threads(threads)
        os.close(lock)


class _Run:
    """One call of train_vae: the data, model, optimizer and state it works on."""

    def __init__(self, config: TrainConfig):
        self.started = time.monotonic()
        self.config = config
        self.out_dir = out_dir = Path(config.out_dir)
        self.device = resolve_device(config.device)
        data = load_training_set(config, cache_dir=out_dir / "cache")
        self.fingerprint = data_fingerprint(config)
        train_idx, val_idx = split_train_val(len(data), config.val_fraction, config.seed)
        torch.manual_seed(config.seed)
        self.model = ConvVAE(VAEConfig(input_size=data.patterns.shape[-1], latent_dim=config.latent_dim,
                                       channels=config.channels)).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        if not config.resume:
            _clear_previous_run(out_dir)
        self.state = _resume(config, self.fingerprint, self.model, self.optimizer, out_dir)
        self.resumed_from, self.resumed_at_batch = self.state.epoch, self.state.batch
        self.scheduler = lr_scheduler(self.optimizer, config, self.state.epoch)
        self.info = _run_description(config, data, self.fingerprint, len(train_idx), len(val_idx),
                                     self.device, config.name or default_name(config.data))
        self.train_set = _Patterns(data.patterns, train_idx, self.device)
        self.val_set = _Patterns(data.patterns, val_idx, self.device)
        self.preview_idx = np.linspace(0, len(val_idx) - 1, min(config.num_previews, len(val_idx))).astype(int)
        self.epoch_size = min(config.patterns_per_epoch or len(self.train_set), len(self.train_set))
        self.batches_per_epoch = -(-self.epoch_size // config.batch_size)
        self.estimate, self.on_pace, self.last_pace = None, None, 0.0

    def train(self, callback, stop_event, on_pace=None) -> TrainResult:
        config, state = self.config, self.state
        outputs.write_json({**self.info, "status": "running"}, self.out_dir / outputs.CONFIG_FILE)
        deadline = self.started + 60 * config.max_minutes if config.max_minutes else None
        stop_reason = "already_done" if state.epoch >= config.epochs else "completed"
        if state.epoch < config.epochs:
            self.meter = PaceMeter(config.epochs, self.batches_per_epoch,
                                   state.epoch * self.batches_per_epoch + state.batch, self.validation_seconds(),
                                   sync=lambda: _sync(self.device))
        self.on_pace = on_pace
        should_stop = _stop_check(stop_event, deadline)
        while state.epoch < config.epochs:
            try:
                report = self.epoch(state.epoch + 1, should_stop)
            except TrainingError as exc:
                self.finish(f"diverged: {exc}")
                raise
            if report is None:  # stopped mid-epoch: the checkpoint holds its last finished batch
                stop_reason = should_stop.reason
                break
            if callback:
                callback(report)
            if config.patience and state.bad_epochs >= config.patience and state.epoch < config.epochs:
                stop_reason = "early_stop"
                break
            if should_stop():
                stop_reason = should_stop.reason
                break
        self.finish(stop_reason)
        return TrainResult(self.out_dir, self.out_dir / outputs.MODEL_FILE, state.history, state.best_epoch,
                           state.best_val, stop_reason, self.resumed_from, len(self.train_set), len(self.val_set),
                           str(self.device), time.monotonic() - self.started, self.resumed_at_batch, self.estimate)

    def epoch(self, epoch: int, should_stop) -> EpochReport | None:
        """Train one epoch (from the batch a resumed run stopped at), validate, checkpoint; None when
        stopped part-way, after checkpointing the last finished batch."""
        config, state = self.config, self.state
        beta = kl_weight(config, epoch)
        epoch_start = time.monotonic()
        patterns_before = state.partial_count
        train = self.train_pass(epoch, beta, should_stop)
        if train is None:
            return None
        train_seconds = time.monotonic() - epoch_start
        val = evaluate(self.model, self.val_set, beta, config.batch_size, self.device)
        check_finite_losses(epoch, train, val, config, state.best_epoch)
        is_best = _update_best(state, epoch, val["loss"], beta, config.min_delta)
        report = EpochReport(epoch, config.epochs, beta, train["loss"], train["rec"], train["kl"], val["loss"],
                             val["rec"], val["kl"], time.monotonic() - epoch_start,
                             (train["count"] - patterns_before) / train_seconds, is_best,
                             *_previews(self.model, self.val_set, self.preview_idx, self.device))
        state.epoch = epoch
        state.history.append(report.row())
        if is_best:
            save_model(self.model, self.out_dir / outputs.MODEL_FILE, self.info)
        _save_checkpoint(self.model, self.optimizer, state, config, self.fingerprint, self.out_dir)
        outputs.write_loss_csv(state.history, self.out_dir / outputs.LOSS_CSV)
        if self.scheduler is not None:
            self.scheduler.step()  # the next epoch's rate (after the save: the checkpoint holds this epoch's)
        self.meter.epoch_done(time.monotonic() - epoch_start - train_seconds)
        self.report_pace(force=True)
        return report

    def train_pass(self, epoch: int, beta: float, should_stop) -> dict | None:
        """The epoch's batches, from the one a resumed run stopped at: its mean losses (and "count", the
        patterns trained on), or None when stopped, after checkpointing the last finished batch."""
        config, state = self.config, self.state
        self.model.train()
        order = batch_order(len(self.train_set), config.seed, epoch)[:self.epoch_size]
        starts = range(0, len(order), config.batch_size)
        totals = torch.tensor(state.partial_sums, dtype=torch.float64, device=self.device)  # summed on the device
        count, first = state.partial_count, state.batch
        self.meter.epoch_started()
        for index in range(first, len(starts)):
            if should_stop():
                if index > first:  # batches were done since the last checkpoint
                    state.batch, state.partial_sums, state.partial_count = index, totals.tolist(), count
                    _save_checkpoint(self.model, self.optimizer, state, config, self.fingerprint, self.out_dir)
                return None
            chunk = order[starts[index]:starts[index] + config.batch_size]
            if len(chunk) >= 2:  # batch norm cannot train on a single pattern
                totals += self.step(self.train_set.batch(chunk), beta) * len(chunk)
                count += len(chunk)
            self.meter.batch_done()
            self.report_pace()
        state.batch, state.partial_sums, state.partial_count = 0, [0.0, 0.0, 0.0], 0
        return {**dict(zip(LOSS_PARTS, (totals / max(count, 1)).tolist())), "count": count}

    def step(self, batch: torch.Tensor, beta: float) -> torch.Tensor:
        """One optimizer step; the batch's LOSS_PARTS, on the device (no sync per batch)."""
        with _autocast(self.device):
            reconstruction, mu, logvar = self.model(batch)
        losses = vae_loss(reconstruction, batch, mu, logvar, beta)
        self.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return torch.stack([losses[name].detach().double() for name in LOSS_PARTS])

    def report_pace(self, force: bool = False) -> None:
        """Keep the estimate once the meter has one; call on_pace with it, then every PACE_INTERVAL (or `force`)."""
        if not self.meter.ready:
            return
        first = self.estimate is None
        if first:
            self.estimate = self.meter.pace()
        now = time.monotonic()
        if self.on_pace is not None and (first or force or now - self.last_pace >= PACE_INTERVAL):
            self.last_pace = now
            self.on_pace(self.estimate if first else self.meter.pace())

    @torch.no_grad()
    def validation_seconds(self) -> float:
        """One validation pass's seconds, from timing its first chunk (the estimate's share for
        validation until an epoch has ended). Evaluation draws no random numbers: resuming stays exact."""
        chunk = self.config.batch_size * VALIDATION_CHUNK
        self.model.eval()
        start = time.monotonic()
        with _autocast(self.device):
            self.model(self.val_set.batch(np.arange(min(chunk, len(self.val_set)))))
        _sync(self.device)
        return (time.monotonic() - start) * -(-len(self.val_set) // chunk)

    def finish(self, stop_reason: str) -> None:
        """Reload the best weights, then write the figures, loss table and final config.json."""
        state, out_dir = self.state, self.out_dir
        model_path = out_dir / outputs.MODEL_FILE
        if model_path.is_file():
            checkpoint = torch.load(model_path, map_location=self.device, weights_only=True)
            self.model.load_state_dict(checkpoint["model"])
        inputs, reconstructions = _previews(self.model, self.val_set, self.preview_idx, self.device)
        outputs.plot_reconstructions(inputs, reconstructions, out_dir / outputs.RECONSTRUCTIONS_PNG)
        outputs.write_loss_csv(state.history, out_dir / outputs.LOSS_CSV)
        if state.history:
            outputs.plot_loss_curve(state.history, out_dir / outputs.LOSS_PNG, state.best_epoch)
        result = {"status": stop_reason, "epochs_done": state.epoch, "batches_done": state.batch,
                  "batches_per_epoch": self.batches_per_epoch, "best_epoch": state.best_epoch,
                  "best_val_loss": state.best_val if state.history else None,
                  "final": state.history[-1] if state.history else None,
                  "seconds_this_call": time.monotonic() - self.started}
        outputs.write_json({**self.info, "result": result}, out_dir / outputs.CONFIG_FILE)
        shutil.rmtree(out_dir / "cache", ignore_errors=True)  # a memory-mapped copy of large training sets


# -- the loss and one epoch ------------------------------------------------------------------------

def vae_loss(reconstruction, target, mu, logvar, beta: float) -> dict[str, torch.Tensor]:
    """Per-pattern means: summed squared error over pixels, KL to N(0, I) summed over latents."""
    rec = F.mse_loss(reconstruction.float(), target, reduction="sum") / len(target)
    kl = -0.5 * torch.sum(1 + logvar.float() - mu.float() ** 2 - logvar.float().exp()) / len(target)
    return {"loss": rec + beta * kl, "rec": rec, "kl": kl}


def kl_weight(config: TrainConfig, epoch: int) -> float:
    """beta, ramped linearly from 0 at epoch 1 to full at epoch kl_warmup_epochs + 1."""
    if config.kl_warmup_epochs <= 0:
        return config.beta
    return config.beta * min(1.0, (epoch - 1) / config.kl_warmup_epochs)


def lr_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig,
                 epochs_done: int = 0) -> CosineAnnealingLR | None:
    """Set the optimizer to the learning rate of epoch `epochs_done + 1`: constant `lr` (None, no
    scheduler), or a cosine from `lr` at epoch 1 to `LR_FLOOR * lr` at the last epoch, stepped once
    after each epoch. A resumed run replays the steps of the epochs done (with the epochs asked for
    now), so that its rates are the very floats of an uninterrupted run."""
    for group in optimizer.param_groups:
        group["lr"] = config.lr  # a plain float: the optimizer state goes into a weights_only checkpoint
    if config.lr_schedule == "constant" or config.epochs == 1:
        return None
    for group in optimizer.param_groups:
        group["initial_lr"] = config.lr
    scheduler = CosineAnnealingLR(optimizer, T_max=config.epochs - 1, eta_min=LR_FLOOR * config.lr)
    with warnings.catch_warnings():  # the replayed steps come before this optimizer's first step, on purpose
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler", category=UserWarning)
        for _ in range(epochs_done):
            scheduler.step()
    return scheduler


def check_finite_losses(epoch: int, train: dict, val: dict, config: TrainConfig, best_epoch: int) -> None:
    """TrainingError when an epoch's losses are not all finite, naming the epoch and the likely cause."""
    bad = [f"{split} {name} = {value}" for split, losses in (("train", train), ("validation", val))
           for name, value in losses.items() if not np.isfinite(value)]
    if not bad:
        return
    if any(" kl " in f" {b} " for b in bad) and all(np.isfinite([train["rec"], val["rec"]])):
        cause = "the KL term overflowed (the latent means ran away): lower the learning rate or raise beta"
    else:
        cause = (f"the weights diverged: lower the learning rate (now {config.lr:g}) or the gradient clip "
                 f"(now {config.grad_clip}), or check the patterns for extreme values")
    kept = f"the best model so far (epoch {best_epoch}) is kept" if best_epoch else "no model was saved"
    raise TrainingError(f"training stopped at epoch {epoch}: the loss is no longer finite ({', '.join(bad)}); "
                        f"likely cause: {cause}; {kept}")


def batch_order(count: int, seed: int, epoch: int) -> np.ndarray:
    """The epoch's shuffle, from a generator of its own: the same order when a run resumes."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(count, generator=generator).numpy()


@torch.no_grad()
def evaluate(model, patterns: "_Patterns", beta: float, batch_size: int, device) -> dict[str, float]:
    """Validation losses with z = mu (deterministic), per pattern."""
    model.eval()
    totals = {"loss": 0.0, "rec": 0.0, "kl": 0.0}
    for start in range(0, len(patterns), batch_size * VALIDATION_CHUNK):
        chunk = np.arange(start, min(start + batch_size * VALIDATION_CHUNK, len(patterns)))
        batch = patterns.batch(chunk)
        with _autocast(device):
            reconstruction, mu, logvar = model(batch)
        for name, value in vae_loss(reconstruction, batch, mu, logvar, beta).items():
            totals[name] += float(value) * len(chunk)
    return {name: value / len(patterns) for name, value in totals.items()}


@torch.no_grad()
def encode_patterns(model: ConvVAE, patterns: np.ndarray, batch_size: int = 256, device="cpu") -> np.ndarray:
    """mu (N, latent_dim) of preprocessed patterns (N, 1, S, S), in float32."""
    model = model.to(device).eval()
    rows = [model.encode(torch.as_tensor(patterns[i:i + batch_size]).to(device))[0].float().cpu()
            for i in range(0, len(patterns), batch_size)]
    return torch.cat(rows).numpy()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


class _Patterns:
    """Rows `indices` of the pattern array, served as device tensors: the whole set is copied to
    the device once when it is in memory and small enough, else each batch is read (sorted, so a
    memory-mapped cache is read forwards)."""

    def __init__(self, patterns: np.ndarray, indices: np.ndarray, device: torch.device):
        self.device = device
        resident = not isinstance(patterns, np.memmap) and len(indices) * patterns[0].nbytes <= DEVICE_RESIDENT_BYTES
        self.patterns = torch.from_numpy(patterns[indices]).to(device) if resident else patterns
        self.indices = None if resident else indices

    def __len__(self):
        return len(self.patterns) if self.indices is None else len(self.indices)

    def batch(self, positions: np.ndarray) -> torch.Tensor:
        if self.indices is None:
            return self.patterns[torch.as_tensor(positions, device=self.device)]
        rows = np.sort(self.indices[positions])
        return torch.from_numpy(np.asarray(self.patterns[rows])).to(self.device, non_blocking=True)


def _stop_check(stop_event, deadline):
    def should_stop() -> bool:
        if stop_event is not None and stop_event.is_set():
            should_stop.reason = "stopped"
            return True
        if deadline is not None and time.monotonic() > deadline:
            should_stop.reason = "time_limit"
            return True
        return False
    should_stop.reason = ""
    return should_stop


def _update_best(state: _State, epoch: int, val_loss: float, beta: float, min_delta: float) -> bool:
    """A new best when the validation loss improved by min_delta (relative), or when beta changed
    since the best (warm-up): losses under different betas cannot be compared."""
    if beta != state.best_beta or val_loss < state.best_val * (1 - min_delta):
        state.best_epoch, state.best_val, state.best_beta, state.bad_epochs = epoch, val_loss, beta, 0
        return True
    state.bad_epochs += 1
    return False


@torch.no_grad()
def _previews(model, val_set: _Patterns, preview_idx, device):
    model.eval()
    batch = val_set.batch(preview_idx)
    reconstruction = model(batch)[0].float()
    return batch[:, 0].float().cpu().numpy(), reconstruction[:, 0].cpu().numpy()


# -- checkpoints, resuming and the run directory ----------------------------------------------------

def data_fingerprint(config: TrainConfig) -> dict[str, str | None]:
    """SHA-256 of every input (of each file's name and hash for a folder): a resumed run must
    train on the same bytes."""
    bandcontrast = config.bandcontrast
    digests = [_input_digest(path) for path in config.sources]
    return {"data": digests[0] if len(digests) == 1 else digests,
            "keep_coordinates": _input_digest(config.keep_coordinates),
            # a scan's own map lives in the data file, whose digest covers it
            "bandcontrast": bandcontrast.spec if bandcontrast and bandcontrast.from_scan else
            _input_digest(bandcontrast and bandcontrast.path)}


def _input_digest(path) -> str | None:
    return sha256_path(path) if path else None


def _save_checkpoint(model, optimizer, state: _State, config, fingerprint, out_dir: Path) -> None:
    """Everything a resumed run needs, written under a temporary name and renamed when complete: a
    stop during the write leaves the previous checkpoint whole."""
    checkpoint = {**model.checkpoint(), "optimizer": optimizer.state_dict(), "rng_state": torch.get_rng_state(),
                  "train_config": config.to_dict(), "fingerprint": fingerprint, "state": dataclasses.asdict(state)}
    if torch.cuda.is_available():
        checkpoint["cuda_rng_state"] = torch.cuda.get_rng_state()
    with atomic_path(out_dir / outputs.CHECKPOINT_FILE) as tmp:
        torch.save(checkpoint, tmp)


def save_model(model: ConvVAE, path, run_info: dict) -> Path:
    """`ConvVAE.checkpoint()` plus its name and plain facts (preprocessing, data, versions): loads with weights_only."""
    checkpoint = {**model.checkpoint(), "name": run_info["model"]["name"], "preprocess": run_info["preprocess"],
                  "training": {"data": run_info["data"]["name"], "data_sha256": run_info["data"]["sha256"],
                               "seed": run_info["train"]["seed"], "val_fraction": run_info["train"]["val_fraction"],
                               "latentcore": run_info["versions"].get("latentcore", "")}}
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return Path(path)


RESUME_KEYS = {"arch", "model", "optimizer", "rng_state", "train_config", "fingerprint", "state"}  # _save_checkpoint's


def _resume(config: TrainConfig, fingerprint, model, optimizer, out_dir: Path) -> _State:
    path = out_dir / outputs.CHECKPOINT_FILE
    if not path.is_file():
        return _State()
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged checkpoint must not be silently replaced by a fresh run
        raise CheckpointError(f"cannot resume from this checkpoint ({exc}); delete it or use another out dir",
                              path) from exc
    foreign = CheckpointError("a foreign checkpoint: not a train-vae run's (another model or architecture); use a "
                              "new out dir, or resume=False / --no-resume to start over", path)
    if not (isinstance(checkpoint, dict) and RESUME_KEYS <= checkpoint.keys() and checkpoint["arch"] == "vae"):
        raise foreign
    changed = config.changes_blocking_resume(checkpoint.get("train_config", {}))
    changed += [f"{name} (content)" for name, digest in fingerprint.items()
                if checkpoint.get("fingerprint", {}).get(name) != digest]
    if changed:
        raise InputError(f"the run here was trained with other settings or data ({', '.join(changed)}): "
                         "use a new out dir, or resume=False / --no-resume to start over", path)
    try:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:  # weights of another shape than its settings make
        raise foreign from exc
    torch.set_rng_state(checkpoint["rng_state"])
    if "cuda_rng_state" in checkpoint and torch.cuda.is_available():
        torch.cuda.set_rng_state(checkpoint["cuda_rng_state"])
    return _State(**checkpoint["state"])


def _clear_previous_run(out_dir: Path) -> None:
    for name in (outputs.CHECKPOINT_FILE, outputs.MODEL_FILE, outputs.LOSS_CSV, outputs.LOSS_PNG,
                 outputs.RECONSTRUCTIONS_PNG):
        (out_dir / name).unlink(missing_ok=True)


def _run_description(config, data: PatternSet, fingerprint, n_train, n_val, device, name: str) -> dict:
    side = int(data.patterns.shape[-1])
    first, several = data.sources[0], len(data.sources) > 1
    described = {"name": f"{first['name']} and {len(data.sources) - 1} more" if several else first["name"],
                 "format": first["format"], "sha256": fingerprint["data"], "partition": data.partition,
                 "pattern_shape": first["pattern_shape"], "n_source": data.n_source, "n_selected": len(data),
                 "n_train": n_train, "n_val": n_val}
    if several:  # each source's counts: the same number of patterns from each
        described["sources"] = [{**source, "sha256": digest}
                                for source, digest in zip(data.sources, fingerprint["data"])]
    return {
        "train": config.record(),
        "model": {"name": name, "arch": "vae", "input_size": side, "in_channels": 1, "latent_dim": config.latent_dim,
                  "channels": list(config.channels)},
        "preprocess": {"patterns": data.preprocessing, "crop": config.crop, "resize": "bilinear",
                       "input_size": side, "normalize": "minmax"},
        "data": described,
        "filters": {**data.filters, **{f"{k}_sha256": v for k, v in fingerprint.items() if k != "data" and v}},
        "device": str(device),
        "versions": package_versions((*PACKAGES, "matplotlib")),
    }

