"""S3 storage against a real S3-compatible HTTP server on 127.0.0.1 (moto), through boto3."""
import dataclasses

import numpy as np
import pytest

from latentcore.data import open_source
from latentcore.errors import InputError
from latentcore.outputs import latents_uri_for, s3_latents_exist, upload_latents
from latentcore.storage import resolve_path, s3
from latentcore.storage.s3 import S3Error, S3Settings
from latentcore.storage.uri import join_uri, parse_s3_uri, s3_uri
from s3_helpers import FAKE_KEY_ID, FAKE_SECRET, FlakyProxy, isolated_aws_env

MiB = 1 << 20


def put(moto_s3, bucket, key, body: bytes):
    moto_s3.client.put_object(Bucket=bucket, Key=key, Body=body)
    return s3_uri(bucket, key)


def test_uri_parsing_and_joining():
    assert parse_s3_uri("s3://bkt/a/b.h5") == ("bkt", "a/b.h5")
    assert parse_s3_uri("s3://bkt") == ("bkt", "")
    assert join_uri("s3://bkt/pre/", "x.h5") == "s3://bkt/pre/x.h5"
    assert join_uri("s3://bkt", "x.h5") == "s3://bkt/x.h5"
    assert latents_uri_for("s3://bkt/d/scan_preproc.h5", model="demo-vae") == "s3://bkt/d/scan__demo-vae_latents.h5"
    assert latents_uri_for("s3://bkt/d/scan.h5", "s3://out/p", model="m") == "s3://out/p/scan__m_latents.h5"
    with pytest.raises(InputError, match="not an S3 URI"):
        parse_s3_uri("/local/file.h5")


def test_lists_buckets_prefixes_and_objects_with_sizes(moto_s3):
    bucket = moto_s3.new_bucket()
    put(moto_s3, bucket, "runs/a.h5", b"x" * 10)
    put(moto_s3, bucket, "runs/sub/b.h5", b"y" * 25)
    put(moto_s3, bucket, "top.txt", b"z")
    assert bucket in s3.list_buckets(moto_s3.settings)
    everything = s3.list_objects(bucket, "", moto_s3.settings)
    assert {(o.key, o.size) for o in everything} == {("runs/a.h5", 10), ("runs/sub/b.h5", 25), ("top.txt", 1)}
    one_level = s3.list_objects(bucket, "runs/", moto_s3.settings, recursive=False)
    assert [(o.key, o.size) for o in one_level] == [("runs/a.h5", 10)]
    assert s3.list_prefixes(bucket, "runs/", moto_s3.settings) == ["runs/sub/"]
    assert everything[0].uri.startswith(f"s3://{bucket}/")


def test_download_is_cached_until_the_object_changes(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    uri = put(moto_s3, bucket, "data/scan.h5", b"first version")
    seen = []
    path = s3.download(uri, tmp_path, moto_s3.settings, progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == b"first version" and path.name == "scan.h5"
    assert path.is_relative_to(tmp_path) and seen[-1] == (13, 13)
    # a hit does not fetch: bytes changed locally (same size) survive a second call
    path.write_bytes(b"FIRST VERSION")
    assert s3.download(uri, tmp_path, moto_s3.settings) == path
    assert path.read_bytes() == b"FIRST VERSION"
    # a changed object (new ETag) is fetched again and the stale copy removed
    put(moto_s3, bucket, "data/scan.h5", b"second version")
    new_path = s3.download(uri, tmp_path, moto_s3.settings)
    assert new_path != path and new_path.read_bytes() == b"second version"
    assert not path.exists()
    # same size, different content: the ETag alone tells them apart
    put(moto_s3, bucket, "data/scan.h5", b"SECOND VERSION")
    assert s3.download(uri, tmp_path, moto_s3.settings).read_bytes() == b"SECOND VERSION"
    assert not list(tmp_path.rglob("*.partial"))


def test_a_local_copy_lives_in_a_temporary_folder_for_its_block_and_keeps_the_disk_s_room(moto_s3, tmp_path,
                                                                                          monkeypatch):
    import shutil

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # tempfile's folder, read again below
    monkeypatch.setattr(s3.tempfile, "tempdir", None)
    bucket = moto_s3.new_bucket()
    uri = put(moto_s3, bucket, "scans/../x/scan.h5", b"scan bytes")
    seen = []
    with s3.local_copy(uri, moto_s3.settings, progress=lambda done, total: seen.append((done, total))) as path:
        assert path.read_bytes() == b"scan bytes" and path.name == "scan.h5" and seen[-1] == (10, 10)
        assert path.parent.parent == tmp_path and path.parent.name.startswith("latentcore-s3-")
    assert not path.parent.exists()  # gone with its block, nothing cached
    with s3.local_copy(tmp_path / "here.h5") as local:  # a local path as it is
        assert local == tmp_path / "here.h5"
    headed = s3.head(uri, moto_s3.settings)
    with monkeypatch.context() as asked_once:
        asked_once.setattr(s3, "head", lambda *args: pytest.fail("asked again"))  # the caller asked it
        with s3.local_copy(headed, moto_s3.settings) as path:
            assert path.read_bytes() == b"scan bytes" and path.name == "scan.h5"
    room = shutil.disk_usage(tmp_path).free
    with pytest.raises(S3Error, match=rf"^{uri}: the object holds 10 bytes .* must stay free: not downloaded"):
        with s3.local_copy(uri, moto_s3.settings, keep_free=room):
            pass
    assert list(tmp_path.iterdir()) == []
    fenced = dataclasses.replace(moto_s3.settings, access=s3.S3Access(("elsewhere",)))
    with pytest.raises(S3Error, match="outside the S3 locations allowed here"):
        with s3.local_copy(uri, fenced):
            pass


@pytest.mark.parametrize("key", ["../../escape.txt", "/etc/escape.txt", "a/../../../escape.txt", "dir/..",
                                 "..", "a\\..\\..\\escape.txt"])
def test_keys_with_dot_dot_or_absolute_paths_stay_inside_the_cache(moto_s3, tmp_path, key):
    bucket = moto_s3.new_bucket()
    uri = put(moto_s3, bucket, key, b"payload")
    cache = tmp_path / "cache"
    path = s3.download(uri, cache, moto_s3.settings)
    assert path.read_bytes() == b"payload"
    assert path.resolve().is_relative_to(cache.resolve())
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [path]  # nothing outside the cache directory


def test_upload_multipart_verifies_and_round_trips(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    payload = np.random.default_rng(0).integers(0, 256, 11 * MiB, dtype=np.uint8).tobytes()
    local = tmp_path / "big.bin"
    local.write_bytes(payload)
    small_parts = dataclasses.replace(moto_s3.settings, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    seen = []
    stored = s3.upload(local, f"s3://{bucket}/out/big.bin", small_parts,
                       progress=lambda done, total: seen.append(done))
    assert stored.size == len(payload)
    assert stored.etag.endswith("-3")  # S3's ETag of a 3-part multipart upload
    assert seen[-1] == len(payload)
    back = s3.download(stored.uri, tmp_path / "cache", small_parts)  # ranged parallel GETs
    assert back.read_bytes() == payload
    single = s3.upload(local, f"s3://{bucket}/out/single.bin", moto_s3.settings)
    assert "-" not in single.etag  # under the default threshold: one PUT


def test_missing_object_and_wrong_bucket_name_the_uri_and_the_problem(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    with pytest.raises(S3Error, match=rf"s3://{bucket}/nothing.h5: no such object"):
        s3.download(f"s3://{bucket}/nothing.h5", tmp_path, moto_s3.settings)
    with pytest.raises(S3Error, match=r"s3://no-such-bucket-here/x.h5: no such bucket"):
        s3.download("s3://no-such-bucket-here/x.h5", tmp_path, moto_s3.settings)
    with pytest.raises(S3Error, match=r"s3://no-such-bucket-here/: no such bucket"):
        s3.list_objects("no-such-bucket-here", "", moto_s3.settings)
    local = tmp_path / "f.bin"
    local.write_bytes(b"1")
    with pytest.raises(S3Error, match=r"s3://no-such-bucket-here/f.bin: no such bucket"):
        s3.upload(local, "s3://no-such-bucket-here/f.bin", moto_s3.settings)
    assert isinstance(S3Error("x", "s3://b/k"), InputError)
    assert not s3.exists(f"s3://{bucket}/nothing.h5", moto_s3.settings)


def test_unreachable_endpoint_is_a_clear_error(monkeypatch):
    isolated_aws_env(monkeypatch)  # credentials of its own: without them boto3 stops before connecting
    dead = S3Settings(endpoint_url="http://127.0.0.1:9", max_attempts=2, connect_timeout=1)
    with pytest.raises(S3Error, match=r"s3://bkt/x.h5: cannot reach the S3 endpoint http://127.0.0.1:9"):
        s3.head("s3://bkt/x.h5", dead)


def test_refused_or_missing_credentials_never_leak_the_secret(moto_s3, tmp_path, monkeypatch):
    bucket = moto_s3.new_bucket()
    moto_s3.require_auth(True)  # our fake key is unknown to the server's IAM
    try:
        with pytest.raises(S3Error, match="credentials were refused") as refused:
            s3.list_objects(bucket, "", moto_s3.settings)
        with pytest.raises(S3Error, match="access denied") as denied:
            s3.download(f"s3://{bucket}/k.h5", tmp_path, moto_s3.settings)
    finally:
        moto_s3.require_auth(False)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    no_credentials = dataclasses.replace(moto_s3.settings, region="eu-west-1")  # a fresh client
    with pytest.raises(S3Error, match="no S3 credentials found") as missing:
        s3.list_objects(bucket, "", no_credentials)
    for error in (refused, denied, missing):
        text = str(error.value) + repr(error.value.__cause__) + repr(error.value.__context__)
        assert FAKE_SECRET not in text and FAKE_KEY_ID not in text


def test_resolve_path_and_open_source_accept_s3_uris(moto_s3, sst_h5, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTCORE_S3_CACHE", str(tmp_path / "cache"))
    bucket = moto_s3.new_bucket()
    uri = put(moto_s3, bucket, "sst/sst_preproc.h5", sst_h5.read_bytes())
    assert resolve_path(sst_h5) == sst_h5  # local paths pass through
    local = resolve_path(uri)
    assert local.is_relative_to(tmp_path / "cache") and local.read_bytes() == sst_h5.read_bytes()
    with open_source(uri) as remote, open_source(sst_h5) as here:
        assert remote.info().partitions == here.info().partitions == {"valid": 12, "train": 6}
        np.testing.assert_array_equal(remote.read("train", 0, 6), here.read("train", 0, 6))


def test_latents_in_s3_are_found_uploaded_skipped_and_clobbered(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    sources = [put(moto_s3, bucket, f"pp/file{i}_preproc.h5", b"src") for i in range(3)]
    demo = {"settings": moto_s3.settings, "model": "demo-vae"}
    assert s3_latents_exist(sources, **demo) == dict.fromkeys(sources, False)
    latents = tmp_path / "file0__demo-vae_latents.h5"
    latents.write_bytes(b"latents v1")
    target, uploaded = upload_latents(latents, sources[0], **demo)
    assert (target, uploaded) == (f"s3://{bucket}/pp/file0__demo-vae_latents.h5", True)
    assert s3_latents_exist(sources, **demo) == {sources[0]: True, sources[1]: False, sources[2]: False}
    assert not any(s3_latents_exist(sources, settings=moto_s3.settings, model="other").values())  # another model's
    latents.write_bytes(b"latents v2 longer")
    assert upload_latents(latents, sources[0], **demo) == (target, False)
    assert s3.head(target, moto_s3.settings).size == len(b"latents v1")  # skipped: the old one stays
    assert upload_latents(latents, sources[0], clobber=True, **demo) == (target, True)
    assert s3.head(target, moto_s3.settings).size == len(b"latents v2 longer")
    # to a chosen prefix instead of beside the source
    elsewhere = f"s3://{bucket}/results"
    assert upload_latents(latents, sources[1], elsewhere, **demo)[0] == f"{elsewhere}/file1__demo-vae_latents.h5"
    assert s3_latents_exist(sources, elsewhere, **demo)[sources[1]]


def test_settings_read_the_endpoint_from_the_environment(monkeypatch):
    monkeypatch.setenv("LATENTCORE_S3_ENDPOINT_URL", "http://127.0.0.1:1234")
    assert S3Settings.from_env().endpoint_url == "http://127.0.0.1:1234"
    assert S3Settings.from_env("http://other:1").endpoint_url == "http://other:1"


def test_throttling_and_5xx_are_retried_with_backoff_then_reported(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    uri = put(moto_s3, bucket, "k.h5", b"eventually")
    proxy = FlakyProxy(moto_s3.endpoint, failures=2)
    try:
        patient = S3Settings(endpoint_url=proxy.endpoint, max_attempts=4, retry_mode="standard")
        assert s3.download(uri, tmp_path, patient).read_bytes() == b"eventually"
        assert proxy.requests >= 3  # two refusals, then the answer
        proxy.requests, proxy.failures = 0, 100
        impatient = S3Settings(endpoint_url=proxy.endpoint, max_attempts=2, retry_mode="adaptive")
        with pytest.raises(S3Error, match=rf"s3://{bucket}/: the server kept failing after 2 attempts \(SlowDown\)"):
            s3.list_objects(bucket, "", impatient)
        assert proxy.requests == 2  # exactly max_attempts tries
    finally:
        proxy.close()
