"""The app's pages, one record each (`Page`: its title and icon in the navigation, the widgets the workspace keeps
of it, the panels a selection is made on), and every list about pages derived from them: app.py's navigation, the
pages the shared ROI and the quality filter apply to (`ROI_PAGES`, `QUALITY_PAGES`), where a selection was made
(`ORIGINS`), the keys every page saves (`SAVED`).

`PAGES` holds one `Page` per page, whose `saved` holds the keys of its own widgets, and those of the shared
widgets it draws, each named by the function beside that widget's keys below (`smoothing("maps")`: `maps_smooth`, drawn by
`ui.widgets.params.smooth_sigma("maps")`). A key not declared here is not saved (buttons, uploads, charts,
sign-in and S3 fields), and a tampered `state.json` cannot set one. A setting tied to the data (a dimension,
a reference map, the ROI) is declared `tied`: it is dropped, and its widget reset, when the data change. A
range slider's key is declared `ranges` too: JSON keeps its value as a list, the widget takes a tuple.

The declarations live here, below the pages and widgets that draw them, because the workspace checks what
it restores before any page runs. A new widget of a page is declared in its page's entry, or in `LEFT_OUT`
when it is not to be saved (a test draws every page and finds each of their value widgets in one or the other).
"""
from __future__ import annotations

import dataclasses
import functools
import operator

from latentcore.analysis.ebsd.records import BOUNDARY_DEG, GRAIN_PARAMETERS, ORIENTATION_MAP_PARAMETERS
from latentcore.analysis.quality import QUALITY_MAPS
from latentcore.parameters import AXES


@dataclasses.dataclass(frozen=True)
class Saved:
    """Widget keys saved in the workspace: `keys` every one; `data` those tied to the data; `ranges` those of
    range sliders. Declarations add up with `|`."""

    keys: frozenset[str] = frozenset()
    data: frozenset[str] = frozenset()
    ranges: frozenset[str] = frozenset()

    def __or__(self, other: Saved) -> Saved:
        return Saved(self.keys | other.keys, self.data | other.data, self.ranges | other.ranges)


def keep(*keys: str) -> Saved:
    """Settings kept across pages, reloads and new data."""
    return Saved(frozenset(keys))


def tied(*keys: str) -> Saved:
    """Settings tied to the data: dropped when the data change."""
    return Saved(frozenset(keys), frozenset(keys))


def _suffixed(key: str, *suffixes: str) -> tuple[str, ...]:
    return tuple(f"{key}_{suffix}" for suffix in suffixes)


# -- the widgets several pages draw, by the key their page gives them ----------------------------------

# `ui.widgets.common.roi_sliders` on the analysis pages: one ROI for all, and the page that set it last
SHARED_ROI = Saved(frozenset({"roi_x", "roi_y"}), frozenset({"roi_x", "roi_y"}), frozenset({"roi_x", "roi_y"})) \
    | keep("roi_origin")


# `ui.widgets.quality.shared_filter` on the pages it applies to: one quality filter for all, a threshold per map


def quality_keys(name: str) -> tuple[str, str]:
    """The widget keys of a quality map's threshold: whether it is on, and its value."""
    return f"quality_{name}_on", f"quality_{name}"


SHARED_QUALITY = tied(*(key for name in QUALITY_MAPS for key in quality_keys(name)))


def own_roi(key: str) -> Saved:
    """`ui.widgets.common.roi_sliders` with a key of its own (the Train page's)."""
    keys = frozenset(_suffixed(key, "roi_x", "roi_y"))
    return Saved(keys, keys, keys)


def smoothing(key: str) -> Saved:
    """`ui.widgets.params.smooth_sigma`."""
    return keep(f"{key}_smooth")


def cluster_params(key: str) -> Saved:
    """`ui.widgets.params.cluster_params`: every method's parameters (k-means, GMM, DBSCAN, HDBSCAN)."""
    return (keep(*_suffixed(key, "auto", "k", "krange", "criterion", "eps", "min_samples", "mcs", "ms"))
            | Saved(ranges=frozenset({f"{key}_krange"})))


def colour_scale(key: str) -> Saved:
    """`ui.widgets.scales.colour_scale`."""
    return keep(*_suffixed(key, "cmap", "fixed", "vmin", "vmax"))


def parameter_keys(page: str, parameter) -> tuple[str, ...]:
    """The widget keys of a declared parameter (`latentcore.parameters.Parameter`) on a page, drawn by
    `ui.widgets.params.parameter`: `<page>_<name>`; a direction's three numbers `<page>_<name>_x`, `_y`, `_z`."""
    key = f"{page}_{parameter.name}"
    return _suffixed(key, *AXES) if parameter.kind == "vector" else (key,)


def parameters(page: str, *groups) -> Saved:
    """`ui.widgets.params.parameter` for every parameter of `groups` (each a group or a list of parameters)."""
    return keep(*(key for group in groups for p in group for key in parameter_keys(page, p)))


def boundaries(page: str) -> Saved:
    """`ui.widgets.references.boundary_switch` and the boundary angle (`boundary_parameters`)."""
    return keep(f"{page}_boundaries") | parameters(page, [BOUNDARY_DEG])


def row_query(key: str) -> Saved:
    """`ui.widgets.selection.row_query`."""
    return keep(*_suffixed(key, "query_by", "query_row", "query_x", "query_y")) | tied(f"{key}_query_source")


def mean_pattern(key: str) -> Saved:
    """`ui.widgets.explore.mean_panel` and the `gallery.mean_pattern` it shows."""
    return keep(*_suffixed(key, "show", "of"))


def line_profile(page: str) -> Saved:
    """`ui.widgets.line_profile.profile_panel`: the latent dimensions along the line."""
    return tied(f"{page}_profile_dims")


def orientations(key: str) -> Saved:
    """`ui.widgets.orientations.orientations_panel`: shown or not, the sample direction, the look and whether the
    misorientation angles show; of what and the phase are the data's."""
    return keep(*_suffixed(key, "orient_show", "orient_direction", "orient_look", "orient_miso")) | tied(
        *_suffixed(key, "orient_of", "orient_phase", "orient_source"))


def gallery(key: str) -> Saved:
    """`ui.widgets.gallery.paged_gallery`: the page of images shown."""
    return keep(f"{key}_page")


# -- the pages --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Page:
    """One page of the app (`pages/<key>.py`): its title and icon in the navigation, the widgets the workspace keeps
    (`saved`), and where on it a selection is made (`origins`: a point panel's or a picker's key -> what the page
    calls it). It shares the ROI and the quality filter when it saves their widgets."""

    title: str
    icon: str
    saved: Saved = Saved()
    origins: tuple[tuple[str, str], ...] = ()

    @property
    def shares_roi(self) -> bool:
        return SHARED_ROI.keys <= self.saved.keys

    @property
    def shares_quality(self) -> bool:
        return SHARED_QUALITY.keys <= self.saved.keys


PAGES: dict[str, Page] = {  # in the navigation's order
    "data": Page("Data", ":material/folder_open:"),
    "extract": Page("Extract", ":material/memory:", keep(
        "extract_model", "extract_arch", "extract_options", "extract_device", "extract_pool", "extract_batch",
        "extract_overwrite") | tied("extract_partitions", "extract_study_files", "extract_study_name")),
    "umap": Page("UMAP", ":material/scatter_plot:", (
        keep("umap_method", "umap_neighbors", "umap_min_dist", "umap_seed", "umap_k")
        | tied("umap_colour", "umap_dim", "umap_kmeans", "umap_sources", "umap_selected_source",
               "umap_neighbours_source")  # a study's: the maps shown, the source whose images show
        | colour_scale("umap_scale") | boundaries("umap")
        | row_query("umap") | mean_pattern("umap_mean") | gallery("umap_selected") | gallery("umap_neighbours")
        | line_profile("umap") | orientations("umap") | SHARED_QUALITY),
        (("umap_scatter", "the embedding"), ("umap_map", "the scan map"),
         ("umap_query", "the nearest-neighbours query"))),
    "maps": Page("Latent maps", ":material/grid_on:", (
        keep("maps_columns", "maps_nan", "maps_scale_bar", "maps_by_label", "maps_ref_patterns", "maps_ref_name",
             "maps_study_grains")
        | parameters("maps", ORIENTATION_MAP_PARAMETERS, GRAIN_PARAMETERS)  # the reference maps' and grain table's
        | tied("maps_dims", "maps_pick_dim", "maps_grain") | SHARED_ROI | smoothing("maps")
        | colour_scale("maps_scale") | boundaries("maps") | line_profile("maps")),
        (("maps_picker", "the click map"), ("maps_labels_map", "the labels map"),
         ("maps_grains", "the grain picker"))),
    "clusters": Page("Clusters", ":material/bubble_chart:", (
        keep("clusters_method", "clusters_features", "clusters_by_label", "clusters_shade")
        | tied("clusters_dim") | SHARED_ROI | smoothing("clusters") | cluster_params("clusters")
        | boundaries("clusters") | mean_pattern("clusters_mean") | line_profile("clusters")
        | orientations("clusters") | SHARED_QUALITY),
        (("clusters_map", "the scan map"), ("clusters_scatter", "the scatter"))),
    "compare": Page("Compare", ":material/compare_arrows:", (
        keep("compare_method", "compare_neighbors", "compare_min_dist", "compare_seed", "compare_colour",
             "compare_colour_k", "compare_k", "compare_smooth", "compare_probe", "compare_match_means")
        | tied("compare_other", "compare_match_pair")),
        (("compare_a", "the first embedding"), ("compare_b", "the second embedding"))),
    "rank": Page("Rank", ":material/leaderboard:", (
        keep("rank_components", "rank_patterns", "rank_npz", "rank_metrics", "rank_top") | tied("rank_references")
        | SHARED_ROI | SHARED_QUALITY)),
    "train": Page("Train", ":material/model_training:", (
        keep("train_data", "train_device", "train_beta", "train_lr", "train_static_bg", "train_dynamic_bg",
             "train_average", "train_bc_min", "train_use_roi")
        | tied("train_latent_dim", "train_input_size", "train_channels", "train_epochs", "train_batch",
               "train_per_epoch", "train_files")  # sized for the data
        | own_roi("train"))),
}

ROI_PAGES = {key: page.title for key, page in PAGES.items() if page.shares_roi}  # one ROI: set on one, on all
QUALITY_PAGES = {key: page.title for key, page in PAGES.items() if page.shares_quality}  # one filter, likewise
ORIGINS = {origin: (page.title, called) for page in PAGES.values() for origin, called in page.origins}
SAVED: Saved = functools.reduce(operator.or_, (page.saved for page in PAGES.values()))  # every page's, together

# The pages' value widgets left out on purpose (tests/test_pages_state.py checks that every other one is saved):
# the band-contrast pickers set the session's band contrast, which the workspace keeps itself; "use band
# contrast" for training is chosen afresh; a comparison runs when asked, never by itself on a reload; each training
# run's model name is new (the data's stem and the time).
LEFT_OUT = frozenset({"clusters_bc", "train_use_bc", "compare_run", "train_name"})
PAGE_PREFIXES = (*(f"{key}_" for key, page in PAGES.items() if page.saved.keys), "roi_", "quality_")  # saving pages
