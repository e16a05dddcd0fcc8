"""ulmo/Nenya preprocessed cutouts: `valid` and/or `train` float32 (N, 1, H, W), with
`<partition>_metadata` byte tables (N, ncols) whose `columns` attribute names the columns."""
from __future__ import annotations

import h5py

from ..errors import InputError
from ._hdf5 import H5Reader, byte_table_columns, read_byte_table, sniff_h5
from .base import SourceInfo, register

PARTITIONS = ("valid", "train")


def _is_cutouts(f: h5py.File, name: str) -> bool:
    return isinstance(f.get(name), h5py.Dataset) and f[name].ndim in (3, 4)


@register
class NenyaReader(H5Reader):
    format_name = "nenya"
    title = "preprocessed cutouts (Nenya, ulmo)"
    extensions = (".h5", ".hdf5")
    description = "preprocessed cutouts (ulmo/Nenya): valid/train (N, 1, H, W) with metadata tables"

    @classmethod
    def sniff(cls, path):
        return sniff_h5(path, lambda f: any(_is_cutouts(f, p) for p in PARTITIONS))

    def _describe(self, f):
        present = [p for p in PARTITIONS if p in f]
        if not present:
            raise InputError("not a preprocessed cutout file: no 'valid' or 'train' dataset; give the file "
                             "preprocessing wrote", self.path)
        shapes = {p: self._check_cutouts(f, p) for p in present}
        item_shapes = {shape[1:] for shape in shapes.values()}
        if len(item_shapes) > 1:
            raise InputError(f"'valid' and 'train' cutouts differ in shape: {shapes}; preprocess them again alike",
                             self.path)
        columns = []
        for p in present:
            for column in byte_table_columns(f, f"{p}_metadata", shapes[p][0], self.path):
                if column not in columns:
                    columns.append(column)
        return SourceInfo(path=str(self.path), format=self.format_name,
                          partitions={p: shapes[p][0] for p in present}, item_shape=item_shapes.pop(),
                          dtype=str(f[present[0]].dtype), metadata_columns=columns)

    def _check_cutouts(self, f, partition) -> tuple[int, ...]:
        shape = self.require(partition).shape
        if len(shape) == 3:  # (N, H, W): one channel, as the models take it
            return (shape[0], 1, *shape[1:])
        if len(shape) != 4:
            raise InputError(f"dataset {partition!r} must be (N, 1, H, W), got shape {shape}: save the cutouts so",
                             self.path)
        return shape

    def _dataset_name(self, partition):
        return partition

    def metadata(self, partition):
        self.count(partition)  # an unknown partition is an error, not None
        name = f"{partition}_metadata"
        return read_byte_table(self.file[name]) if name in self.file else None
