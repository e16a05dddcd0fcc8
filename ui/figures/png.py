"""PNG downloads of the figures the browser shows."""
from __future__ import annotations

from pathlib import Path


def figure_png(fig, path: str, dpi: float = 300) -> bytes:
    """The figure the browser shows, as a PNG at `dpi` (kaleido, or matplotlib without a browser)."""
    from latentcore import figures

    figures.write_png(fig, path, dpi=dpi)
    return Path(path).read_bytes()
