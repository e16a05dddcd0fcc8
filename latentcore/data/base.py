"""One interface for every input format, in the manner of kikuchipy's io plugins.

A format is one module with a `Reader` subclass: a name, its usual extensions, a `sniff` that
looks at the content, and methods that describe the file and stream contiguous batches.
`open_source` picks the reader by content (extension only breaks ties). What the registry holds is the
one list of formats: `readable_extensions` (what the app's uploads accept) and `scan_formats` (the
EBSD scan formats the README and the command line name) are read from it.
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Iterator

import numpy as np

from ..arrays import unique
from ..errors import InputError
from ..storage import resolve_path
from ._checks import check_regular

if TYPE_CHECKING:  # pandas loads where a table is made: a reader process needs none
    import pandas as pd

DEFAULT_UNITS = "um"
_UNIT_NAMES = {"um": "um", "µm": "um", "μm": "um", "micron": "um", "microns": "um", "micrometer": "um",
               "micrometre": "um", "nm": "nm", "mm": "mm", "px": "px", "pixel": "px", "pixels": "px"}


def normalise_units(text) -> str | None:
    """A unit as a file spells it ("µm", "microns", b"um") -> "um", "nm", "mm" or "px"; None if unknown."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return _UNIT_NAMES.get(str(text).strip().rstrip("\x00").lower()) if text is not None else None


def display_units(units: str | None) -> str:
    """How a unit is shown on axes, sliders and colour bars: "um" -> "µm"."""
    return "µm" if units in (None, "um") else str(units)


def compact_dtype(dtype) -> np.dtype:
    """The type `Reader.read_stored` hands rows over in: integers of up to 16 bits as stored (float32
    holds them exactly, so converting later loses nothing), anything else float32."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind in "ui" and dtype.itemsize <= 2 else np.dtype(np.float32)


@dataclasses.dataclass
class SourceInfo:
    """What a file holds; `to_dict` is what `python -m latentcore info` prints."""

    path: str
    format: str
    partitions: dict[str, int]  # partition name -> number of items
    item_shape: tuple[int, ...]  # one item as yielded: (C, H, W), (C, T, H, W) or (D,) for features
    dtype: str  # dtype stored in the file
    is_features: bool = False  # rows are already latents/features: nothing to extract
    has_coordinates: bool = False
    grid_shape: tuple[int, int] | None = None  # (n_rows, n_columns) of a scan
    step: tuple[float, float] | None = None  # (step_x, step_y) of a scan
    metadata_columns: list[str] = dataclasses.field(default_factory=list)
    extra: dict = dataclasses.field(default_factory=dict)
    units: str | None = None  # length unit of x, y and step as stored ("um"); None: rows without positions

    def __post_init__(self):
        if self.units is None and self.has_coordinates:  # EBSD scans are in microns unless the file says
            self.units = DEFAULT_UNITS

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Reader:
    """Base class of every format reader. Subclasses set the class attributes and override
    `info`, `read` and (when they have them) `coordinates`, `metadata`, `labels`."""

    format_name: ClassVar[str] = ""  # what `info` prints and `open_source(format=...)` takes
    title: ClassVar[str] = ""  # the format as people name it, in the README, docs/architecture.md and the app
    extensions: ClassVar[tuple[str, ...]] = ()  # the file endings it reads ("": a folder); uploads accept them
    companions: ClassVar[tuple[str, ...]] = ()  # files it reads beside its own, by name (NORDIF's Setting.txt)
    ebsd_scan: ClassVar[bool] = False  # EBSD patterns on a scan grid: one of `scan_formats`
    description: ClassVar[str] = ""
    # True when the constructor takes `describe_only=True`: describe from declared shapes, without
    # the checks that guard reading (see H5Reader); `open_source(..., describe_only=True)` uses it.
    can_describe_only: ClassVar[bool] = False

    def __init__(self, path):
        self.path = check_regular(path)

    # -- detection -------------------------------------------------------------------------
    @classmethod
    def sniff(cls, path: Path) -> bool:
        """True when the content (not only the name) looks like this format."""
        raise NotImplementedError

    # -- description -----------------------------------------------------------------------
    def info(self) -> SourceInfo:
        """What the file holds; readers describe it once, in their constructor, as `self._info`."""
        return self._info

    @property
    def partitions(self) -> list[str]:
        return list(self.info().partitions)

    def count(self, partition: str) -> int:
        counts = self.info().partitions
        if partition not in counts:
            raise InputError(f"no partition {partition!r}; it holds {sorted(counts)}: pick one of them", self.path)
        return counts[partition]

    # -- data --------------------------------------------------------------------------------
    def read(self, partition: str, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of a partition as float32, shape (stop-start, *item_shape).
        One contiguous read: this is what batching is built on."""
        raise NotImplementedError

    def stored_dtype(self, partition: str) -> np.dtype:
        """The dtype of `read_stored`'s rows: float32 unless the reader keeps small integers as stored."""
        return np.dtype(np.float32)

    def read_stored(self, partition: str, start: int, stop: int) -> np.ndarray:
        """`read`'s rows in `stored_dtype` (uint8 patterns stay uint8: a quarter of the bytes to hand
        over between processes or copy to a GPU; the extractor converts them where the model runs)."""
        return self.read(partition, start, stop)

    def chunk_rows(self, partition: str) -> int:
        """Rows stored (and decompressed) together: blocks of whole chunks read each chunk once."""
        return 1

    def read_rows(self, partition: str, indices, stored: bool = False) -> np.ndarray:
        """Arbitrary rows (sorted or not), e.g. for a gallery of selected points; as `read_stored`
        reads them when `stored`."""
        indices = np.asarray(indices, dtype=np.int64)
        read = self.read_stored if stored else self.read
        out = np.empty((indices.size, *self.info().item_shape),
                       self.stored_dtype(partition) if stored else np.float32)
        order = np.argsort(indices)
        for rows, positions in _contiguous_runs(indices[order], order) if indices.size else ():
            out[positions] = read(partition, rows[0], rows[-1] + 1)
        return out

    def iter_batches(self, partition: str, batch_size: int = 256, allowed_indices=None,
                     stored: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (float32 batch, int64 row indices) in source order, reading contiguous slices
        (batches in `stored_dtype` when `stored`). `allowed_indices` restricts rows to those indices:
        runs of consecutive indices are read as one slice, so a restriction costs no per-item reads."""
        n = self.count(partition)
        if allowed_indices is None:
            read = self.read_stored if stored else self.read
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                yield read(partition, start, stop), np.arange(start, stop, dtype=np.int64)
            return
        indices = unique(np.asarray(allowed_indices, dtype=np.int64))
        if indices.size and (indices[0] < 0 or indices[-1] >= n):
            raise InputError(f"allowed_indices must lie in [0, {n}) for partition {partition!r}, "
                             f"got range [{indices[0]}, {indices[-1]}]", self.path)
        for start in range(0, indices.size, batch_size):
            chunk = indices[start:start + batch_size]
            yield self.read_rows(partition, chunk, stored), chunk

    def coordinates(self, partition: str = "all") -> tuple[np.ndarray, np.ndarray] | None:
        """Scan x, y (float64, one per row) or None when the source has no positions."""
        return None

    def metadata(self, partition: str) -> pd.DataFrame | None:
        """Per-row metadata table (cutout tables), or None."""
        return None

    def point_maps(self) -> dict[str, np.ndarray]:
        """Vendor per-point maps stored beside the patterns, name -> float64 (N,) in row order, the
        scan's own band-contrast-like map first (Oxford "Band Contrast", "Band Slope", "MAD"; EDAX
        "IQ", "CI", "Fit"); {} when the format has none."""
        return {}

    def orientations(self):
        """The scan's orientations and phases (`data.orientations.ScanOrientations`, rows in
        order), or None when the file holds none."""
        return None

    def scan_maps(self) -> dict[str, np.ndarray]:  # the earlier name
        return self.point_maps()

    def labels(self, partition: str) -> np.ndarray | None:
        """Per-row labels (NPZ `y`), or None."""
        return None

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _contiguous_runs(sorted_indices: np.ndarray, positions: np.ndarray):
    """Split sorted indices into runs of consecutive values: [(rows, output positions), ...]."""
    breaks = np.flatnonzero(np.diff(sorted_indices) != 1) + 1
    return zip(np.split(sorted_indices, breaks), np.split(positions, breaks))


# The modules of the readers, one each, in the order detection asks them (the first of several matches wins a tie)
READER_MODULES = ("bruker", "edax", "edax_binary", "emsoft", "h5ebsd", "images", "latents_source", "nenya", "nordif",
                  "npz_features", "oxford", "oxford_binary", "video")
_REGISTERED: list[type[Reader]] = []


def register(cls: type[Reader]) -> type[Reader]:
    """Class decorator: add a reader to the registry that `open_source` consults."""
    _REGISTERED.append(cls)
    return cls


def registered_readers() -> list[type[Reader]]:
    """Every reader in `READER_MODULES`' order, their modules imported on the first call (each registers itself on
    its import, in whatever order the modules happened to be imported)."""
    order = {importlib.import_module(f"{__package__}.{name}").__name__: i for i, name in enumerate(READER_MODULES)}
    return sorted(_REGISTERED, key=lambda cls: order[cls.__module__])


def readable_extensions() -> list[str]:
    """Every file ending a registered reader reads (".h5", ".up2", ...; folders left out), sorted."""
    return sorted({e for cls in registered_readers() for e in cls.extensions if e})


def scan_formats() -> list[str]:
    """The titles of the EBSD scan formats, in the registry's order."""
    return [cls.title for cls in registered_readers() if cls.ebsd_scan]


def detect_format(path) -> type[Reader]:
    """The reader whose `sniff` accepts the content; the extension breaks ties."""
    path = check_regular(path)  # a FIFO or device would hang the sniffers
    readers = registered_readers()
    matches = [cls for cls in readers if _safe_sniff(cls, path)]
    if not matches:
        known = ", ".join(sorted(cls.format_name for cls in readers))
        raise InputError(f"unrecognised or corrupt file: give a file of a known format, or copy it again ({known})",
                         path)
    by_extension = [cls for cls in matches if path.suffix.lower() in cls.extensions]
    return (by_extension or matches)[0]


def _safe_sniff(cls, path) -> bool:
    try:
        return bool(cls.sniff(path))
    except InputError:  # a sniff that recognises its container but finds it broken says so
        raise
    except Exception:  # a sniff must never crash detection: a corrupt file simply matches nothing
        return False


def open_source(path, format: str | None = None, *, describe_only: bool = False, **options) -> Reader:
    """Open any supported input with the reader that recognises its content.

    Parameters
    ----------
    path : str or path-like
        A data file or folder (image folder, video folder), or an `s3://bucket/key` URI, which is
        read from the local S3 download cache.
    format : str, default=None
        The `format_name` of the reader to use; None detects the format from the content (the
        extension only breaks ties).
    describe_only : bool, default=False
        Open only to describe the file (what `info` does): a reader that supports it describes a
        file from its declared shapes even when its rows would be refused for reading (more than
        the memory can index, declared but not stored), lists those refusals in
        `info().extra["refused_for_reading"]`, and refuses any read. Readers that do not support
        it open as usual.
    **options
        Passed to the reader's constructor (e.g. `num_frames` for videos).

    Returns
    -------
    reader : Reader
        The open reader; use it as a context manager, or call its `close`.

    Raises
    ------
    InputError
        The path does not exist or is not a regular file or folder, no reader recognises the
        content, `format` names no known reader, or the file is corrupt or of the wrong layout.
        S3 failures raise its subclass `S3Error`, naming the URI.
    """
    path = resolve_path(path)  # `s3://bucket/key`: read from the local download cache (storage/s3.py)
    if describe_only:
        options = {**options, "describe_only": True}
    if format is None:
        return _construct(detect_format(path), path, options)
    readers = registered_readers()
    for cls in readers:
        if cls.format_name == format:
            return _construct(cls, path, options)
    raise InputError(f"unknown format {format!r}; choose one of {sorted(c.format_name for c in readers)}")


def _construct(cls: type[Reader], path, options: dict) -> Reader:
    if not cls.can_describe_only:  # it reads nothing it would refuse to read: the usual constructor
        options = {k: v for k, v in options.items() if k != "describe_only"}
    return cls(path, **options)
