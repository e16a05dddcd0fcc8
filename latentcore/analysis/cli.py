"""Analysis commands: `umap`, `maps`, `cluster`, `bandcontrast`, `rerun` (`rank` lives in rank's module).

    python -m latentcore umap LATENTS [--out table.parquet|csv] [--method umap|pca]
    python -m latentcore maps LATENTS [--roi x0,x1,y0,y1] [--dims 0,3,5-7] [--smooth SIGMA] --out DIR
    python -m latentcore cluster LATENTS [--bandcontrast CSV|scan:NAME] [--dim K] --method gmm|kmeans|dbscan|hdbscan
                                 [--features pair|latent|umap] [params] [--roi x0,x1,y0,y1] [--smooth SIGMA] --out DIR
    python -m latentcore bandcontrast CSV [--threshold T] [--keep above|below] [--roi ...] --out kept.csv|npy
    python -m latentcore rerun cluster_report__TAG.json [--out DIR]
    python -m latentcore mean-pattern LATENTS --source FILE (--rows 0-99,150 | --table CSV [--cluster K]) --out DIR
"""
from __future__ import annotations

from pathlib import Path

from ..arguments import dpi
from ..errors import InputError, about_file
from ..versions import package_versions

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


def register(subparsers):
    _register_umap(subparsers)
    _register_maps(subparsers)
    _register_cluster(subparsers)
    _register_bandcontrast(subparsers)
    _register_mean_pattern(subparsers)
    rerun = subparsers.add_parser("rerun", help="run a cluster report's job again and compare the assignments")
    rerun.add_argument("report", help="cluster_report__TAG.json")
    rerun.add_argument("--out", help="output folder (default: the report's folder)")
    rerun.add_argument("--no-png", action="store_true", help="skip the figure")
    rerun.set_defaults(func=run_rerun, rewrites=("report",))  # into its own folder: the report is redone on purpose


def _register_umap(subparsers):
    p = subparsers.add_parser("umap", help="2-D embedding of a latents file as a table")
    p.add_argument("latents")
    p.add_argument("--out", help="table.parquet or table.csv (default: <stem>_<method>.parquet beside the latents)")
    p.add_argument("--method", choices=("umap", "pca"), default="umap")
    p.add_argument("--partitions", help="comma-separated (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-neighbors", type=int, default=15)
    p.add_argument("--min-dist", type=float, default=0.1)
    p.set_defaults(func=run_umap)


def _register_maps(subparsers):
    p = subparsers.add_parser("maps", help="latent dimensions as maps over the scan (NPY + PNG)")
    p.add_argument("latents")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--roi", help="x0,x1,y0,y1 (inclusive, in the coordinates' units)")
    p.add_argument("--dims", help="e.g. 0,3,5-7 (default: all)")
    p.add_argument("--partition", help="latents partition (default: the first)")
    p.add_argument("--nan-colour", default="#ffffff", help="colour of pixels without a latent")
    _add_smooth_option(p)
    p.add_argument("--dpi", type=dpi, default=300, help="PNG resolution (default 300: publication)")
    p.add_argument("--scale-bar", action="store_true", help="draw a scale bar on each map")
    p.add_argument("--no-png", action="store_true")
    p.set_defaults(func=run_maps)


def _register_cluster(subparsers):
    p = subparsers.add_parser("cluster", help="cluster (latent, band contrast) pairs or latent vectors")
    p.add_argument("latents")
    p.add_argument("--bandcontrast",
                   help="CSV x,y,bandcontrast (full field or the ROI), or scan:NAME for a per-point map the "
                        "scan's latents carry (e.g. 'scan:Band Contrast', 'scan:IQ'); default for --features "
                        "pair: 'scan', the scan's own band-contrast map (Oxford Band Contrast, EDAX IQ); "
                        "whole vectors (latent, umap) use none unless given (the CSV then has a bandcontrast "
                        "column)")
    p.add_argument("--method", required=True, choices=("gmm", "kmeans", "dbscan", "hdbscan"))
    p.add_argument("--dim", type=int, default=0, help="latent dimension paired with band contrast")
    p.add_argument("--features", choices=("pair", "latent", "umap"), default="pair",
                   help="pair: (dim, band contrast); latent: whole latent vectors; umap: their 2-D UMAP")
    p.add_argument("--roi", help="x0,x1,y0,y1 (inclusive)")
    _add_smooth_option(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--partition", help="latents partition (default: the first)")
    p.add_argument("--k", help="gmm: components or 'auto'; kmeans: clusters")
    p.add_argument("--k-range", help="gmm auto: LOW,HIGH inclusive (default 2,8)")
    p.add_argument("--criterion", choices=("bic", "aic"))
    p.add_argument("--covariance-type", choices=("full", "tied", "diag", "spherical"))
    p.add_argument("--n-init", type=int)
    p.add_argument("--eps", type=float, help="dbscan radius in standardised units")
    p.add_argument("--min-samples", type=int)
    p.add_argument("--min-cluster-size", type=int)
    p.add_argument("--cluster-selection-epsilon", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-fit-samples", type=int,
                   help="fit on a seeded sample of this many rows when there are more (0: every row; "
                        "default: the method's own)")
    p.add_argument("--no-standardise", action="store_true")
    p.add_argument("--no-png", action="store_true")
    p.set_defaults(func=run_cluster)


def _add_smooth_option(parser):
    parser.add_argument("--smooth", type=float, default=0.0, metavar="SIGMA",
                        help="Gaussian over the scan grid first, sigma in grid steps (NaN-aware, inside the ROI; "
                             "default 0: none)")


def _register_bandcontrast(subparsers):
    p = subparsers.add_parser("bandcontrast", help="keep pixels by band-contrast threshold and/or ROI; "
                                                   "export their coordinates")
    p.add_argument("table", help="CSV x,y,bandcontrast")
    p.add_argument("--out", required=True, help="kept.csv or kept.npy")
    p.add_argument("--threshold", type=float)
    p.add_argument("--keep", choices=("above", "below"), default="above")
    p.add_argument("--roi", help="x0,x1,y0,y1 (inclusive)")
    p.set_defaults(func=run_bandcontrast)


# -- commands -----------------------------------------------------------------------------------

def run_umap(args) -> int:
    import numpy as np

    from ..latents import read_latents
    from ..storage import atomic_path
    from ..storage.csv_cells import neutralised_table
    from .embedding import embed, embedding_names

    latents = read_latents(args.latents)
    partitions = args.partitions.split(",") if args.partitions else None
    missing = [p for p in partitions or () if p not in latents.partitions]
    if missing:
        raise InputError(f"no partition(s) {missing}; it holds {sorted(latents.partitions)}", args.latents)
    rows, table = latents.stacked(partitions)
    kwargs = {"n_neighbors": args.n_neighbors, "min_dist": args.min_dist} if args.method == "umap" else {}
    with about_file(args.latents):
        coords = embed(rows, method=args.method, random_state=args.seed, **kwargs)
    from .artifacts import coordinate_names

    table.insert(0, "row", np.arange(len(table), dtype=np.int64))  # the row id the cluster tables join on
    for i in range(coords.shape[1]):
        table[f"{args.method}_{i}"] = coords[:, i].astype(np.float32)
    if latents.x is not None and len(latents.partitions) == 1:
        x_name, y_name = coordinate_names(latents.units)
        table[x_name], table[y_name] = latents.x, latents.y
    out = Path(args.out or Path(args.latents).with_name(embedding_names(args.latents, args.method)["table"]))
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".csv":
            neutralised_table(table).to_csv(tmp, index=False)  # metadata columns may hold user text
        elif out.suffix.lower() == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            raise InputError("the table is written as .parquet or .csv", out)
    print(f"wrote {out} ({len(table)} rows)")
    return 0


def run_maps(args) -> int:
    from ..export import export_maps_npz
    from ..figures import latent_map_grid, write_png
    from ..latents import read_latents
    from . import artifacts
    from .maps import Grid, Roi, latent_maps_names, latent_maps_tag, parse_dims, spatial_maps
    from .smoothing import check_sigma, smooth_maps, smoothing_record

    latents = read_latents(args.latents)
    partition = args.partition or next(iter(latents.partitions))
    if partition not in latents.partitions:
        raise InputError(f"no partition {partition!r}; it holds {sorted(latents.partitions)}", args.latents)
    if latents.x is None:
        raise InputError("the latents have no x, y coordinates: maps need a scan", args.latents)
    rows = latents.partitions[partition]
    dims = parse_dims(args.dims, rows.shape[1]) if args.dims else list(range(rows.shape[1]))
    roi = Roi.parse(args.roi) if args.roi is not None else None  # --roi "" is an error, not 'no ROI'
    with about_file(args.latents):  # the map errors (duplicate pixels, off-grid points) are this file's
        grid = None if roi else Grid.from_coordinates(latents.x, latents.y, latents.grid_shape)
        maps, grid, dims = spatial_maps(rows, latents.x, latents.y, dims, grid=grid, roi=roi)
    sigma = check_sigma(args.smooth)
    maps = smooth_maps(maps, sigma)  # on the ROI's grid: pixels outside the ROI are NaN there, never mixed in
    tag = latent_maps_tag(dims, roi, sigma)
    out = Path(args.out)
    names = latent_maps_names(tag)
    artifacts.write_npy(out / names["maps"], maps)
    export_maps_npz(out / names["maps_npz"], maps, grid, [f"dim {d}" for d in dims], latents.units)  # + origin, step, units
    engine = None
    if not args.no_png:
        title = f"latent maps ({tag})" + (f", Gaussian-smoothed sigma {sigma:g} grid steps" if sigma else "")
        fig = latent_map_grid(maps, grid, dims, nan_colour=args.nan_colour, title=title, units=latents.units,
                              scale_bar=args.scale_bar)
        engine = write_png(fig, out / names["figure"], dpi=args.dpi)
    artifacts.write_json(out / names["report"], {
        "kind": "maps", "tag": tag, "created": artifacts.now(), "dims": dims, "partition": partition,
        "roi": roi.to_list() if roi else None, "grid": grid.to_dict(), "units": latents.units,
        "shape": list(maps.shape), "dpi": args.dpi, "smoothing": smoothing_record(sigma),
        "inputs": {"latents": artifacts.input_record(args.latents)}, "versions": package_versions(artifacts.VERSION_PACKAGES),
        "outputs": {k: v for k, v in names.items() if k != "figure" or engine}, "figure_engine": engine})
    print(f"wrote {out / names['maps']} {tuple(maps.shape)}" + (f" and {names['figure']} ({engine})" if engine else ""))
    return 0


def run_cluster(args) -> int:
    from .artifacts import ClusterJob, run_cluster_job

    bandcontrast = args.bandcontrast if args.bandcontrast is not None or args.features != "pair" else "scan"
    job = ClusterJob(latents=args.latents, bandcontrast=bandcontrast, method=args.method, dim=args.dim,
                     features=args.features, params=cluster_params(args),
                     roi=_roi_list(args.roi), partition=args.partition, smooth=args.smooth)
    report = run_cluster_job(job, args.out, png=not args.no_png)
    smoothed = f", features smoothed with sigma {job.smooth:g} grid steps" if job.smooth else ""
    print(f"{report['method']}: {report['n_clusters']} clusters, counts {report['counts']}{smoothed}")
    print(report["fit_summary"])
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    print(f"wrote {Path(args.out) / report['outputs']['assignments']['name']} and "
          f"{report['outputs']['report']['name']}")
    return 0


# option -> (lowest allowed value, whether the lowest is excluded): checked before any fit
OPTION_BOUNDS = {"n_init": (1, False), "eps": (0, True), "min_samples": (1, False), "min_cluster_size": (2, False),
                 "cluster_selection_epsilon": (0, False), "max_fit_samples": (0, False), "dim": (0, False)}


def _check_bounds(args):
    for option, (low, strict) in OPTION_BOUNDS.items():
        value = getattr(args, option, None)
        if value is not None and ((value <= low if strict else value < low) or value != value):  # NaN too
            relation = "greater than" if strict else "at least"
            raise InputError(f"--{option.replace('_', '-')} must be {relation} {low}, got {value}")


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
                             f"(it is for {', '.join(methods)})")
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
        raise InputError(f"{option} must be two integers LOW,HIGH, got {text!r}") from None
    if not 1 <= low <= high:
        raise InputError(f"{option} must satisfy 1 <= LOW <= HIGH, got {text!r}")
    return [low, high]


def _roi_list(text):
    from .maps import Roi

    return Roi.parse(text).to_list() if text is not None else None


def run_bandcontrast(args) -> int:
    from ..data import read_bandcontrast
    from .maps import Roi, bandcontrast_histogram, export_kept, kept_mask

    table = read_bandcontrast(args.table)
    values, x, y = table["bandcontrast"].to_numpy(), table["x"].to_numpy(), table["y"].to_numpy()
    mask = kept_mask(values, x, y, threshold=args.threshold, keep=args.keep,
                     roi=Roi.parse(args.roi) if args.roi is not None else None)
    export_kept(args.out, x, y, mask, values)
    counts, edges = bandcontrast_histogram(values, bins=10)
    print("histogram: " + ", ".join(f"{edges[i]:.4g}-{edges[i + 1]:.4g}: {c}" for i, c in enumerate(counts)))
    print(f"kept {int(mask.sum())} of {len(mask)} pixels; wrote {args.out}")
    return 0


def run_rerun(args) -> int:
    from .artifacts import rerun

    outcome = rerun(args.report, args.out, png=not args.no_png)
    name = outcome["report"]["outputs"]["assignments"]["name"]
    if outcome["identical"]:
        print(f"reproduced: {name} is byte-identical to the report's assignments")
        return 0
    print(f"NOT reproduced: {name} differs from the report's assignments (sha256 "
          f"{outcome['report']['outputs']['assignments']['sha256'][:12]}...)")
    return 1


# -- the mean pattern of chosen rows ------------------------------------------------------------------

def _register_mean_pattern(subparsers):
    p = subparsers.add_parser("mean-pattern", help="the mean pattern of chosen rows (a selection, a cluster), "
                                                   "read from the data file the latents came from")
    p.add_argument("latents")
    p.add_argument("--source", required=True, help="the data file the latents were extracted from")
    rows = p.add_mutually_exclusive_group(required=True)
    rows.add_argument("--rows", help="row ids, e.g. 0-99,150 (the `row` of the UMAP and cluster tables)")
    rows.add_argument("--table", help="a CSV with a `row` column: a UMAP table, or a cluster table with --cluster")
    p.add_argument("--cluster", type=int, help="with --table: the rows of this cluster")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dpi", type=dpi, default=300, help="PNG resolution (default 300: publication)")
    p.add_argument("--no-png", action="store_true")
    p.set_defaults(func=run_mean_pattern)


def run_mean_pattern(args) -> int:
    """Writes mean_pattern__{tag}.npy (float64, the items' shape), .png (with its colour bar) and .json (the
    rows' count and digest, parameters, inputs' SHA-256, versions)."""
    import hashlib

    from ..data import open_source
    from ..figures import write_png
    from ..figures.items import as_plane, mean_pattern_figure
    from ..latents import read_latents
    from . import artifacts
    from .items import by_partition, mean_item, mean_pattern_names, mean_pattern_tag, parse_rows, table_rows

    latents = read_latents(args.latents)
    sizes = {name: len(values) for name, values in latents.partitions.items()}
    n_rows = sum(sizes.values())
    if args.cluster is not None and args.table is None:
        raise InputError("--cluster picks rows of a cluster table: give it with --table")
    positions = (latents.x, latents.y, latents.units) if latents.x is not None and len(latents.x) == n_rows else None
    rows = parse_rows(args.rows, n_rows) if args.rows else table_rows(args.table, n_rows, args.cluster, positions)
    source = artifacts.input_record(args.source)
    expected = latents.attrs.get("source_sha256")
    if expected and expected != source["sha256"]:
        raise InputError(f"not the data file these latents came from ({latents.attrs.get('source')}: "
                         f"SHA-256 {str(expected)[:12]}...)", args.source)
    with open_source(args.source) as reader:
        mean, count = mean_item(reader, by_partition(sizes, rows))
    tag = mean_pattern_tag(args.source, count, args.cluster)
    out = Path(args.out)
    names = mean_pattern_names(tag)
    artifacts.write_npy(out / names["mean"], mean)
    engine = None
    if not args.no_png:
        plane, note = as_plane(mean)
        title = f"Mean of {count:,} patterns" + (f": cluster {args.cluster}" if args.cluster is not None else "")
        engine = write_png(mean_pattern_figure(plane, title + (f" ({note})" if note else "")), out / names["figure"],
                           dpi=args.dpi)
    inputs = {"latents": artifacts.input_record(args.latents), "source": source}
    if args.table:
        inputs["table"] = artifacts.input_record(args.table)
    artifacts.write_json(out / names["report"], {
        "kind": "mean_pattern", "tag": tag, "created": artifacts.now(), "rows": args.rows, "cluster": args.cluster,
        "count": count, "rows_sha1": hashlib.sha1(rows.tobytes()).hexdigest(), "shape": list(mean.shape),
        "accumulation": "float64", "dpi": args.dpi, "inputs": inputs,
        "versions": package_versions(artifacts.VERSION_PACKAGES),
        "outputs": {k: v for k, v in names.items() if k != "figure" or engine}, "figure_engine": engine})
    print(f"wrote {out / names['mean']} (the mean of {count:,} patterns)"
          + (f" and {names['figure']} ({engine})" if engine else ""))
    return 0
