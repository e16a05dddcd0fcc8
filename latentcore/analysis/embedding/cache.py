"""Fits kept on disk: a fit is read back rather than made again when the same latents and parameters come back.
A fit's file is `<method>-<digest>.npz` (`cache_path`) in `cache_dir` (None: `default_cache_dir`, which is
`$LATENT_EXPLORER_CACHE`, else ~/.cache/latent-explorer/embeddings; False: no cache), in `fitted.save_embedding`'s
format, written under a temporary name and renamed when complete."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CACHE_ENV = "LATENT_EXPLORER_CACHE"
DEFAULT_CACHE_DIR = Path("~/.cache/latent-explorer/embeddings")


def default_cache_dir() -> Path:
    """`$LATENT_EXPLORER_CACHE` if set, else ~/.cache/latent-explorer/embeddings."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def cache_path(cache_dir, latents, params: dict) -> Path | None:
    """The file a fit of `latents` (float32, C order) with `params` is kept in: its digest the SHA-256 of the
    latents' bytes, their shape and every parameter; None when `cache_dir` is False."""
    if cache_dir is False:
        return None
    directory = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    digest = hashlib.sha256()
    digest.update(json.dumps({"shape": latents.shape, "dtype": "float32", **params},
                             sort_keys=True).encode())
    digest.update(memoryview(latents).cast("B"))
    return directory / f"{params['method']}-{digest.hexdigest()}.npz"
