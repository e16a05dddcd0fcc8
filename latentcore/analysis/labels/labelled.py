"""Labels: named classes of rows, as a table that travels between the app, the command line and other tools.

A labels table is a CSV with a `label` column (any text, kept exactly: labels that differ by a space, tab, CR, LF or
quote at either end are two labels) and either
- `x_um`, `y_um` (or `x`, `y`, as other tools write them): scan coordinates in the scan's units, matched to the
  scan's pixels within a quarter of a grid step (never by position in the file), or
- `row`: the row id of the UMAP table (the row's position in the latents file's partitions, stacked in order).
A table with both is matched by coordinates when the rows have them. One row per pixel: a pixel labelled twice
with two names is refused, twice with one name is kept once.

- `read_labels_table(path)` -> DataFrame (checked columns, coordinates as `x`, `y`, `label` as text);
- `match_labels(table, n_rows, x=None, y=None, path=None)` -> `LabelledRows` (row ids, names, class list, codes);
- `check_classes(names, path=None)`: at least two classes, each with at least two rows;
- `labels_table(rows, names, x=None, y=None, units=None)` -> the table to write (`row,x_um,y_um,label` for scans,
  `row,label` otherwise);
- `write_labels(path, table)`: atomically;
- `labels_names(latents)`: the labels table and its training sets (`trainset.export_training_set`) of a latents file;
- editing (each returns new `LabelledRows`): `with_label`, `renamed` (merges into an existing name), `without_class`,
  `without_rows`, `from_clustering`; `codes_per_row` for colouring;
- `merged_changes(base, mine, theirs)`: the rows `mine` changed from `base` applied to `theirs` (two app tabs on one
  workspace: ui/session/workspace.py).

Every refusal is one line naming the file: coordinates that are not pixels of the scan, a labels file for another
scan (none of its coordinates, or rows, are in this one), one class only, a class with one row.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ...arrays import unique
from ...columns import LABEL, ROW, coordinate_names, plain_coordinates
from ...errors import InputError
from ...storage.csv_cells import restored

TOLERANCE_STEPS = 0.25  # a labelled coordinate within this fraction of a grid step of a pixel is that pixel


@dataclasses.dataclass
class LabelledRows:
    """Labelled rows: `rows` int64 row ids (sorted, unique), `y` each row's index into `classes`, the label names
    in sorted order (only names that have rows). Codes, not a name per row: a million labelled rows stay small."""

    rows: np.ndarray
    y: np.ndarray
    classes: list[str]

    @classmethod
    def from_codes(cls, rows, y, classes) -> LabelledRows:
        """Normalised: rows sorted, classes sorted and without the unused ones, equal names one class."""
        rows, y = np.asarray(rows, np.int64).reshape(-1), np.asarray(y, np.int64).reshape(-1)
        classes = [str(c) for c in classes]
        used = unique(y)
        kept = sorted({classes[i] for i in used})
        position = {name: k for k, name in enumerate(kept)}
        remap = np.full(max(len(classes), 1), -1, np.int64)
        remap[used] = [position[classes[i]] for i in used]
        order = np.argsort(rows, kind="stable")
        return cls(rows[order], remap[y[order]] if len(y) else y, kept)

    @classmethod
    def from_names(cls, rows, names) -> LabelledRows:
        names = np.asarray(names).astype(str).reshape(-1)
        classes, y = np.unique(names, return_inverse=True)
        return cls.from_codes(rows, y.reshape(-1), classes.tolist())

    @property
    def names(self) -> np.ndarray:
        """Each row's label name."""
        return np.asarray(self.classes, dtype=str)[self.y] if len(self.y) else np.empty(0, str)

    def counts(self) -> dict[str, int]:
        return {name: int(n) for name, n in zip(self.classes, np.bincount(self.y, minlength=len(self.classes)))}

    def digest(self) -> str:
        """A fingerprint of the labels (rows, codes and names): what changed them changes it."""
        import hashlib

        text = hashlib.sha256(self.rows.tobytes())
        text.update(self.y.astype(np.int64).tobytes())
        text.update("\x00".join(self.classes).encode())
        return text.hexdigest()


def read_labels_table(path) -> pd.DataFrame:
    """A labels CSV: `label` and `x_um`, `y_um` (or `x`, `y`) or `row`; labels as text. One-line errors name the
    file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such labels file: give the path of a labels CSV", path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a labels table: {exc}".splitlines()[0][:200] + "; give a CSV with columns "
                         "x_um,y_um,label or row,label", path) from None
    return check_labels_table(table, path)


def check_labels_table(table: pd.DataFrame, path=None) -> pd.DataFrame:
    """The columns a labels table needs, with numbers where numbers belong and no empty label; coordinates
    spelt `x_um`, `y_um` (this project's tables) or `x`, `y` are given back as `x`, `y`."""
    table = plain_coordinates(table.rename(columns=lambda name: str(name).strip().lstrip("\ufeff").lower()))
    columns = list(table.columns)
    by_xy, by_row = {"x", "y"} <= set(columns), "row" in columns
    if "label" not in columns or not (by_xy or by_row):
        raise InputError("a labels table needs columns x_um,y_um,label (scans; or x,y,label) or row,label; "
                         f"it has {columns[:10]}: rename its columns", path)
    if not len(table):
        raise InputError("the labels table has no rows: label some rows first", path)
    table["label"] = _restored_labels(table["label"].astype(str), path)
    empty = table["label"].str.strip() == ""
    if empty.any():
        raise InputError(f"{int(empty.sum())} rows have an empty label (first: line {int(np.argmax(empty)) + 2}): "
                         "give each a label or remove it", path)
    for name in (["x", "y"] if by_xy else []) + (["row"] if by_row else []):
        values = pd.to_numeric(table[name], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(np.float64))
        if bad.any():
            first = int(np.argmax(bad))
            raise InputError(f"column {name!r} must hold numbers; line {first + 2} has {table[name].iloc[first]!r}: "
                             "correct that line", path)
        table[name] = values
    if by_row and not by_xy and (table["row"] % 1 != 0).any():
        raise InputError("column 'row' must hold whole row numbers: give row ids 0, 1, 2, ...", path)
    return table


def _restored_labels(cells: pd.Series, path) -> pd.Series:
    """The labels as written, kept exactly (a leading or trailing space, tab, CR, LF or quote makes another label),
    without the `'` that `write_labels` put before a formula; refused when two cells would become one label that
    way (`'=x` and `=x` in a file another program wrote)."""
    labels = restored(cells)
    distinct = pd.DataFrame({"cell": cells, "label": labels}).drop_duplicates()
    merged = distinct[distinct["label"].duplicated(keep=False)]
    if len(merged):
        first = merged[merged["label"] == merged["label"].iloc[0]]["cell"].tolist()
        raise InputError(f"the labels {first[0]!r} and {first[1]!r} would be read as one: a ' before =, +, -, @, a "
                         "tab or CR is taken off (this program writes it to keep spreadsheets from running formulas); "
                         "rename one", path)
    return labels


def match_labels(table: pd.DataFrame, n_rows: int, x=None, y=None, path=None, own: str | None = None,
                 pick: str = "run it on the study, or give the labels of this source") -> LabelledRows:
    """The rows a labels table names: by coordinates when it has x, y and the rows have positions, else by
    `row`. Refuses coordinates that are not pixels, rows out of range, a pixel labelled with two names and a study's
    table of several sources or without the source `own` (`items.source_rows`: the labels of the data's own source,
    `outputs.own_source_name`, or another one named; `pick`: how to name one)."""
    from ..items import source_rows

    table = source_rows(table, None, path, pick, own=own)
    has_xy = {"x", "y"} <= set(table.columns)
    if has_xy and x is not None:
        rows = _rows_at(table["x"].to_numpy(np.float64), table["y"].to_numpy(np.float64), x, y, path)
    elif "row" in table.columns:
        rows = table["row"].to_numpy(np.float64)
        outside = (rows < 0) | (rows >= n_rows)
        if outside.all():
            raise InputError(f"a labels file for another file: none of its {len(rows)} rows is among the "
                             f"{n_rows} rows here (rows {rows.min():g} to {rows.max():g}): give the labels of these "
                             "latents", path)
        if outside.any():
            raise InputError(f"{int(outside.sum())} labelled rows are not in the data ({n_rows} rows; "
                             f"first: row {rows[outside][0]:g}): remove them from the table", path)
        rows = rows.astype(np.int64)
    else:
        raise InputError("the labels give x, y coordinates but the rows have none: use a row,label table", path)
    names = table["label"].to_numpy().astype(str)
    frame = pd.DataFrame({"row": rows, "label": names}).drop_duplicates()
    twice = frame["row"].duplicated(keep=False)
    if twice.any():
        row = int(frame["row"][twice].iloc[0])
        both = sorted(frame["label"][frame["row"] == row])
        where = f"pixel ({x[row]:g}, {y[row]:g})" if has_xy and x is not None else f"row {row}"
        raise InputError(f"{where} is labelled twice, as {both[0]!r} and {both[1]!r}: keep one of them", path)
    return LabelledRows.from_names(frame["row"].to_numpy(), frame["label"].to_numpy())


def _rows_at(label_x, label_y, x, y, path) -> np.ndarray:
    from scipy.spatial import cKDTree

    from ...data._checks import infer_step

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    steps = [s for s in (infer_step(x), infer_step(y)) if s]
    tolerance = TOLERANCE_STEPS * min(steps) if steps else 1e-6
    distance, nearest = cKDTree(np.column_stack([x, y])).query(np.column_stack([label_x, label_y]),
                                                                distance_upper_bound=tolerance)
    missing = ~np.isfinite(distance)
    if missing.all():
        raise InputError(f"a labels file for another scan: none of its {len(label_x)} coordinates is a pixel of "
                         f"this scan (x {x.min():g} to {x.max():g}, y {y.min():g} to {y.max():g}): give this scan's "
                         "labels", path)
    if missing.any():
        first = int(np.argmax(missing))
        raise InputError(f"{int(missing.sum())} labelled coordinates are not pixels of the scan (first: "
                         f"x={label_x[first]:g}, y={label_y[first]:g}; none within {tolerance:g}): correct or remove "
                         "them", path)
    return nearest.astype(np.int64)


def check_classes(labelled: LabelledRows, path=None, min_rows: int = 2) -> None:
    """At least two classes, each with at least `min_rows` rows (a probe and a stratified split need them)."""
    counts = labelled.counts()
    if len(counts) < 2:
        only = next(iter(counts), "none")
        raise InputError(f"the labels hold one class only ({only!r}): label rows of a second class", path)
    small = {name: n for name, n in counts.items() if n < min_rows}
    if small:
        name, n = next(iter(small.items()))
        raise InputError(f"class {name!r} has {n} row{'s' if n != 1 else ''}: every class needs at least "
                         f"{min_rows}" + (f" ({len(small)} classes are too small)" if len(small) > 1 else "")
                         + "; label more rows of it", path)


def labels_names(latents) -> dict[str, str]:
    """`scan_latents_labels.csv` and `scan_latents_training_set.npz` / `.h5`: the files of a latents file's labels."""
    stem = Path(str(latents)).stem
    return {"labels": f"{stem}_labels.csv", "training_set_npz": f"{stem}_training_set.npz",
            "training_set_h5": f"{stem}_training_set.h5"}


def labels_table(rows, names, x=None, y=None, units=None) -> pd.DataFrame:
    """The table to write, rows in order: `row,x_um,y_um,label` when the rows have positions (in `units`; read back
    by the coordinates), `row,label` otherwise."""
    rows = np.asarray(rows, np.int64)
    order = np.argsort(rows, kind="stable")
    rows, names = rows[order], np.asarray(names).astype(str)[order]
    columns = {ROW: rows}
    if x is not None:
        coordinates = (np.asarray(x, np.float64)[rows], np.asarray(y, np.float64)[rows])
        columns.update(zip(coordinate_names(units), coordinates))
    return pd.DataFrame(columns | {LABEL: names})


def write_labels(path, table: pd.DataFrame) -> Path:
    """Atomically, with Arrow's CSV writer: a million rows in a fraction of a second (pandas' `to_csv` took 2 to
    3 s, a whole click's budget; benchmarks/labels_scale.py); labels are quoted, numbers written to round-trip,
    a label a spreadsheet would run as a formula starts with `'` (latentcore/storage/csv_cells.py; the reader
    takes it off again)."""
    from ...storage import atomic_path
    from ...storage.csv_cells import write_arrow

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        write_arrow(table, out)
    return path


# -- editing: each returns new LabelledRows (a row has one label at most) ---------------------------

def empty_labels() -> LabelledRows:
    return LabelledRows(np.empty(0, np.int64), np.empty(0, np.int64), [])


def with_label(labelled: LabelledRows, rows, name: str) -> LabelledRows:
    """`rows` labelled `name` (rows labelled before take the new name)."""
    name = str(name).strip()
    if not name:
        raise InputError("a label needs a name: type one")
    rows = unique(np.asarray(rows, np.int64))
    keep = ~np.isin(labelled.rows, rows, assume_unique=True)
    return LabelledRows.from_codes(np.concatenate([labelled.rows[keep], rows]),
                                   np.concatenate([labelled.y[keep], np.full(len(rows), len(labelled.classes))]),
                                   [*labelled.classes, name])


def renamed(labelled: LabelledRows, old: str, new: str) -> LabelledRows:
    """Class `old` called `new`; when `new` exists already, the two merge."""
    new = str(new).strip()
    if not new:
        raise InputError("a label needs a name: type one")
    return LabelledRows.from_codes(labelled.rows, labelled.y, [new if c == old else c for c in labelled.classes])


def without_class(labelled: LabelledRows, name: str) -> LabelledRows:
    keep = labelled.y != (labelled.classes.index(name) if name in labelled.classes else -1)
    return LabelledRows.from_codes(labelled.rows[keep], labelled.y[keep], labelled.classes)


def without_rows(labelled: LabelledRows, rows) -> LabelledRows:
    keep = ~np.isin(labelled.rows, np.asarray(rows, np.int64))
    return LabelledRows.from_codes(labelled.rows[keep], labelled.y[keep], labelled.classes)


def from_clustering(rows, cluster_labels, prefix: str = "cluster") -> LabelledRows:
    """A clustering kept as labels: `cluster k` per row; noise (-1) stays unlabelled."""
    rows, cluster_labels = np.asarray(rows, np.int64), np.asarray(cluster_labels, np.int64)
    keep = cluster_labels >= 0
    found = unique(cluster_labels[keep])
    width = len(str(int(found.max(initial=0))))  # cluster 02 sorts before cluster 10
    return LabelledRows.from_codes(rows[keep], np.searchsorted(found, cluster_labels[keep]),
                                   [f"{prefix} {k:0{width}d}" for k in found])


def merged_changes(base: LabelledRows, mine: LabelledRows, theirs: LabelledRows) -> LabelledRows:
    """`theirs` with the rows whose label `mine` changed from `base` (labelled, relabelled, unlabelled) as in `mine`:
    a row at a time, so another editor's rows that `mine` never touched are kept."""
    classes = sorted({*base.classes, *mine.classes, *theirs.classes})
    rows = unique(np.concatenate([base.rows, mine.rows, theirs.rows]))
    before, after, others = (_codes_among(labelled, rows, classes) for labelled in (base, mine, theirs))
    codes = np.where(after != before, after, others)
    kept = codes >= 0
    return LabelledRows.from_codes(rows[kept], codes[kept], classes)


def _codes_among(labelled: LabelledRows, rows: np.ndarray, classes: list[str]) -> np.ndarray:
    """Each of `rows`' class index in `classes` (sorted, holding labelled's), -1 where `labelled` has none."""
    codes = np.full(len(rows), -1, np.int64)
    if len(labelled.rows):
        at = np.searchsorted(rows, labelled.rows)  # rows holds every labelled row
        codes[at] = np.searchsorted(classes, labelled.classes)[labelled.y]
    return codes


def codes_per_row(labelled: LabelledRows, n_rows: int) -> np.ndarray:
    """(n_rows,) int64: each row's class index, -1 where unlabelled (for colouring)."""
    codes = np.full(n_rows, -1, np.int64)
    inside = labelled.rows < n_rows
    codes[labelled.rows[inside]] = labelled.y[inside]
    return codes
