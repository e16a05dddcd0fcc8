"""How long a UMAP fit is expected to take on this machine, said while a page shows the PCA in its place.

A fit's time is numba's compilation of umap-learn's code, once per numba cache (COMPILE_SECONDS; LOAD_SECONDS to
load it when compiled: `compiled()`), then the fast path's UMAP of its sample (`min(rows, sample_size)` rows; the
other rows are placed beside it) at the pace of the last fit of at least MIN_TIMED_ROWS sample rows on this machine,
kept in `machine_rates` (`record_fit`, called by every UMAP fit); FIT_ROWS_PER_SECOND until one is measured.

    expected_fit(2400, 30000)   Expected(seconds=31.6, text="about 32 s: about 30 s compiling UMAP's code (the first
        fit with this numba cache), then UMAP of 2,400 rows at about 1,500 rows a second (until a fit here is timed)")
"""
from __future__ import annotations

import dataclasses

from ...machine_rates import cpu_name, duration, keep_rate, kept_rate
from ...versions import package_versions
from .umap_numba import compiled_marker

# Measured on this project's 2-core AMD EPYC (docs/benchmarks.md, "what the page expects of a first UMAP"): a fresh
# numba cache's warm-up compiled in 25-34 s, a compiled one loads in 3-9 s; the demo's 2,400 rows fit in 2 s, a
# 30,000-row sample in 15-20 s.
COMPILE_SECONDS = 30.0
LOAD_SECONDS = 5.0
FIT_ROWS_PER_SECOND = 1_500.0
MIN_TIMED_ROWS = 1_000  # smaller fits are mostly fixed costs: their pace says little of a larger one's
UMAP_PACKAGES = ("umap-learn", "pynndescent")


@dataclasses.dataclass(frozen=True)
class Expected:
    seconds: float
    text: str  # "about 32 s: ...": what the estimate is made of


def compiled() -> bool:
    """numba's cache holds umap-learn's code (a warm-up compiled it with these versions)."""
    return compiled_marker("umap", UMAP_PACKAGES).exists()


def record_fit(sample_rows: int, seconds: float) -> None:
    """Keep the pace of a UMAP fit of `sample_rows` rows that took `seconds` (numba's code loaded before)."""
    if sample_rows >= MIN_TIMED_ROWS and seconds > 0:
        keep_rate(_key(), sample_rows / seconds, rows=int(sample_rows))


def expected_fit(rows: int, sample_size: int, is_compiled: bool | None = None) -> Expected:
    """The expected seconds of a UMAP fit of `rows` rows (its sample: at most `sample_size`), numba's code
    compiled first unless `is_compiled` (None: `compiled()`)."""
    is_compiled = compiled() if is_compiled is None else is_compiled
    kept = kept_rate(_key())
    rate = kept["rate"] if kept else FIT_ROWS_PER_SECOND
    fitted = min(rows, sample_size)
    code = LOAD_SECONDS if is_compiled else COMPILE_SECONDS
    seconds = code + fitted / rate
    code_text = ("loading UMAP's compiled code" if is_compiled
                 else "compiling UMAP's code (the first fit with this numba cache)")
    basis = f"measured here {kept['measured']}" if kept else "until a fit here is timed"
    sample = f" (a sample of {rows:,})" if fitted < rows else ""
    return Expected(seconds, f"about {duration(seconds)}: about {duration(code)} {code_text}, then UMAP of "
                             f"{fitted:,} rows{sample} at about {rate:,.0f} rows a second ({basis})")


def _key() -> str:
    return f"umap fit, sample rows a second: {cpu_name()}, umap-learn {package_versions(('umap-learn',))['umap-learn']}"
