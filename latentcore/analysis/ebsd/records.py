"""What the command line, the app and the reports know of the EBSD analyses without running them: their parameters,
each declared once (`latentcore.parameters`' `Parameter`: name, label, default, range or choices, unit, help), and the
reference maps' records. A module of its own that loads no numerical library, so a command's parser and the app's
widgets read them without importing the analyses (`orientation`, `scan_references`, `grains`, `misorientations`,
`pole_figures` compute with them).

    BOUNDARY_DEG, KAM_THRESHOLD, KAM_ORDER, TWIN_TOLERANCE     the orientation maps' parameters
    MIN_GRAIN_POINTS, FILL_NOT_INDEXED                         MTEX's grain reconstruction options, both off
    SCHMID_FAMILY, LOADING_DIRECTION                           the Schmid factor map's
    ORIENTATION_MAP_PARAMETERS, GRAIN_PARAMETERS               each command's and page's `Parameters`
    REFERENCE_MAPS["kam"]       one record per map, in the order everything shows them: its title, look (how
                                `scan_references.map_figure` draws it), whether it comes from the patterns, whether it
                                holds labels, how it is made (`described`)
    kernel_offsets(2)           the KAM kernel's (row, column) offsets, one per pair of opposite neighbours
    UNCORRELATED_PAIRS, PAIRS_RANGE, SEED, DIRECTIONS           the orientations panel's misorientation sample and IPFs
"""
from __future__ import annotations

import dataclasses

from ...errors import InputError
from ...parameters import Parameter, Values, joined

DEFAULT_BOUNDARY_DEG = 5.0
# MTEX's KAM has no threshold unless given one; its documentation's KAM maps use 2.5 degrees
DEFAULT_KAM_THRESHOLD_DEG = 2.5
# MTEX's KAM(ebsd, 'order', n): the pixels within n steps through edge neighbours (`kernel_offsets`)
KAM_ORDERS = (1, 2, 3)
DEFAULT_KAM_ORDER = 1
HIGH_ANGLE_DEG = 15.0  # above it a boundary is high-angle (MTEX's and most vendors' usual split)
BRANDON_SIGMA3_DEG = 15.0 / 3 ** 0.5  # Brandon's criterion: 15° / sqrt(Σ), 8.66° for Σ3 (a float, not numpy's)


# The parameters the command line, the app and the reports share, each declared once (`latentcore.parameters`)
BOUNDARY_DEG = Parameter(
    "boundary_deg", "Boundary angle (°)", DEFAULT_BOUNDARY_DEG, low=0.1, high=180.0, unit="degrees", step=0.5,
    help="misorientation (symmetry-reduced) above which neighbours are on a boundary, and grains part")
KAM_THRESHOLD = Parameter(
    "kam_threshold_deg", "KAM threshold (°)", DEFAULT_KAM_THRESHOLD_DEG, low=0.1, high=180.0, unit="degrees",
    step=0.5, help="kernel average misorientation: neighbours misoriented by more than this are left out, as across a "
                   "grain boundary; the default is the threshold MTEX's KAM documentation uses (MTEX's function itself "
                   "has none unless given one)")
KAM_ORDER = Parameter(
    "kam_order", "KAM order", DEFAULT_KAM_ORDER, choices=KAM_ORDERS,
    words=lambda order: f"{order} ({len(kernel_offsets(order)) * 2} neighbours)",
    help="the kernel average misorientation's neighbours: order 1, the 4 sharing an edge; 2, the 12 within two edge "
         "steps (MTEX's KAM(ebsd, 'order', 2) on a square grid: the 4, their diagonals and the pixels two steps along "
         "a row or column); 3, the 24 within three")
TWIN_TOLERANCE = Parameter(
    "twin_tolerance_deg", "Σ3 tolerance (°)", BRANDON_SIGMA3_DEG, low=0.1, high=15.0, unit="degrees", step=0.5,
    help="a boundary of a cubic (m-3m) phase within this many degrees of 60° about <111> (symmetry-reduced) is a Σ3 "
         "twin boundary; the default is Brandon's criterion, 15° / sqrt(3)")
MIN_GRAIN_POINTS = Parameter(
    "min_grain_points", "Minimum grain size (points)", 0, low=0, high=1_000_000, unit="points", step=1,
    help="grains of fewer indexed points than this are dissolved: their pixels go to the neighbouring grains, each to "
         "the grain most of its edge neighbours are in, repeated until every such pixel has one (MTEX: "
         "grains(grains.grainSize < N) = [], then calcGrains again); 0: off")
FILL_NOT_INDEXED = Parameter(
    "fill_not_indexed", "Fill not-indexed pixels", False,
    help="each not-indexed pixel joins the grain most of its edge neighbours in a grain are in, repeated until none "
         "next to a grain is left (MTEX's 'fill'); they count in a grain's points, area and latents, never in its "
         "orientation, GOS or KAM")

# a slip system family: its name, one system's plane normal and slip direction (the others are their symmetry
# equivalents under m-3m: `orientation.slip_systems`)
SLIP_FAMILIES = {"fcc": ("{111}<110>", (1, 1, 1), (1, -1, 0)), "bcc": ("{110}<111>", (1, 1, 0), (1, -1, 1))}
SCHMID_FAMILY = Parameter(
    "schmid_family", "Slip systems", "fcc", choices=tuple(SLIP_FAMILIES),
    words=lambda family: f"{family} {SLIP_FAMILIES[family][0]}",
    help="the 12 slip systems over which the Schmid factor map takes each cubic point's largest factor")
LOADING_DIRECTION = Parameter(
    "loading_direction", "Loading direction", (1.0, 0.0, 0.0), step=1.0,
    help="the Schmid factor map's uniaxial loading direction, in the sample frame of the IPF maps' x, y and z")
# the grain table's (`grains`): its grains, KAM and twins as the maps make them, and MTEX's reconstruction options
GRAIN_PARAMETERS = joined("grains", BOUNDARY_DEG, KAM_THRESHOLD, KAM_ORDER, TWIN_TOLERANCE, MIN_GRAIN_POINTS,
                          FILL_NOT_INDEXED)

# the orientations panel's misorientation-angle distribution (`misorientations`) and inverse pole figures
UNCORRELATED_PAIRS = 100_000  # random pairs measured at most; fewer points' every pair
PAIRS_RANGE = (1, 10_000_000)  # a sample's size: ten million pairs take about a gigabyte while measured
SEED = 0
DIRECTIONS = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}  # the sample directions an IPF is drawn for


def kernel_offsets(order: int = DEFAULT_KAM_ORDER) -> list[tuple[int, int]]:
    """The (row, column) offsets of a KAM kernel of `order`, one of each opposite pair (the pair counts for both
    its points): the pixels within `order` steps through edge neighbours, |dr| + |dc| <= order (MTEX's square-grid
    KAM weights), 2 order (order + 1) pixels around each point: 4 for order 1, 12 for order 2."""
    if order not in KAM_ORDERS:
        raise InputError(f"KAM order {order!r}: choose one of {', '.join(map(str, KAM_ORDERS))}")
    return [(dr, dc) for dr in range(order + 1) for dc in range(-order, order + 1)
            if 0 < abs(dr) + abs(dc) <= order and (dr > 0 or dc > 0)]


def kam_neighbours(order: int = DEFAULT_KAM_ORDER) -> str:
    """The kernel of `order` in words: "the 4 edge neighbours", "the 12 pixels within 2 edge steps"."""
    count = 2 * len(kernel_offsets(order))
    return "the 4 edge neighbours" if order == 1 else f"the {count} pixels within {order} edge steps"


DEFAULT_VBSE_PERCENTILES = (1.0, 99.0)  # the VBSE image's contrast stretch: each channel's percentiles to 0 and 1


@dataclasses.dataclass(frozen=True)
class ReferenceMap:
    """What every page, figure, PNG, ranking and help text knows of one reference map (`scan_references` makes
    it)."""

    name: str  # its key in `ScanReferences.maps` and references.npz
    title: str  # figures, pickers and downloads
    short: str  # in lists: "VBSE, IQ and ADP"
    look: str  # how `map_figure` draws it: "ipf" (RGB with the IPF colour key), "rgb", "phase" (a legend),
    # "grains" (the palette), "boundaries" (lines over the scan in grey), "boundary_classes" (lines by class: low-angle,
    # high-angle, Σ3 twins, with a legend) or "scalar" (a colour bar)
    value_name: str = ""  # a scalar map's colour bar title
    colorscale: str | tuple = "Gray"
    from_patterns: bool = False  # made in the pass over the patterns (VBSE, IQ, ADP), not from the orientations
    labels: bool = False  # ids, not values: ranked as labels (ARI, NMI), never correlated
    parameters: tuple = ()  # the `Parameter`s it is made with (`ORIENTATION_MAP_PARAMETERS` gathers every map's)
    about: str = ""  # how it is made, said under it in the app: filled in by `described` with each parameter's
    # value ({kam_order}, {boundary_deg:g}) and its words ({kam_order_said}: "2 (12 neighbours)"), {kam_neighbours},
    # {high_angle_deg}, {vbse_low}, {vbse_high}

    def described(self, parameters: Values | None = None, vbse_percentiles=DEFAULT_VBSE_PERCENTILES) -> str:
        """`about` for the maps' `parameters` (an `ORIENTATION_MAP_PARAMETERS` value; None: the defaults)."""
        values = (parameters or ORIENTATION_MAP_PARAMETERS()).as_dict()
        said = {f"{p.name}_said": p.said(values[p.name]) for p in ORIENTATION_MAP_PARAMETERS}
        low, high = vbse_percentiles
        return self.about.format(**values, **said, kam_neighbours=kam_neighbours(values["kam_order"]),
                                 high_angle_deg=HIGH_ANGLE_DEG, vbse_low=low, vbse_high=high)


# Every reference map, in the order the pages, the PNGs and the Rank page's list show them.
REFERENCE_MAPS = {m.name: m for m in [
    ReferenceMap("ipf_z", "IPF z", "IPF z", "ipf"),
    ReferenceMap("ipf_x", "IPF x", "IPF x", "ipf"),
    ReferenceMap("ipf_y", "IPF y", "IPF y", "ipf"),
    ReferenceMap("phase", "Phases", "phases", "phase"),
    ReferenceMap("boundaries", "Grain boundaries", "boundaries", "boundaries", parameters=(BOUNDARY_DEG,)),
    ReferenceMap("twin_boundaries", "Twin boundaries (Σ3)", "twin boundaries", "boundary_classes",
                 parameters=(BOUNDARY_DEG, TWIN_TOLERANCE),
                 about="Boundaries by class: Σ3 twins (red: within {twin_tolerance_deg:.2f}° of 60° about <111>, "
                       "symmetry-reduced; cubic phases only), other high-angle ones (black: above {high_angle_deg:g}° "
                       "or between phases) and low-angle ones (grey: {boundary_deg:g}° to {high_angle_deg:g}°). The "
                       "map's values (references.npz) are the pixels beside a Σ3 boundary."),
    ReferenceMap("grains", "Grains", "grains", "grains", labels=True, parameters=(BOUNDARY_DEG,),
                 about="Grains: points joined through edge neighbours misoriented by at most {boundary_deg:g}° (the "
                       "boundary angle); hover a grain for its size. Grey: not indexed."),
    ReferenceMap("kam", "Kernel average misorientation", "KAM", "scalar", "KAM (°)", "Viridis",
                 parameters=(KAM_THRESHOLD, KAM_ORDER),
                 about="Kernel average misorientation of order {kam_order}: the mean misorientation (°, "
                       "symmetry-reduced) of each point to {kam_neighbours}, leaving out those beyond "
                       "{kam_threshold_deg:g}° (grain boundaries) and those not indexed; blank where none is left."),
    ReferenceMap("schmid", "Schmid factor", "Schmid factor", "scalar", "Schmid factor", "Cividis",
                 parameters=(SCHMID_FAMILY, LOADING_DIRECTION),
                 about="The largest Schmid factor |cos φ cos λ| over the 12 {schmid_family_said} slip systems for "
                       "uniaxial loading along {loading_direction_said} (sample frame): φ and λ are the angles of the "
                       "loading direction to a system's plane normal and to its slip direction; 0 to 0.5. Cubic "
                       "(m-3m) phases only; blank elsewhere."),
    ReferenceMap("indexed", "Indexed", "indexed", "scalar", "indexed", ((0, "#9e9e9e"), (1, "#eeeeee"))),
    ReferenceMap("vbse_rgb", "Virtual BSE (RGB)", "VBSE", "rgb", from_patterns=True,
                 about="Each colour channel stretched from its {vbse_low:g}th percentile (black) to its {vbse_high:g}th "
                       "(full), so a few bright points do not darken the image."),
    ReferenceMap("iq", "Image quality", "IQ", "scalar", "IQ", from_patterns=True),
    ReferenceMap("adp", "Average neighbour dot product", "ADP", "scalar", "ADP", from_patterns=True),
]}
# the parameters of every map, each once, in the maps' order: the command's options, the page's widgets, the report
ORIENTATION_MAP_PARAMETERS = joined("orientation maps", *(m.parameters for m in REFERENCE_MAPS.values()))
LABEL_MAPS = tuple(name for name, m in REFERENCE_MAPS.items() if m.labels)  # grain ids
PATTERN_MAPS = tuple(name for name, m in REFERENCE_MAPS.items() if m.from_patterns)  # VBSE, IQ, ADP
ORIENTATION_MAPS = tuple(name for name in REFERENCE_MAPS if name not in PATTERN_MAPS)


def listed(names) -> str:
    """The maps' short names as a list in words: "VBSE, IQ and ADP"."""
    shorts = [REFERENCE_MAPS[name].short for name in names]
    return ", ".join(shorts[:-1]) + f" and {shorts[-1]}" if len(shorts) > 1 else "".join(shorts)


def in_order(maps: dict) -> dict:
    """`maps` in the order of `REFERENCE_MAPS` (names it does not hold last)."""
    order = list(REFERENCE_MAPS)
    return dict(sorted(maps.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
