"""Remake the README's picture: the UMAP page on the built-in demo, a box selection made, at 1600 x 1000.

Starts `streamlit run app.py` on a free port of 127.0.0.1 with private folders (tests/streamlit_server.py), extracts
the demo scan's latents with the demo VAE on the Extract page, selects a box on the UMAP scatter and saves the window.
Needs the dev requirements and Debian's Chromium. Run: `.venv/bin/python docs/screenshot.py [--out docs/images/umap.png]`.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from streamlit_server import CHROMIUM, CHROMIUM_ARGS, serve, settle  # noqa: E402


def open_page(tab, title: str, heading: str) -> None:
    tab.locator("[data-testid=stSidebarNav] a", has_text=title).first.click()
    tab.wait_for_selector(f"h1:has-text('{heading}')")
    settle(tab)


def box_select(tab, key: str, fx0: float, fy0: float, fx1: float, fy1: float) -> None:
    """Drag a box over the fractions (fx0, fy0)-(fx1, fy1) of point panel `key`'s canvas."""
    tab.wait_for_function(f"() => window.__latentPanels?.panels?.[{key!r}]?.root.isConnected")
    area = tab.locator(f".lp-root[data-key={key}] .lp-shape").bounding_box()
    tab.mouse.move(area["x"] + fx0 * area["width"], area["y"] + fy0 * area["height"])
    tab.mouse.down()
    tab.mouse.move(area["x"] + fx1 * area["width"], area["y"] + fy1 * area["height"], steps=8)
    tab.mouse.up()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "umap.png")
    out = parser.parse_args(argv).out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as root, serve(Path(root)) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1600, "height": 1000})
        tab.set_default_timeout(180_000)
        tab.goto(url)
        tab.wait_for_selector("h1:has-text('Data')")
        settle(tab)
        open_page(tab, "Extract", "Extract latents")
        tab.get_by_role("button", name="Extract", exact=True).click()
        tab.get_by_text("_latents.h5").first.wait_for()
        settle(tab)
        open_page(tab, "UMAP", "UMAP")
        box_select(tab, "umap_scatter", 0.55, 0.1, 0.95, 0.6)
        tab.locator("h3", has_text="Selected:").wait_for()
        settle(tab)
        tab.locator(".lp-root[data-key=umap_scatter]").scroll_into_view_if_needed()  # the two panels in view
        tab.mouse.move(5, 5)
        tab.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
