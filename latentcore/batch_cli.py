"""`batch` command: extraction over many files (local or S3), in this process or on Dask.
The work is in batch.py; this module stays light because every CLI start imports it."""
from __future__ import annotations

import argparse
import sys

from .commands import add_reader_timeout_argument
from .errors import InputError


DESCRIPTION = """\
Each file: skip when its latents exist (unless --clobber), download when in S3, extract, write,
upload, delete temporaries. A failing file does not stop the others; the summary lists done,
skipped and failed files and the exit code is 1 when any failed. Re-running finishes only what is
missing. Credentials come from the standard AWS chain (environment, profile, role) on every worker.

example:
  python -m latentcore batch --model ckpt.pth --options opts.json s3://bucket/pp/ \\
      --out s3://bucket/latents --scheduler local --workers 4
"""


def register(subparsers):
    p = subparsers.add_parser("batch", help="extract latents of many files (local or S3), optionally on Dask",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE_OR_S3_URI",
                   help="data files or s3:// URIs; s3://bucket/prefix/ means every file directly under it")
    p.add_argument("--model", required=True, help="checkpoint or TorchScript file (local path or s3:// URI)")
    p.add_argument("--options", help="model options JSON (Nenya's opts.json)")
    p.add_argument("--arch", choices=("nenya", "vae", "torchscript"), help="detected from the checkpoint if left out")
    p.add_argument("--out", help="output folder or s3://bucket/prefix (default: beside each file)")
    p.add_argument("--clobber", action="store_true", help="redo files whose latents exist")
    p.add_argument("--scheduler", help="'local' (Dask LocalCluster) or a scheduler address tcp://host:port; "
                                       "without it the files run one after another in this process")
    p.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS, or $LATENTCORE_S3_ENDPOINT_URL)")
    p.add_argument("--pool", choices=("mean", "max", "flatten"), default="mean")
    p.add_argument("--batch-size", type=int, help="default: the options' batch_size_valid, else 64")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="the forward's numbers: bf16 = autocast bf16 (+ channels-last on CUDA), "
                        "latents within 0.05 std of fp32 (default: fp32)")
    p.add_argument("--readers", type=int, help="processes reading and decompressing the input "
                   "(default: one per core but one on more than 2 cores, else the reader in this process)")
    add_reader_timeout_argument(p)
    p.add_argument("--partitions", help="comma-separated, e.g. valid,train (default: all present)")
    p.add_argument("--work-dir", help="folder for temporary downloads and outputs (default: system temp)")
    p.set_defaults(func=run_batch_command)


def run_batch_command(args) -> int:
    from .batch import FAILED, BatchJob, expand_sources, run_batch, summary_table
    from .models import load_nenya_options
    from .storage.s3 import S3Settings

    settings = S3Settings.from_env(args.endpoint_url)
    options = load_nenya_options(args.options) if args.options else None
    job = BatchJob(model=args.model, out=args.out, arch=args.arch, options=options,
                   pool=args.pool, batch_size=args.batch_size, device=args.device,
                   precision=args.precision, readers=args.readers, reader_timeout=args.reader_timeout,
                   partitions=tuple(args.partitions.split(",")) if args.partitions else None,
                   clobber=args.clobber, s3=settings, work_dir=args.work_dir)
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    sources = expand_sources(args.files, settings)
    done = [0]

    def report(outcome):
        done[0] += 1
        detail = outcome.reason or outcome.output
        print(f"[{done[0]}/{len(sources)}] {outcome.status:7s} {outcome.source} ({outcome.seconds:.1f} s) {detail}",
              file=sys.stderr, flush=True)

    outcomes = run_batch(sources, job, args.scheduler, args.workers, on_result=report)
    print(summary_table(outcomes))
    return 1 if any(o.status == FAILED for o in outcomes) else 0
