"""The point panel's golden cases, tests/data/point_panel_golden.json, made from the Python side: a person writes
the inputs (the panels; each case's shapes, as the browser sends them; the views as dragged; the scale bars' widths;
the overlay's rows) and this writes what they give (ui/widgets/point_panel/): the rows each step leaves selected (a
shape that selects nothing, as a line: its own rows, in order), each view as sent and its rows, each scale bar's
length, the payload, a click map's and the overlay's message as wire.py writes them. tests/app/test_point_panel_golden.py checks
that the file is what this makes now, and tests/js/point_panel.test.mjs that the browser's modules give the same.
After a change of the inputs or of the Python side's arithmetic:

    python tests/golden_panels.py
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from latentcore import figures  # noqa: E402
from latentcore.analysis.maps import Grid  # noqa: E402
from ui.figures import plots  # noqa: E402
from ui.widgets import point_panel  # noqa: E402
from ui.widgets.point_panel.wire import selection_message  # noqa: E402

FILE = REPO / "tests/data/point_panel_golden.json"
TYPES = {"qx": np.uint16, "qy": np.uint16, "cell": np.int32}
DIGESTED = 10_000  # a panel of more rows gives its rows as their count and SHA-256 (as little-endian int32)


def lowbias32(x: np.ndarray) -> np.ndarray:
    """An integer hash (uint32, wrapping): the generated panels' points, as tests/js/point_panel.test.mjs makes them."""
    x = x.astype(np.uint32)
    for shift, factor in ((16, 0x7FEB352D), (15, 0x846CA68B)):
        x = (x ^ (x >> np.uint32(shift))) * np.uint32(factor)
    return x ^ (x >> np.uint32(16))


def arrays(found: dict) -> dict:
    """A golden panel's arrays as they travel: written out, or generated from a seed."""
    if "generated" in found:
        seed, i = found["generated"]["seed"], np.arange(found["generated"]["n"], dtype=np.uint64)
        return {"qx": (lowbias32(seed + 2 * i) >> np.uint32(16)).astype(np.uint16),
                "qy": (lowbias32(seed + 2 * i + 1) >> np.uint32(16)).astype(np.uint16)}
    return {name: np.asarray(values, TYPES[name]) for name, values in found["arrays"].items()}


def panel(golden: dict, name: str) -> point_panel.Geometry:
    """A golden panel's rows where the browser draws them (`wire.positions`), on its pixel grid for a scan map."""
    found = golden["panels"][name]
    g = found["header"].get("grid")
    grid = g and Grid(g["x0"], g["y0"], g["dx"], g["dy"], g["ny"], g["nx"])
    return point_panel.Geometry(*point_panel.positions(found["header"], arrays(found)), grid=grid)


def given(rows: np.ndarray, geometry: point_panel.Geometry):
    """Rows as the file gives them: a list, or their count and digest on a panel of more than DIGESTED rows."""
    if len(geometry.x) <= DIGESTED:
        return np.asarray(rows).tolist()
    return {"count": len(rows), "sha256": hashlib.sha256(np.asarray(rows, "<i4").tobytes()).hexdigest()}


def steps(golden: dict, case: dict) -> list:
    """A case's steps, each with the rows it leaves selected (a shape that selects nothing: its own, in order)."""
    geometry, current, made = panel(golden, case["panel"]), np.empty(0, np.int64), []
    for step in case["steps"]:
        shape = point_panel.read_shape(step["shape"])  # as the browser sends it: checked first
        rows = point_panel.rows_in(shape, geometry)
        if point_panel.TOOLS[shape["shape"]].selects:
            current = rows = point_panel.combine(shape["op"], rows, current)
        made.append({"shape": step["shape"], "rows": given(rows, geometry)})
    return made


def view(golden: dict, case: dict) -> dict:
    """A view as dragged, as the browser sends it (each range from low to high: what read_view reads), and its rows."""
    dragged = case["view"]
    sent = {"x0": min(dragged["x0"], dragged["x1"]), "x1": max(dragged["x0"], dragged["x1"]),
            "y0": min(dragged["y0"], dragged["y1"]), "y1": max(dragged["y0"], dragged["y1"])}
    geometry = panel(golden, case["panel"])
    rows = point_panel.rows_in_view(point_panel.read_view(sent), geometry.x, geometry.y)
    return {**case, "sent": sent, "rows": given(rows, geometry)}


def payload(golden: dict) -> str:
    """The scatter panel as wire.py writes it (its header holds the contract), in base64."""
    scatter = golden["panels"]["scatter"]
    data = arrays(scatter)
    return base64.b64encode(point_panel.payload({**scatter["header"], "n": len(data["qx"])}, data)).decode()


def grid_payload() -> str:
    """A 6 x 4 scan map whose rows are its grid's cells in order, as wire.py writes it (no `cell`), in base64."""
    from latentcore.analysis.maps import Grid

    _, header, data = point_panel.grid_geometry(Grid(10, 20, 1.5, 2, 4, 6), np.divmod(np.arange(24), 6))
    return base64.b64encode(point_panel.payload({**header, "n": 24}, data)).decode()


def click_map() -> dict:
    """A 6 x 4 scan map's values as a click map sends them (element.py's message): no codes, the browser makes them
    (ends, beyond them, halves that round to even, NaN and infinities), and the codes Python gives them."""
    values = np.array([0, 0.5, 1.5, 2.5, 253.5, 254, 300, -3, np.nan, np.inf, -np.inf, 127.25, 1e-7, 100.5,
                       *np.linspace(-1, 255, 10)], np.float32)
    colour = plots.continuous_colour(values, "v", vmin=0.0, vmax=254.0)
    points = point_panel.grid_geometry(Grid(10, 20, 1.5, 2, 4, 6), np.divmod(np.arange(24), 6))
    sent = point_panel.message("click", points, colour, group="click", values=values)
    return {"payload": base64.b64encode(sent).decode(), "codes": colour.codes.tolist()}


def overlay(case: dict) -> dict:
    """A selection of `n` rows as a group's overlay carries it (element.py's overlay: what decodeMask reads)."""
    rows = np.asarray(case["rows"], np.int64)
    return {**case, "message": {"n": case["n"], "count": len(rows), **selection_message(case["n"], rows)}}


def made(golden: dict) -> dict:
    """The golden file from its inputs: what each gives, made now."""
    return {**golden, "cases": [{**case, "steps": steps(golden, case)} for case in golden["cases"]],
            "views": [view(golden, case) for case in golden["views"]],
            "payload": payload(golden), "grid_payload": grid_payload(), "click_map": click_map(),
            "overlay": overlay(golden["overlay"]),
            "scale_bars": [{**bar, "length": figures.nice_length(bar["span"])} for bar in golden["scale_bars"]]}


def text(golden: dict) -> str:
    """The file's text: indented by one space a level, a list of numbers or strings on one line."""
    def one_line(found):
        return "[" + re.sub(r",\n\s*", ", ", found.group(1)) + "]"
    return re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]", one_line, json.dumps(golden, indent=1, ensure_ascii=False)) + "\n"


if __name__ == "__main__":
    FILE.write_text(text(made(json.loads(FILE.read_text()))))
    print(f"wrote {FILE.relative_to(REPO)}")
