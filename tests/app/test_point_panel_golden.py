"""Both sides of the point panel give the same rows: the golden cases of tests/data/point_panel_golden.json (points,
boxes, lassos, self-intersecting and degenerate ones, Shift and Alt, views, a generated million, lines on scan maps)
resolved here by the Python side, and by the browser's own modules in node (tests/js/, run here with `node --test`);
and the same scale bar on a scan map."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from latentcore import figures
from latentcore.analysis.maps import Grid
from latentcore.errors import InputError
from ui.widgets import point_panel
from ui.widgets.point_panel import element
from ui.widgets.point_panel.wire import selection_message

REPO = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((REPO / "tests/data/point_panel_golden.json").read_text())
NODE = shutil.which("node")
NO_NODE = pytest.mark.skipif(NODE is None and not os.environ.get("CI"), reason="no node (apt-get install nodejs)")
TYPES = {"qx": np.uint16, "qy": np.uint16, "cell": np.int32}


def lowbias32(x: np.ndarray) -> np.ndarray:
    """An integer hash (uint32, wrapping): the generated panels' points, as tests/js/point_panel.test.mjs makes them."""
    x = x.astype(np.uint32)
    for shift, factor in ((16, 0x7FEB352D), (15, 0x846CA68B)):
        x = (x ^ (x >> np.uint32(shift))) * np.uint32(factor)
    return x ^ (x >> np.uint32(16))


def panel(name: str) -> point_panel.Geometry:
    """A golden panel's rows where the browser draws them (`wire.positions`), on its pixel grid for a scan map."""
    found = GOLDEN["panels"][name]
    if "generated" in found:
        seed, i = found["generated"]["seed"], np.arange(found["generated"]["n"], dtype=np.uint64)
        arrays = {"qx": (lowbias32(seed + 2 * i) >> np.uint32(16)).astype(np.uint16),
                  "qy": (lowbias32(seed + 2 * i + 1) >> np.uint32(16)).astype(np.uint16)}
    else:
        arrays = {name: np.asarray(values, TYPES[name]) for name, values in found["arrays"].items()}
    g = found["header"].get("grid")
    grid = g and Grid(g["x0"], g["y0"], g["dx"], g["dy"], g["ny"], g["nx"])
    return point_panel.Geometry(*point_panel.positions(found["header"], arrays), grid=grid)


def same_rows(rows: np.ndarray, expected) -> bool:
    if isinstance(expected, list):
        return rows.tolist() == expected
    digest = hashlib.sha256(np.asarray(rows, "<i4").tobytes()).hexdigest()
    return {"count": len(rows), "sha256": digest} == expected


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[case["about"][:40] for case in GOLDEN["cases"]])
def test_each_golden_case_gives_its_rows_step_by_step(case):
    geometry, current = panel(case["panel"]), np.empty(0, np.int64)
    for step in case["steps"]:
        shape = point_panel.read_shape(step["shape"])  # as the browser sends it: checked first
        current = point_panel.combine(shape["op"], point_panel.rows_in(shape, geometry), current)
        assert same_rows(current, step["rows"]), (case["about"], step["shape"])


@pytest.mark.parametrize("case", GOLDEN["views"], ids=[case["about"] for case in GOLDEN["views"]])
def test_a_view_as_sent_is_read_as_itself_and_holds_its_rows(case):
    geometry = panel(case["panel"])
    view = point_panel.read_view(case["sent"])
    assert view == case["sent"]
    assert point_panel.rows_in_view(view, geometry.x, geometry.y).tolist() == case["rows"]


@pytest.mark.parametrize("case", GOLDEN["lines"], ids=[case["about"][:40] for case in GOLDEN["lines"]])
def test_a_line_gives_the_rows_on_the_pixels_it_passes_through_in_order(case):
    line = point_panel.read_shape(case["line"])
    assert point_panel.rows_in(line, panel(case["panel"])).tolist() == case["rows"]


def test_a_line_is_drawn_on_a_scan_map_only():
    line = point_panel.read_shape({"shape": "line", "x": [0.0, 1.0], "y": [0.0, 1.0]})
    with pytest.raises(InputError, match="a line on a panel that is not a scan map"):
        point_panel.rows_in(line, panel("lattice"))


@pytest.mark.parametrize("case", GOLDEN["scale_bars"], ids=[str(case["span"]) for case in GOLDEN["scale_bars"]])
def test_a_scale_bar_is_the_largest_round_length_within_a_fifth_of_the_width(case):
    length, most = figures.nice_length(case["span"]), case["span"] * figures.SCALE_BAR_FRACTION
    assert length == case["length"] and length <= most
    mantissa, exponent = f"{length:.12e}".split("e")  # 1, 2 or 5 times a power of ten
    next_step = {1.0: 2, 2.0: 5, 5.0: 10}[float(mantissa)] * 10.0 ** int(exponent)
    assert next_step > most * (1 + 1e-12)  # the next round length is too long


def test_the_golden_payload_and_overlay_are_what_the_wire_format_writes_now():
    """The node test reads these as the browser does; a change of the contract or the format fails here first
    (make them again: the payload of the scatter panel's header with n=200 and its arrays, the overlay's
    selection_message of its rows)."""
    scatter = GOLDEN["panels"]["scatter"]
    arrays = {name: np.asarray(values, TYPES[name]) for name, values in scatter["arrays"].items()}
    assert base64.b64decode(GOLDEN["payload"]) == point_panel.payload({**scatter["header"], "n": 200}, arrays)
    overlay = GOLDEN["overlay"]
    assert selection_message(overlay["n"], np.asarray(overlay["rows"])).items() <= overlay["message"].items()


@NO_NODE
def test_the_browser_modules_give_the_golden_rows_in_node():
    tests = sorted(str(p) for p in (REPO / "tests/js").glob("*.test.mjs"))
    done = subprocess.run([NODE or "node", "--test", *tests], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert tests and "# fail 0" in done.stdout and "# skipped 0" in done.stdout, done.stdout[-1000:]


@NO_NODE
def test_the_component_runs_the_browser_modules_as_one_module(tmp_path):
    """element.bundle inlines the modules (no build step): no import of each other left, one default export (the
    component's entry point), and node parses it as an ES module."""
    bundled = element.bundle()
    assert "import {" not in bundled and bundled.count("export ") == 1 and "export default function mount" in bundled
    (tmp_path / "bundle.mjs").write_text(bundled)
    done = subprocess.run([NODE or "node", "--check", str(tmp_path / "bundle.mjs")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
