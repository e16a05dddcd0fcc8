"""What the PNG figures cost: commands of the CLI with and without their figures, and one PNG after another.

1. In this process: `figures.write_png` at 300 dpi of a latent map grid and of the cluster panels (a heatmap
   beside a scatter) of the built-in demo, `--figures` times in turn: the first PNG (which starts the kept
   Chromium) and each one after it, in seconds.
2. The command line, each command in a subprocess as a person runs it, with its figures and with
   `--no-figures`, alternated `--repeats` times, on a simulated 64 x 80 H5OINA scan with orientations (5,120
   patterns, `latentcore.demo.simulate`): `references SCAN --roi 5,90,0,60` (EBSD reference maps, a PNG each)
   and `rank LATENTS --reference references.npz` (the scan's latents by the demo's VAE against those maps).
   Prints the medians, the ratio with / without, the seconds a figure costs ((with - without) / the PNGs
   written) and a figure after the first (the first's cost taken as this process's first PNG). With
   `--baseline DIR` (another checkout, e.g. main) the same commands run from there too, alternated with this
   one, for a before and after measured in one run.

Goal: <= 0.3 s a figure after the first (each PNG started its own Chromium: 3-6 s a figure).

    python benchmarks/figure_export.py [--repeats 3] [--figures 6] [--baseline ../main] [--only "references --roi"]

Prints JSON lines. Results: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def in_process(folder: Path, count: int) -> dict:
    """Seconds of each `write_png` of two demo figures drawn in turn: the first, and the rest."""
    import pandas as pd

    from latentcore import figures
    from latentcore.analysis.maps import Grid, spatial_maps
    from latentcore.demo import DEMO_BANDCONTRAST

    table = pd.read_csv(DEMO_BANDCONTRAST)
    x, y, bc = table["x"].to_numpy(), table["y"].to_numpy(), table["bandcontrast"].to_numpy(np.float64)
    latent = (bc - bc.mean()) / bc.std() + np.random.default_rng(0).normal(scale=0.3, size=len(bc))
    labels = np.digitize(bc, np.percentile(bc, [33, 66]))
    grid = Grid.from_coordinates(x, y)
    maps, grid, dims = spatial_maps(np.column_stack([latent, -latent, latent ** 2]), x, y, grid=grid)
    drawn = [figures.latent_map_grid(maps, grid, dims, columns=3),
             figures.cluster_panels(x, y, latent, bc, labels, grid)]
    seconds = []
    for number in range(count):
        start = time.perf_counter()
        engine = figures.write_png(drawn[number % 2], folder / f"figure{number}.png", dpi=300)
        seconds.append(round(time.perf_counter() - start, 3))
    return {"engine": engine, "first_s": seconds[0], "after_first_s": seconds[1:],
            "after_first_median_s": statistics.median(seconds[1:]) if count > 1 else None}


def run_cli(checkout: Path, words: list[str]) -> float:
    start = time.perf_counter()
    # run in the checkout: `-m` puts the working folder first on sys.path, before PYTHONPATH
    done = subprocess.run([sys.executable, "-m", "latentcore", *words], capture_output=True, text=True,
                          cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)})
    if done.returncode:
        raise SystemExit(f"{' '.join(words[:2])} failed ({checkout}):\n{done.stdout}{done.stderr}")
    return time.perf_counter() - start


def commands(folder: Path) -> dict:
    """name -> (its words, the folder its PNGs land in): a 5,120-pattern scan written into `folder`, its latents
    extracted; "--no-figures" is added for the runs without."""
    from latentcore.demo import DEMO_MODEL
    from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5oina

    scan = write_h5oina(simulate_scan(ScanSettings(n_rows=64, n_columns=80)), folder / "scan.h5oina")
    run_cli(REPO, ["extract", str(scan), "--model", str(DEMO_MODEL), "--out", str(folder / "latents")])
    latents = next((folder / "latents").glob("*_latents.h5"))
    run_cli(REPO, ["references", str(scan), "--out", str(folder / "all"), "--no-figures"])  # rank's maps
    return {"references --roi": (["references", str(scan), "--roi", "5,90,0,60", "--out", str(folder / "refs")],
                                 folder / "refs"),
            "rank --reference": (["rank", str(latents), "--reference", str(folder / "all" / "references.npz"),
                                  "--out", str(folder / "rank")], folder / "rank")}


def on_the_command_line(folder: Path, checkouts: dict, repeats: int, only: str | None, first_png_s: float):
    """Yields a result per command and checkout. `after_first_s`: the seconds a figure costs after the first,
    the first's cost taken as this process's first PNG (`first_png_s`, Chromium's start included)."""
    for name, (words, out) in commands(folder).items():
        if only and name != only:
            continue
        times = {(label, figures): [] for label in checkouts for figures in (True, False)}
        pngs = 0
        for _ in range(repeats):
            for (label, figures), seconds in times.items():  # alternated: each pair meets the same load
                shutil.rmtree(out, ignore_errors=True)  # a command refuses to replace its outputs without --clobber
                seconds.append(run_cli(checkouts[label], words + ([] if figures else ["--no-figures"])))
                if figures:
                    pngs = len(list(out.glob("*.png")))
        for label in checkouts:
            with_, without = (statistics.median(times[label, f]) for f in (True, False))
            yield {"command": name, "checkout": label, "pngs": pngs, "with_figures_s": round(with_, 2),
                   "without_s": round(without, 2), "ratio": round(with_ / without, 2),
                   "per_figure_s": round((with_ - without) / max(pngs, 1), 3),
                   "after_first_s": round((with_ - without - first_png_s) / max(pngs - 1, 1), 3),
                   "runs": {("with" if f else "without"): [round(s, 2) for s in times[label, f]]
                            for f in (True, False)}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command, with and without figures")
    parser.add_argument("--figures", type=int, default=6, help="PNGs drawn in turn in this process")
    parser.add_argument("--baseline", type=Path, help="another checkout whose commands run alternated with these")
    parser.add_argument("--only", choices=["references --roi", "rank --reference"], help="time this command only")
    args = parser.parse_args()
    checkouts = {"this": REPO, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    load = lambda: Path("/proc/loadavg").read_text().split()[:3]  # noqa: E731
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        drawn = in_process(folder, args.figures)
        print(json.dumps({"in_process": drawn, "load": load()}), flush=True)
        for result in on_the_command_line(folder, checkouts, args.repeats, args.only, drawn["first_s"]):
            print(json.dumps({**result, "load": load()}), flush=True)


if __name__ == "__main__":
    main()
