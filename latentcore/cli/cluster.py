"""Clustering: `cluster` ((latent, band contrast) pairs, whole latent vectors or their UMAP, with a JSON report
that reproduces it) and `rerun` (a report's job again, compared with the report's assignments).

    python -m latentcore cluster LATENTS... | NAME.study.json [--bandcontrast CSV|scan:NAME] [--dim K]
                                 --method gmm|kmeans|dbscan|hdbscan [--features pair|latent|umap] [params]
                                 [--roi x0,x1,y0,y1] [--smooth SIGMA] --out DIR

Several latents files (or a folder, a quoted glob, a NAME.study.json) are a study: one clustering of every row of
every source, each scan smoothed over its own grid, and each source's cluster fractions; with `--scheduler
local|tcp://host:port` (gmm, kmeans) each source is labelled and written by a Dask task. One run for both
(`analysis/artifacts/cluster_run.py`).
    python -m latentcore rerun cluster_report__TAG.json [--out DIR]
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .options import (add_figure_options, add_latents_argument, add_out_option, add_partition_option,
                      add_quality_option, add_roi_option, add_scheduler_options, add_seed_option, add_smooth_option,
                      bandcontrast, one_latents_file, quality_from, study_from)

# command-line option -> (methods it applies to, parameter name)
CLUSTER_OPTIONS = {
    "k": (("gmm", "kmeans"), None),  # n_components / n_clusters
    "k_range": (("gmm",), "k_range"),
    "criterion": (("gmm",), "criterion"),
    "covariance_type": (("gmm",), "covariance_type"),
    "n_init": (("gmm", "kmeans"), "n_init"),
    "eps": (("dbscan",), "eps"),
    "min_samples": (("dbscan", "hdbscan"), "min_samples"),
    "min_cluster_size": (("hdbscan",), "min_cluster_size"),
    "cluster_selection_epsilon": (("hdbscan",), "cluster_selection_epsilon"),
}


def add_cluster(subparsers):
    p = subparsers.add_parser("cluster", help="cluster (latent, band contrast) pairs or latent vectors, of one "
                                              "latents file or of a study (one clustering of every source)")
    add_latents_argument(p)
    p.add_argument("--bandcontrast", type=bandcontrast,
                   help="CSV x,y,bandcontrast (full field or the ROI; one file only), or scan:NAME for a per-point map "
                        "the scan's latents carry (e.g. 'scan:Band Contrast', 'scan:IQ'); default for --features "
                        "pair: 'scan', the scan's own band-contrast map (Oxford Band Contrast, EDAX IQ); "
                        "whole vectors (latent, umap) use none unless given (the CSV then has a bandcontrast "
                        "column)")
    p.add_argument("--method", required=True, choices=("gmm", "kmeans", "dbscan", "hdbscan"))
    p.add_argument("--dim", type=int, default=0, help="latent dimension paired with band contrast")
    p.add_argument("--features", choices=("pair", "latent", "umap"), default="pair",
                   help="pair: (dim, band contrast); latent: whole latent vectors; umap: their 2-D UMAP")
    add_roi_option(p)
    add_quality_option(p)
    add_smooth_option(p)
    add_out_option(p, "output folder")
    add_partition_option(p)
    p.add_argument("--k", help="gmm: components or 'auto'; kmeans: clusters")
    p.add_argument("--k-range", help="gmm auto: LOW,HIGH inclusive (default 2,8)")
    p.add_argument("--criterion", choices=("bic", "aic"))
    p.add_argument("--covariance-type", choices=("full", "tied", "diag", "spherical"))
    p.add_argument("--n-init", type=int)
    p.add_argument("--eps", type=float, help="dbscan radius in standardised units")
    p.add_argument("--min-samples", type=int)
    p.add_argument("--min-cluster-size", type=int)
    p.add_argument("--cluster-selection-epsilon", type=float)
    add_seed_option(p)
    p.add_argument("--max-fit-samples", type=int,
                   help="fit on a seeded sample of this many rows when there are more (0: every row; "
                        "default: the method's own)")
    p.add_argument("--no-standardise", action="store_true")
    add_figure_options(p, dpi_option=False)
    add_scheduler_options(p, "on Dask (a study, or one file as a study of one): fitted on a seeded sample drawn from "
                             "every source, each source's rows labelled and written by a task (gmm, kmeans; the same "
                             "CSV; default: in this process)")
    p.set_defaults(func=run_cluster)


def add_rerun(subparsers):
    p = subparsers.add_parser("rerun", help="run a cluster report's job again and compare the assignments")
    p.add_argument("report", help="cluster_report__TAG.json")
    add_out_option(p, "output folder (default: the report's folder; its files are rewritten)", required=False,
                   clobber=False)
    add_figure_options(p, dpi_option=False)
    p.set_defaults(func=run_rerun, rewrites=("report",))  # into its own folder: the report is redone on purpose


def run_cluster(args) -> int:
    from ..analysis.artifacts.cluster import ClusterJob, cluster_names
    from ..analysis.artifacts.cluster_run import run_cluster as run
    from ..data.bandcontrast import BandContrast
    from ..outputs import refuse_existing

    chosen = args.bandcontrast
    if chosen is None and args.features == "pair":
        chosen = BandContrast.scan_map()  # the scan's own band-contrast map
    params = cluster_params(args)  # refused before a study's members are read
    single = one_latents_file(args.latents)
    study = study_from(args.latents)
    job = ClusterJob(latents=single or _study_label(args.latents, study), bandcontrast=chosen, method=args.method,
                     dim=args.dim, features=args.features, params=params,
                     roi=args.roi, partition=args.partition, smooth=args.smooth, quality=quality_from(args))
    refuse_existing([Path(args.out) / cluster_names(job)["report"]])  # a complete result: before the fit
    report = run(job, args.out, study=study, scheduler=args.scheduler, workers=args.workers, png=not args.no_png)
    smoothed = f", features smoothed with sigma {job.smooth:g} grid steps" if job.smooth else ""
    if report["quality"] is not None:
        quality = report["quality"]
        print(f"quality filter {job.quality}: {quality['kept']:,} of {quality['rows']:,} rows kept")
    print(f"{report['method']}: {report['n_clusters']} clusters, counts {report['counts']}{smoothed}")
    print(report["fit_summary"])
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    if "study" in report:
        print(study_fractions_lines(report))
    print(f"wrote {Path(args.out) / report['outputs']['assignments']['name']} and "
          f"{report['outputs']['report']['name']}" + (f" ({report['outputs']['fractions']['name']}: the fractions "
                                                      f"per source)" if "study" in report else ""))
    return 0


def _study_label(latents: list[str], study) -> str:
    """What a study's job names as its latents: the study file, else the study's name (its files are its inputs)."""
    from ..study import STUDY_SUFFIX

    return latents[0] if latents[0].endswith(STUDY_SUFFIX) else study.name


def study_fractions_lines(report: dict) -> str:
    """The study and, per source, the fraction of its rows in each cluster."""
    lines = [f"study {report['study']['name']}: {len(report['study']['members'])} sources, "
             f"{report['study']['rows']:,} rows in one clustering"]
    for source, part in report["fractions"].items():
        shares = ", ".join(f"{cluster}: {fraction:.1%}" for cluster, fraction in part["fractions"].items())
        lines.append(f"  {source}: {shares}")
    return "\n".join(lines + [f"note: {note}" for note in report["study"]["notes"]])


# option -> (lowest allowed value, whether the lowest is excluded): checked before any fit
OPTION_BOUNDS = {"n_init": (1, False), "eps": (0, True), "min_samples": (1, False), "min_cluster_size": (2, False),
                 "cluster_selection_epsilon": (0, False), "max_fit_samples": (0, False), "dim": (0, False)}


def _check_bounds(args):
    for option, (low, strict) in OPTION_BOUNDS.items():
        value = getattr(args, option, None)
        if value is not None and ((value <= low if strict else value < low) or value != value):  # NaN too
            relation = "greater than" if strict else "at least"
            raise InputError(f"--{option.replace('_', '-')} must be {relation} {low}, got {value}: pass a larger one")


def cluster_params(args) -> dict:
    """The method's parameters from the options given; an option for another method is an error."""
    _check_bounds(args)
    params = {"random_state": args.seed, "standardise": not args.no_standardise}
    if args.max_fit_samples is not None:
        params["max_fit_samples"] = args.max_fit_samples or None
    for option, (methods, name) in CLUSTER_OPTIONS.items():
        value = getattr(args, option)
        if value is None:
            continue
        if args.method not in methods:
            raise InputError(f"--{option.replace('_', '-')} does not apply to {args.method} "
                             f"(it is for {', '.join(methods)}): leave it out, or pass --method {methods[0]}")
        if option == "k":
            name, value = ("n_components", _k_value(value)) if args.method == "gmm" else ("n_clusters", _positive_k(value))
        elif option == "k_range":
            value = _int_pair(value, "--k-range")
        params[name] = value
    return params


def _k_value(text: str):
    if text == "auto":
        return "auto"
    return _positive_k(text)


def _positive_k(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise InputError(f"--k must be a positive integer (or 'auto' for gmm), got {text!r}") from None
    if k < 1:
        raise InputError(f"--k must be at least 1, got {k}")
    return k


def _int_pair(text: str, option: str) -> list[int]:
    try:
        low, high = (int(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"{option} must be two integers LOW,HIGH like 2,10, got {text!r}") from None
    if not 1 <= low <= high:
        raise InputError(f"{option} must satisfy 1 <= LOW <= HIGH, got {text!r}")
    return [low, high]


def run_rerun(args) -> int:
    from ..analysis.artifacts.rerun import rerun

    outcome = rerun(args.report, args.out, png=not args.no_png)
    name = outcome["report"]["outputs"]["assignments"]["name"]
    if outcome["identical"]:
        print(f"reproduced: {name} is byte-identical to the report's assignments")
        return 0
    print(f"NOT reproduced: {name} differs from the report's assignments (sha256 "
          f"{outcome['report']['outputs']['assignments']['sha256'][:12]}...)")
    return 1
