"""Label commands: `probe`, `export` (a labelled training set from the source), `compare` (two latents files).

    python -m latentcore probe LATENTS --labels labels.csv --out DIR [--method logistic|knn] [--smooth SIGMA]
    python -m latentcore export SOURCE --labels labels.csv --out subset.npz|subset.h5 [--test-fraction F] [--seed S]
    python -m latentcore compare LATENTS_A LATENTS_B --labels labels.csv [--out report.json] [--smooth SIGMA]

`export` writes the labelled rows' own patterns or cutouts (read from SOURCE, the file the latents came from);
latents themselves become training sets through `latentcore.export` (the Python API).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..arguments import dpi


def register(subparsers):
    p = subparsers.add_parser("probe", help="predict labels over every row (linear probe or kNN): CSV, JSON, PNG")
    p.add_argument("latents", help="a *_latents.h5 file")
    p.add_argument("--labels", required=True, help="CSV x,y,label (scans, matched by coordinates) or row,label")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--method", choices=("logistic", "knn"), default="logistic")
    p.add_argument("--smooth", type=float, default=0.0, metavar="SIGMA",
                   help="Gaussian over the scan grid first, sigma in grid steps (as cluster --smooth; default 0)")
    p.add_argument("--cv", type=int, default=5, help="stratified folds (fewer when a class has fewer rows)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--neighbors", type=int, help="k of --method knn (default 10)")
    p.add_argument("--dpi", type=dpi, default=300)
    p.add_argument("--no-png", action="store_true")
    p.set_defaults(func=run_probe_command)

    p = subparsers.add_parser("export", help="the labelled rows' patterns/cutouts from the source as a training "
                                             "set (.npz or Nenya-layout .h5)")
    p.add_argument("source", help="the pattern or cutout file the latents came from")
    p.add_argument("--labels", required=True, help="CSV x,y,label (scans) or row,label")
    p.add_argument("--out", required=True, help="subset.npz or subset.h5")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_export_command)

    p = subparsers.add_parser("compare", help="two latents files of one source: ARI of their clusterings and each "
                                              "one's probe accuracy on the same labels")
    p.add_argument("latents_a")
    p.add_argument("latents_b")
    p.add_argument("--labels", required=True)
    p.add_argument("--method", choices=("logistic", "knn"), default="logistic")
    p.add_argument("--smooth", type=float, default=0.0, metavar="SIGMA")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the comparison as JSON here too")
    p.add_argument("--unknown-source", action="store_true",
                   help="compare files that record no source SHA-256 (an old or foreign file), taking their rows "
                        "to be the same items in the same order")
    p.set_defaults(func=run_compare_command)


def run_probe_command(args) -> int:
    from .probe import run_probe

    params = {"n_neighbors": args.neighbors} if args.neighbors else None
    report = run_probe(args.latents, args.labels, args.out, method=args.method, smooth=args.smooth, cv=args.cv,
                       random_state=args.seed, params=params, png=not args.no_png, dpi=args.dpi)
    cv = report["cross_validation"]
    print(f"{args.method} probe on {report['n_labelled']} labelled rows, {len(report['classes'])} classes: "
          f"cross-validated accuracy {cv['accuracy_mean']:.3f} +- {cv['accuracy_std']:.3f} ({cv['n_splits']} folds)")
    outputs = report["outputs"]
    print(f"wrote {Path(args.out) / outputs['predictions']['name']} and {outputs['report']['name']}")
    return 0


def run_export_command(args) -> int:
    from .trainset import export_training_set

    summary = export_training_set(args.source, args.labels, args.out, test_fraction=args.test_fraction,
                                  random_state=args.seed)
    print(f"wrote {summary['path']}: {summary['n_rows']} items {tuple(summary['item_shape'])}, "
          f"{summary['n_train']} train / {summary['n_test']} test, classes {summary['counts']}")
    return 0


def run_compare_command(args) -> int:
    from .artifacts import input_record, now, write_json
    from .probe import compare_latents

    result = compare_latents(args.latents_a, args.latents_b, args.labels, method=args.method, smooth=args.smooth,
                             random_state=args.seed, unknown_source=args.unknown_source)
    print(f"ARI of the two KMeans clusterings (k={result['n_clusters']}): {result['ari']:.3f}; probe accuracy "
          f"{result['a']['accuracy']:.3f} ({Path(args.latents_a).name}) vs {result['b']['accuracy']:.3f} "
          f"({Path(args.latents_b).name})")
    if args.out:
        from ..versions import package_versions
        from .artifacts import VERSION_PACKAGES

        write_json(args.out, {"kind": "compare", "created": now(), **result,
                              "inputs": {k: input_record(p) for k, p in
                                         (("a", args.latents_a), ("b", args.latents_b), ("labels", args.labels))},
                              "versions": package_versions(VERSION_PACKAGES)})
        print(json.dumps({"wrote": args.out}))
    return 0
