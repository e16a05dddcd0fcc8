"""One point panel for every scatter and scan map: a Streamlit component whose browser side draws every row on a 2D
canvas and selects by box, lasso or click (Shift adds, Alt or Ctrl removes), drawn at once on every panel of its
group (the linked panels of a page: the same rows), then sent to Python once, as its shape; on a scan map (which
has a scale bar) a line is drawn the same way, for the page's line profile. A declared protocol
(`contract.CONTRACT`, sent in every header), one module a job on each side:

| job | Python | browser |
|---|---|---|
| the protocol | `contract.py` | read from the header |
| the wire format: one binary message a panel, the overlay's selection | `wire.py` | `wire.mjs` |
| where rows are drawn: quantised, on grid cells, binned above MAX_POINTS | `geometry.py` | (`wire.mjs`: positions) |
| the tools, one class each (`TOOLS`): a message checked, its rows; the pointer, outline | `tools.py` | `tools.mjs` |
| selection arithmetic: checks, a polygon's rows, a line's pixels, combined | `shapes.py` | `shapes.mjs` |
| drawing | | `drawing.mjs` |
| the element | `element.py` | `element.mjs` (and `point_panel.css`) |

Every message from the browser is checked before use (`tools.read_shape`, `shapes.read_view`);
tests/data/point_panel_golden.json holds the cases both sides must resolve alike. More in docs/architecture.md.
"""
from .contract import CONTRACT, MAX_VERTICES
from .element import colour_header, draw, message, overlay, overlays
from .geometry import Binned, Geometry, grid_geometry, scatter_geometry, zoomed
from .shapes import combine, read_view, rows_in_view
from .tools import TOOLS, read_shape, rows_in
from .wire import payload, positions, read_payload

__all__ = ["CONTRACT", "MAX_VERTICES", "TOOLS", "Binned", "Geometry", "colour_header", "combine", "draw",
           "grid_geometry", "message", "overlay", "overlays", "payload", "positions", "read_payload", "read_shape",
           "read_view", "rows_in", "rows_in_view", "scatter_geometry", "zoomed"]
