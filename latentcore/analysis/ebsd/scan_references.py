"""EBSD reference maps of a scan, from what its file holds: orientations (IPF colours along x, y,
z), indexed points, phases, grain boundaries, grains and the kernel average misorientation, and from
its patterns VBSE, image quality and the average neighbour dot product. Every map is on the scan grid
(rows x columns), NaN where the scan has no point.

    refs = scan_references("scan.h5oina", vbse_grid=(5, 5), parameters=ORIENTATION_MAP_PARAMETERS(kam_order=2),
                           vbse_percentiles=(1, 99), progress=None)
    ORIENTATION_MAP_PARAMETERS  (`records`, with the maps' records `REFERENCE_MAPS`) the orientation maps'
                                parameters: boundary_deg, twin_tolerance_deg, kam_threshold_deg, kam_order,
                                schmid_family, loading_direction; called, one checked frozen value of them all
                                (`Values`: a job's fields; `record()` the report's `parameters`)
    refs.maps["ipf_z"]          (rows, columns, 3) RGB in 0..1; also ipf_x, ipf_y, vbse_rgb
    refs.maps["indexed"]        (rows, columns) bool: the point has an orientation of a known phase
    refs.maps["phase"]          (rows, columns): phase id, -1 not indexed; only when two or more phases
                                are indexed (one phase would only repeat `indexed`)
    refs.maps["boundaries"]     (rows, columns) bool: misorientation to a 4-neighbour above boundary_deg
    refs.maps["twin_boundaries"] (rows, columns) bool: a 4-neighbour across a Σ3 twin boundary (within
                                twin_tolerance_deg of 60° about <111>); only where a phase is cubic (m-3m)
    refs.maps["grains"]         (rows, columns) grain id (4-neighbours within boundary_deg), -1 none
    refs.maps["kam"]            (rows, columns) degrees: mean misorientation to the neighbours of
                                kam_order (1: the 4 edge neighbours; 2: the 12 within two edge steps)
                                within kam_threshold_deg; NaN not indexed or no such neighbour
    refs.maps["schmid"]         (rows, columns): the largest Schmid factor over the 12 slip systems of schmid_family
                                (fcc {111}<110>, bcc {110}<111>) for loading along loading_direction (sample frame),
                                0 to 0.5; NaN where not indexed or not cubic; only where a phase is cubic (m-3m)
    refs.maps["iq"], ["adp"]    (rows, columns) float
    refs.grains()               (ids, points, areas in units²) of every grain
    refs.point_values(x, y)     name -> (N,) values at given coordinates: what `rank` takes (grain ids
                                are labels, not values: left out unless `labels=True`)
    refs.edges["right"], ["down"]  (rows, columns) bool: the boundaries as edges between pixels; "high_right",
                                "high_down" the high-angle ones, "twin_right", "twin_down" the Σ3 twins
                                (`orientation.boundary_classes`; `boundary_class_lines` draws them)
    ipf_rows(orientations, (0, 0, 1))   (N, 3) IPF colours of each point (the UMAP's colours)
    latents_references(latents, source)  the same maps on a scan's latents' grid (from the orientations they
                                carry; VBSE, IQ and ADP from `source`, the scan file)
    cropped(refs, roi)          the maps over an ROI, as the latent maps are cropped
    write_references(refs, out_dir, inputs)  references.npz (the maps, x, y, units, step), PNGs, a JSON report
    map_figure(name, values, grid, units, laue, phases, lines, classes)   any map's figure, as its record says
    boundary_class_lines(refs.edges, refs.grid)   the boundaries' line segments by class (the twin map's lines)

`references.npz` keys: `ipf_x`, `ipf_y`, `ipf_z`, `indexed`, `phase` (two or more phases), `boundaries`,
`twin_boundaries` (a cubic phase), `grains`, `kam`, `schmid` (a cubic phase), `vbse_rgb`, `iq`, `adp`, `x` (columns' x), `y` (rows' y),
`units`, `step`, and `roi` (x0, x1, y0, y1) when the maps were cropped to one (the app's download;
`references_names` names the files); maps the file cannot give (no orientations, a phase without a Laue group this
package colours, no cubic phase for the twin boundaries and the Schmid factors) are left out and the report's `notes` say why. The report also lists each grain's size and the VBSE stretch's percentiles.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ...arrays import unique
from ...data import open_source
from ...data._npy import read_npz
from ...errors import InputError, about_file
from ...parameters import Values
from ...storage import atomic_path
from ...versions import package_versions
from . import orientation as ori
from ..artifacts.common import VERSION_PACKAGES, input_record, now, write_json
from ..maps import Grid, Roi, crop_to_roi, edge_segments, roi_tag, scan_grid, values_map
from .pattern_maps import check_percentiles, default_rgb_tiles, pattern_maps, vbse_rgb
from .records import (DEFAULT_VBSE_PERCENTILES, LABEL_MAPS, ORIENTATION_MAP_PARAMETERS, ORIENTATION_MAPS, PATTERN_MAPS,
                      REFERENCE_MAPS, SCHMID_FAMILY, SLIP_FAMILIES, in_order, listed)

IPF_DIRECTIONS = {"ipf_x": (1, 0, 0), "ipf_y": (0, 1, 0), "ipf_z": (0, 0, 1)}
NPZ_NAME = "references.npz"
REMAKE = "make it again with `latentcore references`"  # the next step for a broken references.npz
@dataclasses.dataclass
class ScanReferences:
    maps: dict[str, np.ndarray]
    grid: Grid
    units: str | None
    phases: dict  # id -> data.orientations.Phase
    laue: dict  # id -> Laue group or None
    notes: list[str]
    parameters: dict
    edges: dict = dataclasses.field(default_factory=dict)  # "right", "down": grain boundaries between pixels
    roi: Roi | None = None  # the ROI the maps were cropped to (`cropped`), None for the whole scan

    @property
    def x(self) -> np.ndarray:
        return self.grid.x_values

    @property
    def y(self) -> np.ndarray:
        return self.grid.y_values

    def point_values(self, x, y, labels: bool = False) -> dict[str, np.ndarray]:
        """Each map at the given coordinates (N,): RGB maps give one reference per channel."""
        return point_values(self.maps, self.grid, x, y, labels)

    def grains(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, points, areas in the scan's units squared) of every grain of the `grains` map."""
        return grain_table(self.maps["grains"], self.grid)


def cropped(refs: ScanReferences, roi: Roi) -> ScanReferences:
    """The references over an ROI, cropped as the latent maps are (`maps.crop_to_roi`: the ROI's grid, NaN
    where no point), the ROI recorded in their parameters and files."""
    x, y = (a.ravel() for a in np.meshgrid(refs.x, refs.y))
    maps, grid = crop_to_roi(refs.maps, refs.grid, x, y, roi)
    if "grains" in maps:  # ids stay integers, -1 (no grain) outside
        maps["grains"] = np.nan_to_num(maps["grains"], nan=-1).astype(np.int64)
    edges = crop_to_roi(refs.edges, refs.grid, x, y, roi)[0] if refs.edges else {}
    return dataclasses.replace(refs, maps=maps, grid=grid, edges=edges, roi=roi,
                               parameters={**refs.parameters, "roi": roi.to_json()})


def grain_table(grains: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    points = ori.grain_sizes(grains)
    return np.arange(len(points)), points, points * abs(grid.step_x * grid.step_y)


def point_values(maps: dict, grid: Grid, x, y, labels: bool = False, roi: Roi | None = None) -> dict[str, np.ndarray]:
    """Each map at the given coordinates; the `LABEL_MAPS` (grain ids) only with `labels`. Maps cropped to
    `roi` are NaN at the coordinates outside it."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    inside = np.ones(len(x), bool) if roi is None else roi.mask(x, y)
    rows, columns = grid.indices(x[inside], y[inside])
    out = {}
    for name, values in maps.items():
        if name in LABEL_MAPS and not labels:
            continue
        values = np.asarray(values)
        at = np.full((len(x), *values.shape[2:]), np.nan)
        at[inside] = values[rows, columns]
        if at.ndim == 2:
            out.update({f"{name}[{c}]": at[:, i] for i, c in enumerate("rgb")})
        else:
            out[name] = at
    return out


def laue_of(phase) -> str | None:
    if phase.point_group:
        return ori.laue_group(phase.point_group)
    return ori.laue_of_space_group(phase.space_group) if phase.space_group else None


def _on_grid(values: np.ndarray, rows, columns, shape, fill=np.nan) -> np.ndarray:
    values = np.asarray(values)
    out = np.full((*shape, *values.shape[1:]), fill, dtype=np.float64 if fill is not False else bool)
    out[rows, columns] = values
    return out


def ipf_rows(orientations, direction, laue: dict | None = None) -> np.ndarray:
    """(N, 3) IPF colours (RGB in 0..1) of each point for a sample `direction`; NaN where the point is
    not indexed or its phase has no colour key here. `laue`: phase id -> Laue group (default: the phases')."""
    laue = laue if laue is not None else {k: laue_of(p) for k, p in orientations.phases.items()}
    colours = np.full((len(orientations.phase_id), 3), np.nan)
    for k, group in laue.items():
        chosen = orientations.phase_id == k
        if group is not None and chosen.any():
            colours[chosen] = ori.ipf_colours(orientations.euler[chosen], group, direction)
    return colours


def orientation_maps(orientations, rows, columns, shape, notes: list,
                     parameters: Values = ORIENTATION_MAP_PARAMETERS()) -> tuple[dict, dict, dict]:
    """IPF maps, indexed points, phases (two or more), boundaries, Σ3 twin boundaries (a cubic phase), grains, KAM
    and Schmid factors (a cubic phase) of a scan's orientations, made with `parameters` (an
    `ORIENTATION_MAP_PARAMETERS` value); (maps, laue per phase, the boundaries as edges between pixels by class:
    `orientation.boundary_classes`)."""
    laue = {k: laue_of(p) for k, p in orientations.phases.items()}
    phase_id = orientations.phase_id
    unknown = sorted(int(k) for k in unique(phase_id[phase_id >= 0]) if laue.get(int(k)) is None)
    if unknown:
        notes.append(f"phases {unknown} have no Laue group with a colour key here "
                     f"({', '.join(ori.LAUE_GROUPS)}): their points are left out of the IPF maps, boundaries, "
                     "grains and KAM")
    maps = {name: _on_grid(ipf_rows(orientations, direction, laue), rows, columns, shape)
            for name, direction in IPF_DIRECTIONS.items()}
    known = np.isin(phase_id, [k for k, group in laue.items() if group])
    grid_phase = _on_grid(np.where(known, phase_id, -1), rows, columns, shape, fill=-1).astype(np.int64)
    maps["indexed"] = grid_phase >= 0
    present = unique(phase_id[phase_id >= 0])
    if len(present) >= 2:
        maps["phase"] = _on_grid(phase_id.astype(np.float64), rows, columns, shape)
    else:
        said = "one phase is" if len(present) else "no point is"
        notes.append(f"{said} indexed: no phase map (the `indexed` map shows which points are indexed)")
    grid_euler = _on_grid(orientations.euler, rows, columns, shape, fill=0.0)
    symmetry = {k: g for k, g in laue.items() if g}
    p = parameters
    edges = ori.boundary_classes(grid_euler, grid_phase, symmetry, p.boundary_deg, p.twin_tolerance_deg)
    maps["boundaries"] = ori.pixels_of_edges(edges["right"], edges["down"])
    if np.isin(present, [k for k, group in laue.items() if group == ori.TWIN_LAUE]).any():
        maps["twin_boundaries"] = ori.pixels_of_edges(edges["twin_right"], edges["twin_down"])
    elif len(present):
        notes.append(f"no cubic ({ori.TWIN_LAUE}) phase is indexed: no twin_boundaries map (Σ3 twins are defined "
                     "here for cubic phases only)")
    maps["grains"] = ori.grain_map(grid_euler, grid_phase, symmetry, p.boundary_deg)
    maps["kam"] = ori.kernel_average_misorientation(grid_euler, grid_phase, symmetry, p.kam_threshold_deg,
                                                    p.kam_order)
    cubic = np.isin(phase_id, [k for k, group in laue.items() if group == ori.SCHMID_LAUE])
    if cubic.any():
        schmid = np.full(len(phase_id), np.nan)
        schmid[cubic] = ori.schmid_factors(orientations.euler[cubic], p.schmid_family, p.loading_direction)
        maps["schmid"] = _on_grid(schmid, rows, columns, shape)
    elif len(present):
        notes.append(f"no cubic ({ori.SCHMID_LAUE}) phase is indexed: no schmid map (its slip systems, "
                     f"{' and '.join(map(SCHMID_FAMILY.said, SLIP_FAMILIES))}, are cubic ones)")
    return maps, laue, edges


def orientation_references(orientations, x, y, grid_shape=None,
                           parameters: Values = ORIENTATION_MAP_PARAMETERS()) -> ScanReferences:
    """The orientation maps (IPF x, y, z, indexed, phases, boundaries, twin boundaries, grains, KAM, Schmid factors)
    of per-point orientations at x, y (e.g. a latents file's `orientations`), on the grid of those coordinates."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    grid = Grid.from_coordinates(x, y, grid_shape)
    rows, columns = grid.indices(x, y)
    notes = []
    maps, laue, edges = orientation_maps(orientations, rows, columns, grid.shape, notes, parameters)
    record = {**parameters.record(), "orientation_convention": orientations.convention}
    units = None
    return ScanReferences(maps, grid, units, orientations.phases, laue, notes, record, edges)


def scan_references(source, *, vbse_grid: tuple[int, int] = (5, 5), rgb_tiles=None,
                    parameters: Values = ORIENTATION_MAP_PARAMETERS(),
                    vbse_percentiles: tuple[float, float] = DEFAULT_VBSE_PERCENTILES, batch_size: int = 256,
                    patterns: bool = True, progress=None) -> ScanReferences:
    """Every reference map of an EBSD scan file, the orientation maps made with `parameters` (see the module
    docstring)."""
    with open_source(source) as reader:
        info = reader.info()
        if not info.has_coordinates or info.grid_shape is None:
            raise InputError("reference maps need an EBSD scan (patterns on a grid): give the scan file the "
                             "latents came from", source)
        if patterns:  # before the orientation maps: a wrong grid is said at once
            check_vbse_grid(vbse_grid, info.item_shape, source)
            check_percentiles(vbse_percentiles)
        x, y = reader.coordinates("all")
        grid = Grid.from_coordinates(x, y, info.grid_shape)
        rows, columns = grid.indices(x, y)
        shape, notes, maps, phases, laue, edges = grid.shape, [], {}, {}, {}, {}
        orientations = reader.orientations()
        if orientations is None:
            notes.append(f"the file holds no orientations: no {listed(ORIENTATION_MAPS)} maps")
        else:
            found, laue, edges = orientation_maps(orientations, rows, columns, shape, notes, parameters)
            maps.update(found)
            phases = orientations.phases
        if patterns:
            nodes = rows * grid.n_columns + columns
            order = np.argsort(nodes, kind="stable")
            if not np.array_equal(order, np.arange(len(order))):
                raise InputError("patterns are not stored in row-major grid order: cannot stream neighbours; "
                                 "leave out the pattern maps (--no-patterns)", source)
            streamed = pattern_maps(_GridReader(reader, grid.shape), vbse_grid, batch_size, grid_nodes=nodes,
                                    progress=progress)
            tiles = rgb_tiles or default_rgb_tiles(vbse_grid)
            maps["vbse_rgb"] = _on_grid(vbse_rgb(streamed.vbse, tiles, vbse_percentiles), rows, columns, shape)
            maps["iq"] = _on_grid(streamed.iq, rows, columns, shape)
            maps["adp"] = _on_grid(streamed.adp, rows, columns, shape)
    record = {"vbse_grid": list(vbse_grid), "rgb_tiles": [list(t) for t in (rgb_tiles or default_rgb_tiles(vbse_grid))],
                  "vbse_percentiles": [float(p) for p in vbse_percentiles], **parameters.record(),
                  "orientation_convention": orientations.convention if orientations else None}
    return ScanReferences(maps, grid, info.units, phases, laue, notes, record, edges)


def latents_references(latents, source=None, *, parameters: Values = ORIENTATION_MAP_PARAMETERS(),
                       progress=None) -> ScanReferences:
    """The reference maps of a scan's latents (a read latents file) on their grid: the orientation maps the
    latents carry (IPF, indexed, phases, boundaries, grains, KAM, Schmid factors, made with `parameters`) and, with
    `source` (the scan file they came from), VBSE, image quality and ADP streamed from its patterns
    (`progress(done, total)` over the patterns)."""
    grid = scan_grid(latents)
    if latents.orientations is not None:
        refs = orientation_references(latents.orientations, latents.x, latents.y, latents.grid_shape, parameters)
    else:
        refs = ScanReferences({}, grid, None, {}, {}, [f"these latents hold no orientations: no "
                                                       f"{listed(ORIENTATION_MAPS)} maps"], parameters.record())
    if source is not None:
        scan = scan_references(source, parameters=parameters, progress=progress)
        values = scan.point_values(latents.x, latents.y)
        for name in PATTERN_MAPS:
            if name in scan.maps:
                channels = [f"{name}[{c}]" for c in "rgb"] if scan.maps[name].ndim == 3 else [name]
                planes = [values_map(values[c], latents.x, latents.y, grid) for c in channels]
                refs.maps[name] = np.stack(planes, -1) if len(planes) == 3 else planes[0]
        refs.parameters.update({k: v for k, v in scan.parameters.items() if k.startswith(("vbse", "rgb"))})
    return dataclasses.replace(refs, units=latents.units)


def check_vbse_grid(vbse_grid, item_shape, source) -> None:
    """Every detector tile holds at least one pixel: at most as many tiles as the patterns have pixels."""
    side = tuple(item_shape[-2:])
    if len(side) != 2 or not all(1 <= tiles <= size for tiles, size in zip(vbse_grid, side)):
        raise InputError(f"--vbse-grid {vbse_grid[0]} {vbse_grid[1]}: the patterns are {' x '.join(map(str, side))} "
                         "pixels, so ROWS and COLUMNS must lie within 1 .. their height and width", source)


class _GridReader:
    """A reader whose grid is the map grid (an ROI's bounding box may be smaller than the header's)."""

    def __init__(self, reader, shape):
        self.reader, self.shape = reader, shape

    def info(self):
        return dataclasses.replace(self.reader.info(), grid_shape=self.shape)

    def count(self, partition):
        return self.reader.count(partition)

    def iter_batches(self, partition, batch_size):
        return self.reader.iter_batches(partition, batch_size)


def references_names(roi: Roi | None = None) -> dict[str, str]:
    """The files of a scan's reference maps: `references.npz`, `references_<map>.png` (`figure` with the map's
    name in `{name}`), `references_report.json`; over an ROI each name ends in its `roi_tag`, as the latent
    maps' names do."""
    tag = "" if roi is None else f"__{roi_tag(roi)}"
    return {"npz": f"{Path(NPZ_NAME).stem}{tag}.npz", "figure": f"references_{{name}}{tag}.png",
            "report": f"references_report{tag}.json"}


def save_npz(refs: ScanReferences, path) -> Path:
    """references.npz: every map, x (columns), y (rows), units, step; no pickles."""
    return write_npz(refs.maps, refs.grid, refs.units, path, refs.roi)


def write_npz(maps: dict, grid: Grid, units: str | None, path, roi: Roi | None = None) -> Path:
    """Maps on `grid` as a references.npz; over an ROI also `roi` (x0, x1, y0, y1), the ROI they were cropped to."""
    arrays = {name: np.asarray(values) for name, values in maps.items()}
    arrays.update(x=grid.x_values, y=grid.y_values, units=np.array(units or "um"),
                  step=np.array([grid.step_x, grid.step_y]))
    if roi is not None:
        arrays["roi"] = np.asarray(roi.to_json(), np.float64)
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return Path(path)


def load_npz(path) -> tuple[dict[str, np.ndarray], Grid, str, Roi | None]:
    """(maps, grid, units, the ROI they were cropped to or None) of a references.npz (any file: its arrays'
    headers are checked before they are read, and its grid before it is used)."""
    path = Path(path)
    arrays = read_npz(path)
    missing = [k for k in ("x", "y", "step") if k not in arrays]
    if missing:
        raise InputError(f"not a references.npz: no {missing}; {REMAKE}", path)
    x, y, step = (_grid_array(arrays.pop(name), name, path) for name in ("x", "y", "step"))
    if (step <= 0).any():
        raise InputError(f"array 'step' of a references.npz must be above 0, got {step.tolist()}", path)
    units = str(arrays.pop("units", "um"))
    roi = arrays.pop("roi", None)  # a record of the crop, not a map
    if roi is not None:
        if roi.shape != (4,) or roi.dtype.kind not in "iuf":
            raise InputError(f"array 'roi' has shape {roi.shape} and type {roi.dtype}: it must be four numbers "
                             f"x0, x1, y0, y1; {REMAKE}", path)
        with about_file(path):
            roi = Roi.from_json(roi.astype(np.float64))
    grid = Grid(float(x[0]), float(y[0]), float(step[0]), float(step[1]), len(y), len(x))
    for name, values in arrays.items():
        if values.dtype.kind not in "biuf":
            raise InputError(f"map {name!r} is of type {values.dtype}, not numbers: {REMAKE}", path)
        if values.shape[:2] != grid.shape:
            raise InputError(f"map {name!r} has shape {values.shape}, not the grid {grid.shape}: {REMAKE}", path)
    return arrays, grid, units, roi


def _grid_array(values: np.ndarray, name: str, path) -> np.ndarray:
    """`x` (columns), `y` (rows) or `step` (x, y) of a references.npz: a non-empty 1-D array of finite numbers."""
    step = name == "step"
    if (values.ndim != 1 or not len(values) or (step and len(values) != 2) or values.dtype.kind not in "iuf"
            or not np.isfinite(values).all()):
        raise InputError(f"array {name!r} of a references.npz has shape {values.shape} or non-finite values: it must "
                         "hold " + ("two steps (x, y)" if step else "the grid coordinates") + f"; {REMAKE}", path)
    return values


def figures(refs: ScanReferences) -> dict:
    """name -> plotly figure of every map (`map_figure`), in the order of `REFERENCE_MAPS`."""
    lines = edge_segments(refs.edges["right"], refs.edges["down"], refs.grid) if refs.edges else None
    classes = boundary_class_lines(refs.edges, refs.grid)
    phases = {k: p.name for k, p in refs.phases.items()}
    return {name: map_figure(name, values, refs.grid, refs.units, refs.laue, phases, lines, classes=classes)
            for name, values in in_order(refs.maps).items()}


BOUNDARY_CLASSES = ("low-angle", "high-angle", "Σ3 twin")  # drawn in this order: twins on top


def boundary_class_lines(edges: dict, grid: Grid) -> dict | None:
    """Each boundary class's line segments (`maps.edge_segments`), by name (`BOUNDARY_CLASSES`): low-angle (a
    boundary neither high-angle nor a twin), high-angle (not a twin), Σ3 twin; None without the classes' edges."""
    if "twin_right" not in edges:
        return None
    out = {}
    for name in BOUNDARY_CLASSES:
        right, down = (_class_edges(edges, name, side) for side in ("right", "down"))
        out[name] = edge_segments(right, down, grid)
    return out


def _class_edges(edges: dict, name: str, side: str) -> np.ndarray:
    boundary, high, twin = (np.asarray(edges[f"{kind}{side}"], bool) for kind in ("", "high_", "twin_"))
    return {"low-angle": boundary & ~high & ~twin, "high-angle": high & ~twin, "Σ3 twin": twin}[name]


def map_figure(name: str, values, grid: Grid, units: str | None, laue: dict, phases: dict, lines=None,
               overlay: bool = False, classes: dict | None = None, stride: int = 1):
    """One reference map's plotly figure, drawn as its `REFERENCE_MAPS` record says: IPF maps with the colour key of
    their Laue group (when the scan has one), phases (`phases`: id -> name) with a legend, grains in the palette with
    their size on hover, the boundaries as `lines` (x, y of their segments, NaN between them: `maps.edge_segments`)
    over the scan in light grey, the boundaries by class (`classes`: `boundary_class_lines`) with a legend, other maps
    with a colour bar; with `overlay`, the `lines` over any map. With `stride`, one pixel in `stride` along x and y
    (a page's view of a large map: the lines and the grains' sizes stay the whole map's)."""
    from ...figures import reference_figures as rf

    spec, x, y = REFERENCE_MAPS[name], grid.x_values, grid.y_values
    points = rf.grain_points(values) if spec.look == "grains" else None
    values, x, y = values[::stride, ::stride], x[::stride], y[::stride]
    if spec.look in ("ipf", "rgb"):
        groups = sorted({g for g in laue.values() if g})
        one = groups[0] if spec.look == "ipf" and len(groups) == 1 else None
        fig = rf.rgb_map_figure(values, x, y, spec.title, units, key=ori.ipf_key_image(one, 160) if one else None,
                                key_labels=ori.ipf_key_corners(one) if one else (), key_title=f"{one} key" if one else "")
    elif spec.look == "phase":
        fig = rf.phase_map_figure(values, phases, x, y, units, title=spec.title)
    elif spec.look == "grains":
        fig = rf.grain_map_figure(values, x, y, units, title=spec.title, points=points,
                                  point_area=abs(grid.step_x * grid.step_y))
    elif spec.look in ("boundaries", "boundary_classes"):  # the scan's pixels in light grey under the lines
        fig = rf.scalar_map_figure(np.ones(np.shape(values)), x, y, spec.title, "", units,
                                   colorscale=[[0, "#eeeeee"], [1, "#eeeeee"]])
        fig.data[0].showscale = False
        if spec.look == "boundary_classes" and classes is not None:
            rf.add_class_lines(fig, classes)
    else:
        fig = rf.scalar_map_figure(values, x, y, spec.title, spec.value_name, units, spec.colorscale)
    if lines is not None and spec.look != "boundary_classes" and (overlay or spec.look == "boundaries"):
        rf.add_boundary_lines(fig, *lines, grid=grid, stride=stride)  # beside a colour key, the map is subplot 1
    return fig


def grain_report(refs: ScanReferences) -> dict | None:
    """Each grain's points and area (the report's `grains`); None without a grain map."""
    if "grains" not in refs.maps:
        return None
    ids, points, areas = refs.grains()
    unit = f"{refs.units or 'um'}2"
    return {"count": len(ids), "boundary_deg": refs.parameters.get("boundary_deg"), "area_units": unit,
            "points": points.tolist(), "areas": [round(float(a), 6) for a in areas]}


def write_references(refs: ScanReferences, out_dir, inputs: dict | None = None, *, png: bool = True,
                     browser="auto", dpi: float = 300, root=None) -> dict[str, Path]:
    """references.npz, one PNG per map (`references_<name>.png`, with `png`) and `references_report.json`, whose
    `inputs` name the files the maps came from ({"scan": the scan file, "latents": ...}; relative to `out_dir`
    when they lie inside `root`, the workspace; None: anywhere)."""
    from ...figures.png import write_png

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = references_names(refs.roi)
    paths = {"npz": save_npz(refs, out_dir / names["npz"])}
    if png:
        for name, fig in figures(refs).items():
            paths[name] = out_dir / names["figure"].format(name=name)
            write_png(fig, paths[name], browser=browser, dpi=dpi)
    report = {"kind": "references", "created": now(), "parameters": refs.parameters,
              "inputs": {role: input_record(path, out_dir, root) for role, path in (inputs or {}).items()},
              "grid": refs.grid.to_dict(), "units": refs.units, "maps": sorted(refs.maps),
              "phases": {str(k): {**dataclasses.asdict(p), "laue_group": refs.laue.get(k)} for k, p in refs.phases.items()},
              "grains": grain_report(refs), "notes": refs.notes, "versions": package_versions(VERSION_PACKAGES)}
    paths["report"] = write_json(out_dir / names["report"], report)
    return paths
