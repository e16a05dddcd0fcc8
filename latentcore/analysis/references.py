"""Reference maps: the per-row values that latent dimensions are ranked against (`rank.py`).

- element maps: `normalise_map`, `combine_element_maps` (a normalised weighted mean),
  `element_rgb` (an (N, 3) colour reference);
- pattern components: `pattern_components` (PCA or NMF of the raw patterns, streamed from a
  `latentcore.data` Reader), `component_maps` (the same for a pattern file, one map per component);
- user maps: `read_reference_files` reads FILE[:COLUMN] specs: a CSV with `x,y` (or `x_um,y_um`) and a value column
  (band contrast, an element map, ground-truth ids), aligned to the latents' x, y by coordinate
  value (`FILE:COLUMN` picks the column: default `bandcontrast`, or the only column besides x and
  y); or an NPY of shape (N,) in the latents' row order, or (N, k): k maps named `stem[i]`; or the
  `references.npz` of `python -m latentcore references` (every map at the latents' x, y; RGB maps
  as three references `name[r]`, `name[g]`, `name[b]`; `FILE:KEY` picks one map; grain ids only
  when picked, e.g. as labels: `--labels references.npz:grains`);
- an uploaded NPZ (the app's Rank page): `uploaded_npz_references` reads a file from outside with
  caps and no pickles: a `references.npz`, or any NPZ of 2-D maps on the scan grid or of one value
  per latent row.

Every NPY and NPZ is read through `data._npy`, which checks each array's header before any data is read.

Every function returns float64 values, one per latent row (name -> values for the readers).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..columns import plain_coordinates
from ..data._npy import npz_headers, read_npy, read_npz
from ..errors import InputError
from ..outputs import own_source_name
from ._validation import check_int
from ..sampling import seeded_sample

PATTERN_FIT_ROWS = 20_000  # patterns a PCA/NMF reference is fitted on; every pattern is transformed
UPLOAD_MAX_BYTES = 2 << 30  # the arrays of an uploaded NPZ, uncompressed (checked before any is read)
REFERENCES_NPZ_KEYS = ("x", "y", "step")  # what makes an NPZ a `references.npz`


# -- element maps -------------------------------------------------------------------------------------

def normalise_map(values) -> np.ndarray:
    """Scale a map to [0, 1] by its finite minimum and maximum (NaN stays NaN; a flat map becomes 0)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = np.nanmin(values), np.nanmax(values)
    return (values - low) / (high - low) if high > low else np.where(np.isnan(values), np.nan, 0.0)


def combine_element_maps(maps: dict, weights: dict | None = None) -> np.ndarray:
    """Weighted mean of element maps, each first normalised to [0, 1], e.g. {"Ni": ni, "Cr": cr}.
    `weights` defaults to 1 for every map; the result lies in [0, 1] for non-negative weights."""
    if not maps:
        raise InputError("no element maps to combine: give at least one")
    weights = {name: 1.0 for name in maps} if weights is None else dict(weights)
    unknown = sorted(set(weights) - set(maps))
    if unknown:
        raise InputError(f"weights name maps that are not given: {unknown}; give weights only for {sorted(maps)}")
    total = sum(abs(w) for w in weights.values())
    if total == 0:
        raise InputError("element-map weights sum to zero: give at least one weight other than 0")
    arrays = _same_length(maps)
    return sum(weights.get(name, 0.0) * normalise_map(arrays[name]) for name in arrays) / total


def element_rgb(red, green=None, blue=None) -> np.ndarray:
    """(N, 3) colour reference from up to three element maps, each channel normalised to [0, 1]
    (a missing channel is 0). Distance correlation and HSIC rank dimensions against it directly."""
    channels = {"red": red, "green": green, "blue": blue}
    given = _same_length({k: v for k, v in channels.items() if v is not None})
    n = len(next(iter(given.values())))
    return np.column_stack([normalise_map(given[k]) if k in given else np.zeros(n) for k in channels])


def _same_length(maps: dict) -> dict:
    arrays = {name: np.asarray(values, dtype=np.float64).ravel() for name, values in maps.items()}
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"element maps differ in length: {lengths}; give maps of one scan")
    return arrays


# -- pattern components -------------------------------------------------------------------------------

def pattern_components(patterns, n: int = 3, method: str = "pca", partition: str = "all",
                       batch_size: int = 1024, random_state: int = 0,
                       max_fit_rows: int = PATTERN_FIT_ROWS) -> np.ndarray:
    """(N, n) PCA or NMF components of raw patterns, as reference maps.

    `patterns` is an (N, H, W) or (N, C, H, W) array, or a `latentcore.data` Reader whose
    `partition` is streamed in contiguous batches, so a scan larger than memory works: the model
    is fitted on a seeded sample of at most `max_fit_rows` patterns (every pattern when there are
    fewer), gathered in one streamed pass, and a second pass transforms every pattern.
    NMF needs non-negative patterns (raw detector counts are); a pattern's weights are the exact
    non-negative least-squares fit on the fitted components (scikit-learn's `NMF.transform`
    stopped far from it on raw EBSD patterns, at ~5 ms per pattern)."""
    if method not in ("pca", "nmf"):
        raise InputError(f"method must be one of 'pca' or 'nmf', got {method!r}")
    n = check_int(n, "n", 1)
    path = getattr(patterns, "path", None)
    total = len(patterns) if isinstance(patterns, np.ndarray) else patterns.count(partition)
    fit_rows = _sample_rows(_pattern_batches(patterns, partition, batch_size), total, max_fit_rows, random_state)
    if len(fit_rows) < n:
        raise InputError(f"{len(fit_rows)} patterns are fewer than the {n} components asked for: ask for at most "
                         f"{len(fit_rows)}", path)
    if method == "nmf":
        _check_non_negative(fit_rows.min(), path)
    model = _component_model(method, n, random_state).fit(fit_rows)
    return np.concatenate([_transform(model, method, batch, path)
                           for batch in _pattern_batches(patterns, partition, batch_size)])


def _pattern_batches(patterns, partition, batch_size):
    if isinstance(patterns, np.ndarray):
        return (patterns[i:i + batch_size] for i in range(0, len(patterns), batch_size))
    return (batch for batch, _ in patterns.iter_batches(partition, batch_size))


def _sample_rows(batches, total, max_rows, random_state) -> np.ndarray:
    """Flattened float64 rows of a seeded random sample (all rows when total <= max_rows)."""
    keep = np.zeros(total, bool)
    keep[seeded_sample(total, max_rows, random_state)] = True
    kept, start = [], 0
    for batch in batches:
        mask = keep[start:start + len(batch)]
        kept.append(np.asarray(batch)[mask].reshape(int(mask.sum()), -1).astype(np.float64))
        start += len(batch)
    return np.concatenate(kept)


def _component_model(method, n, random_state):
    from sklearn.decomposition import NMF, PCA
    if method == "pca":
        return PCA(n_components=n, random_state=random_state)
    return NMF(n_components=n, init="nndsvda", random_state=random_state)


def _transform(model, method, batch, path) -> np.ndarray:
    flat = np.asarray(batch).reshape(len(batch), -1).astype(np.float64)
    if method == "pca":
        return model.transform(flat)
    _check_non_negative(flat.min(), path)
    return nnls_coefficients(model.components_, flat)


def nnls_coefficients(components, rows) -> np.ndarray:
    """argmin_{w >= 0} |row - w @ components| for each row (scipy's NNLS). The components' QR
    turns each problem into a k x k one, so a pattern costs microseconds."""
    from scipy.optimize import nnls
    q, r = np.linalg.qr(np.asarray(components, np.float64).T)
    projected = np.asarray(rows, np.float64) @ q
    return np.array([nnls(r, target)[0] for target in projected]).reshape(len(projected), r.shape[1])


def _check_non_negative(minimum, path):
    if minimum < 0:
        raise InputError(f"NMF needs non-negative patterns, found a value of {minimum:g}: use PCA instead", path)


def component_maps(source, n_components: int, method: str, n_rows: int, random_state: int = 0) -> dict[str, np.ndarray]:
    """name -> values: `pattern_components` of the first partition of the pattern file `source`,
    named `<method>_<i>`; its pattern count must equal the latents' `n_rows`."""
    from ..data import open_source
    n_components = check_int(n_components, "n_components", 1)
    with open_source(source) as reader:
        partition = reader.partitions[0]
        if reader.count(partition) != n_rows:
            raise InputError(f"the patterns have {reader.count(partition)} rows but the latents have {n_rows}: give "
                             "the data file the latents came from", source)
        components = pattern_components(reader, n_components, method, partition=partition,
                                        random_state=random_state)
    return {f"{method}_{i}": components[:, i] for i in range(components.shape[1])}


# -- user maps ------------------------------------------------------------------------------------------

def read_reference_files(specs, x, y, n_rows: int, inputs: dict, role: str = "reference",
                         grid_shape=None, own: str | None = None) -> dict[str, np.ndarray]:
    """name -> (n_rows,) values of every FILE[:COLUMN] in `specs` (see the module docstring); each
    file is recorded in `inputs` as `<role>:<spec>` -> path. A name met twice is prefixed by its
    file's stem. `grid_shape`: the latents' scan grid (a references.npz must be on it); `own`: the latents' source,
    whose rows a study's CSV (a `source` column) gives (`items.source_rows`)."""
    references = {}
    for spec in specs:
        path, found = read_reference_file(spec, x, y, n_rows, grid_shape, own)
        for name, values in found.items():
            references[name if name not in references else f"{path.stem}:{name}"] = values
        inputs[f"{role}:{spec}"] = path
    return references


def read_reference_file(spec: str, x, y, n_rows: int, grid_shape=None, own: str | None = None
                        ) -> tuple[Path, dict[str, np.ndarray]]:
    """(path, name -> values) of one FILE[:COLUMN]: an NPY in the latents' row order, a references.npz on the
    latents' grid (`npz_references`), or a CSV column aligned to the latents' coordinates `x`, `y` by value."""
    path, column = _split_spec(spec)
    if path.suffix.lower() == ".npy":
        values = read_npy(path)
        if values.ndim not in (1, 2) or len(values) != n_rows:
            raise InputError(f"a reference NPY must be (N,) or (N, k) with N = {n_rows} latent rows, got "
                             f"{values.shape}: save one value per latent row", path)
        if values.ndim == 1:
            return path, {path.stem: values.astype(np.float64)}
        return path, {f"{path.stem}[{i}]": values[:, i].astype(np.float64) for i in range(values.shape[1])}
    if path.suffix.lower() == ".npz":
        return path, npz_references(path, column, x, y, grid_shape)
    from ..data.bandcontrast import align_to_coordinates, read_bandcontrast
    column = column or _default_column(path)
    if x is None or y is None:
        raise InputError("a CSV reference is aligned by x,y, but the latents have no coordinates "
                         "(give an NPY in the latents' row order instead)", path)
    from .items import source_rows

    table = source_rows(read_bandcontrast(path, column=column), None, path, "give the table of this source", own)
    return path, {column: align_to_coordinates(table, x, y, column=column)}


def npz_references(path: Path, key: str | None, x, y, grid_shape=None) -> dict[str, np.ndarray]:
    """The maps of a `references.npz` (`python -m latentcore references`) at the latents' x, y: every
    map but the grain ids (labels, not values), or the one `key` names; an RGB map gives one
    reference per channel (`ipf_z[r]`, ...). Its grid must be the latents' (`grid_shape`: their scan's; a cropped
    NPZ's must lie on it): another scan's references are refused at once (`refuse_another_grid`)."""
    from .ebsd.scan_references import load_npz, point_values

    if x is None or y is None:
        raise InputError("a references.npz is aligned by x,y, but the latents have no coordinates (rank the latents "
                         "of the scan it was made from)", path)
    maps, grid, _, roi = load_npz(path)
    refuse_another_grid(grid, roi, x, y, grid_shape, path)
    if key is not None:
        if key not in maps:
            raise InputError(f"no map {key!r}; it holds {sorted(maps)}: pick one of them", path)
        maps = {key: maps[key]}
    try:
        return point_values(maps, grid, x, y, labels=key is not None, roi=roi)
    except InputError as exc:
        raise InputError(f"the latents' coordinates are not on this scan grid ({exc}); give the references of "
                         "the scan the latents came from", path) from None


def refuse_another_grid(grid, roi, x, y, grid_shape, path) -> None:
    """A references.npz is one scan's maps: its grid (`load_npz`) must be the grid of the latents' x, y (with their
    scan's `grid_shape`), or, cropped to an ROI, lie on it. Checked before any ranking: the maps of another scan of
    a larger grid hold every latents coordinate too, and ranked silently against the wrong pixels."""
    from .maps import GRID_TOLERANCE, Grid

    theirs = Grid.from_coordinates(x, y, grid_shape)
    same_step = np.allclose([grid.step_x, grid.step_y], [theirs.step_x, theirs.step_y], rtol=1e-6)
    if roi is None:
        origin = np.abs([grid.x0 - theirs.x0, grid.y0 - theirs.y0]) <= GRID_TOLERANCE * np.array([grid.step_x,
                                                                                                   grid.step_y])
        fits = same_step and grid.shape == theirs.shape and origin.all()
    else:
        corners = np.array([grid.x_values[[0, -1]], grid.y_values[[0, -1]]])
        try:
            theirs.indices(*corners)  # on the latents' grid, inside it
            fits = same_step
        except InputError:
            fits = False
    if not fits:
        cropped = " (cropped to an ROI)" if roi is not None else ""
        raise InputError(f"its maps{cropped} are on a grid of {_grid_words(grid)}, the latents on one of "
                         f"{_grid_words(theirs)}: another scan's references; give the references.npz of the scan "
                         "the latents came from (python -m latentcore references SCAN --out DIR)", path)


def _grid_words(grid) -> str:
    return (f"{grid.n_rows} x {grid.n_columns} pixels (step {grid.step_x:g} x {grid.step_y:g}, from x {grid.x0:g}, "
            f"y {grid.y0:g})")


def _split_spec(spec: str) -> tuple[Path, str | None]:
    """FILE or FILE:COLUMN (a path that exists as written is never split)."""
    if Path(spec).exists() or ":" not in spec:
        path, column = Path(spec), None
    else:
        name, column = spec.rsplit(":", 1)
        path = Path(name)
    if not path.is_file():
        raise InputError("no such reference file: check the path (FILE or FILE:COLUMN)", path)
    return path, column


def _default_column(path: Path) -> str:
    try:
        columns = [c.strip() for c in pd.read_csv(path, nrows=0, skipinitialspace=True).columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read as CSV ({exc}): give a CSV table x,y,VALUE or an NPY", path) from exc
    values = [c for c in plain_coordinates(pd.DataFrame(columns=columns)).columns if c not in ("x", "y")]
    if "bandcontrast" in values:
        return "bandcontrast"
    if len(values) != 1:
        raise InputError(f"say which column to use as FILE:COLUMN; the table has {values}", path)
    return values[0]


# -- an uploaded NPZ ------------------------------------------------------------------------------------

def uploaded_npz_references(path, x, y, n_rows: int, grid_shape=None,
                            max_bytes: int = UPLOAD_MAX_BYTES) -> dict[str, np.ndarray]:
    """name -> (n_rows,) float64 values of an NPZ from outside: a `references.npz` (its maps at the
    latents' x, y), or any NPZ whose arrays are 2-D maps of the scan grid (rows, columns: the grid of
    x, y with `grid_shape`) or 1-D arrays of one value per latent row. Every array's header is checked
    (`data._npy`: only arrays, no pickles, their declared size within `max_bytes`) before any is read; an
    array of another shape or a non-numeric one is refused, naming it. NaN stays NaN (the ranking drops
    those rows pair by pair)."""
    path = Path(path)
    if set(REFERENCES_NPZ_KEYS) <= set(npz_headers(path, max_bytes)):
        return npz_references(path, None, x, y, grid_shape)
    arrays = read_npz(path, max_bytes=max_bytes)
    arrays.pop("units", None)
    for name, values in arrays.items():
        if values.dtype.kind not in "biuf":
            raise InputError(f"array {name!r} is of type {values.dtype}, not numbers: save it as numbers", path)
    grid = None
    if x is not None and y is not None:
        from .maps import Grid
        grid = Grid.from_coordinates(x, y, grid_shape)
    out = {}
    for name, values in arrays.items():
        if values.ndim == 1 and len(values) == n_rows:
            out[name] = values.astype(np.float64)
        elif grid is not None and values.shape == grid.shape:
            out[name] = values[grid.indices(x, y)].astype(np.float64)
        else:
            shapes = f"a map of the scan grid {grid.shape} (rows, columns) or " if grid is not None else ""
            raise InputError(f"array {name!r} has shape {values.shape}: give {shapes}one value per latent row "
                             f"({n_rows},)", path)
    if not out:
        raise InputError("the NPZ holds no arrays: save maps into it with numpy.savez", path)
    return out


# -- every reference map of a latents file (the Rank page's list) ------------------------------------------

LABELS_REFERENCE = "labels"  # labels given as a reference clustering, scored by ARI and NMI


def latents_reference_maps(latents, bandcontrast=None, *, components: int = 0, source=None, patterns: bool = False,
                           upload=None, labels=None) -> dict[str, np.ndarray]:
    """name -> per-row values of a read latents file, in the order the Rank page offers them: band contrast (a
    `BandContrast`: a scan map under its own name, or a table aligned by x, y) and the scan's other vendor maps;
    the EBSD reference maps (`scan_references.latents_references`: IPF... and, with `patterns`, VBSE, IQ, ADP
    streamed from `source`, the scan file); `labels` (a labels CSV: class ids, NaN unlabelled) as
    `LABELS_REFERENCE`; the maps of an uploaded NPZ (`upload`, named `<file stem>:<array>`); `components` PCA
    components of the raw patterns of `source`; the numeric metadata columns of cutouts."""
    references, shown = {}, None
    scan = latents.x is not None
    if bandcontrast is not None and scan:  # a scan map keeps its own name (IQ, ...)
        shown, values = bandcontrast.values(latents.point_maps, latents.x, latents.y, Path(latents.path).name)
        references[bandcontrast.value_name] = np.asarray(values, np.float32).astype(np.float64)
    if scan:  # the scan's other vendor maps (MAD, band slope, ...)
        references.update({k: np.asarray(v, np.float64) for k, v in latents.point_maps.items()
                           if k not in references and k != shown})
        references.update(_scan_reference_values(latents, source if patterns else None))
    if labels is not None:
        references[LABELS_REFERENCE] = _label_ids(latents, labels)
    n_rows = sum(len(v) for v in latents.partitions.values())
    if upload is not None:
        found = uploaded_npz_references(upload, latents.x, latents.y, n_rows, latents.grid_shape)
        references.update({f"{Path(upload).stem}:{name}": values for name, values in found.items()})
    if components and source is not None and scan:
        from ..data import open_source

        with open_source(source) as reader:
            comps = np.asarray(pattern_components(reader, n=components))
        references.update({f"pattern PC{k + 1}": comps[:, k] for k in range(comps.shape[1])})
    _, table = latents.stacked()
    for name in table.columns:
        if name not in ("index", "partition") and pd.api.types.is_numeric_dtype(table[name]):
            references[name] = table[name].to_numpy(np.float64)
    return references


def _scan_reference_values(latents, source=None) -> dict[str, np.ndarray]:
    """The scan's EBSD reference maps (as the Latent maps page shows them) at each row, in the order of
    `records.REFERENCE_MAPS`; an RGB map gives one reference per channel (`ipf_z[r]`, ...)."""
    from .ebsd.records import in_order
    from .ebsd.scan_references import latents_references, point_values

    refs = latents_references(latents, source)
    return point_values(in_order(refs.maps), refs.grid, latents.x, latents.y) if refs.maps else {}


def _label_ids(latents, labels_csv) -> np.ndarray:
    """A labels CSV (the CLI's) as one class id per row, NaN where a row has none."""
    from .labels.labelled import match_labels, read_labels_table

    n_rows = sum(len(v) for v in latents.partitions.values())
    labelled = match_labels(read_labels_table(labels_csv), n_rows, latents.x, latents.y, labels_csv,
                            own_source_name(latents.path))
    ids = np.full(n_rows, np.nan)
    ids[labelled.rows] = labelled.y
    return ids
