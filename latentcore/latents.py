"""The latents file (DESIGN.md section 5): `<stem>_latents.h5`, readable with plain h5py.

- one float32 dataset per partition (`valid`, `train`, or `all` for a scan), shape (N, D), source order;
- scans: `x`, `y` (float64) and `grid_shape`, and the scan's vendor per-point maps (Oxford Band Contrast,
  EDAX IQ/CI/Fit) as `point_maps/<name>` float64 (N,) in the same row order; cutouts: the metadata
  table as `<partition>_metadata` byte strings with a `columns` attribute (the source layout, copied);
- attributes: model, model_sha256, source, source_sha256, pooling, device, versions, created; for
  scans `units` ("um") and `step`; `preprocessing` (JSON: source and model pattern sizes, the resize).

`LatentsWriter` streams rows into `<final>.partial` and renames it when complete. It records how many
rows of each partition are done, so an interrupted run resumes where it stopped when the same
source, model and parameters (the `fingerprint`) are used again.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .errors import InputError

SUFFIX = "_latents.h5"
PARTIAL = ".partial"
POINT_MAPS = "point_maps"  # group of per-point maps carried over from the scan


def latents_path_for(source, out_dir=None) -> Path:
    """`<source stem with _preproc removed>_latents.h5`, beside the source or in `out_dir`."""
    if str(source).startswith("s3://"):  # never beside an object in S3: a local folder, default the current one
        out_dir = out_dir or Path.cwd()
    source = Path(str(source).removeprefix("s3://"))
    stem = source.stem if source.is_file() or source.suffix else source.name
    stem = stem.replace("_preproc", "")
    return Path(out_dir or source.parent) / f"{stem}{SUFFIX}"


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
        """All rows of the chosen partitions, one array, plus a table naming each row's origin
        (`partition`, `index`) and its metadata columns."""
        names = list(partitions or self.partitions)
        arrays, tables = [], []
        for name in names:
            rows = self.partitions[name]
            table = pd.DataFrame({"partition": name, "index": np.arange(len(rows))})
            if name in self.metadata:
                table = pd.concat([table, self.metadata[name].reset_index(drop=True)], axis=1)
            arrays.append(rows)
            tables.append(table)
        return np.concatenate(arrays), pd.concat(tables, ignore_index=True)


def read_latents(path) -> Latents:
    """Read a `_latents.h5` file (or a plain (N, D) `.npy`) with checks that name the file."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such latents file", path)
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        if array.ndim != 2:
            raise InputError(f"latents must be 2-D (N, D), got shape {array.shape}", path)
        return Latents(path, {"all": array.astype(np.float32, copy=False)}, {})
    try:
        with h5py.File(path, "r") as f:
            names = [k for k in ("all", "valid", "train") if k in f]
            if not names:
                raise InputError("not a latents file: no 'all', 'valid' or 'train' dataset", path)
            parts = {k: f[k][()] for k in names}
            attrs = {k: _plain(v) for k, v in f.attrs.items()}
            x = f["x"][()] if "x" in f else None
            y = f["y"][()] if "y" in f else None
            grid = tuple(int(v) for v in f["grid_shape"][()]) if "grid_shape" in f else None
            meta = {k: read_byte_table(f[f"{k}_metadata"]) for k in names if f"{k}_metadata" in f}
            maps = _read_point_maps(f[POINT_MAPS]) if POINT_MAPS in f else {}
    except OSError as exc:
        raise InputError(f"cannot read HDF5 (corrupt or truncated?): {exc}", path) from exc
    for name, rows in parts.items():
        if rows.ndim != 2:
            raise InputError(f"dataset {name!r} must be (N, D), got {rows.shape}", path)
    if x is not None and len(x) != len(parts[names[0]]):
        raise InputError(f"x has {len(x)} values but {names[0]!r} has {len(parts[names[0]])} rows", path)
    for name, values in maps.items():
        if len(values) != len(parts[names[0]]):
            raise InputError(f"point map {name!r} has {len(values)} values but {names[0]!r} has "
                             f"{len(parts[names[0]])} rows", path)
    return Latents(path, parts, attrs, x, y, grid, meta, maps)


def _read_point_maps(group) -> dict[str, np.ndarray]:
    order = json.loads(group.attrs["order"]) if "order" in group.attrs else []
    names = [n for n in order if n in group] + sorted(n for n in group if n not in order)
    return {name: group[name][()].astype(np.float64) for name in names}


def read_byte_table(dataset) -> pd.DataFrame:
    """A ulmo-style metadata table: byte strings (N, ncols) with a `columns` attribute."""
    columns = [_plain(c) for c in dataset.attrs["columns"]]
    table = pd.DataFrame(dataset[()].astype(str), columns=columns)
    for name in table.columns:  # numbers were stored as their text: give them back as numbers
        converted = pd.to_numeric(table[name], errors="coerce")
        if converted.notna().all():
            table[name] = converted
    return table


def write_byte_table(group, name: str, table: pd.DataFrame):
    data = table.to_numpy(dtype=str).astype(np.bytes_)
    dataset = group.create_dataset(name, data=data)
    dataset.attrs["columns"] = np.array(list(table.columns), dtype=np.bytes_)


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


class LatentsWriter:
    """Stream latents into `<final>.partial`; `finish()` renames it. Resumable (see module doc)."""

    def __init__(self, final_path, shapes: dict[str, tuple[int, int]], fingerprint: dict):
        self.final_path = Path(final_path)
        self.tmp_path = self.final_path.with_name(self.final_path.name + PARTIAL)
        self.fingerprint = json.dumps(fingerprint, sort_keys=True, default=str)
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        self.file = self._open_or_resume(shapes)

    def _open_or_resume(self, shapes):
        if self.tmp_path.exists():
            try:
                f = h5py.File(self.tmp_path, "a")
                if f.attrs.get("fingerprint") == self.fingerprint and all(
                        k in f and f[k].shape == tuple(s) for k, s in shapes.items()):
                    return f
                f.close()
            except OSError:
                pass  # a partial file broken by the interruption: start again
            self.tmp_path.unlink()
        f = h5py.File(self.tmp_path, "w")
        f.attrs["fingerprint"] = self.fingerprint
        for name, (n, d) in shapes.items():
            f.create_dataset(name, shape=(n, d), dtype="f4", chunks=(max(1, min(n, 65536 // max(d, 1))), d))
            f[name].attrs["rows_done"] = 0
        return f

    def rows_done(self, partition: str) -> int:
        return int(self.file[partition].attrs["rows_done"])

    def write_rows(self, partition: str, start: int, rows: np.ndarray):
        """Rows must arrive in order; the done-counter moves only after the data is flushed."""
        dataset = self.file[partition]
        dataset[start:start + len(rows)] = rows
        self.file.flush()
        dataset.attrs["rows_done"] = start + len(rows)

    def write_array(self, name: str, values):
        if name in self.file:
            del self.file[name]
        self.file.create_dataset(name, data=np.asarray(values))

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
            group.create_dataset(name, data=np.asarray(values, np.float64)[chosen])

    def write_metadata(self, partition: str, table: pd.DataFrame):
        name = f"{partition}_metadata"
        if name in self.file:
            del self.file[name]
        write_byte_table(self.file, name, table)

    def finish(self, attrs: dict) -> Path:
        for name, dataset in self.file.items():
            if "rows_done" in dataset.attrs:
                if dataset.attrs["rows_done"] != dataset.shape[0]:
                    raise RuntimeError(f"{self.tmp_path}: partition {name!r} is incomplete")
                del dataset.attrs["rows_done"]
        del self.file.attrs["fingerprint"]
        for key, value in attrs.items():
            self.file.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value, default=str)
        self.file.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self.file.close()
        os.replace(self.tmp_path, self.final_path)
        return self.final_path

    def close(self):
        """Leave the partial file in place (for resuming) after an interruption."""
        if self.file.id.valid:
            self.file.close()


def features_to_latents(source, out_dir) -> Path:
    """A features file (NPZ, CSV/Parquet features; see the data readers) as a latents file that the
    analysis reads: rows, metadata, labels (column `label`) and coordinates copied into `out_dir`.
    Latents files and NPY arrays are already readable and are returned as they are."""
    from .data import open_source

    source = Path(source)
    if source.suffix == ".npy" or source.name.endswith(SUFFIX):
        return source
    with open_source(source) as reader:
        info = reader.info()
        cutouts = [p for p in info.partitions if p in ("valid", "train")]
        parts = ["all"] if "all" in info.partitions else cutouts or list(info.partitions)[:1]
        names = [p if p in ("valid", "train") else "all" for p in parts]
        writer = LatentsWriter(latents_path_for(source, out_dir),
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
