"""Exploring latents: `umap` (a 2-D embedding as a table), `maps` (latent dimensions as maps over the scan),
`mean-pattern` (the mean pattern of chosen rows, read from the data file the latents came from) and `profile` (the
values along a line drawn on the scan).

    python -m latentcore umap LATENTS... [--out table.parquet|csv] [--method umap|pca]
    python -m latentcore maps LATENTS... [--source NAME] [--roi x0,x1,y0,y1] [--dims 0,3,5-7] [--smooth S] --out DIR
    python -m latentcore mean-pattern LATENTS... --source FILE (--rows 0-99,150 | --table CSV [--cluster K]) --out DIR
    python -m latentcore profile LATENTS --line X0,Y0,X1,Y1 [--scan SCAN] [--bandcontrast CSV|scan:NAME] --out DIR

LATENTS: one latents file, or a study (several, a folder, a quoted glob, or one NAME.study.json): `umap` embeds the
study as one (`embedding.study`); `maps` and `mean-pattern` run on each source, into `--out/<source>`
(`options.each_source`; the mean pattern's data file named per source by `{source}` in `--source`, its rows the
source's rows of a study's `--table`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError, about_file
from ..outputs import refuse_existing
from .options import (EACH_SOURCE_ON_DASK, add_figure_options, add_latents_argument, add_out_option,
                      add_partition_option, add_quality_option, add_roi_option, add_scheduler_options, add_seed_option,
                      add_smooth_option, add_source_option, bandcontrast, each_source, partitions_from,
                      quality_from, study_from)


def add_umap(subparsers):
    p = subparsers.add_parser("umap", help="2-D embedding of a latents file, or of a study, as a table")
    add_latents_argument(p)
    add_out_option(p, "table.parquet or table.csv (default: <study>_<method>.parquet, one file's study named after "
                      "its source: beside the file or the study file, else here)", required=False)
    p.add_argument("--method", choices=("umap", "pca"), default="umap")
    p.add_argument("--partitions", help="comma-separated: each source's partitions embedded (default: all)")
    add_seed_option(p)
    p.add_argument("--n-neighbors", type=int, default=15)
    p.add_argument("--min-dist", type=float, default=0.1)
    add_quality_option(p, bandcontrast_option=True)
    study = add_scheduler_options(p, "the study (one file: a study of one) is fitted on a seeded sample of its "
                                     "rows, every row placed source by source (with --scheduler, as Dask tasks), "
                                     "each source's table kept in <out folder>/<study>_<method>-<fit>/")
    study.add_argument("--sample-size", type=int, help="rows the embedding is fitted on (default: 30,000)")
    p.set_defaults(func=run_umap)


def add_maps(subparsers):
    p = subparsers.add_parser("maps", help="latent dimensions as maps over the scan (NPY + PNG); a study's: each "
                                           "source's over its own scan")
    add_latents_argument(p)
    add_source_option(p)
    add_out_option(p, "output folder")
    add_roi_option(p)
    p.add_argument("--dims", help="e.g. 0,3,5-7 (default: all)")
    add_partition_option(p)
    p.add_argument("--nan-colour", default="#ffffff", help="colour of pixels without a latent")
    add_smooth_option(p)
    add_figure_options(p)
    p.add_argument("--scale-bar", action="store_true", help="draw a scale bar on each map")
    add_scheduler_options(p, EACH_SOURCE_ON_DASK)
    p.set_defaults(func=run_maps)


def add_mean_pattern(subparsers):
    p = subparsers.add_parser("mean-pattern", help="the mean pattern of chosen rows (a selection, a cluster), "
                                                   "read from the data file the latents came from; a study's: "
                                                   "each source's, into --out/<source>")
    add_latents_argument(p)
    p.add_argument("--source", required=True, help="the data file the latents were extracted from (a study: "
                                                   "{source} in the path names each source's, data/{source}.h5)")
    rows = p.add_mutually_exclusive_group(required=True)
    rows.add_argument("--rows", help="row ids, e.g. 0-99,150 (the `row` of the UMAP and cluster tables)")
    rows.add_argument("--table", help="a CSV with a `row` column: a UMAP table, or a cluster table with --cluster")
    p.add_argument("--cluster", type=int, help="with --table: the rows of this cluster")
    add_out_option(p, "output folder")
    add_figure_options(p)
    add_scheduler_options(p, EACH_SOURCE_ON_DASK)
    p.set_defaults(func=run_mean_pattern)


def add_profile(subparsers):
    p = subparsers.add_parser("profile", help="the values along a line on the scan: misorientation, band contrast "
                                              "and latent dimensions against the distance (CSV + PNG)")
    p.add_argument("latents")
    p.add_argument("--line", required=True, type=_line, metavar="X0,Y0,X1,Y1",
                   help="from its first point to its last, in the scan's units (µm)")
    p.add_argument("--scan", help="the scan file the latents came from, for its orientations when the latents file "
                                  "holds none")
    p.add_argument("--bandcontrast", type=bandcontrast,
                   help="CSV x,y,bandcontrast, or scan:NAME for a per-point map the latents carry (default: the "
                        "scan's own first map, when there is one)")
    p.add_argument("--dims", help="latent dimensions, e.g. 0,3,5-7 (default: all)")
    add_out_option(p, "output folder")
    add_figure_options(p)
    p.set_defaults(func=run_profile)


def _line(text: str):
    from ..analysis.profile import Line

    try:
        return Line.parse(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_umap(args) -> int:
    """One embedding of every row of the study (`embedding.study.embed_study`; one file: its study of one, as the
    UMAP page fits it): each source's table kept in the embedding's folder beside `--out`, and the whole study's
    table (`source, row, x_um, y_um, umap_0, umap_1`, then each source's `partition`, `index` and metadata)."""
    from ..analysis.embedding.study import embed_study, read_study_embedding

    study = study_from(args.latents)
    named = Path(args.latents[0])  # one latents file or study file: the table lands beside it
    beside = named.parent if len(args.latents) == 1 and named.is_file() else Path()
    out = Path(args.out or beside / f"{study.name}_{args.method}.parquet")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise InputError("the table is written as .parquet or .csv: name --out so", out)
    refuse_existing([out])  # before the fit (the embedding's folder beside it resumes: its sources are kept)
    params = {"n_neighbors": args.n_neighbors, "min_dist": args.min_dist} if args.method == "umap" else {}
    done = embed_study(study, out.parent, method=args.method, random_state=args.seed, sample_size=args.sample_size,
                       scheduler=args.scheduler, workers=args.workers, quality=quality_from(args),
                       partitions=partitions_from(args), **params)
    table = read_study_embedding(study, done.folder, rows=[placed.rows for placed in done.placed])
    sources = len(study.members)
    if done.report["quality"] is not None:
        kept = done.report["quality"]
        print(f"quality filter {args.quality}: {kept['kept']:,} of {kept['rows']:,} rows kept"
              f"{', each scan by its own maps' * (sources > 1)}")
    write_table(table, out)
    print(f"wrote {out} ({len(table):,} rows of {sources} source{'s' * (sources != 1)}; each source's table in "
          f"{done.folder})\n{done.report['approximation']}")
    for note in study.notes:
        print(f"note: {note}")
    return 0


def write_table(table, out: Path) -> None:
    """A table as Parquet or CSV (by its suffix), written atomically."""
    from ..storage import atomic_path
    from ..storage.csv_cells import neutralised_table

    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".csv":
            neutralised_table(table).to_csv(tmp, index=False)  # metadata columns may hold user text
        elif out.suffix.lower() == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            raise InputError("the table is written as .parquet or .csv: name --out so", out)


def run_maps(args) -> int:
    return each_source(args, maps_of_file, needs_scan=True)


def maps_of_file(args) -> int:
    from ..analysis.artifacts.latent_maps import MapsJob, run_maps_job
    from ..analysis.maps import parse_dims
    from ..latents import read_latents

    latents = read_latents(args.latents)
    dims = parse_dims(args.dims, latents.dim) if args.dims else None
    job = MapsJob(args.latents, dims, args.roi, args.smooth, args.partition)
    report = run_maps_job(job, args.out, png=not args.no_png, nan_colour=args.nan_colour, scale_bar=args.scale_bar,
                          dpi=args.dpi, latents=latents)
    outputs, engine = report["outputs"], report["figure_engine"]
    print(f"wrote {Path(args.out) / outputs['maps']} {tuple(report['shape'])}"
          + (f" and {outputs['figure']} ({engine})" if engine else ""))
    return 0


def run_mean_pattern(args) -> int:
    """Writes mean_pattern__{tag}.npy (float64, the items' shape), .png (with its colour bar) and .json (the
    rows' count and digest, parameters, inputs' SHA-256, versions); a study's: each source's (its rows of a study's
    --table, its data file by --source's {source}), into --out/<source>."""
    return each_source(args, mean_pattern_of_file, per_source=("source",))


def mean_pattern_of_file(args) -> int:
    from ..analysis.artifacts.mean_pattern import MeanPatternJob, run_mean_pattern_job
    from ..analysis.items import parse_rows, table_rows
    from ..latents import read_latents
    from ..outputs import own_source_name

    latents = read_latents(args.latents)
    n_rows = sum(len(values) for values in latents.partitions.values())
    if args.cluster is not None and args.table is None:
        raise InputError("--cluster picks rows of a cluster table: give it with --table")
    positions = (latents.x, latents.y, latents.units) if latents.x is not None and len(latents.x) == n_rows else None
    rows = (parse_rows(args.rows, n_rows) if args.rows is not None
            else table_rows(args.table, n_rows, args.cluster, positions, source=args.member,
                            own=own_source_name(args.latents)))  # one file: its own source's rows of a study's
    job = MeanPatternJob(args.latents, args.source, rows, cluster=args.cluster, rows_text=args.rows, table=args.table)
    report = run_mean_pattern_job(job, args.out, png=not args.no_png, dpi=args.dpi, latents=latents)
    outputs, engine = report["outputs"], report["figure_engine"]
    print(f"wrote {Path(args.out) / outputs['mean']} (the mean of {report['count']:,} patterns)"
          + (f" and {outputs['figure']} ({engine})" if engine else ""))
    return 0


def run_profile(args) -> int:
    """Writes line_profile__{tag}.csv (one row per pixel along the line), .png (its figure) and .json."""
    from ..analysis.artifacts.common import bandcontrast_record, input_record
    from ..analysis.maps import Grid, parse_dims
    from ..analysis.profile import line_profile, profile_report, write_profile
    from ..data.bandcontrast import BandContrast
    from ..data.base import display_units
    from ..figures.profile_figures import profile_figure
    from ..latents import read_latents

    latents, line = read_latents(args.latents), args.line
    if latents.x is None:
        raise InputError("the latents have no x, y coordinates: a line profile needs a scan; give the latents of "
                         "a scan", args.latents)
    matrix = latents.stacked()[0]
    dims = parse_dims(args.dims, matrix.shape[1]) if args.dims else list(range(matrix.shape[1]))
    inputs, orientations = {"latents": input_record(args.latents, args.out)}, latents.orientations
    if args.scan:
        inputs["scan"] = input_record(args.scan, args.out)
        orientations = orientations or _scan_orientations(args.scan, latents, inputs["scan"]["sha256"])
    bandcontrast = args.bandcontrast or (BandContrast.scan_map() if latents.point_maps else None)
    band_name, band = "band contrast", None
    if bandcontrast is not None:
        band_name, band = bandcontrast.values(latents.point_maps, latents.x, latents.y, args.latents)
    with about_file(args.latents):
        grid = Grid.from_coordinates(latents.x, latents.y)
        table = line_profile(line, grid, grid.indices(latents.x, latents.y), latents.x, latents.y,
                             units=latents.units, orientations=orientations, bandcontrast=band, latents=matrix,
                             dims=dims)
    unit = display_units(latents.units)
    title = f"Line profile from ({line.x0:g}, {line.y0:g}) to ({line.x1:g}, {line.y1:g}) {unit}: {len(table):,} pixels"
    figure = None if args.no_png else profile_figure(table, latents.units, title=title, band_name=band_name)
    report = profile_report(line, table, grid, latents.units, inputs, dims=dims,
                            bandcontrast=bandcontrast_record(bandcontrast, args.out),
                            orientation_convention=orientations.convention if orientations is not None else None)
    report = write_profile(table, line, args.out, report, figure, dpi=args.dpi)
    engine = report["figure_engine"]
    print(f"wrote {Path(args.out) / report['outputs']['table']} ({len(table):,} pixels along {line.length:g} {unit})"
          + (f" and {report['outputs']['figure']} ({engine})" if engine else ""))
    return 0


def _scan_orientations(scan, latents, sha256: str):
    """The orientations of the scan file the latents came from, row for row (None when it holds none)."""
    from ..data import open_source

    expected = latents.attrs.get("source_sha256")
    if expected and expected != sha256:
        raise InputError(f"not the scan these latents came from ({latents.attrs.get('source')}: SHA-256 "
                         f"{str(expected)[:12]}...): give that scan as --scan", scan)
    with open_source(scan) as reader:
        found = reader.orientations()
    if found is not None and len(found.phase_id) != len(latents.x):
        raise InputError(f"the scan holds {len(found.phase_id):,} orientations, the latents {len(latents.x):,} rows: "
                         "give the scan the latents were extracted from", scan)
    return found
