"""Any encoder saved with `torch.jit.save`: users bring a model without its Python class.

A TorchScript archive holds TorchScript code, run by torch's own interpreter (not Python's pickle),
so it is loaded with `torch.jit.load`. That code can call any registered operator, some of which reach
past the tensors (`aten::from_file` reads any file the server can, `aten::save` writes one): every
method's operators are read once it is loaded, before it runs (`refuse_reach`), and an archive whose code
defines `__setstate__`, which `torch.jit.load` itself runs, is refused before loading
(`refuse_code_run_on_load`). What input it wants is not recorded in the archive: it comes from the options
(`input_channels`, `input_size`, `normalize`), else the channel count is read off the first convolution's
weight and any size is passed.
"""
from __future__ import annotations

import re
import warnings
import zipfile

import torch

from ..errors import CheckpointError
from .base import InputSpec

NORMALIZATIONS = ("none", "minmax", "standard")
# Namespaces of the operators an encoder calls: tensor arithmetic and control flow; those of remote calls, compilers,
# debugging or other libraries are refused, as are the few operators of these that reach outside the tensors.
OP_NAMESPACES = ("aten", "prim", "quantized", "prepacked", "profiler")
REACHING_OPS = {"aten::from_file": "reads a file", "aten::save": "writes a file", "prim::rpc_async": "calls another "
                "machine", "prim::rpc_sync": "calls another machine", "prim::rpc_remote": "calls another machine"}


def load_torchscript(path, map_location="cpu") -> torch.nn.Module:
    from .checkpoint import check_archive

    check_archive(path)
    refuse_code_run_on_load(path)
    with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export, still supported
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            module = torch.jit.load(str(path), map_location=map_location)
        except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError/ValueError for bad archives
            raise CheckpointError(f"cannot load the TorchScript archive: save it again with torch.jit.save "
                                  f"({type(exc).__name__}: {exc})", path) from exc
    refuse_reach(module, path)
    return module


RUN_ON_LOAD = re.compile(rb"\bdef\s+__setstate__\b")


def refuse_code_run_on_load(path) -> None:
    """CheckpointError when the archive's TorchScript code (its `code/` members) defines `__setstate__`: loading
    runs it, before `refuse_reach` can read what it calls."""
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():  # every entry, a name given twice too
            if "/code/" in member.filename and member.filename.endswith(".py") and RUN_ON_LOAD.search(
                    archive.read(member)):
                raise CheckpointError(f"refused: the TorchScript's code ({member.filename}) defines __setstate__, "
                                      "which runs while it loads; save the encoder again without it", path)


def refuse_reach(module: torch.jit.ScriptModule, path) -> None:
    """CheckpointError when any method of `module` or its submodules, with the functions it calls (inlined),
    calls an operator outside OP_NAMESPACES or one of REACHING_OPS: refused before anything runs it."""
    for part in module.modules():
        for name in part._c._method_names():
            for kind in sorted({node.kind() for node in _nodes(part._c._get_method(name).inlined_graph)}):
                why = REACHING_OPS.get(kind) or (None if kind.split("::")[0] in OP_NAMESPACES else
                                                 "is not tensor arithmetic")
                if why:
                    raise CheckpointError(f"refused: the TorchScript's {part.original_name}.{name} calls {kind}, "
                                          f"which {why}; save the encoder again without it", path)


def _nodes(block):
    """Every node of a graph or block, those inside its nodes' blocks (loops, branches) too."""
    for node in block.nodes():
        yield node
        for inner in node.blocks():
            yield from _nodes(inner)


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
