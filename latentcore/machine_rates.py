"""Paces measured on this machine and kept between runs, one JSON file for all of them: training's rate
(`train.sizing`) and the UMAP fit's (`analysis.embedding.fit_time`). Each entry is {"rate": > 0, "measured": date, ...}
under a key naming what was measured and on what (the CPU or GPU, the library's version). The file:
$LATENT_EXPLORER_MACHINE_RATES, else ~/.cache/latent-explorer/machine-rates.json; delete it to measure again."""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import platform
from pathlib import Path

from .errors import LatentError
from .storage import atomic_path, make_folder

RATE_FILE_ENV = "LATENT_EXPLORER_MACHINE_RATES"
DEFAULT_RATE_FILE = Path("~/.cache/latent-explorer/machine-rates.json")


def rate_file() -> Path:
    """Where measured rates are kept: $LATENT_EXPLORER_MACHINE_RATES, else ~/.cache/latent-explorer/machine-rates.json."""
    return Path(os.environ.get(RATE_FILE_ENV) or DEFAULT_RATE_FILE).expanduser()


@contextlib.contextmanager
def rates_locked():
    """The kept rates by key ({} when none can be read), the file locked meanwhile (other processes wait);
    without a folder to keep them in, {} and no lock: each call measures."""
    try:
        make_folder(rate_file().parent)
        handle = open(rate_file().with_suffix(".lock"), "a")
    except (OSError, LatentError):
        yield {}
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            kept = json.loads(rate_file().read_text())
        except (OSError, ValueError):
            kept = {}
        yield {key: value for key, value in kept.items() if _is_rate(value)} if isinstance(kept, dict) else {}


def kept_rate(key: str) -> dict | None:
    """The entry kept under `key`, or None."""
    with rates_locked() as rates:
        return rates.get(key)


def keep_rate(key: str, rate: float, **more) -> None:
    """Keep `rate` (and `more`) under `key`, dated today."""
    with rates_locked() as rates:
        rates[key] = {"rate": float(rate), "measured": datetime.date.today().isoformat(), **more}
        keep(rates)


def _is_rate(value) -> bool:
    return isinstance(value, dict) and isinstance(value.get("rate"), (int, float)) and value["rate"] > 0


def keep(rates: dict) -> None:
    """Write the rates whole under another name, then rename; one that cannot be written keeps nothing."""
    try:
        with atomic_path(rate_file(), replaces=True) as tmp:
            tmp.write_text(json.dumps(rates, indent=1))
    except (OSError, LatentError):
        pass


def available_cores() -> int:
    """The cores this process may run on (its affinity, which a container's CPU set limits), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def cpu_name() -> str:
    """The CPU's model name ("AMD EPYC"), from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def duration(seconds: float) -> str:
    """A rounded duration for people: 40 s, 12 min, 2.5 h."""
    if seconds < 90:
        return f"{max(round(seconds), 1)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
