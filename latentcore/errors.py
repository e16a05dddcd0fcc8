"""Errors a user sees: each names the file (or argument) and what is wrong with it.

Library exceptions (OSError, h5py, torch, numpy) are translated into these where they arise, so the
CLI, the batch summary and the pages can show every failure as one line (`error_line`).
"""
from __future__ import annotations

import contextlib
import errno
import re
import sys

MAX_LINE = 400  # characters of one error line: a message never floods the terminal
INTERRUPTED = "interrupted: partial outputs are kept (*.partial, a training's checkpoint.pth) and the next run resumes them"
INTERRUPTED_EXIT = 130  # a command ended by Ctrl-C: 128 + SIGINT, as a shell reports it


class LatentError(Exception):
    """Base class: the CLI prints these as one line and exits with code 2."""

    def __init__(self, message: str, path=None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(LatentError, ValueError):
    """A data file is missing, corrupt, of an unknown format, or has the wrong shape/length."""


@contextlib.contextmanager
def about_file(path):
    """An InputError raised inside that names no file is about `path`: it is raised again naming it."""
    try:
        yield
    except InputError as exc:
        if exc.path is not None:
            raise
        raise InputError(str(exc), path) from None


class CheckpointError(LatentError, ValueError):
    """A checkpoint cannot be used: wrong architecture, missing or unexpected keys."""


class TrainingError(LatentError, RuntimeError):
    """A training run cannot go on (e.g. its loss stopped being finite); the message says why."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint's pickle asks to call code; it is refused before anything runs."""


class MachineError(LatentError, RuntimeError):
    """The machine cannot do what was asked, though the input is fine: a local Dask cluster whose workers could not
    start (a worker killed while starting: memory, process limits). The message says what to try instead."""


def worker_lost(exc: BaseException | None) -> bool:
    """Whether `exc` is Dask's word for a task whose worker died (out of memory, killed) each time it ran, until
    Dask gave up on it."""
    if "distributed" not in sys.modules:  # no Dask, no Dask error
        return False
    from distributed import KilledWorker

    return isinstance(exc, KilledWorker)


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
    full = code in (errno.ENOSPC, errno.EDQUOT)
    return OutputError(f"{doing}: {problem}; choose another place to write{' (or free some space)' if full else ''}",
                       path)


def one_line(text: str, limit: int = MAX_LINE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 5] + " ..."


def error_line(exc: BaseException) -> str:
    """One line for any error, as the command line prints it (the pages show the same)."""
    return exit_code_and_line(exc)[1]


def exit_code_and_line(exc: BaseException) -> tuple[int, str]:
    """The exit code (2: the input or the machine; 1: a bug) and the one line the CLI prints."""
    if isinstance(exc, LatentError):
        return 2, one_line(exc)
    if isinstance(exc, OSError):  # the file system's own words, with the file it names
        where = f"{exc.filename}: " if exc.filename else ""
        return 2, one_line(f"{where}{exc.strerror or exc}")
    if isinstance(exc, MemoryError):
        return 2, "out of memory: the input is too large for this machine (try a smaller --batch-size)"
    return 1, one_line(f"unexpected {type(exc).__name__}: {exc} (a bug: run with --debug for the traceback)")
