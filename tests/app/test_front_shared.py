"""ui.compute's per-row caches at scale: one shared read-only object per input (no copy per rerun),
and the scan's grid and each row's cell found once, where `values_map` places the rows."""
from pathlib import Path

import numpy as np
import pytest

from latentcore.analysis.maps import Grid, values_map
from latentcore.latents import LatentsWriter
from ui.compute import scan_maps, sources


@pytest.fixture
def scan(tmp_path):
    side_rows, side_columns = 30, 40
    rows, columns = np.divmod(np.arange(side_rows * side_columns), side_columns)
    keep = np.random.default_rng(2).permutation(len(rows))[:1000]  # a scan with missing pixels, rows shuffled
    writer = LatentsWriter(tmp_path / "scan_latents.h5", {"all": (len(keep), 3)}, {})
    writer.write_rows("all", 0, np.random.default_rng(1).normal(size=(len(keep), 3)).astype(np.float32))
    writer.write_array("x", columns[keep] * 0.5)
    writer.write_array("y", rows[keep] * 0.5)
    return sources.stamp(writer.finish({}))


def test_the_scan_grid_places_rows_as_values_map_does_and_is_shared_read_only(scan):
    lat = sources.latents(scan)
    codes = np.random.default_rng(4).integers(0, 7, len(lat.x)).astype(np.float32)
    grid, cells = scan_maps.scan_grid(scan)
    code_map = np.full(grid.shape, np.nan, np.float32)
    code_map[cells] = codes
    expected = values_map(codes, lat.x, lat.y, Grid.from_coordinates(lat.x, lat.y))
    np.testing.assert_array_equal(code_map, expected)
    assert scan_maps.scan_grid(scan)[1] is cells  # the same object for every rerun
    with pytest.raises(ValueError):
        cells[0][0] = 1
    assert grid == Grid.from_coordinates(lat.x, lat.y)


def test_roi_rows_and_band_contrast_are_read_only_and_not_copied_per_call(scan):
    rows = scan_maps.roi_rows(scan, None)
    assert scan_maps.roi_rows(scan, None) is rows and not rows.flags.writeable
    matrix, _ = sources.stacked_latents(scan)
    assert isinstance(matrix, np.memmap) and np.shares_memory(matrix, sources.latents(scan).partitions["all"])


def test_the_sidebars_device_line_before_the_page_does_not_import_torch():
    """A fresh server's first page waited about 1 s for `import torch` in the sidebar drawn before it: that line says
    "checking" until `devices()` (the sidebar drawn after the page) has loaded torch, then names the device."""
    import subprocess
    import sys

    code = ("import sys\nfrom ui.compute import sources\nfirst = sources.devices_if_loaded()\n"
            "imported = 'torch' in sys.modules\nsources.devices()\n"
            "print(first, imported, sources.devices_if_loaded()['auto'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    first, imported, device = done.stdout.strip().split(" ", 2)
    assert first == "None" and imported == "False" and device.startswith("auto (")


PRELOAD_CHECK = """
import sys, time
sys.path[:0] = ["tests", "tests/app"]
from driving import new_app, run
from ui.widgets import starting

def loaded():  # the Latent maps page's, then the Rank page's: neither the Data page's
    return [module in sys.modules for module in ("scipy.sparse", "latentcore.analysis.ebsd.scan_references",
                                                 "scipy.stats", "latentcore.analysis.rank")]

imports = starting._run_imports
def recorded(pages):  # what the app had loaded when the preload started (the first page's own imports), then slow
    print("at the start:", *loaded())
    imports(pages)
    time.sleep(SLOW_S)
starting._run_imports = recorded

at = new_app()  # the Data page
thread = starting._preload
run(at, "maps")  # at once: it waits for the preload to end
print("thread:", thread.name, thread.is_alive())
print("after:", *loaded())
print("not loaded:", [module for module in MODULES if module not in sys.modules])
from plotly.io import _templates
print("template loaded:", _templates.templates._templates["plotly_white"] is not _templates.Lazy)
"""


def test_after_the_first_page_the_server_loads_every_pages_imports_in_a_thread(tmp_path):
    """A page's first open paid for its libraries (the Latent maps page: SciPy's parts, 0.3-0.6 s of its first run at
    1M rows). After a server's first page, the Data page, which needs none of them, a thread runs every page's import
    statements (ui/widgets/starting.py); a page opened meanwhile runs once it has ended (here it sleeps 8 s more)."""
    import ast
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    modules = sorted({node.module for page in (repo / "pages").glob("*.py") for node in ast.parse(page.read_text()).body
                      if isinstance(node, ast.ImportFrom)})
    done = subprocess.run([sys.executable, "-c", f"MODULES, SLOW_S = {modules!r}, 8\n{PRELOAD_CHECK}"], cwd=repo,
                          timeout=300, capture_output=True, text=True,
                          env={**os.environ, "LATENT_EXPLORER_WORKDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "at the start: False False False False" in lines and "thread: preload-pages False" in lines, done.stdout
    assert "after: True True True True" in lines and "not loaded: []" in lines, done.stdout
    assert "template loaded: True" in lines, done.stdout  # and a figure of each trace type drawn (plotly's validators)


def test_the_preload_draws_a_figure_of_every_trace_type_the_app_draws():
    import re

    from ui.widgets import starting

    repo = Path(__file__).resolve().parents[2]
    drawn = {match for folder in ("latentcore", "ui", "pages") for path in (repo / folder).rglob("*.py")
             for match in re.findall(r"\bgo\.([A-Z][A-Za-z]+)\(", path.read_text())} - {"Figure"}
    assert drawn == set(starting.TRACE_TYPES)


def test_a_clustering_of_every_row_draws_on_the_scans_own_cells_and_one_of_some_rows_on_its_own(scan):
    """The Clusters page's map of a clustering of every row in order takes the scan's placed cells (`scan_grid`,
    which the UMAP page's map and the latent maps share) where it placed every row again; a clustering of some rows
    (an ROI) is placed on the grid of its own rows."""
    from types import SimpleNamespace

    from ui.compute import cluster_runs

    lat = sources.latents(scan)
    codes = np.random.default_rng(5).integers(0, 4, len(lat.x))
    every = {"x": lat.x.astype(np.float32), "y": lat.y.astype(np.float32), "sources": None,
             "rows": np.arange(len(lat.x))}
    _, grid, code_map, cells = cluster_runs._on_run_grid(scan, every, SimpleNamespace(codes=codes))
    assert cells is scan_maps.scan_grid(scan)[1] and grid == scan_maps.scan_grid(scan)[0]
    np.testing.assert_array_equal(code_map, values_map(codes.astype(np.float32), lat.x, lat.y, grid))

    some = np.flatnonzero(lat.x < 10)  # the left half's rows
    part = {"x": lat.x[some].astype(np.float32), "y": lat.y[some].astype(np.float32), "sources": None, "rows": some}
    _, own_grid, code_map, cells = cluster_runs._on_run_grid(scan, part, SimpleNamespace(codes=codes[some]))
    assert own_grid == Grid.from_coordinates(lat.x[some], lat.y[some]) and len(cells[0]) == len(some)
    np.testing.assert_array_equal(code_map, values_map(codes[some].astype(np.float32), lat.x[some], lat.y[some],
                                                       own_grid))
