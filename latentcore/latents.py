"""The latents file: `<stem>__<model>_latents.h5` (named by latentcore.outputs), readable with plain h5py
(docs/architecture.md describes the format).

- one float32 dataset per partition (`valid`, `train`, or `all` for a scan), shape (N, D), source order;
- scans: `x`, `y` (float64) and `grid_shape`, and the scan's vendor per-point maps (Oxford Band Contrast,
  EDAX IQ/CI/Fit) as `point_maps/<name>` float64 (N,) in the same row order; cutouts: the metadata
  table as `<partition>_metadata` byte strings with a `columns` attribute (the source layout, copied);
- a partition extracted in part (`extract_file`'s `allowed_indices`): `<partition>_indices` int64 (N,), each row's
  item in the source's partition (`stacked`'s `index`, `source_items`);
- scans with orientations: `orientations/euler` (N, 3) Bunge radians, `orientations/phase_id` (N,), attributes
  `phases` (JSON), `convention` and `acquisition` (JSON: the microscope's settings the scan records; absent in
  files written before it) (latentcore.data.orientations), read back as `Latents.orientations`;
- attributes: model, model_name (the checkpoint's recorded name, "" when none), model_sha256, source, source_sha256, pooling, device, versions, created; for
  scans `units` ("um") and `step`; `preprocessing` (JSON: source and model pattern sizes, the resize).

`LatentsWriter` streams rows into `<final>.partial` and renames it when complete. It records how many
rows of each partition are done, so an interrupted run resumes where it stopped when the same
source, model and parameters (the `fingerprint`) are used again.

`read_latents(path)` -> `Latents` (also a plain (N, D) `.npy`); `latents_summary(path)` -> what a picker says of a
file (`summary_label`: "ni_holdout · demo-vae · 5,120 rows"), read from its attributes; `incomplete_reason` says why a file is
not a finished result; `features_to_latents` turns a features file into a latents file.

Memory-mapped partitions: a partition stored contiguous and unfiltered (what `LatentsWriter` writes; a
`.npy` always) is returned as a read-only `np.memmap` of the file, not read into memory: ten million rows
cost no copy, the kernel's page cache is shared by every process that maps the file, and rows are read
when touched. Chunked or compressed partitions (other writers' files) are read into memory as before.
A mapped file must not be rewritten in place (the writers here write a new file and rename it).
`Latents.finite_rows()` says which rows hold only finite values, checked in blocks and kept.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import shutil
import threading
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import pandas as pd

from .data import open_source
from .data.latents_h5 import EXTRACT_FIRST, NOT_LATENTS, RESUME, read_point_maps
from .data.orientations import Acquisition, Phase, ScanOrientations
from .data._checks import check_coordinates, check_data_dtype, check_grid_shape, check_regular
from .data._hdf5 import attr_value, h5py_read_only, open_h5, read_byte_table, read_whole, write_byte_table
from .columns import ROW, beside, coordinate_names
from .errors import InputError, OutputError, write_error
from .outputs import MODEL_SEPARATOR, SUFFIX, latents_path_for, model_tag, source_name
from .storage.local import lock_exclusive, make_folder, refuse_writing_an_input

PARTIAL = ".partial"
POINT_MAPS = "point_maps"  # group of per-point maps carried over from the scan
ORIENTATIONS = "orientations"  # group: `euler` (N, 3) radians, `phase_id` (N,), attrs `phases`, `convention`


class Source(NamedTuple):
    """One source of a `Latents` (`Latents.sources`): a file is one, a study each of its members."""

    name: str
    start: int  # its first row among the latents' rows
    rows: int
    x: np.ndarray | None  # None unless every row of the source has a position
    y: np.ndarray | None
    grid_shape: tuple[int, int] | None


@dataclasses.dataclass
class Latents:
    """A latents file in memory."""

    path: Path
    partitions: dict[str, np.ndarray]  # name -> (N, D) float32
    attrs: dict
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    grid_shape: tuple[int, int] | None = None
    metadata: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    point_maps: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # name -> (N,) per row
    orientations: ScanOrientations | None = None  # the scan's Euler angles and phases, per row
    indices: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # rows' items, of parts extracted in part
    _finite: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    _grid: object = dataclasses.field(default=None, init=False, repr=False, compare=False)  # `maps.scan_grid`
    _cells: dict = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)  # `maps.grid_cells`

    @property
    def units(self) -> str | None:
        """Length unit of x, y ("um" for scans unless the source said otherwise); None without x, y."""
        return self.attrs.get("units") or ("um" if self.x is not None else None)

    def attr_json(self, name: str, default=None):
        """An attribute that was written as JSON (dicts, lists), decoded."""
        value = self.attrs.get(name, default)
        if isinstance(value, str) and value[:1] in "[{":
            return json.loads(value)
        return value

    @property
    def step(self) -> tuple[float, float] | None:
        step = self.attr_json("step")
        return tuple(float(s) for s in step) if step else None

    @property
    def dim(self) -> int:
        return next(iter(self.partitions.values())).shape[1]

    def stacked(self, partitions=None) -> tuple[np.ndarray, pd.DataFrame]:
        """All rows of the chosen partitions, one array, plus their `origins`. One partition is returned as it is (a
        memory map stays one: no copy); several are concatenated."""
        arrays = [self.partitions[name] for name in partitions or self.partitions]
        return (arrays[0] if len(arrays) == 1 else np.concatenate(arrays)), self.origins(partitions)

    def origins(self, partitions=None) -> pd.DataFrame:
        """A table naming the origin of each row of the chosen partitions, stacked in order (`partition`, `index`)
        and its metadata columns."""
        names = list(partitions or self.partitions)
        tables = []
        for code, name in enumerate(names):
            n_rows = len(self.partitions[name])
            # the partition's name as a category: a column of the name repeated took 0.6 s at 10M rows
            partition = pd.Categorical.from_codes(np.full(n_rows, code, np.int16), names, validate=False)
            index = self.indices.get(name, np.arange(n_rows))
            table = pd.DataFrame({"partition": partition, "index": index}, copy=False)
            if name in self.metadata:
                table = pd.concat([table, self.metadata[name].reset_index(drop=True)], axis=1)
            tables.append(table)
        return tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)

    def row_ids(self, partitions=None) -> np.ndarray:
        """The row ids of the chosen partitions' rows, in `stacked(partitions)`'s order: a row's id is its place with
        every partition stacked in the file's order (`stacked()`), whichever partitions are chosen."""
        starts = dict(zip(self.partitions, np.cumsum([0, *map(len, self.partitions.values())])))
        return np.concatenate([starts[name] + np.arange(len(self.partitions[name]), dtype=np.int64)
                               for name in (partitions or self.partitions)])

    def row_table(self, rows) -> pd.DataFrame:
        """How a table names some of these rows: `row` and, for a scan, `x_um`, `y_um` (in its units); a study's
        (`study.StudyLatents`) `source, row, x_um, y_um`."""
        rows = np.asarray(rows, np.int64)
        table = pd.DataFrame({ROW: rows})
        n_rows = sum(len(array) for array in self.partitions.values())
        if self.x is not None and len(self.x) == n_rows:
            for name, values in zip(coordinate_names(self.units), (self.x, self.y)):
                table[name] = np.asarray(values, np.float64)[rows]
        return table

    def rows_frame(self, rows, columns: dict, table: pd.DataFrame) -> pd.DataFrame:
        """Some of these rows as the pages' tables and downloads show them: `row_table(rows)`, then `columns` (one
        value per row; a name `row_table` has is left out), then the rows' own columns of `table` (`stacked`'s:
        `partition`, `index`, the source's metadata)."""
        rows = np.asarray(rows, np.int64)
        head = self.row_table(rows)
        head = head.assign(**{name: np.asarray(values) for name, values in columns.items() if name not in head.columns})
        return beside(head, table.iloc[rows])

    def sources(self) -> list[Source]:
        """Each source of these latents, in order: a file is one source, named as its file name says
        (`outputs.source_name`); a study (`study.StudyLatents`), each member."""
        n_rows = sum(len(array) for array in self.partitions.values())
        scan = self.x is not None and len(self.x) == n_rows
        place = (self.x, self.y, self.grid_shape) if scan else (None, None, None)
        return [Source(source_name(self.path), 0, n_rows, *place)]

    def source_latents(self, index: int) -> Latents:
        """The `Latents` of source `index` (`sources`): a file's is itself."""
        if index != 0:
            raise IndexError(f"a latents file has one source, not source {index}")
        return self

    def finite_rows(self, partition: str) -> np.ndarray:
        """(N,) bool: the partition's rows whose values are all finite (checked in blocks of rows, so
        no (N, D) temporary; computed once per partition)."""
        if partition not in self._finite:
            self._finite[partition] = finite_rows(self.partitions[partition])
        return self._finite[partition]


FINITE_BLOCK_ROWS = 1 << 16


def finite_rows(array: np.ndarray, block: int = FINITE_BLOCK_ROWS) -> np.ndarray:
    """(N,) bool of an (N, D) array: rows with only finite values, in blocks of rows (bounded memory)."""
    out = np.empty(len(array), bool)
    for start in range(0, len(array), block):
        out[start:start + block] = np.isfinite(array[start:start + block]).all(axis=1)
    return out


def model_record(attrs: dict) -> dict | None:
    """The model that made a latents file, from its attributes: {"name", "sha256"}, or None when the
    file does not record one (an NPY, a table loaded as latents)."""
    name, digest = attrs.get("model"), attrs.get("model_sha256")
    if not name and not digest:
        return None
    return {"name": str(name or ""), "sha256": str(digest or "")}


def model_saw_source(attrs: dict) -> bool | None:
    """Whether a latents file's source is among the data files its model was trained on (by SHA-256, as the model's
    checkpoint records them: `model_trained_on`); None when the model records none."""
    try:
        trained_on = json.loads(attrs.get("model_trained_on") or "[]")
    except (TypeError, ValueError):
        return None
    if not isinstance(trained_on, list) or not trained_on:
        return None
    return attrs.get("source_sha256") in trained_on


def read_attrs(path) -> dict:
    """A latents file's attributes alone (cheap: no rows read); {} for an NPY or a file without any."""
    path = check_regular(path, "latents")
    if path.suffix == ".npy":
        return {}
    try:
        with open_h5(path) as f:
            return {k: attr_value(v) for k, v in f.attrs.items()}
    except OSError as exc:
        raise InputError(f"cannot read HDF5 (corrupt or truncated?): {exc}; copy it again, or extract the "
                         "latents again", path) from exc


def model_label(attrs: dict) -> str | None:
    """`demo-vae (SHA-256 1a2b3c4d)`: the model of a latents file in a few words (the name its checkpoint records,
    else its kind: `vae`), or None."""
    record = model_record(attrs)
    if record is None:
        return None
    short = f"SHA-256 {record['sha256'][:8]}" if record["sha256"] else "no SHA-256 recorded"
    return f"{attrs.get('model_name') or record['name'] or 'unnamed model'} ({short})"


def latents_summary(path) -> dict:
    """What names a latents file in a picker, read cheaply (attributes and dataset shapes, no rows):
    {"source": the source's stem, "model": its `outputs.model_tag` ("" when not recorded), "rows": rows of
    every partition, "partitions": {name: rows}, "source_sha256": "" when not recorded, "source_file": the data
    file's name as recorded, "" when not}. Files named `<stem>_latents.h5` are read alike."""
    path = check_regular(path, "latents")
    attrs, partitions = {}, {}
    if path.suffix == ".npy":
        partitions = {"all": len(np.load(path, allow_pickle=False, mmap_mode="r"))}
    else:
        try:
            with open_h5(path) as f:
                attrs = {k: attr_value(v) for k, v in f.attrs.items()}
                partitions = {k: int(f[k].shape[0]) for k in ("all", "valid", "train")
                              if isinstance(f.get(k), h5py.Dataset)}
        except OSError as exc:
            raise InputError(f"cannot read HDF5 (corrupt or truncated?): {exc}; copy it again, or extract "
                             "the latents again", path) from exc
    named = path.name.removesuffix(SUFFIX).removesuffix(path.suffix).split(MODEL_SEPARATOR)[0]
    source = Path(str(attrs.get("source") or "")).stem.replace("_preproc", "") or named
    return {"source": source, "model": model_tag(attrs.get("model_name"), attrs.get("model_sha256")),
            "rows": sum(partitions.values()), "partitions": partitions,
            "source_sha256": str(attrs.get("source_sha256") or ""), "source_file": str(attrs.get("source") or "")}


def summary_label(summary: dict) -> str:
    """`ni_holdout · demo-vae · 5,120 rows`: a latents file's source, model and rows, as pickers name it."""
    return f"{summary['source']} · {summary['model'] or 'model not recorded'} · {summary['rows']:,} rows"


def read_latents(path) -> Latents:
    """Read a `_latents.h5` file (or a plain (N, D) `.npy`) with checks that name the file: only a
    complete file, numeric finite x/y of one per row, a sane grid_shape."""
    path = check_regular(path, "latents")
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the NPY array ({exc}); save it again with numpy.save", path) from None
        if array.ndim != 2:
            raise InputError(f"latents must be 2-D (N, D), got shape {array.shape}: save one row per item", path)
        check_data_dtype(array.dtype, "the array", path)
        return Latents(path, {"all": array if array.dtype == np.float32 else array.astype(np.float32)}, {})
    if path.is_dir() or not h5py.is_hdf5(path):  # a scan folder, an image or a vendor binary given for latents
        raise InputError(f"not a latents file (neither HDF5 nor .npy); {EXTRACT_FIRST}", path)
    reason = incomplete_reason(path)
    if reason and reason.startswith("is unfinished"):
        raise InputError(f"not a complete latents file: it {reason}; {RESUME}", path)
    try:
        with open_h5(path) as f:
            names = [k for k in ("all", "valid", "train") if isinstance(f.get(k), h5py.Dataset)]
            if not names:
                raise InputError(NOT_LATENTS, path)
            for name in names:
                if f[name].ndim != 2:
                    raise InputError(f"dataset {name!r} must be (N, D), got {f[name].shape}; {EXTRACT_FIRST}", path)
                check_data_dtype(f[name].dtype, f"dataset {name!r}", path)
            parts = {k: _read_partition(f[k], path) for k in names}
            attrs = {k: attr_value(v) for k, v in f.attrs.items()}
            n = len(parts[names[0]])
            x, y = (check_coordinates(read_whole(f[k], path), n, k, path) if k in f else None for k in ("x", "y"))
            grid = check_grid_shape(read_whole(f["grid_shape"], path), path) if "grid_shape" in f else None
            meta = {k: read_byte_table(f[f"{k}_metadata"]) for k in names if f"{k}_metadata" in f}
            maps = read_point_maps(f[POINT_MAPS]) if POINT_MAPS in f else {}
            orientations = _read_orientations(f[ORIENTATIONS], len(parts[names[0]]), path) if ORIENTATIONS in f else None
            indices = _item_indices(f, {k: len(v) for k, v in parts.items()}, path)
    except OSError as exc:
        raise InputError(f"cannot read HDF5 (corrupt or truncated?): {exc}; copy it again, or extract the "
                         "latents again", path) from exc
    for name, values in maps.items():
        if len(values) != len(parts[names[0]]):
            raise InputError(f"point map {name!r} has {len(values)} values but {names[0]!r} has "
                             f"{len(parts[names[0]])} rows; extract the latents again", path)
    return Latents(path, parts, attrs, x, y, grid, meta, maps, orientations, indices=indices)


def source_items(path, parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{partition: the items in the source} of `parts` ({partition: rows of the latents file `path`'s partition}):
    the rows themselves, but in a partition extracted in part (`extract_file`'s `allowed_indices`), the items its
    `<partition>_indices` names."""
    path = Path(path)
    if path.suffix == ".npy":
        return parts
    with open_h5(path) as f:
        indices = _item_indices(f, {name: f[name].shape[0] for name in parts}, path)
    return {name: indices[name][rows] if name in indices else rows for name, rows in parts.items()}


def _item_indices(f, sizes: dict[str, int], path) -> dict[str, np.ndarray]:
    """{partition: each row's item index in the source} of the partitions extracted in part."""
    found = {}
    for name, n_rows in sizes.items():
        if f"{name}_indices" not in f:
            continue
        values = read_whole(f[f"{name}_indices"], path)
        if values.shape != (n_rows,) or values.dtype.kind not in "iu" or (n_rows and values.min() < 0):
            raise InputError(f"{name}_indices must hold one item index (>= 0) per row of {name!r}, got "
                             f"{values.dtype} {values.shape}; extract the latents again", path)
        found[name] = values.astype(np.int64)
    return found


def _read_partition(dataset: h5py.Dataset, path: Path) -> np.ndarray:
    """A partition's rows: memory-mapped when stored contiguous (`_mapped`), else read into memory."""
    mapped = _mapped(dataset, path)
    return read_whole(dataset, path) if mapped is None else mapped


def _mapped(dataset: h5py.Dataset, path: Path) -> np.memmap | None:
    """The dataset as a read-only memory map of the file when HDF5 stores it as one contiguous,
    unfiltered block of native-order numbers (no chunks, no compression, no external storage), else None."""
    plist = dataset.id.get_create_plist()
    if (plist.get_layout() != h5py.h5d.CONTIGUOUS or plist.get_nfilters() or plist.get_external_count()
            or not dataset.dtype.isnative or dataset.size == 0):
        return None
    offset = dataset.id.get_offset()
    if offset is None:  # never written: no storage allocated
        return None
    if offset + dataset.id.get_storage_size() > path.stat().st_size:
        raise InputError(f"dataset {dataset.name!r} ends past the end of the file (truncated?): copy it again, or "
                         "extract the latents again", path)
    return np.memmap(path, dtype=dataset.dtype, mode="r", offset=offset, shape=dataset.shape, order="C")


def _read_orientations(group, n: int, path) -> ScanOrientations:
    euler = read_whole(group["euler"], path).astype(np.float64)
    phase_id = read_whole(group["phase_id"], path).astype(np.int64)
    if euler.shape != (n, 3) or phase_id.shape != (n,):
        raise InputError(f"orientations {euler.shape} and phase ids {phase_id.shape} do not fit {n} rows; extract "
                         "the latents again", path)
    phases = {int(k): Phase(**v) for k, v in json.loads(attr_value(group.attrs["phases"])).items()}
    acquisition = Acquisition(**json.loads(attr_value(group.attrs["acquisition"]))) if "acquisition" in group.attrs \
        else Acquisition()
    return ScanOrientations(euler, phase_id, phases, str(attr_value(group.attrs["convention"])), acquisition)


_HDF5_WRITE_FAILED = threading.Event()


_FAILED_FILES: list = []  # HDF5 objects of failed writes, never closed: closing retries the write


def _write_failed(exc: BaseException, path, *objects) -> OutputError:
    """A failed HDF5 write leaves dirty buffers that HDF5 writes again, and can crash on, whenever
    one of the file's objects is closed: the objects are kept open, and the command line ends
    without HDF5's exit-time flush (__main__.py). The `.partial` keeps what was flushed before."""
    _HDF5_WRITE_FAILED.set()
    _FAILED_FILES.extend(objects)
    return write_error(exc, path)


def hdf5_write_failed() -> bool:
    return _HDF5_WRITE_FAILED.is_set()


class LatentsWriter:
    """Stream latents into `<final>.partial`; `finish()` renames it. Resumable (see module doc).

    The `.partial` is exclusively locked (flock) from the first moment to the rename: a second
    writer of the same output is refused at once and never touches this run's file. A write that
    fails (disk full, permission, read-only) raises OutputError at once and keeps the `.partial`.
    """

    def __init__(self, final_path, shapes: dict[str, tuple[int, int]], fingerprint: dict):
        self.final_path = Path(final_path)
        self.tmp_path = self.final_path.with_name(self.final_path.name + PARTIAL)
        self.fingerprint = json.dumps(fingerprint, sort_keys=True, default=str)
        self.partitions = list(shapes)
        refuse_writing_an_input(self.final_path)
        make_folder(self.final_path.parent)
        self._lock = lock_exclusive(self.tmp_path)
        found_content = os.fstat(self._lock).st_size > 0
        try:
            self.file, self.resumed = self._open_or_resume(shapes)
        except BaseException:
            if not found_content:
                self.tmp_path.unlink(missing_ok=True)  # created by us, before any row: remove it
            self._unlock()
            raise

    def _open_or_resume(self, shapes):
        if os.fstat(self._lock).st_size:
            try:
                f = h5py.File(self.tmp_path, "a", locking=False, rdcc_nbytes=0)  # our flock is the lock
                if f.attrs.get("fingerprint") == self.fingerprint and all(
                        k in f and f[k].shape == tuple(s) for k, s in shapes.items()):
                    return f, True
                f.close()
            except OSError:
                pass  # a partial file broken by the interruption: start again (same file, truncated)
        check_free_space(self.tmp_path, sum(n * (4 * d + 24) for n, d in shapes.values()))
        try:
            # no chunk cache: a failed write fails in write_rows, not later in a flush at exit
            f = h5py.File(self.tmp_path, "w", locking=False, rdcc_nbytes=0)
            f.attrs["fingerprint"] = self.fingerprint
            for name, (n, d) in shapes.items():
                # contiguous (no chunks, no filters): the finished file is memory-mapped by read_latents
                f.create_dataset(name, shape=(n, d), dtype="f4")
                f[name].attrs["rows_done"] = 0
            f.flush()
        except OSError as exc:
            raise write_error(exc, self.tmp_path) from None  # before any row: the file is removed
        return f, False

    def rows_done(self, partition: str) -> int:
        dataset = self.file[partition]
        if "rows_done" not in dataset.attrs and "created" in self.file.attrs:
            return dataset.shape[0]  # checked complete by an interrupted finish()
        return int(dataset.attrs["rows_done"])

    def write_rows(self, partition: str, start: int, rows: np.ndarray):
        """Rows must arrive in order; the done-counter moves only after the data is flushed."""
        dataset = self.file[partition]
        try:
            dataset[start:start + len(rows)] = rows
            self.file.flush()
            dataset.attrs["rows_done"] = start + len(rows)
        except (OSError, RuntimeError) as exc:  # HDF5 reports ENOSPC/EIO as either
            raise _write_failed(exc, self.tmp_path, self.file, dataset) from None

    def write_array(self, name: str, values):
        self._write_dataset(name, lambda: self.file.create_dataset(name, data=np.asarray(values)))

    def write_point_maps(self, maps: dict, rows: dict[str, np.ndarray]):
        """The scan's per-point maps at the extracted rows (one partition only: a scan's "all")."""
        if not maps or len(rows) != 1:
            return
        chosen = next(iter(rows.values()))
        if POINT_MAPS in self.file:
            del self.file[POINT_MAPS]
        group = self.file.create_group(POINT_MAPS)
        group.attrs["order"] = json.dumps(list(maps))  # the scan's own band-contrast map first
        for name, values in maps.items():
            self._write_dataset(f"{POINT_MAPS}/{name}",
                                lambda: group.create_dataset(name, data=np.asarray(values, np.float64)[chosen]))

    def write_orientations(self, orientations: ScanOrientations | None, rows: dict[str, np.ndarray]):
        """The scan's Euler angles and phases at the extracted rows (a scan's one partition)."""
        if orientations is None or len(rows) != 1:
            return
        chosen = orientations.take(next(iter(rows.values())))
        if ORIENTATIONS in self.file:
            del self.file[ORIENTATIONS]
        group = self.file.create_group(ORIENTATIONS)
        group.attrs["phases"] = json.dumps({str(k): dataclasses.asdict(p) for k, p in chosen.phases.items()})
        group.attrs["convention"] = chosen.convention
        group.attrs["acquisition"] = json.dumps(chosen.acquisition.known())
        self._write_dataset(f"{ORIENTATIONS}/euler", lambda: group.create_dataset("euler", data=chosen.euler))
        self._write_dataset(f"{ORIENTATIONS}/phase_id", lambda: group.create_dataset("phase_id", data=chosen.phase_id))

    def write_metadata(self, partition: str, table: pd.DataFrame):
        self._write_dataset(f"{partition}_metadata",
                            lambda: write_byte_table(self.file, f"{partition}_metadata", table))

    def _write_dataset(self, name: str, create):
        dataset = None
        try:
            if name in self.file:
                del self.file[name]
            dataset = create()  # held until flushed: a write error shows here, not in a destructor
            self.file.flush()
        except (OSError, RuntimeError) as exc:
            raise _write_failed(exc, self.tmp_path, self.file, dataset) from None

    def finish(self, attrs: dict) -> Path:
        """Check every partition is complete, record the attributes, flush, rename, unlock. The
        fingerprint stays in the file: `incomplete_reason` compares it before a file is skipped.
        "created" is recorded before the done-counters go: a run interrupted after it resumes as complete."""
        for name, dataset in self.file.items():
            if "rows_done" in dataset.attrs:
                if dataset.attrs["rows_done"] != dataset.shape[0]:
                    raise InputError(f"partition {name!r} is incomplete: {dataset.attrs['rows_done']} of "
                                     f"{dataset.shape[0]} rows; run the same extract again", self.tmp_path)
        try:
            for key, value in attrs.items():
                self.file.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value, default=str)
            self.file.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            for dataset in self.file.values():
                if "rows_done" in dataset.attrs:
                    del dataset.attrs["rows_done"]
            self.file.close()
            os.fsync(self._lock)  # the bytes are on disk before the name says "complete"
            os.replace(self.tmp_path, self.final_path)
        except (OSError, RuntimeError) as exc:
            raise _write_failed(exc, self.tmp_path, self.file) from None
        self._unlock()
        return self.final_path

    def wrote_nothing(self) -> bool:
        """True when this run started the `.partial` and no row reached it (an error before the
        first row): then there is nothing to resume."""
        try:
            return not self.resumed and self.file.id.valid and not any(self.rows_done(p) for p in self.partitions)
        except (OSError, RuntimeError, ValueError, KeyError):  # unreadable: keep it
            return False

    def discard(self):
        """Remove the `.partial` (nothing worth resuming was written), then unlock."""
        self._close_file()
        if self._lock is not None:
            self.tmp_path.unlink(missing_ok=True)  # ours: we hold its lock
        self._unlock()

    def close(self):
        """Leave the partial file in place (for resuming) after an interruption."""
        try:
            self._close_file()
        finally:
            self._unlock()

    def _close_file(self):
        if any(self.file is kept for kept in _FAILED_FILES):
            return  # see _write_failed
        try:
            if self.file.id.valid:
                self.file.close()
        except (OSError, RuntimeError):
            pass  # a full disk can fail the last flush too; the rows_done counters stay consistent

    def _unlock(self):
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def check_free_space(path, needed: int) -> None:
    """Refuse at once, in one line, an output the file system has no room for (rows, x/y, slack)."""
    free = shutil.disk_usage(Path(path).parent).free
    needed += 1 << 16  # HDF5's own metadata
    if free < needed:
        raise OutputError(f"not enough space: the latents need about {needed / 2**20:.1f} MiB, "
                          f"{free / 2**20:.1f} MiB are free: free some space, or choose another output folder", path)


def incomplete_reason(path, expected_rows: dict[str, int] | None = None, fingerprint: dict | None = None):
    """Why the latents file at `path` is not a finished result of this job, or None when it is:
    it opens, holds every partition with all its rows (no unfinished counter) and, when given,
    the expected row counts and the same fingerprint (source, model, pooling, rows)."""
    try:
        with h5py_read_only(path) as f:
            names = [k for k in ("all", "valid", "train") if isinstance(f.get(k), h5py.Dataset)]
            if not names:
                return "holds no 'all', 'valid' or 'train' latents"
            unfinished = [k for k in names if "rows_done" in f[k].attrs]
            if unfinished:
                return f"is unfinished ({unfinished[0]!r} has {int(f[unfinished[0]].attrs['rows_done'])} of " \
                       f"{f[unfinished[0]].shape[0]} rows)"
            for name, n in (expected_rows or {}).items():
                if name not in f or f[name].shape[0] != n:
                    found = f[name].shape[0] if name in f else "no"
                    return f"has {found} rows of {name!r}, {n} expected"
            if fingerprint is not None:
                stored = f.attrs.get("fingerprint")
                if stored != json.dumps(fingerprint, sort_keys=True, default=str):
                    return "holds the latents of another source, model or parameters"
    except OSError as exc:
        return f"cannot be read ({' '.join(str(exc).split())[:120]})"
    return None


def features_to_latents(source, out_dir) -> Path:
    """A features file (NPZ, CSV/Parquet features; see the data readers) as a latents file that the
    analysis reads: rows, metadata, labels (column `label`) and coordinates copied into `out_dir`.
    Latents files and NPY arrays are already readable and are returned as they are."""
    source = Path(source)
    if source.suffix == ".npy" or source.name.endswith(SUFFIX):
        return source
    with open_source(source) as reader:
        info = reader.info()
        cutouts = [p for p in info.partitions if p in ("valid", "train")]
        parts = ["all"] if "all" in info.partitions else cutouts or list(info.partitions)[:1]
        names = [p if p in ("valid", "train") else "all" for p in parts]
        writer = LatentsWriter(latents_path_for(source, out_dir, model=None),  # no model made them
                               {name: (info.partitions[p], info.item_shape[0]) for p, name in zip(parts, names)},
                               {"source": str(source)})
        try:
            for part, name in zip(parts, names):
                _copy_rows(reader, part, name, info.partitions[part], writer)
            coordinates = reader.coordinates(parts[0]) if info.has_coordinates and len(parts) == 1 else None
            if coordinates is not None:
                writer.write_array("x", coordinates[0])
                writer.write_array("y", coordinates[1])
                if info.grid_shape:
                    writer.write_array("grid_shape", list(info.grid_shape))
            attrs = {"source": source.name, "source_format": info.format}
            return writer.finish(attrs | ({"units": info.units} if info.units else {}))
        finally:
            writer.close()


def _copy_rows(reader, part: str, name: str, n: int, writer: LatentsWriter, block: int = 65536):
    for start in range(0, n, block):
        writer.write_rows(name, start, reader.read(part, start, min(start + block, n)))
    table, labels = reader.metadata(part), reader.labels(part)
    if labels is not None:
        table = (table if table is not None else pd.DataFrame(index=range(len(labels)))).assign(label=labels)
    if table is not None:
        writer.write_metadata(name, table)
