"""What a command costs before it works: CPU and wall seconds of `python -m latentcore` commands, each in a fresh
process (Python's start, the imports, the parser; then the command's own work), and which of pandas, SciPy,
scikit-learn and torch the parser alone loads. With `--baseline DIR` (another checkout) the same commands from
there, alternated with this checkout's `--repeats` times.

    python benchmarks/cli_start.py [--repeats 5] [--baseline ../main]

The commands: `--help` (the parser alone), `info` on the repository's EDAX scan (a reader, no analysis), and
`references` of that scan without figures (an analysis that loads pandas and SciPy for its own work).

Prints JSON lines (medians and every run). Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCAN = REPO / "tests" / "data" / "ebsd" / "ni_grains_edax.h5"
HEAVY = ("pandas", "scipy", "sklearn", "torch")


def commands(scratch: Path) -> dict[str, list[str]]:
    return {"--help": ["--help"], "info": ["info", str(SCAN)],
            "references": ["references", str(SCAN), "--out", str(scratch / "references"), "--clobber", "--no-figures"]}


def timed(checkout: Path, argv: list[str]) -> dict:
    """One command in a fresh process run from `checkout`: its wall and CPU seconds (user + system of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "latentcore", *argv], cwd=checkout, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(checkout)})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": round(wall, 3), "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime
                                                     - before.ru_stime, 3)}


def parser_loads(checkout: Path) -> list[str]:
    """The heavy libraries building the parser loads."""
    code = ("import sys; from latentcore.cli import build_parser; build_parser(); "
            f"print(','.join(name for name in {HEAVY!r} if name in sys.modules))")
    found = subprocess.run([sys.executable, "-c", code], cwd=checkout, check=True, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(checkout)})
    return [name for name in found.stdout.strip().split(",") if name]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout, alternated with this one")
    args = parser.parse_args()
    checkouts = {"this": REPO, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    load = Path("/proc/loadavg").read_text().split()[:3]
    for label, checkout in checkouts.items():
        print(json.dumps({"checkout": label, "parser_loads": parser_loads(checkout)}), flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name, argv in commands(Path(scratch)).items():
            runs = {label: [] for label in checkouts}
            for _ in range(args.repeats):
                for label, checkout in checkouts.items():
                    runs[label].append(timed(checkout, argv))
            for label in checkouts:
                print(json.dumps({"command": name, "checkout": label, "load": load,
                                  "cpu_s": round(statistics.median(r["cpu_s"] for r in runs[label]), 2),
                                  "wall_s": round(statistics.median(r["wall_s"] for r in runs[label]), 2),
                                  "runs": runs[label]}), flush=True)


if __name__ == "__main__":
    main()
