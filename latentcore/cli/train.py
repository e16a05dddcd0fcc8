"""`python -m latentcore train-vae DATA --out DIR ...`: train the pattern VAE. The model's size, the epochs, the
patterns per epoch and the CPU threads not given are sized for the machine and the data (`train.sizing`: a run of
about --minutes on its idle cores, counted from the models' multiply-adds and the machine's kept rate, the same at
any load); it prints that choice and what it was made from (config.json records both), an estimate of the run's
time from its first batches, then a bar over batches with the time left. Ctrl-C stops after
the current batch, keeping its checkpoint; running the same command again on the same --out resumes
there (--no-resume starts over)."""
from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from .options import (add_device_option, add_out_option, add_preprocessing_options, add_roi_option, add_seed_option,
                      bandcontrast, preprocessing_from)


def add_train_vae(subparsers):
    from ..train.config import BUDGET_SECONDS, LR_FLOOR, LR_SCHEDULES, TrainConfig  # not sizing: it imports torch

    d = TrainConfig(data="", out_dir="")
    sized = "(default: sized for the machine and the data, see --minutes)"
    p = subparsers.add_parser("train-vae", help="train the convolutional VAE on a pattern source",
                              description="Train the ConvVAE on patterns (h5ebsd, EDAX, Oxford, image folders...). "
                                          "Writes vae_model.pth, config.json, loss.csv, loss_curve.png and "
                                          "reconstructions.png to --out. Ctrl-C stops after the current batch, "
                                          "keeping its checkpoint; the same command again resumes from it.")
    p.add_argument("data", nargs="+", help="pattern source (any format `info` recognises); several, a folder of "
                                           "scans or a quoted glob: one model for them all, trained on as many "
                                           "patterns of each as the smallest selection holds")
    add_out_option(p, "run directory", clobber=False)  # a run resumes there (--no-resume starts over)
    p.add_argument("--partition", help="partition to train on (default: the first)")
    p.add_argument("--bandcontrast", type=bandcontrast,
                   help="CSV x,y,bandcontrast to filter by, or the scan's own map: scan, "
                                           "scan:NAME (e.g. 'scan:Band Contrast', 'scan:IQ')")
    p.add_argument("--bc-min", type=float, help="keep patterns with band contrast >= this")
    p.add_argument("--bc-max", type=float, help="keep patterns with band contrast <= this")
    add_roi_option(p)
    p.add_argument("--keep-coords", help="CSV (x,y columns) or NPY of the coordinates to keep")
    add_preprocessing_options(p, d.preprocessing)
    p.add_argument("--crop", type=int, help="centre crop (pixels) before resizing")
    p.add_argument("--name", help="the model's name, recorded in it: latents files and the app name the model by it "
                                  "(default: the data's stem and the time, e.g. ni_scan-20261125-1412)")
    p.add_argument("--minutes", type=float, default=BUDGET_SECONDS / 60,
                   help="about how long the sized settings train (default: %(default)g)")
    p.add_argument("--input-size", type=int, help=f"pattern side the model takes (resized) {sized}")
    p.add_argument("--latent-dim", type=int, default=d.latent_dim)
    p.add_argument("--channels", type=_ints, help=f"conv widths, e.g. 32,64,128 {sized}")
    p.add_argument("--beta", type=float, default=d.beta, help="weight of the KL term")
    p.add_argument("--kl-warmup", type=int, default=d.kl_warmup_epochs, help="epochs over which beta ramps up")
    p.add_argument("--epochs", type=int, help=sized)
    p.add_argument("--batch-size", type=int, help=sized)
    p.add_argument("--patterns-per-epoch", type=int, help=f"train each epoch on this many patterns, another draw each "
                                                          f"epoch {sized}")
    p.add_argument("--threads", type=int, help=f"CPU threads {sized}")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=d.lr_schedule,
                   help=f"cosine: from --lr down to {LR_FLOOR:g} x --lr at the last epoch")
    p.add_argument("--grad-clip", type=float, default=d.grad_clip, help="largest gradient norm of a step (0: none)")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--patience", type=int, default=d.patience, help="early stop after this many epochs "
                                                                  "without improvement (0: never)")
    p.add_argument("--max-minutes", type=float, help="stop after this much training time")
    add_seed_option(p, d.seed)
    add_device_option(p, d.device)
    p.add_argument("--no-resume", action="store_true", help="start over even if --out holds a checkpoint")
    p.set_defaults(func=run_train_vae)


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers like 32,64,128, got {text!r}") from None


SIZED = ("input_size", "channels", "epochs", "batch_size", "patterns_per_epoch", "threads")


def config_from_args(args, sized: dict | None = None):
    """The run's TrainConfig: the options given, and `sized` (`sized_values`) for those left out."""
    from ..train.config import TrainConfig

    given = {name: getattr(args, name) for name in (*SIZED, "name") if getattr(args, name) is not None}
    return TrainConfig(
        data=pattern_sources(args.data), out_dir=args.out, partition=args.partition, bandcontrast=args.bandcontrast,
        bc_min=args.bc_min, bc_max=args.bc_max, roi=args.roi, keep_coordinates=args.keep_coords,
        preprocessing=preprocessing_from(args), crop=args.crop, latent_dim=args.latent_dim, beta=args.beta,
        kl_warmup_epochs=args.kl_warmup, lr=args.lr, lr_schedule=args.lr_schedule, grad_clip=args.grad_clip or None,
        val_fraction=args.val_fraction, patience=args.patience or None, max_minutes=args.max_minutes,
        seed=args.seed, device=args.device, resume=not args.no_resume, **{**(sized or {}), **given})


def run_train_vae(args) -> int:
    import sys
    import threading

    from ..train.config import openmp_waits_sleep

    openmp_waits_sleep()  # before torch loads

    from ..train.outputs import improvement_text
    from ..train.trainer import train_vae

    config_from_args(args)  # the options given refused in one line before the sizing times batches
    config = config_from_args(args, sized_values(args))
    bar, stop = _PaceBar(), threading.Event()
    print(f"reading the patterns of {', '.join(config.sources)} ...", file=sys.stderr)
    try:
        with _ctrl_c_stops(stop):
            result = train_vae(config, callback=bar.epoch_done, stop_event=stop, on_pace=bar.pace)
    finally:
        bar.close()
    if result.resumed_from or result.resumed_at_batch:
        print(f"resumed at epoch {result.resumed_from + 1}" + (f", after its batch {result.resumed_at_batch}"
                                                               if result.resumed_at_batch else ""))
    print(f"{result.stop_reason}: best epoch {result.best_epoch} (validation loss {result.best_val_loss:.4g}), "
          f"{result.n_train} training / {result.n_val} validation patterns on {result.device}"
          + (f", {(result.n_train + result.n_val) // len(config.sources):,} from each of {len(config.sources)} sources"
             if len(config.sources) > 1 else ""))
    if result.stop_reason == "stopped":
        print(f"the checkpoint of the last finished batch is kept: run the same command again to resume "
              f"({config.out_dir})")
        return 130
    print(f"model: {result.model_path} (named {config.name})")
    if trend := improvement_text(result.history):
        print(f"what more epochs would buy: {trend}")
    return 0


def pattern_sources(items: list[str]) -> tuple[str, ...]:
    """The sources `data` names: each path as given, a quoted glob by the paths it matches (sorted), a folder of scans
    by its pattern files (not below, sorted; latents files left out), as `umap` takes a folder of latents files; an
    image or video folder is one source."""
    import glob

    from ..errors import InputError

    sources = []
    for item in map(str, items):
        if glob.has_magic(item):
            matched = sorted(glob.glob(item))
            if not matched:
                raise InputError("this glob matches no file: check the pattern (quote it for the shell)", item)
        else:
            matched = _folder_files(item) if Path(item).is_dir() and not _one_source(item) else [item]
        sources += matched
    return tuple(sources)


def _one_source(folder: str) -> bool:
    """Whether a reader takes the folder itself as its data (images, video frames)."""
    from ..data import detect_format
    from ..errors import InputError

    try:
        detect_format(folder)
    except InputError:
        return False
    return True


def _folder_files(folder: str) -> list[str]:
    from ..data import readable_extensions
    from ..errors import InputError
    from ..outputs import SUFFIX

    endings = set(readable_extensions())
    found = sorted(str(path) for path in Path(folder).iterdir()
                   if path.is_file() and path.suffix.lower() in endings and not path.name.endswith(SUFFIX))
    if not found:
        raise InputError(f"holds no pattern files ({', '.join(sorted(endings))}) and is not an image or video folder: "
                         "give the scan files, a folder of them or a glob", folder)
    return found


def sized_values(args) -> dict:
    """The settings of `SIZED` and the name for those options not given: a run in --out goes on with its own
    (resuming it); a new one gets the name from the data's stem and the time, and the settings sized for the
    data's patterns and the device (`train.sizing`), printed with their time and what they were sized from, and
    recorded (`sizing`)."""
    import sys

    from ..data import open_source
    from ..train.config import default_name, training_patterns
    from ..train.outputs import CHECKPOINT_FILE, previous_settings
    from ..train.sizing import longer_runs_text, sized_settings

    previous = None if args.no_resume else previous_settings(args.out)
    if previous is not None:
        return {name: previous.get(name) for name in (*SIZED, "name", "sizing")}
    resuming = not args.no_resume and (Path(args.out) / CHECKPOINT_FILE).is_file()  # the trainer checks it
    sources = pattern_sources(args.data)
    if resuming or all(getattr(args, name) is not None for name in SIZED):
        return {"name": default_name(sources)}
    counts, sides = [], []
    for source in sources:
        with open_source(source) as reader:
            info = reader.info()
            counts.append(reader.count(args.partition or next(iter(info.partitions))))
            sides.append(min(info.item_shape[-2:]))
    count = training_patterns(counts)
    sized = sized_settings(count, args.crop or min(sides), args.device, args.latent_dim, 60 * args.minutes,
                           args.val_fraction)
    if len(sources) > 1:
        print(f"{len(sources)} sources of {min(counts):,} to {max(counts):,} patterns: one model, trained on the same "
              "number from each (as many as the smallest selection holds, a seeded draw from the larger ones)",
              file=sys.stderr)
    print(f"sized for this machine and {count:,} patterns: {sized.text()}; {sized.estimate_text()} "
          f"({longer_runs_text(sized.estimate)}); from {sized.basis_text()}: the same at any load; options given "
          "take precedence", file=sys.stderr)
    return {**sized.values, "name": default_name(sources), "sizing": sized.record()}


class _PaceBar:
    """The command's progress: the estimate once the first batches are timed, then a bar over the run's
    batches with the time left at the pace measured so far, and the last epoch's losses."""

    FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} batches [{elapsed}{postfix}]"

    def __init__(self):
        self.bar, self.losses = None, ""

    def pace(self, pace) -> None:
        import sys

        from tqdm import tqdm

        if self.bar is None:
            print(f"estimate: {pace.estimate_text()}, {pace.left_text()}", file=sys.stderr)
            self.bar = tqdm(total=pace.batches_total, initial=pace.batches_done, desc="train-vae",
                            bar_format=self.FORMAT)
        self.bar.update(pace.batches_done - self.bar.n)
        self.bar.set_postfix_str(f"epoch {pace.epoch}/{pace.epochs}, {pace.left_text()}{self.losses}")

    def epoch_done(self, report) -> None:
        self.losses = f", train {report.train_loss:.3g}, val {report.val_loss:.3g}{' best' * report.is_best}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def _ctrl_c_stops(stop):
    """The first Ctrl-C stops after the current batch (its checkpoint is kept); a second one interrupts."""
    import signal
    import sys
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum, frame):
        if stop.is_set():  # the second Ctrl-C, whatever handler was there before (a test runner's may ignore it)
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this batch (its checkpoint is kept); Ctrl-C again to interrupt", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
