"""Where a latents file goes, and how every output is named.

Each result is named by one function beside its analysis, called by the command line and the app alike:
`analysis.maps.latent_maps_names` (with `roi_tag`, `smooth_tag`, `dims_tag`: the parts the names share),
`analysis.artifacts.cluster.cluster_names`, `analysis.rank.ranking_names`, `analysis.labels.probe.probe_names`,
`analysis.items.mean_pattern_names`, `analysis.profile.profile_names`,
`analysis.embedding.fitted.embedding_names`,
`analysis.labels.labelled.labels_names`,
`analysis.ebsd.scan_references` (`NPZ_NAME`, `references_<map>.png`), `analysis.ebsd.grains.grains_names`
(`export-ebsd` writes the `--out` it is given, its report beside it as `<file>.json`) and `train.outputs` (a run's
files).
The columns of every table they write are named by `latentcore.columns` (`row`, `x_um`, `y_um`, ...).

The latents a model makes of a source are `<stem>__<model>_latents.h5`, the stem being the source's name
without its extension and without `_preproc`, the model its `model_tag` (the name its checkpoint records, else a
short hash of the checkpoint), the whole cut to a valid file-name length; so two models never share a file.
Files named `<stem>_latents.h5` (written before, or by `features_to_latents`, which has no model) are latents
as well: their attributes say which model made them.

- `model_tag(name, sha256)`: how a model is named in file names and pickers;
- `latents_path_for(source, out_dir, model=tag)`: a local path, beside a local source or in `out_dir`;
- `latents_uri_for(source_uri, out_prefix, model=tag)`: an `s3://` URI, beside an S3 source or under a prefix;
- `output_for(source, out, model=tag)`: either, for batch runs, whose sources and `out` may each be local or S3;
- `refuse_shared_outputs(sources, outputs)`: distinct sources never share one output name;
- `inputs_never_written(args)`: a command never writes over the files and folders its arguments name;
- `outputs_never_replaced(args)`, `refuse_existing(paths)`: a command never replaces an existing output unless told
  to (`--clobber`), checked as each file is written and, where its names are known early, before any work.

`s3_latents_exist` and `upload_latents` check and upload latents files in S3 by these names
(boto3 loads only for those two).
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .errors import InputError
from .storage import inputs_kept, outputs_kept, refuse_replacing, refuse_writing_an_input, short_name
from .storage.uri import is_s3_uri, join_uri, parent_uri, parse_s3_uri, safe_file_name

if TYPE_CHECKING:
    from .storage.s3 import Progress, S3Settings

SUFFIX = "_latents.h5"
MODEL_SEPARATOR = "__"  # between the source's stem and the model's tag
SHORT_HASH = 12  # hex digits of a checkpoint's SHA-256 that name a model without a recorded name


def model_tag(name: str | None = "", sha256: str | None = "") -> str:
    """How a model is named in latents file names and pickers: the name its checkpoint records (made a
    harmless file-name part: `demo-vae`), else the first 12 hex digits of the checkpoint's SHA-256;
    "" when neither is known."""
    # letters, digits, `.+-` only: no path separator, and no `_`, so a tag never holds the `__` before it
    cleaned = re.sub(r"[^A-Za-z0-9.+-]+", "-", str(name or "")).strip("-.")[:60]
    return cleaned or str(sha256 or "")[:SHORT_HASH]


def _latents_name(source: Path, model: str | None) -> str:
    stem = source.stem if source.is_file() or source.suffix else source.name
    stem = stem.replace("_preproc", "")
    name = f"{stem}{MODEL_SEPARATOR}{model}" if model else stem
    return f"{short_name(name)}{SUFFIX}"  # a 250-character name still gives a valid name


def _s3_latents_name(source_uri: str, model: str | None) -> str:
    """The latents name of an S3 object: from its key's last component, made a harmless file name."""
    return _latents_name(Path(safe_file_name(parse_s3_uri(source_uri)[1])), model)


def own_source_name(path) -> str:
    """The source a file is, as a study names its member: a latents file's own (`source_name`: `a.b__m_latents.h5`
    -> `a.b`), a data file's as its latents are named (`latents_path_for`: its stem, `_preproc` left out)."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return source_name(name if name.endswith(SUFFIX) else _latents_name(Path(name), None))


def source_name(location: str) -> str:
    """The source a latents file is of, from its name: `a__demo-vae_latents.h5` -> `a` (`a_latents.h5` -> `a`)."""
    name = str(location).replace("\\", "/").rsplit("/", 1)[-1]
    return name.removesuffix(SUFFIX).removesuffix(".npy").split(MODEL_SEPARATOR)[0]


def latents_path_for(source, out_dir=None, *, model: str | None) -> Path:
    """`<source stem with _preproc removed>__<model>_latents.h5` (`model`: a `model_tag`; None for
    features, which no model made: `<stem>_latents.h5`), beside the source or in `out_dir`."""
    if str(source).startswith("s3://"):  # never beside an object in S3: a local folder, default the current one
        out_dir = out_dir or Path.cwd()
    source = Path(str(source).removeprefix("s3://"))
    return Path(out_dir or source.parent) / _latents_name(source, model)


def latents_uri_for(source_uri: str, out_prefix: str | None = None, *, model: str | None) -> str:
    """`s3://b/dir/x_preproc.h5` -> `s3://b/dir/x__<model>_latents.h5`, or the same name under `out_prefix`."""
    return join_uri(out_prefix or parent_uri(source_uri), _s3_latents_name(source_uri, model))


def output_for(source: str, out: str | None, *, model: str | None) -> str:
    """Where the latents `model` makes of `source` go: `<stem>__<model>_latents.h5` in `out` (folder or
    S3 prefix), or beside the source (in S3 when the source is there)."""
    if out is None:
        return (latents_uri_for(source, model=model) if is_s3_uri(source)
                else str(latents_path_for(source, model=model)))
    name = _s3_latents_name(source, model) if is_s3_uri(source) else _latents_name(Path(source), model)
    return join_uri(out, name) if is_s3_uri(out) else str(Path(out) / name)


def refuse_shared_outputs(sources, outputs) -> None:
    """Distinct inputs never share an output name (`x_preproc.h5` and `x.h5`; `p/x.h5` and `q/x.h5`
    into one folder): the second would be skipped with the first's latents. Refused in one line."""
    first_source: dict[str, str] = {}
    for source, output in zip(sources, outputs):
        key, name = str(output), _identity(source)
        if first_source.setdefault(key, name) != name:
            raise InputError(f"two inputs would write the same latents file: {first_source[key]} and {source}; "
                             "extract them into different --out folders", output)


def _identity(source) -> str:
    text = str(source)
    return text if text.startswith("s3://") else str(Path(text).resolve())


# -- a command's inputs are never written over -------------------------------------------------------

OUTPUT_ARGUMENTS = ("out", "work_dir")  # the arguments that name what a command writes (a file or a folder)


@contextlib.contextmanager
def inputs_never_written(args):
    """Around one command: its `--out` must not be one of its inputs (refused at once, in one line), and
    while it runs no file it writes may replace an input or land inside an input folder (storage.local's
    guard, in `atomic_path` and the latents writer). The inputs are the local files and folders any other
    argument names; a parser lists in `rewrites` the arguments it rewrites on purpose (`rerun`'s report)."""
    inputs = command_inputs(args)
    with inputs_kept(inputs):
        for name in OUTPUT_ARGUMENTS:
            value = getattr(args, name, None)
            if isinstance(value, str) and value and not is_s3_uri(value):
                refuse_writing_an_input(value, f"--{name.replace('_', '-')} {value}")
        yield inputs


def command_inputs(args) -> list[Path]:
    """The existing local paths among the arguments' values, outputs and `rewrites` left out."""
    skipped = {*OUTPUT_ARGUMENTS, *getattr(args, "rewrites", ()), "func", "rewrites", "command"}  # `rank`: a name
    found = []
    for name, value in vars(args).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if name not in skipped:
            found += [path for text in values if isinstance(text, str) and (path := _named_path(text))]
    return found


def _named_path(text: str) -> Path | None:
    """`FILE`, or the file of `FILE:COLUMN` (rank's --reference and --labels), when it exists here."""
    if is_s3_uri(text):
        return None
    for candidate in (text, text.rpartition(":")[0]):
        if candidate and os.path.exists(candidate):
            return Path(candidate)
    return None


# -- an existing output is replaced only when told to ---------------------------------------------------

@contextlib.contextmanager
def outputs_never_replaced(args):
    """Around one command whose parser keeps its outputs (`outputs_kept`, set with --clobber by
    `cli.options.add_out_option`): unless `--clobber`, every file it writes through `storage.atomic_path` that
    exists already (and that it did not write itself) is refused in one line naming it and --clobber. Commands with
    a rule of their own leave it unset: extract and batch (a complete latents file of the same job is skipped, a
    `.partial` resumed, another file refused: their --clobber replaces it), train-vae (resumes its folder) and
    rerun (rewrites its report's files on purpose)."""
    if getattr(args, "outputs_kept", False) and not args.clobber:
        with outputs_kept():
            yield
    else:
        yield


def refuse_existing(paths) -> None:
    """The guard of `outputs_never_replaced`, asked before any work for the files a command will write (their
    names known early): a refusal then comes at once, not after the computation. Outside that guard only a folder
    in a file's place is refused."""
    for path in paths:
        if not is_s3_uri(str(path)):
            refuse_replacing(path)


# -- latents in S3 ----------------------------------------------------------------------------

def s3_latents_exist(source_uris: Iterable[str], out_prefix: str | None = None,
                     settings: S3Settings | None = None, *, model: str | None) -> dict[str, bool]:
    """For each source, whether the latents `model` makes of it already exist in S3 (beside it or in
    `out_prefix`). One listing per destination prefix, not one request per file."""
    from .storage.s3 import objects_exist

    targets = {uri: latents_uri_for(uri, out_prefix, model=model) for uri in source_uris}
    present = objects_exist(targets.values(), settings)
    return {uri: present[target] for uri, target in targets.items()}


def upload_latents(latents_path, source_uri: str, out_prefix: str | None = None,
                   settings: S3Settings | None = None, clobber: bool = False,
                   progress: Progress | None = None, *, model: str | None) -> tuple[str, bool]:
    """Upload the latents file `model` made next to its S3 source (or under `out_prefix`).
    Returns (uri, uploaded); an existing object is kept unless `clobber`."""
    from .storage.s3 import exists, upload

    target = latents_uri_for(source_uri, out_prefix, model=model)
    if not clobber and exists(target, settings):
        return target, False
    upload(latents_path, target, settings, progress)
    return target, True
