"""A file's SHA-256 once per process (`storage.sha256_once`), started ahead of need (`storage.hash_ahead`): the
digest of the file as it is now, never of an earlier state, and a failure that is not kept."""
import hashlib
import os
import threading
import time

import pytest

from latentcore.storage import hash_ahead, local, sha256_once


def test_the_digest_is_the_files_and_follows_the_file_when_it_changes(tmp_path):
    path = tmp_path / "latents.bin"
    path.write_bytes(b"a" * 5_000_000)
    hash_ahead(path, None, tmp_path / "missing.h5")  # None and a missing file are skipped, not raised
    assert sha256_once(path) == hashlib.sha256(b"a" * 5_000_000).hexdigest()
    path.write_bytes(b"b" * 10)
    assert sha256_once(path) == hashlib.sha256(b"b" * 10).hexdigest()
    stamp = os.stat(path).st_mtime_ns
    path.write_bytes(b"c" * 10)  # the same size: the new state is told by its modification time
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    assert sha256_once(path) == hashlib.sha256(b"c" * 10).hexdigest()
    time.sleep(0.05)  # past a tick of the kernel's coarse clock, which stamps the change time
    path.write_bytes(b"d" * 10)  # the same size and its modification time set back: told by its change time
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    assert sha256_once(path) == hashlib.sha256(b"d" * 10).hexdigest()


def test_a_call_while_another_thread_hashes_the_file_waits_for_that_digest(tmp_path, monkeypatch):
    path = tmp_path / "latents.bin"
    path.write_bytes(b"x" * 1000)
    started, release, calls = threading.Event(), threading.Event(), []

    def slow_sha256(file):
        calls.append(file)
        started.set()
        release.wait(10)
        return hashlib.sha256(path.read_bytes()).hexdigest()

    monkeypatch.setattr(local, "sha256_file", slow_sha256)
    hash_ahead(path)
    assert started.wait(10)
    results = []
    waiting = threading.Thread(target=lambda: results.append(sha256_once(path)))
    waiting.start()
    release.set()
    waiting.join(10)
    assert results == [hashlib.sha256(b"x" * 1000).hexdigest()] and len(calls) == 1


def test_a_failed_hash_is_raised_and_not_kept(tmp_path, monkeypatch):
    path = tmp_path / "latents.bin"
    path.write_bytes(b"y")

    def unreadable(file):
        raise PermissionError(f"{file}: permission denied")

    monkeypatch.setattr(local, "sha256_file", unreadable)
    with pytest.raises(PermissionError):
        sha256_once(path)
    monkeypatch.undo()
    assert sha256_once(path) == hashlib.sha256(b"y").hexdigest()
