"""Reading checkpoints without ever running their code.

Everything goes through `torch.load(weights_only=True)`. Classes it does not know (Nenya pickles its
`Params` options object, SupContrast an `argparse.Namespace`) get an inert stand-in for the length
of one load: the pickle may create such an object and set its attributes (NEWOBJ + BUILD, how
protocol 2 stores an ordinary instance), which only records them as a dict; calling the class or
any other unknown function (REDUCE, how `__reduce__` smuggles in `os.system`) raises
`UnsafeCheckpointError` before anything runs.
"""
from __future__ import annotations

import collections
import pickle
import pickletools
import re
import threading
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError, UnsafeCheckpointError

# Modules whose functions run commands or code (torch itself blocks os, posix, nt and sys; protocol-2
# pickles spell subprocess and builtins the Python 2 way): a pickle naming one is refused up front.
# Any other unknown function is refused too, when the pickle tries to call it (see _InertMeta).
_BLOCKED_MODULES = {"os", "posix", "nt", "sys", "subprocess", "commands", "builtins", "__builtin__", "shutil",
                    "socket", "importlib", "runpy", "code", "pickle", "marshal", "ctypes", "pty"}
_LOAD_LOCK = threading.Lock()  # the app loads from several threads; stand-ins must not leak across loads
_LEGACY_HEADER_PICKLES = 3  # magic number, protocol version, sys info; then the object itself
_TORCH_ALLOWED_BUILTINS = {"builtins.set", "builtins.bytearray", "builtins.complex"}  # plain data


class _InertMeta(type):
    """Calling a stand-in class (a REDUCE in the pickle) is refused: it would run unknown code."""

    def __call__(cls, *args, **kwargs):
        raise UnsafeCheckpointError(
            f"refused to load: the pickle asks to call {cls._global_name}(...); a checkpoint may hold "
            "data only, never code: save model.state_dict() instead", cls._checkpoint_path)


class InertRecord(metaclass=_InertMeta):
    """What an object of an unknown class becomes: its global name and the state the pickle set."""

    _global_name = "?"
    _checkpoint_path = None

    def __new__(cls, *args):
        record = object.__new__(cls)
        record.__dict__["_new_args"] = args
        return record

    def __setstate__(self, state):
        self.__dict__["_state"] = state

    def __repr__(self):
        return f"<inert {self._global_name}>"

    @property
    def state(self):
        """The attributes the pickle set, as a dict (slot state merged in)."""
        state = self.__dict__.get("_state")
        if isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
            return {**(state[0] or {}), **(state[1] or {})}
        return state


def _stand_in(global_name: str, path) -> type:
    module, _, name = global_name.rpartition(".")
    return _InertMeta(name, (InertRecord,), {"__module__": module, "_global_name": global_name,
                                             "_checkpoint_path": str(path)})


def _numpy_data_globals() -> list:
    """numpy scalars and arrays are plain data; torch's documentation names these to load them."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray

    entries = [(multiarray.scalar, f"numpy.{m}.multiarray.scalar") for m in ("core", "_core")]
    entries += [(multiarray._reconstruct, f"numpy.{m}.multiarray._reconstruct") for m in ("core", "_core")]
    entries += [(np.ndarray, "numpy.ndarray"), (np.dtype, "numpy.dtype")]
    entries += [type(np.dtype(code)) for code in np.typecodes["All"] if code != "O"]
    return entries


# torch.save and torch.jit.save store their members uncompressed: an archive that unpacks to much
# more than its own size is a decompression bomb, refused before any member is read.
MAX_UNPACKED_RATIO = 4
UNPACKED_SLACK = 16 << 20


def check_archive(path) -> None:
    """CheckpointError when the zip's members declare more than MAX_UNPACKED_RATIO times the
    file's size (plus a little): the sizes come from the zip's directory, nothing is unpacked."""
    size = Path(path).stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"not a readable checkpoint archive ({exc}): copy it again, or save it again with "
                              "torch.save", path) from None
    if unpacked > MAX_UNPACKED_RATIO * size + UNPACKED_SLACK:
        raise CheckpointError(f"refused: the {size:,}-byte archive unpacks to {unpacked:,} bytes "
                              f"(more than {MAX_UNPACKED_RATIO}x its size: a decompression bomb?); save it again with "
                              "torch.save", path)


def is_torchscript_archive(path) -> bool:
    """A `torch.jit.save` archive: a zip holding `constants.pkl` (torch.save archives have none)."""
    if not zipfile.is_zipfile(path):
        return False
    check_archive(path)
    with zipfile.ZipFile(path) as archive:
        return any(name.rsplit("/", 1)[-1] == "constants.pkl" for name in archive.namelist())


def globals_in_checkpoint(path) -> list[str]:
    """Names of the classes and functions the checkpoint's pickle refers to that torch does not
    allow by default, found by reading the pickle, not running it."""
    if zipfile.is_zipfile(path):
        return torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    names = set()
    with open(path, "rb") as f:  # legacy format: several pickles in a row, then raw storages
        for _ in range(_LEGACY_HEADER_PICKLES + 1):
            for opcode, arg, _pos in pickletools.genops(f):
                if opcode.name == "GLOBAL":
                    names.add(_python3_name(*arg.split(" ", 1)))
    return sorted(names - _TORCH_ALLOWED_BUILTINS)


def _python3_name(module: str, name: str) -> str:
    """Protocol-2 pickles use Python 2 names (`__builtin__.set`); torch's unpickler maps them so."""
    name_mapping = getattr(torch._utils, "NAME_MAPPING", {})
    import_mapping = getattr(torch._utils, "IMPORT_MAPPING", {})
    if (module, name) in name_mapping:
        module, name = name_mapping[(module, name)]
    else:
        module = import_mapping.get(module, module)
    return f"{module}.{name}"


def read_checkpoint(path, map_location="cpu"):
    """`torch.load(path, weights_only=True)`, unknown classes loaded as `InertRecord`s.

    Raises UnsafeCheckpointError when the pickle would call a function or class that is not known
    to be safe, and CheckpointError when the file is not a checkpoint at all.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint not found: check the path", path)
    if zipfile.is_zipfile(path):
        check_archive(path)
    try:
        unknown = globals_in_checkpoint(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a checkpoint"
        raise CheckpointError(f"not a PyTorch checkpoint: give a file torch.save or torch.jit.save wrote "
                              f"({type(exc).__name__}: {exc})", path) from exc
    dangerous = sorted(n for n in unknown if n.split(".", 1)[0] in _BLOCKED_MODULES)
    if dangerous:
        raise UnsafeCheckpointError(f"refused to load: the pickle refers to {', '.join(dangerous)}; "
                                    "a checkpoint may hold data only, never code: save model.state_dict() "
                                    "instead", path)
    numpy_data = _numpy_data_globals()
    numpy_names = {entry[1] for entry in numpy_data if isinstance(entry, tuple)}
    allowed = numpy_data + [(_stand_in(name, path), name) for name in unknown if name not in numpy_names]
    try:
        with _LOAD_LOCK, torch.serialization.safe_globals(allowed):  # torch keeps one global allowlist
            return torch.load(path, map_location=map_location, weights_only=True)
    except UnsafeCheckpointError:
        raise
    except pickle.UnpicklingError as exc:  # weights-only unpickling met something it does not allow
        raise UnsafeCheckpointError(f"refused to load: {_unpickler_reason(exc)[:200]}; save model.state_dict() "
                                    "instead", path) from exc
    except Exception as exc:  # noqa: BLE001 - corrupt archives raise RuntimeError, EOFError, ...
        raise CheckpointError(f"cannot read the checkpoint: copy it again, or save it again with torch.save "
                              f"({type(exc).__name__}: {exc})", path) from exc


def _unpickler_reason(exc) -> str:
    """The line of torch's message that says what was refused (the rest advises weights_only=False)."""
    match = re.search(r"WeightsUnpickler error:\s*([^\n]+)", str(exc))
    return match.group(1) if match else str(exc).strip().splitlines()[-1]


def to_plain(value):
    """Loaded options -> JSON-able values: records become dicts, numpy/tensor scalars numbers."""
    if isinstance(value, InertRecord):
        state = value.state
        return to_plain(state if isinstance(state, dict) else {})
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_plain(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray, torch.Tensor)):
        if (value.numel() if isinstance(value, torch.Tensor) else value.size) > 1024:  # weights, not options
            return f"<{type(value).__name__} of shape {tuple(value.shape)}>"
        return to_plain(value.tolist())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def state_dict_of(checkpoint, path=None) -> dict:
    """The weights in a loaded checkpoint: a plain state dict, or under 'model' / 'state_dict'."""
    if isinstance(checkpoint, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(checkpoint.get(key), dict):
                checkpoint = checkpoint[key]
                break
    if isinstance(checkpoint, InertRecord):
        raise CheckpointError(f"holds a pickled {checkpoint._global_name} object, not weights: save "
                              "model.state_dict() (or a torch.jit.save archive) instead", path)
    if not isinstance(checkpoint, dict) or not checkpoint or \
            not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise CheckpointError("holds no state dict: save {name: tensor} (model.state_dict()), alone or under "
                              "'model'", path)
    return checkpoint


def strip_module_prefix(state: dict) -> dict:
    """Drop DataParallel's `module.` wherever it sits: `module.encoder.x` and `encoder.module.x`
    both become `encoder.x` (as Nenya's own loader does)."""
    return collections.OrderedDict(
        (".".join(part for part in key.split(".") if part != "module"), value) for key, value in state.items())


def load_weights(module: torch.nn.Module, state: dict, path=None) -> None:
    """Load `state` into `module`, refusing with every missing, unexpected and mis-shaped key listed.

    The tensors are assigned, not copied, so `module` may be built on the meta device (no wasted
    initialisation). BatchNorm's `num_batches_tracked` may be absent (old checkpoints): it is unused
    in eval mode.
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
                  for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or mismatched:
        parts = [f"{label} ({len(keys)}): {_listing(keys)}" for label, keys in
                 (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched))
                 if keys]
        raise CheckpointError(f"does not fit the {type(module).__name__} architecture (another model's checkpoint? "
                              "pass --arch and the --options it was trained with); " + "; ".join(parts), path)
    state = {k: v.to(expected[k].dtype) if v.is_floating_point() else v for k, v in state.items()}
    for key in expected.keys() - state.keys():  # only num_batches_tracked can be left
        state[key] = torch.zeros((), dtype=expected[key].dtype)
    module.load_state_dict(state, strict=True, assign=True)


def _listing(keys, limit=12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... and {len(keys) - limit} more" if len(keys) > limit else "")
