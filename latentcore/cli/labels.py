"""Label commands: `probe`, `export` (a labelled training set from the source), `compare` (two latents files).

    python -m latentcore probe LATENTS... --labels labels.csv --out DIR [--method logistic|knn] [--smooth SIGMA]
                               [--min-confidence P]
    python -m latentcore export SOURCE --labels labels.csv --out subset.npz|subset.h5 [--test-fraction F] [--seed S]
    python -m latentcore compare LATENTS_A LATENTS_B --labels labels.csv [--out report.json] [--smooth SIGMA]

`probe` on a study (several latents files or a NAME.study.json) takes labels with a `source` column and predicts
every row of every source (`labels.probe_run`: one file is a study of one). `export` writes the labelled rows' own patterns or cutouts (read
from SOURCE, the file the latents came from); latents themselves become training sets through `latentcore.export`
(the Python API).
"""
from __future__ import annotations

import json
from pathlib import Path

from .options import (add_figure_options, add_latents_argument, add_out_option, add_quality_option,
                      add_scheduler_options, add_seed_option, add_smooth_option, quality_from, study_from)

LABELS_HELP = "CSV x,y,label (scans, matched by coordinates) or row,label"


def add_probe(subparsers):
    p = subparsers.add_parser("probe", help="predict labels over every row (linear probe or kNN): CSV, JSON, PNG; "
                                            "over a study: every row of every source, and each source's fractions")
    add_latents_argument(p)
    p.add_argument("--labels", required=True, help=LABELS_HELP + "; a study's: source,row,label or "
                                                                 "source,x_um,y_um,label")
    add_out_option(p, "output folder")
    p.add_argument("--method", choices=("logistic", "knn"), default="logistic")
    add_smooth_option(p)
    p.add_argument("--cv", type=int, default=5, help="stratified folds (fewer when a class has fewer rows)")
    add_seed_option(p)
    p.add_argument("--neighbors", type=int, dest="n_neighbors",
                   help="k of --method knn (default 10, fewer when the labels have too few rows for it)")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                   help="rows whose highest class probability (kNN: the neighbours' vote fraction) is below P are "
                        "'unknown' (default 0: every row gets a class)")
    add_quality_option(p, bandcontrast_option=True)
    add_figure_options(p)
    add_scheduler_options(p, "on Dask (a study, or one file as a study of one): trained on the labelled rows read by "
                             "a task per source, each source's rows predicted and written by a task, joined into one "
                             "CSV (default: in this process)")
    p.set_defaults(func=run_probe)


def add_export(subparsers):
    p = subparsers.add_parser("export", help="the labelled rows' patterns/cutouts from the source as a training "
                                             "set (.npz or Nenya-layout .h5)")
    p.add_argument("source", help="the pattern or cutout file the latents came from")
    p.add_argument("--labels", required=True, help=LABELS_HELP)
    p.add_argument("--latents", help="the latents file the labels' row ids are of (default: rows counted over every "
                                     "partition of the source, as the latents of all of it number them)")
    add_out_option(p, "subset.npz or subset.h5")
    p.add_argument("--test-fraction", type=float, default=0.2)
    add_seed_option(p)
    p.set_defaults(func=run_export)


def add_compare(subparsers):
    p = subparsers.add_parser("compare", help="two latents files of one source: ARI of their clusterings and each "
                                              "one's probe accuracy on the same labels")
    p.add_argument("latents_a")
    p.add_argument("latents_b")
    p.add_argument("--labels", required=True, help=LABELS_HELP)
    p.add_argument("--method", choices=("logistic", "knn"), default="logistic")
    add_smooth_option(p)
    add_seed_option(p)
    add_out_option(p, "write the comparison as JSON here too", required=False)
    p.add_argument("--unknown-source", action="store_true",
                   help="compare files that record no source SHA-256 (an old or foreign file), taking their rows "
                        "to be the same items in the same order")
    p.set_defaults(func=run_compare)


def run_probe(args) -> int:
    from ..analysis.labels import probe
    from ..analysis.labels.probe_run import run_probe as run
    from ..analysis.quality import quality_tag
    from ..errors import InputError
    from ..outputs import refuse_existing

    if args.n_neighbors is not None and args.method != "knn":
        raise InputError("--neighbors is the k of --method knn: leave it out, or add --method knn")
    params = {"n_neighbors": args.n_neighbors} if args.n_neighbors is not None else None
    options = {"method": args.method, "smooth": args.smooth, "cv": args.cv, "random_state": args.seed,
               "params": params, "min_confidence": args.min_confidence, "png": not args.no_png, "dpi": args.dpi}
    tag = probe.probe_tag(args.method, args.smooth, args.min_confidence) + quality_tag(args.quality)
    refuse_existing([Path(args.out) / probe.probe_names(tag)["report"]])  # a complete result: before any fit or task
    report = run(study_from(args.latents), args.labels, args.out, quality=quality_from(args), scheduler=args.scheduler,
                 workers=args.workers, **options)
    cv = report["cross_validation"]
    for note in report["notes"]:
        print(f"note: {note}")
    if report.get("quality") is not None:
        print(f"quality filter {args.quality}: {report['quality']['kept']:,} of {report['quality']['rows']:,} rows "
              "kept (trained and predicted on those)")
    print(f"{args.method} probe on {report['n_labelled']} labelled rows, {len(report['classes'])} classes: "
          f"cross-validated accuracy {cv['accuracy_mean']:.3f} +- {cv['accuracy_std']:.3f} ({cv['n_splits']} folds)")
    if args.min_confidence:
        print(f"{report['unknown']['n_rows']:,} of {report['n_rows']:,} rows unknown (highest probability below "
              f"{args.min_confidence:g})")
    for source, part in report.get("fractions", {}).items():  # a study's
        print(f"  {source}: " + ", ".join(f"{label} {fraction:.1%}" for label, fraction in part["fractions"].items()))
    outputs = report["outputs"]
    print(f"wrote {Path(args.out) / outputs['predictions']['name']} and {outputs['report']['name']}")
    return 0


def run_export(args) -> int:
    from ..analysis.labels.trainset import export_training_set
    from ..outputs import refuse_existing

    refuse_existing([args.out])  # before the patterns are read
    summary = export_training_set(args.source, args.labels, args.out, latents=args.latents,
                                  test_fraction=args.test_fraction, random_state=args.seed)
    print(f"wrote {summary['path']}: {summary['n_rows']} items {tuple(summary['item_shape'])}, "
          f"{summary['n_train']} train / {summary['n_test']} test, classes {summary['counts']}")
    return 0


def run_compare(args) -> int:
    from ..analysis.artifacts.common import input_record, now, write_json
    from ..analysis.labels.probe import compare_latents

    result = compare_latents(args.latents_a, args.latents_b, args.labels, method=args.method, smooth=args.smooth,
                             random_state=args.seed, unknown_source=args.unknown_source)
    named = {key: f"{Path(path).name}, model {result[key]['model_tag'] or 'not recorded'}"
             for key, path in (("a", args.latents_a), ("b", args.latents_b))}
    print(f"ARI of the two KMeans clusterings (k={result['n_clusters']}): {result['ari']:.3f}; probe accuracy "
          f"{result['a']['accuracy']:.3f} ({named['a']}) vs {result['b']['accuracy']:.3f} ({named['b']})")
    if args.out:
        from ..analysis.artifacts.common import VERSION_PACKAGES
        from ..versions import package_versions

        write_json(args.out, {"kind": "compare", "created": now(), **result,
                              "inputs": {k: input_record(p, Path(args.out).parent) for k, p in
                                         (("a", args.latents_a), ("b", args.latents_b), ("labels", args.labels))},
                              "versions": package_versions(VERSION_PACKAGES)})
        print(json.dumps({"wrote": args.out}))
    return 0
