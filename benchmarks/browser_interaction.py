"""Seconds a scientist waits in the browser, from the demo to ten million rows: `streamlit run app.py` driven in
headless Chromium (Playwright), one JSON line per scan size and checkout.

Each interaction is timed from the user's action to its panels drawn ("draw") and to the page idle ("idle", the
app root's script state: what a person waits for), with the WebSocket kB each way; point-panel selections also
report their in-browser "highlight" and "drag" times and the rows selected. Steps: extracting (demo) or uploading
the scan, the first scatter and the UMAP fit, UMAP reopen/box/lasso/map box/click/recolour, the Clusters page's
first open, reopen and selections, every other page's first open (`first_open_<page>`), `--repeats` boxes after the
first on each scatter (`*_box_repeats`), and a second session's recolour beside the first one's fit. Above
CHOOSE_ROWS the latents are written into a workspace and chosen there, and the server's and workers' resident memory
is sampled from /proc. Timing starts once the UMAP fit has ended and the server's workers are idle.

    python benchmarks/browser_interaction.py [--sides 0,224,447,1000] [--dims 128] [--keep DIR] [--choose auto]
                                             [--no-clusters | --only-clusters] [--repeats 10] [--timeout S]
                                             [--baseline ../main] [--study SOURCES] [--pools server,local]

`--sides`: scan sides (0: the built-in demo, 2,400 rows; 3163: ten million rows, with `--dims 16`); `--study N`: a
saved study of N scans of that side opened instead (issue 51: `--sides 316 --study 100`, 10M rows); `--baseline DIR`:
another checkout's app measured at each size first, in the same run and embedding cache; `--pools server,local`: each
app measured with its work in the server's own worker pool, then on a Dask LocalCluster it starts
(LATENT_EXPLORER_SCHEDULER=local, docs/deployment.md; issue 56: `--sides 316 --study 100 --dims 16 --only-clusters`).
The goals (issues 34, 41 and 42) and dated results, with what else ran on the machine: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the browser test's Chromium settings and box drag

from streamlit_server import CHROMIUM, CHROMIUM_ARGS, NAV_LINKS, WATCH_RUNS, now_ms, serve, until_idle  # noqa: E402

COLOURBAR = ("(title) => [...document.querySelectorAll('.js-plotly-plot .cbtitle')].some(e => e.textContent.includes(title))"
             " || Object.values(window.__latentPanels?.panels || {}).some(p => p.root.isConnected"
             " && (p.header.colorbar?.title || '').includes(title))")
PANEL_DRAWN = "(key) => window.__latentPanels?.panels?.[key]?.root.isConnected"
MAP_DRAWN = ("(key) => Object.entries(window.__latentPanels?.panels || {}).some(([k, p]) => (k === key"
             " || k.startsWith(key + '_')) && p.root.isConnected)")  # a scan's map, or a study's first source's
# WebSocket bytes each way, counted by the page: what a selection sends and what the reruns send back
COUNT_BYTES = """
window.__bytes = {up: 0, down: 0};
const Socket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Socket(...args);
  const send = socket.send.bind(socket);
  socket.send = (data) => { window.__bytes.up += data.byteLength ?? data.size ?? data.length; return send(data); };
  socket.addEventListener('message', (e) => { window.__bytes.down += e.data.byteLength ?? e.data.size ?? e.data.length; });
  return socket;
};
window.WebSocket.prototype = Socket.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""
TIMEOUT_S = 600  # the longest wait for any one step (--timeout)
SELECTION_WAIT_S = 60  # a selection that changes nothing and starts no run is said after this long
DEMO = 0  # --sizes 0: the built-in demo scan (2,400 rows), extracted in the app
QUIET_CPU_S = 0.2  # CPU seconds a second of the server and its workers taken for idle: a Dask LocalCluster of 2
# (scheduler, client, nannies and workers) idles at 0.12 together here (heartbeats), never under 0.05
SERVER_POOL = "server"  # --pools: the work in the server's own worker pool (no Dask scheduler)


def write_scan(folder: Path, side: int, dims: int, table: bool = True, name: str = "scan",
               seed: int = 13) -> tuple[Path, Path | None]:
    """A side x side scan's latents (clustered, seeded) and its band-contrast CSV; without `table`, the band
    contrast is the scan's own map in the latents file (`point_maps/Band Contrast`), as a vendor's scan has it.
    `name`: the files' stem (a study's sources differ by it and by `seed`)."""
    import pandas as pd

    from latentcore.latents import LatentsWriter

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = side * side
    rows, cols = np.divmod(np.arange(n), side)
    x, y = cols * 1.5, rows * 1.5
    labels = (rows // max(side // 4, 1)) * 3 + (cols // max(side // 3, 1)) % 3  # 12 regions of the scan
    centres = rng.normal(scale=4, size=(labels.max() + 1, dims)).astype(np.float32)
    writer = LatentsWriter(folder / f"{name}_latents.h5", {"all": (n, dims)}, {})
    for start in range(0, n, 65_536):  # in blocks: 1M x 128 float64 noise would be 1 GB at once
        block = labels[start:start + 65_536]
        noise = rng.standard_normal(size=(len(block), dims), dtype=np.float32)
        writer.write_rows("all", start, centres[block] + noise)
    writer.write_array("x", x)
    writer.write_array("y", y)
    writer.write_array("grid_shape", [side, side])
    values = np.clip(200 - 20 * labels + rng.normal(scale=10, size=n), 0, 255).round().astype(int)
    if not table:
        writer.write_point_maps({SCAN_MAP: values}, {"all": np.arange(n)})
    path = writer.finish({"source": f"synthetic_{name}.h5"})
    if not table:
        return path, None
    bc = folder / f"{name}_bandcontrast.csv"
    pd.DataFrame({"x": x, "y": y, "bandcontrast": values}).to_csv(bc, index=False)
    return path, bc


# what the first context's pages show of one scan, and of a study (`run(study=...)`): their scan-map panels (a
# study's first source's), and what counts the Clusters page's selection (a study's: the sidebar's count)
SCAN_VIEW = {"umap_map": "umap_map", "clusters_map": "clusters_map", "clusters_metric": "Selected here"}
STUDY_VIEW = {"umap_map": "umap_map_scan000", "clusters_map": "clusters_map_scan000",
              "clusters_metric": "Selected here"}
VIEW = dict(SCAN_VIEW)
SCAN_MAP = "Band Contrast"  # the scan's own map when its files are chosen, not uploaded
CHOOSE_ROWS = 2_000_000  # above this many rows the files are chosen on the server (--choose), not uploaded


def workspace_with_scan(root: Path, side: int, dims: int) -> str:
    """A workspace (as the app keeps one: its folder and state.json) holding the scan's latents with
    their own band-contrast map, as if uploaded there earlier: the "choose" path, for files too big to
    send through a browser. Returns the workspace id for the URL."""
    import secrets

    workspace_id = secrets.token_urlsafe(16)
    folder = root / "sessions" / "workspaces" / workspace_id
    latents, _ = write_scan(folder / "uploads", side, dims, table=False)
    record = {"source": str(latents), "bandcontrast": f"scan:{SCAN_MAP}", "latents": None, "models": {},
              "settings": {}, "files": {"data": [str(latents)]}}
    (folder / "state.json").write_text(json.dumps(record))
    return workspace_id


def workspace_with_study(root: Path, sources: int, side: int, dims: int) -> str:
    """A workspace holding `sources` scans' latents (side x side rows each, their own band-contrast maps, each
    seeded apart) and their saved study `bench` (as the Data page's study maker leaves it); the workspace id."""
    import secrets

    from latentcore.study import make_study, write_study

    workspace_id = secrets.token_urlsafe(16)
    folder = root / "sessions" / "workspaces" / workspace_id
    paths = [write_scan(folder / "latents" / "scans", side, dims, table=False, name=f"scan{number:03d}",
                        seed=13 + number)[0] for number in range(sources)]
    write_study(make_study("bench", [str(p) for p in paths]), folder, root=folder)
    record = {"source": str(paths[0]), "bandcontrast": f"scan:{SCAN_MAP}", "latents": None, "models": {},
              "settings": {}, "files": {"data": [str(p) for p in paths]}}
    (folder / "state.json").write_text(json.dumps(record))
    return workspace_id


class ServerMemory:
    """The Streamlit server's resident memory (and its worker processes'), sampled twice a second from /proc:
    `peak()` -> {"server_rss_gb", "server_anon_gb", "server_file_gb", "workers_rss_gb"} at the largest
    server RSS seen. File-backed pages (the memory-mapped latents) are shared with the page cache."""

    def __init__(self, port: int):
        import threading

        self.port, self.samples, self.done = port, [], threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _server_pid(self) -> int | None:
        for status in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                words = status.read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in b" ".join(words) and str(self.port).encode() in words:
                return int(status.parent.name)
        return None

    @staticmethod
    def _status(pid) -> dict:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            return {}
        return {k: int(v.split()[0]) / 2**20 for k, v in (line.split(":", 1) for line in lines)
                if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")}

    @staticmethod
    def _children(pid) -> list[int]:
        found = []
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                found += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
        return found + [g for c in found for g in ServerMemory._children(c)]

    def _watch(self):
        pid = None
        while not self.done.wait(0.5):
            pid = pid or self._server_pid()
            if pid is None:
                continue
            server = self._status(pid)
            workers = sum(self._status(c).get("VmRSS", 0.0) for c in self._children(pid))
            if server:
                self.samples.append((server.get("VmRSS", 0.0), server.get("RssAnon", 0.0),
                                     server.get("RssFile", 0.0), server.get("VmHWM", 0.0), workers))

    def wait_quiet(self, timeout: float = 300):
        """Until the server and its worker processes use no CPU for a second (under QUIET_CPU_S: the workers' warm-up
        compiling, the server loading the pages' libraries after the first page, a fit's tail), as a person reading
        the first page finds them: what is timed next does not share the cores with them. Returns the seconds
        waited."""
        start, last = time.perf_counter(), None
        while time.perf_counter() - start < timeout:
            pid = self._server_pid()
            busy = sum(self._cpu_seconds(c) for c in [pid, *self._children(pid)]) if pid else 0.0
            if last is not None and busy - last < QUIET_CPU_S:
                break
            last = busy
            time.sleep(1.0)
        return round(time.perf_counter() - start, 1)

    @staticmethod
    def _cpu_seconds(pid) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def peak(self) -> dict:
        self.done.set()
        self.thread.join()
        if not self.samples:
            return {}
        rss, anon, file, _, _ = max(self.samples)
        return {"server_rss_gb": round(rss, 2), "server_anon_gb": round(anon, 2), "server_file_gb": round(file, 2),
                "server_hwm_gb": round(max(s[3] for s in self.samples), 2),
                "workers_rss_peak_gb": round(max(s[4] for s in self.samples), 2)}


def log(message: str):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def click_nav(page, title: str):
    page.locator(NAV_LINKS, has_text=title).first.click()


def nav(page, title: str, heading: str):
    click_nav(page, title)
    page.wait_for_selector(f"h1:has-text('{heading}')")


def choose(page, label: str, option: str):
    """Pick a selectbox option by typing it (Streamlit's selectboxes filter as you type)."""
    type_choice(page, label, option)
    page.keyboard.press("Enter")


def type_choice(page, label: str, option: str):
    """A selectbox opened and `option` typed, not yet taken (Enter takes it)."""
    page.locator("[data-testid=stSelectbox]", has_text=label).first.locator("input").first.click()
    page.keyboard.type(option)


def sidebar_says(page, text: str):
    """Wait until the sidebar's summary shows `text` (a choice has been taken: typing into a page
    that is being redrawn loses the keys), then until the page is idle."""
    page.wait_for_function("(text) => document.querySelector('[data-testid=stSidebarUserContent]')"
                           "?.innerText.includes(text)", arg=text)
    until_idle(page, 0)


def selected_count_js(prefix: str) -> str:
    return ("() => [...document.querySelectorAll('h3')].map(h => h.innerText)"
            f".filter(t => t.startsWith('{prefix}'))")


def umap_ready(page):
    """The UMAP page drawn: its point panels (binned above point_panel.geometry.MAX_POINTS rows)."""
    page.wait_for_function(f"() => ({PANEL_DRAWN})('umap_scatter') && ({MAP_DRAWN})('umap_map')")
    page.wait_for_function(selected_count_js("Selected:") + ".length > 0")


def clusters_ready(page):
    """The Clusters page drawn: its point panels (binned above point_panel.geometry.MAX_POINTS rows)."""
    page.wait_for_function(f"() => ({PANEL_DRAWN})('clusters_scatter') && ({MAP_DRAWN})('clusters_map')")
    page.locator("[data-testid=stMetric]", has_text=VIEW["clusters_metric"]).wait_for()


def metric(page, label: str) -> str:
    box_ = page.locator("[data-testid=stMetric]", has_text=label).first
    return box_.locator("[data-testid=stMetricValue]").inner_text().strip()


# the number a text shows ("157,722 rows" -> 157722; none: null)
NUMBER_OF = "(text) => { const digits = (text || '').replace(/[^0-9]/g, ''); return digits ? Number(digits) : null; }"


def count_changes(page, count_js: str):
    """A `ready` for a selection: until the count that `count_js` (a JavaScript expression: the text showing it)
    reads differs, as a number, from the one shown now, or, when a selection leaves the count as it was, until
    the page has run and stopped since (a substring test waited forever: "157,722" contains "1")."""
    before = page.evaluate(f"({NUMBER_OF})({count_js})")
    ended = page.evaluate("window.__runs.ended")
    return lambda: page.wait_for_function(
        f"(a) => ({NUMBER_OF})({count_js}) !== a.before || (window.__runs.ended > a.ended && !window.__runs.busy)",
        arg={"before": before, "ended": ended}, timeout=SELECTION_WAIT_S * 1000)


SELECTED_HEADING = "[...document.querySelectorAll('h3')].map(h => h.innerText).find(t => t.startsWith('Selected:'))"
SELECTED_POINTS = ("document.querySelector('[data-testid=stSidebarUserContent]')?.innerText"
                   ".match(/Selected points: ([0-9,]+)/)?.[1]")  # the sidebar's count
SELECTED_HERE = ("[...document.querySelectorAll('[data-testid=stMetric]')].find(e => e.innerText.includes('Selected "
                 "here'))?.querySelector('[data-testid=stMetricValue]')?.innerText")


def timed(out: dict, name: str, page, act, ready, prepare=None):
    """`prepare()`, `act()`, `ready()`: out[name] = {"draw": seconds until ready, "idle": until the
    page stopped running, "up_kb" and "down_kb": WebSocket kilobytes sent and received meanwhile}, both
    times from the moment `act` began (a click, a key, mouse-up)."""
    if prepare:
        prepare()
    since, start, sent = now_ms(page), time.perf_counter(), page.evaluate("window.__bytes")
    act()
    ready()
    draw = time.perf_counter() - start
    out[name] = {"draw": round(draw, 2), "idle": round(max(until_idle(page, since), draw), 2)}
    after = page.evaluate("window.__bytes")
    out[name].update({f"{way}_kb": round((after[way] - sent[way]) / 1024, 1) for way in ("up", "down")})
    runs = [(b, round((t - since) / 1000, 2)) for b, t in page.evaluate("window.__runs.log") if t > since - 50]
    log(f"{name} runs: {runs}")
    log(f"{name}: drawn {draw:.2f} s, idle {out[name]['idle']:.2f} s")


def reopen(out: dict, name: str, page, title: str, heading: str, ready):
    """Back to `title` after a visit to the Data page (its results cached), timed."""
    nav(page, "Data", "Data")
    until_idle(page, 0)
    timed(out, name, page, lambda: click_nav(page, title),
          lambda: page.wait_for_selector(f"h1:has-text('{heading}')") and ready(page))


def recolour(out: dict, name: str, page, option: str, colour_bar: str):
    """`Colour by` -> `option`, timed from the key that takes it until `colour_bar` is drawn."""
    timed(out, name, page, lambda: page.keyboard.press("Enter"),
          lambda: page.wait_for_function(COLOURBAR, arg=colour_bar),
          prepare=lambda: type_choice(page, "Colour by", option))


def panel_select(out: dict, name: str, page, key: str, path: list, ready, tool: str = "Box"):
    """A selection on point panel `key`: `tool`, then a press at path[0], moves through the rest (fractions of
    the canvas), timed from mouse-up (a click when the path has one point). Adds the panel's own times:
    "highlight" (mouse-up to the selection drawn here and on the linked panel) and "drag" (the browser's main
    thread in the move handlers), in seconds."""
    root = page.locator(f".lp-root[data-key={key}]")
    root.locator(".lp-shape").scroll_into_view_if_needed()  # a study's maps may start below the fold
    root.locator("button", has_text=tool).click()
    area = root.locator(".lp-shape").bounding_box()
    at = [(area["x"] + fx * area["width"], area["y"] + fy * area["height"]) for fx, fy in path]

    def drag():
        page.mouse.move(*at[0])
        page.mouse.down()
        for x, y in at[1:]:
            page.mouse.move(x, y, steps=10)
    try:
        timed(out, name, page, page.mouse.up, ready, prepare=drag)
    except PlaywrightTimeout:  # said in the results, the page kept beside them; the next steps go on
        out[name] = {"error": f"no change and no run within {SELECTION_WAIT_S} s of mouse-up"}
        page.screenshot(path=f"{name}-no-change.png", full_page=True)
        log(f"{name}: {out[name]['error']} (screenshot {name}-no-change.png)")
        return
    timing = page.evaluate(f"window.__latentPanels.timing[{key!r}]")
    out[name].update(highlight=round(timing["highlight_ms"] / 1000, 4), drag=round(timing["drag_ms"] / 1000, 4),
                     selected=timing["count"])


def open_latents(first, second, side: int, dims: int, folder: Path, out: dict, chosen: bool = False,
                 study: bool = False):
    """The first context's latents on the UMAP page (the demo extracted, or a generated scan uploaded, or,
    `chosen`, already in its workspace and chosen there, or its saved `study`), the second context's demo UMAP
    recoloured meanwhile (the other user)."""
    nav(second, "UMAP", "UMAP")
    second.get_by_role("button", name="Extract the demo latents now").click()
    umap_ready(second)
    until_idle(second, 0)
    if side == DEMO:
        nav(first, "UMAP", "UMAP")
        start = time.perf_counter()
        timed(out, "extract_and_fit", first, first.get_by_role("button", name="Extract the demo latents now").click,
              lambda: umap_ready(first))
        umap_fitted(first, out, start)
        return
    recolour(out, "other_session_recolour_quiet", second, "a latent dimension", "latent 0")  # nothing else running
    if study:  # the Data page (loaded in `measure`) lists the workspace's saved study
        first.get_by_role("button", name="Explore this study").wait_for()
    elif chosen:  # the workspace's files, chosen there: its Data page (loaded in `measure`) shows them
        sidebar_says(first, "Data: scan_latents.h5")
    else:
        latents, bc = write_scan(folder, side, dims)
        timed(out, "upload", first, lambda: first.locator("[data-testid=stFileUploaderDropzoneInput]").first
              .set_input_files([str(latents), str(bc)]),
              lambda: first.wait_for_function("() => document.body.innerText.includes(': a data file')"))
        choose(first, "Data file", "scan_latents.h5")
        sidebar_says(first, "Data: scan_latents.h5")
        choose(first, "Band contrast", "scan_bandcontrast.csv")
        sidebar_says(first, "Band contrast: scan_bandcontrast.csv")
    first.get_by_role("button", name="Explore this study" if study else "Explore these latents").click()
    start = time.perf_counter()
    if out["points"] > int(os.environ.get("LATENT_EXPLORER_INLINE_ROWS", 20_000)):
        # the big fit runs in the pool (its progress shown), unless the embedding cache had it (drawn at once)
        first.wait_for_function(f"() => document.body.innerText.includes('in a worker process')"
                                f" || ({PANEL_DRAWN})('umap_scatter')")
        time.sleep(3)
        recolour(out, "other_session_recolour_during_fit", second, "band contrast", "band contrast")
        out["fit_still_running"] = first.get_by_text("in a worker process").count() > 0
    umap_ready(first)
    umap_fitted(first, out, start)


def umap_fitted(page, out: dict, start: float):
    """After the first scatter (the PCA, while the UMAP fits in a worker), until the UMAP is drawn: the pages timed
    next never share the cores with the fit. out: `umap_first_scatter_s` and `umap_fit_s`, from `start`."""
    out["umap_first_scatter_s"] = round(time.perf_counter() - start, 1)
    page.wait_for_function("() => !document.body.innerText.includes('in a worker process')")
    umap_ready(page)
    out["umap_fit_s"] = round(time.perf_counter() - start, 1)
    log(f"first scatter: {out['umap_first_scatter_s']:.1f} s, fit: {out['umap_fit_s']:.1f} s")
    until_idle(page, 0)


def measure(first, second, side: int, dims: int, folder: Path, url: str, out: dict, workspace: str | None = None,
            clusters: bool = True, repeats: int = 10, only_clusters: bool = False, memory: ServerMemory | None = None,
            study: bool = False):
    for page, address in ((first, f"{url}/?workspace={workspace}" if workspace else url), (second, url)):
        page.set_default_timeout(TIMEOUT_S * 1000)
        page.add_init_script(WATCH_RUNS)
        page.add_init_script(COUNT_BYTES)
        page.goto(address)
        page.wait_for_selector("h1:has-text('Data')")
        until_idle(page, 0)
    open_latents(first, second, side, dims, folder, out, chosen=workspace is not None, study=study)
    if memory is not None:
        out["quiet_wait_s"] = memory.wait_quiet()
    selections(first, out, clusters, repeats, umap=not only_clusters)
    if not only_clusters:
        other_pages_first(out, first)


def selections(first, out: dict, clusters: bool, repeats: int, umap: bool = True):
    """The UMAP page reopened, its selections and recolour (without `umap`, none of these); the Clusters page's
    first open, reopen and selections; `repeats` boxes on each page after its first."""
    if umap:
        umap_selections(first, out, repeats)
    if clusters:
        cluster_selections(first, out, repeats)


def umap_selections(first, out: dict, repeats: int):
    reopen(out, "umap_reopen", first, "UMAP", "UMAP", umap_ready)

    for name, path, tool in (("umap_box_select", BOXES[0], "Box"), ("umap_lasso_select", LASSO, "Lasso"),
                             ("umap_map_box_select", [(0.2, 0.2), (0.5, 0.5)], "Box")):
        key = VIEW["umap_map"] if "map" in name else "umap_scatter"
        panel_select(out, name, first, key, path, count_changes(first, SELECTED_HEADING), tool)
    ready = count_changes(first, SELECTED_HEADING)
    row = first.evaluate("window.__latentPanels.panels.umap_scatter.selectedRows()")[0]  # a point drawn
    x, y = first.evaluate(f"window.__latentPanels.panels.umap_scatter.clientOf({row})")
    box = first.locator(".lp-root[data-key=umap_scatter] .lp-shape").bounding_box()
    panel_select(out, "umap_click", first, "umap_scatter",
                 [((x - box["x"]) / box["width"], (y - box["y"]) / box["height"])], ready)
    out["umap_selected"] = first.evaluate(selected_count_js("Selected:"))[0]
    repeated_boxes(out, "umap_box_repeats", first, "umap_scatter", SELECTED_HEADING, repeats)
    recolour(out, "umap_recolour", first, "a latent dimension", "latent 0")


def cluster_selections(first, out: dict, repeats: int):
    timed(out, "cluster_first", first, lambda: click_nav(first, "Clusters"), lambda: clusters_ready(first))
    reopen(out, "cluster_reopen", first, "Clusters", "Clusters", clusters_ready)
    counted = SELECTED_HERE if VIEW == SCAN_VIEW else SELECTED_POINTS
    for name, path, tool in (("cluster_box_select", [(0.1, 0.1), (0.5, 0.5)], "Box"),
                             ("cluster_lasso_select", LASSO, "Lasso"),
                             ("cluster_map_box_select", [(0.2, 0.2), (0.5, 0.5)], "Box")):
        panel_select(out, name, first, VIEW["clusters_map"] if "map" in name else "clusters_scatter", path,
                     count_changes(first, counted), tool)
    out["cluster_selected"] = first.evaluate(f"() => {counted}")
    repeated_boxes(out, "cluster_box_repeats", first, "clusters_scatter", counted, repeats)


BOXES = ([(0.3, 0.3), (0.6, 0.6)], [(0.35, 0.25), (0.65, 0.55)])  # two boxes, so that each selection changes
LASSO = [(0.2, 0.2), (0.7, 0.25), (0.6, 0.7), (0.25, 0.6)]


def repeated_boxes(out: dict, name: str, page, key: str, count_js: str, repeats: int):
    """`repeats` box selections on panel `key`, the two BOXES in turn: out[name] = each one's idle seconds, so
    that the first (measured as the page's first box, above) can be set beside the tenth."""
    idle = []
    for number in range(repeats):
        step = {}
        panel_select(step, "box", page, key, BOXES[number % 2], count_changes(page, count_js))
        idle.append(step["box"].get("idle"))  # None: it changed nothing
    out[name] = idle


# every page but Data, UMAP and Clusters (timed above): its heading, and a job it starts waited for
OTHER_PAGES = (("Extract", "Extract latents"), ("Latent maps", "Latent maps"), ("Compare", "Compare"),
               ("Rank", "Rank latent dimensions"), ("Train", "Train a VAE"))


def other_pages_first(out: dict, page):
    """Each of OTHER_PAGES opened the first time, timed until it is drawn (no job of it running) and idle."""
    for title, heading in OTHER_PAGES:
        nav(page, "Data", "Data")
        until_idle(page, 0)
        timed(out, f"first_open_{title.lower().replace(' ', '_')}", page, lambda title=title: click_nav(page, title),
              lambda heading=heading: page.wait_for_selector(f"h1:has-text('{heading}')") and page.wait_for_function(
                  "() => !document.body.innerText.includes('in a worker process')"))


def run(side: int, dims: int, folder: Path, choose_files: bool = False, clusters: bool = True,
        repeats: int = 10, only_clusters: bool = False, checkout: Path = REPO, cache: Path | None = None,
        study: int = 0, pool: str = SERVER_POOL) -> dict:
    from playwright.sync_api import sync_playwright

    out = {"checkout": "this" if checkout == REPO else str(checkout), "pool": pool,
           "points": 2400 if side == DEMO else side * side * max(study, 1), "dims": None if side == DEMO else dims,
           "sources": max(study, 1), "cores": os.cpu_count(),
           "load_before": Path("/proc/loadavg").read_text().split()[:3]}
    workspace = None
    VIEW.update(STUDY_VIEW if study else SCAN_VIEW)
    if study:
        start = time.perf_counter()
        workspace = workspace_with_study(folder, study, side, dims)
        log(f"wrote a study of {study} scans into workspace {workspace} in {time.perf_counter() - start:.1f} s")
    elif choose_files and side != DEMO:
        start = time.perf_counter()
        workspace = workspace_with_scan(folder, side, dims)
        log(f"wrote the scan's latents into workspace {workspace} in {time.perf_counter() - start:.1f} s")
    env = {"PYTHONPATH": str(checkout),  # its own latentcore and ui, whatever this process was given
           "LATENT_EXPLORER_CACHE": str(cache or folder / "cache"),
           "LATENT_EXPLORER_SCHEDULER": None if pool == SERVER_POOL else pool}  # None: left out
    with serve(folder, env, repo=checkout) as (url, _), sync_playwright() as p:
        memory = ServerMemory(int(url.rsplit(":", 1)[1]))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = [browser.new_context(viewport={"width": 1400, "height": 1600}).new_page() for _ in range(2)]
        try:
            measure(*pages, side, dims, folder, url, out, workspace, clusters, repeats, only_clusters, memory,
                    study > 0)
            out.update(memory.peak())
            out["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
        except BaseException:  # what each browser showed when it stopped, beside the server's log
            for number, page in enumerate(pages):
                page.screenshot(path=str(folder / f"stopped-context-{number + 1}.png"), full_page=True)
            log(f"stopped: screenshots and streamlit.log in {folder}")
            raise
        browser.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="0,224,447,1000",
                        help="scan sides to sweep, side**2 rows each; 0 is the built-in demo (default 0,224,447,1000)")
    parser.add_argument("--dims", type=int, default=128, help="latent dimensions of the generated scans (default 128)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds any one step may take")
    parser.add_argument("--choose", choices=("auto", "yes", "no"), default="auto",
                        help="put the scan's latents (with its own band-contrast map) in the workspace and choose "
                             f"them there instead of uploading them (auto: above {CHOOSE_ROWS:,} rows)")
    parser.add_argument("--no-clusters", action="store_true", help="leave out the Clusters page's interactions")
    parser.add_argument("--only-clusters", action="store_true",
                        help="of the first context's interactions, only the Clusters page's (not the UMAP page's "
                             "selections, nor the other pages' first open)")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout (e.g. main) whose app runs each size too, before this one's")
    parser.add_argument("--repeats", type=int, default=10,
                        help="box selections on the UMAP and Clusters pages after their first (default 10)")
    parser.add_argument("--pools", default=SERVER_POOL,
                        help=f"where each app's work runs, in turn: {SERVER_POOL!r} (its own worker pool), 'local' (a "
                             "Dask LocalCluster it starts) or a scheduler's address (default: server)")
    parser.add_argument("--study", type=int, default=0, metavar="SOURCES",
                        help="open a saved study of this many scans, each of side**2 rows (seeded apart), instead "
                             "of one scan (issue 51: 100 sources of 316**2 rows, about 10M)")
    args = parser.parse_args()
    globals()["TIMEOUT_S"] = args.timeout
    checkouts = {"this": REPO, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    with tempfile.TemporaryDirectory() as scratch:
        for side in map(int, args.sides.split(",")):
            choose_files = args.choose == "yes" or (args.choose == "auto" and side * side > CHOOSE_ROWS)
            assert not args.study or side != DEMO, "--study needs scan sides (not 0, the demo)"
            for (name, checkout), pool in itertools.product(reversed(checkouts.items()), args.pools.split(",")):
                folder = (args.keep or Path(scratch)) / f"side{side}-{name}-{pool.replace('/', '_').replace(':', '_')}"
                print(json.dumps(run(side, args.dims, folder, choose_files, not args.no_clusters, args.repeats,
                                     args.only_clusters, checkout, (args.keep or Path(scratch)) / "embeddings",
                                     args.study, pool)),
                      flush=True)


if __name__ == "__main__":
    main()
