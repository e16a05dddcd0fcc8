"""The point panel's protocol, in one place: what the Python side and the browser side (the .mjs modules beside)
agree on. Every panel's header carries it (`contract`), and the browser reads these values from there. The shapes
and the fields a shape message may hold are the tools' (tools.py's `TOOLS`: a new tool is a class there), the ops
shapes.py's."""
from __future__ import annotations

from latentcore import figures

from ...figures import plots
from .shapes import OPS
from .tools import MAX_VERTICES, SHAPE_KEYS, TOOLS

CONTRACT = {
    "version": 1,
    # a scatter's x and y travel as uint16 steps over [low, high]: x = low + q * ((high - low) / levels), float64
    "levels": plots.LEVELS,
    # each array's element types (little-endian uint8, uint16, int32, float32), listed in the header with its offset
    # in the body (a multiple of `align` bytes) and its count
    "arrays": {"qx": ["u16"], "qy": ["u16"], "cell": ["i32"], "count": ["i32"], "codes": ["u8", "u16"],
               "values": ["f32"], "row_ids": ["i32"], "lines_x": ["f32"], "lines_y": ["f32"]},
    # a scan map whose rows are its grid's cells in order (cell i is row i) sends no `cell` (4 bytes a pixel), and a
    # panel of every row in order no `row_ids`: the browser takes row i for both
    "in_order": "cells_in_order",
    # a continuous colour's codes do not travel beside its values when the browser makes the same ones of them
    # (a scan map's click map: 4 bytes a pixel): rint(clip((value - low) / (high - low), 0, 1) * colour_steps), a
    # span of 0 counted as 1, where low and high are the colour bar's; colour_steps + 1 where a value is not finite
    "codes_from_values": "codes_from_values",
    "colour_steps": plots.COLOUR_STEPS,
    "align": 4,
    # a selection as a bit field: row i is bit i % 8 of byte i // 8 (numpy's packbits(bitorder="little"))
    "mask_bit_order": "little",
    # the colour code of a row or cell without a value, counted from the palette's end: its last entry
    "nan_code": -1,
    # the plot's margins in the canvas (CSS pixels), for the axes' ticks and titles
    "margin": {"left": 62, "right": 14, "top": 30, "bottom": 44},
    # the tools' shapes; how a shape combines with the selection, in OPS's order: plain, Shift, Alt or Ctrl
    "shapes": list(TOOLS),
    "ops": list(OPS),
    "max_vertices": MAX_VERTICES,
    # what a shape message may hold (every tool's fields); a view message is {x0, x1, y0, y1}
    "shape_keys": list(SHAPE_KEYS),
    # a scan map's scale bar: the largest step times a power of ten within this fraction of the map's visible width
    # (latentcore.figures.nice_length)
    "scale_bar": {"fraction": figures.SCALE_BAR_FRACTION, "steps": list(figures.SCALE_BAR_STEPS)},
}
