"""`rerun(report)`: a cluster report's job again. It checks that the inputs still have their recorded
hashes, runs the same job with the recorded parameters and says whether the assignments came out
byte-identical."""
from __future__ import annotations

from pathlib import Path

from ...data.bandcontrast import BandContrast
from ...errors import InputError
from ...storage import sha256_file
from ..maps import Roi
from ..quality import QualityFilter
from .cluster import ClusterJob
from .cluster_run import run_cluster
from .common import read_report


def rerun(report_path, out_dir=None, *, png: bool = True, browser="auto") -> dict:
    """Run a report's job again into `out_dir` (default: the report's folder). The inputs must
    still have their recorded SHA-256. Returns {"report": new report, "identical": bool}."""
    report_path = Path(report_path)
    report = read_report(report_path)
    if report["kind"] != "cluster":
        raise InputError(f"cannot rerun a report of kind {report['kind']!r}: give a cluster report", report_path)
    if "study" in report:
        raise InputError("a study's cluster report is made again by running the same cluster command on the study "
                         "(rerun takes the report of one latents file)", report_path)
    job_fields = _job_fields(report, report_path)
    for role in ("latents", "bandcontrast"):
        if role == "bandcontrast" and job_fields.get("bandcontrast") is None:
            if _field(report, ("inputs",), dict, report_path).get(role) is not None:
                raise InputError("field 'inputs.bandcontrast' must be null when 'job.bandcontrast' is; "
                                 "run the clustering again for a whole report", report_path)
            continue  # whole vectors clustered without band contrast
        record = _field(report, ("inputs", role), dict, report_path)
        if "point_map" not in record:  # a scan's own map lives in its latents file
            job_fields[role] = str(_find_input(record, report_path))
    quality = job_fields.get("quality")
    if quality is not None and quality.get("bandcontrast") is not None \
            and not BandContrast.parse(quality["bandcontrast"]).from_scan:  # its table, found as the job's inputs are
        record = _field(report, ("inputs", "quality_bandcontrast"), dict, report_path)
        job_fields["quality"] = {**quality, "bandcontrast": str(_find_input(record, report_path))}
    expected = _field(report, ("outputs", "assignments", "sha256"), str, report_path)
    new = run_cluster(ClusterJob.from_dict(job_fields), out_dir or report_path.parent, png=png, browser=browser)
    return {"report": new, "identical": new["outputs"]["assignments"]["sha256"] == expected}


def _field(report: dict, keys: tuple[str, ...], kind: type, report_path):
    """report[k0][k1]... of the expected type, or one line naming the field."""
    value = report
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, kind):
        raise InputError(f"field {'.'.join(keys)!r} must be a {kind.__name__}, got {type(value).__name__}; "
                         "run the clustering again for a whole report", report_path)
    return value


# The job fields a report may carry, with their types (None allowed for the optional ones).
_JOB_TYPES = {"latents": str, "bandcontrast": (str, type(None)), "method": str, "dim": int, "features": str, "params": dict,
              "roi": (list, type(None)), "partition": (str, type(None)), "smooth": (int, float),
              "quality": (dict, type(None))}


def _job_fields(report: dict, report_path) -> dict:
    job = _field(report, ("job",), dict, report_path)
    unknown = sorted(str(key) for key in job if key not in _JOB_TYPES)
    if unknown:  # a job run without it would not be the job the report describes
        raise InputError(f"unknown field 'job.{unknown[0][:60]}': remove it (a job has {', '.join(_JOB_TYPES)})",
                         report_path)
    fields = {}
    for name, kind in _JOB_TYPES.items():
        if name not in job and name in ("latents", "bandcontrast", "method"):
            raise InputError(f"field 'job.{name}' is missing; run the clustering again for a whole report",
                             report_path)
        if name in job:
            if not isinstance(job[name], kind) or isinstance(job[name], bool):
                raise InputError(f"field 'job.{name}' has the wrong type ({type(job[name]).__name__}); run the "
                                 "clustering again for a whole report", report_path)
            fields[name] = job[name]
    for name, value in (("roi", Roi), ("quality", QualityFilter)):
        try:
            value.from_json(fields.get(name))
        except InputError as exc:
            raise InputError(f"field 'job.{name}': {exc}", report_path) from None
    return fields


def _find_input(record: dict, report_path: Path) -> Path:
    """An input at the path the report recorded (relative to the report's folder; absolute in reports written
    before paths were relative), else by its bare file name beside the report; either way its hash must match.
    A name with a folder part (`../x`), or a path that does not end in the name, is refused, so a report never
    makes rerun read a file it does not name plainly."""
    name, recorded, digest = (record.get(k) for k in ("name", "path", "sha256"))
    if not all(isinstance(v, str) and v for v in (name, digest)) or not isinstance(recorded, (str, type(None))):
        raise InputError("each input needs 'name' and 'sha256' strings (and may have a 'path' string); run the "
                         "clustering again for a whole report", report_path)
    if name in (".", "..") or Path(name).name != name or "\\" in name:
        raise InputError(f"input name {name[:100]!r} must be a plain file name (no folders, no '..'): put the "
                         "file beside the report and give its name", report_path)
    beside = report_path.parent / name
    if recorded is not None and Path(recorded).name != name:
        raise InputError(f"input path {recorded[:200]!r} must end in its name {name!r}; run the clustering again "
                         "for a whole report", report_path)
    changed = None
    for candidate in ([report_path.parent / recorded] if recorded else []) + [beside]:
        if candidate.is_file():  # regular files only: never a FIFO or a device
            found = sha256_file(candidate)
            if found == digest:
                return candidate
            changed = changed or InputError(f"input changed since the report: SHA-256 {found[:12]}... but the "
                                            f"report recorded {digest[:12]}...; put back the file it used",
                                            candidate)
    if changed:
        raise changed
    where = f"at {recorded} (from the report's folder) " if recorded else ""
    raise InputError(f"input {name!r} not found {where}nor beside the report (put it back there)", report_path)
