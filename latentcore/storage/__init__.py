"""Where files live: local paths, atomic writes, hashing (and S3, see s3.py)."""
from .local import atomic_path, sha256_file

__all__ = ["atomic_path", "sha256_file"]
