"""EBSD patterns simulated by EMsoft's EMEBSD program: `EMData/EBSD/EBSDPatterns` (N, sy, sx), with
`EMheader/EBSD/ProgramName` = EMEBSD.f90 and the declared pattern size in
`NMLparameters/EBSDNameList/{numsy, numsx}`. Simulated patterns have no scan positions: they are one
row of N points, step 1 (the pattern index), as kikuchipy's crystal map has them."""
from __future__ import annotations

from ..errors import InputError
from ._hdf5 import header_value, sniff_h5
from . import orientations
from ._scan import ScanLayout, ScanReader
from .base import register

PATTERNS = "EMData/EBSD/EBSDPatterns"
NAME_LIST = "NMLparameters/EBSDNameList"


@register
class EmsoftReader(ScanReader):
    format_name = "emsoft"
    title = "EMsoft HDF5"
    extensions = (".h5", ".hdf5")
    description = "EBSD patterns simulated by EMsoft's EMEBSD (one row, positions = pattern index)"

    @classmethod
    def sniff(cls, path):
        return sniff_h5(path, lambda f: PATTERNS in f and "EMheader/EBSD/ProgramName" in f)

    def _layout(self, f):
        program = header_value(f["EMheader/EBSD"], "ProgramName")
        if program != "EMEBSD.f90":
            raise InputError(f"EMsoft file written by {program!r}, not EMEBSD.f90's simulated patterns: give EMEBSD's "
                             "output", self.path)
        patterns = self.require(PATTERNS)
        if patterns.ndim == 3 and NAME_LIST in f:
            declared = tuple(header_value(f[NAME_LIST], name) for name in ("numsy", "numsx"))
            if None not in declared and tuple(map(int, declared)) != patterns.shape[1:]:
                raise InputError(f"{NAME_LIST} declares {declared[0]} x {declared[1]} patterns but {PATTERNS!r} "
                                 f"holds {patterns.shape[1]} x {patterns.shape[2]}: run EMEBSD again", self.path)
        return ScanLayout("EMData", PATTERNS, 1, patterns.shape[0] if patterns.ndim else 0, 1.0, 1.0)

    def _orientations(self, f, n):
        return orientations.emsoft(f, n, self.path)
