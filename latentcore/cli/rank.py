"""`python -m latentcore rank LATENTS --reference FILE... --out DIR`: rank latent dimensions. A study's sources (several
latents files or a NAME.study.json) are ranked each on its own, into `--out/<source>` (`--source NAME`: one); a
reference, labels or components file of one scan then names each source's by `{source}` in its path.

A reference (or `--labels`) file is a CSV with `x,y` and a value column, aligned to the latents'
x,y by coordinate value (`FILE:COLUMN` picks the column), or an NPY in the latents' row order: see
`analysis.references.read_reference_files`. `--components SOURCE` adds PCA/NMF components of the raw
patterns of SOURCE as references (`analysis.references.component_maps`).
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import InputError
from .options import (EACH_SOURCE_ON_DASK, add_figure_options, add_out_option, add_partition_option,
                      add_quality_option, add_scheduler_options, add_seed_option, add_source_option, each_source,
                      quality_from)


def add_rank(subparsers):
    from ..analysis import rank_metrics as rank  # the names alone: the ranking's libraries load when it runs

    p = subparsers.add_parser("rank", help="rank latent dimensions against reference maps (CSV, JSON, figures)")
    p.add_argument("latents", nargs="+", metavar="LATENTS",
                   help="a *_latents.h5 file (or an (N, D) .npy); several, a folder or a quoted glob, or one "
                        "NAME.study.json: each source ranked on its own (into --out/<source>)")
    add_source_option(p)
    p.add_argument("--reference", nargs="+", default=[], metavar="FILE[:COLUMN]",
                   help="reference maps: x,y,value CSV (aligned by coordinates) or (N,) / (N, k) NPY; on a study, "
                        "{source} in the path names each source's file")
    p.add_argument("--labels", nargs="+", default=[], metavar="FILE[:COLUMN]",
                   help="reference clusterings (integer ids), scored by ARI/NMI")
    p.add_argument("--components", metavar="SOURCE", help="add PCA/NMF components of this pattern file's raw patterns")
    p.add_argument("--n-components", type=int, default=3)
    p.add_argument("--component-method", choices=("pca", "nmf"), default="pca")
    add_out_option(p, "output folder")
    p.add_argument("--metrics", nargs="+", choices=rank.METRICS, help="default: every metric the inputs allow")
    p.add_argument("--sort-by", choices=rank.METRICS, help="metric ranked on (default: the first metric)")
    p.add_argument("--top", type=int, default=10, help="dimensions per reference in the report and figures")
    add_partition_option(p, default="all, stacked")
    add_quality_option(p, bandcontrast_option=True)
    p.add_argument("--max-samples", type=int, default=rank.DEFAULT_MAX_SAMPLES,
                   help="sample size for kendall, distance correlation and HSIC")
    p.add_argument("--n-clusters", type=int, default=3, help="mixture components for ARI/NMI of continuous maps")
    p.add_argument("--trend-degree", type=int, default=2, help="polynomial degree of the spatial trend")
    add_seed_option(p)
    p.add_argument("--tag", help="name part of the outputs (default: <metric>_top<N>)")
    add_figure_options(p, skip_flag="--no-figures")
    add_scheduler_options(p, EACH_SOURCE_ON_DASK)
    p.set_defaults(func=run_rank)


def run_rank(args) -> int:
    return each_source(args, rank_file, per_source=("reference", "labels", "components"))


def rank_file(args) -> int:
    from tqdm import tqdm

    from ..analysis import rank
    from ..analysis.references import component_maps, read_reference_files
    from ..latents import read_latents
    from ..outputs import own_source_name

    source = read_latents(args.latents)
    values, x, y = latents_and_coordinates(source, args.partition)
    inputs, own = {"latents": source.path}, own_source_name(args.latents)
    references = read_reference_files(args.reference, x, y, len(values), inputs, "reference", source.grid_shape, own)
    labels = read_reference_files(args.labels, x, y, len(values), inputs, "labels", source.grid_shape, own)
    if args.components:
        references.update(component_maps(args.components, args.n_components, args.component_method,
                                         len(values), args.seed))
        inputs["components_source"] = Path(args.components)
    if not references and not labels:
        raise InputError("give --reference, --labels or --components: there is nothing to rank against")
    quality, record = quality_from(args), None
    if quality is not None:  # scores over the kept pixels only
        if x is None:
            raise InputError("--quality filters a scan's pixels by its quality maps: these latents are not one "
                             "scan's; leave it out",
                             source.path)
        kept = quality.rows_kept(source.point_maps, x, y, source.path)
        record = quality.record(kept)
        values, x, y = values[kept], x[kept], y[kept]
        references, labels = ({name: v[kept] for name, v in maps.items()} for maps in (references, labels))
        print(quality.describe(kept))
    with tqdm(desc="rank", unit="pair", file=sys.stderr, disable=None) as bar:  # a bar on a terminal only
        def scored(done: int, total: int):
            bar.total = total
            bar.update(done - bar.n)
        result = rank.rank_dimensions(values, references, x, y, metrics=args.metrics, labels=labels,
                                      sort_by=args.sort_by, n_clusters=args.n_clusters,
                                      trend_degree=args.trend_degree, random_state=args.seed,
                                      max_samples=args.max_samples, progress=scored)
    paths = rank.write_ranking(result, args.out, inputs, top=args.top, tag=args.tag,
                               latents=values, references=references, figures=args.figures, dpi=args.dpi,
                               quality=record)
    for note in result.attrs.get("notes", []):
        print(f"note: {note}")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def latents_and_coordinates(source, partition=None):
    """(N, D) rows of one partition (default: all, stacked) and x, y when the file is a scan."""
    if partition is not None and partition not in source.partitions:
        raise InputError(f"no partition {partition!r}; the file holds {list(source.partitions)}: pick one of them",
                         source.path)
    names = [partition] if partition else list(source.partitions)
    values, _ = source.stacked(names)
    if source.x is not None and names == ["all"]:
        return values, source.x, source.y
    return values, None, None
