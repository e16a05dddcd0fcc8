"""argparse types that several commands share: a bad value is refused by the parser, in one line naming the
option (latentcore/cli.py's OneLineParser), before any file is read."""
from __future__ import annotations

import argparse
import math

DPI_RANGE = (10.0, 2400.0)  # below 10 a figure is a few pixels; above 2400 one PNG can take gigabytes


def dpi(text: str) -> float:
    """A PNG resolution: a finite number in DPI_RANGE (0 used to give 96-dpi PNGs without a word)."""
    return _number_in(text, *DPI_RANGE, "dots per inch")


def boundary_degrees(text: str) -> float:
    """A misorientation angle in degrees: finite, above 0 and at most 180 (NaN found no boundary at all)."""
    value = _number(text)
    if not 0 < value <= 180:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 180 degrees, got {text!r}")
    return value


def _number_in(text: str, low: float, high: float, unit: str) -> float:
    value = _number(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be {low:g} to {high:g} {unit}, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value
