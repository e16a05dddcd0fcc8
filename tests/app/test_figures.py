"""Figures: shared colours between panels, compact arrays, NaN colour, PNG by kaleido and fallback."""
import colorsys
import io
import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from latentcore import figures
from latentcore.analysis.maps import Grid, spatial_maps


@pytest.fixture(scope="module")
def scan(truth_csv, bandcontrast_csv):
    truth, bc = pd.read_csv(truth_csv), pd.read_csv(bandcontrast_csv)
    labels = truth["grain_id"].to_numpy().copy()
    labels[truth["is_bad"].to_numpy() == 1] = -1  # bad points as noise
    latent = np.random.default_rng(0).normal(size=len(bc)) + labels  # varies within each cluster
    x, y = bc["x"].to_numpy(), bc["y"].to_numpy()
    return x, y, latent, bc["bandcontrast"].to_numpy(), labels, Grid.from_coordinates(x, y)


def step_colour(code, colorscale, cmin, cmax):
    """Colour of a value through a step scale, found independently of latentcore: the scale entry
    whose segment holds the value's normalised position."""
    t = (code - cmin) / (cmax - cmin)
    for (p0, c0), (p1, _) in zip(colorscale[:-1], colorscale[1:]):
        if p0 <= t < p1:
            return c0
    raise AssertionError(f"no segment for {t}")


def test_map_and_scatter_give_every_point_the_same_colour(scan):
    x, y, latent, bc, labels, grid = scan
    fig = figures.cluster_panels(x, y, latent, bc, labels, grid)
    heatmap, scatter = fig.data[0], fig.data[1]
    assert heatmap.type == "heatmap" and scatter.type == "scattergl"
    rows, columns = grid.indices(x, y)
    map_codes = np.asarray(heatmap.z)[rows, columns]
    scatter_codes = np.asarray(scatter.marker.color)
    for i in range(0, len(x), 7):
        assert step_colour(map_codes[i], heatmap.colorscale, heatmap.zmin, heatmap.zmax) == \
            step_colour(scatter_codes[i], scatter.marker.colorscale, scatter.marker.cmin, scatter.marker.cmax)
    np.testing.assert_array_equal(np.asarray(scatter.x), latent.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(scatter.customdata), np.arange(len(x)))


def hls(colour):
    return colorsys.rgb_to_hls(*(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)))


def test_each_cluster_keeps_its_hue_brightness_follows_the_latent_noise_is_grey(scan):
    _, _, latent, _, labels, _ = scan
    codes, colours = figures.cluster_colour_codes(labels, latent)
    point_colours = np.array(colours)[codes]
    assert set(point_colours[labels == -1]) == {figures.NOISE_GREY}
    for k in range(6):
        members = np.flatnonzero(labels == k)
        hue = hls(figures.PALETTE[k])[0]
        assert all(abs(hls(c)[0] - hue) < 0.02 for c in set(point_colours[members]))
        order = members[np.argsort(latent[members])]
        lightness = [hls(c)[1] for c in point_colours[order]]
        assert np.all(np.diff(lightness) >= 0) and lightness[-1] - lightness[0] > 0.3  # dark -> light
    # the UMAP scatter coloured by cluster uses the same hues
    umap = figures.umap_scatter(np.column_stack([latent, latent]), labels)
    marker = umap.data[0].marker
    for k in (-1, 0, 5):
        code = np.asarray(marker.color)[np.flatnonzero(labels == k)[0]]
        assert step_colour(code, marker.colorscale, marker.cmin, marker.cmax) == figures.cluster_hue(k)


def test_umap_scatter_arrays_are_compact():
    n = 1_000_000
    xy = np.random.default_rng(0).normal(size=(n, 2))
    labels = np.arange(n) % 7
    fig = figures.umap_scatter(xy, labels)
    trace = fig.data[0]
    assert trace.type == "scattergl"
    assert np.asarray(trace.x).dtype == np.float32 and np.asarray(trace.marker.color).dtype == np.uint8
    assert np.asarray(trace.customdata).dtype == np.uint32
    np.testing.assert_array_equal(np.asarray(trace.customdata)[[0, -1]], [0, n - 1])
    arrays = (trace.x, trace.y, trace.marker.color)
    assert sum(np.asarray(a).nbytes for a in arrays) / n == 9
    lean = figures.umap_scatter(xy, labels, row_ids=False).data[0]  # point index == row id
    assert lean.customdata is None
    small = figures.umap_scatter(xy[:1000], xy[:1000, 0], row_ids=np.arange(5000, 6000)).data[0]
    assert np.asarray(small.customdata).dtype == np.uint16 and np.asarray(small.marker.color).dtype == np.float32


def test_latent_map_grid_draws_nan_in_the_chosen_colour_and_strides_big_maps(scan):
    x, y, latent, _, _, grid = scan
    keep = np.arange(len(x)) % 5 != 0
    maps, grid, dims = spatial_maps(np.column_stack([latent, -latent])[keep], x[keep], y[keep], grid=grid)
    fig = figures.latent_map_grid(maps, grid, dims, nan_colour="#ff00ff")
    assert fig.layout.plot_bgcolor == "#ff00ff" and [t.name for t in fig.data] == ["dim 0", "dim 1", "missing pixels"]
    z = np.asarray(fig.data[1].z)
    assert np.isnan(z).sum() == (~keep).sum()
    np.testing.assert_array_equal(np.nan_to_num(z), np.nan_to_num(maps[1]))
    big = figures.latent_map_grid(np.zeros((1, 1000, 1000)), Grid(0, 0, 1, 1, 1000, 1000), [0], max_pixels=250_000)
    assert np.asarray(big.data[0].z).shape == (500, 500)


def test_big_maps_reach_the_browser_as_images_in_a_heatmaps_colours_with_their_colour_bars():
    """Above `image_above` pixels a map is a PNG laid on its axes (its pixels' outer edges on the grid's in µm),
    coloured as plotly colours a heatmap to within a 255-level quantisation (a palette), NaN transparent, its colour
    bar on a marker trace; the figure says it has no hover."""
    import base64

    from plotly.colors import get_colorscale, sample_colorscale

    rng = np.random.default_rng(0)
    maps = rng.normal(size=(2, 300, 400)).astype(np.float32)
    maps[0, :5, :7] = np.nan
    grid = Grid(10.0, 20.0, 0.5, 0.25, 300, 400)  # x0, y0, step_x, step_y, rows, columns
    fig = figures.latent_map_grid(maps, grid, [3, 5], columns=2, limits=(-1, 1), colorscale="Magma",
                                  image_above=40_000)
    images = fig.layout.images
    bars = [t for t in fig.data if t.type == "scatter" and t.marker.showscale]
    assert [i.name for i in images] == ["dim 3", "dim 5"] and len(bars) == 2 and not any(
        t.type in ("heatmap", "image") for t in fig.data)
    assert [(i.xref, i.yref) for i in images] == [("x", "y"), ("x2", "y2")]
    edges = (images[0].x, images[0].x + images[0].sizex, images[0].y, images[0].y + images[0].sizey)
    assert edges == (10.0 - 0.25, 10.0 + 399.5 * 0.5, 20.0 - 0.125, 20.0 + 299.5 * 0.25)  # the first, last pixels'
    assert (images[0].xanchor, images[0].yanchor, images[0].sizing) == ("left", "top", "stretch")  # y grows down
    assert tuple(fig.layout.xaxis.range) == edges[:2] and tuple(fig.layout.yaxis.range) == edges[:1:-1]
    assert all((b.marker.cmin, b.marker.cmax, b.marker.colorbar.title.text) == (-1, 1, "latent value") for b in bars)
    png = Image.open(io.BytesIO(base64.b64decode(images[0].source.split(",", 1)[1])))
    assert png.mode == "P"  # a palette: one byte a pixel
    pixels = np.asarray(png.convert("RGBA"))
    assert pixels.shape == (300, 400, 4)
    assert (pixels[:5, :7, 3] == 0).all() and (pixels[5:, :, 3] == 255).all()  # missing pixels: the NaN colour
    exact = np.asarray(sample_colorscale(get_colorscale("Magma"), np.clip((maps[0, 5:, :] + 1) / 2, 0, 1).ravel(),
                                         colortype="tuple")) * 255
    assert np.abs(pixels[5:, :, :3].reshape(-1, 3) - exact).max() <= 3  # 255 levels of a scale of 9 colours
    assert "drawn as images, without a hover" in fig.layout.annotations[-1].text
    small = figures.latent_map_grid(maps[:, :100, :100], grid, [3, 5], image_above=40_000)
    assert [t.type for t in small.data][:2] == ["heatmap", "heatmap"]  # up to 40,000 pixels: the value on hover


def test_the_rank_pages_big_maps_are_images_and_the_reference_keeps_its_own_colour_bar_title():
    from ui.figures.maps import reference_and_top_dimensions

    rng = np.random.default_rng(1)
    grid = Grid(0.0, 0.0, 1.0, 1.0, 300, 300)
    fig = reference_and_top_dimensions("band contrast", rng.normal(size=(300, 300)), rng.normal(size=(2, 300, 300)),
                                       grid, (4, 7), "um")
    assert len(fig.layout.images) == 3 and not [t.type for t in fig.data if t.type != "scatter"]
    bars = [t.marker.colorbar.title.text for t in fig.data if t.type == "scatter" and t.marker.showscale]
    assert bars == ["band contrast", "latent value", "latent value"]


def test_ranking_bar_shows_the_top_dimensions_by_absolute_score():
    scores = pd.DataFrame({"dim": [0, 1, 2, 3], "pearson": [0.1, -0.9, 0.5, 0.05]})
    bar = figures.ranking_bar(scores, "pearson", top_n=3).data[0]
    assert list(bar.y) == ["dim 0", "dim 2", "dim 1"]  # largest at the top of a horizontal bar plot


def png_image(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data)).convert("RGB")


@pytest.mark.skipif(figures.browser_path() is None, reason="no Chromium on this machine for kaleido")
def test_png_with_kaleido(scan, tmp_path):
    x, y, latent, bc, labels, grid = scan
    fig = figures.cluster_panels(x, y, latent, bc, labels, grid)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning
        assert figures.write_png(fig, tmp_path / "panels.png", width=800, height=400) == "kaleido"
    image = png_image(tmp_path / "panels.png")
    assert image.size == (800, 400)
    assert _has_colour(image, figures.shade(figures.PALETTE[0], 0.0))


@pytest.mark.skipif(figures.browser_path() is None, reason="no Chromium on this machine for kaleido")
def test_pngs_after_the_first_are_drawn_in_the_same_kept_browser_at_the_same_size(scan, tmp_path):
    """Every PNG started its own Chromium (3-6 s a figure); now one is kept, its tab not reloaded between figures.
    A map drawn in it after a scatter has the pixels of kaleido's one-shot render (a browser of its own); a
    scatter (WebGL on the page, SVG in the PNG) its size and dpi, and its clusters' colours."""
    import kaleido

    from latentcore.figures.png import KEPT_BROWSER

    x, y, latent, bc, labels, grid = scan
    maps, grid, dims = spatial_maps(np.column_stack([latent, -latent]), x, y, grid=grid)
    drawn = {"scatter": figures.cluster_panels(x, y, latent, bc, labels, grid),
             "map": figures.latent_map_grid(maps, grid, dims, columns=2)}
    KEPT_BROWSER.close()  # a browser of this test's own: its first figures
    starts = KEPT_BROWSER.starts
    for name, fig in drawn.items():
        assert figures.write_png(fig, tmp_path / f"{name}.png", dpi=300) == "kaleido"
    assert KEPT_BROWSER.starts == starts + 1  # one browser for both
    assert (KEPT_BROWSER._kaleido.renders, KEPT_BROWSER._kaleido.reloads) == (2, 0)  # the map in the scatter's tab
    for name, fig in drawn.items():
        width, height = fig.layout.width or 900, fig.layout.height or 600
        with Image.open(tmp_path / f"{name}.png") as kept:
            assert kept.size == (int(width * 300 / 96), int(height * 300 / 96))
            assert kept.info["dpi"] == pytest.approx((300, 300), abs=0.01)
            pixels = np.asarray(kept.convert("RGB"))
        assert len(np.unique(pixels.astype(np.uint32) @ [65536, 256, 1])) > 10  # not blank: more than 10 colours
        if name == "map":
            alone = kaleido.calc_fig_sync(fig.to_dict(), opts={"format": "png", "width": width, "height": height,
                                                               "scale": 300 / 96}, kopts={"path": figures.browser_path()})
            np.testing.assert_array_equal(pixels, np.asarray(Image.open(io.BytesIO(alone)).convert("RGB")))
    scatter = Image.open(tmp_path / "scatter.png").convert("RGB")
    scatter = scatter.crop((scatter.width // 2, 0, scatter.width, scatter.height))  # the scatter's half
    assert all(_has_colour(scatter, figures.shade(figures.cluster_hue(label), 0.0))  # each cluster's darkest
               for label in np.unique(labels[labels >= 0])[:3])


# A process that renders a figure that takes a minute (an SVG scatter of 200,000 points) in a thread, as a server's
# session does, and returns from its main thread once the render has begun; it prints its browser's process group.
RENDERING_AT_EXIT = """
import sys, threading, time
import plotly.graph_objects as go
from latentcore.figures.png import KEPT_BROWSER, write_png

write_png(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])), sys.argv[1])  # the browser starts
points = list(range(200_000))
threading.Thread(target=write_png, args=(go.Figure(go.Scatter(x=points, y=points, mode="markers")), sys.argv[2]),
                 daemon=True).start()
while not KEPT_BROWSER._lock.locked():
    time.sleep(0.01)
print(KEPT_BROWSER._kaleido.subprocess.pid, flush=True)  # choreographer starts it in a session of its own
print(KEPT_BROWSER._kaleido._browser_impl.tmp_dir.path, flush=True)  # its profile folder
"""


@pytest.mark.skipif(figures.browser_path() is None, reason="no Chromium on this machine for kaleido")
def test_a_render_running_at_exit_neither_holds_the_exit_nor_leaves_its_chromium(tmp_path):
    """The kept browser is closed within seconds at exit, a render running or not (it waited for the render: a
    server busy exporting a PNG took minutes to exit), and no process of it is left, nor its profile folder, and
    nothing is said on stderr (the folder's own finalizer raced the dying Chromium: 'Directory not empty')."""
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-c", RENDERING_AT_EXIT, tmp_path / "a.png", tmp_path / "b.png"],
                               cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    group = None
    try:
        group, profile = int(process.stdout.readline()), Path(process.stdout.readline().strip())
        exiting = time.monotonic()
        process.wait(timeout=10)
        said = process.stderr.read()
        assert "Traceback" not in said and "Exception ignored" not in said, said
        assert not profile.exists()

        def browser_left() -> bool:
            try:
                os.killpg(group, 0)
                return True
            except ProcessLookupError:
                return False
        while browser_left() and time.monotonic() - exiting < 10:
            time.sleep(0.1)
        assert not browser_left()
    finally:  # what a failing run left must not outlive the test
        process.kill()
        if group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def test_a_killed_process_group_has_no_running_process_when_the_kill_returns():
    """`png._killed` (the kept browser's end at exit) returns once no process of the group runs (a zombie has ended),
    the leader's children too, so that nothing writes in the profile folder removed next."""
    import subprocess

    import psutil

    from pool_tasks import wait_until

    from latentcore.figures.png import _killed, _running_in

    leader = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"], start_new_session=True)
    try:
        assert wait_until(lambda: len(psutil.Process(leader.pid).children()) == 2)
        assert _running_in(leader.pid)
        _killed(leader.pid, 10)
        assert not _running_in(leader.pid)
    finally:
        leader.kill()
        leader.wait()


def test_the_dpi_is_set_without_touching_the_image_data():
    image = Image.new("RGB", (7, 5), (10, 20, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="png", dpi=(72, 72))
    stamped = figures._with_dpi(buffer.getvalue(), 300)
    assert stamped.count(b"pHYs") == 1 and buffer.getvalue().split(b"IDAT")[1] == stamped.split(b"IDAT")[1]
    with Image.open(io.BytesIO(stamped)) as again:
        assert again.info["dpi"] == pytest.approx((300, 300), abs=0.01) and again.getpixel((3, 2)) == (10, 20, 30)


def test_png_fallback_to_matplotlib_warns_and_draws_the_same_colours(scan, tmp_path):
    x, y, latent, bc, labels, grid = scan
    fig = figures.cluster_panels(x, y, latent, bc, labels, grid)
    with pytest.warns(RuntimeWarning, match="no Chromium"):
        engine = figures.write_png(fig, tmp_path / "panels.png", width=800, height=400, browser=None)
    assert engine == "matplotlib"
    image = png_image(tmp_path / "panels.png")
    assert image.size == (800, 400)
    assert _has_colour(image, figures.shade(figures.PALETTE[0], 0.0))  # cluster 0's darkest shade
    assert _has_colour(image, figures.NOISE_GREY)
    bars = figures.ranking_bar(pd.DataFrame({"dim": [0, 1], "r": [0.2, 0.7]}), "r")
    with pytest.warns(RuntimeWarning):
        figures.write_png(bars, tmp_path / "bars.png", browser=None)
    assert _has_colour(png_image(tmp_path / "bars.png"), figures.PALETTE[0])
    assert not list(tmp_path.glob("*.partial"))


def _has_colour(image, colour, tolerance=3):
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    return bool((np.abs(pixels - target).max(axis=1) <= tolerance).any())


# -- scales of the scan panels: a palette whose hues are told apart, colour bars, legends, limits --

def _lab(colour):
    """CIELAB (D65) of a hex colour, from the sRGB formulas (independent of latentcore)."""
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def delta_e2000(c1, c2) -> float:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal 2005); about 2 is just noticeable."""
    (l1, a1, b1), (l2, a2, b2) = _lab(c1), _lab(c2)
    cbar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(cbar ** 7 / (cbar ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p, h2p = np.degrees(np.arctan2(b1, a1p)) % 360, np.degrees(np.arctan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    dhh = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    lbar, cbarp = (l1 + l2) / 2, (c1p + c2p) / 2
    hbar = h1p + h2p if c1p * c2p == 0 else ((h1p + h2p) / 2 if abs(h1p - h2p) <= 180 else (h1p + h2p + 360) / 2)
    t = (1 - 0.17 * np.cos(np.radians(hbar - 30)) + 0.24 * np.cos(np.radians(2 * hbar))
         + 0.32 * np.cos(np.radians(3 * hbar + 6)) - 0.20 * np.cos(np.radians(4 * hbar - 63)))
    sl = 1 + 0.015 * (lbar - 50) ** 2 / np.sqrt(20 + (lbar - 50) ** 2)
    sc, sh = 1 + 0.045 * cbarp, 1 + 0.015 * cbarp * t
    rt = (-2 * np.sqrt(cbarp ** 7 / (cbarp ** 7 + 25 ** 7))
          * np.sin(np.radians(60 * np.exp(-(((hbar % 360) - 275) / 25) ** 2))))
    return float(np.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dhh / sh) ** 2 + rt * (dc / sc) * (dhh / sh)))


def test_delta_e2000_sanity():
    assert delta_e2000("#1f77b4", "#1f77b4") == 0
    assert delta_e2000("#000000", "#ffffff") == pytest.approx(100, abs=0.1)


def test_cluster_hues_are_told_apart_neighbours_included():
    hues = [figures.cluster_hue(k) for k in range(len(figures.PALETTE))]
    for i, a in enumerate(hues):
        assert delta_e2000(a, figures.NOISE_GREY) >= 20, a  # never mistaken for noise
        for b in hues[i + 1:]:
            assert delta_e2000(a, b) >= 20, (a, b)
    # the pairs the scientist could not tell apart on an HDBSCAN map: blue 0 vs purple 4, orange 1 vs brown 5
    assert delta_e2000(hues[0], hues[4]) >= 30 and delta_e2000(hues[1], hues[5]) >= 30


def test_cluster_colours_are_flat_hues_unless_shading_is_asked(scan):
    from ui.figures import plots

    _, _, latent, _, labels, _ = scan
    flat = plots.cluster_shade_colour(labels, latent)
    shown = np.array(flat.colours)[flat.codes]
    for k in np.unique(labels):
        assert set(shown[labels == k]) == {figures.cluster_hue(k)}
    shaded = plots.cluster_shade_colour(labels, latent, shade=True)
    assert len(set(np.array(shaded.colours)[shaded.codes][labels == 0])) == figures.SHADE_LEVELS
    counts = dict(zip(*np.unique(labels, return_counts=True)))
    for colour in (flat, shaded):  # the legend names every cluster with its count, in its hue
        assert colour.legend == {("noise" if k < 0 else f"cluster {k}") + f" ({n:,})": figures.cluster_hue(k)
                                 for k, n in counts.items()}
    part = np.flatnonzero(labels != labels.max())[::3]  # some rows (a scan of a study): the legend counts theirs
    part_counts = dict(zip(*np.unique(labels[part], return_counts=True)))
    for colour in (flat, shaded, plots.categorical_colour(labels, "cluster")):
        own = colour.of_rows(part)
        assert np.array_equal(own.codes, colour.codes[part]) and own.colours == colour.colours
        assert own.legend == {("noise" if k < 0 else f"cluster {k}") + f" ({n:,})": figures.cluster_hue(k)
                              for k, n in part_counts.items()}  # the last cluster, not among them, left out


def test_every_scan_map_has_a_colour_bar_or_a_legend_and_a_scale_bar(scan):
    from ui.figures import plots

    x, y, latent, bc, labels, grid = scan
    codes_map = lambda colour: grid.map_of(colour.codes.astype(np.float32), x, y)  # noqa: E731
    continuous = plots.continuous_colour(bc, "band contrast")
    fig = plots.code_map_figure(codes_map(continuous), continuous, grid)
    bars = [t for t in fig.data if t.type == "scatter" and t.marker.showscale]
    assert len(bars) == 1 and bars[0].marker.colorbar.title.text == "band contrast"
    assert list(bars[0].marker.colorbar.ticktext) == continuous.colorbar["ticktext"]
    assert bars[0].marker.colorscale[0][1] == continuous.colours[0] and bars[0].marker.cmax == 254
    assert not fig.layout.showlegend
    assert [s.line.color for s in fig.layout.shapes] == ["white", "black"]  # the scale bar, by default
    assert fig.layout.annotations[0].text.endswith("µm")
    categorical = plots.categorical_colour(labels, "cluster")
    fig = plots.code_map_figure(codes_map(categorical), categorical, grid, units="nm")
    assert fig.layout.showlegend and fig.layout.legend.title.text == "cluster"
    entries = {t.name: t.marker.color for t in fig.data if t.type == "scatter" and t.showlegend is not False}
    assert entries == categorical.legend and f"cluster 0 ({(labels == 0).sum():,})" in entries
    assert fig.layout.annotations[0].text.endswith("nm")
    assert not plots.code_map_figure(codes_map(categorical), categorical, grid, scale_bar=False).layout.shapes
    neutral = plots.neutral_colour(len(x))  # colour "none": the scan in one neutral grey
    assert set(np.array(neutral.colours)[neutral.codes]) == {figures.NEUTRAL}
    assert neutral.legend == {f"all rows ({len(x):,})": figures.NEUTRAL}


def test_fixed_limits_clip_the_colours_and_the_histogram_marks_them():
    from ui.figures import plots

    values = np.array([0.0, 1.0, 2.0, 3.0, 4.0, np.nan])
    colour = plots.continuous_colour(values, "v", "Cividis", vmin=1.0, vmax=3.0)
    assert list(colour.codes) == [0, 0, 127, 254, 254, 255] and colour.limits == (1.0, 3.0)
    assert colour.colours[0] == plots.plotly.colors.sample_colorscale("Cividis", [0.0])[0]
    ticks = [float(t) for t in colour.colorbar["ticktext"]]  # the colour bar spans vmin..vmax
    assert 1 <= min(ticks) < max(ticks) <= 3 and colour.colorbar["tickvals"][0] == pytest.approx((ticks[0] - 1) / 2 * 254)
    hist = plots.value_histogram(values, colour, value_name="v", bins=8)
    bars = hist.data[0]
    assert sum(bars.y) == 5 and hist.layout.xaxis.title.text == "v"
    assert sorted(s.x0 for s in hist.layout.shapes) == [1.0, 3.0]  # vmin and vmax marked
    # bins below vmin and above vmax take the end colours, as their pixels on the map
    assert bars.marker.color[0] == bars.marker.color[1] != bars.marker.color[2]
    assert bars.marker.color[-1] == bars.marker.color[-2] != bars.marker.color[-3]
    auto = plots.value_histogram(values, plots.continuous_colour(values, "v"), bins=4)
    assert not auto.layout.shapes  # limits at the values' range: nothing to mark


def test_latent_map_grid_takes_fixed_limits_and_titles_y_once_a_row(scan):
    x, y, latent, _, _, grid = scan
    maps, grid, dims = spatial_maps(np.column_stack([latent, -latent, 2 * latent]), x, y, grid=grid)
    fig = figures.latent_map_grid(maps, grid, dims, columns=2, limits=(-1, 1), colorscale="Magma")
    assert all((t.zmin, t.zmax) == (-1, 1) for t in fig.data)
    assert fig.layout.yaxis.title.text and not fig.layout.yaxis2.title.text and fig.layout.yaxis3.title.text
    assert fig.layout.yaxis.showticklabels is not False and fig.layout.yaxis2.showticklabels is False
    assert all(t.colorbar.title.text == "latent value" for t in fig.data)


@pytest.mark.skipif(figures.browser_path() is None, reason="no Chromium on this machine for kaleido")
def test_the_browser_drivers_goodbye_is_not_logged_as_an_error_but_other_errors_are(scan, tmp_path):
    """Chromium's closing `{bye}` reached kaleido's driver as a JSON error with a traceback in the server log."""
    from choreographer.channels import _wire
    from choreographer.channels._errors import JSONError

    from latentcore.figures import png

    x, y, latent, bc, labels, grid = scan
    assert png.write_png(figures.cluster_panels(x, y, latent, bc, labels, grid), tmp_path / "p.png") == "kaleido"
    log = logging.getLogger("choreographer.channels.pipe")
    kept = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = kept.append
    log.addHandler(handler)
    try:
        for raw in ("{bye}\n", "{not json"):
            try:
                _wire.deserialize(raw)
            except JSONError:
                log.exception("JSONError decoding message. Ignoring")
    finally:
        log.removeHandler(handler)
    assert [r.exc_info[1].__cause__.doc for r in kept] == ["{not json"]


def test_is_chosen_says_what_np_isin_says_without_sorting():
    from ui.figures.plots import is_chosen

    rng = np.random.default_rng(3)
    row_ids = rng.permutation(5000)[:3000]
    for chosen in (rng.choice(6000, 700), np.array([], np.int64), np.array([4999]), np.arange(5000)):
        np.testing.assert_array_equal(is_chosen(row_ids, chosen), np.isin(row_ids, chosen))
    assert is_chosen(np.array([], np.int64), np.array([1])).shape == (0,)


def test_a_shared_read_only_map_is_histogrammed_once_and_another_map_anew(monkeypatch):
    from ui.figures import plots

    shared = np.arange(10, dtype=np.float32)
    shared.flags.writeable = False  # as the app's cached maps are
    calls = []
    histogram = np.histogram
    monkeypatch.setattr(np, "histogram", lambda *a, **k: calls.append(1) or histogram(*a, **k))
    first = plots.value_histogram(shared, bins=5)
    again = plots.value_histogram(shared, bins=5)  # a selection's rerun
    assert len(calls) == 1 and list(again.data[0].y) == list(first.data[0].y) == [2] * 5
    other = plots.value_histogram(np.zeros(4), bins=5)  # another array: counted anew
    assert len(calls) == 2 and sum(other.data[0].y) == 4


def test_a_column_is_coloured_by_category_and_a_studys_sources_by_their_codes_in_the_studys_order():
    """A categorical column (a study's `source`) is coloured from its codes, no string made per row (0.7-1 GB at
    ten million rows): its legend in the study's order, counted; text columns by sorted value; above 255 values the
    254 most frequent, the rest grey."""
    from ui.figures import plots

    sources = pd.Series(pd.Categorical.from_codes([2, 0, 0, 1, 2, 2], categories=["scan_b", "scan_a", "scan_c"]))
    colour = plots.column_colour(sources, "source")
    assert list(colour.legend) == ["scan_b (2)", "scan_a (1)", "scan_c (3)"]
    assert colour.codes.tolist() == [3, 1, 1, 2, 3, 3]  # code k + 1: category k's hue
    text = plots.column_colour(np.array(["b", "a", "b"]), "x")
    assert list(text.legend) == ["a (1)", "b (2)"] and text.codes.tolist() == [2, 1, 2]
    many = np.array([f"v{i:03d}" for i in range(300)] + ["v007"] * 5 + ["v299"] * 3)
    top = plots.column_colour(many, "m")
    assert len(top.legend) == 255 and "noise (46)" in top.legend and "v007 (6)" in top.legend  # 300 - 254 grey
    assert top.codes[many == "v299"].min() > 0  # a frequent value is kept whatever its name's place


def test_a_reference_map_over_the_pages_pixels_is_shown_with_a_stride_that_is_said():
    import types

    from ui.figures import references

    side = 600  # 360,000 pixels: over figures.MAX_MAP_PIXELS
    kam = np.random.default_rng(0).random((side, side))
    refs = types.SimpleNamespace(maps={"kam": kam, "small": kam[:100, :100]}, grid=Grid(0.0, 0.0, 0.5, 0.5, side, side),
                                 units="um", laue={}, phases={}, edges=None)
    stride, said = references.shown_stride(refs, "kam")
    assert stride == 2 and said == ("Shown one pixel in 2 along x and y (600 x 600 map); the PNG and the NPZ keep "
                                    "every pixel.")
    assert references.shown_stride(refs, "small") == (1, None)
    shown, whole = (references.reference_figure(refs, "kam", stride=s) for s in (stride, 1))
    np.testing.assert_array_equal(shown.data[0].z, kam[::2, ::2])
    np.testing.assert_array_equal(whole.data[0].z, kam)  # the PNG's figure
