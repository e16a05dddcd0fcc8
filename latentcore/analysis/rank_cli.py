"""`python -m latentcore rank LATENTS --reference FILE... --out DIR`: rank latent dimensions.

A reference (or `--labels`) file is
- a CSV with `x,y` and a value column (band contrast, an element map, ground-truth ids), aligned
  to the latents' x,y by coordinate value; `FILE:COLUMN` picks the column (default `bandcontrast`,
  or the only column besides x and y);
- an NPY of shape (N,) in the latents' row order, or (N, k): k references named `stem[i]`.
`--components SOURCE` adds PCA/NMF components of the raw patterns of SOURCE as references.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..latents import read_latents
from . import rank


def register(subparsers):
    p = subparsers.add_parser("rank", help="rank latent dimensions against reference maps (CSV, JSON, figures)")
    p.add_argument("latents", help="a *_latents.h5 file (or an (N, D) .npy)")
    p.add_argument("--reference", nargs="+", default=[], metavar="FILE[:COLUMN]",
                   help="reference maps: x,y,value CSV (aligned by coordinates) or (N,) / (N, k) NPY")
    p.add_argument("--labels", nargs="+", default=[], metavar="FILE[:COLUMN]",
                   help="reference clusterings (integer ids), scored by ARI/NMI")
    p.add_argument("--components", metavar="SOURCE", help="add PCA/NMF components of this pattern file's raw patterns")
    p.add_argument("--n-components", type=int, default=3)
    p.add_argument("--component-method", choices=("pca", "nmf"), default="pca")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--metrics", nargs="+", choices=rank.METRICS, help="default: every metric the inputs allow")
    p.add_argument("--sort-by", choices=rank.METRICS, help="metric ranked on (default: the first metric)")
    p.add_argument("--top", type=int, default=10, help="dimensions per reference in the report and figures")
    p.add_argument("--partition", help="latents partition (default: all, stacked)")
    p.add_argument("--max-samples", type=int, default=rank.DEFAULT_MAX_SAMPLES,
                   help="sample size for kendall, distance correlation and HSIC")
    p.add_argument("--n-clusters", type=int, default=3, help="mixture components for ARI/NMI of continuous maps")
    p.add_argument("--trend-degree", type=int, default=2, help="polynomial degree of the spatial trend")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", help="name part of the outputs (default: <metric>_top<N>)")
    p.add_argument("--no-figures", dest="figures", action="store_false", help="write the CSV and JSON only")
    p.set_defaults(func=run_rank)


def run_rank(args) -> int:
    source = read_latents(args.latents)
    values, x, y = latents_and_coordinates(source, args.partition)
    inputs = {"latents": source.path}
    references = read_references(args.reference, x, y, len(values), inputs, "reference")
    labels = read_references(args.labels, x, y, len(values), inputs, "labels")
    if args.components:
        references.update(component_references(args.components, args.n_components, args.component_method,
                                               len(values), args.seed))
        inputs["components_source"] = Path(args.components)
    if not references and not labels:
        raise InputError("give --reference, --labels or --components: there is nothing to rank against")
    result = rank.rank_dimensions(values, references, x, y, metrics=args.metrics, labels=labels,
                                  sort_by=args.sort_by, n_clusters=args.n_clusters,
                                  trend_degree=args.trend_degree, random_state=args.seed,
                                  max_samples=args.max_samples)
    paths = rank.write_ranking(result, args.out, inputs, top=args.top, tag=args.tag,
                               latents=values, references=references, figures=args.figures)
    for note in result.attrs.get("notes", []):
        print(f"note: {note}")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def latents_and_coordinates(source, partition=None):
    """(N, D) rows of one partition (default: all, stacked) and x, y when the file is a scan."""
    if partition is not None and partition not in source.partitions:
        raise InputError(f"no partition {partition!r}; the file holds {list(source.partitions)}", source.path)
    names = [partition] if partition else list(source.partitions)
    values, _ = source.stacked(names)
    if source.x is not None and names == ["all"]:
        return values, source.x, source.y
    return values, None, None


def read_references(specs, x, y, n, inputs: dict, role: str) -> dict[str, np.ndarray]:
    """name -> (n,) values for each FILE[:COLUMN]; records each file in `inputs`."""
    references = {}
    for spec in specs:
        path, column = split_spec(spec)
        if path.suffix.lower() == ".npy":
            found = npy_reference(path, n)
        else:
            column = column or _default_column(path)
            found = {column: csv_reference(path, column, x, y)}
        for name, values in found.items():
            references[name if name not in references else f"{path.stem}:{name}"] = values
        inputs[f"{role}:{spec}"] = path
    return references


def split_spec(spec: str) -> tuple[Path, str | None]:
    """FILE or FILE:COLUMN (a path that exists as written is never split)."""
    if Path(spec).exists() or ":" not in spec:
        path, column = Path(spec), None
    else:
        name, column = spec.rsplit(":", 1)
        path = Path(name)
    if not path.is_file():
        raise InputError("no such reference file", path)
    return path, column


def npy_reference(path: Path, n: int) -> dict[str, np.ndarray]:
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read as NPY: {exc}", path) from exc
    if values.ndim not in (1, 2) or len(values) != n:
        raise InputError(f"a reference NPY must be (N,) or (N, k) with N = {n} latent rows, got {values.shape}", path)
    if values.ndim == 1:
        return {path.stem: values.astype(np.float64)}
    return {f"{path.stem}[{i}]": values[:, i].astype(np.float64) for i in range(values.shape[1])}


def csv_reference(path: Path, column: str, x, y) -> np.ndarray:
    """The CSV's `column`, aligned to the latents' coordinates by value."""
    from ..data.bandcontrast import align_to_coordinates, read_bandcontrast
    if x is None or y is None:
        raise InputError("a CSV reference is aligned by x,y, but the latents have no coordinates "
                         "(give an NPY in the latents' row order instead)", path)
    table = read_bandcontrast(path, column=column)
    return align_to_coordinates(table, x, y, column=column)


def _default_column(path: Path) -> str:
    try:
        columns = [c.strip() for c in pd.read_csv(path, nrows=0, skipinitialspace=True).columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read as CSV: {exc}", path) from exc
    values = [c for c in columns if c not in ("x", "y")]
    if "bandcontrast" in values:
        return "bandcontrast"
    if len(values) != 1:
        raise InputError(f"say which column to use as FILE:COLUMN; the table has {values}", path)
    return values[0]


def component_references(source, n_components, method, n, random_state) -> dict[str, np.ndarray]:
    from ..data import open_source
    with open_source(source) as reader:
        partition = reader.partitions[0]
        if reader.count(partition) != n:
            raise InputError(f"the patterns have {reader.count(partition)} rows but the latents have {n}", source)
        components = rank.pattern_components(reader, n_components, method, partition=partition,
                                             random_state=random_state)
    return {f"{method}_{i}": components[:, i] for i in range(components.shape[1])}
