"""The line a server's first run shows while the app's libraries load (seconds: 6-7 at load 6), from the first paint.

app.py and every page import this module before any other of the app's: its first import, in a script run, draws
the line. app.py takes it away once its own imports are done (`loaded`); a page run alone (a bookmark opened before
app.py ever ran: it then runs again through app.py) leaves it to the page's title, which replaces it.

After a server's first page, every page's import statements run in a thread (`preload`), so that the first open of
each page finds its libraries loaded."""
import ast
import threading
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

MESSAGE = ("Starting Latent Explorer: loading its libraries, once after the server starts (a few seconds, longer on "
           "a busy machine)...")

_line = None
if get_script_run_ctx() is not None:
    _line = st.empty()
    _line.info(MESSAGE, icon=":material/hourglass_top:")


def loaded():
    """Take the line away: the libraries are loaded (app.py, in the run that imported this module)."""
    if _line is not None:
        _line.empty()


_preload: threading.Thread | None = None
_preload_started = threading.Lock()


def preload(pages) -> None:
    """Run the import statements of every page (paths) in a thread, once per server; app.py calls it after its first
    page, so that nothing a person waits for shares the cores with it. The first open of the Latent maps page at 1M
    rows spent 0.3-0.6 s of its 1.0-1.4 s importing SciPy's parts for its reference maps; the Rank and Clusters
    pages' first opens, theirs."""
    global _preload
    with _preload_started:
        if _preload is None:
            _preload = threading.Thread(target=_run_imports, args=(list(pages),), name="preload-pages", daemon=True)
            _preload.start()


def preloaded() -> None:
    """Wait until the preload's imports are done: a page imports nothing beside them (two threads importing modules
    that import each other can each be handed the other's half-made module)."""
    if _preload is not None:
        _preload.join()


def _run_imports(pages) -> None:
    for path in pages:
        statements = [node for node in ast.parse(Path(path).read_text()).body
                      if isinstance(node, (ast.Import, ast.ImportFrom))]
        try:
            exec(compile(ast.Module(statements, type_ignores=[]), str(path), "exec"), {})
        except Exception:  # noqa: BLE001  the page itself says what fails, when it runs
            pass
    _figure_of_each_kind()


def _figure_of_each_kind() -> None:
    """A tiny figure of each trace type the pages draw, in their template: plotly builds the template and each
    type's validators at their first use (0.1-0.2 s, more beside a busy worker), which a page's first figure waited
    for (the Rank page's first open after the Data page)."""
    import plotly.graph_objects as go

    for trace in TRACE_TYPES:
        go.Figure(getattr(go, trace)()).update_layout(template="plotly_white", title="", xaxis_title="", height=300)


TRACE_TYPES = ("Bar", "Scatter", "Scattergl", "Heatmap", "Image")  # every `go.<type>(` of latentcore/ and ui/
