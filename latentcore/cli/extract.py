"""Making latents: `extract` (data files into <stem>__<model>_latents.h5, in this process) and `batch` (many files, local or
S3, optionally on Dask; the work is in latentcore/batch.py). Both take the same model and extraction options
(options.py)."""
from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from .options import (LATENTS_CLOBBER_HELP, add_clobber_option, add_extraction_options, add_model_options,
                      add_out_option, add_preprocessing_options, partitions_from, preprocessing_from, scheduler,
                      study_name)

BATCH_DESCRIPTION = """\
Each file: skip when its latents exist (unless --clobber), download when in S3, extract, write,
upload, delete temporaries. A failing file does not stop the others; the summary lists done,
skipped and failed files and the exit code is 1 when any failed. Re-running finishes only what is
missing. Credentials come from the standard AWS chain (environment, profile, role) on every worker.

example:
  python -m latentcore batch --model ckpt.pth --options opts.json s3://bucket/pp/ \\
      --out s3://bucket/latents --scheduler local --workers 4
"""


def add_extract(subparsers):
    p = subparsers.add_parser("extract", help="extract latents of data files into <stem>__<model>_latents.h5 (the model: its recorded name or short hash)")
    p.add_argument("data", nargs="+", help="data files (HDF5, image folders, videos, ...)")
    add_model_options(p)
    add_out_option(p, "output folder (default: beside each input)", required=False, clobber=False)
    add_extraction_options(p, batch_size_default=64)
    add_clobber_option(p, LATENTS_CLOBBER_HELP)
    add_preprocessing_options(p)  # a trained VAE brings its own: these are for other encoders
    p.set_defaults(func=run_extract)


def add_batch(subparsers):
    p = subparsers.add_parser("batch", help="extract latents of many files (local or S3), optionally on Dask",
                              description=BATCH_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE_OR_S3_URI",
                   help="data files or s3:// URIs; s3://bucket/prefix/ means every file directly under it")
    add_model_options(p, where="a local path or an s3:// URI")
    add_out_option(p, "output folder or s3://bucket/prefix (default: beside each file)", required=False,
                   clobber=False)
    add_extraction_options(p, batch_size_default=None, batch_size_help="default: the options' batch_size_valid, "
                                                                       "else 64")
    add_clobber_option(p, LATENTS_CLOBBER_HELP)
    p.add_argument("--scheduler", type=scheduler, help="'local' (Dask LocalCluster) or a scheduler address "
                                                       "tcp://host:port; without it the files run one after another "
                                                       "in this process")
    p.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS, or $LATENTCORE_S3_ENDPOINT_URL)")
    p.add_argument("--work-dir", help="folder for temporary downloads and outputs (default: system temp)")
    p.add_argument("--study", type=study_name, metavar="NAME", help="also write NAME.study.json, the study of the "
                   "outputs, in --out (a local one; else their common folder), once every file is done")
    p.set_defaults(func=run_batch)


def run_extract(args) -> int:
    from tqdm import tqdm

    from ..data.preprocess import with_preprocessing
    from ..extract import extract_file
    from ..models import load_model
    from ..outputs import latents_path_for, model_tag, refuse_shared_outputs

    model = with_preprocessing(load_model(args.model, arch=args.arch, options=args.options),
                               preprocessing_from(args))
    tag = model_tag(model.recorded_name, model.sha256)
    refuse_shared_outputs(args.data, [latents_path_for(data, args.out, model=tag) for data in args.data])
    for data in args.data:
        bars = []  # created on the first progress report, so that an early error prints one line only

        def progress(done, total, message):
            if not bars:
                bars.append(tqdm(total=total, desc=message, unit="item", file=sys.stderr))
            bars[0].update(done - bars[0].n)

        try:
            result = extract_file(data, model, args.out, pool=args.pool, batch_size=args.batch_size,
                                  device=args.device, partitions=partitions_from(args), clobber=args.clobber,
                                  progress=progress, precision=args.precision, readers=args.readers,
                                  reader_timeout=args.reader_timeout)
        finally:
            for bar in bars:
                bar.close()
        verb = "exists, skipped (use --clobber to overwrite)" if result.skipped else "written"
        shapes = ", ".join(f"{p}: {n} rows" for p, n in result.rows.items())
        print(f"{result.path}: {verb} ({shapes})")
    return 0


def run_batch(args) -> int:
    from .. import batch
    from ..models import load_nenya_options
    from ..storage.s3 import S3Settings

    settings = S3Settings.from_env(args.endpoint_url)
    options = load_nenya_options(args.options) if args.options else None
    partitions = partitions_from(args)
    job = batch.BatchJob(model=args.model, out=args.out, arch=args.arch, options=options,
                   pool=args.pool, batch_size=args.batch_size, device=args.device,
                   precision=args.precision, readers=args.readers, reader_timeout=args.reader_timeout,
                   partitions=tuple(partitions) if partitions else None,
                   clobber=args.clobber, s3=settings, work_dir=args.work_dir)
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    sources = batch.expand_sources(args.files, settings)
    done = [0]

    def report(outcome, _worker):  # the outcome names its worker
        done[0] += 1
        detail = outcome.reason or outcome.output
        print(f"[{done[0]}/{len(sources)}] {outcome.status:7s} {outcome.source} ({outcome.seconds:.1f} s) {detail}",
              file=sys.stderr, flush=True)

    outcomes = batch.run_batch(sources, job, args.scheduler, args.workers, on_result=report)
    print(batch.summary_table(outcomes))
    code = 1 if any(o.status == batch.FAILED for o in outcomes) else 0
    if args.study:
        from .study import study_of_batch

        code, said = study_of_batch(args, outcomes, settings)
        print(said)
    return code
