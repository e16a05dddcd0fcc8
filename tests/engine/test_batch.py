"""Batch extraction over many files: sequential and on a real Dask LocalCluster, sources and outputs
in a real S3-compatible server on 127.0.0.1 (moto) or on disk."""
import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from latentcore import batch
from latentcore.cli import main as cli_main
from latentcore.extract import extract_file
from latentcore.models import load_model
from latentcore.models.vae import ConvVAE, VAEConfig
from latentcore.outputs import latents_path_for, model_tag, output_for
from latentcore.storage import s3, sha256_file
from s3_helpers import isolated_aws_env, start_server

N_ROWS = 2  # scan rows per small file: 2 x 60 patterns


def write_scan(path, ebsd_h5, first_row: int, n_rows: int = N_ROWS):
    """A small h5ebsd scan: rows [first_row, first_row + n_rows) of the shared scan, same layout."""
    with h5py.File(ebsd_h5) as src:
        nx = int(src["Scan 1/EBSD/Header/n_columns"][0])
        rows = slice(first_row * nx, (first_row + n_rows) * nx)
        patterns = src["Scan 1/EBSD/Data/patterns"][rows]
        x = src["Scan 1/EBSD/CrystalMap/crystal_map/data/x"][rows]
        y = src["Scan 1/EBSD/CrystalMap/crystal_map/data/y"][rows]
    with h5py.File(path, "w") as f:
        f["Scan 1/EBSD/Data/patterns"] = patterns
        header = f.create_group("Scan 1/EBSD/Header")
        header["n_rows"], header["n_columns"] = np.array([n_rows]), np.array([nx])
        header["step_x"], header["step_y"] = np.array([1.5]), np.array([1.5])
        f["Scan 1/EBSD/CrystalMap/crystal_map/data/x"] = x
        f["Scan 1/EBSD/CrystalMap/crystal_map/data/y"] = y
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "vae.pth"
    torch.save(ConvVAE(VAEConfig(input_size=60, latent_dim=4, channels=(8, 16))).checkpoint(), path)
    return path


@pytest.fixture(scope="module")
def scans(tmp_path_factory, ebsd_h5):
    folder = tmp_path_factory.mktemp("scans")
    return [write_scan(folder / f"scan{i}_preproc.h5", ebsd_h5, 3 * i) for i in range(4)]


def named(stem: str, checkpoint) -> str:
    """The name of the latents the checkpoint makes of `<stem>.h5` (it records no name: its short hash)."""
    return latents_path_for(Path(f"{stem}.h5"), model=model_tag("", sha256_file(checkpoint))).name


def upload_scans(moto_s3, scans, bucket, prefix="pp"):
    return [s3.upload(p, f"s3://{bucket}/{prefix}/{p.name}", moto_s3.settings).uri for p in scans]


def datasets(path) -> dict[str, bytes]:
    with h5py.File(path) as f:
        return {name: f[name][()].tobytes() for name in f if isinstance(f[name], h5py.Dataset)}


def s3_datasets(moto_s3, uri, tmp_path) -> dict[str, bytes]:
    return datasets(s3.download(uri, tmp_path / "check", moto_s3.settings))


def test_sequential_batch_s3_to_s3_then_skips_then_clobbers(moto_s3, scans, checkpoint, tmp_path, capsys):
    bucket = moto_s3.new_bucket()
    upload_scans(moto_s3, scans[:3], bucket)
    work = tmp_path / "work"
    work.mkdir()
    args = ["batch", "--model", str(checkpoint), f"s3://{bucket}/pp/", "--out", f"s3://{bucket}/latents",
            "--endpoint-url", moto_s3.endpoint, "--device", "cpu", "--work-dir", str(work)]
    assert cli_main(args) == 0
    first = capsys.readouterr().out
    assert "3 done, 0 skipped, 0 failed" in first
    stored = {o.key: o.size for o in s3.list_objects(bucket, "latents/", moto_s3.settings)}
    assert set(stored) == {f"latents/{named(f'scan{i}', checkpoint)}" for i in range(3)}
    # the latents are exactly what a local extraction of the same file gives
    local = extract_file(scans[1], load_model(checkpoint), tmp_path / "local", device="cpu").path
    assert s3_datasets(moto_s3, f"s3://{bucket}/latents/{named('scan1', checkpoint)}", tmp_path) == datasets(local)
    assert not list(work.iterdir())  # temporaries deleted
    # a re-run skips everything; clobber redoes everything
    assert cli_main(args) == 0
    assert "0 done, 3 skipped, 0 failed" in capsys.readouterr().out
    assert cli_main(args + ["--clobber"]) == 0
    assert "3 done, 0 skipped, 0 failed" in capsys.readouterr().out


def test_a_failing_file_does_not_stop_the_others(moto_s3, scans, checkpoint, tmp_path, capsys):
    bucket = moto_s3.new_bucket()
    good = upload_scans(moto_s3, scans[:2], bucket)
    moto_s3.client.put_object(Bucket=bucket, Key="pp/corrupt.h5", Body=b"not an hdf5 file at all")
    sources = [good[0], f"s3://{bucket}/pp/corrupt.h5", f"s3://{bucket}/pp/missing.h5", good[1]]
    out = tmp_path / "out"
    args = ["batch", "--model", str(checkpoint), *sources, "--out", str(out), "--endpoint-url", moto_s3.endpoint,
            "--device", "cpu"]
    assert cli_main(args) == 1
    table = capsys.readouterr().out
    assert "2 done, 0 skipped, 2 failed" in table
    assert "unrecognised or corrupt file" in table
    assert f"s3://{bucket}/pp/missing.h5: no such object" in table
    assert sorted(p.name for p in out.iterdir()) == [named("scan0", checkpoint), named("scan1", checkpoint)]
    # once the bad file is fixed, a re-run does only that file
    s3.upload(scans[2], f"s3://{bucket}/pp/corrupt.h5", moto_s3.settings)
    assert cli_main(args[:5] + args[6:]) == 0  # without the missing object
    assert "1 done, 2 skipped, 0 failed" in capsys.readouterr().out
    assert (out / named("corrupt", checkpoint)).is_file()


def test_server_stopped_mid_batch_leaves_nothing_half_written_and_the_rerun_completes(
        scans, checkpoint, tmp_path, monkeypatch):
    server = start_server()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    isolated_aws_env(monkeypatch, endpoint, tmp_path / "cache")
    settings = s3.S3Settings(endpoint_url=endpoint, max_attempts=2, connect_timeout=2)
    s3.client_for(settings).create_bucket(Bucket="stopped")
    sources = [s3.upload(p, f"s3://stopped/pp/{p.name}", settings).uri for p in scans[:3]]
    work = tmp_path / "work"
    work.mkdir()
    job = batch.BatchJob(model=str(checkpoint), out="s3://stopped/latents", device="cpu", s3=settings,
                         work_dir=str(work))

    def stop_after_first(outcome, _worker):
        if outcome.source == sources[0]:
            server.stop()

    outcomes = batch.run_batch(sources, job, on_result=stop_after_first)
    assert [o.status for o in outcomes] == ["done", "failed", "failed"]
    assert all(f"cannot reach the S3 endpoint {endpoint}" in o.reason for o in outcomes[1:])
    assert all("s3://stopped/" in o.reason for o in outcomes[1:])  # names the object it could not reach
    assert not list(work.iterdir())
    server = start_server(port)  # same port, same in-process state
    try:
        keys = [o.key for o in s3.list_objects("stopped", "latents/", settings)]
        assert keys == [f"latents/{named('scan0', checkpoint)}"]  # only the finished one, nothing partial
        assert not s3.client_for(settings).list_multipart_uploads(Bucket="stopped").get("Uploads")
        again = batch.run_batch(sources, job)
        assert [o.status for o in again] == ["skipped", "done", "done"]
        assert len(s3.list_objects("stopped", "latents/", settings)) == 3
    finally:
        server.stop()


def test_dask_local_cluster_gives_the_sequential_latents_byte_for_byte(moto_s3, scans, checkpoint, tmp_path):
    bucket = moto_s3.new_bucket()
    sources = upload_scans(moto_s3, scans, bucket)
    model_uri = s3.upload(checkpoint, f"s3://{bucket}/models/vae.pth", moto_s3.settings).uri  # workers fetch it
    job = batch.BatchJob(model=model_uri, out=f"s3://{bucket}/sequential", device="cpu", s3=moto_s3.settings)
    sequential = batch.run_batch(sources, job)
    on_dask = batch.run_batch(sources, dataclasses.replace(job, out=f"s3://{bucket}/dask"), scheduler="local",
                              workers=2)
    assert [o.status for o in sequential] == [o.status for o in on_dask] == ["done"] * 4
    assert {o.worker for o in on_dask} <= {0, 1}  # ran on the two workers, not here
    # 4 files on 2 workers: a worker ran several files and still loaded the model once
    assert all(o.model_loads == 1 for o in on_dask)
    for a, b in zip(sequential, on_dask):
        one, two = s3_datasets(moto_s3, a.output, tmp_path), s3_datasets(moto_s3, b.output, tmp_path)
        assert set(one) == {"all", "x", "y", "grid_shape"} and one == two


def test_summary_and_output_locations(tmp_path):
    assert output_for("s3://bkt/pp/x_preproc.h5", None, model="demo-vae") == "s3://bkt/pp/x__demo-vae_latents.h5"
    assert output_for("s3://bkt/pp/x_preproc.h5", "s3://out/lat", model="m") == "s3://out/lat/x__m_latents.h5"
    assert output_for("s3://bkt/pp/x.h5", str(tmp_path), model="m") == str(tmp_path / "x__m_latents.h5")
    assert output_for(str(tmp_path / "y.h5"), None, model="m") == str(tmp_path / "y__m_latents.h5")
    table = batch.summary_table([batch.FileOutcome("a.h5", "done", "a_latents.h5", rows=10),
                                 batch.FileOutcome("b.h5", "failed", reason="b.h5: broken")])
    assert "1 done, 0 skipped, 1 failed" in table and "b.h5: broken" in table


def test_batch_passes_reader_timeout_to_each_files_extraction(scans, checkpoint, tmp_path, capsys, monkeypatch):
    import latentcore.extract

    timeouts, extract = [], latentcore.extract.extract_file

    def recording(*args, **kwargs):
        timeouts.append(kwargs["reader_timeout"])
        return extract(*args, **kwargs)

    monkeypatch.setattr(latentcore.extract, "extract_file", recording)
    args = ["batch", "--model", str(checkpoint), str(scans[0]), str(scans[1]), "--out", str(tmp_path), "--device",
            "cpu", "--readers", "2"]
    assert cli_main(args + ["--reader-timeout", "7.5"]) == 0
    assert "2 done, 0 skipped, 0 failed" in capsys.readouterr().out and timeouts == [7.5, 7.5]
    assert cli_main(args + ["--clobber"]) == 0 and timeouts[2:] == [None, None]  # extract_file's default
    for command in (args, ["extract", str(scans[0]), "--model", str(checkpoint)]):
        with pytest.raises(SystemExit) as refused:  # before any model loads
            cli_main(command + ["--reader-timeout", "0"])
        assert refused.value.code == 2
        assert "--reader-timeout: must be a positive number of seconds, got '0'" in capsys.readouterr().err


def test_extract_file_accepts_an_s3_uri(moto_s3, scans, checkpoint, tmp_path):
    bucket = moto_s3.new_bucket()
    uri = upload_scans(moto_s3, scans[:1], bucket)[0]
    model = load_model(checkpoint)
    remote = extract_file(uri, model, tmp_path / "remote", device="cpu")
    local = extract_file(scans[0], model, tmp_path / "local", device="cpu")
    assert remote.path.name == named("scan0", checkpoint) and datasets(remote.path) == datasets(local.path)


@pytest.fixture
def remote_cluster(tmp_path):
    """A real `dask scheduler` and `dask worker` on 127.0.0.1, each in its own working directory."""
    import json
    import os
    import subprocess
    import sys
    import time

    bin_dir = Path(sys.executable).parent
    scheduler_file = tmp_path / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))  # the workers import this checkout's latentcore
    dirs = {name: tmp_path / name for name in ("scheduler", "worker")}
    for d in dirs.values():
        d.mkdir()
    procs = [subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", scheduler_file], cwd=dirs["scheduler"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(subprocess.Popen([bin_dir / "dask", "worker", address, "--nworkers", "1", "--nthreads", "1",
                                       "--no-dashboard", "--name", "remote-0"], cwd=dirs["worker"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def test_remote_scheduler_takes_relative_paths_from_the_clients_directory(remote_cluster, scans, checkpoint,
                                                                         tmp_path, monkeypatch, capsys):
    client_dir = tmp_path / "client"
    (client_dir / "models").mkdir(parents=True)
    (client_dir / "data").mkdir()
    (client_dir / "models" / "vae.pth").write_bytes(checkpoint.read_bytes())
    (client_dir / "data" / "scan0.h5").write_bytes(scans[0].read_bytes())
    monkeypatch.chdir(client_dir)  # the worker runs in tmp_path/worker: relative paths mean nothing there
    args = ["batch", "--model", "models/vae.pth", "data/scan0.h5", "data/gone.h5", "--out", "out",
            "--scheduler", remote_cluster, "--device", "cpu"]
    assert cli_main(args) == 1
    table = capsys.readouterr().out
    assert "1 done, 0 skipped, 1 failed" in table
    expected = extract_file(scans[0], load_model(checkpoint), tmp_path / "local", device="cpu").path
    assert datasets(client_dir / "out" / named("scan0", checkpoint)) == datasets(expected)
    missing = str(client_dir / "data" / "gone.h5")
    assert f"{missing}: input file not found on worker remote-0" in table
    assert "storage every worker shares" in table
