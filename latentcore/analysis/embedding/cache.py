"""Fits kept on disk: a fit is read back rather than made again when the same latents and parameters come back.
A fit's file is `<method>-<digest>.npz` (`cache_path`) in `cache_dir` (None: `default_cache_dir`, which is
`$LATENT_EXPLORER_CACHE`, else ~/.cache/latent-explorer/embeddings; False: no cache), in `fitted.save_embedding`'s
format, written under a temporary name and renamed when complete."""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

CACHE_ENV = "LATENT_EXPLORER_CACHE"
DEFAULT_CACHE_DIR = Path("~/.cache/latent-explorer/embeddings")


def default_cache_dir() -> Path:
    """`$LATENT_EXPLORER_CACHE` if set, else ~/.cache/latent-explorer/embeddings."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def cache_path(cache_dir, latents, params: dict) -> Path | None:
    """The file a fit of `latents` (float32, C order) with `params` is kept in: its digest the SHA-256 of the
    latents' bytes, their shape and every parameter; None when `cache_dir` is False."""
    digest = hashlib.sha256(json.dumps({"shape": latents.shape, "dtype": "float32", **params},
                                       sort_keys=True).encode())
    digest.update(memoryview(latents).cast("B"))
    return _named(cache_dir, f"{params['method']}-{digest.hexdigest()}.npz")


def study_cache_path(cache_dir, members: list, params: dict, kept=None) -> Path | None:
    """The file a study's embedding (`study.study_embedding`) with `params` is kept in: its digest the SHA-256 of
    every member's SHA-256 and rows (`members`: (sha256, rows) pairs, in order), the rows `kept` ((N,) bool, None:
    every row) and every parameter; None when `cache_dir` is False."""
    digest = hashlib.sha256(json.dumps({"members": members, **params}, sort_keys=True).encode())
    if kept is not None:
        digest.update(np.packbits(kept).tobytes())
    return _named(cache_dir, f"{params['method']}-study-{digest.hexdigest()}.npz")


def _named(cache_dir, name: str) -> Path | None:
    if cache_dir is False:
        return None
    return (default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()) / name


def read_cached(cache_file):
    """The fit kept in `cache_file` (`fitted.FittedEmbedding`), or None: no file (or no cache), or one that cannot
    be read (removed: the fit made again overwrites it)."""
    from ...errors import InputError
    from .fitted import load_embedding

    if cache_file is None or not cache_file.is_file():
        return None
    try:
        return load_embedding(cache_file)
    except InputError:
        cache_file.unlink(missing_ok=True)
        return None


def write_cached(cache_file, fitted) -> None:
    """`fitted` kept in `cache_file` (None: no cache); a read-only or full cache costs the next call a refit, no
    more (a warning)."""
    from .fitted import save_embedding

    if cache_file is None:
        return
    try:
        save_embedding(cache_file, fitted)
    except OSError as exc:
        warnings.warn(f"embedding not cached in {cache_file.parent}: {exc}", RuntimeWarning)
