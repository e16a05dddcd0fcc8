"""Any encoder saved with `torch.jit.save`: users bring a model without its Python class.

A TorchScript archive holds TorchScript code, run by torch's own interpreter (not Python's pickle),
so it is loaded with `torch.jit.load`. What input it wants is not recorded in the archive: it comes
from the options (`input_channels`, `input_size`, `normalize`), else the channel count is read off
the first convolution's weight and any size is passed.
"""
from __future__ import annotations

import warnings

import torch

from ..errors import CheckpointError
from .base import InputSpec

NORMALIZATIONS = ("none", "minmax", "standard")


def load_torchscript(path, map_location="cpu") -> torch.nn.Module:
    from .checkpoint import check_archive

    check_archive(path)
    with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export, still supported
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return torch.jit.load(str(path), map_location=map_location)
        except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError/ValueError for bad archives
            raise CheckpointError(f"cannot load the TorchScript archive: save it again with torch.jit.save "
                                  f"({type(exc).__name__}: {exc})", path) from exc


def torchscript_input_spec(module: torch.nn.Module, options: dict | None = None, path=None) -> InputSpec:
    options = options or {}
    channels = options.get("input_channels") or _first_conv_channels(module) or 1
    size = options.get("input_size")
    normalize = options.get("normalize") or "none"
    if normalize not in NORMALIZATIONS:
        raise CheckpointError(f"options: normalize must be one of {', '.join(NORMALIZATIONS)}, "
                              f"got {normalize!r}", path)
    try:
        if size is not None:
            size = (int(size), int(size)) if isinstance(size, (int, float, str)) else tuple(int(s) for s in size)
            if len(size) != 2:
                raise ValueError(f"{len(size)} numbers")
        return InputSpec(channels=int(channels), size=size, normalize=normalize)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"options: input_size must be N or [H, W] and input_channels an integer ({exc}): "
                              "correct the options", path) from exc


def _first_conv_channels(module: torch.nn.Module) -> int | None:
    """Input channels of the first 2-D/3-D convolution: (out, in, kh, kw[, kt]) weights."""
    for name, tensor in module.state_dict().items():
        if name.endswith("weight") and tensor.ndim in (4, 5):
            return int(tensor.shape[1])
    return None
