"""What the raw binary pattern readers (NORDIF, EDAX UP1/UP2, Oxford EBSP) share: a header that
declares the records, checked against the file size before anything is mapped, then the patterns
read through a read-only np.memmap (opened lazily, dropped when pickled, so nothing is loaded whole)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputError
from ._checks import check_range
from ._scan import ScanGrid, scan_info
from .base import Reader, compact_dtype


@dataclasses.dataclass
class BinaryLayout:
    offset: int  # byte where the first record starts
    record: np.dtype  # one stored pattern with its own header/footer; its "pattern" field is (sy, sx)
    n_records: int
    grid: ScanGrid
    order: np.ndarray | None = None  # row i of the scan is record order[i] (None: the same)
    warnings: list[str] = dataclasses.field(default_factory=list)


def pattern_record(dtype, height: int, width: int, before=(), after=()) -> np.dtype:
    """A packed record: header fields, the (height, width) pattern, footer fields."""
    return np.dtype([*before, ("pattern", np.dtype(dtype), (int(height), int(width))), *after])


def read_header(path, dtype, count: int, offset: int = 0) -> np.ndarray:
    """`count` values of `dtype` at byte `offset`; an error naming the file when it ends first."""
    values = np.fromfile(path, dtype=dtype, count=count, offset=offset)
    if values.size < count:
        raise InputError(f"file ends inside its header (at byte {offset + values.nbytes}): copy or export it again",
                         path)
    return values


class BinaryScanReader(Reader):
    """A scan in a raw binary file: subclasses parse the header in `_layout` -> BinaryLayout."""

    ebsd_scan = True

    def __init__(self, path):
        super().__init__(path)
        self._records = None
        self.layout = layout = self._layout()
        extra_bytes = self._check_size(layout)
        if extra_bytes:
            layout.warnings.append(f"the file holds {extra_bytes} bytes more than its header declares; "
                                   f"they are not read")
        shape = layout.record["pattern"].shape
        layout.grid.check(len(self), f"{self.path.name} ({layout.n_records} records)", self.path)
        self._info = scan_info(self, len(self), shape, layout.record["pattern"].base, layout.grid, "grid",
                               layout.warnings)

    def __len__(self):
        return self.layout.n_records if self.layout.order is None else len(self.layout.order)

    def _layout(self) -> BinaryLayout:
        raise NotImplementedError

    def _check_size(self, layout: BinaryLayout) -> int:
        """Bytes past the declared records; an error before anything is mapped when the file is short."""
        needed = layout.offset + layout.n_records * layout.record.itemsize
        size = self.path.stat().st_size
        if any(s <= 0 for s in layout.record["pattern"].shape) or layout.n_records < 1:
            raise InputError(f"header declares {layout.n_records} patterns of "
                             f"{' x '.join(map(str, layout.record['pattern'].shape))} pixels: export the scan again",
                             self.path)
        if size < needed:
            raise InputError(f"header declares {layout.n_records} patterns of {layout.record.itemsize} bytes "
                             f"from byte {layout.offset} ({needed} bytes) but the file holds {size} "
                             f"(truncated, or the wrong settings?): check its settings, or copy it again", self.path)
        return size - needed

    @property
    def records(self) -> np.memmap:
        if self._records is None:
            self._records = np.memmap(self.path, dtype=self.layout.record, mode="r",
                                      offset=self.layout.offset, shape=(self.layout.n_records,))
        return self._records

    def read(self, partition: str, start: int, stop: int) -> np.ndarray:
        return self.read_stored(partition, start, stop).astype(np.float32, copy=False)

    def stored_dtype(self, partition: str) -> np.dtype:
        return compact_dtype(self.layout.record["pattern"].base)

    def read_stored(self, partition: str, start: int, stop: int) -> np.ndarray:
        start, stop = check_range(self, partition, start, stop)
        rows = slice(start, stop) if self.layout.order is None else self.layout.order[start:stop]
        block = self.records["pattern"][rows]  # only these records are read from disk (copied by astype)
        return block.astype(self.stored_dtype(partition)).reshape((stop - start, *self._info.item_shape))

    def coordinates(self, partition: str = "all"):
        return self.layout.grid.coordinates(self.count(partition))

    def close(self):
        self._records = None  # the memory map closes when its last view goes

    def __getstate__(self):  # a memory map is not pickled: the copy maps the file again
        return {**self.__dict__, "_records": None}
