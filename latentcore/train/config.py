"""Every hyperparameter of a VAE training run, in one plain dataclass (whole in the checkpoint, its `record` in
config.json); and `openmp_waits_sleep`, which a process that trains calls before torch loads."""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from ..analysis.roi import Roi
from ..data.bandcontrast import BandContrast
from ..data.preprocess import Preprocessing
from ..errors import InputError

BUDGET_SECONDS = 180.0  # the sized default run (`sizing`): a few minutes of training

# Settings that may change when an interrupted run is resumed; any other change needs a new run.
# (Input files are compared by content hash, not by path: see trainer.data_fingerprint.)
LR_SCHEDULES = ("cosine", "constant")
LR_FLOOR = 0.05  # the cosine schedule ends at this fraction of lr
RESUMABLE_CHANGES = ("epochs", "device", "threads", "patience", "min_delta", "max_minutes", "out_dir", "resume",
                     "data", "bandcontrast", "keep_coordinates", "name", "sizing")
NAME_LENGTH = 80  # characters of a model's name at most


@dataclasses.dataclass
class TrainConfig:
    """What to train on and how (`to_dict`: its JSON form, which `from_dict` reads back; `record`: config.json's).

    Data: `data` (any pattern source `open_source` reads; or several, a study: `sources`, each giving the training
    set as many patterns as the smallest gives, `dataset.load_training_set`), `partition` (default: the first),
    filters `bandcontrast` (a `BandContrast`: a table x,y,bandcontrast or the scan's own map) with
    `bc_min`/`bc_max`, `roi` (a `Roi`), `keep_coordinates` CSV/NPY of x,y to keep.
    Preprocessing (as extraction applies it): `preprocessing` (static/dynamic background, neighbour
    averaging: data.preprocess.Preprocessing, or its dict), then (extract.prepare_batch) optional
    centre `crop` (pixels, before resizing), bilinear resize to `input_size`, each pattern min-max
    to [-1, 1].
    Loss: per-pattern summed squared error + beta * KL, beta ramped from 0 over `kl_warmup_epochs`.
    Pace: `patterns_per_epoch` trains each epoch on that many of the training patterns (a seeded draw,
    another each epoch; None: all of them); `threads`, torch's CPU threads (None: its default); `train.sizing`
    chooses both, and the model's size, for the machine and the data, and `sizing` records that choice and what
    it was made from (`Sized.record()`: the patterns, the cores, the rate measured; None: nothing sized).
    `name` is the model's name, recorded in its checkpoint: latents files, the sidebar and the Compare page
    name the model by it ("": the data's stem and the time the run starts, `default_name`).
    Stability: the model bounds logvar, each step's gradient norm is clipped to `grad_clip`, the
    learning rate follows `lr_schedule` (a function of the epoch, so resuming repeats it exactly), and
    a loss that stops being finite ends the run with a TrainingError naming the epoch.
    """

    data: str | tuple[str, ...]  # one path; several: a tuple (`sources` gives both as a tuple)
    out_dir: str
    partition: str | None = None
    bandcontrast: BandContrast | None = None
    bc_min: float | None = None
    bc_max: float | None = None
    roi: Roi | None = None
    keep_coordinates: str | None = None
    # Static and dynamic background subtraction by default: on simulated raw scans (benchmarks/train_quality.py)
    # the VAE's grain ARI was 0.18 and 0.01 without them (PCA 0.46, 0.40), 0.60 and 0.59 with them (PCA 0.57, 0.47).
    preprocessing: Preprocessing | dict | None = dataclasses.field(default_factory=lambda: Preprocessing(
        static_background="subtract", dynamic_background="subtract"))  # None: no correction or averaging
    crop: int | None = None
    input_size: int | None = 60  # None: the (cropped) pattern side
    latent_dim: int = 16
    channels: tuple[int, ...] = (32, 64, 128)
    # beta 0.5 (was 0.05): on the simulated scans of benchmarks/train_quality.py (GPU, seeds 0 and 1) the smoothed
    # KMeans ARI of mu rose from 0.89 / 0.81 to 0.97 / 0.98 on low contrast and reached PCA's unsmoothed ARI within
    # 0.02 on 7 of 8 runs (4 of 8 with 0.05); 0.01 was worse, 0.2 in between
    beta: float = 0.5
    kl_warmup_epochs: int = 2
    epochs: int = 30
    batch_size: int = 64
    patterns_per_epoch: int | None = None
    lr: float = 2e-3
    lr_schedule: str = "cosine"  # "cosine": from lr down to LR_FLOOR * lr at the last epoch; or "constant"
    grad_clip: float | None = 100.0  # largest gradient norm of a step (None: no clipping)
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    name: str = ""
    sizing: dict | None = None  # a record: the run trains as the fields above say
    # epochs without validation improvement before stopping (None: never). 10, was 5: the cosine schedule's low
    # learning rates come last, and with 5 one of eight CPU runs of benchmarks/train_quality.py (low contrast, seed 1)
    # stopped at epoch 16 with ARI 0.60 vs PCA 0.80 (smoothed 0.94); with 10 it ran its 30 epochs: 0.79 (0.98)
    patience: int | None = 10
    min_delta: float = 1e-3  # relative improvement that counts
    max_minutes: float | None = None  # stop (keeping the best model) once this much time was spent
    num_previews: int = 8  # patterns shown in reconstructions.png
    resume: bool = True  # continue from out_dir/checkpoint.pth when it exists

    def __post_init__(self):
        self.data = str(self.data) if isinstance(self.data, (str, Path)) else tuple(str(d) for d in self.data)
        if isinstance(self.data, tuple) and len(self.data) == 1:
            self.data = self.data[0]  # a study of one is the file
        self.out_dir = str(self.out_dir)
        self.name = " ".join(str(self.name or "").split())
        self.channels = tuple(int(c) for c in self.channels)
        if not isinstance(self.preprocessing, Preprocessing):
            self.preprocessing = Preprocessing.from_dict(self.preprocessing)
        if self.roi is not None and not isinstance(self.roi, Roi):
            raise TypeError(f"a training's ROI is a Roi (Roi.from_json of {self.roi!r})")
        if self.bandcontrast is not None and not isinstance(self.bandcontrast, BandContrast):
            raise TypeError(f"a training's band contrast is a BandContrast, got {self.bandcontrast!r}")
        self.validate()

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.data,) if isinstance(self.data, str) else self.data

    def validate(self) -> None:
        """One place for argument checks: each error names the argument and the bad value."""
        several = len(self.sources) > 1
        checks = [
            (len(self.sources) >= 1, "data must name at least one pattern source"),
            (len(set(self.sources)) == len(self.sources), "data must name each source once: give each file once"),
            (not several or self.bandcontrast is None or self.bandcontrast.from_scan,
             "bandcontrast from a table belongs to one scan: give each scan's own map (scan) with several sources"),
            (not several or not self.keep_coordinates,
             "keep_coordinates lists one scan's points: give it with one source"),
            (self.latent_dim >= 1, "latent_dim must be >= 1"),
            (len(self.channels) >= 1 and min(self.channels) >= 1, "channels must be one or more positive widths"),
            (self.input_size is None or self.input_size >= 4, "input_size must be >= 4 pixels"),
            (self.crop is None or self.crop >= 4, "crop must be >= 4 pixels"),
            (self.beta >= 0, "beta must be >= 0"),
            (self.kl_warmup_epochs >= 0, "kl_warmup_epochs must be >= 0"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size >= 2, "batch_size must be >= 2 (batch norm needs two patterns)"),
            (self.patterns_per_epoch is None or self.patterns_per_epoch >= 2,
             "patterns_per_epoch must be >= 2 (or None: all)"),
            (self.threads is None or self.threads >= 1, "threads must be >= 1 (or None: torch's default)"),
            (not self.name or len(self.name) <= NAME_LENGTH and any(c.isalnum() for c in self.name),
             f"name must hold a letter or digit and at most {NAME_LENGTH} characters"),
            (self.lr > 0, "lr must be > 0"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {LR_SCHEDULES}"),
            (self.grad_clip is None or self.grad_clip > 0, "grad_clip must be > 0 (or None)"),
            (0 < self.val_fraction < 1, "val_fraction must lie strictly between 0 and 1"),
            (self.device in ("auto", "cpu", "cuda"), "device must be one of auto, cpu or cuda"),
            (self.patience is None or self.patience >= 1, "patience must be >= 1 (or None)"),
            (self.max_minutes is None or self.max_minutes > 0, "max_minutes must be > 0"),
            ((self.bc_min is None and self.bc_max is None) or self.bandcontrast is not None,
             "bc_min/bc_max need a bandcontrast table (give one)"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(f"{message}, got {self._value_named_in(message)!r}")

    def _value_named_in(self, message: str):
        return getattr(self, message.split()[0].split("/")[0], None)

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["channels"] = list(self.channels)
        values["data"] = list(self.data) if isinstance(self.data, tuple) else self.data
        values["roi"] = self.roi.to_json() if self.roi is not None else None
        values["bandcontrast"] = self.bandcontrast.spec if self.bandcontrast is not None else None
        return values

    def record(self) -> dict:
        """The config as its run's report (config.json) keeps it: `to_dict` with its inputs by their file names
        (their SHA-256 are in the report's `data` and `filters`) and without the output folder: a report names no
        server path."""
        values = self.to_dict()
        del values["out_dir"]
        values.update({name: Path(values[name]).name for name in ("keep_coordinates",) if values[name]})
        values["data"] = [Path(d).name for d in self.sources] if len(self.sources) > 1 else Path(self.data).name
        if self.bandcontrast is not None and not self.bandcontrast.from_scan:
            values["bandcontrast"] = self.bandcontrast.path.name
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """The config a config.json (`to_dict`) holds: the ROI and the band contrast in their JSON forms."""
        known = {f.name for f in dataclasses.fields(cls)}
        spec = values.get("bandcontrast")
        return cls(**{**{k: v for k, v in values.items() if k in known}, "roi": Roi.from_json(values.get("roi")),
                      "bandcontrast": BandContrast.parse(spec) if spec else None})

    def changes_blocking_resume(self, previous: dict) -> list[str]:
        """Names of settings that differ from a previous run's and make resuming it wrong."""
        mine = self.to_dict()
        return sorted(name for name, value in mine.items()
                      if name not in RESUMABLE_CHANGES and previous.get(name, value) != value)


def training_patterns(counts: list[int]) -> int:
    """The patterns a run on sources of `counts` patterns trains on: as many from each as the smallest holds
    (`dataset.load_training_set`), all of one source's."""
    return len(counts) * min(counts)


def default_name(data) -> str:
    """A trained model's name unless one is given: the data's stem and the local time, `ni_scan-20261125-1412`;
    for several sources the first one's stem and how many more, `ni_scan+2-20261125-1412`."""
    sources = (data,) if isinstance(data, (str, Path)) else tuple(data)
    more = f"+{len(sources) - 1}" if len(sources) > 1 else ""
    return f"{Path(str(sources[0])).stem or 'vae'}{more}-{time.strftime('%Y%m%d-%H%M')}"


def openmp_waits_sleep() -> None:
    """OpenMP threads that wait for the others sleep rather than spin (OMP_WAIT_POLICY=PASSIVE unless it is set):
    OpenMP reads it when torch loads it, so a process calls this before. The sizing gives a run a thread per core
    whatever the load; beside other busy processes, spinning waits took the time slices the other thread needed:
    2 threads trained a batch 4-10x slower than with sleeping waits (docs/benchmarks.md, 2026-11-27)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
