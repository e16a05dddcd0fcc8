"""The options several commands share, each defined once here, and the argparse types that check a value at
parsing: a bad value is refused by the parser in one line naming the option (`OneLineParser`), before any file is
read or a model loads."""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
from pathlib import Path

DPI_RANGE = (10.0, 2400.0)  # below 10 a figure is a few pixels; above 2400 one PNG can take gigabytes


# -- the latents a command reads: one file, several, or a study -----------------------------------------------

def add_latents_argument(parser) -> None:
    """The positional `latents`: one latents file, several (one study of them), folders, globs, or one study file."""
    parser.add_argument("latents", nargs="+", metavar="LATENTS",
                        help="a latents file; several, a folder or a quoted glob (one study of them: every row named "
                             "by its source); or one NAME.study.json")


def one_latents_file(latents: list[str]) -> str | None:
    """The latents file when `latents` names one (not a study file, a folder or a glob): the command then runs
    as on one file, untouched by studies; None for a study."""
    import glob

    from ..study import STUDY_SUFFIX

    [text, *more] = latents
    study = more or text.endswith(STUDY_SUFFIX) or Path(text).is_dir() or glob.has_magic(text)
    return None if study else text


def study_from(latents: list[str], settings=None, root=None):
    """The study a command's `latents` name (`add_latents_argument`): one `.study.json` read, each member's SHA-256
    checked (its members inside `root`, default the file's folder); else a study of the files, in memory, named
    after its first source (one file: a study of one, which behaves as the file does)."""
    from ..errors import InputError
    from ..study import STUDY_SUFFIX, files_study, read_study

    if any(str(item).endswith(STUDY_SUFFIX) for item in latents):
        if len(latents) > 1:
            raise InputError(f"a study file is the command's only latents argument, {len(latents)} were given: name "
                             f"the study file alone, or the latents files", latents[0])
        return read_study(latents[0], root=root, settings=settings)
    return files_study(latents, settings)


def add_source_option(parser) -> None:
    """--source NAME: which source of a study a per-source command runs on (`each_source`)."""
    parser.add_argument("--source", dest="study_source", metavar="NAME",
                        help="a study's source to run on (default: each, into a subfolder of --out named by it)")


def each_source(args, run_one, needs_scan: bool = False, per_source: tuple[str, ...] = ()) -> int:
    """Run a command made for one latents file (`run_one(args)`) on that file, or on each source of the study
    `args.latents` names (or `--source`'s one), each into `--out/<source>` (`args.member`: the source's name, None
    for one file); with `needs_scan`, a source without coordinates is left out and said. `per_source`: options naming
    a file of one scan (a reference map), which on several sources must hold `{source}` in their path, replaced by
    each source's name. With `--scheduler`, each source's run is a Dask task (`on_dask`). Returns the first failing
    exit code, else 0."""
    from ..errors import InputError
    from ..study import local_member_path

    single = one_latents_file(args.latents)
    picked = getattr(args, "study_source", None)
    if single is not None and picked is None:
        runs = [(None, argparse.Namespace(**{**vars(args), "latents": single, "member": None}))]
        return on_dask(runs, run_one, args) if getattr(args, "scheduler", None) else run_one(runs[0][1])
    study = study_from(args.latents)
    members = [study.member(picked)] if picked is not None else study.members
    for option in per_source:
        fixed = next((path for path in _paths(getattr(args, option)) if "{source}" not in path), None)
        if fixed is not None and len(members) > 1:
            example = Path(fixed).with_name("{source}" + Path(fixed).suffix)
            pick = ", or pick one source with --source NAME" if hasattr(args, "study_source") else ""
            raise InputError(f"--{option} {fixed} is one scan's file, and the study has {len(members)} sources: "
                             f"put {{source}} in its path for a file per source ({example}){pick}")
    runs = []
    for member in members:
        if needs_scan and not member.coordinates:
            print(f"{member.name}: no coordinates, no maps (not a scan)")
            continue
        one = {**vars(args), "latents": str(local_member_path(member)), "out": str(Path(args.out) / member.name),
               "member": member.name}
        for option in per_source:
            paths = [path.replace("{source}", member.name) for path in _paths(one[option])]
            one[option] = paths if isinstance(one[option], list) else (paths or [None])[0]
        runs.append((member.name, argparse.Namespace(**one)))
    if getattr(args, "scheduler", None):
        return on_dask(runs, run_one, args)
    for name, one in runs:
        print(f"{name}:")
        code = run_one(one)
        if code:
            return code
    return 0


def on_dask(runs: list, run_one, args) -> int:
    """Each (source name, its arguments) of `runs` as a Dask task on `args.scheduler` (`batch.run_tasks`): what each
    printed, and its error in one line, printed here as it ends, with the worker it ran on; every source runs, and
    the first failing exit code is returned (else 0)."""
    from ..batch import run_tasks
    from ..errors import exit_code_and_line

    codes = []

    def said(outcome, worker):
        name, code, printed, error = outcome
        print(f"{name or Path(runs[0][1].latents).name}" + (f" (worker {worker})" if worker is not None else "") + ":")
        print(printed, end="", flush=True)
        if error:
            print(f"error: {error}", file=sys.stderr, flush=True)
        codes.append(code)

    def failed(run, exc):  # the run's own error (naming its file), or its worker lost
        code, line = exit_code_and_line(exc)
        return run[0], code, "", line

    runs = [(name, argparse.Namespace(**{**vars(one), "out": os.path.abspath(one.out)})) for name, one in runs]
    run_tasks(source_task, runs, args.scheduler, args.workers, name="source", lost=failed, on_result=said,
              run_one=run_one)  # the output folder as this process names it, not from a worker's own folder
    return next((code for code in codes if code), 0)


def source_task(run: tuple, run_one) -> tuple:
    """A source's run in a Dask task: (its name, its exit code, what it printed, no error)."""
    name, one = run
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = run_one(one)
    return name, int(code or 0), printed.getvalue(), None


def _paths(value) -> list[str]:
    """An option's paths: its list, its one path, or none."""
    return value if isinstance(value, list) else [value] if value else []


def study_name(text: str) -> str:
    """A study's name, checked at parsing (before a batch runs for hours)."""
    from ..errors import InputError
    from ..study import check_name

    try:
        return check_name(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- model and extraction: `extract`, `batch` (device also `train-vae`) ----------------------------------------

def add_model_options(parser, where: str = "a local path") -> None:
    """--model, --options, --arch; `where` says where the model file may be."""
    parser.add_argument("--model", required=True, help=f"checkpoint (.pth/.pt) or TorchScript file ({where})")
    parser.add_argument("--options", help="model options JSON (Nenya's opts.json); optional when the checkpoint "
                                          "has them")
    parser.add_argument("--arch", choices=("nenya", "vae", "torchscript"),
                        help="detected from the checkpoint if left out")


def add_extraction_options(parser, batch_size_default: int | None, batch_size_help: str | None = None) -> None:
    """How latents are made: pooling, batch size, partitions, device, precision and the reader processes."""
    from ..data.parallel import READER_TIMEOUT

    parser.add_argument("--pool", choices=("mean", "max", "flatten"), default="mean",
                        help="pooling of spatial latents (default: mean)")
    parser.add_argument("--batch-size", type=int, default=batch_size_default, help=batch_size_help)
    parser.add_argument("--partitions", help="comma-separated, e.g. valid,train (default: all present)")
    add_device_option(parser)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="the forward's numbers: bf16 = autocast bf16 (+ channels-last on CUDA), "
                             "latents within 0.05 std of fp32 (default: fp32)")
    parser.add_argument("--readers", type=int, help="processes reading and decompressing the input "
                        "(default: one per core but one on more than 2 cores, else the reader in this process)")
    parser.add_argument("--reader-timeout", type=positive_seconds, metavar="SECONDS",
                        help="end the run when a reader process hands back nothing for this long (stopped, a hung "
                             f"disk), keeping the .partial for resume (default: {READER_TIMEOUT:g})")


def add_device_option(parser, default: str = "auto") -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=default,
                        help="auto: CUDA when there is a GPU, else the CPU (default: %(default)s)")


def partitions_from(args) -> list[str] | None:
    return args.partitions.split(",") if args.partitions else None


# -- pattern preprocessing: `extract`, `train-vae` -----------------------------------------------------------

def add_preprocessing_options(parser, defaults=None) -> None:
    """Pattern preprocessing flags (data.preprocess.Preprocessing), applied before crop and resize;
    `defaults` (a Preprocessing) are those of the command, "none" turns a step off."""
    from ..data.preprocess import OPERATIONS, WINDOWS, Preprocessing

    d = defaults or Preprocessing()
    group = parser.add_argument_group("pattern preprocessing (a VAE records it; extracting with it repeats it)")
    group.add_argument("--static-background", choices=(*OPERATIONS, "none"), default=d.static_background or "none",
                       help="remove the file's stored static background, else the scan's mean pattern "
                            "(default: %(default)s)")
    group.add_argument("--dynamic-background", choices=(*OPERATIONS, "none"),
                       default=d.dynamic_background or "none",
                       help="remove each pattern's Gaussian blur, as kikuchipy (default: %(default)s)")
    group.add_argument("--dynamic-sigma", type=float, help="Gaussian sigma in pixels (default: pattern width / 8)")
    group.add_argument("--average-neighbours", choices=(*WINDOWS, "none"), dest="neighbour_window",
                       default=d.neighbour_window or "none",
                       help="average each pattern with its scan-grid neighbours, as kikuchipy's "
                            "average_neighbour_patterns (default: %(default)s)")
    group.add_argument("--neighbour-size", type=int, default=3, help="window side in grid points (odd)")
    group.add_argument("--neighbour-sigma", type=float, default=1.0, help="gaussian window sigma in grid steps")


def preprocessing_from(args) -> dict:
    def step(value):
        return None if value == "none" else value
    return {"static_background": step(args.static_background), "dynamic_background": step(args.dynamic_background),
            "dynamic_sigma": args.dynamic_sigma, "neighbour_window": step(args.neighbour_window),
            "neighbour_size": args.neighbour_size, "neighbour_sigma": args.neighbour_sigma}


# -- the scan: partition, ROI, smoothing ------------------------------------------------------------------------

def add_partition_option(parser, default: str = "the first") -> None:
    parser.add_argument("--partition", help=f"latents partition (default: {default})")


def add_roi_option(parser) -> None:
    """--roi, parsed into its `Roi` by the parser (`roi`): every command gets the value, none parses text."""
    parser.add_argument("--roi", type=roi, help="x0,x1,y0,y1 (inclusive, in the coordinates' units)")


def add_quality_option(parser, bandcontrast_option: bool = False) -> None:
    """--quality, parsed into its `QualityFilter` (`quality`); `quality_from` gives it its band contrast (the
    command's --bandcontrast: `bandcontrast_option` adds one to a command without it)."""
    parser.add_argument("--quality", type=quality, metavar="FILTER",
                        help="keep only the scan's pixels meeting thresholds on its quality maps, e.g. "
                             "'ci>=0.1,mad<=1.2' (maps ci, mad, bc, iq; bc: --bandcontrast when given, else the scan's "
                             "Band Contrast map); the others are left out of the result as pixels outside an ROI")
    if bandcontrast_option:
        parser.add_argument("--bandcontrast", type=bandcontrast,
                            help="with --quality bc>=...: a CSV x,y,bandcontrast, or scan:NAME for a per-point map")


def quality_from(args):
    """The command's quality filter (None: none), its `bc` read from the command's --bandcontrast."""
    import dataclasses

    if args.quality is None or "bc" not in args.quality.names:
        return args.quality
    return dataclasses.replace(args.quality, bandcontrast=getattr(args, "bandcontrast", None))


EACH_SOURCE_ON_DASK = ("a study on Dask: each source's run a task of its own, its output printed here as it ends "
                       "(paths as the workers see them: a folder they share)")


def add_scheduler_options(parser, title: str):
    """--scheduler and --workers: a study's per-source work as Dask tasks (`batch.run_tasks`), in a group titled
    `title`; returns the group (a command adds its own study options to it)."""
    study = parser.add_argument_group(title)
    study.add_argument("--scheduler", type=scheduler, help="'local' (a LocalCluster) or a scheduler address "
                                                           "tcp://host:port (default: in this process)")
    study.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    return study


def refuse_scheduler(args, command: str) -> None:
    """--scheduler and --workers name a study's Dask tasks: refused on one latents file."""
    from ..errors import InputError

    if args.scheduler or args.workers:
        raise InputError("--scheduler and --workers apply to a study (several latents files or a NAME.study.json): "
                         f"leave them out to {command} one file")


def add_smooth_option(parser) -> None:
    parser.add_argument("--smooth", type=float, default=0.0, metavar="SIGMA",
                        help="Gaussian over the scan grid first, sigma in grid steps (NaN-aware, inside the ROI; "
                             "default 0: none)")


def add_seed_option(parser, default: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=default, help="random seed (default: %(default)s)")


# -- outputs ------------------------------------------------------------------------------------------------------

LATENTS_CLOBBER_HELP = ("replace latents files that exist (without it a file that is this job's complete latents is "
                        "skipped, a .partial resumed, and any other file in its place refused)")
CLOBBER_HELP = ("replace outputs that exist; without it the command refuses to write over an existing output (a "
                "file it would write, or a folder in a file's place), in one line naming it")


def add_out_option(parser, help: str, required: bool = True, clobber: bool = True) -> None:
    """--out, and with `clobber` the one rule for an existing output (`outputs.outputs_never_replaced`): --clobber
    replaces it, else it is refused. A command with a rule of its own (resuming: extract, batch, train-vae;
    rewriting on purpose: rerun) passes `clobber=False`."""
    parser.add_argument("--out", required=required, help=help)
    if clobber:
        add_clobber_option(parser, CLOBBER_HELP)
        parser.set_defaults(outputs_kept=True)


def add_clobber_option(parser, help: str) -> None:
    parser.add_argument("--clobber", action="store_true", help=help)


def add_figure_options(parser, skip_flag: str = "--no-png", dpi_option: bool = True) -> None:
    """The PNG figures: `--no-png` (args.no_png) or `--no-figures` (args.figures) skips them, --dpi sets their
    resolution."""
    if skip_flag == "--no-png":
        parser.add_argument("--no-png", action="store_true", help="skip the figures")
    else:
        parser.add_argument(skip_flag, dest="figures", action="store_false", help="write the data and JSON only")
    if dpi_option:
        parser.add_argument("--dpi", type=dpi, default=300, help="PNG resolution (default 300: publication)")


def add_parameters(parser, group) -> None:
    """An analysis's parameters as options, each from its declaration (`latentcore.parameters.Parameter`): the
    option `--name-with-dashes`, its default, what it takes and its help (a switch for a bool); read back, checked,
    by `group.from_args(args)`, whose message names the parameter the error boundary turns into its option."""
    for p in group:
        if p.kind == "bool":
            flag = p.option if not p.default else "--no-" + p.option[2:]
            parser.add_argument(flag, dest=p.name, action="store_false" if p.default else "store_true", help=p.help)
            continue
        metavar = "|".join(map(str, p.choices)) if p.kind == "choice" else "X,Y,Z" if p.kind == "vector" else "N"
        parser.add_argument(p.option, type=p.parse, default=p.default, metavar=metavar,
                            help=f"{p.help} ({p.allowed}; default {p.as_text(p.default)})".replace("%", "%%"))


# -- argparse types -----------------------------------------------------------------------------------------------

def dpi(text: str) -> float:
    """A PNG resolution: a finite number in DPI_RANGE (0 used to give 96-dpi PNGs without a word)."""
    return _number_in(text, *DPI_RANGE, "dots per inch")


def bandcontrast(spec: str):
    """A band-contrast choice (`data.bandcontrast.BandContrast`): `scan`, `scan:NAME` or a table's path, decoded
    once (pandas and scipy load only when the option is given)."""
    from ..data.bandcontrast import BandContrast

    return BandContrast.parse(spec)


def scheduler(text: str) -> str:
    """--scheduler: 'local' or a Dask scheduler address (`batch.scheduler_address`), checked before any work."""
    from ..batch import scheduler_address
    from ..errors import InputError

    try:
        return scheduler_address(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def roi(text: str):
    """An ROI (`analysis.roi.Roi`) from `x0,x1,y0,y1`: four increasing, finite numbers (`--roi ""` is an
    error, not 'no ROI')."""
    from ..analysis.roi import Roi
    from ..errors import InputError

    try:
        return Roi.parse(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def quality(text: str):
    """A quality filter (`analysis.quality.QualityFilter`) from `ci>=0.1,mad<=1.2`."""
    from ..analysis.quality import QualityFilter
    from ..errors import InputError

    try:
        return QualityFilter.parse(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def pair_count(text: str) -> int:
    """A number of pairs to sample: a whole number in `records.PAIRS_RANGE`."""
    from ..analysis.ebsd.records import PAIRS_RANGE

    value = _number(text)
    if value != int(value) or not PAIRS_RANGE[0] <= value <= PAIRS_RANGE[1]:
        raise argparse.ArgumentTypeError(f"must be a whole number of pairs from {PAIRS_RANGE[0]:,} to "
                                         f"{PAIRS_RANGE[1]:,}, got {text!r}")
    return int(value)


def positive_seconds(text: str) -> float:
    """Refused at parsing, before a model loads: a run would otherwise end at its first block."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return seconds


def _number_in(text: str, low: float, high: float, unit: str) -> float:
    value = _number(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g} {unit}, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value
