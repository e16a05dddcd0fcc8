"""NORDIF binary patterns: `Pattern.dat` holds uint8 patterns back to back, row-major, with no header;
the `Setting.txt` beside it declares the scan ([Area] "Number of samples" rows x columns, "Step size"
in µm) and the pattern size ([Acquisition settings] "Resolution" width x height), as kikuchipy reads them."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ._binary import BinaryLayout, BinaryScanReader, pattern_record
from ._scan import ScanGrid
from .base import register

SETTINGS_NAME = "Setting.txt"


def read_settings(path: Path) -> dict[str, dict[str, str]]:
    """Setting.txt as {section: {key: value}}: lines `key<TAB>value<TAB>unit` under `[section]`."""
    sections, section = {}, None
    for line in path.read_text(encoding="latin-1").splitlines():
        line = line.strip("\t ")
        if line.startswith("[") and line.endswith("]"):
            section = sections.setdefault(line[1:-1], {})
        elif section is not None and "\t" in line:
            key, value = line.split("\t")[:2]
            section[key.strip()] = value.strip()
    return sections


def _setting(sections, section: str, key: str, path: Path, parse):
    text = sections.get(section, {}).get(key)
    try:
        return parse(text)
    except (TypeError, ValueError):
        raise InputError(f"[{section}] {key!r} is {text!r}, not a valid value: correct it", path) from None


def _pair(text: str) -> tuple[int, int]:
    first, second = (int(part) for part in text.lower().split("x"))
    return first, second


@register
class NordifReader(BinaryScanReader):
    format_name = "nordif"
    title = "NORDIF"
    extensions = (".dat",)
    companions = (SETTINGS_NAME,)
    description = "NORDIF Pattern.dat with its Setting.txt"

    @classmethod
    def sniff(cls, path):
        if not path.is_file() or path.suffix.lower() != ".dat":
            return False
        settings = path.with_name(SETTINGS_NAME)
        if not settings.is_file():  # NORDIF's own name, alone, gets told what is missing
            if path.name.lower() == "pattern.dat":
                raise InputError(f"a NORDIF pattern file needs its {SETTINGS_NAME} in the same folder: put it there",
                                 path)
            return False
        return "[NORDIF]" in settings.read_text(encoding="latin-1")[:200]

    def _layout(self):
        settings = self.path.with_name(SETTINGS_NAME)
        sections = read_settings(settings)
        n_rows, n_columns = _setting(sections, "Area", "Number of samples", settings, _pair)
        width, height = _setting(sections, "Acquisition settings", "Resolution", settings, _pair)
        step = _setting(sections, "Area", "Step size", settings, float)
        return BinaryLayout(0, pattern_record(np.uint8, height, width), n_rows * n_columns,
                            ScanGrid(n_rows, n_columns, step, step))
