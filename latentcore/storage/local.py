"""Local files: atomic writes (temporary name, rename when complete) and content hashes."""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final_path, suffix=".partial", keep_on_error=False):
    """Yield a temporary path beside `final_path`; rename it over `final_path` only on success.

    A reader never sees a half-written file under the final name. With `keep_on_error` the
    temporary file survives an exception so that an interrupted run can resume from it.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = final_path.with_name(final_path.name + suffix)
    try:
        yield tmp
    except BaseException:
        if not keep_on_error:
            tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final_path)


def sha256_file(path, chunk_size=1 << 22) -> str:
    """SHA-256 of a file's bytes, read in chunks so that memory does not grow with the file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()
