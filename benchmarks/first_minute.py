"""The first minute on a fresh install: seconds from the server being up to the first scatter, and what the sidebar
shows before the app's navigation.

A fresh install: `streamlit run app.py` with empty app caches (working folder, embedding cache) and an empty
numba cache (`NUMBA_CACHE_DIR` pointing at an empty folder), driven in headless Chromium (Playwright, Debian's
/usr/bin/chromium, started before the server so its start is not counted). Two cases, each on a server of its own:
- `demo`: a first request to the UMAP page's URL, a click on "Extract the demo latents now" (2,400 patterns
  extracted in the server), until the first scatter is drawn, and until the UMAP replaces an interim embedding;
- `scan`: a new scan of `--scan-rows` patterns (latentcore/demo/simulate.py, 60 x 60 pixels), its latents extracted
  beforehand with the demo model (`python -m latentcore extract`; its seconds are reported, not counted; made once
  with `--scan-files`) and left in a workspace as the Data and Extract pages leave them; a first request to that workspace's UMAP page until the
  first scatter, and until the UMAP.
Each prints one JSON line: `first_scatter_s` (from the server up), `click_to_scatter_s` (demo), `umap_s` (from the
server up until the page says the UMAP is shown), `first_caption` (what the page said of the first scatter),
`expected_umap` (the fit's time the page expected, said beside the first scatter while the UMAP fits),
`nav_s` (the first request until the app's navigation is drawn), `raw_page_list` (whether Streamlit's own page list,
`app, clusters, ... umap`, was ever shown) and the load average before and after.

Goals: the demo's first scatter <= 10 s after the server is up; a 50,000-row scan's <= 20 s; the app's navigation
from the first paint (never Streamlit's own page list).

    python benchmarks/first_minute.py [--cases demo,scan] [--scan-rows 50000] [--scan-files DIR] [--keep DIR]
                                      [--timeout S]

Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the browser tests' server and Chromium settings

from streamlit_server import CHROMIUM, CHROMIUM_ARGS, WATCH_NAV, serve  # noqa: E402

PANEL_DRAWN = "(key) => window.__latentPanels?.panels?.[key]?.root.isConnected"
EMBEDDING_NOTE = re.compile(r"^(UMAP|PCA) of ")  # the page's caption of the embedding shown (common.embedding_note)
UMAP_SHOWN = ("(rows) => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
              ".some(e => e.innerText.startsWith(`UMAP of ${rows} latents:`))")
EXPECTED = re.compile(r"expected: about ([^:]+):")
TIMEOUT_S = 300


def log(message: str):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def fresh_env(root: Path) -> dict:
    """An empty numba cache (the server's warm-up and its workers compile from nothing)."""
    (root / "numba").mkdir(parents=True, exist_ok=True)
    return {"NUMBA_CACHE_DIR": str(root / "numba")}


def first_scatter(page, up: float, rows: str, out: dict):
    """Wait for the scatter, then for the UMAP: seconds from `up` (the server answering) into `out`."""
    page.wait_for_function(f"() => ({PANEL_DRAWN})('umap_scatter')")
    out["first_scatter_s"] = round(time.perf_counter() - up, 1)
    out["first_caption"] = page.locator("[data-testid=stCaptionContainer]", has_text=EMBEDDING_NOTE).first.inner_text()
    log(f"first scatter at {out['first_scatter_s']} s: {out['first_caption']!r}")
    note = page.locator("[data-testid=stAlert]", has_text="(expected: about")
    if note.count():  # the PCA shown meanwhile: how long the page said the UMAP would take
        out["expected_umap"] = EXPECTED.search(note.first.inner_text()).group(1)
        log(f"the page expects the UMAP in {out['expected_umap']}")
    page.wait_for_function(UMAP_SHOWN, arg=rows)
    page.wait_for_function(f"() => ({PANEL_DRAWN})('umap_scatter')")
    out["umap_s"] = round(time.perf_counter() - up, 1)
    log(f"UMAP at {out['umap_s']} s")


def navigation(page, out: dict):
    nav = page.evaluate("window.__nav")
    out["nav_s"] = round(nav["app"] / 1000, 2) if nav["app"] is not None else None
    out["raw_page_list"] = nav["raw"]


def fresh_page(browser, address: str):
    """A new context's page at `address`, at 1600 x 1000, watching for the navigation's first paint."""
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.set_default_timeout(TIMEOUT_S * 1000)
    page.add_init_script(WATCH_NAV)
    page.goto(address)
    return page


def demo(browser, root: Path) -> dict:
    out = {"case": "demo", "rows": 2400, "load_before": load()}
    with serve(root, env=fresh_env(root)) as (url, _):
        up = time.perf_counter()
        page = fresh_page(browser, f"{url}/umap")
        button = page.get_by_role("button", name="Extract the demo latents now")
        button.wait_for()
        out["button_s"] = round(time.perf_counter() - up, 1)
        log(f"the demo's button at {out['button_s']} s")
        clicked = time.perf_counter()
        button.click()
        first_scatter(page, up, "2,400", out)
        out["click_to_scatter_s"] = round(out["first_scatter_s"] - (clicked - up), 1)
        navigation(page, out)
    out["load_after"] = load()
    return out


def scan_files(folder: Path, rows: int) -> dict:
    """A simulated scan of about `rows` patterns and its latents (the demo model) in `folder`, made once (kept
    there for later runs); the seconds each step took."""
    from latentcore.demo import DEMO_MODEL
    from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd

    columns, scan = 250, folder / f"sim_scan_{rows}.h5"
    if scan.exists() and list(folder.glob(f"{scan.stem}__*_latents.h5")):
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    write_h5ebsd(simulate_scan(ScanSettings(n_rows=rows // columns, n_columns=columns, n_grains=60, seed=5)), scan)
    simulated = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "latentcore", "extract", str(scan), "--model", str(DEMO_MODEL),
                    "--out", str(folder)], check=True, cwd=REPO, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    return {"simulate_s": round(simulated, 1), "extract_cli_s": round(time.perf_counter() - start, 1)}


def scan_workspace(root: Path, files: Path, rows: int) -> str:
    """A workspace holding the scan and its latents (linked from `files`), as the Data and Extract pages leave
    them; its id."""
    import secrets

    workspace_id = secrets.token_urlsafe(16)
    folder = root / "sessions" / "workspaces" / workspace_id / "uploads"
    folder.mkdir(parents=True)
    scan = folder / f"sim_scan_{rows}.h5"
    os.link(files / scan.name, scan)
    found = next(files.glob(f"{scan.stem}__*_latents.h5"))
    os.link(found, folder / found.name)
    record = {"source": str(scan), "bandcontrast": None, "latents": str(folder / found.name), "models": {},
              "settings": {}, "files": {"data": [str(scan)]}}
    (folder.parent / "state.json").write_text(json.dumps(record))
    return workspace_id


def scan(browser, root: Path, files: Path, rows: int) -> dict:
    setup = scan_files(files, rows)
    workspace = scan_workspace(root, files, rows)
    out = {"case": "scan", "rows": rows, **setup, "load_before": load()}
    with serve(root, env=fresh_env(root)) as (url, _):
        up = time.perf_counter()
        page = fresh_page(browser, f"{url}/umap?workspace={workspace}")
        first_scatter(page, up, f"{rows:,}", out)
        navigation(page, out)
    out["load_after"] = load()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="demo,scan", help="demo, scan or both (default demo,scan)")
    parser.add_argument("--scan-rows", type=int, default=50_000, help="patterns of the new scan (default 50,000)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--scan-files", type=Path, help="make the scan and its latents here once, and take them "
                                                        "from here later (default: in the work folder)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds any one step may take")
    args = parser.parse_args()
    globals()["TIMEOUT_S"] = args.timeout
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for case in args.cases.split(","):
            work = args.keep or Path(scratch)
            if case == "demo":
                result = demo(browser, work / case)
            else:
                result = scan(browser, work / case, args.scan_files or work / "scan-files", args.scan_rows)
            print(json.dumps({"cores": os.cpu_count(), **result}), flush=True)
        browser.close()


if __name__ == "__main__":
    main()
