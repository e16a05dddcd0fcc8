"""NPY and NPZ files from outside, their headers checked before any data is read: the one way the engine reads a
user's NPZ (`read_npz`, `npz_headers`) or NPY (`read_npy`).

`np.load` allocates what an array's header declares before it reads the data: a 300-byte NPZ whose header declares
10^12 float64 values asks for 7.28 TiB. Here every array's header (shape, dtype) is read first, without its data,
and the file is refused in one line naming it and the array when a member of the NPZ is not an array (.npy), an
array holds Python objects (only a pickle can restore them), declares more bytes than the file stores for it, or
the arrays together declare more than `max_bytes` (default: half the machine's memory).
"""
from __future__ import annotations

import contextlib
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._checks import memory_budget

MAX_ARRAYS = 256  # members of one NPZ
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0,
                   (3, 0): np.lib.format.read_array_header_2_0}  # 3.0: 2.0's layout, the header in UTF-8


def npz_headers(path, max_bytes: int | None = None) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """name -> (shape, dtype) of every array of the NPZ at `path`, checked as the module says; no data is read."""
    path = Path(path)
    with _reading(path, "NPZ"), zipfile.ZipFile(path) as archive:
        return {name: header for name, (_, header) in _members(archive, path, max_bytes).items()}


def read_npz(path, names=None, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """name -> array of the NPZ at `path` (those of `names` it holds, or all), once every array's header is checked
    (`npz_headers`); never unpickles."""
    path = Path(path)
    with _reading(path, "NPZ"), zipfile.ZipFile(path) as archive:
        members = _members(archive, path, max_bytes)
        wanted = members if names is None else [name for name in names if name in members]
        arrays = {}
        for name in wanted:
            with archive.open(members[name][0]) as member:
                arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
        return arrays


def read_npy(path, max_bytes: int | None = None) -> np.ndarray:
    """The array of the NPY file at `path`, once its header is checked as an NPZ's arrays are; never unpickles."""
    path = Path(path)
    with _reading(path, "NPY"), open(path, "rb") as f:
        _, declared = _header(f, os.fstat(f.fileno()).st_size, path, None)
        _check_total(declared, max_bytes, path)
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)


def _members(archive: zipfile.ZipFile, path: Path, max_bytes: int | None) -> dict:
    """name -> (ZipInfo, (shape, dtype)) of every member, each a checked .npy array."""
    infos = archive.infolist()
    if len(infos) > MAX_ARRAYS:
        raise InputError(f"holds {len(infos)} arrays, more than the {MAX_ARRAYS} allowed: save fewer", path)
    members, total = {}, 0
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise InputError(f"member {info.filename!r} is not a numpy array (.npy): an NPZ holds only arrays; save "
                             "it with numpy.savez", path)
        name = info.filename.removesuffix(".npy")
        with archive.open(info) as member:
            header, declared = _header(member, info.file_size, path, name)
        members[name], total = (info, header), total + declared
    _check_total(total, max_bytes, path)
    return members


def _header(stream, stored: int, path: Path, name: str | None) -> tuple[tuple, int]:
    """((shape, dtype), declared bytes) of the array whose .npy starts at `stream`, `stored` bytes long."""
    what = "the file" if name is None else f"array {name!r}"
    try:
        version = np.lib.format.read_magic(stream)
    except ValueError:
        raise InputError(f"{what} is not a numpy array (.npy): save it with numpy.save", path) from None
    if version not in _HEADER_READERS:
        raise InputError(f"{what} is a .npy of format version {version}, which numpy does not write: save it with "
                         "numpy.save", path)
    shape, _, dtype = _HEADER_READERS[version](stream)
    if dtype.hasobject:
        raise InputError(f"{what} cannot be read: it holds Python objects ({dtype}), which only a pickle restores; "
                         "save numbers or text", path)
    if any(size < 0 for size in shape):
        raise InputError(f"{what} declares the shape {shape}: save it again with numpy", path)
    declared = math.prod(shape) * dtype.itemsize
    data_bytes = stored - stream.tell()
    if declared > data_bytes:
        raise InputError(f"{what} declares {shape} {dtype} values ({declared:,} bytes) but holds {data_bytes:,} "
                         "bytes: truncated or forged; copy or save it again", path)
    return (shape, dtype), declared


def _check_total(total: int, max_bytes: int | None, path: Path) -> None:
    max_bytes = memory_budget() if max_bytes is None else max_bytes
    if total > max_bytes:
        raise InputError(f"its arrays take {total:,} bytes uncompressed, more than the {max_bytes:,} allowed: "
                         "give smaller arrays", path)


@contextlib.contextmanager
def _reading(path: Path, kind: str):
    """A file that cannot be read as `kind` (not a zip, corrupt, encrypted, a broken header) is one InputError."""
    try:
        yield
    except InputError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read as {kind}: {problem[:200]}; save it again with numpy", path) from None
