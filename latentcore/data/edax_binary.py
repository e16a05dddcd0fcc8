"""EDAX TSL binary patterns, `.up1` (uint8) and `.up2` (uint16): a header of uint32 version, pattern
width, height and the byte offset of the first pattern; from version 3 on also the map width and
height (uint32 at byte 17), a hexagonal-grid flag (byte 25) and the x, y steps (float64 at byte 26).
Version 1 stores no map shape: its patterns are one row. A hexagonal grid is also read as one row,
with a warning, as kikuchipy reads it. Version 2 is refused (kikuchipy and PyEBSDIndex do the same)."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._binary import BinaryLayout, BinaryScanReader, pattern_record, read_header
from ._scan import ScanGrid
from .base import register

DTYPES = {".up1": np.uint8, ".up2": np.uint16}


@register
class EdaxBinaryReader(BinaryScanReader):
    format_name = "edax_binary"
    title = "EDAX UP1/UP2"
    extensions = tuple(DTYPES)
    description = "EDAX TSL binary patterns (.up1 uint8, .up2 uint16)"

    @classmethod
    def sniff(cls, path):
        if not path.is_file() or path.suffix.lower() not in DTYPES:
            return False
        version, width, height, offset = read_header(path, "<u4", 4)
        return 1 <= version <= 100 and width > 0 and height > 0 and offset >= 16

    def _layout(self):
        version, width, height, offset = map(int, read_header(self.path, "<u4", 4))
        if version == 2:
            raise InputError("UP file version 2 cannot be read: export the patterns as version 1, 3 or later, or as "
                             "EDAX h5", self.path)
        record = pattern_record(np.dtype(DTYPES[self.path.suffix.lower()]).newbyteorder("<"), height, width)
        in_file = max(self.path.stat().st_size - offset, 0) // record.itemsize
        if version == 1:
            return BinaryLayout(offset, record, in_file, ScanGrid(1, in_file, 1.0, 1.0))
        n_columns, n_rows = map(int, read_header(self.path, "<u4", 2, offset=17))
        hexagonal = bool(read_header(self.path, "u1", 1, offset=25)[0])
        step_x, step_y = map(float, read_header(self.path, "<f8", 2, offset=26))
        if hexagonal:
            return BinaryLayout(offset, record, in_file, ScanGrid(1, in_file, step_x, step_y),
                                warnings=[f"hexagonal grid ({n_rows} rows of about {n_columns}): the {in_file} "
                                          "patterns are placed along one row, as kikuchipy does"])
        return BinaryLayout(offset, record, n_rows * n_columns, ScanGrid(n_rows, n_columns, step_x, step_y))
