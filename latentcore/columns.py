"""The names of table columns: one vocabulary for every CSV the project writes and every table the app shows
(docs/outputs.md lists them with their meaning and unit).

Every table that has them starts `row`, `x_um`, `y_um` (a study's tables `source`, `row`, `x_um`, `y_um`), then the
names of its output:
- `SOURCE`: the study member the row is of, its source's name as its latents file names it (`latentcore.study`);
- `ROW`: the row id in the latents file (the row's position in its partitions, stacked in order): tables join on it;
- `coordinate_names(units)`: scan coordinates with their unit in the name, `x_um`, `y_um` (`x_nm`, ... for a scan
  stored in another unit);
- `LABEL`, `CLUSTER`, `BANDCONTRAST`, `PROBABILITY`, `GIVEN`, `SELECTED`, `COSINE_DISTANCE`, `COUNT`, `FRACTION`,
  `latent_name(d)` (`latent_3`), `embedding_name(method, i)` (`umap_0`, `pca_1`), and a line profile's
  `distance_name(units)` (`distance_um`), `MISORIENTATION_TO_FIRST` and `MISORIENTATION_TO_PREVIOUS`: the columns of each output;
- the grain table's (one row per grain, not per latents row): `GRAIN`, `POINTS`, `area_name(units)` (`area_um2`),
  `ecd_name(units)` (`ecd_um`), `CENTROID` + a coordinate name (`centroid_x_um`), `PHASE`, `EULER_DEG`, `GOS`, `KAM`,
  `TWIN_FRACTION`, `LATENT_SPREAD`, `LATENT_NORM`, `CLASS_FRACTION`;
- a scan's grain distributions (a row per bin): `QUANTITY` (the grain table's column binned, or
  `BOUNDARY_MISORIENTATION`: the grain boundary segments' angles), `BIN_LOW`, `BIN_HIGH`, `COUNT`, `FRACTION`,
  `AREA_FRACTION`.
- a selection's orientations: `EULER_DEG` (`phi1_deg`, `Phi_deg`, `phi2_deg`) and `IPF_XY` (`ipf_plane_x`,
  `ipf_plane_y`); its poles (one row per point and pole): `FAMILY`, `POLE` and `POLE_XY` (`pole_plane_x`,
  `pole_plane_y`); its misorientation-angle distribution (one row per bin): `ANGLE_BIN` (`angle_low_deg`,
  `angle_high_deg`), `CORRELATED` and `UNCORRELATED` (`correlated_count`, `correlated_frequency`, ...) and
  `MACKENZIE_FREQUENCY`.

`beside(head, table)`: the columns of `head`, then a source's own columns (a cutout's metadata), one named as a column of
`head` kept as `source_<name>` (cutouts may carry their own `row`).

`plain_coordinates(table)` reads either spelling of coordinates back (`x`, `y` as other tools write them, or
`x_um`, `y_um` as this project does) as `x`, `y`.
"""
from __future__ import annotations

SOURCE = "source"
ROW = "row"
LABEL = "label"
CLUSTER = "cluster"
BANDCONTRAST = "bandcontrast"
PROBABILITY = "probability"  # of the predicted label
GIVEN = "given"  # the label a row was given, empty where none
SELECTED = "selected"  # whether the row is in the app's selection
COSINE_DISTANCE = "cosine_distance"  # a nearest neighbour's, in the latent space
GRAIN = "grain"  # a grain's id (`orientation.grain_map`)
POINTS = "points"  # a grain's points (pixels)
CENTROID = "centroid_"  # + `x_um`, `y_um`: the mean position of a grain's points
PHASE = "phase"  # the scan's phase id
EULER_DEG = ("phi1_deg", "Phi_deg", "phi2_deg")  # an orientation (a grain's mean): Bunge Euler angles in degrees
GOS = "gos_deg"  # grain orientation spread: mean misorientation of a grain's points to its mean orientation
KAM = "kam_deg"  # a grain's mean kernel average misorientation
TWIN_FRACTION = "twin_boundary_fraction"  # the share of a grain's boundary length that is a Σ3 twin boundary
QUANTITY = "quantity"  # a grain distribution's binned column: `ecd_um`, `gos_deg`, `BOUNDARY_MISORIENTATION`
BOUNDARY_MISORIENTATION = "boundary_misorientation_deg"  # a grain boundary segment's misorientation angle
BIN_LOW, BIN_HIGH = "bin_low", "bin_high"  # a bin's edges, in its quantity's unit
AREA_FRACTION = "area_fraction"  # the share of the grains' area in a bin (area-weighted)
LATENT_SPREAD = "latent_spread"  # mean distance of a grain's latent vectors to their mean
LATENT_NORM = "latent_norm"  # the norm of a grain's mean latent vector
CLASS_FRACTION = "class_fraction"  # the share of a grain's points in the class most of them have
MISORIENTATION_TO_FIRST = "misorientation_to_first_deg"  # along a line profile, to its first indexed pixel
MISORIENTATION_TO_PREVIOUS = "misorientation_to_previous_deg"  # along a line profile, to the pixel before
COUNT = "count"  # rows of a source in a cluster (or of a label); grains in a distribution's bin
FRACTION = "fraction"  # that count over the source's rows (the grains)
DEFAULT_UNITS = "um"  # a scan's unit unless its file says otherwise (data.base.DEFAULT_UNITS)
COORDINATE_UNITS = ("um", "nm", "mm", "px")  # the units data.base.normalise_units gives
# a point's place in the inverse pole figure (stereographic), not references.npz's IPF colour maps `ipf_x`, `ipf_y`
IPF_XY = ("ipf_plane_x", "ipf_plane_y")
FAMILY = "family"  # a pole figure's family of planes, `{111}`
POLE = "pole"  # one plane of that family, `(1 -1 1)` (Miller-Bravais `(2 -1 -1 0)` for hexagonal crystals)
POLE_XY = ("pole_plane_x", "pole_plane_y")  # where its pole lies in the pole figure (stereographic, upper hemisphere)
ANGLE_BIN = ("angle_low_deg", "angle_high_deg")  # a misorientation-angle bin's edges, degrees
CORRELATED = ("correlated_count", "correlated_frequency")  # neighbours' misorientations in the bin: pairs, share
UNCORRELATED = ("uncorrelated_count", "uncorrelated_frequency")  # random pairs' misorientations in the bin
MACKENZIE_FREQUENCY = "mackenzie_frequency"  # random cubic orientations' share in the bin (Mackenzie)


def coordinate_names(units: str | None) -> tuple[str, str]:
    """`x_um`, `y_um`: scan coordinates with their unit in the name (micrometres unless the scan says otherwise)."""
    units = units or DEFAULT_UNITS
    return f"x_{units}", f"y_{units}"


def area_name(units: str | None) -> str:
    """`area_um2`: a grain's area in the scan's unit squared."""
    return f"area_{units or DEFAULT_UNITS}2"


def ecd_name(units: str | None) -> str:
    """`ecd_um`: a grain's equivalent circle diameter in the scan's unit."""
    return f"ecd_{units or DEFAULT_UNITS}"


def distance_name(units: str | None) -> str:
    """`distance_um`: the distance along a line profile, in the scan's unit."""
    return f"distance_{units or DEFAULT_UNITS}"


def latent_name(dimension: int) -> str:
    return f"latent_{int(dimension)}"


def embedding_name(method: str, axis: int) -> str:
    """`umap_0`, `umap_1`, `pca_0`: an embedding's axes, from 0, named by its method in lower case."""
    return f"{method.lower()}_{int(axis)}"


def plain_coordinates(table):
    """The DataFrame with its coordinate columns named `x`, `y` whichever way it spells them (`x`, `y` or
    `x_<unit>`, `y_<unit>`, e.g. `x_um`); as it is when it has neither or both."""
    columns = set(table.columns)
    if {"x", "y"} <= columns:
        return table
    for units in COORDINATE_UNITS:
        x_name, y_name = coordinate_names(units)
        if {x_name, y_name} <= columns:
            return table.rename(columns={x_name: "x", y_name: "y"})
    return table


def beside(head, table):
    """One DataFrame: `head`'s columns, then `table`'s (row for row, its index dropped), a name `head` has already
    (a cutout's own `row`) taken as `source_<name>`."""
    import pandas as pd

    own = table.reset_index(drop=True).rename(columns=lambda name: f"source_{name}" if name in head.columns else name)
    return pd.concat([head.reset_index(drop=True), own], axis=1)
