"""What the HDF5 readers share: content sniffing, one lazily opened handle per reader (dropped
when pickled, so a Dask worker reopens it), a chunk cache, and errors that name the file; and the
ulmo-style byte tables (`<partition>_metadata`: byte strings (N, ncols) with a `columns`
attribute) that cutout files and latents files carry, read with `read_byte_table` and written with
`write_byte_table`."""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Callable

import h5py
import numpy as np
from h5py import h5d, h5l, h5o

from ..errors import InputError
from ..storage import file_version
from ._checks import (MAX_COMPRESSION, check_data_dtype, check_finite, check_range, check_regular,
                      check_rows_fit, memory_budget)
from .base import Reader, compact_dtype

if TYPE_CHECKING:  # pandas loads where a table is read
    import pandas as pd

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SIGNATURE_OFFSETS = (0, 512, 1024, 2048)  # after a user block, the signature moves to 512 * 2**k
# Big enough for a few compressed chunks of patterns, so a batch boundary that splits a chunk
# does not decompress it twice; small enough for many readers in one Dask worker.
CHUNK_CACHE_BYTES = 64 * 2**20
CHUNK_CACHE_SLOTS = 10007  # a prime, as HDF5 advises


def has_hdf5_signature(path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        for offset in _SIGNATURE_OFFSETS:
            f.seek(offset)
            if f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return True
    return False


def open_h5(path, **kwargs) -> h5py.File:
    """Open an HDF5 file read-only, refusing any that would make HDF5 read another file (see
    `refuse_foreign_storage`): files come from uploads and S3, and must not reach the server's."""
    check_regular(path)
    try:
        f = h5py_read_only(path, rdcc_nbytes=CHUNK_CACHE_BYTES, rdcc_nslots=CHUNK_CACHE_SLOTS, **kwargs)
    except OSError as exc:
        raise InputError(f"cannot open HDF5 file (truncated or corrupt?): {exc}; copy or export it again",
                         path) from exc
    try:
        version = file_version(os.fstat(f.id.get_vfd_handle()))  # of the file opened, not what the path names now
        if version not in _CLEAN:
            refuse_foreign_storage(f, path)
            with _CLEAN_LOCK:
                _CLEAN[version] = None
                if len(_CLEAN) > 1024:
                    del _CLEAN[next(iter(_CLEAN))]
    except BaseException:
        f.close()
        raise
    return f


# Files whose objects were all found inside them, by version: detecting a format asks each HDF5 reader, which opens
# the file, and the visit cost 3.4 ms of the 5 for a kikuchipy scan (a detection took 34 ms).
_CLEAN: dict = {}
_CLEAN_LOCK = threading.Lock()  # the app's sessions open files in threads of one process


def h5py_read_only(path, **kwargs) -> h5py.File:
    """h5py.File(path, "r"), also when this process already has the file open with HDF5's file
    locking off (a LatentsWriter's `.partial`, locked by flock instead): HDF5 refuses a second open
    with other locking flags, so that one is retried with locking off too."""
    try:
        return h5py.File(path, "r", **kwargs)
    except OSError as exc:
        if "locking flag values don't match" not in str(exc):
            raise
        return h5py.File(path, "r", locking=False, **kwargs)


def refuse_foreign_storage(f: h5py.File, path) -> None:
    """InputError when any link or dataset of `f` points outside it: an external link, a dataset
    with external storage, a virtual dataset (whose sources are other files). HDF5's own visits
    list links and hard-linked objects without following external links, so nothing outside the
    file is opened on the way (low-level calls: a few ms for a file of a hundred datasets)."""
    def external_link(name, info):  # a value other than None stops the visit
        return name if info.type == h5l.TYPE_EXTERNAL else None

    def foreign_dataset(name, info):
        if info.type != h5o.TYPE_DATASET:
            return None
        plist = h5d.open(f.id, name).get_create_plist()
        if plist.get_layout() == h5d.VIRTUAL:
            return name, "a virtual dataset"
        return (name, "stored in external files") if plist.get_external_count() else None

    try:
        link = f.id.links.visit(external_link, info=True)
        dataset = None if link else h5o.visit(f.id, foreign_dataset, info=True)
    except (OSError, RuntimeError, KeyError) as exc:  # a damaged object header
        raise InputError(f"cannot list the HDF5 file's contents (corrupt?): {exc}; copy or export it again",
                         path) from exc
    if link:
        raise InputError(f"refused: {link.decode(errors='replace')!r} is an external link; only data inside "
                         "the file is read: copy the linked data into it", path)
    if dataset:
        raise InputError(f"refused: dataset {dataset[0].decode(errors='replace')!r} is {dataset[1]}; only data "
                         "inside the file is read: copy its data into it", path)


def sniff_h5(path, test: Callable[[h5py.File], bool]) -> bool:
    """True when `path` is HDF5 and `test(file)` holds; an HDF5 signature on a file that will not
    open raises InputError (truncated or corrupt), so detection says so instead of 'unknown'."""
    if not has_hdf5_signature(path):
        return False
    with open_h5(path) as f:
        return bool(test(f))


def find_scan(f: h5py.File, subpath: str, scan: str | None = None) -> str | None:
    """Name of the first top-level group holding `subpath` (scans may be named anything)."""
    names = [scan] if scan else list(f)
    for name in names:
        if name in f and isinstance(f[name], h5py.Group) and subpath in f[name]:
            return name
    return None


def check_stored(dataset: h5py.Dataset, path) -> None:
    """Before anything is allocated for `dataset`: a row count the memory can index, and declared bytes that the
    file really stores (a few KB of HDF5 can declare terabytes of unwritten or compressed rows)."""
    what = _named(dataset)
    if dataset.ndim:
        check_rows_fit(dataset.shape[0], what, path)
    declared = dataset.nbytes
    _check_declared(declared, dataset.id.get_storage_size(), f"{what} declares {dataset.shape} ({declared:,} bytes)",
                    path)


def _check_declared(declared: int, stored: int, what: str, path) -> None:
    if declared > MAX_COMPRESSION * max(stored, 1) and declared > 1 << 20:
        raise InputError(f"{what} but the file stores only {stored:,} bytes of it: unwritten or truncated; copy or "
                         "export it again", path)


def read_maps(datasets: dict[str, h5py.Dataset], path=None) -> dict[str, np.ndarray]:
    """name -> each dataset's values as float64 (`read_whole`), their declared bytes checked together first: many
    small datasets that the file does not store are refused as one large one is."""
    if datasets:
        path = next(iter(datasets.values())).file.filename if path is None else path
        declared = sum(dataset.nbytes for dataset in datasets.values())
        stored = sum(dataset.id.get_storage_size() for dataset in datasets.values())
        _check_declared(declared, stored, f"{len(datasets)} per-point maps declare {declared:,} bytes", path)
    return {name: read_whole(dataset, path).astype(np.float64) for name, dataset in datasets.items()}


def read_whole(dataset: h5py.Dataset, path=None) -> np.ndarray:
    """Every value of `dataset`, read into memory once `check_stored` passes and when they fit in the memory
    budget (a compressed or chunked dataset cannot be memory-mapped). Errors name `path` (default: the file's)."""
    path = dataset.file.filename if path is None else path
    check_stored(dataset, path)
    if dataset.nbytes > memory_budget():
        raise InputError(f"{_named(dataset)} holds {dataset.nbytes:,} bytes, more than the {memory_budget():,} this "
                         "machine reads at once (half its memory): split the file, or store the dataset uncompressed "
                         "and unchunked so that it is memory-mapped", path)
    try:
        return dataset[()]
    except OSError as exc:
        raise InputError(f"cannot read {_named(dataset)} (corrupt or truncated?): {exc}; copy or export it again",
                         path) from exc


def _named(dataset: h5py.Dataset) -> str:
    return f"dataset {dataset.name.lstrip('/')!r}"


def header_value(group: h5py.Group, name: str, default=None):
    """A header entry stored as a (1,) array (or scalar), as a plain Python value; strings are
    decoded and big-endian numbers come back native."""
    if name not in group:
        return default
    value = np.asarray(read_whole(group[name]))
    value = value.reshape(-1)[0] if value.size == 1 else value
    if isinstance(value, bytes):
        return value.decode(errors="replace").rstrip("\x00")
    return value.item() if isinstance(value, np.generic) else value


def per_point_maps(group: h5py.Group, n: int, exclude=()) -> dict[str, np.ndarray]:
    """Every 1-D numeric dataset of length n in `group` (IQ, CI, Band Contrast, ...) as float64."""
    return read_maps({name: item for name, item in group.items()
                      if (name not in exclude and isinstance(item, h5py.Dataset) and item.shape == (n,)
                          and item.dtype.kind in "biuf")})


def byte_table_columns(f: h5py.File, name: str, n: int, path) -> list[str]:
    """Column names of a ulmo byte table `name` (N, ncols) with a `columns` attribute, checked
    against the n rows it describes; [] when the file has no such table."""
    if name not in f:
        return []
    table = f[name]
    if "columns" not in table.attrs or table.ndim != 2:
        raise InputError(f"{name!r} must be a (N, ncols) table with a 'columns' attribute: export the file again",
                         path)
    columns = [attr_value(c) if isinstance(c, bytes) else str(c)
               for c in np.asarray(table.attrs["columns"]).reshape(-1)]
    if table.shape != (n, len(columns)):
        raise InputError(f"{name!r} has shape {table.shape} but its partition has {n} rows and "
                         f"'columns' names {len(columns)} columns; export the file again", path)
    return columns


def read_byte_table(dataset: h5py.Dataset) -> pd.DataFrame:
    """A ulmo-style metadata table: byte strings (N, ncols) with a `columns` attribute, read as UTF-8 (bytes that
    are not UTF-8 as U+FFFD)."""
    columns = [attr_value(c) for c in dataset.attrs["columns"]]
    import pandas as pd

    table = pd.DataFrame(_text(read_whole(dataset)), columns=columns)
    for name in table.columns:  # numbers were stored as their text: give them back as numbers
        converted = pd.to_numeric(table[name], errors="coerce")
        if converted.notna().all():
            table[name] = converted
    return table


def write_byte_table(group: h5py.Group, name: str, table: pd.DataFrame) -> h5py.Dataset:
    """Write `table` as a byte table `name` in `group` (the layout `read_byte_table` reads), text as UTF-8."""
    dataset = group.create_dataset(name, data=_utf8(table.to_numpy(dtype=str)))
    dataset.attrs["columns"] = _utf8(np.array([str(c) for c in table.columns]))
    return dataset


def _text(raw: np.ndarray) -> np.ndarray:
    """Fixed-length bytes as text: ASCII at numpy's speed, anything else decoded as UTF-8."""
    try:
        return raw.astype(str)
    except UnicodeDecodeError:
        return np.char.decode(raw, "utf-8", errors="replace")


def _utf8(text: np.ndarray) -> np.ndarray:
    """Text as fixed-length bytes: ASCII at numpy's speed, anything else encoded as UTF-8."""
    try:
        return text.astype(np.bytes_)
    except UnicodeEncodeError:
        return np.char.encode(text, "utf-8")


def attr_value(value):
    """An HDF5 attribute as a plain Python value: bytes decoded (UTF-8; other bytes as U+FFFD), arrays as lists,
    NumPy scalars as Python scalars."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray):
        return [attr_value(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


class H5Reader(Reader):
    """Base of the HDF5 readers: subclasses implement `_describe(file)` -> SourceInfo (validating
    the layout) and `_dataset_name(partition)`; `read` reshapes a stored slice to the item shape."""

    can_describe_only = True

    def __init__(self, path, *, describe_only: bool = False):
        """`describe_only` (what `info` opens with): the file is described from its declared shapes
        even when reading it would be refused (more rows than the memory can index, rows declared but
        not stored); those refusals are listed in the description's extra["refused_for_reading"],
        and any later access to the file's data raises the first of them."""
        super().__init__(path)
        self._file, self._datasets = None, {}
        self._describe_only, self._refusals = describe_only, []
        self._info = self._describe(self.file)
        if self._refusals:
            self._info.extra["refused_for_reading"] = list(self._refusals)
        self._described = True

    @property
    def file(self) -> h5py.File:
        if self._refusals and getattr(self, "_described", False):
            raise InputError(self._refusals[0], self.path)  # described only: none of its data is read
        if self._file is None or not self._file.id.valid:
            self._file = open_h5(self.path)
        return self._file

    def require(self, name: str) -> h5py.Dataset:
        """The data dataset `name`, checked before anything is allocated for it: real numbers, a
        row count the memory can index, and declared bytes that the file really stores. A reader
        opened with `describe_only` notes the last two (they guard reads) instead of raising."""
        if name not in self.file or not isinstance(self.file[name], h5py.Dataset):
            raise InputError(f"not a {self.format_name} file: no dataset {name!r}; give a complete one", self.path)
        dataset = self.file[name]
        check_data_dtype(dataset.dtype, f"dataset {name!r}", self.path)
        try:
            check_stored(dataset, self.path)
        except InputError as exc:
            if not self._describe_only:
                raise
            self._refusals.append(str(exc).removeprefix(f"{exc.path}: "))
        return dataset

    @property
    def readable(self) -> bool:
        """False for a reader opened with `describe_only` whose data would be refused."""
        return not self._refusals

    def read(self, partition: str, start: int, stop: int) -> np.ndarray:
        return self.read_stored(partition, start, stop).astype(np.float32, copy=False)

    def stored_dtype(self, partition: str) -> np.dtype:
        return compact_dtype(self._open_dataset(self._dataset_name(partition)).dtype)

    def read_stored(self, partition: str, start: int, stop: int) -> np.ndarray:
        start, stop = check_range(self, partition, start, stop)
        dataset = self._open_dataset(self._dataset_name(partition))
        try:
            block = dataset[start:stop]  # one contiguous hyperslab read
        except OSError as exc:
            raise InputError(f"cannot read rows {start}:{stop} of {dataset.name!r} (corrupt file?): {exc}; copy or "
                             "export it again", self.path) from exc
        block = block.astype(compact_dtype(block.dtype), copy=False).reshape((stop - start, *self._info.item_shape))
        if dataset.dtype.kind == "f":
            check_finite(block, f"{dataset.name} rows {start}:{stop}", self.path)
        return block

    def chunk_rows(self, partition: str) -> int:
        chunks = self._open_dataset(self._dataset_name(partition)).chunks
        return int(chunks[0]) if chunks else 1

    def _open_dataset(self, name: str) -> h5py.Dataset:
        """Kept open: HDF5's chunk cache lives with an open dataset, so reads of neighbouring
        rows (small batches, allowed_indices runs) decompress each chunk once, not once per read."""
        if name not in self._datasets or not self._datasets[name].id.valid:
            self._datasets[name] = self.file[name]
        return self._datasets[name]

    def _describe(self, f: h5py.File):
        raise NotImplementedError

    def _dataset_name(self, partition: str) -> str:
        raise NotImplementedError

    def close(self):
        if self._file is not None and self._file.id.valid:
            self._file.close()
        self._file, self._datasets = None, {}

    def __getstate__(self):  # an open h5py handle cannot be pickled: the copy reopens lazily
        state = self.__dict__.copy()
        state["_file"], state["_datasets"] = None, {}
        return state
