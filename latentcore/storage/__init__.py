"""Where files live: local paths, atomic writes, hashing (local.py), `s3://` URIs (uri.py) and S3
itself (s3.py, which alone loads boto3). Imports nothing from latentcore but its errors.

The API: `atomic_path`, `inputs_kept`, `refuse_writing_an_input`, `outputs_kept`, `refuse_replacing`,
`lock_exclusive`, `make_folder`, `file_version`, `is_sha256`, `sha256_file`, `sha256_once`, `hash_ahead`,
`sha256_path`, `short_name`, `is_s3_uri` and `resolve_path`;
csv_cells.py (imported on its own: it loads pandas) neutralises the CSV cells a spreadsheet would run as formulas.
"""
from pathlib import Path

from .local import (atomic_path, file_version, hash_ahead, inputs_kept, is_sha256, lock_exclusive, make_folder,
                    outputs_kept, refuse_replacing, refuse_writing_an_input, sha256_file, sha256_once, sha256_path,
                    short_name)
from .uri import is_s3_uri

__all__ = ["atomic_path", "inputs_kept", "refuse_writing_an_input", "outputs_kept", "refuse_replacing",
           "lock_exclusive", "make_folder", "file_version", "is_sha256", "sha256_file", "sha256_once", "hash_ahead",
           "sha256_path", "short_name", "is_s3_uri", "resolve_path"]


def resolve_path(path_or_uri, cache_dir=None, settings=None, progress=None) -> Path:
    """A local path for anything a reader accepts: `s3://bucket/key` is downloaded to the S3 cache
    (keyed by ETag and size, see s3.py), a local path is returned as it is. boto3 loads only here."""
    if is_s3_uri(str(path_or_uri)):
        from .s3 import resolve_path as download_to_cache
        return download_to_cache(str(path_or_uri), cache_dir, settings, progress)
    return Path(path_or_uri)
