"""Looking at the data before extracting: `info` (what a file holds) and `bandcontrast` (keep pixels by band
contrast and/or ROI, export their coordinates, e.g. for `train-vae --keep-coords`).

    python -m latentcore info FILE
    python -m latentcore bandcontrast CSV [--threshold T] [--keep above|below] [--roi ...] --out kept.csv|npy
"""
from __future__ import annotations

import json

from .options import add_out_option, add_roi_option


def add_info(subparsers):
    p = subparsers.add_parser("info", help="print what a file holds, as JSON")
    p.add_argument("file")
    p.set_defaults(func=run_info)


def add_bandcontrast(subparsers):
    p = subparsers.add_parser("bandcontrast", help="keep pixels by band-contrast threshold and/or ROI; "
                                                   "export their coordinates")
    p.add_argument("table", help="CSV x,y,bandcontrast")
    add_out_option(p, "kept.csv or kept.npy")
    p.add_argument("--threshold", type=float)
    p.add_argument("--keep", choices=("above", "below"), default="above")
    add_roi_option(p)
    p.set_defaults(func=run_bandcontrast)


def run_info(args) -> int:
    from ..data import open_source

    with open_source(args.file, describe_only=True) as reader:  # reads no rows: no per-row limit
        described = reader.info().to_dict()
        readable = reader.info().has_coordinates and not described["extra"].get("refused_for_reading")
        orientations = reader.orientations() if readable else None
        if orientations is not None:  # Euler angles and phases: the convention and the phase list
            described["orientations"] = orientations.describe()
        print(json.dumps(described, indent=2, default=str))
    return 0


def run_bandcontrast(args) -> int:
    from ..analysis.maps import bandcontrast_histogram, export_kept, kept_mask
    from ..data import read_bandcontrast

    table = read_bandcontrast(args.table)
    values, x, y = table["bandcontrast"].to_numpy(), table["x"].to_numpy(), table["y"].to_numpy()
    mask = kept_mask(values, x, y, threshold=args.threshold, keep=args.keep, roi=args.roi)
    export_kept(args.out, x, y, mask, values)
    counts, edges = bandcontrast_histogram(values, bins=10)
    print("histogram: " + ", ".join(f"{edges[i]:.4g}-{edges[i + 1]:.4g}: {c}" for i, c in enumerate(counts)))
    print(f"kept {int(mask.sum())} of {len(mask)} pixels; wrote {args.out}")
    return 0
