"""Latent Explorer's engine: read image data, extract latents with PyTorch encoders, analyse them.

The public API in one place (docs/architecture.md describes the formats and layers):

    from latentcore import open_source, load_model, extract_file, read_latents
"""
from .data import open_source
from .errors import CheckpointError, InputError, LatentError, UnsafeCheckpointError
from .latents import read_latents

__all__ = ["open_source", "read_latents", "load_model", "extract_file", "Extractor", "model_latents_extract",
           "LatentError", "InputError", "CheckpointError", "UnsafeCheckpointError"]


def __getattr__(name):  # torch loads on first use, so `import latentcore` stays light for readers
    if name == "load_model":
        from .models import load_model
        return load_model
    if name in ("extract_file", "Extractor", "model_latents_extract"):
        from . import extract
        return getattr(extract, name)
    raise AttributeError(name)
