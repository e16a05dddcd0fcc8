"""What the readers with one file per item (images, videos) share: the files, and reading rows."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._checks import check_range
from .base import Reader


class FilesReader(Reader):
    """Item i is `self._load(self.files[i])`; subclasses set `files` and `_info` and load one file."""

    files: list[Path]

    def read(self, partition, start, stop):
        start, stop = check_range(self, partition, start, stop)
        out = np.empty((stop - start, *self._info.item_shape), np.float32)
        for row, path in enumerate(self.files[start:stop]):
            out[row] = self._load(path)  # a grey image in an RGB folder broadcasts to 3 channels
        return out

    def _load(self, path: Path) -> np.ndarray:
        raise NotImplementedError
