"""Several people at once on a freshly started server, each opening a page's URL first: errors, tracebacks, waits.

Starts `streamlit run app.py` (tests/streamlit_server.py) that nobody has opened: no warm-up visit. Then
`--sessions` browser contexts in one headless Chromium (Playwright, Debian's /usr/bin/chromium) start at
the same moment, session i at the URL of page i (a bookmark: /data, /extract, ..., /train, in turn), and
for `--minutes` each walks the sidebar's pages in a seeded random order, waiting each time until the page
stopped running. An error is a visit that shows a traceback (stException), "page not found", or a heading
that does not begin with the page's title; the server log is searched for tracebacks. With `--sign-in` the server has an
`[auth]` section (a provider that is never reached): every visit must show only the sign-in page.

Prints one JSON line: sessions, seconds, visits, errors (with the first few), tracebacks in the log, the
median and 95th-percentile seconds to idle of a visit, and the load average before and after.
Run: `.venv/bin/python benchmarks/door_load.py [--sessions 6 --minutes 4 --sign-in]`; results go in
docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from streamlit_server import CHROMIUM, CHROMIUM_ARGS, NAV_LINKS, RUNNING, free_port, serve  # noqa: E402

sys.path.insert(0, str(REPO))
from ui.session.settings import PAGES as RECORDS  # noqa: E402

PAGES = {key: page.title for key, page in RECORDS.items()}  # the sidebar's titles; a page's heading begins with it
SIGN_IN = "Latent Explorer"


async def settle(tab, timeout_s: float = 300) -> None:
    """Until the script stopped running and did not start again 0.7 s later."""
    while True:
        await tab.wait_for_function(f"() => !({RUNNING})", timeout=timeout_s * 1000)
        await asyncio.sleep(0.7)
        if await tab.evaluate(f"() => !({RUNNING})"):
            return


async def problems(tab, heading: str) -> list[str]:
    found = [text.strip() for text in await tab.locator("[data-testid=stException]").all_inner_texts()]
    if await tab.get_by_text("Page not found").count():
        found.append("page not found")
    headings = [text.strip() for text in await tab.locator("h1").all_inner_texts()]
    if not headings or not headings[0].startswith(heading):
        found.append(f"heading {headings} where one beginning {heading!r} was due")
    return found


async def one_session(browser, url: str, first: str, until: float, seed: int, sign_in: bool, report: dict):
    tab = await (await browser.new_context(viewport={"width": 1600, "height": 1000})).new_page()
    tab.set_default_timeout(300_000)
    rng, name = random.Random(seed), first
    started = time.monotonic()
    await tab.goto(f"{url}/{first}")
    while True:
        await tab.wait_for_selector("h1")
        await settle(tab)
        report["waits"].append(time.monotonic() - started)
        report["visits"] += 1
        for problem in await problems(tab, SIGN_IN if sign_in else PAGES[name]):
            report["errors"].append(f"{name}: {problem[:200]}")
        if time.monotonic() > until:
            return
        if sign_in:  # nothing to walk to: each visit is a new page URL, as a bookmark
            name = rng.choice(list(PAGES))
            started = time.monotonic()
            await tab.goto(f"{url}/{name}")
            continue
        name = rng.choice([page for page in PAGES if page != name])
        started = time.monotonic()
        await tab.locator(NAV_LINKS, has_text=PAGES[name]).first.click()
        await tab.wait_for_selector(f"h1:has-text('{PAGES[name]}')")


async def load_run(url: str, sessions: int, seconds: float, sign_in: bool) -> dict:
    from playwright.async_api import async_playwright

    report = {"visits": 0, "errors": [], "waits": []}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        until = time.monotonic() + seconds
        names = list(PAGES)
        await asyncio.gather(*[one_session(browser, url, names[i % len(names)], until, i, sign_in, report)
                               for i in range(sessions)])
        await browser.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--sign-in", action="store_true", help="a server with [auth]: only the sign-in page")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="door-load-"))
    port = free_port()
    extra = ()
    if args.sign_in:
        secrets = root / "secrets.toml"
        secrets.write_text(f'[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
                           f'cookie_secret = "{os.urandom(16).hex()}"\nclient_id = "x"\nclient_secret = "x"\n'
                           'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n')
        extra = ("--secrets.files", str(secrets))
    load_before = os.getloadavg()[0]
    with serve(root / "server", args=extra, port=port) as (url, log):
        report = asyncio.run(load_run(url, args.sessions, args.minutes * 60, args.sign_in))
        text = log.read_text()
    waits = sorted(report["waits"])
    print(json.dumps({
        "sessions": args.sessions, "seconds": args.minutes * 60, "sign_in": args.sign_in,
        "visits": report["visits"], "errors": len(report["errors"]), "first_errors": report["errors"][:5],
        "tracebacks_in_log": text.count("Traceback"),
        "idle_median_s": round(statistics.median(waits), 2),
        "idle_p95_s": round(waits[int(0.95 * (len(waits) - 1))], 2),
        "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
