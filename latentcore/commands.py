"""`info` and `extract` commands (the rest register from their own modules; see cli.py)."""
from __future__ import annotations

import argparse
import json
import sys


def register(subparsers):
    from .train.cli import add_preprocessing_arguments

    info = subparsers.add_parser("info", help="print what a file holds, as JSON")
    info.add_argument("file")
    info.set_defaults(func=run_info)

    ex = subparsers.add_parser("extract", help="extract latents of data files into <stem>_latents.h5")
    ex.add_argument("data", nargs="+", help="data files (HDF5, image folders, videos, ...)")
    ex.add_argument("--model", required=True, help="checkpoint (.pth/.pt) or TorchScript file")
    ex.add_argument("--options", help="model options JSON (Nenya's opts.json); optional when the checkpoint has them")
    ex.add_argument("--arch", choices=("nenya", "vae", "torchscript"), help="detected from the checkpoint if left out")
    ex.add_argument("--out", help="output folder (default: beside each input)")
    ex.add_argument("--pool", choices=("mean", "max", "flatten"), default="mean", help="pooling of spatial latents")
    ex.add_argument("--batch-size", type=int, default=64)
    ex.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ex.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="the forward's numbers: bf16 = autocast bf16 (channels-last), "
                        "latents within 0.05 std of fp32 (default: fp32)")
    ex.add_argument("--readers", type=int, help="processes reading and decompressing the input "
                   "(default: one per core but one on more than 2 cores, else the reader in this process)")
    add_reader_timeout_argument(ex)
    ex.add_argument("--partitions", help="comma-separated, e.g. valid,train (default: all present)")
    ex.add_argument("--clobber", action="store_true", help="overwrite latents files that exist")
    add_preprocessing_arguments(ex)  # a trained VAE brings its own: these are for other encoders
    ex.set_defaults(func=run_extract)


def add_reader_timeout_argument(parser):
    """`--reader-timeout` of `extract` and `batch` (latentcore/data/parallel.py's READER_TIMEOUT when left out)."""
    parser.add_argument("--reader-timeout", type=positive_seconds, metavar="SECONDS",
                        help="end the run when a reader process hands back nothing for this long (stopped, a hung "
                             "disk), keeping the .partial for resume (default: 120)")


def positive_seconds(text: str) -> float:
    """Refused at parsing, before a model loads: a run would otherwise end at its first block."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return seconds


def run_info(args) -> int:
    from .data import open_source

    with open_source(args.file, describe_only=True) as reader:  # reads no rows: no per-row limit
        described = reader.info().to_dict()
        readable = reader.info().has_coordinates and not described["extra"].get("refused_for_reading")
        orientations = reader.orientations() if readable else None
        if orientations is not None:  # Euler angles and phases: the convention and the phase list
            described["orientations"] = orientations.describe()
        print(json.dumps(described, indent=2, default=str))
    return 0


def run_extract(args) -> int:
    from tqdm import tqdm

    from .data.preprocess import with_preprocessing
    from .extract import extract_file
    from .models import load_model
    from .outputs import latents_path_for, refuse_shared_outputs
    from .train.cli import preprocessing_from_args

    refuse_shared_outputs(args.data, [latents_path_for(data, args.out) for data in args.data])
    model = with_preprocessing(load_model(args.model, arch=args.arch, options=args.options),
                               preprocessing_from_args(args))
    partitions = args.partitions.split(",") if args.partitions else None
    for data in args.data:
        bars = []  # created on the first progress report, so that an early error prints one line only

        def progress(done, total, message):
            if not bars:
                bars.append(tqdm(total=total, desc=message, unit="item", file=sys.stderr))
            bars[0].update(done - bars[0].n)

        try:
            result = extract_file(data, model, args.out, pool=args.pool, batch_size=args.batch_size,
                                  device=args.device, partitions=partitions, clobber=args.clobber,
                                  progress=progress, precision=args.precision, readers=args.readers,
                                  reader_timeout=args.reader_timeout)
        finally:
            for bar in bars:
                bar.close()
        verb = "exists, skipped (use --clobber to overwrite)" if result.skipped else "written"
        shapes = ", ".join(f"{p}: {n} rows" for p, n in result.rows.items())
        print(f"{result.path}: {verb} ({shapes})")
    return 0
