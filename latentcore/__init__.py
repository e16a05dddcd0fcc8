"""Latent Explorer's engine: read image data, extract latents with PyTorch encoders, analyse them.

The public API in one place (docs/architecture.md describes the formats and layers):

    from latentcore import open_source, load_model, extract_file, read_latents

Names load on first use: `import latentcore` (and so `python -m latentcore`, before its Ctrl-C
handling is set up) imports no library, and readers do not load torch.
"""
import importlib

from .errors import CheckpointError, InputError, LatentError, UnsafeCheckpointError

_HOMES = {"open_source": "data", "read_latents": "latents", "load_model": "models", "extract_file": "extract",
          "Extractor": "extract", "model_latents_extract": "extract"}
__all__ = ["open_source", "read_latents", "load_model", "extract_file", "Extractor", "model_latents_extract",
           "LatentError", "InputError", "CheckpointError", "UnsafeCheckpointError"]


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(name)
