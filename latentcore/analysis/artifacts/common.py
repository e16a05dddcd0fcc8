"""What every report shares: the inputs it names (`input_record`, `bandcontrast_record`), the versions of the
packages that made it, its time, and the atomic writers of its files (JSON, CSV, NPY); `read_report` reads one
back.

A report names files by their name, their SHA-256 and their path relative to the report's own folder, never by
an absolute path: it says nothing of the server's folders, and it moves with the files it sits beside. An input
outside `root` (in the app, the folder of its workspaces: the built-in demo's files lie outside) is named by its
name and SHA-256 alone."""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError
from ...storage import atomic_path, is_s3_uri, sha256_once
from ...storage.csv_cells import neutralised_table, quoting, write_arrow

REPORT_FORMAT = 1
VERSION_PACKAGES = ("latentcore", "numpy", "scipy", "pandas", "scikit-learn", "hdbscan", "umap-learn", "h5py",
                    "plotly", "kaleido", "matplotlib")


def input_record(path, out_dir=None, root=None, sha256: str | None = None) -> dict:
    """An input file as a report names it: its name, its SHA-256 (computed unless given) and, with `out_dir` (the
    report's folder), its path relative to that folder (`../scan_latents.h5`), kept only for an input inside
    `root` (the workspace; None: anywhere). An `s3://` input: its name and the SHA-256 given."""
    if is_s3_uri(str(path)):
        return {"name": str(path).rsplit("/", 1)[-1], "sha256": sha256}
    path = Path(path)
    record = {"name": path.name}
    if out_dir is not None and (root is None or path.resolve().is_relative_to(Path(root).resolve())):
        record["path"] = Path(os.path.relpath(path.resolve(), Path(out_dir).resolve())).as_posix()
    return {**record, "sha256": sha256 or sha256_once(path)}


def bandcontrast_record(bandcontrast, out_dir=None, root=None) -> dict | None:
    """The one form a report records a band-contrast choice in: a table's `input_record`; for a scan's own map,
    its spec and the map's name ("first": the scan's first map); None when none was used."""
    if bandcontrast is None:
        return None
    if bandcontrast.from_scan:
        return {"name": bandcontrast.spec, "point_map": bandcontrast.name or "first"}
    return input_record(bandcontrast.path, out_dir, root)


def write_json(path, data) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    return path


def write_csv(path, table: pd.DataFrame) -> Path:
    path = Path(path)
    if all(pd.api.types.is_numeric_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)
           for dtype in table.dtypes):  # Arrow's writer: 6x faster (a categorical column: its categories neutralised)
        with atomic_path(path) as tmp, open(tmp, "wb") as out:
            write_arrow(table, out)
        return path
    table = neutralised_table(table)  # user text never runs as a spreadsheet formula
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, quoting=quoting(table))  # a label ending in a CR stays one cell
    return path


def write_npy(path, array) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(array))
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_report(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError("no such report: give the report.json a run wrote", path)
    try:
        report = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"not a JSON report ({exc}): give the report.json a run wrote", path) from exc
    if not isinstance(report, dict) or not isinstance(report.get("kind"), str):
        raise InputError("not a latentcore report (no 'kind'): give the report.json a run wrote", path)
    return report
