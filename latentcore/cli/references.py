"""`python -m latentcore references SCAN --out DIR`: the scan's EBSD reference maps
(`analysis.ebsd.scan_references`): references.npz, one PNG per map (colour bars, the IPF key, the phase legend)
and a JSON report. `rank LATENTS --reference DIR/references.npz` ranks latent dimensions against them."""
from __future__ import annotations

import sys

from ..errors import InputError
from .options import add_figure_options, add_out_option, add_roi_option, boundary_degrees


def add_references(subparsers):
    from ..analysis.ebsd.orientation import DEFAULT_BOUNDARY_DEG, DEFAULT_KAM_THRESHOLD_DEG
    from ..analysis.ebsd.scan_references import DEFAULT_VBSE_PERCENTILES, PATTERN_MAPS, REFERENCE_MAPS, listed
    from ..data import scan_formats

    p = subparsers.add_parser("references", help=f"EBSD reference maps of a scan: {listed(REFERENCE_MAPS)}")
    p.add_argument("scan", help=f"an EBSD scan file ({', '.join(scan_formats())})")
    add_out_option(p, "output folder")
    p.add_argument("--boundary-deg", type=boundary_degrees, default=DEFAULT_BOUNDARY_DEG,
                   help="misorientation (degrees, symmetry-reduced, above 0 and at most 180) above which neighbours "
                        "are on a boundary, and grains part")
    p.add_argument("--kam-threshold-deg", type=boundary_degrees, default=DEFAULT_KAM_THRESHOLD_DEG,
                   help="kernel average misorientation: first neighbours (the 4 sharing an edge) misoriented by more "
                        "than this many degrees are left out, as across a grain boundary (default "
                        f"{DEFAULT_KAM_THRESHOLD_DEG:g}, the threshold MTEX's KAM documentation uses; MTEX's function "
                        "itself has none unless given one)")
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


def run_references(args) -> int:
    from ..analysis.ebsd.scan_references import PATTERN_MAPS, cropped, listed, scan_references, write_references

    if args.boundary_deg <= 0 or min(args.vbse_grid) < 1 or args.batch_size < 1:
        raise InputError("--boundary-deg, --vbse-grid and --batch-size must be positive")
    low, high = args.vbse_percentiles
    if not 0 <= low < high <= 100:
        raise InputError(f"--vbse-percentiles {low:g} {high:g}: give LOW and HIGH with 0 <= LOW < HIGH <= 100")

    def progress(done, total):
        print(f"\rpatterns {done}/{total}", end="", file=sys.stderr, flush=True)

    refs = scan_references(args.scan, vbse_grid=tuple(args.vbse_grid), boundary_deg=args.boundary_deg,
                           kam_threshold_deg=args.kam_threshold_deg, vbse_percentiles=(low, high),
                           batch_size=args.batch_size, patterns=args.patterns, progress=progress)
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
