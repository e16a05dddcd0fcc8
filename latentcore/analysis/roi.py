"""A region of interest: x and y ranges, both ends inclusive, in the coordinates' units. A module of its own, light
to import: a training's settings and the command line's options hold one (`maps` crops with it)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..data._checks import GRID_TOLERANCE
from ..errors import InputError


@dataclasses.dataclass(frozen=True)
class Roi:
    """x and y ranges, inclusive at both ends, in the coordinates' units: the one value an ROI is, from where it
    enters (`parse`: the command line's `x0,x1,y0,y1`; `from_json`: a report's or a file's record; sliders:
    `Roi(x0, x1, y0, y1)`) to the files it names (`maps.roi_tag`) and the reports that record it (`to_json`).
    Frozen and hashable: caches and jobs are keyed by it."""

    x0: float
    x1: float
    y0: float
    y1: float

    def __post_init__(self):
        for name in ("x0", "x1", "y0", "y1"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(value):
                raise InputError(f"ROI {name} must be a finite number, got {value!r}"[:200])
            object.__setattr__(self, name, float(value))
        if self.x0 > self.x1 or self.y0 > self.y1:
            raise InputError(f"ROI ranges must be increasing, got {self}: give x0 <= x1 and y0 <= y1")

    @classmethod
    def parse(cls, text: str) -> Roi:
        """`"x0,x1,y0,y1"` as on the command line."""
        parts = [p.strip() for p in str(text).split(",")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4:
            raise InputError(f"ROI must be four numbers x0,x1,y0,y1 like 0,10,0,5, got {text!r}"[:200])
        return cls(*values)

    @classmethod
    def from_json(cls, value) -> Roi | None:
        """The ROI a JSON record (`to_json`) or an array holds: four numbers x0, x1, y0, y1; None for none."""
        if value is None:
            return None
        values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else None
        if values is None or len(values) != 4:
            raise InputError(f"an ROI must be four numbers like [x0, x1, y0, y1], got {value!r}"[:200])
        return cls(*values)

    @classmethod
    def around(cls, grid) -> Roi:
        """A map grid's (`maps.Grid`) extent, a quarter step (the grid's tolerance) beyond its outer pixels."""
        half_x, half_y = abs(grid.step_x) * GRID_TOLERANCE, abs(grid.step_y) * GRID_TOLERANCE
        return cls(grid.x0 - half_x, float(grid.x_values[-1]) + half_x, grid.y0 - half_y,
                   float(grid.y_values[-1]) + half_y)

    def mask(self, x, y) -> np.ndarray:
        x, y = np.asarray(x), np.asarray(y)
        return (x >= self.x0) & (x <= self.x1) & (y >= self.y0) & (y <= self.y1)

    def to_json(self) -> list[float]:
        """The one form reports and files record: [x0, x1, y0, y1]."""
        return [self.x0, self.x1, self.y0, self.y1]

    def describe(self, units: str = "", between: str = "..") -> str:
        """`x 0..30 µm, y 0..20 µm` (`units` as shown: "µm"; none: bare numbers)."""
        unit = f" {units}" if units else ""
        return f"x {self.x0:g}{between}{self.x1:g}{unit}, y {self.y0:g}{between}{self.y1:g}{unit}"

    def __str__(self) -> str:
        return self.describe()
