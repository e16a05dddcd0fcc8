"""Both sides of the point panel give the same rows: the golden cases of tests/data/point_panel_golden.json (points,
boxes, lassos, self-intersecting and degenerate ones, Shift and Alt, clicks, views, a generated million, lines on scan
maps) hold what the Python side gives (made by tests/golden_panels.py, checked here to be what it makes now), and the
browser's own modules give the same in node (tests/js/, run here with `node --test`); and the same scale bar on a scan
map."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

import golden_panels
from latentcore import figures
from latentcore.errors import InputError
from ui.widgets import point_panel
from ui.widgets.point_panel import element

REPO = golden_panels.REPO
WRITTEN = golden_panels.FILE.read_text()
GOLDEN = json.loads(WRITTEN)
NODE = shutil.which("node")
NO_NODE = pytest.mark.skipif(NODE is None and not os.environ.get("CI"), reason="no node (apt-get install nodejs)")
REMAKE = "the Python side gives other rows: if that is meant, run `python tests/golden_panels.py`"


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[case["about"][:40] for case in GOLDEN["cases"]])
def test_each_golden_case_gives_its_rows_step_by_step(case):
    for step, made in zip(case["steps"], golden_panels.steps(GOLDEN, case), strict=True):
        assert made["rows"] == step["rows"], (case["about"], step["shape"], REMAKE)


@pytest.mark.parametrize("case", GOLDEN["views"], ids=[case["about"] for case in GOLDEN["views"]])
def test_a_view_is_sent_from_low_to_high_and_read_as_itself_with_its_rows(case):
    assert golden_panels.view(GOLDEN, case) == case, REMAKE
    assert point_panel.read_view(case["sent"]) == case["sent"]


def test_a_line_is_drawn_on_a_scan_map_only():
    line = point_panel.read_shape({"shape": "line", "x": [0.0, 1.0], "y": [0.0, 1.0]})
    with pytest.raises(InputError, match="a line on a panel that is not a scan map"):
        point_panel.rows_in(line, golden_panels.panel(GOLDEN, "lattice"))


@pytest.mark.parametrize("case", GOLDEN["scale_bars"], ids=[str(case["span"]) for case in GOLDEN["scale_bars"]])
def test_a_scale_bar_is_the_largest_round_length_within_a_fifth_of_the_width(case):
    length, most = figures.nice_length(case["span"]), case["span"] * figures.SCALE_BAR_FRACTION
    assert length == case["length"] and length <= most
    mantissa, exponent = f"{length:.12e}".split("e")  # 1, 2 or 5 times a power of ten
    next_step = {1.0: 2, 2.0: 5, 5.0: 10}[float(mantissa)] * 10.0 ** int(exponent)
    assert next_step > most * (1 + 1e-12)  # the next round length is too long


def test_the_golden_file_is_what_golden_panels_makes_now():
    """Nothing in it is written by hand but its inputs: the rows, views, scale bars, the payload (a change of the
    contract or the wire format fails here first) and the overlay are what the Python side makes of them now, in
    the file's own layout."""
    made = golden_panels.made(GOLDEN)
    assert [part for part in GOLDEN if made[part] != GOLDEN[part]] == [], REMAKE
    assert golden_panels.text(made) == WRITTEN, REMAKE


@NO_NODE
def test_the_browser_modules_give_the_golden_rows_in_node():
    tests = sorted(str(p) for p in (REPO / "tests/js").glob("*.test.mjs"))
    done = subprocess.run([NODE or "node", "--test", *tests], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert tests and "# fail 0" in done.stdout and "# skipped 0" in done.stdout, done.stdout[-1000:]


@NO_NODE
def test_the_component_runs_the_browser_modules_as_one_module(tmp_path):
    """element.bundle inlines the modules, every one beside it (no build step): no import of each other left, one
    default export (the component's entry point), no JSDoc (the module travels with every message), and node
    parses it as an ES module."""
    assert set(element.MODULES) == {path.name for path in element.HERE.glob("*.mjs")}
    bundled = element.bundle()
    assert "import {" not in bundled and bundled.count("export ") == 1 and "export default function mount" in bundled
    assert "class Lasso extends Tool" in bundled and "@param" not in bundled and "/**" not in bundled
    (tmp_path / "bundle.mjs").write_text(bundled)
    done = subprocess.run([NODE or "node", "--check", str(tmp_path / "bundle.mjs")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
