"""The orientations and phases a vendor scan file holds, as each scan reader hands them out
(`reader.orientations()` -> `ScanOrientations` or None, rows in the reader's order).

    ScanOrientations.euler      (N, 3) float64: Bunge Euler angles (phi1, Phi, phi2) in radians, as stored
    ScanOrientations.phase_id   (N,) int64: the file's phase number; -1 where the point is not indexed
    ScanOrientations.phases     {phase_id: Phase(name, point_group, space_group, lattice)}
    ScanOrientations.convention how the file stores them (units, zero phase), said in `info`
    ScanOrientations.acquisition the microscope's settings the file records (`Acquisition`: beam voltage, sample
                                tilt, tilt axis, magnification, working distance; None where it records none)

Where each format keeps them (angles are used as stored: no change of reference frame):
- Oxford H5OINA: `Data/Euler` (N, 3) radians, `Data/Phase` (0 = not indexed), phases in
  `Header/Phases/<k>/{Phase Name, Laue Group, Space Group, Lattice Dimensions, Lattice Angles}` (Å, radians);
  the acquisition in `Header/{Beam Voltage, Tilt Angle, Tilt Axis, Magnification, Working Distance}` (kV, radians,
  radians, -, mm);
- EDAX h5: `Data/{Phi1, PHI or Phi, Phi2}` radians, `Data/Phase` (0 in single-phase scans means the one
  phase), `CI` = -1 not indexed, phases in `Header/Phase/<k>/{MaterialName, Symmetry, Point Group,
  Lattice Constant a ... gamma}` (Å, degrees); the acquisition in `Header/{Sample Tilt, Working Distance}` and
  `<scan>/SEM-PRIAS Images/Header/Mag` (no beam voltage);
- Bruker h5ebsd: `Data/{phi1, PHI, phi2}` in degrees, `Data/Phase` (0 = not indexed), phases in
  `Header/Phases/<k>/{Name, IT, LatticeConstants}` (space group number; Å and degrees); the acquisition in
  `Header/{KV, SampleTilt, Magnification, WD}`;
- kikuchipy h5ebsd: `EBSD/CrystalMap/crystal_map/data/{phi1, Phi, phi2}` radians and `phase_id`
  (-1 = not indexed), phases in `.../header/phases/<id>/{name, point_group, space_group,
  structure/lattice/abcABG}` (orix's: lengths as the user gave them, kikuchipy's own files in nm); a map of
  zeros whose phases have no symmetry (kikuchipy's placeholder for a scan never indexed) is none; the acquisition
  in `<scan>/SEM/Header/{beam_energy, magnification, working_distance}` and `<scan>/EBSD/Header/sample_tilt`
  (kikuchipy writes 0 for a voltage, magnification or distance it was not given: none);
- EMsoft EMEBSD: `EMData/EBSD/EulerAngles` (N, 3) radians, one phase from `CrystalData/SpaceGroupNumber`
  and `CrystalData/LatticeParameters` (nm, degrees), named after `EMData/EBSD/xtalname`; no acquisition.

Lattice lengths are given in Å: a phase whose shortest length is under 2 is taken as stored in nm (no crystal has
a lattice length under 2 Å; kikuchipy stores nickel as 0.35236) and converted; a = b = c = 1 is orix's placeholder
for a phase given no lattice, none.
"""
from __future__ import annotations

import dataclasses
import re

import h5py
import numpy as np

from ..errors import InputError
from ._hdf5 import header_value, read_whole

# Oxford's (and the CTF format's) Laue group numbers
OXFORD_LAUE = {1: "-1", 2: "2/m", 3: "mmm", 4: "4/m", 5: "4/mmm", 6: "-3", 7: "-3m", 8: "6/m", 9: "6/mmm",
               10: "m-3", 11: "m-3m"}
# EDAX OIM's symmetry numbers for point groups (as its .ang headers write them)
EDAX_SYMMETRY = {1: "1", 2: "2", 20: "2", 22: "222", 4: "4", 42: "422", 3: "3", 32: "321", 6: "6", 62: "622",
                 23: "23", 43: "432"}


@dataclasses.dataclass(frozen=True)
class Phase:
    name: str
    point_group: str | None = None  # Hermann-Mauguin symbol ("m-3m", "432", "6/mmm"), when the file says
    space_group: int | None = None  # International Tables number, when the file says
    lattice: tuple | None = None  # (a, b, c, alpha, beta, gamma): Å and degrees, when the file says

    def __post_init__(self):  # a latents file gives the lattice back from JSON, as a list
        if self.lattice is not None:
            object.__setattr__(self, "lattice", tuple(float(v) for v in self.lattice))


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """The microscope's settings a scan file records with its orientations, None where it records none: what the
    header of a .ctf or .ang carries (`analysis.ebsd.vendor_files`)."""

    voltage_kv: float | None = None  # the beam's
    tilt_deg: float | None = None  # the sample's
    tilt_axis_deg: float | None = None  # Oxford's: 0 the x-axis, 90 the y-axis
    magnification: float | None = None
    working_distance_mm: float | None = None

    def known(self) -> dict:
        """The settings the file records, by name."""
        return {name: value for name, value in dataclasses.asdict(self).items() if value is not None}


@dataclasses.dataclass
class ScanOrientations:
    euler: np.ndarray  # (N, 3) radians, Bunge
    phase_id: np.ndarray  # (N,) int64, -1 not indexed
    phases: dict[int, Phase]
    convention: str
    acquisition: Acquisition = Acquisition()

    def take(self, rows: np.ndarray) -> "ScanOrientations":
        return dataclasses.replace(self, euler=self.euler[rows], phase_id=self.phase_id[rows])

    def describe(self) -> dict:
        """What `info` prints: the convention, the phases and the microscope's settings."""
        return {"convention": self.convention,
                "phases": {str(k): dataclasses.asdict(p) for k, p in sorted(self.phases.items())},
                "indexed_points": int((self.phase_id >= 0).sum()), "acquisition": self.acquisition.known()}


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else ""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return str(value).strip().rstrip("\x00")


def _column(f: h5py.File, name: str, n: int, path) -> np.ndarray:
    values = np.asarray(read_whole(f[name], path))
    if values.shape[0] != n:
        raise InputError(f"{name!r} has {values.shape[0]} values but the scan has {n} patterns: export the scan "
                         "again", path)
    return values


def _euler(f, names, n, path, degrees=False) -> np.ndarray:
    if len(names) == 1:
        euler = _column(f, names[0], n, path).astype(np.float64)
        if euler.ndim != 2 or euler.shape[1] != 3:
            raise InputError(f"{names[0]!r} must be (N, 3) Euler angles, got shape {euler.shape}: export the scan "
                             "again", path)
    else:
        euler = np.column_stack([_column(f, name, n, path).astype(np.float64).reshape(-1) for name in names])
    return np.deg2rad(euler) if degrees else euler


def _checked(orientations: ScanOrientations, names, path) -> ScanOrientations:
    """Euler angles must be finite where a point is indexed; where it is not (phase -1) vendors write NaN
    (or anything): those are kept as NaN, and every map is NaN there as it is for any unindexed point."""
    finite = np.isfinite(orientations.euler).all(axis=1)
    bad = ~finite & (orientations.phase_id >= 0)
    if bad.any():
        raise InputError(f"Euler angles {', '.join(names)} hold NaN or infinite values at {int(bad.sum())} indexed "
                         f"points (first: point {int(np.argmax(bad))}): index the scan again, or export it again", path)
    if not finite.all():
        orientations.euler = np.where(finite[:, None], orientations.euler, np.nan)
    return orientations


def _phase_groups(group: h5py.Group | None) -> list[tuple[int, h5py.Group]]:
    if not isinstance(group, h5py.Group):
        return []
    return sorted((int(k), g) for k, g in group.items() if k.lstrip("-").isdigit() and isinstance(g, h5py.Group))


SHORTEST_ANGSTROMS = 2.0  # no crystal has a lattice length under 2 Å (beryllium's a is 2.29): shorter ones are nm


def _lattice(lengths, angles) -> tuple | None:
    """(a, b, c, alpha, beta, gamma) in Å and degrees, or None when the file gives no usable lattice (or orix's
    placeholder a = b = c = 1); lengths stored in nm (kikuchipy's, EMsoft's) are turned into Å, angles stored in
    radians (Oxford's) into degrees (no lattice angle is 3.2 degrees or less)."""
    try:
        lengths, angles = (np.asarray(v, np.float64).reshape(-1) for v in (lengths, angles))
    except (TypeError, ValueError):
        return None
    if lengths.shape != (3,) or angles.shape != (3,) or not (np.isfinite(lengths).all() and np.isfinite(angles).all()):
        return None
    if (lengths <= 0).any() or (angles <= 0).any() or (lengths == 1).all():
        return None
    lengths = 10 * lengths if lengths.min() < SHORTEST_ANGSTROMS else lengths
    angles = np.rad2deg(angles) if angles.max() <= 3.2 else angles
    return tuple(round(float(v), 4) for v in (*lengths, *angles))  # float32 radians give 90.000003 degrees


def _abc_abg(values) -> tuple | None:
    """A lattice stored as one (a, b, c, alpha, beta, gamma) array (orix's `abcABG`, Bruker's, EMsoft's)."""
    try:
        values = np.asarray(values, np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    return _lattice(values[:3], values[3:]) if values.shape == (6,) else None


def _setting(group, name: str, scale: float = 1.0, positive: bool = True) -> float | None:
    """A header's number (times `scale`); None where the file has none, or has 0 (or less) and only a positive value
    means something (a voltage, a magnification, a distance: kikuchipy writes 0 for a value it was not given)."""
    value = header_value(group, name) if isinstance(group, h5py.Group) else None
    if isinstance(value, np.ndarray) or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    value = float(value) * scale
    if not np.isfinite(value) or (positive and value <= 0):
        return None
    return round(value, 4)  # float32 radians give 70.00000250447816 degrees


def _laue_symbol(value) -> str | None:
    """Oxford's Laue group as a number (11) or as text ("m-3m", "Cubic (Oh) [m3m]")."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) or (isinstance(value, str) and value.strip().isdigit()):
        return OXFORD_LAUE.get(int(value))
    return _bracketed(str(value))


def _bracketed(text: str) -> str | None:
    """'Cubic (Oh) [m3m]' -> 'm-3m'; 'm-3m' stays."""
    found = re.search(r"\[([^\]]+)\]", text)
    symbol = (found.group(1) if found else text).strip()
    return {"m3m": "m-3m", "m3": "m-3", "43m": "-43m"}.get(symbol, symbol) or None


def oxford(f, data: str, header: str, n: int, path) -> ScanOrientations | None:
    if f"{data}/Euler" not in f:
        return None
    names = [f"{data}/Euler"]
    euler = _euler(f, names, n, path)
    stored = _column(f, f"{data}/Phase", n, path).astype(np.int64) if f"{data}/Phase" in f else np.ones(n, np.int64)
    phases = {}
    for k, g in _phase_groups(f.get(f"{header}/Phases")):
        space = header_value(g, "Space Group")
        phases[k] = Phase(_text(header_value(g, "Phase Name")) or f"phase {k}",
                          _laue_symbol(header_value(g, "Laue Group")),
                          int(space) if isinstance(space, (int, np.integer)) else None,
                          _lattice(header_value(g, "Lattice Dimensions"), header_value(g, "Lattice Angles")))
    return _checked(ScanOrientations(euler, np.where(stored > 0, stored, -1), phases,
                                     "Bunge Euler angles in radians, as stored in H5OINA 'Euler'; "
                                     "phase 0 = not indexed", _oxford_acquisition(f.get(header))),
                    names, path)


def _oxford_acquisition(header) -> Acquisition:
    degrees = float(np.rad2deg(1))
    return Acquisition(_setting(header, "Beam Voltage"), _setting(header, "Tilt Angle", degrees, positive=False),
                       _setting(header, "Tilt Axis", degrees, positive=False), _setting(header, "Magnification"),
                       _setting(header, "Working Distance"))


def edax(f, data: str, header: str, n: int, path) -> ScanOrientations | None:
    second = next((f"{data}/{name}" for name in ("PHI", "Phi") if f"{data}/{name}" in f), None)
    if f"{data}/Phi1" not in f or second is None or f"{data}/Phi2" not in f:
        return None
    names = [f"{data}/Phi1", second, f"{data}/Phi2"]
    euler = _euler(f, names, n, path)
    phases = {}
    for k, g in _phase_groups(f.get(f"{header}/Phase")):
        symmetry = header_value(g, "Symmetry")
        point_group = EDAX_SYMMETRY.get(int(symmetry)) if isinstance(symmetry, (int, np.integer)) else None
        if point_group is None and header_value(g, "Point Group") is not None:
            point_group = _bracketed(_text(header_value(g, "Point Group")))
        constants = [header_value(g, f"Lattice Constant {name}") for name in ("a", "b", "c", "alpha", "beta", "gamma")]
        phases[k] = Phase(_text(header_value(g, "MaterialName")) or f"phase {k}", point_group,
                          lattice=_lattice(constants[:3], constants[3:]) if None not in constants else None)
    stored = _column(f, f"{data}/Phase", n, path).astype(np.int64) if f"{data}/Phase" in f else np.zeros(n, np.int64)
    if len(phases) == 1:  # a single-phase scan numbers its points 0
        stored = np.where(stored == 0, next(iter(phases)), stored)
    if f"{data}/CI" in f:
        stored = np.where(_column(f, f"{data}/CI", n, path) == -1, -1, stored)
    scan = header.rsplit("/EBSD/", 1)[0]
    acquisition = _edax_acquisition(f.get(header), f.get(f"{scan}/SEM-PRIAS Images/Header"))
    return _checked(ScanOrientations(euler, stored, phases,
                                     f"Bunge Euler angles in radians, as stored in EDAX 'Phi1', "
                                     f"{second.rsplit('/', 1)[-1]!r}, 'Phi2'; CI -1 = not indexed", acquisition),
                    names, path)


def _edax_acquisition(header, sem_header) -> Acquisition:
    return Acquisition(tilt_deg=_setting(header, "Sample Tilt", positive=False),
                       magnification=_setting(sem_header, "Mag"),
                       working_distance_mm=_setting(header, "Working Distance"))


def bruker(f, data: str, header: str, n: int, path) -> ScanOrientations | None:
    names = [f"{data}/{name}" for name in ("phi1", "PHI", "phi2")]
    if not all(name in f for name in names):
        return None
    euler = _euler(f, names, n, path, degrees=True)
    stored = _column(f, f"{data}/Phase", n, path).astype(np.int64) if f"{data}/Phase" in f else np.ones(n, np.int64)
    phases = {}
    for k, g in _phase_groups(f.get(f"{header}/Phases")):
        space = header_value(g, "IT")
        phases[k] = Phase(_text(header_value(g, "Name")) or f"phase {k}", None,
                          int(space) if space is not None else None, _abc_abg(header_value(g, "LatticeConstants")))
    return _checked(ScanOrientations(euler, np.where(stored > 0, stored, -1), phases,
                                     "Bunge Euler angles stored in degrees ('phi1', 'PHI', 'phi2'), given in radians; "
                                     "phase 0 = not indexed", _bruker_acquisition(f.get(header))), names, path)


def _bruker_acquisition(header) -> Acquisition:
    return Acquisition(_setting(header, "KV"), _setting(header, "SampleTilt", positive=False),
                       magnification=_setting(header, "Magnification"), working_distance_mm=_setting(header, "WD"))


def h5ebsd(f, crystal_map: str, n: int, path) -> ScanOrientations | None:
    data = f"{crystal_map}/data"
    names = [f"{data}/{name}" for name in ("phi1", "Phi", "phi2")]
    if not all(name in f for name in names):
        return None
    euler = _euler(f, names, n, path)
    stored = _column(f, f"{data}/phase_id", n, path).astype(np.int64) if f"{data}/phase_id" in f else np.zeros(n, np.int64)
    if f"{data}/is_in_data" in f:
        stored = np.where(_column(f, f"{data}/is_in_data", n, path).astype(bool), stored, -1)
    phases = {}
    for k, g in _phase_groups(f.get(f"{crystal_map}/header/phases")):
        point_group, space = _text(header_value(g, "point_group")), header_value(g, "space_group")
        lattice = g.get("structure/lattice")
        phases[k] = Phase(_text(header_value(g, "name")) or f"phase {k}",
                          None if point_group in (None, "", "None") else point_group,
                          int(space) if isinstance(space, (int, np.integer)) else None,
                          _abc_abg(header_value(lattice, "abcABG")) if isinstance(lattice, h5py.Group) else None)
    if not euler.any() and not any(p.point_group or p.space_group for p in phases.values()):
        return None  # kikuchipy's placeholder map of a scan never indexed: zeros, no symmetry
    scan = crystal_map.rsplit("/EBSD/", 1)[0]
    return _checked(ScanOrientations(euler, np.where(stored >= 0, stored, -1), phases,
                                     "Bunge Euler angles in radians, as stored in the crystal map; phase_id -1 = "
                                     "not indexed", _h5ebsd_acquisition(f.get(f"{scan}/SEM/Header"),
                                                                      f.get(f"{scan}/EBSD/Header"))), names, path)


def _h5ebsd_acquisition(sem_header, ebsd_header) -> Acquisition:
    return Acquisition(_setting(sem_header, "beam_energy"), _setting(ebsd_header, "sample_tilt", positive=False),
                       magnification=_setting(sem_header, "magnification"),
                       working_distance_mm=_setting(sem_header, "working_distance"))


def emsoft(f, n: int, path) -> ScanOrientations | None:
    if "EMData/EBSD/EulerAngles" not in f:
        return None
    names = ["EMData/EBSD/EulerAngles"]
    euler = _euler(f, names, n, path)
    crystal = f.get("CrystalData")
    space = header_value(crystal, "SpaceGroupNumber") if isinstance(crystal, h5py.Group) else None
    lattice = _abc_abg(header_value(crystal, "LatticeParameters")) if isinstance(crystal, h5py.Group) else None
    name = _text(header_value(f["EMData/EBSD"], "xtalname")) or "phase 0"
    name = name.rsplit("/", 1)[-1].removesuffix(".xtal")
    return _checked(ScanOrientations(euler, np.zeros(n, np.int64),
                                     {0: Phase(name, None, int(space) if space is not None else None, lattice)},
                                     "Bunge Euler angles in radians, as stored in EMsoft 'EulerAngles'; one phase"),
                    names, path)
