"""Oxford Instruments H5OINA: `<n>/EBSD/Data/{Processed Patterns, Band Contrast, X, Y, ...}` and
`<n>/EBSD/Header/{X Cells, Y Cells, X Step, Y Step}` (scans are numbered groups "1", "2", ...)."""
from __future__ import annotations

from . import orientations
from ._scan import ScanReader
from .base import register


@register
class OxfordReader(ScanReader):
    format_name = "oxford"
    title = "Oxford H5OINA"
    extensions = (".h5oina", ".h5")
    description = "EBSD scan in Oxford Instruments' H5OINA layout (Band Contrast as a scan map)"
    patterns = ("EBSD/Data/Processed Patterns", "EBSD/Data/Unprocessed Patterns")  # processed first
    header = ("Y Cells", "X Cells", "X Step", "Y Step")  # rows are Y cells
    stored_background = "EBSD/Header/Processed Static Background"

    def _extras(self, scan):
        data = f"{scan}/EBSD/Data"
        return {"x": f"{data}/X", "y": f"{data}/Y", "maps_group": data, "not_maps": ("X", "Y"),
                "map_names": ("Band Contrast", "Band Slope", "Mean Angular Deviation", "MAD", "Pattern Quality")}

    def _orientations(self, f, n):
        scan = self.layout.scan
        return orientations.oxford(f, f"{scan}/EBSD/Data", f"{scan}/EBSD/Header", n, self.path)
