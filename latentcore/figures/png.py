"""PNG export of the figures: kaleido (Chromium) when a browser is found, else a matplotlib
re-drawing of the same figure, with a warning saying why. One Chromium is kept for the process
(`KEPT_BROWSER`): the first PNG starts it (seconds), each later one is a render in it; at exit it is
closed within seconds, a render running or not, its profile folder removed (`KeptBrowser.close_at_exit`).

Nothing here changes the process's environment or matplotlib's global backend: kaleido is given its
browser by path, and the fallback draws on a `matplotlib.figure.Figure` (Agg canvas), not pyplot.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import shutil
import signal
import struct
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from ..storage import atomic_path
from .colours import PALETTE, _rgb, colours_of
from .plotly_figures import png_pixels

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def browser_path() -> str | None:
    """A Chromium for kaleido: $BROWSER_PATH if it exists, else the first on PATH."""
    configured = os.environ.get("BROWSER_PATH")
    if configured and Path(configured).exists():
        return configured
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


SCREEN_DPI = 96  # a figure's layout width and height are CSS pixels: 96 to the inch
DOWNLOAD_DPI = 300  # publication resolution for downloads


def png_scale(fig: go.Figure, dpi: float | None = None, width_px: int | None = None) -> float:
    """Kaleido's scale for a PNG at `dpi` (the figure keeps its size in inches, layout px / 96) or
    `width_px` pixels wide; 1 when neither is given."""
    if width_px:
        return float(width_px) / float(fig.layout.width or 900)
    return float(dpi) / SCREEN_DPI if dpi else 1.0


def write_png(fig: go.Figure, path, *, width: int | None = None, height: int | None = None,
              scale: float | None = None, browser: str | None = "auto", dpi: float | None = None,
              width_px: int | None = None) -> str:
    """Write `fig` as a PNG (atomically); returns the engine used: "kaleido" or "matplotlib".

    Resolution: `dpi` (e.g. 300: layout px x 300/96 pixels, and the PNG says 300 dpi), or
    `width_px`, or an explicit kaleido `scale`. `browser`: "auto" finds one (`browser_path`), a path
    uses it, None forces the fallback. Without a browser, or when kaleido fails, the figure is drawn
    with matplotlib and a warning says why."""
    path = Path(path)
    if scale is None:
        scale = width_px / (width or fig.layout.width or 900) if width_px else png_scale(fig, dpi)
    dpi = dpi or SCREEN_DPI * scale
    browser = browser_path() if browser == "auto" else browser
    reason = "no Chromium found for kaleido (install chromium or set BROWSER_PATH)"
    if browser:
        try:
            png = _kaleido_png(fig, browser, width, height, scale)
        except Exception as exc:  # kaleido/Chromium failures vary; the fallback still gives a PNG
            reason = f"kaleido failed: {type(exc).__name__}: {exc}"
        else:
            with atomic_path(path) as tmp:
                tmp.write_bytes(_with_dpi(png, dpi))
            return "kaleido"
    warnings.warn(f"{path.name}: {reason}; drawing the PNG with matplotlib instead", RuntimeWarning,
                  stacklevel=2)
    with atomic_path(path) as tmp:
        _matplotlib_png(fig, tmp, width, height, scale)
        tmp.write_bytes(_with_dpi(tmp.read_bytes(), dpi))
    return "matplotlib"


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _with_dpi(png: bytes, dpi: float) -> bytes:
    """The same PNG with its physical resolution (a pHYs chunk, replacing any) set after its header, so
    editors place it at size. The image data is copied as it is: re-encoding a 300-dpi figure cost more
    than kaleido's render of it."""
    if png[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG")
    chunks, at = [], len(PNG_SIGNATURE)
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        end = at + 12 + length  # length, type, data, CRC
        if kind != b"pHYs":
            chunks.append(png[at:end])
        at = end
    per_metre = int(float(dpi) / 0.0254 + 0.5)  # as Pillow rounds it
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)  # unit 1: the metre
    phys = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    return PNG_SIGNATURE + chunks[0] + phys + b"".join(chunks[1:])  # IHDR first, as PNG requires


class _ChromiumGoodbye(logging.Filter):
    """Drops one record of kaleido's browser driver (choreographer): when Chromium closes it may send
    `{bye}` on the pipe, which the driver logs as a JSON error with a traceback, "Ignoring". Harmless,
    but a traceback in a shared server's log reads as a failure. Any other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        cause = getattr(error, "__cause__", None)
        return not str(getattr(cause, "doc", "")).startswith("{bye}")


class KeptBrowser:
    """One kaleido Chromium kept for the process: starting it costs seconds, a figure rendered in it a few
    tenths of one. It starts on the first PNG, is closed after IDLE_S seconds unused (a server keeps no
    browser it does not need), when a render fails or hangs (the next PNG starts a new one), and at exit.

    kaleido's asyncio calls run on a loop in a thread of this object's own; `png` may be called from any
    thread (a server's sessions), one render at a time. `starts` counts the browsers started. At exit
    (`close_at_exit`) the browser is closed within EXIT_CLOSE_S seconds, busy or not, else killed."""

    IDLE_S = 300.0
    START_TIMEOUT_S = 120.0
    RENDER_TIMEOUT_S = 120.0  # above kaleido's own 90 s a render
    EXIT_CLOSE_S = 2.0  # a server exits within 10 s of SIGTERM (tests/browser/test_e2e_shutdown.py)

    def __init__(self):
        self._lock = threading.Lock()
        self._loop = None
        self._kaleido = None
        self._browser = None
        self._idle = None
        self._group = None  # the open browser's process group (choreographer starts it in a session of its own)
        self._profile = None  # the open browser's profile folder (choreographer's temporary one)
        self._exiting = False
        self.starts = 0

    def png(self, spec: dict, opts: dict, browser: str) -> bytes:
        """The PNG bytes of the figure `spec` (a figure's dict) with kaleido's `opts`, in Chromium `browser`."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._loop.set_exception_handler(self._unretrieved)
                threading.Thread(target=self._loop.run_forever, name="kaleido", daemon=True).start()
            try:
                return self._wait(self._render(spec, opts, browser), self.START_TIMEOUT_S + self.RENDER_TIMEOUT_S)
            except BaseException:
                self._wait(self._close(), self.START_TIMEOUT_S)  # a failed or hung browser is not kept
                raise

    def close(self) -> None:
        """Close the browser, if one is open (the next PNG starts another)."""
        with self._lock:
            if self._loop is not None:
                self._wait(self._close(), self.START_TIMEOUT_S)

    def close_at_exit(self) -> None:
        """Close the browser within EXIT_CLOSE_S seconds: without waiting for a render running (nobody takes its
        PNG now; it fails), then kill what is left of its process group (all of it when it did not close in time:
        busy, hung or stopped; a helper that outlived a clean close)."""
        loop, group, profile = self._loop, self._group, self._profile  # kept: a close under way clears them
        if loop is None or group is None:
            return
        self._exiting = True
        with contextlib.suppress(Exception):  # timed out or failed: killed below
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(self.EXIT_CLOSE_S)
        _killed(group, self.EXIT_CLOSE_S)
        if profile is not None:  # its profile folder: its own finalizer, at exit, raced a dying Chromium's writes
            _removed(profile, self.EXIT_CLOSE_S)

    def _unretrieved(self, loop, context: dict) -> None:
        """The loop's errors that no caller receives, said as asyncio says them; not at exit, where a render cut off
        by `close_at_exit` fails inside kaleido's own tasks, which nobody awaits ('Task exception was never
        retrieved', with a traceback on stderr, in one exit of eight)."""
        if not self._exiting:
            loop.default_exception_handler(context)

    def _wait(self, coroutine, timeout: float):
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"kaleido's Chromium gave no answer in {timeout:g} s") from None

    async def _open(self, browser: str) -> None:
        kaleido_class = _kaleido_reloading_less()
        # the driver's own logger, created by kaleido's import (its logger class has levels that logging's lacks)
        pipe_log = logging.getLogger("choreographer.channels.pipe")
        if not any(isinstance(f, _ChromiumGoodbye) for f in pipe_log.filters):
            pipe_log.addFilter(_ChromiumGoodbye())
        # given by path, so that nothing in this process's environment changes; MathJax off: kaleido's page
        # would fetch it from a CDN on every render
        opened = kaleido_class(path=str(browser), mathjax=False)
        try:
            await opened.open()
        except BaseException:
            with contextlib.suppress(Exception):
                await opened.close()
            raise
        self._kaleido, self._browser, self._group = opened, browser, opened.subprocess.pid
        profile = getattr(getattr(opened, "_browser_impl", None), "tmp_dir", None)  # choreographer's
        self._profile = Path(profile.path) if profile is not None else None
        self.starts += 1
        # exit hooks run last registered first: this one now runs before the finalizer of the browser's profile
        # folder, which otherwise raced the browser still writing in it ('Directory not empty' on stderr)
        atexit.unregister(self.close_at_exit)
        atexit.register(self.close_at_exit)

    async def _render(self, spec: dict, opts: dict, browser: str) -> bytes:
        if self._idle is not None:
            self._idle.cancel()
        if self._kaleido is None or self._browser != browser:
            await self._close()
            await self._open(browser)
        try:
            return await self._kaleido.calc_fig(spec, opts=opts)
        finally:
            self._idle = asyncio.get_running_loop().call_later(
                self.IDLE_S, lambda: asyncio.ensure_future(self._close()))

    async def _close(self) -> None:
        opened, self._kaleido = self._kaleido, None  # taken first: a render queued meanwhile opens another
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if opened is not None:
            await opened.close()
            self._group = self._profile = None


def _killed(group: int, seconds: float) -> None:
    """SIGKILL process group `group` and wait (at most `seconds`) until none of its processes runs: one killed amid
    a write into the profile completes that write first."""
    with contextlib.suppress(OSError):  # none left
        os.killpg(group, signal.SIGKILL)
    deadline = time.monotonic() + seconds
    while _running_in(group) and time.monotonic() < deadline:
        time.sleep(0.02)


def _running_in(group: int) -> bool:
    """Whether a process of `group` runs (a zombie has ended: its parent, or init, reaps it)."""
    import psutil

    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == group:
                return True
    return False


def _removed(folder: Path, seconds: float) -> None:
    """Remove `folder`, again while a process that is ending still writes in it (at most `seconds`)."""
    deadline = time.monotonic() + seconds
    while folder.exists() and time.monotonic() < deadline:
        shutil.rmtree(folder, ignore_errors=True)
        time.sleep(0.02)


def _kaleido_reloading_less():
    """kaleido's browser, its tab reloaded after every RELOAD_EVERY-th figure rather than after each. kaleido
    reloads after each (0.12-0.15 s, a third of a map's render); its plotly.js draws each figure in a div of
    its own and purges it, so a figure drawn after others has the same pixels (tests/app/test_figures.py)."""
    import kaleido

    class KaleidoReloadingLess(kaleido.Kaleido):
        RELOAD_EVERY = 50
        renders = reloads = 0

        async def _return_kaleido_tab(self, tab) -> None:  # kaleido 1.x: puts the tab back, reloaded
            self.renders += 1
            if self.renders % self.RELOAD_EVERY:
                await self.tabs_ready.put(tab)
            else:
                self.reloads += 1
                await super()._return_kaleido_tab(tab)

    return KaleidoReloadingLess


KEPT_BROWSER = KeptBrowser()
os.register_at_fork(after_in_child=KEPT_BROWSER.__init__)  # a forked child has neither its thread nor its browser


def _kaleido_png(fig, browser, width, height, scale) -> bytes:
    """Kaleido's PNG, rendered in the process's kept Chromium."""
    opts = {"format": "png", "width": width or fig.layout.width or 900,
            "height": height or fig.layout.height or 600, "scale": scale}
    return KEPT_BROWSER.png(_for_export(fig), opts, browser)


SVG_MAX_POINTS = 20_000  # WebGL scatters with fewer points are drawn as SVG in a PNG


def _for_export(fig: go.Figure) -> dict:
    """The figure's dict, its WebGL scatters drawn as SVG ones (the same markers) when they hold at most
    SVG_MAX_POINTS points in all: headless Chromium's software WebGL costs seconds a figure whatever its points
    (2,400 points: 12.7 s against SVG's 1.4 s, at load 18), SVG's cost grows with the points (200,000: 81 s)."""
    spec = fig.to_dict()
    webgl = [trace for trace in spec["data"] if trace.get("type") == "scattergl"]
    if sum(len(trace.get("x") if trace.get("x") is not None else ()) for trace in webgl) <= SVG_MAX_POINTS:
        for trace in webgl:
            trace["type"] = "scatter"
    return spec


def _matplotlib_png(fig: go.Figure, path, width, height, scale) -> None:
    """Draw the traces this module makes (scatter, heatmap, bar, image) on matplotlib axes placed by the
    figure's axis domains."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure registry

    width = width or fig.layout.width or 900
    height = height or fig.layout.height or 600
    canvas = Figure(figsize=(width / 100, height / 100), dpi=100 * scale)  # int(width * scale) pixels, as kaleido
    axes = {}
    for trace in fig.data:
        axis_pair = (trace.xaxis or "x", trace.yaxis or "y")
        if axis_pair not in axes:
            axes[axis_pair] = _mpl_axes(canvas, fig.layout, *axis_pair)
        _DRAW.get(trace.type, _draw_nothing)(axes[axis_pair], trace, fig.layout)
    for ax in axes.values():
        for limits, given in zip((ax.set_xlim, ax.set_ylim), ax.plotly_ranges):
            if given:  # after the traces, which set their own limits; a reversed y range turns the map upright
                limits(*given)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    for note in fig.layout.annotations or ():  # subplot titles: above the nearest axes
        if axes and note.text:
            nearest = min(axes.values(), key=lambda ax: abs(ax.plotly_domain[0] - note.x)
                          + abs(ax.plotly_domain[1] - note.y))
            nearest.set_title(note.text, fontsize=9)
    if fig.layout.title and fig.layout.title.text:
        canvas.suptitle(fig.layout.title.text, fontsize=11)
    canvas.savefig(path, format="png")


def _mpl_axes(canvas, layout, xaxis: str, yaxis: str):
    xa, ya = layout[xaxis.replace("x", "xaxis", 1)], layout[yaxis.replace("y", "yaxis", 1)]
    (x0, x1), (y0, y1) = xa.domain or (0, 1), ya.domain or (0, 1)
    if layout.title and layout.title.text:  # room for the figure title above every subplot
        y0, y1 = 0.93 * y0, 0.93 * y1
    ax = canvas.add_axes([x0 + 0.06 * (x1 - x0), y0 + 0.1 * (y1 - y0), 0.88 * (x1 - x0), 0.78 * (y1 - y0)])
    ax.plotly_domain = ((x0 + x1) / 2, y1)  # where plotly puts this subplot's title
    ax.plotly_square = bool(ya.scaleanchor)  # plotly keeps x and y scales equal here
    ax.plotly_ranges = (xa.range, ya.range)  # the axes' given ranges (None: autorange)
    ax.set_facecolor(layout.plot_bgcolor or "white")
    ax.set_xlabel(xa.title.text or "", fontsize=8)
    ax.set_ylabel(ya.title.text or "", fontsize=8)
    if ya.autorange == "reversed":
        ax.invert_yaxis()
    ax.tick_params(labelsize=7)
    return ax


def _marker_colours(trace):
    colour = trace.marker.color if trace.marker else None
    if colour is None or isinstance(colour, str):
        return colour or PALETTE[0]
    values = np.asarray(colour)
    if values.dtype.kind in "OUS":
        return [tuple(c / 255 for c in _rgb(v)) for v in values]
    scale = trace.marker.colorscale or _default_scale()
    vmin = trace.marker.cmin if trace.marker.cmin is not None else np.nanmin(values)
    vmax = trace.marker.cmax if trace.marker.cmax is not None else np.nanmax(values)
    return colours_of(values, scale, vmin, vmax) / 255.0


def _draw_scatter(ax, trace, layout):
    x = np.asarray(trace.x if trace.x is not None else [], dtype=np.float64)
    y = np.asarray(trace.y if trace.y is not None else [], dtype=np.float64)
    if not np.isfinite(x).any():  # a legend-only entry
        if trace.showlegend is not False and trace.name:
            ax.scatter([], [], color=_marker_colours(trace), label=trace.name)
        return
    if "lines" in (trace.mode or ""):  # NaN between points breaks the line, as plotly's gaps do
        ax.plot(x, y, color=trace.line.color or PALETTE[0], linewidth=(trace.line.width or 2) * 0.75)
        return
    size = float(trace.marker.size) if trace.marker and np.isscalar(trace.marker.size) else 3.0
    ax.scatter(x, y, c=_marker_colours(trace), s=size ** 2 / 2, linewidths=0, rasterized=True)


def _draw_heatmap(ax, trace, layout):
    z = np.asarray(trace.z, np.float64)
    scale = trace.colorscale or _default_scale()
    vmin = trace.zmin if trace.zmin is not None else np.nanmin(z)
    vmax = trace.zmax if trace.zmax is not None else np.nanmax(z)
    rgba = np.zeros((*z.shape, 4))
    rgba[..., :3] = colours_of(z, scale, vmin, vmax) / 255.0
    rgba[..., 3] = np.isfinite(z)  # NaN stays transparent: the axes colour shows, as in plotly
    x = np.asarray(trace.x if trace.x is not None else np.arange(z.shape[1]), np.float64)
    y = np.asarray(trace.y if trace.y is not None else np.arange(z.shape[0]), np.float64)
    half_x = (x[1] - x[0]) / 2 if len(x) > 1 else 0.5
    half_y = (y[1] - y[0]) / 2 if len(y) > 1 else 0.5
    reversed_y = ax.yaxis_inverted()
    ax.imshow(rgba, extent=(x[0] - half_x, x[-1] + half_x, y[-1] + half_y, y[0] - half_y),
              origin="upper", aspect="equal" if ax.plotly_square else "auto", interpolation="nearest")
    if not reversed_y:
        ax.invert_yaxis()
    if trace.showscale:  # the same colour bar as plotly's, beside the map
        _mpl_colorbar(ax, scale, vmin, vmax, trace.colorbar.title.text if trace.colorbar else "")


def _mpl_colorbar(ax, scale, vmin, vmax, title):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    steps = np.linspace(vmin, vmax, 256)
    cmap = ListedColormap(colours_of(steps, scale, vmin, vmax) / 255.0)
    bar = ax.figure.colorbar(ScalarMappable(Normalize(vmin, vmax), cmap), ax=ax, fraction=0.05, pad=0.02)
    bar.ax.tick_params(labelsize=6)
    if title:
        bar.set_label(title, fontsize=7)


def _draw_bar(ax, trace, layout):
    x, y = list(trace.x), list(trace.y)
    colour = trace.marker.color if trace.marker and isinstance(trace.marker.color, str) else PALETTE[0]
    if trace.orientation == "h":
        ax.barh([str(v) for v in y], x, color=colour)
    else:
        ax.bar([str(v) for v in x], y, color=colour)


def _draw_image(ax, trace, layout):
    """An RGB image (go.Image: its z, or its PNG source) placed by x0, dx, y0, dy, row 0 at the top as plotly draws
    it."""
    z = np.asarray(trace.z) if trace.z is not None else png_pixels(trace.source)
    x0, dx = trace.x0 or 0.0, trace.dx or 1.0
    y0, dy = trace.y0 or 0.0, trace.dy or 1.0
    ax.imshow(z, extent=(x0 - dx / 2, x0 + dx * (z.shape[1] - 0.5), y0 + dy * (z.shape[0] - 0.5), y0 - dy / 2),
              aspect="equal", interpolation="nearest")


def _draw_nothing(ax, trace, layout):
    warnings.warn(f"matplotlib fallback cannot draw a {trace.type} trace; it is left out", RuntimeWarning)


def _default_scale():
    import plotly.colors

    return plotly.colors.get_colorscale("Viridis")


_DRAW = {"scatter": _draw_scatter, "scattergl": _draw_scatter, "heatmap": _draw_heatmap, "bar": _draw_bar,
         "image": _draw_image}
