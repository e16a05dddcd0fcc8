"""What every report shares: the inputs it names (`input_record`, `bandcontrast_record`), the versions of the
packages that made it, its time, and the atomic writers of its files (JSON, CSV, NPY, a CSV joined from its
sources' parts); `read_report` reads one back. A study's run records the study (`study_record`) and the quality
filter over its sources (`study_quality`), and names the source an error is about (`about_source`).

A report names files by their name, their SHA-256 and their path relative to the report's own folder, never by
an absolute path: it says nothing of the server's folders, and it moves with the files it sits beside. An input
outside `root` (in the app, the folder of its workspaces: the built-in demo's files lie outside) is named by its
name and SHA-256 alone."""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
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


def join_parts(parts: list[Path], path: Path) -> Path:
    """The sources' CSV parts (each with its header) as one CSV at `path`, written atomically: the first part's
    header, then every part's rows, copied as bytes (no source's rows held here)."""
    with atomic_path(path) as tmp:
        if len(parts) == 1:
            parts[0].replace(tmp)
        else:
            with open(tmp, "wb") as out:
                for number, part in enumerate(parts):
                    with open(part, "rb") as source:
                        header = source.readline()
                        if number == 0:
                            out.write(header)
                        shutil.copyfileobj(source, out, 1 << 20)
    return path


def latents_record(study, out_dir, root=None):
    """The latents a run's report names (`input_record` with each member's recorded SHA-256): a study of one, its
    file's record; a study of several, the list of its members'."""
    members = [input_record(m.location, out_dir, root, sha256=m.sha256) for m in study.members]
    return members if len(members) > 1 else members[0]


def study_record(study) -> dict:
    """The study as a report records it: name, model, and each member by name, SHA-256 and rows."""
    return {"name": study.name, "model": study.model, "dim": study.dim, "rows": study.rows,
            "members": [{"name": m.name, "sha256": m.sha256, "rows": m.rows} for m in study.members],
            "notes": study.notes}


def study_quality(records: list[dict | None]) -> dict | None:
    """The quality filter's record over every source (theirs, `QualityFilter.record`): the rows it was applied to
    and kept, summed; None without a filter."""
    if records[0] is None:
        return None
    rows, kept = (sum(record[key] for record in records) for key in ("rows", "kept"))
    return {**records[0], "rows": rows, "kept": kept, "fraction": kept / rows if rows else 0.0}


@contextlib.contextmanager
def about_source(study, index: int):
    """On a study of several sources, an InputError raised inside says first which member it is about (its file
    stays named); a study of one is its file, which the error names."""
    name = study.members[index].name
    try:
        yield
    except InputError as exc:
        if len(study.members) == 1 or str(exc).startswith(f"member {name}") or f": member {name} " in str(exc):
            raise
        raise InputError(f"member {name}: {exc}") from None  # its file named after the member
