"""An indexed scan's grains and its export for other EBSD software:

    python -m latentcore grains SCAN [--latents LATENTS] [--classes CSV] --out DIR
    python -m latentcore grains NAME.study.json --out DIR [--scheduler local]
    python -m latentcore export-ebsd SCAN --classes ASSIGNMENTS_OR_LABELS.csv --out FILE.ctf|FILE.ang

`grains` writes `grains__<scan stem>.csv` (one row per grain: size, mean orientation, GOS, KAM, the share of its
boundary that is a Σ3 twin, the latents' mean and spread, the majority class; `analysis.ebsd.grains`), the grain-size
and GOS distributions (`grain_distributions__<scan stem>.csv` and `.png`) and the JSON report; MTEX's reconstruction
options (`--min-grain-points`, `--fill-not-indexed`, both off by default) are recorded there with what they changed.
On a study (`study`: latents files that hold their scans' orientations) the table has every source's grains, `source`
first; the distributions are each source's over the same bins, and `grain_summary__<study>.csv` sets the sources side
by side (grains, points, mean and area-weighted mean ECD, median GOS, mean KAM).
`export-ebsd` writes an Oxford .ctf or an
EDAX .ang with the classes as phases (`analysis.ebsd.vendor_files`) and `<FILE>.json` beside it.
"""
from __future__ import annotations

from pathlib import Path

from .options import add_figure_options, add_out_option, add_parameters, add_scheduler_options

CLASSES_HELP = ("a cluster assignments CSV (`cluster`; noise has no class) or a labels CSV (`label`), matched to the "
                "scan's pixels by x_um,y_um (or row)")


def add_grains(subparsers):
    from ..analysis.ebsd.records import GRAIN_PARAMETERS

    p = subparsers.add_parser("grains", help="the grains of an indexed scan as a table: area, mean orientation, GOS, "
                                             "KAM, Σ3 twin boundaries, the latents' mean and spread, the majority "
                                             "class; grain-size and GOS distributions (CSV, PNG, JSON)")
    p.add_argument("scan", help="an EBSD scan file with orientations (Oxford H5OINA, EDAX HDF5, ...), or a "
                                "NAME.study.json whose latents hold their scans' orientations: every source's grains")
    p.add_argument("--latents", help="a *_latents.h5 of this scan: each grain's mean latent and spread, the table "
                                     "ranked by the spread (internally inhomogeneous grains first)")
    p.add_argument("--classes", help=CLASSES_HELP + ": the class most of each grain has")
    add_out_option(p, "output folder")
    add_parameters(p, GRAIN_PARAMETERS)  # the reference maps' grains and KAM, MTEX's reconstruction options
    add_figure_options(p)
    add_scheduler_options(p, "a study on Dask: each source's grains a task of its own")
    p.set_defaults(func=run_grains)


def add_export_ebsd(subparsers):
    p = subparsers.add_parser("export-ebsd", help="the scan with its clusters or labels as phases, as an Oxford "
                                                  ".ctf or an EDAX .ang (MTEX, AZtecCrystal, OIM)")
    p.add_argument("scan", help="an EBSD scan file with orientations")
    p.add_argument("--classes", required=True, help=CLASSES_HELP)
    add_out_option(p, "FILE.ctf (Oxford) or FILE.ang (EDAX); its report is written beside it as FILE.ctf.json")
    p.set_defaults(func=run_export_ebsd)


def run_grains(args) -> int:
    from ..analysis.ebsd.grains import grain_distributions, grain_table, input_records, latents_on_points, write_grains
    from ..analysis.ebsd.records import GRAIN_PARAMETERS
    from ..columns import LATENT_NORM, LATENT_SPREAD
    from ..analysis.ebsd.scan_points import read_classes, scan_points
    from ..figures.grain_figures import distributions_figure
    from ..latents import read_latents
    from ..study import STUDY_SUFFIX
    from .options import refuse_scheduler

    parameters = GRAIN_PARAMETERS.from_args(args)  # checked before the scan is read
    if args.scan.endswith(STUDY_SUFFIX):
        return run_study_grains(args, parameters)
    refuse_scheduler(args, "find the grains of")
    points = scan_points(args.scan)
    classes = read_classes(args.classes, points) if args.classes else None
    latents, notes = (latents_on_points(points, read_latents(args.latents)) if args.latents else (None, []))
    found = grain_table(points, latents, classes, parameters)
    found.notes += notes
    inputs = input_records(args.out, args.scan, args.latents, args.classes)
    stem = Path(args.scan).stem
    figure = None if args.no_png else distributions_figure(
        grain_distributions(found.table, found.units, boundaries=found.boundaries), found.units,
        title=f"Grain size, GOS and boundary misorientation distributions of {stem} ({len(found.table):,} grains)")
    paths = write_grains(found, args.out, stem, inputs, figure, args.dpi)
    for note in found.notes:
        print(f"note: {note}")
    table = found.table
    ranked = ", ranked by latent spread" if latents is not None else ""
    indexed = int((found.grain_of_row >= 0).sum()) - found.reconstruction["pixels_filled"]
    print(f"{len(table):,} grains in {indexed:,} indexed points (boundaries above {parameters.boundary_deg:g}°)"
          f"{ranked}:")
    shown = [c for c in table.columns if not c.startswith("latent_") or c in (LATENT_SPREAD, LATENT_NORM)]
    print(table[shown].head(5).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    files = [path.name for kind, path in paths.items() if kind != "report"]
    print(f"wrote {paths['table'].parent / files[0]}, {', '.join(files[1:])} and {paths['report'].name}")
    return 0


def run_study_grains(args, parameters) -> int:
    """`grains NAME.study.json`: every source's grains (`grains.study_grains`), its files named after the study."""
    from ..analysis.ebsd.grains import (grain_distributions, grain_summary, study_grains, study_input_records,
                                        write_grains)
    from ..columns import SOURCE
    from ..errors import InputError
    from ..figures.grain_figures import distributions_figure
    from .options import study_from

    if args.latents or args.classes:
        raise InputError("--latents and --classes name one scan's files: a study's latents are its members (each "
                         "holds its scan's orientations); leave them out", args.scan)
    study = study_from([args.scan])
    found = study_grains(study, parameters, scheduler=args.scheduler, workers=args.workers)
    figure = None if args.no_png else distributions_figure(
        grain_distributions(found.table, found.units, SOURCE, found.boundaries), found.units,
        title=f"Grain size, GOS and boundary misorientation distributions of the study {study.name} "
              f"({len(found.table):,} grains)")
    paths = write_grains(found, args.out, study.name, study_input_records(args.out, args.scan, study), figure,
                         args.dpi, study=study)
    for note in found.notes:
        print(f"note: {note}")
    summary = grain_summary(found.table, found.units)
    print(f"{len(found.table):,} grains in {len(study.members)} sources:")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    files = [path.name for kind, path in paths.items() if kind != "report"]
    print(f"wrote {paths['table'].parent / files[0]}, {', '.join(files[1:])} and {paths['report'].name}")
    return 0


def run_export_ebsd(args) -> int:
    from ..analysis.artifacts.common import input_record
    from ..analysis.ebsd.scan_points import read_classes, scan_points
    from ..analysis.ebsd.vendor_files import FORMATS, export_ebsd
    from ..errors import InputError
    from ..outputs import refuse_existing

    if Path(args.out).suffix.lower() not in FORMATS:
        raise InputError("--out must end in .ctf or .ang: name it FILE.ctf (Oxford) or FILE.ang (EDAX)", args.out)
    refuse_existing([args.out, f"{args.out}.json"])  # before the scan is read
    points = scan_points(args.scan)
    classes = read_classes(args.classes, points)
    beside = Path(args.out).parent  # the report's folder
    report = export_ebsd(points, classes, args.out, {"scan": input_record(args.scan, beside),
                                                     "classes": input_record(args.classes, beside)})
    for note in report["notes"]:
        print(f"note: {note}")
    grid = report["grid"]
    print(f"wrote {args.out}: {grid['rows']} x {grid['columns']} points, {len(report['phases'])} phases "
          f"({report['not_indexed']:,} points not indexed)")
    for number, phase in report["phases"].items():
        print(f"  phase {number}: {phase['name']} ({phase['points']:,} points, {phase['laue']})")
    print(f"report: {args.out}.json")
    return 0
