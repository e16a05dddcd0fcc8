"""The Latent maps page's first open at scale (or the Rank page's, `--page Rank`): seconds from the click on its link
until its maps are drawn (the Rank page: its ranking's worker done) and until the page stopped running (what a person
waits), and the WebSocket megabytes it received, in headless Chromium against `streamlit run app.py`; this checkout
against another (`--baseline`), alternated, each in a fresh server that has finished its start-up warm-ups (its
workers' numba code, its pages' libraries) before the click, as browser_interaction.py times a page (`--at-once`:
the click as soon as the Data page stopped running).

The scan's latents (`browser_interaction.write_scan`: side x side pixels, seeded) are written once into a workspace
as the Data page leaves a chosen file (its own band-contrast map), and opened from the Data page.

    python benchmarks/maps_open.py [--side 1000] [--dims 16] [--repeats 2] [--baseline ../main] [--page Rank]
                                   [--at-once]

Goals (issue 55): the maps <= 2 s at 1M rows, <= 5 s at 10M (item 2); the ranking <= 5 s at 1M x 128 and <= 15 s
at 10M x 16 (item 1). Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from browser_interaction import COUNT_BYTES, SCAN_MAP, ServerMemory, click_nav, nav, timed, write_scan  # noqa: E402
from streamlit_server import CHROMIUM, CHROMIUM_ARGS, WATCH_RUNS, serve, until_idle  # noqa: E402

NO_JOB = "!document.body.innerText.includes('in a worker process')"
MAPS_DRAWN = f"() => document.querySelectorAll('.st-key-maps_grid .js-plotly-plot .cbtitle').length > 0 && {NO_JOB}"
DRAWN = {"Latent maps": MAPS_DRAWN,  # the page's link -> what shows it drawn
         "Rank": f"() => !!document.querySelector('[data-testid=stDataFrame]') && {NO_JOB}"}  # the ranking's table


def workspace(root: Path, latents: Path) -> str:
    """A workspace whose chosen latents are `latents` (linked into its uploads: the app restores no path outside
    a workspace), as the app keeps one; its id."""
    workspace_id = secrets.token_urlsafe(16)
    folder = root / "sessions" / "workspaces" / workspace_id
    (folder / "uploads").mkdir(parents=True)
    mine = folder / "uploads" / latents.name
    os.link(latents, mine)
    record = {"source": str(mine), "bandcontrast": f"scan:{SCAN_MAP}", "latents": str(mine), "models": {},
              "settings": {}, "files": {"data": [str(mine)]}}
    (folder / "state.json").write_text(json.dumps(record))
    return workspace_id


def first_open(checkout: Path, latents: Path, root: Path, link: str = "Latent maps", at_once: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    out = {"checkout": "this" if checkout == REPO else str(checkout), "load_before": Path("/proc/loadavg").read_text()[:14]}
    env = {"PYTHONPATH": str(checkout), "LATENT_EXPLORER_CACHE": str(root / "cache")}
    with serve(root, env, repo=checkout) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
        page.add_init_script(WATCH_RUNS)
        page.add_init_script(COUNT_BYTES)
        page.goto(f"{url}/?workspace={workspace(root, latents)}")
        try:
            nav(page, "Data", "Data")
            until_idle(page, 0)
            server = ServerMemory(int(url.rsplit(":", 1)[1]))
            if not at_once:
                out["quiet_after_s"] = server.wait_quiet()  # the start's warm-ups done, as a user reading finds them
            server.peak()
            timed(out, f"first_open_{link.split()[-1].lower()}", page, lambda: click_nav(page, link),
                  lambda: page.wait_for_function(DRAWN[link], timeout=600_000))
        except BaseException:
            page.screenshot(path=str(root / "stopped.png"), full_page=True)
            print(f"stopped: {root / 'stopped.png'}", file=sys.stderr)
            raise
        browser.close()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="another checkout, measured before this one each time")
    parser.add_argument("--page", choices=list(DRAWN), default="Latent maps")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--at-once", action="store_true",
                        help="click as soon as the Data page stopped running, the server's warm-ups still running")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(args.keep or folder)
        start = time.perf_counter()
        latents, _ = write_scan(folder / "scan", args.side, args.dims, table=False)
        print(f"wrote {args.side ** 2:,} x {args.dims} latents in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        checkouts = ([args.baseline.resolve()] if args.baseline else []) + [REPO]
        for repeat in range(args.repeats):
            for checkout in checkouts:
                result = first_open(checkout, latents, folder / f"run{repeat}-{checkout.name}", args.page,
                                    args.at_once)
                print(json.dumps({"side": args.side, "dims": args.dims, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
