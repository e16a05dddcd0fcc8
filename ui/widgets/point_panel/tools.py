"""The panel tools' Python side, one class each (their browser side: the class of the same name in tools.mjs), in one
table, `TOOLS`, from which the contract takes its shapes and the fields a shape message may hold: each tool's
message checked by type and size before use (`read_shape`: a browser is not trusted) and resolved to its rows over
the coordinates the browser drew, with the browser's arithmetic (`rows_in`), so both sides find the same rows."""
from __future__ import annotations

import numpy as np

from latentcore.analysis.profile import Line as Segment, rows_along
from latentcore.errors import InputError

from .shapes import OPS, in_polygon, numbers, shown, whole

MAX_VERTICES = 5_000  # a lasso's vertices at most: the browser simplifies a longer one, Python refuses it
COMMON_KEYS = ("shape", "op", "x", "y", "count")  # the fields of every shape message (count: the rows it took)


class Tool:
    """A way to select on a point panel, or to draw on one: the shape it sends, checked (`points`, `read`), and the
    rows it takes over a panel's rows as drawn (`rows`)."""
    name = ""  # its shape's name: in its messages, the contract and tools.mjs's table
    points = (1, 1)  # how many x (and y) values its message holds: least, most
    fields: tuple[str, ...] = ()  # the fields of its message besides COMMON_KEYS
    selects = True  # its rows are a selection, combined with the session's; else the page keeps the shape

    def read(self, message: dict) -> dict:
        """Its own fields of a message (`fields`), checked."""
        return {}

    def rows(self, shape: dict, geometry) -> np.ndarray:
        """The rows it takes over `geometry` (a `geometry.Geometry`), as tools.mjs finds them in the browser."""
        raise NotImplementedError


class Box(Tool):
    """From the press to the release, low to high: it holds its edges (one from high to low holds nothing)."""
    name, points = "box", (2, 2)

    def rows(self, shape, geometry):
        (x0, x1), (y0, y1), x, y = shape["x"], shape["y"], geometry.x, geometry.y
        return np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))


class Lasso(Tool):
    """The path drawn, 3 to MAX_VERTICES vertices: the rows inside by the even-odd rule within its bounds."""
    name, points = "lasso", (3, MAX_VERTICES)

    def rows(self, shape, geometry):
        return np.flatnonzero(in_polygon(geometry.x, geometry.y, shape["x"], shape["y"]))


class Click(Tool):
    """A press that hardly moves, with any tool: the row drawn nearest it (`row`; on a binned panel, a cell's
    position, whose row nearest the click is taken)."""
    name, fields = "click", ("row",)

    def read(self, message):
        row = message.get("row")
        if not whole(row) or row < 0:
            raise InputError(f"a click on row {shown(row)}, not a row number")
        return {"row": row}

    def rows(self, shape, geometry):
        row = shape["row"]
        if row >= geometry.drawn:
            raise InputError(f"a click on row {row:,}: there are {geometry.drawn:,} rows")
        if geometry.binned is not None:
            row = geometry.binned.nearest_row(row, geometry.x, geometry.y, (shape["x"][0], shape["y"][0]))
        return np.array([row], np.int64)


class Line(Tool):
    """On a scan map only, from its first point to its last: it selects nothing; its rows, on the pixels it passes
    through in order from its first point (latentcore/analysis/profile.py's `line_cells`), are the page's line
    profile."""
    name, points, selects = "line", (2, 2), False

    def rows(self, shape, geometry):
        if geometry.grid is None:
            raise InputError("a line on a panel that is not a scan map: a line is drawn on a scan")
        (x0, x1), (y0, y1), grid = shape["x"], shape["y"], geometry.grid
        return rows_along(Segment(x0, y0, x1, y1), grid, grid.indices(geometry.x, geometry.y))


TOOLS = {tool.name: tool for tool in (Box(), Lasso(), Click(), Line())}
SHAPE_KEYS = COMMON_KEYS + tuple(field for tool in TOOLS.values() for field in tool.fields)


def read_shape(message) -> dict:
    """A shape message from the browser ({shape, op, x, y, count} and its tool's own fields) as a shape: x and y
    float64 arrays, the op (replace when none) and its tool's fields, checked by type and size: a dict of
    SHAPE_KEYS, a tool's name, an op of OPS, a whole count, x and y lists of finite numbers in pairs, as many as the
    tool's `points`, and its own fields (`Tool.read`). Anything else raises InputError."""
    if not isinstance(message, dict):
        raise InputError(f"a selection that is {shown(message)}, not a shape")
    extra = [k for k in message if k not in SHAPE_KEYS]
    if extra:
        raise InputError(f"a selection with unknown fields {shown(extra)}")
    name, op = message.get("shape"), message.get("op", OPS[0])
    if not isinstance(name, str) or name not in TOOLS:
        raise InputError(f"a selection of unknown shape {shown(name)}: it may be a {', '.join(TOOLS)}")
    if not isinstance(op, str) or op not in OPS:
        raise InputError(f"a selection that would {shown(op)} rows: it may only {', '.join(OPS)}")
    count = message.get("count", 0)
    if not whole(count):
        raise InputError(f"a selection whose count is {shown(count)}, not a whole number")
    tool = TOOLS[name]
    x, y = (numbers(message.get(axis), f"a {name} whose {axis}", *tool.points) for axis in "xy")
    if len(x) != len(y):
        raise InputError(f"a {name} of {len(x):,} x and {len(y):,} y values: it needs pairs")
    return {"shape": name, "op": op, "x": x, "y": y, **tool.read(message)}


def rows_in(shape: dict, geometry) -> np.ndarray:
    """The rows a shape (`read_shape`'s) takes over `geometry` (a `geometry.Geometry`): its tool's `rows`. A click
    beyond the rows drawn, or a line on a panel that is not a scan map, raises InputError."""
    return TOOLS[shape["shape"]].rows(shape, geometry)
