"""The files of a run directory besides the weights: config.json, loss.csv, loss_curve.png and
reconstructions.png. Each is written under a temporary name and renamed when complete. Figures use
matplotlib's object API (no pyplot), so a training thread in the app touches no global state."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..storage import atomic_path

MODEL_FILE = "vae_model.pth"
CHECKPOINT_FILE = "checkpoint.pth"  # full training state, for resuming
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
        pd.DataFrame(history, columns=LOSS_COLUMNS).to_csv(tmp, index=False)
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
