"""Command line: `python -m latentcore COMMAND ...`.

One module per step of the work (`data`, `extract`, `study`, `explore`, `cluster`, `rank`, `references`, `ebsd`,
`labels`, `train`), the options several commands share in `options`. Each command has an `add_<command>(subparsers)`
that adds its parser with `set_defaults(func=run_<command>)`; `func(args)` returns an exit code. `COMMANDS` lists them
in the order of the work, the order `--help` shows.

The one error boundary: every failure ends as one line on stderr naming the file or argument.
A `LatentError` (bad input, checkpoint or output; the library translates what it meets into these)
and an OSError from the file system exit 2; Ctrl-C exits 130 and keeps `*.partial` for resume; an
unexpected exception (a bug) exits 1, still in one line. `--debug` shows the traceback instead.
The engine names its parameters (`batch_size must be ...`); the line names the option typed (`--batch-size`).
A value that starts with a minus and a digit is a value, never an option: `profile --line -3,-3,50,40`, `--roi
-10,5,-3,8` (argparse takes only a plain negative number, `-3` or `-.5`, and refused a list as "expected one
argument").
No command writes over its own inputs (`outputs.inputs_never_written`), nor replaces an existing output unless
given --clobber (`outputs.outputs_never_replaced`; the option and its help: `options.add_out_option`).
"""
from __future__ import annotations

import argparse
import contextlib
import re
import signal
import sys
import threading

from ..errors import INTERRUPTED, INTERRUPTED_EXIT, exit_code_and_line, one_line
from ..outputs import inputs_never_written, outputs_never_replaced
from . import cluster, data, ebsd, explore, extract, labels, rank, references, study, train

COMMANDS = (
    data.add_info, data.add_bandcontrast,  # look at the data
    extract.add_extract, extract.add_batch, study.add_study,  # make latents, group them
    explore.add_umap, explore.add_maps, cluster.add_cluster, explore.add_mean_pattern,  # explore them
    explore.add_profile,  # along a line
    rank.add_rank, references.add_references, references.add_orientations,  # against reference maps
    ebsd.add_grains, ebsd.add_export_ebsd,  # grains; the results for other EBSD software
    labels.add_probe, labels.add_export, labels.add_compare, study.add_compare_sources,  # labels, comparisons
    train.add_train_vae,  # an encoder of one's own
    cluster.add_rerun,  # reproduce a result
)


NEGATIVE_VALUE = re.compile(r"^-\.?\d")  # no option of these commands starts with a digit


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (exit 2) instead of the usage block and the error, and values that
    start with a minus and a digit (`-3,-3,50,40`) taken as values (its subcommands' parsers are of this class)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_VALUE  # argparse's test of what is a value, not an option

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {one_line(message)} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m latentcore", description="Latent Explorer engine")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with _ctrl_c_watch(quiet=not args.debug) as interrupted:
        try:
            with inputs_never_written(args), outputs_never_replaced(args):
                code = int(args.func(args) or 0)
        except KeyboardInterrupt:
            code = INTERRUPTED_EXIT
        except Exception as exc:  # noqa: BLE001 - the boundary: each kind becomes one line
            if args.debug:
                raise
            code, line = exit_code_and_line(exc)
            print(f"error: {named_options(line, parser, args.command)}", file=sys.stderr)
    if code == INTERRUPTED_EXIT or interrupted.is_set():
        print(INTERRUPTED, file=sys.stderr)
        return INTERRUPTED_EXIT
    return code


def named_options(line: str, parser: argparse.ArgumentParser, command: str) -> str:
    """`line` with the parameter it opens with (`batch_size must ...`, `cv=1`; after the file it names, if any) given
    as the option of `command` that sets it (`--batch-size must ...`)."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    options = {a.dest: max(a.option_strings, key=len) for a in commands[command]._actions
               if a.option_strings and a.nargs != 0}  # options that take a value (not --no-png, --help)
    opening = re.compile(r"(^|: )(" + "|".join(map(re.escape, options)) + r")(?= must\b|=)")
    return opening.sub(lambda found: found.group(1) + options[found.group(2)], line, count=1)


@contextlib.contextmanager
def _ctrl_c_watch(quiet: bool):
    """Remember a Ctrl-C even where Python swallows its KeyboardInterrupt (a generator's cleanup,
    a thread join), so the run still ends with 130; with `quiet` such swallowed tracebacks are not
    printed."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def on_sigint(signum, frame):
        interrupted.set()
        raise KeyboardInterrupt

    def unraisable(info, default=sys.unraisablehook):
        swallowed_ctrl_c = isinstance(info.exc_value, KeyboardInterrupt)
        hdf5_cleanup = "h5py" in repr(info.object)  # HDF5 retrying a write that already failed
        if not (quiet and (swallowed_ctrl_c or hdf5_cleanup)):  # the error itself is already said in one line
            default(info)

    previous, previous_hook = signal.signal(signal.SIGINT, on_sigint), sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook
