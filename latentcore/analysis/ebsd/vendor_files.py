"""A scan with its clusters or labels as the files MTEX, AZtecCrystal and OIM read: an Oxford `.ctf` (Channel Text
File) or an EDAX `.ang`, the classes as phases, with the scan's own Euler angles and quality maps.

    phases, phase_of_row, notes = exported_phases(points, classes)   a phase per (class, scan phase) met, from 1
    report = export_ebsd(points, classes, "scan.ctf")          or "scan.ang"; written atomically, with
                                                               `scan.ctf.json` beside it (phases, inputs, notes)

Every node of the scan's grid is one line, row by row (x fastest), at its grid position (in µm: a scan stored in nm
or mm is converted). Points are written as not indexed (phase 0, .ang: CI -1) where the scan did not index them;
grid nodes without a point likewise. An indexed point takes the phase of its class (of its scan phase, where the
scan has two or more: `<class> (<phase>)`), with that scan phase's crystal symmetry, space group and lattice (each
scan phase its own, as `data.orientations` reads it in Å); one without a class takes the phase `unclassified`. The
Euler angles are the scan's as stored (`data.orientations`: no change of reference frame), in degrees with 4
decimals (.ctf) or radians with 5 (.ang).

Headers: the .ctf's `Mag`, `KV`, `TiltAngle` and `TiltAxis`, the .ang's `WorkingDistance` are the scan's
(`data.orientations.Acquisition`), 0 where it records none (the notes say which).

Columns: .ctf `Phase X Y Bands Error Euler1 Euler2 Euler3 MAD BC BS` (BC from the scan's `Band Contrast`, else its
`IQ` stretched from its range to 0-255; MAD from `Mean Angular Deviation`, `MAD` or EDAX's `Fit`; BS from `Band
Slope`; Bands is 0: the scan readers do not keep it; Error 0 indexed, 3 not); .ang `phi1 PHI phi2 x y IQ CI Phase
SEM Fit` (IQ from `IQ`, else `Band Contrast`; CI from `CI`, else 1 where indexed; Fit from `Fit`, else the MAD; SEM
from `SEM Signal`), as orix writes them (its reader, `orix.io.load`, reads both back:
tests/engine/test_vendor_files.py). The text is written by Arrow, fixed-point (`fixed_point`), a million lines at a
time.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as arrow_csv

from ...data.orientations import OXFORD_LAUE, Phase
from ...errors import InputError
from ...storage import atomic_path, sha256_file
from ...versions import package_versions
from ..artifacts.common import VERSION_PACKAGES, now, write_json
from .scan_points import RowClasses, ScanPoints
from .scan_references import laue_of

FORMATS = (".ctf", ".ang")
UNCLASSIFIED = "unclassified"
CTF_LAUE = {laue: number for number, laue in OXFORD_LAUE.items()}
# EDAX's symmetry number of each Laue group: the number of its proper point group (data.orientations.EDAX_SYMMETRY)
ANG_SYMMETRY = {"-1": 1, "2/m": 2, "mmm": 22, "4/m": 4, "4/mmm": 42, "-3": 3, "-3m": 32, "6/m": 6, "6/mmm": 62,
                "m-3": 23, "m-3m": 43}
HEXAGONAL = ("6/mmm", "6/m", "-3m", "-3")
MICRONS = {"um": 1.0, "nm": 1e-3, "mm": 1e3}
BLOCK_ROWS = 1 << 20  # lines formatted at a time


@dataclasses.dataclass(frozen=True)
class ExportedPhase:
    name: str
    laue: str  # Laue group symbol ("m-3m"); "-1" where the scan gives none this module knows
    space_group: int  # 0: not known
    lattice: tuple  # a, b, c (Å), alpha, beta, gamma (degrees)
    points: int
    class_name: str  # the class, or UNCLASSIFIED
    scan_phase: int  # the scan's phase id


def export_ebsd(points: ScanPoints, classes: RowClasses, path, inputs: dict | None = None) -> dict:
    """Write `path` (.ctf or .ang, by its ending) and `<path>.json`, its report; returns the report."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InputError(f"the export's name ends in {path.suffix or 'nothing'!r}: name it .ctf (Oxford) or .ang "
                         "(EDAX)", path)
    if len(classes.codes) != len(points):
        raise InputError(f"{len(classes.codes)} classes for the scan's {len(points)} points: give one class per point "
                         "(the classes of this scan)", path)
    phases, phase_of_row, notes = exported_phases(points, classes)
    grid, (separator, decimals, columns_of, header_of) = points.grid, LAYOUT[path.suffix.lower()]
    acquisition = points.orientations.acquisition
    columns, empty, used = columns_of(points, phases, phase_of_row)
    node = np.full(grid.n_rows * grid.n_columns, -1, np.int64)  # the point at each grid node, row by row
    rows, grid_columns = points.cells
    node[rows * grid.n_columns + grid_columns] = np.arange(len(points))
    scale, unit_note = _microns(points.units)
    notes += unit_note + [f"{name}: from the scan's {source}" if source else
                                                   f"{name}: not in the scan, written as its empty value"
                                                   for name, source in used.items()]
    unknown = [name for name, field in HEADER_SETTINGS[path.suffix.lower()].items()
               if getattr(acquisition, field) is None]
    if unknown:
        notes.append(f"header {', '.join(unknown)}: not in the scan, written as 0")
    options = arrow_csv.WriteOptions(include_header=False, delimiter=separator, quoting_style="none")
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(header_of(grid, scale, phases, acquisition).encode())
        for start in range(0, len(node), BLOCK_ROWS):
            arrow_csv.write_csv(_lines(columns, empty, node[start:start + BLOCK_ROWS], grid, scale, start, decimals),
                                out, options)
    report = {"kind": "export-ebsd", "created": now(), "format": path.suffix.lower()[1:],
              "inputs": {k: v for k, v in (inputs or {}).items() if v is not None},
              "grid": {"rows": grid.n_rows, "columns": grid.n_columns, "step_um": [grid.step_x * scale,
                                                                                   grid.step_y * scale]},
              "classes": classes.column, "phases": {str(k + 1): dataclasses.asdict(p) for k, p in enumerate(phases)},
              "acquisition": acquisition.known(),
              "not_indexed": int((phase_of_row == 0).sum()), "nodes_without_point": int((node < 0).sum()),
              "notes": notes, "outputs": {"file": {"name": path.name, "sha256": sha256_file(path)}},
              "versions": package_versions(VERSION_PACKAGES)}
    write_json(path.with_name(path.name + ".json"), report)
    return report


def exported_phases(points: ScanPoints, classes: RowClasses) -> tuple[list[ExportedPhase], np.ndarray, list[str]]:
    """(the phases, numbered from 1 in list order; each point's phase, 0 where not indexed; notes)."""
    scan_phase = points.orientations.phase_id
    indexed = scan_phase >= 0
    names = [*classes.names, UNCLASSIFIED]
    code = np.where(classes.codes >= 0, classes.codes, len(classes.names))
    present = sorted(int(p) for p in np.unique(scan_phase[indexed]))
    phases, phase_of_row = [], np.zeros(len(points), np.int64)
    for k, class_name in enumerate(names):
        for p in present:
            mine = indexed & (code == k) & (scan_phase == p)
            if mine.any():
                phase_of_row[mine] = len(phases) + 1
                phases.append(_phase(class_name, p, points.orientations.phases.get(p), int(mine.sum()), len(present)))
    notes = []
    lost = int((~indexed & (classes.codes >= 0)).sum())
    if lost:
        notes.append(f"{lost} points with a class are not indexed in the scan: written as not indexed, without "
                     "their class")
    unknown = sorted({p.scan_phase for p in phases if p.laue == "-1"})
    if unknown:
        notes.append(f"scan phases {unknown} have no crystal symmetry this export knows: written as triclinic (-1)")
    no_lattice = [p for p in present if not getattr(points.orientations.phases.get(p), "lattice", None)]
    if no_lattice:
        notes.append(f"scan phases {no_lattice}: the file gives no lattice constants; written as a = b = c = 1 Å with "
                     "the crystal system's angles (orientations do not depend on them; Miller indices of non-cubic "
                     "phases do)")
    return phases, phase_of_row, notes


def _phase(class_name: str, scan_phase: int, phase, points: int, n_scan_phases: int) -> ExportedPhase:
    """The exported phase of a class's points of one scan phase (`phase`: its `data.orientations.Phase`, or None)."""
    phase = phase or Phase(str(scan_phase))
    laue = laue_of(phase) or (phase.point_group if phase.point_group in CTF_LAUE else "-1")  # "2/m": no IPF key
    name = class_name if n_scan_phases == 1 else f"{class_name} ({phase.name})"
    lattice = phase.lattice or (1.0, 1.0, 1.0, 90.0, 90.0, 120.0 if laue in HEXAGONAL else 90.0)
    return ExportedPhase(one_line_name(name), laue, int(phase.space_group or 0), tuple(lattice), points, class_name,
                         scan_phase)


def one_line_name(name: str) -> str:
    """A class name as one field of a text file: control characters, tabs and line breaks become spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f]", " ", str(name))).strip() or "class"


def _microns(units) -> tuple[float, list[str]]:
    if units in MICRONS:
        return MICRONS[units], []
    return 1.0, [f"the scan's coordinates are in {units!r}, not a length: written as they are where µm belong"]


def _map(points: ScanPoints, names, default: float = 0.0) -> tuple[np.ndarray, str | None]:
    """The first of the scan's maps named, NaN as `default` (all `default` where it has none), and its name."""
    name = next((n for n in names if n in points.point_maps), None)
    if name is None:
        return np.full(len(points), default), None
    return np.nan_to_num(np.asarray(points.point_maps[name], np.float64), nan=default), name


# -- the columns --------------------------------------------------------------------------------------------

def ctf_columns(points: ScanPoints, phases, phase_of_row) -> tuple[dict, dict, dict]:
    """(column -> its value per point, None for X and Y, which `_lines` fills per node; a node without a point's
    values; which scan map each column came from)."""
    indexed = phase_of_row > 0
    euler = np.where(indexed[:, None], np.mod(np.rad2deg(np.nan_to_num(points.orientations.euler)), 360), 0.0)
    bc, bc_name = _map(points, ("Band Contrast", "IQ"))
    if bc_name == "IQ" and len(bc):  # EDAX's image quality is on another scale: stretched to band contrast's 0-255
        bc, bc_name = 255 * (bc - bc.min()) / max(np.ptp(bc), 1e-12), "IQ, stretched from its range to 0-255"
    mad, mad_name = _map(points, ("Mean Angular Deviation", "MAD", "Fit"))
    bs, bs_name = _map(points, ("Band Slope",))
    columns = {"Phase": phase_of_row, "X": None, "Y": None, "Bands": np.zeros(len(points), np.int64),
               "Error": np.where(indexed, 0, 3), "Euler1": euler[:, 0], "Euler2": euler[:, 1], "Euler3": euler[:, 2],
               "MAD": np.where(indexed, mad, 0.0), "BC": np.rint(bc).astype(np.int64),
               "BS": np.rint(bs).astype(np.int64)}
    return columns, {"Error": 3}, {"BC": bc_name, "MAD": mad_name, "BS": bs_name}


def ang_columns(points: ScanPoints, phases, phase_of_row) -> tuple[dict, dict, dict]:
    indexed = phase_of_row > 0
    euler = np.where(indexed[:, None], np.nan_to_num(points.orientations.euler), 4 * np.pi)  # EDAX: 4 pi, none
    iq, iq_name = _map(points, ("IQ", "Band Contrast"))
    ci, ci_name = _map(points, ("CI",), default=1.0)
    fit, fit_name = _map(points, ("Fit", "Mean Angular Deviation", "MAD"))
    sem, sem_name = _map(points, ("SEM Signal",))
    not_indexed = 0 if len(phases) > 1 else -1  # as orix writes it: in a one-phase file, phase 0 is that phase
    columns = {"phi1": euler[:, 0], "PHI": euler[:, 1], "phi2": euler[:, 2], "x": None, "y": None,
               "IQ": iq, "CI": np.where(indexed, ci, -1.0), "Phase": np.where(indexed, phase_of_row, not_indexed),
               "SEM": sem, "Fit": np.where(indexed, fit, 180.0)}
    empty = {"phi1": 4 * np.pi, "PHI": 4 * np.pi, "phi2": 4 * np.pi, "CI": -1.0, "Phase": not_indexed, "Fit": 180.0}
    return columns, empty, {"IQ": iq_name, "CI": ci_name, "Fit": fit_name, "SEM": sem_name}


def _lines(columns: dict, empty: dict, node_points: np.ndarray, grid, scale: float, start: int, decimals: int):
    """The lines of grid nodes start .. start + len(node_points) as an Arrow table: each node's point, or the
    `empty` values (not indexed); X and Y the node's position in µm."""
    has = node_points >= 0
    at = np.where(has, node_points, 0)
    rows, grid_columns = np.divmod(start + np.arange(len(node_points)), grid.n_columns)
    position = {"x": (grid.x0 + grid_columns * grid.step_x) * scale, "y": (grid.y0 + rows * grid.step_y) * scale}
    block = {}
    for name, values in columns.items():
        values = position[name.lower()] if values is None else np.where(has, values[at], empty.get(name, 0))
        block[name] = fixed_point(values, decimals) if values.dtype.kind == "f" else pa.array(values)
    return pa.table(block)


def fixed_point(values: np.ndarray, decimals: int) -> pa.Array:
    """Numbers as text with `decimals` digits after the point ("343.5051", "0.0000"), as the vendors write them;
    Arrow's compute functions, 50x faster than pandas' float_format."""
    scaled = np.rint(np.asarray(values, np.float64) * 10 ** decimals).astype(np.int64)
    magnitude = np.abs(scaled)
    whole = pc.cast(pa.array(magnitude // 10 ** decimals), pa.string())
    part = pc.utf8_lpad(pc.cast(pa.array(magnitude % 10 ** decimals), pa.string()), decimals, "0")
    return pc.binary_join_element_wise(pa.array(np.where(scaled < 0, "-", "")), whole, ".", part, "")


# -- the headers ----------------------------------------------------------------------------------------------

def _setting(acquisition, field: str, decimals: int) -> str:
    """An acquisition setting as a header writes it: 0 where the scan records none."""
    value = getattr(acquisition, field)
    return f"{0.0 if value is None else value:.{decimals}f}"


def ctf_header(grid, scale: float, phases, acquisition) -> str:
    mag, kv, tilt, axis = (_setting(acquisition, field, 4) for field in CTF_SETTINGS.values())
    lines = ["Channel Text File", "Prj\tLatent Explorer export", "Author\tLatent Explorer", "JobMode\tGrid",
             f"XCells\t{grid.n_columns}", f"YCells\t{grid.n_rows}", f"XStep\t{grid.step_x * scale:.6g}",
             f"YStep\t{grid.step_y * scale:.6g}", "AcqE1\t0", "AcqE2\t0", "AcqE3\t0",
             f"Euler angles refer to Sample Coordinate system (CS0)!\tMag\t{mag}\tCoverage\t100\tDevice\t0\tKV\t{kv}"
             f"\tTiltAngle\t{tilt}\tTiltAxis\t{axis}", f"Phases\t{len(phases)}"]
    for p in phases:
        a, b, c, alpha, beta, gamma = p.lattice
        lines.append(f"{a:.4f};{b:.4f};{c:.4f}\t{alpha:.4f};{beta:.4f};{gamma:.4f}\t{p.name}\t{CTF_LAUE.get(p.laue, 1)}"
                     f"\t{p.space_group}")
    lines.append("Phase\tX\tY\tBands\tError\tEuler1\tEuler2\tEuler3\tMAD\tBC\tBS")
    return "\n".join(lines) + "\n"


def ang_header(grid, scale: float, phases, acquisition) -> str:
    distance = _setting(acquisition, "working_distance_mm", 6)
    lines = ["TEM_PIXperUM          1.000000", "x-star                0.000000", "y-star                0.000000",
             "z-star                0.000000", f"WorkingDistance       {distance}", ""]
    for k, p in reversed(list(enumerate(phases, start=1))):  # listed last first, as OIM and orix write them
        lattice = " ".join(f"{v:.3f}" for v in p.lattice)
        lines += [f"Phase {k}", f"MaterialName    {p.name}", "Formula", "Info",
                  f"Symmetry    {ANG_SYMMETRY.get(p.laue, 1)}", f"LatticeConstants    {lattice}", "NumberFamilies    0"]
    lines += ["GRID: SqrGrid", f"XSTEP: {grid.step_x * scale:.6f}", f"YSTEP: {grid.step_y * scale:.6f}",
              f"NCOLS_ODD: {grid.n_columns}", f"NCOLS_EVEN: {grid.n_columns}", f"NROWS: {grid.n_rows}", "",
              "OPERATOR: Latent Explorer", "", "SAMPLEID:", "", "SCANID:", ""]
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


LAYOUT = {".ctf": ("\t", 4, ctf_columns, ctf_header), ".ang": (" ", 5, ang_columns, ang_header)}  # separator,
# decimals, columns and header of each format
# each header field of the scan's settings: its `Acquisition` field, in the header's order
CTF_SETTINGS = {"Mag": "magnification", "KV": "voltage_kv", "TiltAngle": "tilt_deg", "TiltAxis": "tilt_axis_deg"}
HEADER_SETTINGS = {".ctf": CTF_SETTINGS, ".ang": {"WorkingDistance": "working_distance_mm"}}
