"""The point panel's protocol, declared once: what the Python side and the browser side (the .mjs modules beside)
agree on. Every panel's header carries it (`contract`), and the browser reads these values from there."""
from __future__ import annotations

from latentcore import figures

from ...figures import plots

MAX_VERTICES = 5_000  # a lasso's vertices at most: the browser simplifies a longer one, Python refuses it
OPS = ("replace", "add", "remove")  # how a shape combines with the selection: plain, Shift, Alt or Ctrl
# a line (from its first point to its last, on a scan map) selects nothing: its pixels, in order by the rule of
# latentcore/analysis/profile.py (`lineCells` in shapes.mjs), are the page's line profile
SHAPES = ("box", "lasso", "click", "line")

CONTRACT = {
    "version": 1,
    # a scatter's x and y travel as uint16 steps over [low, high]: x = low + q * ((high - low) / levels), float64
    "levels": plots.LEVELS,
    # each array's element types (little-endian uint8, uint16, int32, float32), listed in the header with its offset
    # in the body (a multiple of `align` bytes) and its count
    "arrays": {"qx": ["u16"], "qy": ["u16"], "cell": ["i32"], "count": ["i32"], "codes": ["u8", "u16"],
               "values": ["f32"], "row_ids": ["i32"], "lines_x": ["f32"], "lines_y": ["f32"]},
    "align": 4,
    # a selection as a bit field: row i is bit i % 8 of byte i // 8 (numpy's packbits(bitorder="little"))
    "mask_bit_order": "little",
    # the colour code of a row or cell without a value, counted from the palette's end: its last entry
    "nan_code": -1,
    # the plot's margins in the canvas (CSS pixels), for the axes' ticks and titles
    "margin": {"left": 62, "right": 14, "top": 30, "bottom": 44},
    "shapes": list(SHAPES),
    "ops": list(OPS),
    "max_vertices": MAX_VERTICES,
    # what a shape message (a selection) may hold; a view message is {x0, x1, y0, y1}
    "shape_keys": ["shape", "op", "x", "y", "row", "count"],
    # a scan map's scale bar: the largest step times a power of ten within this fraction of the map's visible width
    # (latentcore.figures.nice_length)
    "scale_bar": {"fraction": figures.SCALE_BAR_FRACTION, "steps": list(figures.SCALE_BAR_STEPS)},
}
