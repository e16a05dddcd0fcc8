"""The source items (patterns, cutouts) behind chosen rows: a page of them, and their mean.

Rows are named by where their item lies in the source: its partition and its index there (the latents
table's `partition` and `index` columns), one pair per row.

- `page_of(count, number, size)` -> `Page`: which positions of a `count`-long selection page `number`
  (0-based; clamped into range) holds, and its label ("images 25-48 of 412").
- `read_items(reader, partitions, indices)`: the items of those rows, in the rows' order; read one
  partition at a time, in contiguous runs (`Reader.read_rows`), nothing else.
- `by_partition(sizes, rows)` -> {partition: indices}: global row ids (the partitions stacked in order, as
  `Latents.stacked` numbers them; `sizes`: partition -> row count, in that order) as indices in each partition.
- `parse_rows(text, n_rows)`, `table_rows(path, n_rows, cluster=None, positions=None, source=None)`: row ids from
  "0-99,150" or from a table's `row` column (a UMAP or cluster table; with `cluster`, its rows of that cluster; a
  study's table, `source`'s rows: `source_rows`), checked; with `positions` (the latents' x, y and units) the
  table's `x_<units>`, `y_<units>` must be those rows' own.
- `mean_item(reader, parts, block=...)` -> (mean, count): the mean item of the rows `parts` names
  ({partition: indices}; each row once), streamed: read `block` items at a time in source order and summed
  in float64, so a selection of any size costs one block of memory. Non-finite pixels are left out of
  their pixel's mean (a pixel with none is NaN).
- `mean_pattern_tag(source, count, cluster=None)`, `mean_pattern_names(tag)`: the mean's files, as the CLI's
  `mean-pattern` and the app name them.
- `item_caption(row, x=None, y=None, units="um", band_contrast=None)`: what a gallery writes under an item,
  "row 812 · x 12.0 µm, y 30.5 µm · BC 143" (the position and band contrast where the scan has them).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..arrays import unique
from ..columns import SOURCE, coordinate_names
from ..data.base import display_units
from ..errors import InputError

MEAN_BLOCK = 1024  # items read per block: 1024 patterns of 80 x 80 are 26 MB of float32


@dataclasses.dataclass(frozen=True)
class Page:
    """Page `number` (0-based) of `size` positions over a `total`-long selection: positions [first, stop)."""

    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        return min(self.number * self.size, self.total)

    @property
    def stop(self) -> int:
        return min(self.first + self.size, self.total)

    def label(self, noun: str = "images") -> str:
        """"images 25-48 of 412" (1-based, as people count)."""
        if not self.total:
            return f"no {noun}"
        return f"{noun} {self.first + 1:,}-{self.stop:,} of {self.total:,}"

    def of(self, rows) -> np.ndarray:
        """This page's part of `rows` (the selection, in its order)."""
        return np.asarray(rows)[self.first:self.stop]


def page_of(count: int, number: int, size: int) -> Page:
    """Page `number` of a `count`-long selection in pages of `size`, `number` clamped to the pages there are."""
    if size < 1:
        raise InputError(f"a page must hold at least 1 item, got {size}")
    pages = max(1, -(-int(count) // int(size)))
    return Page(min(max(int(number), 0), pages - 1), int(size), int(count))


def _by_partition(partitions, indices):
    """(partition, positions in the given order, source indices) per partition, first seen first."""
    partitions = np.asarray(partitions, dtype=str)
    indices = np.asarray(indices, np.int64)
    if partitions.shape != indices.shape or indices.ndim != 1:
        raise InputError(f"partitions and indices must be two 1-D sequences of one length, got shapes "
                         f"{partitions.shape} and {indices.shape}: pass one partition per index")
    names, first = np.unique(partitions, return_index=True)
    for name in names[np.argsort(first)]:
        positions = np.flatnonzero(partitions == name)
        yield str(name), positions, indices[positions]


def read_items(reader, partitions, indices) -> np.ndarray:
    """The items of the rows (`partitions[i]`, `indices[i]`), in that order, as float32."""
    parts = list(_by_partition(partitions, indices))
    out = np.empty((len(np.asarray(indices)), *reader.info().item_shape), np.float32)
    for name, positions, rows in parts:
        out[positions] = reader.read_rows(name, rows)
    return out


def by_partition(sizes: dict[str, int], rows) -> dict[str, np.ndarray]:
    """{partition: indices in it} of global row ids over the partitions stacked in `sizes`' order (partitions
    without a row left out; each partition's indices in the rows' order)."""
    rows = np.asarray(rows, np.int64)
    ends = np.cumsum(list(sizes.values()))
    if rows.size and (rows.min() < 0 or rows.max() >= ends[-1]):
        raise InputError(f"row ids must lie in [0, {ends[-1]}), got {rows.min()} to {rows.max()}")
    which = np.searchsorted(ends, rows, side="right")
    starts = ends - np.asarray(list(sizes.values()))
    return {name: rows[which == k] - starts[k] for k, name in enumerate(sizes) if np.any(which == k)}


def _checked_rows(rows, n_rows: int, what: str) -> np.ndarray:
    rows = unique(np.asarray(rows, np.int64))
    if not rows.size:
        raise InputError(f"{what}: no rows named; choose at least one row")
    if rows[0] < 0 or rows[-1] >= n_rows:
        raise InputError(f"{what}: row ids must lie in 0..{n_rows - 1} (the latents have {n_rows} rows), "
                         f"got {rows[0]} to {rows[-1]}")
    return rows


def parse_rows(text: str, n_rows: int) -> np.ndarray:
    """`"0-99,150"` -> the row ids 0..99 and 150 (ranges inclusive; sorted, each once), within 0..n_rows-1. An empty
    part (a trailing comma) is skipped; a wrong one is named alone (the text may be thousands of ids)."""
    parts = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        try:
            bounds = [int(v) for v in part.split("-", 1)]
        except ValueError:
            raise InputError(f"rows must be row ids or ranges like 0-99,150; {part[:40]!r} is neither") from None
        if len(bounds) == 2 and not 0 <= bounds[0] <= bounds[1] < n_rows:  # checked before it is expanded
            raise InputError(f"row range {part[:40]!r}: it must be increasing and within 0..{n_rows - 1}")
        parts.append(np.arange(bounds[0], bounds[-1] + 1))
    if not parts:
        raise InputError(f"rows must name at least one row id, got {str(text)[:40]!r}: give row ids or ranges like "
                         "0-99,150")
    return _checked_rows(np.concatenate(parts), n_rows, "rows")


def table_rows(path, n_rows: int, cluster: int | None = None, positions=None, source: str | None = None,
               own: str | None = None) -> np.ndarray:
    """The `row` column of a CSV (the UMAP and cluster tables carry it); with `cluster`, the rows whose
    `cluster` column holds it; with `source`, the rows of that source of a study's table (its `source` column; `own`:
    the source to take from a study's table when `source` is None, `source_rows`).
    `positions` = (x, y, units) of the latents' rows: a table that gives the rows' coordinates must give these (a
    table of another scan names rows that exist here too)."""
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype={SOURCE: str})  # sources `001` and `1` are two
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read as CSV ({exc}): give a table umap or cluster wrote", path) from exc
    needed = ["row"] + (["cluster"] if cluster is not None else []) + ([SOURCE] if source is not None else [])
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}; found {list(table.columns)}: give a table of these latents "
                         f"(a study's: its cluster assignments or UMAP table)", path)
    if not pd.api.types.is_integer_dtype(table["row"]):
        raise InputError("the 'row' column must hold integer row ids: give a table umap or cluster wrote", path)
    table = source_rows(table, source, path, own=own)
    if cluster is not None:
        table = table[table["cluster"] == cluster]
    where = f"{Path(path).name}" + (f", cluster {cluster}" if cluster is not None else "")
    rows = _checked_rows(table["row"].to_numpy(), n_rows, where)
    if positions is not None:
        check_table_positions(table, positions, path)
    return rows


def source_rows(table, source: str | None, path, pick: str = "--source NAME", own: str | None = None):
    """The rows of `table` of one source when it is a study's table (a `source` column: a study's row ids and
    coordinates are each source's own): `source`'s, else `own`'s (the source the data's own file name makes it). A
    table of several sources with neither named, or without the one named, is refused (`pick`: how to name one),
    never read as one scan's rows."""
    if SOURCE not in table.columns:
        return table
    names = table[SOURCE].astype(str)  # a source named `1` is text wherever the table was read
    found = sorted(set(names))
    listed = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
    wanted = source or own
    if wanted is None and len(found) > 1:
        raise InputError(f"a study's table of {len(found)} sources ({listed}), whose row ids and coordinates are each "
                         f"source's own: pick the source these rows are of ({pick})", path)
    if wanted is not None and wanted not in found:
        raise InputError(f"the table is a study's, of the sources {listed}, and none is {wanted!r}: pick one of "
                         f"them ({pick})", path)
    return table if wanted is None else table[names == wanted]


def check_table_positions(table, positions, path) -> None:
    """The table's `x_<units>`, `y_<units>` (when it has them) are the latents' coordinates of its rows."""
    x, y, units = positions
    names = coordinate_names(units)
    if x is None or not set(names) <= set(table.columns):
        return
    rows = table["row"].to_numpy(np.int64)
    for name, given, own in ((names[0], table[names[0]], x), (names[1], table[names[1]], y)):
        given = np.asarray(given, np.float64)
        wrong = ~np.isclose(given, np.asarray(own, np.float64)[rows], rtol=1e-5, atol=1e-6)
        if wrong.any():
            first = int(np.argmax(wrong))
            raise InputError(f"row {rows[first]} is at {name} {given[first]:g} in the table but "
                             f"{float(own[rows[first]]):g} in the latents ({int(wrong.sum())} rows differ): "
                             "a table of another scan? Give the table made from these latents", path)


def mean_item(reader, parts: dict, block: int = MEAN_BLOCK, progress=None) -> tuple[np.ndarray, int]:
    """(mean item (float64, the items' shape), number of items) of the rows `parts` names ({partition:
    indices}), each row once. Streamed in blocks of `block` items; `progress(fraction, message)` is told
    after each block."""
    parts = {name: unique(np.asarray(rows, np.int64)) for name, rows in parts.items()}
    total = sum(len(rows) for rows in parts.values())
    if not total:
        raise InputError("the mean of no items: choose some rows first")
    shape = reader.info().item_shape
    sums, counts = np.zeros(shape, np.float64), np.zeros(shape, np.int64)
    done = 0
    for name, rows in parts.items():
        for items, _ in reader.iter_batches(name, block, allowed_indices=rows):
            items = items.astype(np.float64, copy=False)
            finite = np.isfinite(items)
            sums += np.where(finite, items, 0.0).sum(axis=0)
            counts += finite.sum(axis=0)
            done += len(items)
            if progress is not None:
                progress(done / total, f"{done:,} of {total:,} items")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan), total


def mean_pattern_tag(source, count: int, cluster: int | None = None) -> str:
    """`scan__cluster2` (a cluster's mean) or `scan__412rows` (chosen rows'): the source's stem, what was averaged."""
    what = f"cluster{int(cluster)}" if cluster is not None else f"{int(count)}rows"
    return f"{Path(source).stem}__{what}"


def mean_pattern_names(tag: str) -> dict[str, str]:
    """The files of a mean pattern (`mean_pattern_tag`): the mean (NPY, float64), its figure (PNG), its report."""
    return {"mean": f"mean_pattern__{tag}.npy", "figure": f"mean_pattern__{tag}.png",
            "report": f"mean_pattern__{tag}.json"}


def item_caption(row: int, x=None, y=None, units: str | None = "um", band_contrast=None) -> str:
    """"row 812 · x 12.0 µm, y 30.5 µm · BC 143": the row id, its position (shortest float32 text, one decimal
    at least) when it has one, its band contrast when the scan has it (NaN: left out)."""
    parts = [f"row {int(row)}"]
    if x is not None and y is not None:
        unit = display_units(units)
        parts.append(f"x {_coordinate(x)} {unit}, y {_coordinate(y)} {unit}")
    if band_contrast is not None and np.isfinite(band_contrast):
        parts.append(f"BC {float(band_contrast):.4g}")
    return " · ".join(parts)


def _coordinate(value) -> str:
    return np.format_float_positional(np.float32(value), trim="0")
