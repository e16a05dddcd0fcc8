"""Oxford Instruments binary `.ebsp`:
- an int64 file version, stored negated (version 0 has none);
- a table of int64 byte offsets of the patterns, one per map point in row-major order (0: the point's
  pattern is not stored), from byte 0 (version 0), 8 (versions 1-3) or 9 (version 4 on);
- one record per stored pattern: int32 header (map x, y from version 5 on; is-compressed, height,
  width, byte count), the uint8 or uint16 pattern, and a footer with the beam position in µm
  (version 1: float64 x, y; version 2 on: each after a bool that says whether it is there).
Records are read through the offsets table, so rows come in map order whatever the order on disk.
The map shape and step come from the beam positions of the first, second and last points, as in
kikuchipy; a file without them, or with only some points stored, is read as one row, as kikuchipy."""
from __future__ import annotations

import numpy as np

from ..arrays import unique
from ..errors import InputError
from ._binary import BinaryLayout, BinaryScanReader, pattern_record, read_header
from ._scan import ScanGrid
from .base import register

TABLE_BLOCK = 65536  # offsets read per step while looking for the end of the table


def file_version(path) -> int:
    first = int(read_header(path, "<i8", 1)[0])
    return -first if first < 0 else 0


def table_start(version: int) -> int:
    return 0 if version == 0 else 8 if version <= 3 else 9


@register
class OxfordBinaryReader(BinaryScanReader):
    format_name = "oxford_binary"
    title = "Oxford EBSP"
    extensions = (".ebsp",)
    description = "Oxford Instruments binary patterns (.ebsp, uncompressed)"

    @classmethod
    def sniff(cls, path):
        return path.is_file() and path.suffix.lower() == ".ebsp" and 0 <= file_version(path) <= 20

    def _layout(self):
        version = file_version(self.path)
        start = table_start(version)
        offsets = self._offsets(start)
        present = offsets[offsets != 0]
        first = start + 8 * len(offsets)  # the first record follows the table
        record = self._record(version, first)
        slots, remainder = np.divmod(present - first, record.itemsize)
        if remainder.any() or slots.min() < 0 or slots.max() >= len(present) or unique(slots).size != len(slots):
            raise InputError("pattern offsets table does not point at whole pattern records: copy or export it again",
                             self.path)
        if len(present) < len(offsets):
            return BinaryLayout(first, record, len(present), ScanGrid(1, len(present), 1.0, 1.0), warnings=[
                f"only {len(present)} of the {len(offsets)} map points have a stored pattern (non-indexed "
                "points only?): they are placed along one row in file order, as kikuchipy does"])
        order = None if np.array_equal(slots, np.arange(len(slots))) else slots
        layout = BinaryLayout(first, record, len(slots), ScanGrid(1, len(slots), 1.0, 1.0), order)
        layout.grid, warning = self._beam_grid(layout)
        layout.warnings += [warning] if warning else []
        return layout

    def _offsets(self, start: int) -> np.ndarray:
        """The offsets table. Its length is stored nowhere: the table ends where the first record
        begins, i.e. at the smallest offset; an entry is read only while it lies before the smallest
        offset seen so far, so pattern bytes are never taken for offsets."""
        size = self.path.stat().st_size
        table, end = np.empty(0, np.int64), size
        while start + 8 * len(table) < end:
            count = min(TABLE_BLOCK, (end - start) // 8 - len(table))
            block = np.fromfile(self.path, "<i8", count=count, offset=start + 8 * len(table))
            if block.size == 0:
                break
            stored = np.where(block > 0, block, np.iinfo(np.int64).max)
            smallest_before = np.minimum.accumulate(np.concatenate([[end], stored]))[:-1]
            positions = start + 8 * (len(table) + np.arange(block.size))
            past = np.flatnonzero(positions >= smallest_before)
            block = block[:past[0]] if past.size else block
            table = np.concatenate([table, block])
            end = min(end, int(np.where(block > 0, block, end).min(initial=end)))
            if past.size:
                break
        if not (table > 0).any() or start + 8 * len(table) != end:
            raise InputError("no pattern offsets table (no stored pattern, or not an .ebsp file): export the scan with "
                             "its patterns", self.path)
        return table

    def _record(self, version: int, first: int) -> np.dtype:
        fields = [("is_compressed", "<i4"), ("height", "<i4"), ("width", "<i4"), ("n_bytes", "<i4")]
        if version >= 5:
            fields = [("map_x", "<i4"), ("map_y", "<i4"), *fields]
        header = np.fromfile(self.path, np.dtype(fields), count=1, offset=first)
        if header.size == 0:
            raise InputError(f"file ends before its first pattern (byte {first}): copy or export it again", self.path)
        compressed, height, width, n_bytes = (int(header[0][name]) for name in ("is_compressed", "height",
                                                                                  "width", "n_bytes"))
        if compressed:
            raise InputError("compressed .ebsp patterns cannot be read: export them uncompressed, or as H5OINA",
                             self.path)
        if height <= 0 or width <= 0 or n_bytes not in (height * width, 2 * height * width):
            raise InputError(f"pattern header says {height} x {width} pixels in {n_bytes} bytes: copy or export it "
                             "again", self.path)
        dtype = "u1" if n_bytes == height * width else "<u2"
        return pattern_record(dtype, height, width, fields, self._footer(version, first + header.itemsize + n_bytes))

    def _footer(self, version: int, position: int) -> list:
        if version == 0:
            return []
        if version == 1:
            return [("beam_x", "<f8"), ("beam_y", "<f8")]
        footer = []
        for axis in ("x", "y"):
            footer.append((f"has_beam_{axis}", "?"))
            if read_header(self.path, "?", 1, offset=position)[0]:
                footer.append((f"beam_{axis}", "<f8"))
                position += 8
            position += 1
        return footer

    def _beam_grid(self, layout: BinaryLayout) -> tuple[ScanGrid, str | None]:
        """Map shape and step from the beam positions of the first, second and last map points."""
        n, names = layout.n_records, layout.record.names
        one_row = ScanGrid(1, n, 1.0, 1.0)
        if n < 2 or "beam_x" not in names or "beam_y" not in names:
            return one_row, None
        self._check_size(layout)  # before mapping the records
        order = layout.order if layout.order is not None else np.arange(n)
        records = np.memmap(self.path, dtype=layout.record, mode="r", offset=layout.offset, shape=(n,))
        (x0, y0), (x1, _), (x_last, y_last) = ((float(records[i]["beam_x"]), float(records[i]["beam_y"]))
                                               for i in (order[0], order[1], order[-1]))
        del records
        step = x1 - x0
        if not step > 0:
            return one_row, f"beam positions give no x step ({step:g}): the patterns are placed along one row"
        n_rows, n_columns = round(abs(y_last - y0) / step) + 1, round(abs(x_last - x0) / step) + 1
        if n_rows * n_columns != n:
            return one_row, (f"beam positions give a {n_rows} x {n_columns} map for {n} patterns: the patterns "
                             "are placed along one row")
        return ScanGrid(n_rows, n_columns, step, step), None
