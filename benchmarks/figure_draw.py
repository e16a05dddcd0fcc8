"""How long plotly.js takes to draw the scan-map figures the pages send, in headless Chromium, and how big their JSON
is: the reference maps (`scan_references.map_figure` as the page shows them: IPF, KAM as a scalar map, grains; KAM
with the grain boundaries of side^2 / 250 seeded Voronoi grains over it, `kam_boundaries`) and the Latent maps page's
grid of eight maps (`ui/figures/maps.latent_maps_figures`), on a side x side scan of seeded random values.

Each figure is drawn by `Plotly.newPlot` in a bare page (plotly.js from the plotly package, as Streamlit's is the
same library) until the next frame, three times, after one untimed draw; the page's own Streamlit costs (React, the
WebSocket) are not in it: benchmarks/maps_open.py times whole pages. `--repo` draws another checkout's figures
(its code imported in a subprocess), for a before and after in one run.

    python benchmarks/figure_draw.py [--side 1000] [--repo ../main] [--figures kam,kam_boundaries,latent_maps]

Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("ipf", "kam", "kam_boundaries", "grains", "latent_maps")


def figure_json(name: str, side: int) -> str:
    """The figure `name` of a side x side scan (step 1.5 µm), as plotly's JSON."""
    import numpy as np
    import plotly.io as pio

    from latentcore.analysis.ebsd.scan_references import map_figure
    from latentcore.analysis.maps import Grid

    rng = np.random.default_rng(0)
    grid = Grid(0.0, 0.0, 1.5, 1.5, side, side)
    if name == "latent_maps":
        from ui.figures.maps import latent_maps_figures

        maps = rng.normal(size=(8, side, side)).astype(np.float32)
        return pio.to_json(latent_maps_figures(maps, grid, list(range(8)), columns=2, nan_colour="#ffffff",
                                               units="um", scale_bar=True)[0])
    grains = np.repeat(np.arange(side // 10 + 1), 10)[:side]
    values = {"ipf": ("ipf_z", rng.random((side, side, 3))), "kam": ("kam", rng.random((side, side)) * 5),
              "kam_boundaries": ("kam", rng.random((side, side)) * 5),
              "grains": ("grains", (grains[:, None] * 1000 + grains[None, :]).astype(np.float64))}[name]
    try:  # as the page shows it: one pixel in map_stride (before 2026-11-28, every pixel)
        from latentcore.figures import map_stride
        shown = {"stride": map_stride(side * side)}
    except ImportError:
        shown = {}
    if name == "kam_boundaries":
        shown.update(lines=voronoi_boundaries(side, grid, rng), overlay=True)
    return pio.to_json(map_figure(*values, grid, "um", {1: "m-3m"}, {1: "Ni"}, **shown))


def voronoi_boundaries(side: int, grid, rng):
    """The boundary segments (`maps.edge_segments`) of side^2 / 250 grains grown from seeded random points."""
    import numpy as np
    from scipy.spatial import cKDTree

    from latentcore.analysis.maps import edge_segments

    rows, columns = np.mgrid[0:side, 0:side]
    seeds = rng.random((side * side // 250, 2)) * side
    grains = cKDTree(seeds).query(np.column_stack([rows.ravel(), columns.ravel()]))[1].reshape(side, side)
    right, down = np.zeros((side, side), bool), np.zeros((side, side), bool)
    right[:, :-1], down[:-1] = grains[:, 1:] != grains[:, :-1], grains[1:] != grains[:-1]
    return edge_segments(right, down, grid)


DRAW = """async (spec) => { const f = JSON.parse(spec); const t = performance.now();
    await Plotly.newPlot('g', f.data, f.layout);
    await new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
    const ms = performance.now() - t; Plotly.purge('g'); return ms; }"""


def draw_times(specs: dict, repeats: int = 3) -> dict:
    import plotly
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO / "tests"))
    from streamlit_server import CHROMIUM, CHROMIUM_ARGS

    times = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_content("<div id=g style='width:760px;height:640px'></div>")
        page.add_script_tag(path=str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))
        for name, spec in specs.items():
            page.evaluate(DRAW, spec)  # untimed: the first draw of a kind compiles its code
            times[name] = [round(page.evaluate(DRAW, spec)) for _ in range(repeats)]
        browser.close()
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=1000)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose figures are drawn")
    parser.add_argument("--figures", default=",".join(FIGURES))
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)  # the subprocess's part
    args = parser.parse_args(argv)
    names = args.figures.split(",")
    if args.json_only:
        print(json.dumps({name: figure_json(name, args.side) for name in names}))
        return 0
    made = subprocess.run([sys.executable, __file__, "--json-only", "--side", str(args.side), "--figures",
                           args.figures], cwd=args.repo, env={**os.environ, "PYTHONPATH": str(args.repo.resolve())},
                          capture_output=True, text=True, check=True)
    specs = json.loads(made.stdout)
    for name, ms in draw_times(specs).items():
        print(json.dumps({"repo": str(args.repo), "side": args.side, "figure": name, "draw_ms": ms,
                          "json_mb": round(len(specs[name]) / 1e6, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
