"""Bytes per point the browser receives, and server time per rerun, for the dashboard's big panels.

For N points (default 1,000,000) this builds, in one run:
- the UMAP page's scatter (`ui.figures.plots.scatter_figure`: one WebGL trace, uint16 x/y, uint8 colour codes,
  row ids kept on the server), coloured by 12 clusters;
- the Clusters page's two panels for a sqrt(N) x sqrt(N) scan: the same scatter of (latent, band
  contrast) and the map (`ui.figures.plots.code_map_figure`: one palette PNG image placed by origin and step);
- for comparison, the naive figure (float32 x/y, int32 colour, int32 row ids in customdata) and
  `latentcore.figures.umap_scatter` (float32 x/y, uint8 colour, uint32 row ids).
Bytes are those of `plotly.io.to_json(fig, validate=False)`, the text `st.plotly_chart` sends.
Server time per rerun: a Streamlit script drawing the figure from cached arrays, run twice in
AppTest; the second run (the one a click or a widget change causes) is timed, median of 3.

    python benchmarks/ui_payload.py [--points 1000000]

Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from latentcore import figures  # noqa: E402
from latentcore.analysis.maps import Grid, values_map  # noqa: E402
from ui.figures import plots  # noqa: E402


def blobs(n: int, seed: int = 0):
    """UMAP-like 2-D clusters with their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 12, n)
    centres = rng.normal(scale=8, size=(12, 2))
    xy = (centres[labels] + rng.normal(size=(n, 2))).astype(np.float32)
    return xy, labels


def json_bytes(fig) -> int:
    return len(plotly.io.to_json(fig, validate=False).encode())


def naive(xy, labels) -> go.Figure:
    return go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", customdata=np.arange(len(xy), dtype=np.int32),
                                  marker={"color": labels.astype(np.int32), "size": 3}))


def cluster_panels(n: int, seed: int = 1):
    side = int(round(np.sqrt(n)))
    rng = np.random.default_rng(seed)
    rows, cols = np.divmod(np.arange(side * side), side)
    x, y = cols * 1.5, rows * 1.5
    latent = rng.normal(size=side * side).astype(np.float32)
    bandcontrast = rng.integers(0, 256, side * side).astype(np.float32)
    labels = (latent > 0).astype(np.int64) + (bandcontrast > 128)
    grid = Grid.from_coordinates(x, y)
    colour = plots.cluster_shade_colour(labels, latent)
    code_map = values_map(colour.codes.astype(np.float32), x, y, grid)
    scatter, _ = plots.scatter_figure(latent, bandcontrast, colour, np.arange(len(x)), x_title="latent",
                                      y_title="band contrast")
    return scatter, plots.code_map_figure(code_map, colour, grid), side * side


RERUN_SCRIPT = textwrap.dedent('''
    import numpy as np
    import streamlit as st
    from ui.figures import plots

    @st.cache_data
    def points(n):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 12, n)
        xy = (rng.normal(scale=8, size=(12, 2))[labels] + rng.normal(size=(n, 2))).astype(np.float32)
        return xy, labels

    xy, labels = points(N)
    colour = plots.categorical_colour(labels, "cluster")
    fig, rows = plots.scatter_figure(xy[:, 0], xy[:, 1], colour, np.arange(len(xy)), np.arange(0, N, 97))
    st.plotly_chart(fig, key="scatter", on_select="rerun", selection_mode=("points", "box", "lasso"))
''')


def rerun_seconds(n: int, repeats: int = 3) -> float:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(RERUN_SCRIPT.replace("N", str(n)), default_timeout=600)
    at.run()  # first run: fills the cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    assert not at.exception, at.exception
    return statistics.median(times)


def clusters_page_seconds(n: int, workdir: Path, repeats: int = 3) -> tuple[float, float]:
    """The real Clusters page (app.py in AppTest) on a synthetic sqrt(N) x sqrt(N) scan: seconds of
    the first run (clustering, alignment) and the median rerun (everything cached)."""
    import pandas as pd
    from streamlit.testing.v1 import AppTest

    from latentcore.latents import LatentsWriter

    side = int(round(np.sqrt(n)))
    rng = np.random.default_rng(2)
    rows, cols = np.divmod(np.arange(side * side), side)
    x, y = cols * 1.5, rows * 1.5
    latents = rng.normal(size=(side * side, 8)).astype(np.float32)
    writer = LatentsWriter(workdir / "scan_latents.h5", {"all": latents.shape}, {})
    writer.write_rows("all", 0, latents)
    writer.write_array("x", x)
    writer.write_array("y", y)
    writer.write_array("grid_shape", [side, side])
    path = writer.finish({"source": "synthetic"})
    bc = workdir / "scan_bandcontrast.csv"
    pd.DataFrame({"x": x, "y": y, "bandcontrast": rng.integers(0, 256, side * side)}).to_csv(bc, index=False)

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600).run()
    at.session_state["latents"], at.session_state["bandcontrast"] = str(path), str(bc)
    at.session_state["selection"] = np.arange(0, side * side, 97)
    start = time.perf_counter()
    at.switch_page("pages/clusters.py").run()
    first = time.perf_counter() - start
    assert not at.exception, at.exception
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    n = parser.parse_args(argv).points
    xy, labels = blobs(n)

    start = time.perf_counter()
    ours, _ = plots.scatter_figure(xy[:, 0], xy[:, 1], plots.categorical_colour(labels, "cluster"), np.arange(n))
    ours_bytes = json_bytes(ours)
    build = time.perf_counter() - start
    naive_bytes = json_bytes(naive(xy, labels))
    engine_bytes = json_bytes(figures.umap_scatter(xy, labels))
    scatter, code_map, pixels = cluster_panels(n)
    scatter_bytes, map_bytes = json_bytes(scatter), json_bytes(code_map)

    print(f"points: {n:,}")
    print(f"UMAP scatter (ui.figures.plots):         {ours_bytes / n:6.2f} bytes/point "
          f"({ours_bytes / 1e6:.1f} MB; built and serialised in {build:.2f} s)")
    print(f"  naive float32 x/y + int32 colour/ids:  {naive_bytes / n:6.2f} bytes/point "
          f"(ours is {ours_bytes / naive_bytes:.2f}x of it)")
    print(f"  latentcore.figures.umap_scatter:       {engine_bytes / n:6.2f} bytes/point "
          f"(ours is {ours_bytes / engine_bytes:.2f}x of it)")
    print(f"Clusters page, {pixels:,} pixels: scatter {scatter_bytes / pixels:.2f} + map {map_bytes / pixels:.2f} "
          f"= {(scatter_bytes + map_bytes) / pixels:.2f} bytes/point for both panels")
    print(f"server time per rerun (AppTest, a script drawing the scatter from cached arrays, {n:,} points, "
          f"1/97 selected): {rerun_seconds(n):.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        first, rerun = clusters_page_seconds(n, Path(tmp))
    print(f"server time of the real Clusters page ({pixels:,} pixels, GMM, 1/97 selected): first run {first:.1f} s, "
          f"rerun {rerun:.2f} s")


if __name__ == "__main__":
    main()
