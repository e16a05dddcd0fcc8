"""S3 (and S3-compatible servers): list, cached download, multipart upload (URIs: uri.py).

Credentials come from boto3's standard chain (environment, shared profile, instance role), or,
where the caller gives them, from `S3Credentials` held in memory only: they cannot be pickled (so
they never reach a file, a task graph or another process), their repr hides them, and no log or
error message shows them (`_scrub` removes them from any server message we pass on). A job that reads
S3 where it runs (a Dask worker, a process of the server's pool) is given `S3Settings.for_tasks()`:
the same keys as `TaskCredentials`, which pickle into the task's own arguments, held in memory by the
process running it (never a worker's data store, which may spill to its disk: `batch.run_tasks`). Settings with
`server_credentials=False` never use the chain: without `S3Credentials` every call is refused.

`S3Access` is an allow-list of buckets and prefixes: with one in the settings, every call checks
its URI before any request (an `S3Error` naming the URI), and listings show only what it allows.
Without one (the command line's default) every bucket the credentials reach is allowed. Retries with backoff on throttling, 5xx and dropped connections are
botocore's ('standard' or 'adaptive' mode).

The download cache is keyed by bucket, key, size and ETag:
`<cache>/<bucket>/<sha256(key)[:16]>/<etag>-<size>/<file name>`. A changed object gets a new
version folder (the stale one is pruned); only the last key component, sanitised, becomes a file
name, so no key (`..`, absolute, backslashes) can write outside the cache directory.

The API: `S3Settings` (how to reach S3), `S3Access`, `S3Credentials`, `TaskCredentials`, `list_buckets`,
`list_objects`, `list_prefixes`, `head`, `exists`, `objects_exist`, `download` (through the cache), `download_to`,
`local_copy`, `upload`, `resolve_path`;
failures raise `S3Error` (an InputError) naming the URI.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import re
import shutil
import tempfile
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


def _has_dot_segment(key: str) -> bool:
    """`.` or `..` as a path segment: S3 keeps them literally, but some S3-compatible servers and
    proxies normalise them, so an allow-list refuses them rather than guess."""
    return any(part in (".", "..") for part in key.replace("\\", "/").split("/"))


@dataclasses.dataclass(frozen=True)
class S3Access:
    """Which S3 locations may be used: `allowed` holds `"bucket"` (all of it), `"bucket/prefix"`
    (the "folder" `prefix/` and below; an `s3://` in front is fine) or `"*"` (every bucket).
    An empty tuple allows nothing."""

    allowed: tuple[str, ...] = ()

    def __post_init__(self):
        entries = []
        for entry in ([self.allowed] if isinstance(self.allowed, str) else self.allowed):
            text = str(entry).strip().removeprefix(SCHEME)
            if text == "*":
                entries.append("*")
                continue
            bucket, _, prefix = text.partition("/")
            prefix = prefix.strip("/")
            if not bucket or "*" in text or _has_dot_segment(prefix):
                raise InputError(f"not a bucket or bucket/prefix: {entry!r}; write each entry as bucket, bucket/prefix "
                                 "or \"*\"", "S3 allow-list")
            entries.append(f"{bucket}/{prefix}/" if prefix else f"{bucket}/")
        object.__setattr__(self, "allowed", tuple(dict.fromkeys(entries)))

    @property
    def everything(self) -> bool:
        return "*" in self.allowed

    def prefixes(self, bucket: str) -> list[str]:
        """The key prefixes allowed in `bucket` (`""`: all of it)."""
        if self.everything:
            return [""]
        return [e.split("/", 1)[1] for e in self.allowed if e.split("/", 1)[0] == bucket]

    def buckets(self) -> list[str]:
        """The buckets named in the allow-list (not with `"*"`: that is every bucket)."""
        return sorted({e.split("/", 1)[0] for e in self.allowed if e != "*"})

    def allows(self, bucket: str, key: str = "") -> bool:
        if self.everything:
            return True
        return not _has_dot_segment(key) and any(key.startswith(p) for p in self.prefixes(bucket))

    def check(self, uri: str):
        """Refuse `uri` unless allowed: one line naming it (and what is allowed)."""
        bucket, key = parse_s3_uri(uri)
        if not self.allows(bucket, key):
            raise S3Error(f"outside the S3 locations allowed here ({self.describe()}): choose one of those", uri)

    def describe(self) -> str:
        if self.everything:
            return "every bucket"
        return ", ".join(SCHEME + e for e in self.allowed) or "none"


class S3Credentials:
    """Keys given by a user for their own session: kept in this process's memory only. They cannot
    be pickled or copied out (`TypeError`), and their repr and str show only the key id's end."""

    __slots__ = ("access_key_id", "secret_access_key", "session_token")

    def __init__(self, access_key_id: str, secret_access_key: str, session_token: str | None = None):
        access_key_id, secret_access_key = str(access_key_id).strip(), str(secret_access_key).strip()
        if not access_key_id or not secret_access_key:
            raise InputError("an access key id and a secret access key are both needed: give both", "S3 credentials")
        object.__setattr__(self, "access_key_id", access_key_id)
        object.__setattr__(self, "secret_access_key", secret_access_key)
        object.__setattr__(self, "session_token", (str(session_token).strip() or None) if session_token else None)

    def __setattr__(self, name, value):
        raise AttributeError("S3Credentials are read-only")

    def _values(self):
        return (self.access_key_id, self.secret_access_key, self.session_token)

    def __eq__(self, other):
        return isinstance(other, S3Credentials) and self._values() == other._values()

    def __hash__(self):
        return hash(self._values())

    def __repr__(self):
        return f"S3Credentials(key id ...{self.access_key_id[-4:]})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        raise TypeError("S3 credentials stay in memory: they are never pickled")

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    @property
    def masked_key_id(self) -> str:
        return f"...{self.access_key_id[-4:]}"


class TaskCredentials(S3Credentials):
    """A user's keys given to the task that uses them (`S3Settings.for_tasks`): they pickle, for the trip in
    memory to the process running the task, and nothing else about them changes."""

    __slots__ = ()

    def __reduce_ex__(self, protocol):
        return TaskCredentials, self._values()


@dataclasses.dataclass(frozen=True)
class S3Settings:
    """How to reach S3. Plain values (it travels to Dask workers), except `credentials`: a user's
    own keys (`S3Credentials`), which cannot be pickled and so never leave this process but as
    `TaskCredentials`, given to a job's task by `for_tasks`."""

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
    access: S3Access | None = None  # the allow-list; None: every bucket the credentials reach
    credentials: S3Credentials | None = None  # a user's own keys; None: boto3's chain, if allowed
    server_credentials: bool = True  # False: never boto3's chain (no credentials given: refused)

    @classmethod
    def from_env(cls, endpoint_url: str | None = None, **overrides) -> "S3Settings":
        """Settings with the endpoint from the argument, `LATENTCORE_S3_ENDPOINT_URL`,
        `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (first found)."""
        endpoint_url = endpoint_url or next(
            (os.environ[name] for name in ("LATENTCORE_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                                           "AWS_ENDPOINT_URL") if os.environ.get(name)), None)
        return cls(endpoint_url=endpoint_url or None, **overrides)

    def for_tasks(self) -> "S3Settings":
        """These settings for a job's task that reads S3 where it runs: a user's keys as `TaskCredentials`."""
        if self.credentials is None:
            return self
        return dataclasses.replace(self, credentials=TaskCredentials(*self.credentials._values()))


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
    given = settings.credentials
    if given is not None:  # the user's own keys, never mixed with the server's profile or role
        session = boto3.session.Session(aws_access_key_id=given.access_key_id,
                                        aws_secret_access_key=given.secret_access_key,
                                        aws_session_token=given.session_token)
    elif not settings.server_credentials:
        raise S3Error(NO_CREDENTIALS, SCHEME)
    else:
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


NO_CREDENTIALS = "no S3 credentials given (this server does not lend its own: enter yours)"


def client_for(settings: S3Settings | None = None):
    """A boto3 S3 client (thread-safe, cached per settings)."""
    return _session_and_client(settings or S3Settings.from_env())[1]


def _client(settings: S3Settings, uri: str):
    """The client for a call on `uri`, after the allow-list and the credentials rule said yes:
    a refusal names the URI, and no request has been made."""
    if settings.access is not None and uri != SCHEME:
        settings.access.check(uri)
    if settings.credentials is None and not settings.server_credentials:
        raise S3Error(NO_CREDENTIALS, uri)
    return client_for(settings)


def check_allowed(uri: str, settings: S3Settings | None = None):
    """Refuse `uri` (an `S3Error` naming it) unless the settings' allow-list has it; no request."""
    settings = settings or S3Settings.from_env()
    if settings.access is not None:
        settings.access.check(uri)


def _transfer_config(settings: S3Settings) -> TransferConfig:
    return TransferConfig(multipart_threshold=settings.multipart_threshold,
                          multipart_chunksize=settings.multipart_chunksize,
                          max_concurrency=settings.max_concurrency)


def _scrub(text: str, settings: S3Settings) -> str:
    """Remove any credential value from a message before a user (or a log) sees it."""
    if settings.credentials is not None:
        secrets = list(settings.credentials._values())
    elif not settings.server_credentials:
        secrets = []  # no credentials at all: none of ours can be in the message
    else:
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
        return "no such bucket: check its name"
    if code in ("NoSuchKey", "404", "NotFound"):
        return f"no such {what}: check the URI"
    if code in _CREDENTIAL_CODES:
        return f"the S3 credentials were refused ({code}); check the environment, profile or role"
    if code in ("AccessDenied", "403", "AllAccessDisabled"):
        return "access denied: check the credentials and the bucket policy"
    if code in ("PreconditionFailed", "412"):
        return "the object changed during the transfer: try again when no one writes it"
    if status and int(status) >= 500 or code in ("SlowDown", "Throttling", "ServiceUnavailable"):
        return f"the server kept failing after {attempts} attempts ({code or status}): try again later"
    message = error.get("Message") or str(exc)
    return f"S3 error {code or status}: {message}"


def _problem(exc: BaseException, settings: S3Settings, what: str) -> str:
    cause = exc
    while not isinstance(cause, (bce.BotoCoreError, bce.ClientError)) and (cause.__cause__ or cause.__context__):
        cause = cause.__cause__ or cause.__context__  # boto3 wraps ClientError in S3UploadFailedError
    if isinstance(cause, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        problem = "no S3 credentials found: set them in the environment, a shared profile or an instance role"
    elif isinstance(cause, (bce.EndpointConnectionError, bce.ConnectionClosedError,
                            bce.ConnectTimeoutError, bce.ReadTimeoutError)):
        problem = f"cannot reach the S3 endpoint {settings.endpoint_url or '(AWS default)'} " \
                  f"after {settings.max_attempts} attempts ({type(cause).__name__}): check the endpoint and " \
                  "the network"
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
    """The buckets the credentials can list, only those the allow-list has; with an allow-list
    that names its buckets, those of them the server lists (all of them if it refuses to list)."""
    settings = settings or S3Settings.from_env()
    access = settings.access
    try:
        response = _client(settings, SCHEME).list_buckets()
    except _S3_FAILURES as exc:
        if access is not None and not access.everything and _is_access_denied(exc):
            return access.buckets()  # ListAllMyBuckets refused, each bucket may still be allowed
        _raise(exc, SCHEME, settings, "bucket")
    names = sorted(b["Name"] for b in response.get("Buckets", []))
    return names if access is None else [n for n in names if access.everything or n in access.buckets()]


def _is_access_denied(exc) -> bool:
    return isinstance(exc, bce.ClientError) and exc.response.get("Error", {}).get("Code") in (
        "AccessDenied", "403", "AllAccessDisabled")


def _allowed_prefixes(bucket: str, prefix: str, settings: S3Settings) -> tuple[bool, list[str]]:
    """(whole, narrower): whether `prefix` lies inside an allowed location, else the allowed
    prefixes below it; neither: refused (naming `s3://bucket/prefix`) before any request."""
    access = settings.access
    if access is None or access.allows(bucket, prefix):
        return True, []
    narrower = [p for p in access.prefixes(bucket) if p.startswith(prefix) and not _has_dot_segment(prefix)]
    if not narrower:
        access.check(s3_uri(bucket, prefix))
    return False, narrower


def list_objects(bucket: str, prefix: str = "", settings: S3Settings | None = None,
                 recursive: bool = True) -> list[S3Object]:
    """Objects under a prefix with their sizes; `recursive=False` stays in one "folder". With an
    allow-list, only the allowed objects: a prefix above allowed ones lists those (recursively)."""
    settings = settings or S3Settings.from_env()
    whole, narrower = _allowed_prefixes(bucket, prefix, settings)
    wanted = [prefix] if whole else (narrower if recursive else [])
    objects = []
    for one in wanted:
        uri = s3_uri(bucket, one)
        kwargs = {"Bucket": bucket, "Prefix": one, **({} if recursive else {"Delimiter": "/"})}
        try:
            for page in _client(settings, uri).get_paginator("list_objects_v2").paginate(**kwargs):
                objects += [S3Object(bucket, item["Key"], int(item["Size"]), item.get("ETag", "").strip('"'),
                                     str(item.get("LastModified", ""))) for item in page.get("Contents", [])]
        except _S3_FAILURES as exc:
            _raise(exc, s3_uri(bucket, prefix), settings, "bucket")
    access = settings.access
    return objects if access is None else [o for o in objects if access.allows(o.bucket, o.key)]


def list_prefixes(bucket: str, prefix: str = "", settings: S3Settings | None = None) -> list[str]:
    """The "sub-folders" directly under a prefix (keys up to the next `/`); with an allow-list,
    above the allowed prefixes, the steps towards them (no request)."""
    settings = settings or S3Settings.from_env()
    whole, narrower = _allowed_prefixes(bucket, prefix, settings)
    if not whole:
        return sorted({prefix + p[len(prefix):].split("/", 1)[0] + "/" for p in narrower})
    found = []
    try:
        pages = _client(settings, s3_uri(bucket, prefix)).get_paginator("list_objects_v2").paginate(
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
        raise S3Error("names a bucket or prefix, not an object: give s3://bucket/key of one object", uri)
    client = _client(settings, uri)
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
        if exc.problem.startswith("no such object"):
            return False
        raise


def _is_not_found(exc) -> bool:
    return isinstance(exc, bce.ClientError) and exc.response.get("Error", {}).get("Code") in (
        "404", "NoSuchKey", "NotFound")


def _check_bucket(bucket: str, uri: str, settings: S3Settings):
    try:
        _client(settings, uri).head_bucket(Bucket=bucket)
    except _S3_FAILURES as exc:
        if _is_not_found(exc):
            raise S3Error("no such bucket: check its name", uri) from None
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
        raise S3Error(f"refusing to write outside the cache directory {root}: rename the object", obj.uri)
    return path


def download(uri: str, cache_dir=None, settings: S3Settings | None = None,
             progress: Progress | None = None, max_bytes: int | None = None) -> Path:
    """The object as a local file in the cache; downloaded only when missing or changed, and refused when it is
    larger than `max_bytes`."""
    settings = settings or S3Settings.from_env()
    obj = head(uri, settings)
    path = cache_path(obj, cache_dir)
    if is_cached(obj, path):
        if progress:
            progress(obj.size, obj.size)
        return path
    if max_bytes is not None and obj.size > max_bytes:
        raise S3Error(f"the object holds {obj.size:,} bytes, more than the {max(max_bytes, 0):,} this download may "
                      "take: not downloaded; free room, or ask for more", uri)
    download_to(obj, path, settings, progress)
    for stale in path.parent.parent.iterdir():  # older versions of the same key
        if stale != path.parent:
            shutil.rmtree(stale, ignore_errors=True)
    return path


def is_cached(obj: S3Object, path: Path) -> bool:
    """Whether `path` (the object's `cache_path`) holds it already."""
    return path.is_file() and path.stat().st_size == obj.size


def download_to(obj: S3Object | str, dest, settings: S3Settings | None = None,
                progress: Progress | None = None) -> Path:
    """Download to `dest` under a unique temporary name (parallel downloaders never clash),
    check the size, then rename."""
    settings = settings or S3Settings.from_env()
    obj = head(obj, settings) if isinstance(obj, str) else obj
    client = _client(settings, obj.uri)
    dest = Path(dest)
    with atomic_path(dest, suffix=f".{uuid.uuid4().hex[:8]}.partial", replaces=True) as tmp:  # a stale cached copy
        try:
            client.download_file(obj.bucket, obj.key, str(tmp), Config=_transfer_config(settings),
                                               Callback=_byte_counter(obj.size, progress))
        except _S3_FAILURES as exc:
            _raise(exc, obj.uri, settings)
        got = tmp.stat().st_size
        if got != obj.size:
            raise S3Error(f"downloaded {got} bytes but the object has {obj.size}: try again", obj.uri)
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


@contextlib.contextmanager
def local_copy(path_or_uri, settings: S3Settings | None = None, keep_free: int = 0,
               progress: Progress | None = None):
    """A local path for a reader: an `s3://` object downloaded (its bytes reported to `progress`) into a temporary
    folder of this machine, removed when the block ends (a worker's disk holds one object at a time, never a cache
    a user could fill); refused, before any byte is written, when it would leave the disk less than `keep_free`
    bytes free. A local path is yielded as it is. `path_or_uri` may be the object's `head` already (an `S3Object`,
    asked with these settings)."""
    settings = settings or S3Settings.from_env()
    if isinstance(path_or_uri, S3Object):
        obj = path_or_uri
    elif is_s3_uri(str(path_or_uri)):
        obj = head(str(path_or_uri), settings)  # the allow-list first: a refused URI makes no request
    else:
        yield Path(path_or_uri)
        return
    with tempfile.TemporaryDirectory(prefix="latentcore-s3-") as folder:
        free = shutil.disk_usage(folder).free
        if obj.size > free - keep_free:
            raise S3Error(f"the object holds {obj.size:,} bytes and this machine has {free:,} free, of which "
                          f"{keep_free:,} must stay free: not downloaded; free room on the worker, or ask for "
                          "more", obj.uri)
        yield download_to(obj, Path(folder) / safe_file_name(obj.key), settings, progress)


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
    bucket, key = parse_s3_uri(uri)
    client = _client(settings, uri)  # the allow-list first: a refused URI reads no file
    local_path = Path(local_path)
    if not local_path.is_file():
        raise InputError("no such file to upload: check the path", local_path)
    if not key or key.endswith("/"):
        raise S3Error("an upload needs an object key, not a bucket or prefix: give s3://bucket/key", uri)
    size = local_path.stat().st_size
    try:
        client.upload_file(str(local_path), bucket, key, Config=_transfer_config(settings),
                                         Callback=_byte_counter(size, progress))
    except _S3_FAILURES as exc:
        _raise(exc, uri, settings, "bucket")
    stored = head(uri, settings)
    if stored.size != size:
        raise S3Error(f"uploaded {size} bytes but the server holds {stored.size}: upload it again", uri)
    return stored


# -- several objects at once ------------------------------------------------------------------

def objects_exist(uris: Iterable[str], settings: S3Settings | None = None) -> dict[str, bool]:
    """For each object URI, whether it exists: one listing per "folder", not one request per object."""
    settings = settings or S3Settings.from_env()
    uris = list(uris)
    for uri in uris:  # each refused URI named, before any request
        check_allowed(uri, settings)
    present: set[str] = set()
    for folder in {parent_uri(uri) for uri in uris}:
        bucket, prefix = parse_s3_uri(folder)
        present |= {o.uri for o in list_objects(bucket, f"{prefix}/" if prefix else "", settings, recursive=False)}
    return {uri: uri in present for uri in uris}
