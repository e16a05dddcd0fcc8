"""Figures: shared colours between panels, compact arrays, NaN colour, PNG by kaleido and fallback."""
import colorsys
import io
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
    assert fig.layout.plot_bgcolor == "#ff00ff" and len(fig.data) == 2
    z = np.asarray(fig.data[1].z)
    assert np.isnan(z).sum() == (~keep).sum()
    np.testing.assert_array_equal(np.nan_to_num(z), np.nan_to_num(maps[1]))
    big = figures.latent_map_grid(np.zeros((1, 1000, 1000)), Grid(0, 0, 1, 1, 1000, 1000), [0], max_pixels=250_000)
    assert np.asarray(big.data[0].z).shape == (500, 500)


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
