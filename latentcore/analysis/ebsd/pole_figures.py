"""Where a selection's orientations lie in the inverse pole figure and in pole figures, beside the whole scan's:
plane coordinates to plot and a table to download. This is how a latent cluster is checked for being an
orientation family (`orientation`'s conventions: Bunge Euler angles, sample-to-crystal rotations).

    plots = orientation_plots(orientations, rows, "z")   the selection's (rows of one phase: the one most of it has)
                                                         and the whole scan's points of that phase, projected
    plots.figure(look="points")                          the figure (`figures.pole_figures`), at most
                                                         PLOTTED_POINTS points a panel (a seeded sample)
    plots.table(x, y, units)                             the download: row, x_um, y_um, phi1_deg, Phi_deg, phi2_deg,
                                                         ipf_plane_x, ipf_plane_y
    plots.poles_table()                                  the pole figures' points: one row per point and pole, row,
                                                         family, pole, pole_plane_x, pole_plane_y
    plots.report(what, look, inputs, outputs, angles)    the JSON report: the phase, counts, families and their
                                                         poles, notes, the positions the points view draws, and
                                                         the misorientation angles' record (`angles`)
    plots.misorientations(x, y, pairs=100_000, seed=0)   the selection's misorientation-angle distribution, correlated
                                                         (4-neighbours) and uncorrelated (random pairs): a
                                                         `misorientations.AngleDistribution`
    write_orientations(plots, out_dir, source, what, x, y, units, inputs, angles=None)   its CSVs, PNGs and JSON
                                                         report (with `angles`, the distribution's CSV and PNG too)
    selection_orientations(orientations, rows)   the rows of one phase, its Laue group, the scan's points of it
    ipf_xy(euler, "m-3m", direction=(0, 0, 1))   (N, 2): the crystal direction along a sample direction, moved into the
                                                 Laue group's fundamental sector (the IPF colour key's triangle), in
                                                 the stereographic projection `orientation.ipf_key_image` draws
    sector_outline("m-3m")                       (M, 2): that sector's edges, a closed line; `ipf_corners` its corners
    POLE_FAMILIES["m-3m"]                        {"{100}": (1, 0, 0), "{111}": (1, 1, 1)}: the pole figures' families
    pole_labels((1, 1, 1), "m-3m")               ["(1 1 1)", "(-1 1 1)", ...]: the planes of a family, one per pole,
                                                 in `pole_xy`'s order
    pole_xy(euler, (1, 1, 1), "m-3m")            (N, K, 2): each orientation's K poles of the family (its symmetry
                                                 equivalents, a pole and its opposite one) in the sample frame, on the
                                                 upper hemisphere, stereographic: x right, y up, z towards the viewer
    orientations_of(path)                        (orientations, x, y, units, source) of a latents or scan file
    orientations_names(source, what, direction)  the files of `python -m latentcore orientations` (`what`: `what_tag`):
                                                 the table, the poles, the figure, the misorientation angles' CSV and
                                                 PNG (`angles`, `angles_figure`), the report

The pole families of the other Laue groups are their crystal axes in this package's crystal frame (x along a, z
along c): {0001} and {2-1-10} (hexagonal, trigonal), {001} and {100} (tetragonal, orthorhombic). A pole is the normal
of a plane of the family, named by the plane's indices (Miller-Bravais for hexagonal and trigonal crystals); of its
two normals the one in the sample's upper hemisphere is drawn.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ...arrays import unique
from ...columns import EULER_DEG, FAMILY, IPF_XY, POLE, POLE_XY, ROW, coordinate_names
from ...errors import InputError
from ...sampling import seeded_sample
from ...versions import package_versions
from . import orientation as ori
from .misorientations import angle_distribution, selection_cells
from .records import DIRECTIONS, SEED, UNCORRELATED_PAIRS

PLOTTED_POINTS = 10_000  # points drawn in a panel at most (a seeded sample; SVG: WebGL points move in PNGs)
CHUNK = 50_000  # orientations moved into the sector at once: (CHUNK, 48, 3) float64 equivalents, 58 MB

POLE_FAMILIES = {
    "m-3m": {"{100}": (1, 0, 0), "{111}": (1, 1, 1)},
    "6/mmm": {"{0001}": (0, 0, 1), "{2-1-10}": (1, 0, 0)},
    "-3m": {"{0001}": (0, 0, 1), "{2-1-10}": (1, 0, 0)},
    "4/mmm": {"{001}": (0, 0, 1), "{100}": (1, 0, 0)},
    "mmm": {"{001}": (0, 0, 1), "{100}": (1, 0, 0)},
}
FOUR_INDICES = ("6/mmm", "-3m")  # Laue groups whose planes are named by Miller-Bravais indices (hkil)
REPORT_DECIMALS = 6  # of the positions in the JSON report: a millionth of the projection's unit disc


@dataclasses.dataclass
class SelectionOrientations:
    """A selection's points of one phase: `rows` (ids into the orientations), their `euler` (N, 3), the phase, its
    name and Laue group; `scan_rows` the whole scan's points of that phase; `left_out` the selected points of no
    phase with a Laue group here (not indexed, or another phase: `other_phases` lists those)."""

    rows: np.ndarray
    euler: np.ndarray
    phase: int
    phase_name: str
    laue: str
    scan_rows: np.ndarray
    left_out: int
    other_phases: list[int]


def selection_orientations(orientations, rows, phase: int | None = None) -> SelectionOrientations:
    """The selected `rows` (ids into `orientations`, a `data.orientations.ScanOrientations`) of `phase` (default: the
    indexed phase with a Laue group here that most of them have)."""
    from .scan_references import laue_of

    rows = unique(np.asarray(rows, np.int64))
    if rows.size and (rows[0] < 0 or rows[-1] >= len(orientations.phase_id)):
        raise InputError(f"row ids must lie in 0..{len(orientations.phase_id) - 1}, got {rows[0]} to {rows[-1]}")
    laue = {int(k): laue_of(p) for k, p in orientations.phases.items()}
    known = [k for k, group in laue.items() if group]
    if not known:
        raise InputError("no phase of this scan has a Laue group with a fundamental sector here "
                         f"({', '.join(ori.LAUE_GROUPS)}): no inverse pole figure; use a scan indexed with one of "
                         "those")
    ids = orientations.phase_id[rows]
    counts = {k: int((ids == k).sum()) for k in known}
    if phase is None:
        phase = max(known, key=lambda k: (counts[k], -k))
    elif phase not in known:
        raise InputError(f"phase {phase} is not one of the scan's phases with a Laue group here: choose one of {known}")
    chosen = rows[ids == phase]
    other = sorted(k for k in known if k != phase and counts[k])
    return SelectionOrientations(chosen, orientations.euler[chosen], int(phase), orientations.phases[phase].name,
                                 laue[phase], np.flatnonzero(orientations.phase_id == phase),
                                 int(len(rows) - len(chosen)), other)


def stereographic(directions: np.ndarray) -> np.ndarray:
    """Unit directions (N, 3) of the upper hemisphere -> (N, 2) plane coordinates in the unit disc."""
    directions = np.asarray(directions, np.float64)
    return directions[:, :2] / (1 + directions[:, 2:3])


def ipf_xy(euler, laue: str, direction=(0, 0, 1)) -> np.ndarray:
    """(N, 2) inverse pole figure coordinates: the crystal direction along the sample `direction`, in the sector."""
    euler = np.asarray(euler, np.float64).reshape(-1, 3)
    out = np.empty((len(euler), 2))
    for start in range(0, len(euler), CHUNK):
        crystal = ori.sample_to_crystal(euler[start:start + CHUNK]).apply(np.asarray(direction, np.float64))
        out[start:start + CHUNK] = stereographic(ori.to_fundamental_sector(crystal.reshape(-1, 3), laue))
    return out


def sector_outline(laue: str, points: int = 64) -> np.ndarray:
    """(M, 2) the fundamental sector's edges (great-circle arcs between its corners), a closed line."""
    _, vertices, centre = ori._sector(laue)
    order = np.argsort(ori._azimuth(centre, np.array([0, 0, 1.0]) - centre, vertices))
    corners = vertices[order]
    arcs = []
    for a, b in zip(corners, np.roll(corners, -1, axis=0)):
        t = np.linspace(0, 1, points)[:, None]
        arcs.append(ori._unit((1 - t) * a + t * b))  # the great circle's arc: the chord's points, normalised
    return stereographic(np.concatenate(arcs))


def ipf_corners(laue: str) -> list[tuple[str, float, float]]:
    """(label, x, y) of the sector's corners in `ipf_xy`'s plane: ("[001]", 0, 0), ..."""
    _, vertices, _ = ori._sector(laue)
    labels = [label for label, *_ in ori.ipf_key_corners(laue)]
    return [(label, *stereographic(v[None])[0]) for label, v in zip(labels, vertices)]


def family_poles(family, laue: str) -> np.ndarray:
    """(K, 3) unit crystal directions of a family: the symmetry equivalents of `family`, one of each opposite pair."""
    direction = ori._unit(np.asarray(family, np.float64))
    equivalents = ori.proper_rotations(laue).apply(direction)
    kept = []
    for v in equivalents:
        if not any(abs(v @ w) > 1 - 1e-9 for w in kept):
            kept.append(v)
    return np.array(kept)


def pole_label(pole, laue: str) -> str:
    """A pole (a unit plane normal in the crystal frame: x along a, z along c) as its plane's indices, `(1 -1 1)`, or
    Miller-Bravais `(2 -1 -1 0)` for hexagonal and trigonal crystals; exact for POLE_FAMILIES' poles (along a crystal
    axis, a cube diagonal, or in the basal plane)."""
    x, y, z = np.asarray(pole, np.float64)
    if laue in FOUR_INDICES:  # the normal of (hkil) with l = 0 is along [hki0]: its parts along a1, a2
        along_a1, along_a2 = x + y / np.sqrt(3), 2 * y / np.sqrt(3)
        indices = np.array([2 * along_a1 - along_a2, 2 * along_a2 - along_a1, -(along_a1 + along_a2), 3 * z])
    else:
        indices = np.array([x, y, z])
    indices = indices / np.abs(indices[np.abs(indices) > 1e-9]).min()
    return "(" + " ".join(str(int(round(v))) for v in indices) + ")"


def pole_labels(family, laue: str) -> list[str]:
    """The planes of a family, one per pole of `pole_xy` (`family_poles`' order)."""
    return [pole_label(pole, laue) for pole in family_poles(family, laue)]


def pole_xy(euler, family, laue: str) -> np.ndarray:
    """(N, K, 2) pole figure coordinates: each orientation's poles of `family` in the sample frame, upper hemisphere."""
    euler = np.asarray(euler, np.float64).reshape(-1, 3)
    poles = family_poles(family, laue)
    if not len(euler):
        return np.empty((0, len(poles), 2))
    to_sample = ori.sample_to_crystal(euler).inv()
    sample = np.stack([to_sample.apply(pole) for pole in poles], axis=1)  # (N, K, 3)
    sample = np.where(sample[..., 2:3] < 0, -sample, sample)  # a pole and its opposite: the upper one
    return stereographic(sample.reshape(-1, 3)).reshape(len(euler), len(poles), 2)


def projections(euler, laue: str, direction) -> dict:
    """{"ipf": `ipf_xy`, "poles": {family: `pole_xy`} for the Laue group's POLE_FAMILIES} of orientations."""
    return {"ipf": ipf_xy(euler, laue, direction),
            "poles": {name: pole_xy(euler, family, laue) for name, family in POLE_FAMILIES[laue].items()}}


@dataclasses.dataclass
class OrientationPlots:
    """A selection's orientations and the whole scan's (of the selection's phase), projected for one sample
    direction: `selection` and `scan` as `projections` gives them, `colours` the selection's IPF colours."""

    found: SelectionOrientations
    direction: str
    selection: dict
    scan: dict
    colours: np.ndarray

    def table(self, x=None, y=None, units: str | None = "um") -> pd.DataFrame:
        """The download: `row`, the scan coordinates (`x`, `y`: every row's), the Bunge Euler angles in degrees
        (0..360), the IPF coordinates."""
        rows = self.found.rows
        table = pd.DataFrame({ROW: rows})
        if x is not None:
            for name, values in zip(coordinate_names(units), (x, y)):
                table[name] = np.asarray(values, np.float64)[rows]
        degrees = np.mod(np.rad2deg(self.found.euler), 360)
        for i, name in enumerate(EULER_DEG):
            table[name] = degrees[:, i]
        for i, name in enumerate(IPF_XY):
            table[name] = self.selection["ipf"][:, i]
        return table

    def poles_table(self) -> pd.DataFrame:
        """The pole figures' points: a row per selected point and pole, in row order and each point's families and
        poles in order: `row`, `family` (`{111}`), `pole` (its plane, `(1 -1 1)`), `pole_plane_x`, `pole_plane_y`."""
        laue, families, planes, xy = self.found.laue, [], [], []
        for name, family in POLE_FAMILIES[laue].items():
            labels = pole_labels(family, laue)
            families, planes = families + [name] * len(labels), planes + labels
            xy.append(self.selection["poles"][name])
        xy = np.concatenate(xy, axis=1)  # (N, poles, 2): a point's poles of every family
        count = len(self.found.rows)
        return pd.DataFrame({ROW: np.repeat(self.found.rows, len(planes)),
                             FAMILY: pd.Categorical(np.tile(families, count), categories=list(dict.fromkeys(families))),
                             POLE: pd.Categorical(np.tile(planes, count), categories=list(dict.fromkeys(planes))),
                             POLE_XY[0]: xy[..., 0].ravel(), POLE_XY[1]: xy[..., 1].ravel()})

    def misorientations(self, x=None, y=None, pairs: int = UNCORRELATED_PAIRS, seed: int = SEED):
        """The selection's misorientation-angle distribution (`misorientations.angle_distribution`): neighbours
        found on the grid of every point's coordinates `x`, `y` (None: no correlated pairs), `pairs` random pairs
        at most, drawn with `seed`."""
        found = self.found
        return angle_distribution(found.euler, found.laue, selection_cells(x, y, found.rows), pairs, seed)

    def report(self, what: str, look: str, inputs: dict | None, outputs: dict, angles=None) -> dict:
        """The JSON report: what was chosen, the phase and counts, the pole families and their planes, the notes, the
        inputs and outputs, `positions`: where the points the points view draws lie (every point up to
        PLOTTED_POINTS, else its seeded sample; to REPORT_DECIMALS decimals; the CSVs hold every point exactly), and
        `misorientations`: the distribution `angles`' record (None when left out)."""
        from ..artifacts.common import VERSION_PACKAGES, now

        found, chosen = self.found, seeded_sample(len(self.found.rows), PLOTTED_POINTS)
        families = POLE_FAMILIES[found.laue]
        return {
            "kind": "orientations", "created": now(), "what": what, "direction": self.direction, "look": look,
            "phase": {"id": found.phase, "name": found.phase_name, "laue": found.laue},
            "points": len(found.rows), "left_out": found.left_out, "scan_points": len(found.scan_rows),
            "pole_families": {name: list(family) for name, family in families.items()},
            "poles": {name: pole_labels(family, found.laue) for name, family in families.items()},
            "projection": "stereographic; IPF: the fundamental sector of the Laue group; pole figures: sample x right, "
                          "y up, upper hemisphere",
            "positions": {"points": len(chosen), "sampled": len(chosen) < len(found.rows),
                          "rows": found.rows[chosen], "ipf_plane": _placed(self.selection["ipf"][chosen]),
                          "poles": {name: _placed(self.selection["poles"][name][chosen]) for name in families}},
            "misorientations": angles.record() if angles is not None else None,
            "notes": self.notes() + (angles.notes() if angles is not None else []), "inputs": inputs or {},
            "versions": package_versions(VERSION_PACKAGES), "outputs": outputs}

    def angles_title(self) -> str:
        """The misorientation histogram's title: whose angles."""
        found = self.found
        return (f"Misorientation angles of {len(found.rows):,} points of phase {found.phase} ({found.phase_name}, "
                f"{found.laue})")

    def figure(self, look: str = "points", title: str | None = None):
        """The figure (`figures.pole_figures.orientations_figure`); points: at most PLOTTED_POINTS a panel."""
        from ...figures.pole_figures import orientations_figure

        chosen = seeded_sample(len(self.found.rows), PLOTTED_POINTS if look == "points" else None)
        everyone = seeded_sample(len(self.found.scan_rows), PLOTTED_POINTS if look == "points" else None)
        selection, scan = (_taken(self.selection, chosen), _taken(self.scan, everyone))
        found = self.found
        title = title or (f"Orientations of {len(found.rows):,} points of phase {found.phase} ({found.phase_name}, "
                          f"{found.laue}), sample direction {self.direction}")
        return orientations_figure(selection, scan, sector_outline(found.laue), ipf_corners(found.laue), title,
                                   self.direction, look, self.colours[chosen])

    def notes(self) -> list[str]:
        """What the figure and table leave out, in words."""
        found, notes = self.found, []
        if found.left_out:
            other = f" (phases {found.other_phases} among them)" if found.other_phases else ""
            notes.append(f"{found.left_out:,} selected points are not of phase {found.phase}{other}: left out")
        for name, count in (("selected", len(found.rows)), ("scan", len(found.scan_rows))):
            if count > PLOTTED_POINTS:
                notes.append(f"points view: a seeded sample of {PLOTTED_POINTS:,} of the {count:,} {name} points "
                             "is drawn (the density and the table hold every point)")
        return notes


def orientation_plots(orientations, rows, direction: str = "z", phase: int | None = None,
                      scan: dict | None = None) -> OrientationPlots:
    """The selected `rows`' orientations beside the scan's, for sample direction `direction` (x, y or z); `scan`:
    the scan's `projections` of the phase's points when already at hand (the app keeps them)."""
    if direction not in DIRECTIONS:
        raise InputError(f"the sample direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    found = selection_orientations(orientations, rows, phase)
    vector = DIRECTIONS[direction]
    if scan is None:
        scan = projections(orientations.euler[found.scan_rows], found.laue, vector)
    selection = _taken(scan, np.searchsorted(found.scan_rows, found.rows))
    return OrientationPlots(found, direction, selection, scan, ori.ipf_colours(found.euler, found.laue, vector))


def _placed(xy: np.ndarray) -> dict:
    """Plane coordinates (..., 2) as the report gives them: {"x": ..., "y": ...}, to REPORT_DECIMALS decimals."""
    return {"x": np.round(xy[..., 0], REPORT_DECIMALS), "y": np.round(xy[..., 1], REPORT_DECIMALS)}


def _taken(projected: dict, positions) -> dict:
    return {"ipf": projected["ipf"][positions],
            "poles": {name: poles[positions] for name, poles in projected["poles"].items()}}


def write_orientations(plots: OrientationPlots, out_dir, source, what: str, x=None, y=None, units="um",
                       inputs: dict | None = None, png: bool = True, dpi: float = 300, look: str = "points",
                       angles=None) -> dict:
    """The files of `orientations_names`: the table and the poles (CSV), the figure (PNG, unless not `png`), with
    `angles` (`OrientationPlots.misorientations`) its bins (CSV) and histogram (PNG), and the JSON report
    (`OrientationPlots.report`); returns {kind: path}."""
    from ...figures import write_png
    from ..artifacts.common import write_csv, write_json

    names = orientations_names(source, what, plots.direction)
    out = Path(out_dir)
    written = {"table": write_csv(out / names["table"], plots.table(x, y, units)),
               "poles": write_csv(out / names["poles"], plots.poles_table())}
    if angles is not None:
        written["angles"] = write_csv(out / names["angles"], angles.table())
    engine = None
    if png:
        engine = write_png(plots.figure(look), out / names["figure"], dpi=dpi)
        written["figure"] = out / names["figure"]
        if angles is not None:
            write_png(angles.figure(plots.angles_title()), out / names["angles_figure"], dpi=dpi)
            written["angles_figure"] = out / names["angles_figure"]
    report = plots.report(what, look, inputs, {kind: Path(path).name for kind, path in written.items()}, angles)
    write_json(out / names["report"], {**report, "figure_engine": engine})
    written["report"] = out / names["report"]
    return written


def orientations_of(path) -> tuple:
    """(orientations, x, y, units, source) of a latents file (its rows'; `source` its scan's name, as the app names
    its files) or of a scan file (`source` the path); InputError when it holds none."""
    from ...data import open_source
    from ...latents import read_latents

    with open_source(path) as reader:
        info = reader.info()
        if info.format != "latents":
            orientations, xy, source = reader.orientations(), reader.coordinates("all"), path
    if info.format == "latents":
        latents = read_latents(path)
        orientations, xy, info = latents.orientations, (latents.x, latents.y), latents
        source = latents.attrs.get("source") or path
    if orientations is None:
        raise InputError("holds no orientations (no Euler angles and phases): give a scan file that has them, or "
                         "the latents of one", path)
    x, y = xy if xy is not None else (None, None)
    return orientations, x, y, info.units, source


def what_tag(count: int, cluster: int | None = None, label: str | None = None) -> str:
    """What chosen points are, in their files' names: `cluster2`, `label_grain-A` (the label made a file-name
    part), else `412rows`."""
    if label is not None:
        return "label_" + (re.sub(r"[^A-Za-z0-9.+-]+", "-", label).strip("-.")[:40] or "x")
    return f"cluster{int(cluster)}" if cluster is not None else f"{int(count)}rows"


def orientations_names(source, what: str, direction: str) -> dict[str, str]:
    """The files of a selection's orientations: `orientations__<stem>__<what>__ipf_<direction>.csv` (the table),
    `.png` (the IPF beside the scan's and the pole figures), `.json` (the report), `pole_figures__<...>.csv` (the
    pole figures' points) and `misorientations__<...>.csv`, `.png` (the misorientation angles' bins and histogram:
    the same for every direction, named as the run's other files); `what`: `cluster2`, `label_grain-a`, `412rows`."""
    tag = f"{Path(str(source)).stem}__{what}__ipf_{direction}"
    return {"table": f"orientations__{tag}.csv", "poles": f"pole_figures__{tag}.csv",
            "figure": f"orientations__{tag}.png", "angles": f"misorientations__{tag}.csv",
            "angles_figure": f"misorientations__{tag}.png", "report": f"orientations__{tag}.json"}
