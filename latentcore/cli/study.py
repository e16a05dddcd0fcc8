"""A study: many latents files of one model as one latent space (latentcore/study.py). `study` writes
`NAME.study.json` (`batch --study NAME` writes the study of its outputs: `study_of_batch`); the analysis commands take
several latents files or one study file through `options.add_latents_argument` and `options.study_from`.

    python -m latentcore study a__m_latents.h5 b__m_latents.h5 | FOLDER | 'GLOB' | s3://bucket/prefix/ --name NAME
    python -m latentcore compare-sources NAME.study.json --first A --second B [--k 6] --out DIR [--scheduler local]

`compare-sources` compares two sources of a study as the Compare page does (`analysis.source_shift.compare_sources`):
the study's k-means fractions side by side, the shift of their latent vectors (per dimension, as one energy test and
within each cluster) and each source's own clusters matched to the other's, written by `write_shift`.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..storage import is_s3_uri
from .options import add_latents_argument, add_out_option, add_scheduler_options, scheduler, study_name


def add_study(subparsers):
    p = subparsers.add_parser("study", help="many latents files of one model as one study: NAME.study.json")
    p.add_argument("latents", nargs="+", metavar="LATENTS",
                   help="latents files, folders (their *_latents.h5), quoted globs or s3://bucket/prefix/")
    p.add_argument("--name", required=True, type=study_name, help="the study's name: letters, digits and ._+-")
    add_out_option(p, "folder of NAME.study.json; it must hold the local members, which it names by relative paths "
                      "(default: their common folder)", required=False)
    p.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS, or $LATENTCORE_S3_ENDPOINT_URL)")
    p.add_argument("--scheduler", type=scheduler, help="read (hash) the members as Dask tasks: 'local' (a "
                                                       "LocalCluster) or a scheduler address tcp://host:port "
                                                       "(default: in this process)")
    p.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    # the study file lands beside its members on purpose; its name (.study.json) is never a latents file's
    p.set_defaults(func=run_study, rewrites=("latents",))


def add_compare_sources(subparsers):
    p = subparsers.add_parser("compare-sources", help="two sources of a study compared: cluster fractions side by "
                                                      "side, the shift of their latent vectors, their clusters matched")
    add_latents_argument(p)
    p.add_argument("--first", required=True, metavar="NAME", help="the first source (its name in the study)")
    p.add_argument("--second", required=True, metavar="NAME", help="the second source")
    p.add_argument("--k", type=int, default=6, help="clusters of the study's k-means, and of each source's own "
                                                     "(default: %(default)s, the Compare page's)")
    add_scheduler_options(p, "the study's k-means on Dask: fitted on a seeded sample drawn from every source, each "
                             "source's rows labelled by a task of its own")
    add_out_option(p, "output folder")
    p.set_defaults(func=run_compare_sources)


def run_compare_sources(args) -> int:
    from ..analysis.cluster import describe_fit
    from ..analysis.source_shift import compare_sources, side_by_side, write_shift
    from ..columns import CLUSTER
    from ..errors import InputError
    from .options import study_from

    if args.k < 2:
        raise InputError(f"--k must be at least 2, got {args.k}: give the number of clusters")
    study = study_from(args.latents)
    shift, fractions, clustering = compare_sources(study, args.first, args.second, args.k, scheduler=args.scheduler,
                                                   workers=args.workers)
    both = side_by_side(fractions, CLUSTER, shift.first, shift.second)
    paths = write_shift(shift, args.out, study, fractions=both, clustering=clustering)
    print(shift.describe())
    print(f"the study's clustering: {describe_fit(clustering)}")
    print(both.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"each source's own {args.k} clusters matched:")
    print(shift.matches.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {', '.join(path.name for path in paths.values())} in {args.out}")
    return 0


def run_study(args) -> int:
    from ..storage.s3 import S3Settings
    from ..study import study_locations

    settings = S3Settings.from_env(args.endpoint_url)
    study = study_on(args.name, study_locations(args.latents, settings), args.scheduler, args.workers, settings)
    print(write_and_describe(study, args.out))
    return 0


def study_on(name, locations, scheduler, workers, settings):
    """The study of these latents files, each read in this process or as a Dask task (`batch.describe_members`)."""
    from ..batch import describe_members
    from ..study import assemble

    return assemble(name, describe_members(locations, scheduler, workers, settings))


def write_and_describe(study, out=None) -> str:
    """Write the study file (in `out`, default the members' common folder) and say what it holds."""
    from ..study import write_study

    path = write_study(study, out or members_folder(study))
    model = study.model or {"name": "", "sha256": ""}
    lines = [f"{path}: {len(study.members)} sources, {study.rows:,} rows of {study.dim} dimensions, model "
             f"{model['name'] or 'not recorded'} (SHA-256 {model['sha256'][:12] or 'not recorded'})"]
    width = max(len(m.name) for m in study.members)
    lines += [f"  {m.name:<{width}}  {m.rows:>12,} rows  {'scan' if m.coordinates else 'no coordinates':<14}  "
              f"{m.sha256[:12]}" for m in study.members]
    return "\n".join(lines + [f"note: {note}" for note in study.notes])


def members_folder(study) -> Path:
    """The deepest folder holding every local member (the current folder when all are in S3)."""
    local = [os.path.dirname(m.location) for m in study.members if not is_s3_uri(m.location)]
    return Path(os.path.commonpath(local)) if local else Path.cwd()


def study_of_batch(args, outcomes, settings) -> tuple[int, str]:
    """`batch --study NAME`: the study of the batch's outputs (read on the batch's scheduler), written in `--out`
    (a local folder; else the members' common folder), only when every file is done or skipped. Returns (exit code,
    what to print)."""
    from ..batch import FAILED

    failed = [o for o in outcomes if o.status == FAILED]
    if failed:
        return 1, (f"the study {args.study} was not written: {len(failed)} of {len(outcomes)} files failed; run the "
                   f"same batch again to finish them (it writes the study then)")
    study = study_on(args.study, [o.output for o in outcomes], args.scheduler, args.workers, settings)
    return 0, write_and_describe(study, None if args.out is None or is_s3_uri(args.out) else args.out)
