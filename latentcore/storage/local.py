"""Local files: atomic writes (temporary name, rename when complete), exclusive locks on what a run
writes, content hashes of files and folders, the inputs a run must never write over, and the existing outputs a
command keeps unless told to replace them (`outputs_kept`)."""
from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import re
import stat
import threading
from pathlib import Path

from ..errors import OutputError, write_error


@contextlib.contextmanager
def atomic_path(final_path, suffix=".partial", keep_on_error=False, replaces=False):
    """Yield a temporary path beside `final_path`; rename it over `final_path` only on success.

    A reader never sees a half-written file under the final name. With `keep_on_error` the
    temporary file survives an exception so that an interrupted run can resume from it; a rename that
    fails removes it (a complete file that could not be put in place resumes nothing). A folder at
    `final_path`, or an existing output while outputs are kept (`outputs_kept`), is refused before
    anything is written; `replaces`: a file this write refreshes on purpose (a cache, a resumable
    folder's report), never refused as an existing output.
    """
    final_path = Path(final_path)
    refuse_special_file(final_path)
    refuse_writing_an_input(final_path)
    refuse_replacing(final_path, replaces)
    make_folder(final_path.parent)
    tmp = final_path.with_name(final_path.name + suffix)
    try:
        yield tmp
    except BaseException:
        if not keep_on_error:
            tmp.unlink(missing_ok=True)
        raise
    try:
        os.replace(tmp, final_path)
    except OSError as exc:  # a folder made in its place meanwhile, a file system gone read-only
        tmp.unlink(missing_ok=True)
        raise write_error(exc, final_path) from None
    if _KEPT_OUTPUTS:
        _KEPT_OUTPUTS[-1].add(final_path.resolve())


def refuse_special_file(path: Path) -> None:
    """Only regular files are written: the rename would replace a device (/dev/null), FIFO or
    socket by a regular file (a symbolic link is replaced, never followed, as before)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return  # not there (or not reachable): the write says why
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise OutputError("is a device, FIFO or socket, not a regular file: only regular files are written; choose "
                          "another output", path)


# -- inputs kept: a command never writes over what it reads --------------------------------------

_KEPT_INPUTS: list[tuple[Path, tuple[int, int] | None, bool]] = []  # (resolved path, (device, inode), is a folder)


@contextlib.contextmanager
def inputs_kept(paths):
    """While inside, every write through `atomic_path` (and the latents writer) onto one of `paths` (the same
    path once links are resolved, or the same file by device and inode), or into a folder among them, is
    refused. Process-wide: the command line sets it once for its one command (latentcore/cli/__init__.py)."""
    added = [_identity(Path(p)) for p in paths]
    _KEPT_INPUTS.extend(added)
    try:
        yield
    finally:
        del _KEPT_INPUTS[len(_KEPT_INPUTS) - len(added):]


def _identity(path: Path) -> tuple[Path, tuple[int, int] | None, bool]:
    try:
        found = os.stat(path)
    except OSError:
        return path.resolve(), None, False
    return path.resolve(), (found.st_dev, found.st_ino), stat.S_ISDIR(found.st_mode)


def refuse_writing_an_input(path, named=None) -> None:
    """One line when writing `path` would replace an input of this run (or write inside an input folder);
    `named` is how the line names it (default: the path), e.g. "--out v.h5"."""
    if not _KEPT_INPUTS:
        return
    resolved, inode, _ = _identity(Path(path))
    for kept, kept_inode, is_folder in _KEPT_INPUTS:
        if resolved == kept or (inode is not None and inode == kept_inode):
            raise OutputError("is an input of this command: writing it would replace that input; "
                              "choose another output", named or path)
        if is_folder and resolved.is_relative_to(kept):
            raise OutputError(f"is inside the input folder {kept}: writing it would change that input; "
                              "choose another output", named or path)


# -- outputs kept: a command replaces an existing output only when told to -------------------------

_KEPT_OUTPUTS: list[set[Path]] = []  # while a command keeps its outputs: the files it has written itself
REPLACE_OPTION = "--clobber"  # what tells a command to replace its existing outputs (latentcore/cli/options.py)


@contextlib.contextmanager
def outputs_kept():
    """While inside, a write through `atomic_path` onto a file that exists and that was not written inside this
    context is refused in one line naming it and REPLACE_OPTION: a command never replaces an existing output
    without being told. Process-wide: the command line sets it around one command (latentcore/outputs.py,
    `outputs_never_replaced`)."""
    _KEPT_OUTPUTS.append(set())
    try:
        yield
    finally:
        _KEPT_OUTPUTS.pop()


def refuse_replacing(path, replaces: bool = False) -> None:
    """One line when a file cannot be written at `path`: a folder is there (no file can take its place), or an
    existing output while outputs are kept (`outputs_kept`; not one this command wrote, and not a file it
    `replaces` on purpose)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError("is a folder, not a file: no file can be written in its place; name a file (a new one, or "
                          "one inside that folder)", path)
    if _KEPT_OUTPUTS and not replaces and os.path.lexists(path) and path.resolve() not in _KEPT_OUTPUTS[-1]:
        raise OutputError(f"exists already: this command does not replace an existing output; give {REPLACE_OPTION} "
                          "to replace it, or write elsewhere", path)


MAX_NAME_BYTES = 150  # file systems allow 255; room is left for suffixes such as `_latents.h5.partial`


def short_name(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """`name` cut to at most `limit` UTF-8 bytes, keeping its extension, so that outputs derived from
    it (`<stem>_latents.h5.partial`) are still valid file names."""
    if len(name.encode()) <= limit:
        return name
    suffix = "".join(Path(name).suffixes[-2:])[:20]
    stem = name[:len(name) - len(suffix)] if suffix else name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]  # distinct names stay distinct when cut
    room = limit - len(suffix.encode()) - len(digest) - 1
    return stem.encode()[:room].decode(errors="ignore") + "-" + digest + suffix


def make_folder(folder) -> Path:
    """Create an output folder, or say in one line why it cannot be."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError("the output folder is a file: choose another output folder", folder) from None
    except OSError as exc:
        raise write_error(exc, folder, "cannot create the output folder") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError("cannot write into the output folder: permission denied; choose a folder you can write",
                          folder)
    return folder


def lock_exclusive(path) -> int:
    """Open (creating if need be, never truncating) and exclusively lock `path` for this process;
    returns the descriptor, which holds the lock until closed. Another holder: OutputError at once.

    The lock is checked to sit on the file that the name points to now: a file renamed or removed
    between our open and our lock (a run that just finished) is not a lock on this name."""
    path = Path(path)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_error(exc, path, "cannot create") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError("another run is writing this output now (its file is locked): wait for it to "
                              "finish, or choose another output", path) from None
        locked = os.fstat(fd)
        try:
            now = os.stat(path)
        except FileNotFoundError:
            now = None
        if now is not None and (now.st_ino, now.st_dev) == (locked.st_ino, locked.st_dev):
            return fd
        os.close(fd)  # lost a race with a rename: open the new file under that name


def is_sha256(text) -> bool:
    """Whether `text` is a SHA-256 as `sha256_file` writes it (64 lowercase hex digits): a record read from a file."""
    return isinstance(text, str) and re.fullmatch(r"[0-9a-f]{64}", text) is not None


def sha256_file(path, chunk_size=1 << 22) -> str:
    """SHA-256 of a file's bytes, read in chunks so that memory does not grow with the file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


_DIGESTS: dict[tuple, concurrent.futures.Future] = {}  # a file's state -> its SHA-256, once per process
_DIGESTS_LOCK = threading.Lock()


def file_version(state: os.stat_result) -> tuple:
    """A file's identity and last change, from its `os.stat` or `os.fstat`: any write (its size, mtime or ctime,
    which no one can set back) or another file at the path gives another."""
    return state.st_dev, state.st_ino, state.st_size, state.st_mtime_ns, state.st_ctime_ns


def sha256_once(path) -> str:
    """`sha256_file`, computed once per process for a version of the file (`file_version`): a 512 MB latents file
    takes about 0.5 s, and every report a server's worker writes names its inputs by their hashes. A call while
    another thread hashes the same file waits for that digest (`hash_ahead`)."""
    key = (str(path), *file_version(os.stat(path)))
    with _DIGESTS_LOCK:
        digest, ours = _DIGESTS.get(key), key not in _DIGESTS
        if ours:
            digest = _DIGESTS[key] = concurrent.futures.Future()
    if ours:
        try:
            digest.set_result(sha256_file(path))
        except BaseException as error:
            with _DIGESTS_LOCK:
                del _DIGESTS[key]
            digest.set_exception(error)
    return digest.result()


def hash_ahead(*paths):
    """Start hashing `paths` (local files; others are skipped) in a thread, for a `sha256_once` later: the hash
    reads the file while the caller computes (hashlib releases the GIL)."""
    local = [path for path in paths if path is not None and Path(path).is_file()]
    threading.Thread(target=lambda: [sha256_once(path) for path in local], daemon=True).start()


def sha256_path(path) -> str:
    """SHA-256 of a file, or of a folder: its regular files' relative names and contents, in name
    order (so an image folder has one content hash, like a file)."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(f"{file.relative_to(path).as_posix()}:{sha256_file(file)}\n".encode())
    return digest.hexdigest()
