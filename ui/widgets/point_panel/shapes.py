"""Selection arithmetic, as shapes.mjs does it in the browser: the messages a panel sends checked by type and size
before use (`read_shape`, `read_view`: a browser is not trusted), a shape resolved to the rows inside it over the
coordinates the browser drew (`rows_in`; a line to the rows along it, in order), and combined with the selection
(`combine`)."""
from __future__ import annotations

import reprlib

import numpy as np

from latentcore.analysis.profile import Line, rows_along
from latentcore.arrays import unique
from latentcore.errors import InputError

from .contract import CONTRACT, MAX_VERTICES, OPS, SHAPES

# how many x (and y) values a shape has: a line's are its first point and its last
_VALUES = {"box": (2, 2), "click": (1, 1), "lasso": (3, MAX_VERTICES), "line": (2, 2)}
_VIEW = ("x0", "x1", "y0", "y1")
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 24
_REPR.maxlist = _REPR.maxdict = 3
_shown = _REPR.repr  # a hostile value, in a few characters


def read_shape(message) -> dict:
    """A selection message from the browser as a shape ({shape, op, x, y, row}: x and y float64 arrays), checked
    by type and size: a dict of the contract's keys, a known shape and op, x and y lists of finite numbers in pairs
    (a box 2, a click 1, a lasso 3 to MAX_VERTICES, a line 2: its first point and its last), a click's row an
    integer. Anything else raises InputError."""
    if not isinstance(message, dict):
        raise InputError(f"a selection that is {_shown(message)}, not a shape")
    extra = [k for k in message if k not in CONTRACT["shape_keys"]]
    if extra:
        raise InputError(f"a selection with unknown fields {_shown(extra)}")
    kind, op = message.get("shape"), message.get("op", "replace")
    if not isinstance(kind, str) or kind not in SHAPES:
        raise InputError(f"a selection of unknown shape {_shown(kind)}: it may be a {', '.join(SHAPES)}")
    if not isinstance(op, str) or op not in OPS:
        raise InputError(f"a selection that would {_shown(op)} rows: it may only {', '.join(OPS)}")
    count = message.get("count", 0)
    if not _integer(count):
        raise InputError(f"a selection whose count is {_shown(count)}, not a whole number")
    shape = {"shape": kind, "op": op, "x": _numbers(message, "x", kind), "y": _numbers(message, "y", kind)}
    if len(shape["x"]) != len(shape["y"]):
        raise InputError(f"a {kind} of {len(shape['x']):,} x and {len(shape['y']):,} y values: it needs pairs")
    if kind == "click":
        row = message.get("row")
        if not _integer(row) or row < 0:
            raise InputError(f"a click on row {_shown(row)}, not a row number")
        shape["row"] = row
    return shape


def _integer(value) -> bool:
    return type(value) is int  # not a bool, a float or a string


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(message: dict, name: str, kind: str) -> np.ndarray:
    values, (least, most) = message.get(name), _VALUES[kind]
    if not isinstance(values, list) or not least <= len(values) <= most:
        size = f"{len(values):,} values" if isinstance(values, list) else _shown(values)
        counts = f"{least}" if least == most else f"{least} to {most:,}"
        raise InputError(f"a {kind} whose {name} is {size}: it needs a list of {counts} numbers")
    if not all(_number(v) for v in values):
        wrong = next(v for v in values if not _number(v))
        raise InputError(f"a {kind} whose {name} holds {_shown(wrong)}, not a number")
    try:
        array = np.array(values, np.float64)
    except OverflowError:  # an integer beyond float64
        array = np.array([np.inf])
    if not np.isfinite(array).all():
        raise InputError(f"a {kind} whose {name} holds a value that is not a finite number")
    return array


def read_view(message) -> dict:
    """A zoomable panel's view from the browser, {x0, x1, y0, y1}: finite numbers, not empty (x0 < x1, y0 < y1);
    anything else raises InputError."""
    if not isinstance(message, dict) or set(message) != set(_VIEW):
        raise InputError(f"a view that is {_shown(message)}: it needs x0, x1, y0 and y1")
    wrong = [name for name in _VIEW if not _number(message[name])]
    if wrong:
        raise InputError(f"a view whose {wrong[0]} is {_shown(message[wrong[0]])}, not a number")
    view = {name: float(message[name]) for name in _VIEW}
    if not (all(np.isfinite(v) for v in view.values()) and view["x0"] < view["x1"] and view["y0"] < view["y1"]):
        raise InputError(f"a view from x {view['x0']:g} to {view['x1']:g}, y {view['y0']:g} to {view['y1']:g}: "
                         "it needs finite edges, each range from low to high")
    return view


def rows_in(shape: dict, geometry) -> np.ndarray:
    """Row ids inside a shape (`read_shape`'s), over `geometry` (a `geometry.Geometry`), with shapes.mjs's
    arithmetic: a box holds its edges; a lasso is the even-odd rule within the vertices' bounds; a click is its
    row (on a binned panel, its cell's row nearest the click); a line, on a scan map only, the rows on the pixels
    it passes through, in order from its first point (`latentcore.analysis.profile.line_cells`). A click beyond
    the rows drawn, or a line on a panel that is not a scan map, raises InputError."""
    x, y, xs, ys = geometry.x, geometry.y, shape["x"], shape["y"]
    if shape["shape"] == "line":
        if geometry.grid is None:
            raise InputError("a line on a panel that is not a scan map: a line is drawn on a scan")
        grid = geometry.grid
        return rows_along(Line(xs[0], ys[0], xs[1], ys[1]), grid, grid.indices(x, y))
    if shape["shape"] == "click":
        row = shape["row"]
        if row >= geometry.drawn:
            raise InputError(f"a click on row {row:,}: there are {geometry.drawn:,} rows")
        if geometry.binned is not None:
            row = geometry.binned.nearest_row(row, x, y, (xs[0], ys[0]))
        return np.array([row], np.int64)
    if shape["shape"] == "box":
        return np.flatnonzero((x >= xs[0]) & (x <= xs[1]) & (y >= ys[0]) & (y <= ys[1]))
    return np.flatnonzero(_in_polygon(x, y, xs, ys))


def rows_in_view(view: dict, x, y) -> np.ndarray:
    """The rows inside a view (its edges included), as a box holds them."""
    return np.flatnonzero((x >= view["x0"]) & (x <= view["x1"]) & (y >= view["y0"]) & (y <= view["y1"]))


def _in_polygon(x, y, xs, ys) -> np.ndarray:
    """The even-odd rule: a point is inside when an odd number of edges cross the horizontal line through it on
    its left. As in shapes.mjs, the points are put in horizontal bands and each edge tests only the points of the
    bands its y span covers (an edge that does not span a point's y cannot cross its line), so the work grows with
    the points near each edge, not with the vertices times the points."""
    near = np.flatnonzero((x >= xs.min()) & (x <= xs.max()) & (y >= ys.min()) & (y <= ys.max()))
    bands = 1 if len(xs) < 8 else min(2 * len(xs), 4096)  # a few edges: each tests every point, nothing sorted
    low, height = ys.min(), (ys.max() - ys.min()) / bands or 1.0

    def band(values):  # never smaller for a larger value: the points of [a, b) lie in bands band(a) to band(b)
        return np.minimum(((values - low) / height).astype(np.int64), bands - 1)
    starts = np.array([0, len(near)])  # where each band's points start
    if bands > 1:
        in_band = band(y[near])
        by_band = np.argsort(in_band.astype(np.uint16), kind="stable")  # a radix sort: one pass
        near, starts = near[by_band], np.searchsorted(in_band[by_band], np.arange(bands + 1))
    px, py = x[near], y[near]
    odd = np.zeros(len(near), bool)
    for i in range(len(xs)):
        j = i - 1  # the previous vertex; the first edge closes the polygon
        if ys[i] == ys[j]:
            continue
        first, last = band(np.array([min(ys[i], ys[j]), max(ys[i], ys[j])]))
        part = slice(starts[first], starts[last + 1])
        qx, qy = px[part], py[part]
        odd[part] ^= ((ys[i] > qy) != (ys[j] > qy)) & (qx < (xs[j] - xs[i]) * (qy - ys[i]) / (ys[j] - ys[i]) + xs[i])
    inside = np.zeros(len(x), bool)
    inside[near] = odd
    return inside


def combine(op: str, rows: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The new selection: `rows` (replace), or `rows` added to or removed from `current`."""
    if op == "add":
        return unique(np.concatenate([current, rows]))
    if op == "remove":
        return np.setdiff1d(current, rows)
    if op != "replace":
        raise InputError(f"a selection that would {_shown(op)} rows: it may only {', '.join(OPS)}")
    return unique(rows)
