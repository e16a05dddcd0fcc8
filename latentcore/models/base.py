"""What every loaded encoder looks like to the rest of the engine."""
from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """How a batch from a reader must be shaped for this model (applied in extract.prepare_batch).

    channels: channels the model takes (1-channel data is repeated to 3 when it wants 3).
    size: (H, W) the model takes, or None to pass any size; other sizes are resized bilinearly.
    normalize: 'none' (Nenya cutouts are already preprocessed), 'minmax' (each item to [-1, 1],
        as the VAE was trained) or 'standard' (each item to zero mean, unit variance).
    crop: side of a centred square cut out before resizing (as the model was trained), or None.
    """

    channels: int = 1
    size: tuple[int, int] | None = None
    normalize: str = "none"
    crop: int | None = None


@dataclasses.dataclass
class LoadedModel:
    """An encoder ready for extraction: `module(x)` maps a prepared (B, C, H, W) batch (or
    (B, C, T, H, W) for video models) to latents (B, ...); spatial outputs are pooled later."""

    name: str  # e.g. "nenya-resnet18", "vae", "torchscript"
    arch: str  # "nenya" | "vae" | "torchscript"
    module: torch.nn.Module
    input_spec: InputSpec
    sha256: str = ""
    path: str = ""
    recorded_name: str = ""  # the checkpoint's own 'name' entry ("demo-vae"); "" when it records none
    trained_on: tuple = ()  # SHA-256 of the data files it was trained on, as its checkpoint records them; () if none
    options: dict = dataclasses.field(default_factory=dict)  # plain values only (JSON-able)
    # pattern preprocessing before input_spec (data.preprocess.Preprocessing as a dict; {}: none),
    # recorded by the VAE trainer so that extraction feeds the model what it was trained on
    preprocessing: dict = dataclasses.field(default_factory=dict)
