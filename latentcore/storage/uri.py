"""`s3://bucket/key` URIs as plain strings: recognise, parse, join, and the file name an object's
key gives. No boto3 here: these load with `latentcore.storage` itself."""
from __future__ import annotations

import re

from ..errors import InputError
from .local import short_name

SCHEME = "s3://"


def is_s3_uri(value) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


def s3_uri(bucket: str, key: str = "") -> str:
    return f"{SCHEME}{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key"); the key may be empty (a bucket or prefix)."""
    if not is_s3_uri(uri):
        raise InputError(f"not an S3 URI: {uri!r}; write it as s3://bucket/key")
    bucket, _, key = uri[len(SCHEME):].partition("/")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-_]{1,254}", bucket or ""):
        raise InputError(f"not a valid bucket name in {uri!r}: check it (letters, digits, '.', '-' and '_')")
    return bucket, key


def join_uri(prefix_uri: str, name: str) -> str:
    """`s3://b/pre` + `x.h5` -> `s3://b/pre/x.h5` (one slash between)."""
    bucket, prefix = parse_s3_uri(prefix_uri)
    prefix = prefix.strip("/")
    return s3_uri(bucket, f"{prefix}/{name}" if prefix else name)


def parent_uri(uri: str) -> str:
    bucket, key = parse_s3_uri(uri)
    return s3_uri(bucket, key.rsplit("/", 1)[0] if "/" in key else "")


def safe_file_name(key: str) -> str:
    """The last key component as a harmless file name (no separators, never `.`/`..`/empty)."""
    name = key.replace("\\", "/").rsplit("/", 1)[-1]
    name = short_name(re.sub(r"[\x00-\x1f]", "_", name).strip())  # a 300-character key still fits a file name
    return name if name not in ("", ".", "..") else "object"
