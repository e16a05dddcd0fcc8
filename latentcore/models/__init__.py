"""Encoders and safe checkpoint loading: `load_model(path)` -> LoadedModel, ready for extraction.

Architectures:
- "nenya": Nenya's SupConResNet (`{'opt': Params, 'model': state_dict, ...}` or a bare state dict),
- "vae": the ConvVAE of this package (`{'arch': 'vae', 'config': {...}, 'model': ...}`),
- "torchscript": any `torch.jit.save` archive.
No checkpoint can run code: see checkpoint.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import CheckpointError, InputError
from ..storage import is_sha256, sha256_file
from .base import InputSpec, LoadedModel
from .checkpoint import (is_torchscript_archive, load_weights, read_checkpoint, state_dict_of,
                         strip_module_prefix, to_plain)
from .nenya import NenyaEncoder, build_nenya, nenya_settings
from .torchscript import load_torchscript, torchscript_input_spec
from .vae import ConvVAE, VAEConfig, VAEEncoder

ARCHS = ("nenya", "vae", "torchscript")

__all__ = ["load_model", "load_nenya_options", "describe_checkpoint", "detect_arch", "ARCHS",
           "InputSpec", "LoadedModel", "NenyaEncoder", "ConvVAE", "VAEConfig", "VAEEncoder"]


def load_model(path, arch: str | None = None, options=None, remove_module: bool = True,
               map_location="cpu") -> LoadedModel:
    """Load an encoder from a checkpoint file, in eval mode, on `map_location`.

    No checkpoint can run code while it loads (see checkpoint.py).

    Parameters
    ----------
    path : str or path-like
        A `torch.save` checkpoint (.pth/.pt) or a `torch.jit.save` archive.
    arch : {"nenya", "vae", "torchscript"}, default=None
        The architecture; None detects it from the file.
    options : dict or path-like, default=None
        A dict or the path of a JSON file. For Nenya (its options JSON; keys it does not need are
        ignored) they override the options pickled in the checkpoint, and both may be left out;
        for TorchScript `input_channels`, `input_size`, `normalize`. Unused for the VAE.
    remove_module : bool, default=True
        Drop DataParallel's `module.` prefix from state-dict keys.
    map_location : str or torch.device, default="cpu"
        Where the weights are loaded and the model is placed.

    Returns
    -------
    model : LoadedModel
        The encoder with its input specification, options, `sha256`, `path` and the name the
        checkpoint records (`recorded_name`: its 'name' entry, "" when none).

    Raises
    ------
    CheckpointError
        The file is missing or not a checkpoint, `arch` is unknown or does not match the file, the
        architecture cannot be told, or the weights do not fit it.
    UnsafeCheckpointError
        The checkpoint's pickle would call code; it is refused before anything runs.
    InputError
        `options` names a file that is missing or does not hold a JSON object.
    """
    path = Path(path)
    if arch not in (None, *ARCHS):
        raise CheckpointError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}", path)
    options = load_nenya_options(options) if options is not None else {}
    if not path.is_file():
        raise CheckpointError("checkpoint not found (or not a regular file): check the path", path)
    if is_torchscript_archive(path):
        if arch not in (None, "torchscript"):
            raise CheckpointError(f"is a TorchScript archive, not a {arch} checkpoint; pass --arch torchscript "
                                  "or leave --arch out", path)
        model = _load_torchscript_model(path, options, map_location)
    else:
        if arch == "torchscript":
            raise CheckpointError("is not a TorchScript archive (torch.jit.save); leave --arch out to detect what "
                                  "it is", path)
        checkpoint = read_checkpoint(path, map_location)
        arch = arch or detect_arch(checkpoint, path)
        if arch == "vae":
            model = _load_vae_model(checkpoint, path)
        else:
            model = _load_nenya_model(checkpoint, options, remove_module, path)
        model.recorded_name, model.trained_on = _recorded_name(checkpoint), _trained_on(checkpoint)
    model.module.to(_device(map_location)).eval()
    model.sha256 = sha256_file(path)
    model.path = str(path)
    return model


def load_nenya_options(options) -> dict:
    """Nenya's options as a plain dict, from a dict or a JSON file; unknown keys are kept, unused."""
    if isinstance(options, dict):
        return to_plain(options)
    if not Path(options).is_file():  # a FIFO or folder would block or fail in open()
        raise InputError("no such options JSON file (or not a regular file): check the path", options)
    try:
        with open(options) as f:
            values = json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the options JSON ({exc}): give a JSON object of options", options) from exc
    if not isinstance(values, dict):
        raise InputError("the options JSON must hold an object: write it as {\"feat_dim\": 128, ...}", options)
    for key in ("feat_dim", "nchannels"):  # sizes of the network: torch's own error would read as a bug
        try:
            too_small = values.get(key) is not None and int(values[key]) < 1
        except (TypeError, ValueError):
            continue  # not a number: nenya_settings refuses it
        if too_small:
            raise InputError(f"options: {key} must be a positive integer, got {values[key]!r}", options)
    return values


def detect_arch(checkpoint, path=None) -> str:
    """"vae" or "nenya" for a loaded (non-TorchScript) checkpoint, from its 'arch' key or its keys."""
    if isinstance(checkpoint, dict) and "arch" in checkpoint:
        arch = checkpoint["arch"]
        if arch not in ("nenya", "vae"):  # a TorchScript archive is recognised before unpickling
            raise CheckpointError(f"says arch {arch!r}; a torch.save checkpoint must be nenya or vae: pass --arch to "
                                  "say which", path)
        return arch
    keys = strip_module_prefix(state_dict_of(checkpoint, path))
    if any(k.startswith("encoder.") for k in keys) and any(k.startswith("head.") for k in keys):
        return "nenya"
    raise CheckpointError("cannot tell the architecture (no 'arch' entry, and the keys are not Nenya's "
                          f"encoder./head.: {', '.join(list(keys)[:5])}, ...); pass --arch nenya, vae or torchscript "
                          "(arch= in Python)", path)


def describe_checkpoint(path) -> dict:
    """What a checkpoint holds, without building the model: arch, number of weight tensors and
    parameters, the options it carries."""
    path = Path(path)
    if is_torchscript_archive(path):
        state = load_torchscript(path).state_dict()
        return _description(path, "torchscript", state, {})
    checkpoint = read_checkpoint(path)
    arch = detect_arch(checkpoint, path)
    state = state_dict_of(checkpoint, path)
    if arch == "vae":
        options = to_plain(checkpoint.get("config", {}))
    else:
        options = _checkpoint_options(checkpoint)
        options.update(nenya_settings(options, strip_module_prefix(state), path))
    return _description(path, arch, state, options)


def _description(path, arch, state, options) -> dict:
    return {"path": str(path), "arch": arch, "keys": len(state),
            "parameters": int(sum(t.numel() for t in state.values() if t.is_floating_point())),
            "options": options}


def _load_nenya_model(checkpoint, options: dict, remove_module: bool, path) -> LoadedModel:
    state = state_dict_of(checkpoint, path)
    if remove_module:
        state = strip_module_prefix(state)
    options = {**_checkpoint_options(checkpoint), **options}
    settings = nenya_settings(options, state, path)
    with torch.device("meta"):  # shapes only: the checkpoint supplies every tensor
        module = build_nenya(settings, path=path)
    load_weights(module, state, path)
    return LoadedModel(name=f"nenya-{settings['ssl_model']}", arch="nenya", module=module,
                       input_spec=InputSpec(channels=settings["nchannels"], size=None, normalize="none"),
                       options={**options, **settings})


def _recorded_name(checkpoint) -> str:
    """The model's name as its checkpoint records it (a 'name' string entry), or ""."""
    name = checkpoint.get("name") if isinstance(checkpoint, dict) else None
    return name.strip() if isinstance(name, str) else ""


def _trained_on(checkpoint) -> tuple[str, ...]:
    """The SHA-256 of the data files the checkpoint records it was trained on (`train-vae`'s `training`: one
    file's, or a list of several), () when it records none."""
    training = checkpoint.get("training") if isinstance(checkpoint, dict) else None
    digests = training.get("data_sha256") if isinstance(training, dict) else None
    digests = [digests] if isinstance(digests, str) else digests if isinstance(digests, (list, tuple)) else []
    return tuple(d for d in digests if is_sha256(d))


def _checkpoint_options(checkpoint) -> dict:
    """The options Nenya pickles beside the weights ('opt'), as plain values ({} if none)."""
    if not isinstance(checkpoint, dict):
        return {}
    options = to_plain(checkpoint.get("opt", checkpoint.get("options")))
    return options if isinstance(options, dict) else {}


def _load_vae_model(checkpoint, path) -> LoadedModel:
    if not isinstance(checkpoint.get("config"), dict):
        raise CheckpointError("a VAE checkpoint needs its 'config' dict: use a checkpoint train-vae wrote", path)
    try:
        config = VAEConfig.from_dict(checkpoint["config"])
        with torch.device("meta"):  # shapes only (a huge config allocates nothing); the weights are assigned
            vae = ConvVAE(config)
    except (TypeError, ValueError, KeyError, IndexError, RuntimeError) as exc:  # empty, string or negative fields
        raise CheckpointError(f"the VAE 'config' is not usable ({' '.join(str(exc).split())[:200]}); use a "
                              "checkpoint train-vae wrote", path) from None
    load_weights(vae, state_dict_of(checkpoint, path), path)
    recorded = checkpoint.get("preprocess") or {}  # by the trainer; older checkpoints have no "patterns"
    crop = recorded.get("crop")
    return LoadedModel(name="vae", arch="vae", module=VAEEncoder(vae),
                       input_spec=InputSpec(channels=config.in_channels, size=(config.input_size,) * 2,
                                            normalize="minmax", crop=int(crop) if crop else None),
                       options=to_plain(checkpoint["config"]), preprocessing=to_plain(recorded.get("patterns") or {}))


def _load_torchscript_model(path, options: dict, map_location) -> LoadedModel:
    module = load_torchscript(path, map_location)
    spec = torchscript_input_spec(module, options, path)
    return LoadedModel(name="torchscript", arch="torchscript", module=module, input_spec=spec,
                       options={**options, "input_channels": spec.channels,
                                "input_size": list(spec.size) if spec.size else None,
                                "normalize": spec.normalize})


def _device(map_location) -> torch.device:
    """The device the model goes to: map_location when it names one, else the CPU."""
    if isinstance(map_location, (str, torch.device)):
        return torch.device(map_location)
    return torch.device("cpu")
