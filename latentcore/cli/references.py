"""`python -m latentcore references SCAN --out DIR`: the scan's EBSD reference maps
(`analysis.ebsd.scan_references`): references.npz, one PNG per map (colour bars, the IPF key, the phase legend)
and a JSON report. `rank LATENTS --reference DIR/references.npz` ranks latent dimensions against them.

`python -m latentcore orientations DATA (--rows 0-99 | --table CSV [--cluster K] | --labels CSV --label NAME)
--out DIR`: the orientations of chosen points of a scan with orientations (`analysis.ebsd.pole_figures`): their
inverse pole figure beside the whole scan's and their pole figures (PNG), their table and the pole figures' points
(CSV), their misorientation-angle distribution, correlated and uncorrelated (`analysis.ebsd.misorientations`: CSV,
PNG; `--no-misorientations` leaves it out) and a JSON report."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import InputError
from .options import (add_figure_options, add_out_option, add_parameters, add_roi_option, add_seed_option,
                      pair_count)


def add_references(subparsers):
    from ..analysis.ebsd.records import (DEFAULT_VBSE_PERCENTILES, ORIENTATION_MAP_PARAMETERS, PATTERN_MAPS,
                                         REFERENCE_MAPS, listed)
    from ..data import scan_formats

    p = subparsers.add_parser("references", help=f"EBSD reference maps of a scan: {listed(REFERENCE_MAPS)}")
    p.add_argument("scan", help=f"an EBSD scan file ({', '.join(scan_formats())})")
    add_out_option(p, "output folder")
    add_parameters(p, ORIENTATION_MAP_PARAMETERS)  # the orientation maps' parameters, as their records declare them
    p.add_argument("--vbse-percentiles", type=float, nargs=2, default=DEFAULT_VBSE_PERCENTILES, metavar=("LOW", "HIGH"),
                   help="contrast stretch of the VBSE RGB image: each channel's LOW percentile maps to 0 and its HIGH "
                        "one to 1 (0 100: min to max); recorded in the report")
    p.add_argument("--vbse-grid", type=int, nargs=2, default=(5, 5), metavar=("ROWS", "COLUMNS"),
                   help="detector tiles of the virtual BSE images (at most the patterns' height and width)")
    add_roi_option(p)  # the maps cropped as `maps --roi` crops the latent maps, the ROI in every name
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--no-patterns", dest="patterns", action="store_false",
                   help=f"orientation maps only: skip {listed(PATTERN_MAPS)} (no pass over the patterns)")
    add_figure_options(p, skip_flag="--no-figures")
    p.set_defaults(func=run_references)


def add_orientations(subparsers):
    from ..analysis.ebsd.records import DIRECTIONS, SEED, UNCORRELATED_PAIRS

    p = subparsers.add_parser("orientations", help="the orientations of chosen points (a selection, a cluster, a "
                                                   "label): inverse pole figure beside the scan's, pole figures")
    p.add_argument("data", help="a latents file of a scan with orientations, or the scan file itself")
    rows = p.add_mutually_exclusive_group(required=True)
    rows.add_argument("--rows", help="row ids, e.g. 0-99,150 (the `row` of the UMAP and cluster tables)")
    rows.add_argument("--table", help="a CSV with a `row` column: a UMAP table, or a cluster table with --cluster")
    rows.add_argument("--labels", help="a labels CSV (x_um,y_um,label or row,label), with --label")
    p.add_argument("--cluster", type=int, help="with --table: the rows of this cluster")
    p.add_argument("--label", help="with --labels: the rows of this label")
    p.add_argument("--source", dest="table_source", metavar="NAME",
                   help="with a study's --table or --labels: the source whose rows to take (default: the data's "
                        "own, by its file's name; a study's row ids and coordinates are each source's)")
    p.add_argument("--direction", choices=tuple(DIRECTIONS), default="z",
                   help="the sample direction of the inverse pole figure (default: %(default)s)")
    p.add_argument("--phase", type=int, help="the phase id (default: the one most of the points have)")
    p.add_argument("--look", choices=("points", "density"), default="points",
                   help="the points, or the share of them per cell (default: %(default)s)")
    p.add_argument("--no-misorientations", dest="misorientations", action="store_false",
                   help="leave out the misorientation-angle distribution (its CSV, PNG and report record)")
    p.add_argument("--uncorrelated-pairs", type=pair_count, default=UNCORRELATED_PAIRS, metavar="PAIRS",
                   help="uncorrelated misorientations: every pair of the points when they have at most this many, "
                        "else a seeded sample of this many random pairs (default %(default)s)")
    add_seed_option(p, SEED)
    add_out_option(p, "output folder")
    add_figure_options(p)
    p.set_defaults(func=run_orientations)


def run_orientations(args) -> int:
    """Writes orientations__<stem>__<what>__ipf_<direction>.csv, .png and .json, pole_figures__<...>.csv and
    misorientations__<...>.csv, .png."""
    from ..analysis.artifacts.common import input_record
    from ..analysis.ebsd.pole_figures import orientation_plots, orientations_of, write_orientations

    orientations, x, y, units, source = orientations_of(args.data)
    rows, what = chosen_rows(args, len(orientations.phase_id), x, y, units)
    plots = orientation_plots(orientations, rows, args.direction, args.phase)
    angles = plots.misorientations(x, y, args.uncorrelated_pairs, args.seed) if args.misorientations else None
    inputs = {"data": input_record(args.data, args.out),
              **{name: {**input_record(getattr(args, name), args.out),
                        **({"source": args.table_source} if args.table_source else {})}
                 for name in ("table", "labels") if getattr(args, name)}}
    written = write_orientations(plots, args.out, source, what, x, y, units, inputs, png=not args.no_png,
                                 dpi=args.dpi, look=args.look, angles=angles)
    for note in plots.notes() + (angles.notes() if angles is not None else []):
        print(f"note: {note}")
    found = plots.found
    print(f"{len(found.rows):,} points of phase {found.phase} ({found.phase_name}, {found.laue}); the scan has "
          f"{len(found.scan_rows):,}")
    if angles is not None:
        named = angles.described()
        print(f"misorientation angles. {named['correlated']}. {named['uncorrelated']}.")
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


def chosen_rows(args, n_rows: int, x, y, units) -> tuple:
    """(row ids, what they are: `412rows`, `cluster2`, `label_<name>`) of --rows, --table [--cluster] or
    --labels --label."""
    from ..analysis.ebsd.pole_figures import what_tag
    from ..analysis.items import parse_rows, table_rows
    from ..analysis.labels.labelled import match_labels, read_labels_table
    from ..outputs import own_source_name

    if args.cluster is not None and args.table is None:
        raise InputError("--cluster picks rows of a cluster table: give it with --table")
    if (args.labels is None) != (args.label is None):
        raise InputError("--labels and --label go together: give both, the labels file and the label whose rows to "
                         "take")
    own = own_source_name(args.data)  # a study's rows: the data's own source's, as the study names it
    if args.labels:
        labelled = match_labels(read_labels_table(args.labels), n_rows, x, y, args.labels,
                                args.table_source or own, pick="--source NAME")
        if args.label not in labelled.classes:
            raise InputError(f"no label {args.label!r}: choose one of {labelled.classes}", args.labels)
        rows = labelled.rows[labelled.names == args.label]
        return rows, what_tag(len(rows), label=args.label)
    if args.rows is not None:  # `--rows ""` is refused by parse_rows, not taken for "no --rows"
        rows = parse_rows(args.rows, n_rows)
    else:
        rows = table_rows(args.table, n_rows, args.cluster, (x, y, units) if x is not None else None,
                          source=args.table_source, own=own)
    return rows, what_tag(len(rows), cluster=args.cluster)


def run_references(args) -> int:
    from ..analysis.ebsd.records import ORIENTATION_MAP_PARAMETERS, PATTERN_MAPS, listed
    from ..analysis.ebsd.scan_references import cropped, references_names, scan_references, write_references
    from ..outputs import refuse_existing

    parameters = ORIENTATION_MAP_PARAMETERS.from_args(args)  # checked before any file is read
    if min(args.vbse_grid) < 1 or args.batch_size < 1:
        raise InputError("--vbse-grid and --batch-size must be positive")
    low, high = args.vbse_percentiles
    if not 0 <= low < high <= 100:
        raise InputError(f"--vbse-percentiles {low:g} {high:g}: give LOW and HIGH with 0 <= LOW < HIGH <= 100")

    names = references_names(args.roi)
    refuse_existing([Path(args.out) / names["npz"], Path(args.out) / names["report"]])  # before the pattern pass

    def progress(done, total):
        print(f"\rpatterns {done}/{total}", end="", file=sys.stderr, flush=True)

    refs = scan_references(args.scan, vbse_grid=tuple(args.vbse_grid), parameters=parameters,
                           vbse_percentiles=(low, high), batch_size=args.batch_size, patterns=args.patterns,
                           progress=progress)
    if args.patterns:
        print(file=sys.stderr)
    if args.roi is not None:
        refs = cropped(refs, args.roi)
    if not refs.maps:  # an NPZ of no maps ranks nothing
        skipped = [f"--no-patterns skips {listed(PATTERN_MAPS)}"] if not args.patterns else []
        raise InputError(f"no reference map to write: {'; '.join([*refs.notes, *skipped])}; give a scan with "
                         "orientations, or leave out --no-patterns", args.scan)
    for note in refs.notes:
        print(f"note: {note}")
    written = write_references(refs, args.out, {"scan": args.scan}, png=args.figures, dpi=args.dpi)
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0
