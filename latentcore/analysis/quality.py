"""The quality filter: the scan's pixels kept by thresholds on its own quality maps, the one filter every result
that computes over rows applies alike (the command line's `--quality`, the app's shared setting).

    q = QualityFilter.parse("ci>=0.1,mad<=1.2")     any subset of the maps in QUALITY_MAPS, each bound once;
                                                     `bc` from `q.bandcontrast` (a BandContrast; None: the scan's
                                                     own Band Contrast map)
    kept = q.rows_kept(latents.point_maps, x, y)     (N,) bool over the rows: every threshold met (NaN meets none);
                                                     fewer than MIN_KEPT rows kept is refused, naming the filter
    q.check_kept(kept[in_roi], within=" in the ROI") the same refusal over a part of the rows
    with q.explains(q.record(kept), labelled=n): ... an InputError inside said as the filter's doing
    maps = q.maps(latents.point_maps, x, y)          short name -> (N,) values of every quality map the scan has
    q.record(kept)                                   what a report keeps: the filter, its thresholds, kept count
    quality_tag(q)                                   `_q-ci-ge0.1-mad-le1.2`: the filter's part of a file name

Rows the filter removes are left out of a result as rows outside an ROI are: absent from its fit and its
tables, the rows kept holding their own row ids. A filter that leaves too few rows to compute on is refused where it
is applied, in one line naming it and how many rows it kept, so the command line and every page that applies it
(UMAP, Clusters, Rank, the labels) say the same.
"""
from __future__ import annotations

import contextlib
import dataclasses
import re

import numpy as np

from ..data.bandcontrast import BandContrast
from ..errors import InputError


@dataclasses.dataclass(frozen=True)
class QualityMap:
    vendor_names: tuple[str, ...]  # the per-point maps it stands for, in order of preference
    title: str  # with its unit
    keeps: str  # the side of a threshold good pixels lie on: ">=" (high is good) or "<=" (MAD: low is good)


QUALITY_MAPS = {
    "ci": QualityMap(("CI", "Confidence Index"), "CI", ">="),
    "mad": QualityMap(("Mean Angular Deviation", "MAD"), "MAD (°)", "<="),
    "bc": QualityMap(("Band Contrast", "BC"), "band contrast", ">="),
    "iq": QualityMap(("IQ", "Image Quality"), "IQ", ">="),
}
OPERATORS = (">=", "<=")
MIN_KEPT = 3  # the fewest rows any result computes over: a ranking's correlations need 3 (a fit, a clustering 2)
_TERM = re.compile(r"^\s*([A-Za-z]+)\s*(>=|<=)\s*(\S+)\s*$")


@dataclasses.dataclass(frozen=True)
class Threshold:
    """One bound: `name` (a key of QUALITY_MAPS) `op` (">=" keeps values at least `value`, "<=" at most)."""

    name: str
    op: str
    value: float

    def __post_init__(self):
        if self.name not in QUALITY_MAPS:
            raise InputError(f"no quality map {self.name!r}: use one of {list(QUALITY_MAPS)}")
        if self.op not in OPERATORS:
            raise InputError(f"a quality threshold's comparison must be one of {OPERATORS}, got {self.op!r}")
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise InputError(f"a quality threshold on {self.name} must be a finite number, got {value!r}"[:200])
        object.__setattr__(self, "value", float(value))

    def passes(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):  # NaN compares False: a pixel without the value is not kept
            return values >= self.value if self.op == ">=" else values <= self.value

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value:g}"


@dataclasses.dataclass(frozen=True)
class QualityFilter:
    """Thresholds on the scan's quality maps, all of which a pixel meets to be kept. Frozen and hashable: jobs and
    caches are keyed by it; `spec` is its one string form (the command line, JSON, the workspace)."""

    thresholds: tuple[Threshold, ...]
    bandcontrast: BandContrast | None = None  # where `bc` comes from; None: the scan's own Band Contrast map

    def __post_init__(self):
        object.__setattr__(self, "thresholds", tuple(sorted(self.thresholds, key=lambda t: (t.name, t.op))))
        bounds = [(t.name, t.op) for t in self.thresholds]
        if not bounds:
            raise InputError("a quality filter needs at least one threshold: give one like ci>=0.1")
        if len(set(bounds)) != len(bounds):
            raise InputError(f"a quality filter bounds each map once on each side, got {self.spec!r}: remove the "
                             "repeated one")

    @classmethod
    def parse(cls, text: str, bandcontrast: BandContrast | None = None) -> QualityFilter:
        """`"ci>=0.1,mad<=1.2"`: comma-separated thresholds NAME>=VALUE or NAME<=VALUE."""
        thresholds = []
        for term in str(text).split(","):
            found = _TERM.match(term)
            try:
                value = float(found.group(3)) if found else None
            except ValueError:
                value = None
            if value is None:
                raise InputError(f"a quality filter must be thresholds like ci>=0.1,mad<=1.2 (maps {list(QUALITY_MAPS)}),"
                                 f" got {text!r}"[:240])
            thresholds.append(Threshold(found.group(1).lower(), found.group(2), value))
        return cls(tuple(thresholds), bandcontrast)

    @classmethod
    def from_json(cls, value) -> QualityFilter | None:
        """The filter a record holds (`to_json`), None for none."""
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("filter"), str):
            raise InputError(f"a quality filter's record must be like {{'filter': 'ci>=0.1'}}, got {value!r}"[:200])
        band = value.get("bandcontrast")
        return cls.parse(value["filter"], BandContrast.parse(band) if band is not None else None)

    def to_json(self) -> dict:
        """The filter as reports and jobs record it (`from_json` reads it back)."""
        return {"filter": self.spec,
                "thresholds": [{"map": t.name, "op": t.op, "value": t.value} for t in self.thresholds],
                "bandcontrast": self.bandcontrast.spec if self.bandcontrast is not None else None}

    @property
    def spec(self) -> str:
        return ",".join(f"{t.name}{t.op}{t.value:g}" for t in self.thresholds)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.name for t in self.thresholds))

    def maps(self, point_maps: dict, x=None, y=None, where=None) -> dict[str, np.ndarray]:
        """Short name -> (N,) float64 of the scan's quality maps (`quality_maps`), `bc` from the filter's
        band-contrast choice (a table aligned to the rows' x, y) when it has one and a threshold needs it."""
        band = None
        if "bc" in self.names and self.bandcontrast is not None:
            band = self.bandcontrast.values(point_maps, x, y, where)[1]
        return quality_maps(point_maps, band)

    def rows_kept(self, point_maps: dict, x=None, y=None, where=None) -> np.ndarray:
        """(N,) bool: the rows of a latents file (its `point_maps`, x, y) the filter keeps; refused when they are
        too few to compute on (`check_kept`)."""
        kept = self.mask(self.maps(point_maps, x, y, where), where)
        self.check_kept(kept, where)
        return kept

    def check_kept(self, kept: np.ndarray, where=None, within: str = "") -> None:
        """One line naming the filter when it keeps fewer than MIN_KEPT of the rows (`within`: which rows, e.g.
        " in the ROI"): no result computes on so few."""
        n = int(np.count_nonzero(kept))
        if n < MIN_KEPT:
            raise InputError(f"the quality filter {self} keeps {n:,} of {np.size(kept):,} rows{within}: too few to "
                             f"compute on (at least {MIN_KEPT}); lower its thresholds", where)

    def refuse_table(self, n_sources: int) -> None:
        """On latents of several sources (a study), a band-contrast table is refused: it holds one scan's x, y, where
        each scan's own Band Contrast map is its band contrast."""
        band = self.bandcontrast
        if n_sources > 1 and band is not None and not band.from_scan:
            raise InputError("a band-contrast table holds one scan's x, y: a study's quality filter takes each scan's "
                             "own Band Contrast map; leave out --bandcontrast", band.path)

    @contextlib.contextmanager
    def explains(self, record: dict, labelled: int | None = None):
        """An InputError raised inside (too few labels of a class, ...) is said as this filter's doing: how many
        rows it kept (`record`: its `record`; `labelled`: of them labelled), the error, and lowering its thresholds
        as a way out."""
        try:
            yield
        except InputError as exc:
            of = f", {labelled:,} of them labelled" if labelled is not None else ""
            said = str(exc)[len(exc.path) + 2:] if exc.path else str(exc)
            raise InputError(f"the quality filter {self} keeps {record['kept']:,} of {record['rows']:,} rows{of}: "
                             f"{said}, or lower its thresholds", exc.path) from None

    def mask(self, maps: dict, where=None) -> np.ndarray:
        """(N,) bool over the rows of `maps` (`quality_maps`): every threshold met. A threshold on a map the scan
        lacks is refused, naming the maps it has (`where`: the file, for the message)."""
        missing = [name for name in self.names if name not in maps]
        if missing:
            has = ", ".join(maps) or "none"
            table = "; for bc give a band-contrast table" if "bc" in missing else ""
            raise InputError(f"quality filter {self}: the scan has no {', '.join(missing)} map (it has: {has}); "
                             f"use those{table}", where)
        kept = None
        for threshold in self.thresholds:
            passes = threshold.passes(np.asarray(maps[threshold.name], np.float64))
            kept = passes if kept is None else kept & passes
        return kept

    def record(self, kept: np.ndarray) -> dict:
        """What a report keeps: the filter, its thresholds, its band contrast (a table by its name), and how many of
        the rows it was applied to it kept."""
        kept = np.asarray(kept, bool)
        band = self.bandcontrast
        named = {"bandcontrast": band.path.name} if band is not None and not band.from_scan else {}
        return {**self.to_json(), **named, "rows": int(kept.size), "kept": int(kept.sum()),
                "fraction": float(kept.mean()) if kept.size else 0.0}

    def describe(self, kept: np.ndarray) -> str:
        """"Quality filter ci >= 0.1: 2,180 of 2,400 points kept"."""
        kept = np.asarray(kept, bool)
        return f"Quality filter {self}: {int(kept.sum()):,} of {kept.size:,} points kept"

    def __str__(self) -> str:
        return ", ".join(str(t) for t in self.thresholds)


def quality_maps(point_maps: dict, bandcontrast: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Short name -> (N,) float64 of every quality map the scan has: its per-point maps under their vendor names
    (`QUALITY_MAPS`), `bc` the chosen band contrast's values (a table aligned to the rows, or a scan map) when
    given, else the scan's own Band Contrast map."""
    maps = {}
    for name, record in QUALITY_MAPS.items():
        found = next((n for n in record.vendor_names if n in point_maps), None)
        if found is not None:
            maps[name] = np.asarray(point_maps[found], np.float64)
    if bandcontrast is not None:
        maps["bc"] = np.asarray(bandcontrast, np.float64)
    return maps


def quality_tag(quality: QualityFilter | None) -> str:
    """`_q-ci-ge0.1-mad-le1.2` for a filter, nothing for none: a result's file names tell filtered runs apart."""
    if quality is None:
        return ""
    words = {">=": "ge", "<=": "le"}
    return "_q-" + "-".join(f"{t.name}-{words[t.op]}{t.value:g}" for t in quality.thresholds)
