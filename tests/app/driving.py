"""How the app tests drive the real app (app.py and its pages) with Streamlit's AppTest, and read what it shows."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]


def run(at: AppTest, page: str | None = None, errors_ok: bool = False) -> AppTest:
    """Run the app (or a widget's change, which returns its AppTest), optionally on another page; no exception, and
    no error message unless `errors_ok`."""
    if page:
        at.switch_page(f"pages/{page}.py")
    at = at.run()
    assert not at.exception, at.exception
    assert errors_ok or not at.error, [e.value for e in at.error]
    return at


def new_app(page: str | None = None, workspace_id: str | None = None, timeout: float = 240,
            errors_ok: bool = False) -> AppTest:
    """A new browser session on the app (on the workspace `workspace_id`, as its URL names it), run once."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    if workspace_id:
        at.query_params["workspace"] = workspace_id
    at = run(at, errors_ok=errors_ok)
    return run(at, page, errors_ok) if page else at


def go(at: AppTest, page: str) -> AppTest:
    return run(at, page)


def extracted(at: AppTest) -> AppTest:
    """The demo extraction, as a user runs it on the Extract page."""
    run(at, "extract")
    return run(at.button(key="extract_run").click())


def with_upload(*files: Path) -> AppTest:
    """A new session that uploaded `files` on the Data page."""
    at = new_app()
    at.file_uploader(key="uploads").set_value([(path.name, path.read_bytes(), "application/octet-stream")
                                               for path in files])
    return run(at)


def url_workspace(at: AppTest) -> str:
    value = at.query_params["workspace"]
    return value[0] if isinstance(value, list) else value


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def array_of(value) -> np.ndarray:
    """A plotly array as the browser gets it: a list, or a base64 typed array {dtype, bdata, shape}."""
    if isinstance(value, dict):
        array = np.frombuffer(base64.b64decode(value["bdata"]), np.dtype(value["dtype"]))
        shape = value.get("shape")
        return array.reshape([int(s) for s in str(shape).split(",")]) if shape else array
    return np.asarray(value, np.float64)


def point_panels(at: AppTest) -> dict:
    """The point panels drawn (ui/widgets/point_panel/), by key: (header, arrays) as the browser reads them;
    and each group's overlay (its selection and marks) under "overlay:GROUP"."""
    from ui.widgets.point_panel import read_payload

    found = {}
    for element in at.get("bidi_component"):
        if element.proto.WhichOneof("data") == "bytes":
            header, arrays = read_payload(element.proto.bytes)
            found[header["key"]] = (header, arrays)
        elif element.proto.WhichOneof("data") == "json":
            overlay = json.loads(element.proto.json)
            found[f"overlay:{overlay['group']}"] = overlay
    return found


def send_shape(at: AppTest, key: str, shape: dict):
    """A shape drawn on the point panel `key`, as the browser sends it (the component's trigger, held for one run)."""
    at.session_state[key] = {"shape": shape}
    run(at)
    at.session_state[key] = {}


def overlay_rows(overlay: dict) -> np.ndarray:
    """The positions, among its group's rows, that a group's overlay shows selected."""
    if "rows" in overlay:
        return np.asarray(overlay["rows"], np.int64)
    bits = np.unpackbits(np.frombuffer(base64.b64decode(overlay["bits"]), np.uint8), bitorder="little")
    return np.flatnonzero(bits[:overlay["n"]])


def steps_from_row(at: AppTest, mark_name: str, row: int) -> float:
    """How far mark `mark_name` on the UMAP scatter lies from row `row`'s point, in steps of the scatter's
    uint16 grid (the larger of x and y)."""
    panels = point_panels(at)
    scatter, points = panels["umap_scatter"]
    mark = next(m for m in panels["overlay:umap"]["marks"]["umap_scatter"] if m["name"] == mark_name)
    steps = []
    for axis in ("x", "y"):
        low, high = scatter[f"{axis}_range"]
        steps.append(abs((mark[axis][0] - low) / (high - low) * 65535 - int(points[f"q{axis}"][row])))
    return max(steps)


# -- what a browser shows of the widgets ------------------------------------------------------------------------

VALUE_WIDGETS = ("selectbox", "multiselect", "number_input", "slider", "checkbox", "toggle", "radio", "text_input",
                 "color_picker")


def value_widgets(at: AppTest) -> dict:
    """Every keyed value widget of the run, by key."""
    return {w.key: w for kind in VALUE_WIDGETS for w in getattr(at, kind) if w.key}


def _value(widget):
    """A widget's value as the server holds it (AppTest reads the server), a choice by its position."""
    kind = type(widget).__name__
    if kind in ("Selectbox", "Radio"):
        return widget.index
    if kind == "Multiselect":
        return list(widget.indices)
    return tuple(widget.value) if isinstance(widget.value, list) else widget.value


def _default(widget):
    """The value a browser shows of a widget it had not shown: the default the run gave it."""
    proto, kind = widget.proto, type(widget).__name__
    if kind == "Multiselect":
        return list(proto.default)
    if kind == "Slider":
        values = [int(v) if proto.data_type == proto.INT else v for v in proto.default]
        return tuple(values) if len(values) > 1 else values[0]
    if proto.DESCRIPTOR.fields_by_name["default"].has_presence and not proto.HasField("default"):
        return None
    if kind == "NumberInput" and proto.data_type == proto.INT:
        return int(proto.default)
    return proto.default


class Browser:
    """What Streamlit's frontend shows of each keyed value widget of one AppTest session, run after run (AppTest
    itself reads the server's values): the value a run sends (`set_value`: written through the Session State API),
    else the value it already shows (a widget's new default leaves it as it is, as Chromium shows), else the default
    the run gives it; and what the user sets (`sets`). `saw(at)` after each run: the widgets whose server value
    differs from what the browser shows."""

    def __init__(self):
        self.shown = {}

    def sets(self, widget):
        """The user sets `widget` in the browser (AppTest's `set_value`, `select`...): the browser shows it."""
        if widget.key in self.shown:  # a value widget (not a button)
            self.shown[widget.key] = _value(widget)

    def saw(self, at: AppTest) -> dict:
        shown = {}
        for key, widget in value_widgets(at).items():
            if widget.proto.set_value:
                shown[key] = _value(widget)
            else:
                shown[key] = self.shown[key] if key in self.shown else _default(widget)
        self.shown = shown
        return {key: (shown[key], _value(w)) for key, w in value_widgets(at).items() if shown[key] != _value(w)}


def fresh_context(workspace_id: str, page: str, timeout: float = 240) -> AppTest:
    """A new browser context opening a workspace's page by its URL (no cookie, no earlier run): its first run is
    that page."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    at.query_params["workspace"] = workspace_id
    at.switch_page(f"pages/{page}.py")
    return run(at)
