"""S3 (and S3-compatible servers): list, cached download, multipart upload (URIs: uri.py).

Credentials come from boto3's standard chain (environment, shared profile, instance role) and are
never put into settings, task graphs, logs or error messages (`_scrub` removes them from any
server message we pass on). Retries with backoff on throttling, 5xx and dropped connections are
botocore's ('standard' or 'adaptive' mode).

The download cache is keyed by bucket, key, size and ETag:
`<cache>/<bucket>/<sha256(key)[:16]>/<etag>-<size>/<file name>`. A changed object gets a new
version folder (the stale one is pruned); only the last key component, sanitised, becomes a file
name, so no key (`..`, absolute, backslashes) can write outside the cache directory.

The API: `S3Settings` (how to reach S3), `list_buckets`, `list_objects`, `list_prefixes`, `head`,
`exists`, `objects_exist`, `download` (through the cache), `download_to`, `upload`, `resolve_path`;
failures raise `S3Error` (an InputError) naming the URI.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import shutil
import threading
import uuid
from pathlib import Path
from typing import Callable, Iterable

import boto3
import botocore.exceptions as bce
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from ..errors import InputError
from .local import atomic_path
from .uri import SCHEME, is_s3_uri, parent_uri, parse_s3_uri, s3_uri, safe_file_name
MiB = 1 << 20

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


class S3Error(InputError):
    """An S3 operation failed: the message names `s3://bucket/key` and the problem."""

    def __init__(self, problem: str, uri: str):
        self.problem = problem
        super().__init__(problem, uri)


@dataclasses.dataclass(frozen=True)
class S3Settings:
    """How to reach S3. Plain values only (it travels to Dask workers); no credentials here."""

    endpoint_url: str | None = None  # S3-compatible server, e.g. http://127.0.0.1:9000
    region: str | None = None
    profile: str | None = None
    retry_mode: str = "standard"  # or "adaptive" (client-side rate limiting on throttling)
    max_attempts: int = 5  # tries per request, the first included
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    multipart_threshold: int = 64 * MiB
    multipart_chunksize: int = 16 * MiB  # S3 needs >= 5 MiB per part (boto3 raises smaller ones)
    max_concurrency: int = 8

    @classmethod
    def from_env(cls, endpoint_url: str | None = None, **overrides) -> "S3Settings":
        """Settings with the endpoint from the argument, `LATENTCORE_S3_ENDPOINT_URL`,
        `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (first found)."""
        endpoint_url = endpoint_url or next(
            (os.environ[name] for name in ("LATENTCORE_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                                           "AWS_ENDPOINT_URL") if os.environ.get(name)), None)
        return cls(endpoint_url=endpoint_url or None, **overrides)


@dataclasses.dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    etag: str = ""
    last_modified: str = ""

    @property
    def uri(self) -> str:
        return s3_uri(self.bucket, self.key)

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


# -- client and errors ------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _session_and_client(settings: S3Settings):
    session = boto3.session.Session(profile_name=settings.profile)
    config = Config(
        retries={"total_max_attempts": settings.max_attempts, "mode": settings.retry_mode},  # the first try included
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        # S3-compatible servers are usually reached by address: no bucket sub-domains there
        s3={"addressing_style": "path"} if settings.endpoint_url else None,
        max_pool_connections=max(10, settings.max_concurrency),
    )
    region = settings.region or session.region_name or "us-east-1"
    client = session.client("s3", endpoint_url=settings.endpoint_url, region_name=region, config=config)
    return session, client


def client_for(settings: S3Settings | None = None):
    """A boto3 S3 client (thread-safe, cached per settings)."""
    return _session_and_client(settings or S3Settings.from_env())[1]


def _transfer_config(settings: S3Settings) -> TransferConfig:
    return TransferConfig(multipart_threshold=settings.multipart_threshold,
                          multipart_chunksize=settings.multipart_chunksize,
                          max_concurrency=settings.max_concurrency)


def _scrub(text: str, settings: S3Settings) -> str:
    """Remove any credential value from a message before a user (or a log) sees it."""
    try:
        credentials = _session_and_client(settings)[0].get_credentials()
        secrets = [] if credentials is None else [credentials.access_key, credentials.secret_key,
                                                  credentials.token]
    except Exception:  # a broken profile must not hide the original error
        secrets = []
    for secret in secrets:
        if secret and len(secret) >= 8:  # real keys are long; a short test value would mangle words
            text = text.replace(secret, "***")
    return text


_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                     "TokenRefreshRequired", "AuthorizationHeaderMalformed", "InvalidClientTokenId"}


def _client_error_problem(exc: bce.ClientError, what: str, attempts: int) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in ("NoSuchBucket",):
        return "no such bucket"
    if code in ("NoSuchKey", "404", "NotFound"):
        return f"no such {what}"
    if code in _CREDENTIAL_CODES:
        return f"the S3 credentials were refused ({code}); check the environment, profile or role"
    if code in ("AccessDenied", "403", "AllAccessDisabled"):
        return "access denied (check the credentials and the bucket policy)"
    if code in ("PreconditionFailed", "412"):
        return "the object changed during the transfer"
    if status and int(status) >= 500 or code in ("SlowDown", "Throttling", "ServiceUnavailable"):
        return f"the server kept failing after {attempts} attempts ({code or status})"
    message = error.get("Message") or str(exc)
    return f"S3 error {code or status}: {message}"


def _problem(exc: BaseException, settings: S3Settings, what: str) -> str:
    cause = exc
    while not isinstance(cause, (bce.BotoCoreError, bce.ClientError)) and (cause.__cause__ or cause.__context__):
        cause = cause.__cause__ or cause.__context__  # boto3 wraps ClientError in S3UploadFailedError
    if isinstance(cause, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        problem = "no S3 credentials found (environment, shared profile or instance role)"
    elif isinstance(cause, (bce.EndpointConnectionError, bce.ConnectionClosedError,
                            bce.ConnectTimeoutError, bce.ReadTimeoutError)):
        problem = f"cannot reach the S3 endpoint {settings.endpoint_url or '(AWS default)'} " \
                  f"after {settings.max_attempts} attempts ({type(cause).__name__})"
    elif isinstance(cause, bce.ClientError):
        problem = _client_error_problem(cause, what, settings.max_attempts)
    else:
        problem = f"{type(cause).__name__}: {cause}"
    return _scrub(problem, settings)


def _raise(exc: BaseException, uri: str, settings: S3Settings, what="object"):
    raise S3Error(_problem(exc, settings, what), uri) from None  # `from None`: no signed URLs in tracebacks


_S3_FAILURES = (bce.BotoCoreError, bce.ClientError, boto3.exceptions.Boto3Error)


# -- listing ----------------------------------------------------------------------------------

def list_buckets(settings: S3Settings | None = None) -> list[str]:
    settings = settings or S3Settings.from_env()
    try:
        response = client_for(settings).list_buckets()
    except _S3_FAILURES as exc:
        _raise(exc, SCHEME, settings, "bucket")
    return sorted(b["Name"] for b in response.get("Buckets", []))


def list_objects(bucket: str, prefix: str = "", settings: S3Settings | None = None,
                 recursive: bool = True) -> list[S3Object]:
    """Objects under a prefix with their sizes; `recursive=False` stays in one "folder"."""
    settings = settings or S3Settings.from_env()
    kwargs = {"Bucket": bucket, "Prefix": prefix, **({} if recursive else {"Delimiter": "/"})}
    objects = []
    try:
        for page in client_for(settings).get_paginator("list_objects_v2").paginate(**kwargs):
            objects += [S3Object(bucket, item["Key"], int(item["Size"]), item.get("ETag", "").strip('"'),
                                 str(item.get("LastModified", ""))) for item in page.get("Contents", [])]
    except _S3_FAILURES as exc:
        _raise(exc, s3_uri(bucket, prefix), settings, "bucket")
    return objects


def list_prefixes(bucket: str, prefix: str = "", settings: S3Settings | None = None) -> list[str]:
    """The "sub-folders" directly under a prefix (keys up to the next `/`)."""
    settings = settings or S3Settings.from_env()
    found = []
    try:
        pages = client_for(settings).get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/")
        for page in pages:
            found += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    except _S3_FAILURES as exc:
        _raise(exc, s3_uri(bucket, prefix), settings, "bucket")
    return found


def head(uri: str, settings: S3Settings | None = None) -> S3Object:
    """Size and ETag of one object; a missing object and a missing bucket are told apart."""
    settings = settings or S3Settings.from_env()
    bucket, key = parse_s3_uri(uri)
    if not key or key.endswith("/"):
        raise S3Error("names a bucket or prefix, not an object", uri)
    client = client_for(settings)
    try:
        response = client.head_object(Bucket=bucket, Key=key)
    except _S3_FAILURES as exc:
        if _is_not_found(exc):  # HEAD has no body: ask the bucket which of the two is missing
            _check_bucket(bucket, uri, settings)
        _raise(exc, uri, settings)
    return S3Object(bucket, key, int(response["ContentLength"]), response.get("ETag", "").strip('"'),
                    str(response.get("LastModified", "")))


def exists(uri: str, settings: S3Settings | None = None) -> bool:
    """True when the object exists; a missing bucket or a refused credential still raises."""
    try:
        head(uri, settings)
        return True
    except S3Error as exc:
        if exc.problem == "no such object":
            return False
        raise


def _is_not_found(exc) -> bool:
    return isinstance(exc, bce.ClientError) and exc.response.get("Error", {}).get("Code") in (
        "404", "NoSuchKey", "NotFound")


def _check_bucket(bucket: str, uri: str, settings: S3Settings):
    try:
        client_for(settings).head_bucket(Bucket=bucket)
    except _S3_FAILURES as exc:
        if _is_not_found(exc):
            raise S3Error("no such bucket", uri) from None
        _raise(exc, uri, settings, "bucket")


# -- download ---------------------------------------------------------------------------------

def default_cache_dir() -> Path:
    return Path(os.environ.get("LATENTCORE_S3_CACHE", Path.home() / ".cache" / "latentcore" / "s3"))


def cache_path(obj: S3Object, cache_dir=None) -> Path:
    """Where `obj` lives in the cache (see module doc); always inside `cache_dir`."""
    root = Path(cache_dir or default_cache_dir()).resolve()
    key_dir = hashlib.sha256(obj.key.encode()).hexdigest()[:16]
    version = f"{re.sub(r'[^0-9A-Za-z-]', '', obj.etag)[:40] or 'noetag'}-{obj.size}"
    path = (root / safe_file_name(obj.bucket) / key_dir / version / safe_file_name(obj.key)).resolve()
    if not path.is_relative_to(root):  # belt and braces: the parts above cannot escape, check anyway
        raise S3Error(f"refusing to write outside the cache directory {root}", obj.uri)
    return path


def download(uri: str, cache_dir=None, settings: S3Settings | None = None,
             progress: Progress | None = None) -> Path:
    """The object as a local file in the cache; downloaded only when missing or changed."""
    settings = settings or S3Settings.from_env()
    obj = head(uri, settings)
    path = cache_path(obj, cache_dir)
    if path.is_file() and path.stat().st_size == obj.size:
        if progress:
            progress(obj.size, obj.size)
        return path
    download_to(obj, path, settings, progress)
    for stale in path.parent.parent.iterdir():  # older versions of the same key
        if stale != path.parent:
            shutil.rmtree(stale, ignore_errors=True)
    return path


def download_to(obj: S3Object | str, dest, settings: S3Settings | None = None,
                progress: Progress | None = None) -> Path:
    """Download to `dest` under a unique temporary name (parallel downloaders never clash),
    check the size, then rename."""
    settings = settings or S3Settings.from_env()
    obj = head(obj, settings) if isinstance(obj, str) else obj
    dest = Path(dest)
    with atomic_path(dest, suffix=f".{uuid.uuid4().hex[:8]}.partial") as tmp:
        try:
            client_for(settings).download_file(obj.bucket, obj.key, str(tmp), Config=_transfer_config(settings),
                                               Callback=_byte_counter(obj.size, progress))
        except _S3_FAILURES as exc:
            _raise(exc, obj.uri, settings)
        got = tmp.stat().st_size
        if got != obj.size:
            raise S3Error(f"downloaded {got} bytes but the object has {obj.size}", obj.uri)
    return dest


def _byte_counter(total: int, progress: Progress | None):
    """boto3 calls back with increments from several threads: turn them into a running total."""
    if progress is None:
        return None
    done, lock = [0], threading.Lock()
    if total == 0:
        progress(0, 0)

    def callback(increment):
        with lock:
            done[0] += increment
            progress(done[0], total)
    return callback


def resolve_path(path_or_uri, cache_dir=None, settings: S3Settings | None = None,
                 progress: Progress | None = None) -> Path:
    """A local path for anything a reader accepts: `s3://` URIs are downloaded to the cache,
    local paths are returned as they are."""
    if is_s3_uri(str(path_or_uri)):
        return download(str(path_or_uri), cache_dir, settings, progress)
    return Path(path_or_uri)


# -- upload -----------------------------------------------------------------------------------

def upload(local_path, uri: str, settings: S3Settings | None = None,
           progress: Progress | None = None) -> S3Object:
    """Upload a file (multipart above `settings.multipart_threshold`), then check the stored size.
    S3 makes an object visible only when its upload completes, so a failure leaves nothing."""
    settings = settings or S3Settings.from_env()
    local_path = Path(local_path)
    if not local_path.is_file():
        raise InputError("no such file to upload", local_path)
    bucket, key = parse_s3_uri(uri)
    if not key or key.endswith("/"):
        raise S3Error("an upload needs an object key, not a bucket or prefix", uri)
    size = local_path.stat().st_size
    try:
        client_for(settings).upload_file(str(local_path), bucket, key, Config=_transfer_config(settings),
                                         Callback=_byte_counter(size, progress))
    except _S3_FAILURES as exc:
        _raise(exc, uri, settings, "bucket")
    stored = head(uri, settings)
    if stored.size != size:
        raise S3Error(f"uploaded {size} bytes but the server holds {stored.size}", uri)
    return stored


# -- several objects at once ------------------------------------------------------------------

def objects_exist(uris: Iterable[str], settings: S3Settings | None = None) -> dict[str, bool]:
    """For each object URI, whether it exists: one listing per "folder", not one request per object."""
    settings = settings or S3Settings.from_env()
    uris = list(uris)
    present: set[str] = set()
    for folder in {parent_uri(uri) for uri in uris}:
        bucket, prefix = parse_s3_uri(folder)
        present |= {o.uri for o in list_objects(bucket, f"{prefix}/" if prefix else "", settings, recursive=False)}
    return {uri: uri in present for uri in uris}
