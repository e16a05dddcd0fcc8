"""The files of a run directory besides the weights: config.json, loss.csv, loss_curve.png and
reconstructions.png. Each is written under a temporary name and renamed when complete. Figures use
matplotlib's object API (no pyplot), so a training thread in the app touches no global state.
Reading runs back (the Train page after a reload, in any tab): `last_finished_run`, `stopped_runs`; the settings a
run in a folder was started with (`previous_settings`: train-vae resumes with them); how much its last epochs
improved the validation loss (`recent_improvement`: what more epochs would buy)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..data.bandcontrast import BandContrast
from ..storage import atomic_path
from ..storage.csv_cells import neutralised_table
from .config import TrainConfig

MODEL_FILE = "vae_model.pth"
CHECKPOINT_FILE = "checkpoint.pth"  # full training state, for resuming
LOCK_FILE = "run.lock"  # locked while a train_vae call works in the folder
CONFIG_FILE = "config.json"
LOSS_CSV = "loss.csv"
LOSS_PNG = "loss_curve.png"
RECONSTRUCTIONS_PNG = "reconstructions.png"
LOSS_COLUMNS = ["epoch", "beta", "train_loss", "train_rec", "train_kl", "val_loss", "val_rec", "val_kl",
                "seconds", "patterns_per_second"]


def write_json(values: dict, path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(values, indent=2, default=str))
    return Path(path)


def write_loss_csv(history: list[dict], path) -> Path:
    with atomic_path(path) as tmp:
        neutralised_table(pd.DataFrame(history, columns=LOSS_COLUMNS)).to_csv(tmp, index=False)
    return Path(path)


def _save(figure: Figure, path) -> Path:
    FigureCanvasAgg(figure)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return Path(path)


def loss_scale(values) -> str:
    """"log" when every finite loss is > 0 (losses span decades), else "linear": a log axis cannot
    show zero or negative values (a reconstruction-only loss can reach 0, a custom one go below)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return "log" if values.size and (values > 0).all() else "linear"


def plot_loss_curve(history: list[dict], path, best_epoch: int | None = None) -> Path:
    table = pd.DataFrame(history, columns=LOSS_COLUMNS)
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    axes.plot(table["epoch"], table["train_loss"], marker="o", ms=3, label="train")
    axes.plot(table["epoch"], table["val_loss"], marker="o", ms=3, label="validation")
    if best_epoch:
        axes.axvline(best_epoch, color="grey", ls="--", lw=1, label=f"best (epoch {best_epoch})")
    scale = loss_scale(table[["train_loss", "val_loss"]].to_numpy())
    axes.set(xlabel="epoch", ylabel=f"loss per pattern (reconstruction + beta KL){', log scale' * (scale == 'log')}",
             yscale=scale)
    axes.legend()
    return _save(figure, path)


def recent_improvement(history: list[dict], epochs: int = 5) -> tuple[float, int] | None:
    """(the validation loss's mean relative fall per epoch, the epochs it is measured over) over the last `epochs`
    epochs trained at the last epoch's beta (losses under another beta, in the KL warm-up, do not compare); None
    with fewer than two. 0.01: 1 % per epoch; below 0: it rose."""
    table = pd.DataFrame(history, columns=LOSS_COLUMNS)
    if table.empty:
        return None
    last = table[table["beta"] == table["beta"].iloc[-1]].tail(epochs)["val_loss"].to_numpy(np.float64)
    if len(last) < 2 or not np.isfinite(last).all() or last[0] == 0:
        return None
    return float((last[0] - last[-1]) / abs(last[0]) / (len(last) - 1)), len(last)


def improvement_text(history: list[dict]) -> str:
    """What more epochs would buy, from the loss curve's end: "the validation loss fell 0.4 % per epoch over
    the last 5 epochs" ("" when too few epochs ran)."""
    found = recent_improvement(history)
    if found is None:
        return ""
    rate, epochs = found
    return f"the validation loss {'fell' if rate >= 0 else 'rose'} {abs(rate):.2%} per epoch over the last {epochs} epochs"


def plot_reconstructions(inputs: np.ndarray, reconstructions: np.ndarray, path) -> Path:
    """Inputs (top row) above their reconstructions (bottom row), on one [-1, 1] grey scale."""
    count = len(inputs)
    figure = Figure(figsize=(1.6 * count, 3.4))
    for i in range(count):
        for row, (images, title) in enumerate(((inputs, "input"), (reconstructions, "reconstruction"))):
            axes = figure.add_subplot(2, count, row * count + i + 1)
            axes.imshow(np.squeeze(images[i]), cmap="gray", vmin=-1, vmax=1)
            axes.set_axis_off()
            if i == 0:
                axes.set_title(title, fontsize=8, loc="left")
    return _save(figure, path)


# -- reading a finished run back (the Train page after a reload) ---------------------------------

FINISHED = ("completed", "early_stop", "time_limit", "stopped", "already_done")
RESUMABLE = ("stopped", "time_limit")  # ended before its epochs: the same config goes on from the checkpoint


def read_run(out_dir) -> dict | None:
    """A run directory as its files describe it, once the run has ended with a model: {"out_dir",
    "model_path", "status", "best_epoch", "best_val_loss", "epochs_done", "latent_dim", "name", "history"
    (loss.csv's rows), "files" (name -> path of those present: config, loss table, figures, model)};
    None for a run still going, one that failed before its end, or a folder that is not a run."""
    out_dir = Path(out_dir)
    try:
        info = json.loads((out_dir / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return None
    result = info.get("result") if isinstance(info, dict) else None
    model_path = out_dir / MODEL_FILE
    if not isinstance(result, dict) or result.get("status") not in FINISHED or not model_path.is_file():
        return None
    try:
        history = pd.read_csv(out_dir / LOSS_CSV).to_dict("records")
    except (OSError, ValueError):
        history = []
    names = (CONFIG_FILE, LOSS_CSV, LOSS_PNG, RECONSTRUCTIONS_PNG, MODEL_FILE)
    return {"out_dir": out_dir, "model_path": model_path, "status": result["status"],
            "best_epoch": result.get("best_epoch"), "best_val_loss": result.get("best_val_loss"),
            "epochs_done": result.get("epochs_done"), "latent_dim": (info.get("model") or {}).get("latent_dim"),
            "name": (info.get("model") or {}).get("name") or "",
            "history": history, "files": {n: out_dir / n for n in names if (out_dir / n).is_file()}}


def previous_settings(out_dir) -> dict | None:
    """The TrainConfig fields of the run in `out_dir` as its config.json records them, or None when it holds none."""
    try:
        settings = json.loads((Path(out_dir) / CONFIG_FILE).read_text())["train"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return settings if isinstance(settings, dict) else None


def stopped_runs(folder, inputs=()) -> list[dict]:
    """The runs under `folder` that stopped before their epochs and go on from their checkpoint (config.json
    says "stopped" or "time_limit", checkpoint.pth is there), newest first: {"out_dir", "config" (the run's
    TrainConfig, which resumes it), "status", "epochs_done", "batches_done" (of the next epoch),
    "batches_per_epoch"}. config.json names the run's files by name alone (`TrainConfig.record`): each is found
    among `inputs` (the files a caller can train on) by its name, else stays a bare name (`inputs_found` says
    which); resuming checks their content against the checkpoint's. Folders whose files say otherwise, or that
    cannot be read, are left out."""
    by_name = {Path(path).name: str(path) for path in inputs}
    runs = []
    for out_dir in (p for p in Path(folder).glob("*") if (p / CHECKPOINT_FILE).is_file()):
        try:
            info = json.loads((out_dir / CONFIG_FILE).read_text())
            result = info["result"]
            if result["status"] not in RESUMABLE:
                continue
            config = TrainConfig.from_dict({**_found_inputs(info["train"], by_name), "out_dir": str(out_dir),
                                            "resume": True})
            run = {"out_dir": out_dir, "config": config, "status": result["status"],
                   "epochs_done": int(result["epochs_done"]), "batches_done": int(result.get("batches_done") or 0),
                   "batches_per_epoch": result.get("batches_per_epoch")}
            runs.append(((out_dir / CONFIG_FILE).stat().st_mtime_ns, str(out_dir), run))
        except (OSError, ValueError, KeyError, TypeError):  # not a run's files, or damaged: nothing to offer
            continue
    return [run for *_, run in sorted(runs, key=lambda found: found[:2], reverse=True)]


def _found_inputs(train: dict, by_name: dict) -> dict:
    """config.json's `train` with its files' names replaced by the paths `by_name` gives them."""
    train = dict(train)
    for key in ("data", "keep_coordinates"):
        if isinstance(train.get(key), list):  # several sources
            train[key] = [by_name.get(name, name) for name in train[key]]
        elif train.get(key):
            train[key] = by_name.get(train[key], train[key])
    spec = train.get("bandcontrast")
    if spec and not BandContrast.parse(spec).from_scan:  # a table, by its name
        train["bandcontrast"] = by_name.get(spec, spec)
    return train


def inputs_found(config: TrainConfig) -> bool:
    """Whether every file a run's config names is at hand (not only a name no file here has)."""
    table = config.bandcontrast.path if config.bandcontrast is not None and not config.bandcontrast.from_scan else None
    return all(Path(path).is_file() for path in (*config.sources, config.keep_coordinates, table) if path)


def last_finished_run(folder) -> dict | None:
    """The run under `folder` (one run directory per subfolder) that ended last with a model (`read_run`;
    by the time its config.json was last written), or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    runs = [run for run in (read_run(p) for p in folder.iterdir() if p.is_dir()) if run is not None]
    return max(runs, key=lambda run: (run["files"][CONFIG_FILE].stat().st_mtime_ns, str(run["out_dir"])),
               default=None)
