"""Batch extraction over 8 files in S3, sequential vs a Dask LocalCluster of 1 and 2 workers, and the
S3 transfer rate against a plain local copy of the same bytes. Ratios measured in one run.

Everything is real and local: an S3-compatible server (moto) on 127.0.0.1, h5ebsd scans cut from the
demo scan, the conv VAE. The clusters are started before the clock starts (their start-up
time is printed apart); each run re-extracts every file (clobber). On a 2-core machine the
sequential run already lets torch use both cores, so 2 workers can only win by overlapping the
S3 transfers and file reads with compute.

    nice python benchmarks/batch_scale.py [--files 8] [--rows 10] [--transfer-mib 64]

Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the scan writer and the S3 test server helpers

from latentcore.demo import DEMO_SCAN as SCAN  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rows", type=int, default=10, help="scan rows per file (60 patterns each)")
    parser.add_argument("--transfer-mib", type=int, default=64)
    args = parser.parse_args()

    import torch
    from distributed import LocalCluster

    from latentcore import batch
    from latentcore.models.vae import ConvVAE, VAEConfig
    from latentcore.storage import s3
    from s3_helpers import FAKE_KEY_ID, FAKE_SECRET, start_server
    from test_batch import write_scan

    tmp = Path(tempfile.mkdtemp(prefix="batch-scale-"))
    os.environ.update(AWS_ACCESS_KEY_ID=FAKE_KEY_ID, AWS_SECRET_ACCESS_KEY=FAKE_SECRET, AWS_DEFAULT_REGION="us-east-1",
                      AWS_EC2_METADATA_DISABLED="true", LATENTCORE_S3_CACHE=str(tmp / "cache"))
    server = start_server()
    host, port = server.get_host_and_port()
    settings = s3.S3Settings(endpoint_url=f"http://{host}:{port}")
    s3.client_for(settings).create_bucket(Bucket="bench")
    try:
        torch.manual_seed(0)
        checkpoint = tmp / "vae.pth"
        torch.save(ConvVAE(VAEConfig(input_size=60, latent_dim=16)).checkpoint(), checkpoint)
        model_uri = s3.upload(checkpoint, "s3://bench/models/vae.pth", settings).uri
        sources = []
        for i in range(args.files):
            local = write_scan(tmp / f"scan{i}_preproc.h5", SCAN, (5 * i) % (40 - args.rows + 1), args.rows)
            sources.append(s3.upload(local, f"s3://bench/pp/{local.name}", settings).uri)
        n_patterns = args.files * args.rows * 60
        print(f"{args.files} files x {args.rows * 60} patterns (60x60 uint8) in S3 at 127.0.0.1; conv VAE "
              f"(32,64,128), latent 16; torch threads in this process: {torch.get_num_threads()}; "
              f"CPU cores: {os.cpu_count()}")
        job = batch.BatchJob(model=model_uri, out="s3://bench/latents", device="auto", clobber=True, s3=settings,
                             work_dir=str(tmp))

        batch.run_batch(sources[:1], job)  # warm-up: imports, first model load, allocator
        seconds = {"sequential": timed(lambda: check(batch.run_batch(sources, job)))}
        for workers in (1, 2):
            start = time.perf_counter()
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                              silence_logs=logging.ERROR) as cluster:
                print(f"  (LocalCluster with {workers} worker(s) started in {time.perf_counter() - start:.1f} s)")
                address = cluster.scheduler_address
                batch.run_batch(sources[:workers], job, scheduler=address)  # warm each worker: import + model
                seconds[f"dask {workers} worker(s)"] = timed(
                    lambda: check(batch.run_batch(sources, job, scheduler=address)))
        base = seconds["sequential"]
        for name, value in seconds.items():
            print(f"{name:22s} {value:7.2f} s  {args.files / value:6.2f} files/s  {n_patterns / value:8.0f} patterns/s"
                  f"  speed vs sequential: {base / value:.2f}x")

        transfer_rates(settings, tmp, args.transfer_mib)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def check(outcomes):
    failed = [o for o in outcomes if o.status != "done"]
    if failed:
        raise SystemExit(f"benchmark run failed: {failed}")


def transfer_rates(settings, tmp: Path, mib: int):
    from latentcore.storage import s3

    payload = tmp / "payload.bin"
    payload.write_bytes(np.random.default_rng(0).integers(0, 256, mib << 20, dtype=np.uint8).tobytes())
    size = payload.stat().st_size
    multipart = dataclasses.replace(settings, multipart_threshold=8 << 20, multipart_chunksize=8 << 20)
    rates = {
        "local copy": timed(lambda: shutil.copyfile(payload, tmp / "copy.bin")),
        "S3 upload (one PUT)": timed(lambda: s3.upload(payload, "s3://bench/payload1.bin", settings)),
        "S3 upload (8 MiB parts)": timed(lambda: s3.upload(payload, "s3://bench/payload.bin", multipart)),
        "S3 download (one GET)": timed(lambda: s3.download_to("s3://bench/payload1.bin", tmp / "d1.bin", settings)),
        "S3 download (8 MiB ranges)": timed(lambda: s3.download_to("s3://bench/payload.bin", tmp / "d.bin", multipart)),
    }
    local = size / rates["local copy"]
    print(f"transfer of {mib} MiB (S3 = moto on 127.0.0.1, in this process):")
    for name, value in rates.items():
        rate = size / value
        print(f"  {name:28s} {rate / 2**20:8.1f} MiB/s  ({rate / local:.3f} x local copy)")


if __name__ == "__main__":
    main()
