"""Errors a user sees: each names the file (or argument) and what is wrong with it.

Library exceptions (OSError, h5py, torch, numpy) are translated into these where they arise, so the
CLI, the batch summary and the pages can show every failure as one line (see cli.py).
"""
from __future__ import annotations

import errno
import re


class LatentError(Exception):
    """Base class: the CLI prints these as one line and exits with code 2."""

    def __init__(self, message: str, path=None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(LatentError, ValueError):
    """A data file is missing, corrupt, of an unknown format, or has the wrong shape/length."""


class CheckpointError(LatentError, ValueError):
    """A checkpoint cannot be used: wrong architecture, missing or unexpected keys."""


class TrainingError(LatentError, RuntimeError):
    """A training run cannot go on (e.g. its loss stopped being finite); the message says why."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint's pickle asks to call code; it is refused before anything runs."""


class OutputError(LatentError, OSError):
    """An output cannot be written: no space, no permission, read-only, locked by another run."""


_WRITE_PROBLEMS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                   errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
                   errno.EROFS: "read-only file system", errno.EFBIG: "file too large",
                   errno.ENOTDIR: "a part of the path is a file, not a folder",
                   errno.EISDIR: "is a folder, not a file", errno.ENOENT: "no such folder"}


def os_error_code(exc: BaseException) -> int | None:
    """The errno of an OSError, also when HDF5 only wrote it into the message ('errno = 28')."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    match = re.search(r"errno = (\d+)", str(exc))
    return int(match.group(1)) if match else None


def write_error(exc: BaseException, path, doing: str = "cannot write") -> OutputError:
    """An OSError (or an HDF5 write failure) met while writing `path`, as one line."""
    code = os_error_code(exc)
    problem = _WRITE_PROBLEMS.get(code) or (exc.strerror if isinstance(exc, OSError) and exc.strerror else None) \
        or " ".join(str(exc).split())[:200]
    return OutputError(f"{doing}: {problem}", path)
