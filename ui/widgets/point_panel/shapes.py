"""Selection arithmetic, as shapes.mjs does it in the browser: the checks every message from the browser goes
through (a browser is not trusted: `numbers`, `whole`, `read_view`), the even-odd rule of a polygon over the
coordinates the browser drew (`in_polygon`, a lasso's), the rows in a view, and a shape's rows combined with the
selection (`combine`). The tools that make shapes, each with its check and its rows, are in tools.py."""
from __future__ import annotations

import reprlib

import numpy as np

from latentcore.arrays import unique
from latentcore.errors import InputError

# how a shape combines with the selection, in this order (tools.mjs reads them so from the contract): a plain
# shape replaces it, Shift adds to it, Alt or Ctrl removes from it
OPS = ("replace", "add", "remove")
_VIEW = ("x0", "x1", "y0", "y1")
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 24
_REPR.maxlist = _REPR.maxdict = 3
shown = _REPR.repr  # a hostile value, in a few characters


def whole(value) -> bool:
    """An integer, not a bool, a float or a string."""
    return type(value) is int


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numbers(values, what: str, least: int, most: int) -> np.ndarray:
    """`values` (`what`: "a box whose x") as float64: a list of `least` to `most` finite numbers, else InputError."""
    if not isinstance(values, list) or not least <= len(values) <= most:
        size = f"{len(values):,} values" if isinstance(values, list) else shown(values)
        counts = f"{least}" if least == most else f"{least} to {most:,}"
        raise InputError(f"{what} is {size}: it needs a list of {counts} numbers")
    if not all(_number(v) for v in values):
        wrong = next(v for v in values if not _number(v))
        raise InputError(f"{what} holds {shown(wrong)}, not a number")
    try:
        array = np.array(values, np.float64)
    except OverflowError:  # an integer beyond float64
        array = np.array([np.inf])
    if not np.isfinite(array).all():
        raise InputError(f"{what} holds a value that is not a finite number")
    return array


def read_view(message) -> dict:
    """A zoomable panel's view from the browser, {x0, x1, y0, y1}: finite numbers, not empty (x0 < x1, y0 < y1);
    anything else raises InputError."""
    if not isinstance(message, dict) or set(message) != set(_VIEW):
        raise InputError(f"a view that is {shown(message)}: it needs x0, x1, y0 and y1")
    wrong = [name for name in _VIEW if not _number(message[name])]
    if wrong:
        raise InputError(f"a view whose {wrong[0]} is {shown(message[wrong[0]])}, not a number")
    view = {name: float(message[name]) for name in _VIEW}
    if not (all(np.isfinite(v) for v in view.values()) and view["x0"] < view["x1"] and view["y0"] < view["y1"]):
        raise InputError(f"a view from x {view['x0']:g} to {view['x1']:g}, y {view['y0']:g} to {view['y1']:g}: "
                         "it needs finite edges, each range from low to high")
    return view


def rows_in_view(view: dict, x, y) -> np.ndarray:
    """The rows inside a view (its edges included), as a box holds them."""
    return np.flatnonzero((x >= view["x0"]) & (x <= view["x1"]) & (y >= view["y0"]) & (y <= view["y1"]))


def in_polygon(x, y, xs, ys) -> np.ndarray:
    """Which points (x, y) are inside the polygon of vertices (xs, ys), by the even-odd rule within the vertices'
    bounds: a point is inside when an odd number of edges cross the horizontal line through it on its left. As in
    shapes.mjs, the points are put in horizontal bands and each edge tests only the points of the bands its y span
    covers (an edge that does not span a point's y cannot cross its line), so the work grows with the points near
    each edge, not with the vertices times the points."""
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
        raise InputError(f"a selection that would {shown(op)} rows: it may only {', '.join(OPS)}")
    return unique(rows)
