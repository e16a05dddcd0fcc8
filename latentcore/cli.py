"""Command line: `python -m latentcore COMMAND ...`.

Each command module defines `register(subparsers)`, adding its parser(s) with
`set_defaults(func=...)`; `func(args)` returns an exit code. A `LatentError` is printed as one
line naming the file and the problem (exit 2); `--debug` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import LatentError

COMMAND_MODULES = (
    "latentcore.commands",
    "latentcore.analysis.cli",
    "latentcore.batch_cli",
    "latentcore.analysis.rank_cli",
    "latentcore.train.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m latentcore", description="Latent Explorer engine")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LatentError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: partial outputs are kept as *.partial and the next run resumes them",
              file=sys.stderr)
        return 130
