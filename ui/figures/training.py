"""The Train page's figures: the loss curves and the reconstructions."""
from __future__ import annotations

import numpy as np


def loss_figure(history: list[dict]):
    """Train and validation loss per epoch (a log axis when the losses span decades)."""
    import pandas as pd
    import plotly.express as px

    from latentcore.train.outputs import loss_scale

    table = pd.DataFrame(history)
    log_y = loss_scale(table[["train_loss", "val_loss"]].to_numpy()) == "log"
    return px.line(table, x="epoch", y=["train_loss", "val_loss"], markers=True, log_y=log_y,
                   labels={"value": "loss per pattern", "variable": ""}, title="Loss")


def display_images(images) -> list[np.ndarray]:
    """Patterns scaled to [-1, 1] (as the model sees them) -> images in [0, 1]."""
    return [np.clip((image + 1) / 2, 0, 1) for image in images]
