"""Figures at scale: the density raster's cells, click targets and payload; the scan maps' exact PNGs with the
selection veiled. (A shape's rows: tests/app/test_point_panel.py and test_point_panel_golden.py.)"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ui.figures import density, plots


@pytest.fixture
def points():
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=3000), rng.normal(size=3000) * 2
    row_ids = rng.permutation(10_000)[:3000]  # row ids that are not positions
    return x, y, row_ids


def test_raster_cells_colours_and_click_targets_match_a_loop(points):
    x, y, row_ids = points
    raster = density.Raster.of(x, y, bins=20)
    labels = (np.arange(len(x)) * 7) % 5
    colour = plots.categorical_colour(labels, "c")
    codes = raster.colour_codes(colour)
    by_cell = {}
    for cell, code in zip(raster.cell, colour.codes):
        by_cell.setdefault(int(cell), Counter())[int(code)] += 1
    for cell, counter in by_cell.items():
        top = max(counter.values())
        assert codes.flat[cell] in {c for c, n in counter.items() if n == top}
    assert np.isnan(codes).sum() == 400 - len(by_cell)
    assert raster.point_counts.sum() == len(x)
    assert raster.colour_codes(colour) is codes  # the same colour again (a selection's rerun): kept
    other = plots.categorical_colour(labels[::-1].copy(), "c")
    np.testing.assert_array_equal(raster.colour_codes(other), raster._colour_codes(other))  # another: made anew
    assert not np.array_equal(raster.colour_codes(other), codes, equal_nan=True)

    targets = raster.click_targets(bins=10)
    size = (plots.LEVELS + 1) / 10
    for position in targets[:30]:
        cx, cy = int(raster.ex[position] // size), int(raster.ey[position] // size)
        members = [i for i in range(len(x)) if int(raster.ex[i] // size) == cx and int(raster.ey[i] // size) == cy]
        dist = [(raster.ex[i] - (cx + 0.5) * size) ** 2 + (raster.ey[i] - (cy + 0.5) * size) ** 2 for i in members]
        assert np.isclose(dist[members.index(position)], min(dist))


def test_a_density_figure_sends_a_raster_not_the_points():
    rng = np.random.default_rng(1)
    n = 300_000
    x, y = rng.normal(size=n), rng.normal(size=n)
    colour = plots.continuous_colour(x + y, "sum")
    raster = density.Raster.of(x, y)
    fig, trace_rows = density.density_figure(raster, colour, np.arange(n), np.arange(0, n, 3))
    size = len(fig.to_json())
    assert size < 2_000_000 < n * 7  # the exact scatter would send about 7 bytes per point
    (trace, rows), = trace_rows.items()
    assert fig.data[trace].type == "scattergl" and len(rows) <= density.TARGET_BINS ** 2


def png_pixels(data_uri: str) -> np.ndarray:
    """(rows, cols, 4) RGBA of a PNG data URI."""
    import base64
    import io

    from PIL import Image

    png = base64.b64decode(data_uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


def test_a_scan_map_is_an_exact_png_with_the_selection_veiled():
    from latentcore.analysis.maps import Grid

    rng = np.random.default_rng(2)
    rows, cols = 30, 40
    codes = rng.integers(0, 3, (rows, cols)).astype(np.float32)
    codes[0, :5] = np.nan  # no pixel there
    colour = plots.categorical_colour(np.array([-1, 0, 1]), "cluster")  # codes 0 (noise), 1, 2
    selected = np.zeros((rows, cols), bool)
    selected[10:20, 10:20] = True
    r, c = np.divmod(np.arange(rows * cols), cols)
    fig = plots.code_map_figure(codes, colour, Grid.from_coordinates(c * 0.5, r * 0.5), selected,
                                nan_colour="#ffffff")
    image, veil = fig.data[:2]
    assert image.type == veil.type == "image" and (image.x0, image.dx) == (veil.x0, veil.dx) == (0, 0.5)
    shown = png_pixels(image.source)
    assert shown.shape == (rows, cols, 4)  # one image pixel per scan pixel: nothing resampled
    palette = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] + [255] for h in colour.colours])
    finite = np.isfinite(codes)
    assert (shown[finite] == palette[codes[finite].astype(int)]).all()
    assert (shown[~finite] == 255).all()
    alpha = png_pixels(veil.source)[..., 3]
    assert (alpha[selected] == 0).all() and (alpha[~finite] == 0).all()
    assert (alpha[~selected & finite] == round(0.85 * 255)).all()


def shown_pixels(fig) -> np.ndarray:
    """What the browser shows: the map's PNG with the veil's PNG composited over it (alpha blending)."""
    base = png_pixels(fig.data[0].source)[..., :3].astype(float)
    if fig.data[1].name != "selection":
        return base
    veil = png_pixels(fig.data[1].source).astype(float)
    alpha = veil[..., 3:] / 255
    return veil[..., :3] * alpha + base * (1 - alpha)


def lightness(rgb) -> np.ndarray:
    """CIELAB L* of sRGB values (0 black, 100 white)."""
    c = np.asarray(rgb, float) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = linear @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(y > (6 / 29) ** 3, 116 * np.cbrt(y) - 16, 903.3 * y)


@pytest.mark.parametrize("scale", ["Viridis", "Greys_r", "Magma"])
def test_a_selection_shows_on_dark_pixels(scale):
    """Low band contrast is the darkest colour: a selected dark pixel must still stand out from the
    unselected ones, which turn light grey (not a transparent fade that leaves dark pixels dark)."""
    from latentcore.analysis.maps import Grid

    rows, cols = 8, 10
    values = np.zeros(rows * cols)  # every pixel the lowest value: the scale's darkest colour
    values[::7] = 1.0
    colour = plots.continuous_colour(values, "band contrast", scale)
    codes = colour.codes.reshape(rows, cols).astype(np.float32)
    selected = np.zeros((rows, cols), bool)
    selected[2:5, 3:6] = True
    r, c = np.divmod(np.arange(rows * cols), cols)
    grid = Grid.from_coordinates(c * 1.0, r * 1.0)
    plain = shown_pixels(plots.code_map_figure(codes, colour, grid))
    shown = shown_pixels(plots.code_map_figure(codes, colour, grid, selected))
    dark = codes == 0
    assert lightness(plain[dark]).max() < 30  # the darkest colours of the scale
    np.testing.assert_array_equal(shown[selected], plain[selected])  # a selected pixel keeps its colour
    assert (lightness(shown[~selected & dark]) > 75).all()  # an unselected dark pixel turns light grey
    difference = lightness(shown[~selected & dark]).min() - lightness(shown[selected & dark]).max()
    assert difference > 50  # selected or not: told apart at a glance, on the darkest pixels
    veiled = shown[~selected]
    assert (np.ptp(veiled.round(), axis=1) <= 40).all()  # veiled towards grey: a hint of colour left


def test_a_map_with_more_than_256_colours_is_still_exact():
    codes = np.arange(300, dtype=np.float32).reshape(15, 20)
    colours = [f"#{i // 256:02x}{i % 256:02x}{(7 * i) % 256:02x}" for i in range(300)] + ["#ffffff"]
    shown = png_pixels(plots.map_png(codes, colours)).reshape(-1, 4)
    assert [f"#{r:02x}{g:02x}{b:02x}" for r, g, b, _ in shown] == colours[:300]


def test_a_digest_is_the_content_found_once_for_read_only_arrays(monkeypatch):
    import hashlib

    from ui import kept

    coords = np.random.default_rng(2).normal(size=(500, 2)).astype(np.float32)
    expected = hashlib.sha1(np.ascontiguousarray(coords[:, 0]).tobytes()).hexdigest()
    writeable = coords[:, 0]
    assert kept.digest(writeable) == expected
    coords[0, 0] += 1  # a writeable array is hashed every time: a change shows
    assert kept.digest(writeable) != expected
    coords.flags.writeable = False
    first = kept.digest(coords[:, 0])
    hashed, sha1 = [], hashlib.sha1
    monkeypatch.setattr(kept.hashlib, "sha1", lambda data: hashed.append(1) or sha1(data))
    assert kept.digest(coords[:, 0]) == first  # a new view of the same read-only array: not hashed again
    assert kept.digest(coords[:, 1]) != first and hashed == [1]  # the other column is other bytes
