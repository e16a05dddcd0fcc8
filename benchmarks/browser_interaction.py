"""Seconds a scientist waits in the browser, at sizes from the demo to 1,000,000 rows, and a second user meanwhile.

Drives `streamlit run app.py` in headless Chromium (Playwright, Debian's /usr/bin/chromium). For each
scan side in `--sides` (0: the built-in demo, 2,400 rows, extracted in the app; else a generated
side x side scan's latents, `--dims` dimensions in 12 clusters, and its band-contrast table, uploaded
through the Data page as a user would), it prints one JSON line. Every interaction reports two times,
both from the moment the user acted (the click, the key, the mouse-up):
- "draw": until the panels it changes are drawn (the count, the colour bar, the charts);
- "idle": until the page stopped running (the app root's script state, `tests/streamlit_server.py`),
  which is what a person waits for before the next click.
Interactions: `umap_reopen` (back to the UMAP page, the embedding cached), `umap_box_select`,
`umap_recolour` (colour by a latent dimension), `cluster_first` (the Clusters page the first time:
the GMM), `cluster_reopen`, `cluster_box_select`; for the demo `extract_and_fit`, else `upload`,
`umap_fit_s` (the fit in the worker pool), and the second context's recolour of its own demo UMAP
with nothing else running and while the first context's fit runs (`other_session_recolour_*`).
The script's running spans after each action go to stderr ("runs"). The machine is shared: say what
else ran when quoting these.

Measured 2026-11-22, 1,000,000 rows, 2 cores with nothing else running (workers: 1 thread, nice 10):
                              earlier that day    now
  upload                           1.61 s        1.36 s
  other session's recolour         2.55 s        1.11 s   (goal 2; idle: 1.15 -> 0.81 s)
  UMAP fit                          389 s         341 s
  UMAP reopen / box select   2.83 / 3.07 s  1.46 / 1.50 s  (goal 3 each)
  Clusters first open              34.7 s        24.3 s   (GMM from its k-means start)
  Clusters reopen / box      3.89 / 3.82 s  1.49 / 1.21 s  (goal 3 each)
Where the time went, found with a CDP CPU profile of the renderer, the websocket frames decoded with
Streamlit's protobufs and py-spy on the server: plotly drew each 1000 x 1000 heatmap (the scan maps)
with ~1-2 s of canvas work, twice when margins were pushed (maps are PNG images now); the Clusters
page sent all 226,663 selected rows as a 6.3 MB table (now the first 5,000); Streamlit's full GC
after every run took ~0.9 s holding the GIL, every session's rerun waiting (runner.postScriptGC off).

Measured since (draw / idle, seconds; idle is what the goals of <= 0.5 s at the demo and <= 1.5 s at
every size are about, and neither is met):
  2026-11-22, 1,000,000 x 128, load about 3: upload 3.24, fit 65, UMAP reopen 1.31, box select 1.54,
  recolour 0.86 / 2.01, clusters first 15.0, reopen 0.85, cluster box select 0.76 / 0.84, the other session's
  recolour during the fit 0.71 / 1.08 (0.51 / 0.57 with nothing else running).
  2026-11-23, the demo, load 0.3-2.8, three runs: UMAP reopen 1.25-1.57, box select 1.97-2.19, recolour
  0.55-0.62 / 0.91-1.22, clusters first 1.14-2.97, reopen 0.80-1.78, cluster box select 0.59-1.13 / 0.59-1.13.
  Where the demo's time goes (py-spy on the server, a CDP profile of the renderer): about 0.4 s of a UMAP
  reopen is the server's script (a third of it plotly validating the figures' colour scales), the rest is the
  headless renderer: WebGL contexts started in software (~0.3 s a reopen; SVG below 5,000 points measured no
  faster: the markers' styling costs as much), plotly's layout and Streamlit's elements. Reading the
  selection's patterns for their mean (0.3-0.4 s of a selection) now waits for its toggle.

Ten million rows (`--sides 3163 --dims 16`): a browser upload of the 640 MB latents is impractical, so above
CHOOSE_ROWS the scan's latents, with its own band-contrast map, are written into a workspace (as an earlier upload
would have left them) and chosen there (`--choose`); the JSON line carries the server's peak resident memory
(`server_rss_gb`: anonymous + file-backed, the latter the memory-mapped latents shared with the page cache) and the
workers' (`workers_rss_peak_gb`), sampled from /proc. Measured 2026-11-23, 10,004,569 x 16, 2 cores shared with
other helpers (run 1: load average 3.6-4.4; run 2 began at 0.9, another helper's extraction benchmark ran beside
its last steps; run 3: load 1.2-1.5), workers at every core, nice 10 (drawn / idle, seconds):
                                             run 1                  run 2 (scan_grid)   run 3 (band contrast shown)
  other session's recolour, quiet            1.00 / 1.55            0.63 / 1.02         0.74 / 0.79      (goal 2)
  other session's recolour during the fit    1.01 / 1.56            0.48 / 0.70         0.47 / 0.85      (goal 2)
  UMAP fit (worker; 10M placed by the walk)  196.6 s                137.9 s             104.2 s          (goal 600)
  UMAP reopen                                1.70 / 1.70            1.53 / 1.53         3.09 / 3.09      (goal 3)
  UMAP box select (832,666 rows)             2.13 / 2.49            2.14 / 2.75         2.74 / 3.35      (goal 3)
  UMAP recolour by a latent dimension        2.59 / 15.8            3.62 / 6.94         2.31 / 4.80
  Clusters first (GMM, worker)               -                      -                   253.7 s
  Clusters reopen / box select (1,749,477)   -                      -                   1.82 / 3.29 (3.37 idle)
  server RSS peak (anonymous + file-backed)  3.47 GB (2.62 + 0.84)  2.65 GB at the end  3.56 GB (2.71 + 0.84) (goal 12)
  workers' RSS peak                          3.61 GB                -                   3.76 GB
Runs 1 and 2 coloured the UMAP by nothing (the chosen file's band contrast was lost, below); run 3 by the scan's
band-contrast map, with its map and histogram drawn on every rerun: its reopen and box select are at or just over
the 3 s goal. Run 1 inferred the scan map's grid again for every colour (two np.unique over 10M coordinates, a
uniqueness check, the indices twice); `scan_maps.scan_grid` now does that once per file. Then profiled (py-spy):
a rerun hashed the 80 MB of coordinates three times to find the cached raster, recomputed the raster's cell
colours and counts and the map's histogram (10M values) on every selection. Now a selection's rerun reuses
them and the resolvers look for the raster only when an event comes. Run 4 (`--no-clusters`, load 1.6-2.3,
band contrast shown): other session 0.49 / 0.54 quiet, 0.60 / 1.02 during the fit; fit 105.8 s; UMAP reopen
2.78 / 2.78; box select 2.22 / 2.67 (run 3: 2.74 / 3.35); recolour 2.19 / 3.83; server RSS 2.89 GB peak,
workers 3.82 GB. Still per rerun: the continuous colour's codes and the 3163 x 3163 map PNG.
Runs 1 and 2's Clusters page asked for band contrast: the latents reader had no `point_maps()`, so the Data page
offered no scan map of a chosen latents file. Fixed (`LatentsReader.point_maps`) before run 3.

Measured 2026-11-23 evening on another 2-core machine (AMD EPYC, znver4), nothing else running (load 0.3-1.3 at
each start), drawn / idle, seconds:
  the demo: extract and fit 3.79; UMAP reopen 1.16 / 1.16; box select 1.29 / 1.29; recolour 0.68 / 1.11; Clusters
    first 1.29; reopen 0.78; cluster box select 0.55 / 0.55. The UMAP page's script runs 0.18 s (AppTest); the
    browser shows it running for 0.9 s: the rest is the headless renderer (software WebGL, plotly, three charts).
  1,000,000 x 128: upload 4.82; fit 38.2 s (the worker on both cores); the other session's recolour 0.74 / 0.90
    quiet, 0.47 / 0.76 during the fit; UMAP reopen 1.06 / 1.06; box select 1.21 / 1.54; recolour 0.84 / 1.54;
    Clusters first 12.3 s; reopen 1.08; cluster box select 0.86 / 0.98; server RSS 2.87 GB.
  10,004,569 x 16 (chosen): fit 119.2 s; then, with py-spy on the server, three changes, each re-measured (the
  fit read back from the embedding cache):           before          after
    UMAP reopen                                      3.40 / 3.40     1.93 / 1.93   (goal 3)
    UMAP box select (832,666 rows)                   3.15 / 3.72     2.35 / 2.98   (goal 3)
    UMAP recolour by a latent dimension              2.56 / 4.85     3.03 / 5.08
    other session's recolour during the fit          0.49 / 1.48     0.50 / 0.90   (goal 2)
    Clusters reopen / box select (1,749,477 rows)    1.25 / 3.28     1.81 / 2.73   (after the first two)
    server RSS peak                                  3.63 GB         3.66 GB       (goal 12)
  The changes: a plain np.unique (numpy >= 2.3 answers it from a hash table) took 1.05 s of the box select's
  rerun for 832,666 sorted rows (latentcore.arrays.unique sorts); a continuous colour, its range and its latent
  column are made once (their codes, range and the raster's cell colours were a pass each per rerun: 2.9 s over
  three interactions); a read-only array's digest is found once (hashing the coordinates and the 40 MB code map
  for the caches took 0.9 s a selection). A 10M box select's server rerun went from 2.2 s to 0.9 s; the rest of
  its 3 s is the browser receiving and decoding the scan map's 7 MB PNG again with its veil.
  The sweep's middle sizes (x 128), before -> after scatters above 20,000 points became rasters (was 200,000),
  idle seconds:                                  50,176          199,809
    UMAP reopen                                  2.14 -> 1.15    5.65 -> 1.07
    UMAP box select                              2.91 -> 1.48    9.22 -> 1.50
    UMAP recolour                                2.20 -> 1.18    7.32 -> 1.19
    Clusters reopen                              2.75 -> 1.55    6.64 -> 0.86
    cluster box select                           3.12 -> 1.50    4.19 -> 0.93
  (the fits 23 s in the worker; load 1.3-2.7 from the runs before). The demo in the same session, a second time:
  UMAP reopen 1.26, box select 1.87, recolour 1.47, Clusters reopen 0.97, cluster box select 0.67: the goal of
  0.5 s at the demo is not met, and demo runs differ by up to 0.6 s between runs.

Measured 2026-11-24 on a 2-core AMD EPYC (Zen 3), nothing else running, the demo (drawn / idle, seconds):
extract and fit 3.28; UMAP reopen 0.99; box select 1.14; recolour 0.74 / 1.11; Clusters first 1.00; reopen 0.81;
cluster box select 0.51. Where it goes: the server's script runs (Streamlit's ScriptRunner._run_script timed in
the server) take 0.19 s for the UMAP reopen, 0.28 s for its box select (the linked panels' fragment), 0.32 s
for the recolour, 0.10 / 0.07 s for the Clusters reopen / box select; pages without charts (Data, Extract,
Train) are idle 0.13-0.41 s after the click. The rest is the headless renderer. UMAP reopen, median of four
(the page as it is 0.93 s): without the colour histogram 0.73; without it and the scan map 0.75; without any
chart 0.28; the scatter as SVG instead of WebGL 1.33; the histogram as a static plot 0.89. So the 2,400-point
WebGL scatter alone costs about 0.45 s of the renderer (software GL, plotly) and the histogram 0.2 s: with
plotly charts the 0.5 s demo goal is out of reach in this browser whatever the server does.

    python benchmarks/browser_interaction.py [--sides 0,224,447,1000] [--dims 128] [--keep DIR] [--choose auto]
                                             [--no-clusters]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the browser test's Chromium settings and box drag

from streamlit_server import CHROMIUM, CHROMIUM_ARGS, WATCH_RUNS, now_ms, serve, until_idle  # noqa: E402
from test_e2e_browser import drag_box  # noqa: E402

COLOURBAR = "(title) => [...document.querySelectorAll('.js-plotly-plot .cbtitle')].some(e => e.textContent.includes(title))"
TIMEOUT_S = 600  # the longest wait for any one step (--timeout)
DEMO = 0  # --sizes 0: the built-in demo scan (2,400 rows), extracted in the app


def write_scan(folder: Path, side: int, dims: int, table: bool = True) -> tuple[Path, Path | None]:
    """A side x side scan's latents (clustered, seeded) and its band-contrast CSV; without `table`, the band
    contrast is the scan's own map in the latents file (`point_maps/Band Contrast`), as a vendor's scan has it."""
    import pandas as pd

    from latentcore.latents import LatentsWriter

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(13)
    n = side * side
    rows, cols = np.divmod(np.arange(n), side)
    x, y = cols * 1.5, rows * 1.5
    labels = (rows // max(side // 4, 1)) * 3 + (cols // max(side // 3, 1)) % 3  # 12 regions of the scan
    centres = rng.normal(scale=4, size=(labels.max() + 1, dims)).astype(np.float32)
    writer = LatentsWriter(folder / "scan_latents.h5", {"all": (n, dims)}, {})
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
    path = writer.finish({"source": "synthetic_scan.h5"})
    if not table:
        return path, None
    bc = folder / "scan_bandcontrast.csv"
    pd.DataFrame({"x": x, "y": y, "bandcontrast": values}).to_csv(bc, index=False)
    return path, bc


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
    page.locator("[data-testid=stSidebarNav] a", has_text=title).first.click()


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


def drawn(page, charts: int):
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot .nsewdrag').length >= {charts}")


def selected_count_js(prefix: str) -> str:
    return ("() => [...document.querySelectorAll('h3')].map(h => h.innerText)"
            f".filter(t => t.startsWith('{prefix}'))")


def umap_ready(page):
    drawn(page, 2)
    page.wait_for_function(selected_count_js("Selected:") + ".length > 0")


def clusters_ready(page):
    drawn(page, 2)
    page.locator("[data-testid=stMetric]", has_text="Selected here").wait_for()


def metric(page, label: str) -> str:
    box_ = page.locator("[data-testid=stMetric]", has_text=label).first
    return box_.locator("[data-testid=stMetricValue]").inner_text().strip()


def timed(out: dict, name: str, page, act, ready, prepare=None):
    """`prepare()`, `act()`, `ready()`: out[name] = {"draw": seconds until ready, "idle": until the
    page stopped running}, both from the moment `act` began (a click, a key, mouse-up)."""
    if prepare:
        prepare()
    since, start = now_ms(page), time.perf_counter()
    act()
    ready()
    draw = time.perf_counter() - start
    out[name] = {"draw": round(draw, 2), "idle": round(max(until_idle(page, since), draw), 2)}
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


def box_select(out: dict, name: str, page, chart, frame: tuple, ready):
    """A selection box dragged over `frame` (fractions of the plot area), timed from mouse-up."""
    timed(out, name, page, page.mouse.up, ready, prepare=lambda: drag_box(page, chart, *frame))


def open_latents(first, second, side: int, dims: int, folder: Path, out: dict, chosen: bool = False):
    """The first context's latents on the UMAP page (the demo extracted, or a generated scan uploaded, or,
    `chosen`, already in its workspace and chosen there), the second context's demo UMAP recoloured
    meanwhile (the other user)."""
    nav(second, "UMAP", "UMAP")
    second.get_by_role("button", name="Extract the demo latents now").click()
    umap_ready(second)
    until_idle(second, 0)
    if side == DEMO:
        nav(first, "UMAP", "UMAP")
        timed(out, "extract_and_fit", first, first.get_by_role("button", name="Extract the demo latents now").click,
              lambda: umap_ready(first))
        return
    recolour(out, "other_session_recolour_quiet", second, "a latent dimension", "latent 0")  # nothing else running
    if chosen:  # the workspace's files, chosen there: its Data page (loaded in `measure`) shows them
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
    first.get_by_role("button", name="Explore these latents").click()
    start = time.perf_counter()
    if side * side > int(os.environ.get("LATENT_EXPLORER_INLINE_ROWS", 20_000)):
        first.get_by_text("in a worker process").wait_for()  # the big fit runs in the pool
        time.sleep(3)
        recolour(out, "other_session_recolour_during_fit", second, "band contrast", "band contrast")
        out["fit_still_running"] = first.get_by_text("in a worker process").count() > 0
    umap_ready(first)
    out["umap_fit_s"] = round(time.perf_counter() - start, 1)
    log(f"fit: {out['umap_fit_s']:.1f} s")
    until_idle(first, 0)


def measure(first, second, side: int, dims: int, folder: Path, url: str, out: dict, workspace: str | None = None,
            clusters: bool = True):
    for page, address in ((first, f"{url}/?workspace={workspace}" if workspace else url), (second, url)):
        page.set_default_timeout(TIMEOUT_S * 1000)
        page.add_init_script(WATCH_RUNS)
        page.goto(address)
        page.wait_for_selector("h1:has-text('Data')")
        until_idle(page, 0)
    open_latents(first, second, side, dims, folder, out, chosen=workspace is not None)

    reopen(out, "umap_reopen", first, "UMAP", "UMAP", umap_ready)
    box_select(out, "umap_box_select", first, first.locator(".js-plotly-plot").first, (0.3, 0.3, 0.6, 0.6),
               lambda: first.wait_for_function(selected_count_js("Selected:") + ".some(t => !t.startsWith('Selected: 0 '))"))
    out["umap_selected"] = first.evaluate(selected_count_js("Selected:"))[0]
    recolour(out, "umap_recolour", first, "a latent dimension", "latent 0")
    if not clusters:
        return
    timed(out, "cluster_first", first, lambda: click_nav(first, "Clusters"), lambda: clusters_ready(first))
    reopen(out, "cluster_reopen", first, "Clusters", "Clusters", clusters_ready)
    before = metric(first, "Selected here")
    box_select(out, "cluster_box_select", first, first.locator(".js-plotly-plot").nth(1), (0.1, 0.1, 0.5, 0.5),
               lambda: first.wait_for_function(
                   "(before) => { const m = [...document.querySelectorAll('[data-testid=stMetric]')]"
                   ".find(e => e.innerText.includes('Selected here')); return m && !m.innerText.includes(before); }",
                   arg=before))
    out["cluster_selected"] = metric(first, "Selected here")


def run(side: int, dims: int, folder: Path, choose_files: bool = False, clusters: bool = True) -> dict:
    from playwright.sync_api import sync_playwright

    out = {"points": 2400 if side == DEMO else side * side, "dims": None if side == DEMO else dims,
           "cores": os.cpu_count(), "load_before": Path("/proc/loadavg").read_text().split()[:3]}
    workspace = None
    if choose_files and side != DEMO:
        start = time.perf_counter()
        workspace = workspace_with_scan(folder, side, dims)
        log(f"wrote the scan's latents into workspace {workspace} in {time.perf_counter() - start:.1f} s")
    with serve(folder) as (url, _), sync_playwright() as p:
        memory = ServerMemory(int(url.rsplit(":", 1)[1]))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = [browser.new_context(viewport={"width": 1400, "height": 1600}).new_page() for _ in range(2)]
        try:
            measure(*pages, side, dims, folder, url, out, workspace, clusters)
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
    args = parser.parse_args()
    globals()["TIMEOUT_S"] = args.timeout
    with tempfile.TemporaryDirectory() as scratch:
        for side in map(int, args.sides.split(",")):
            folder = (args.keep or Path(scratch)) / f"side{side}"
            choose_files = args.choose == "yes" or (args.choose == "auto" and side * side > CHOOSE_ROWS)
            print(json.dumps(run(side, args.dims, folder, choose_files, not args.no_clusters)), flush=True)


if __name__ == "__main__":
    main()
