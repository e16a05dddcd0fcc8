"""Two latents files of one source compared (the Compare page): their 2-D embeddings side by side, linked row by
row (a row is the same source row in both: a selection in one shows in the other), the agreement of their k-means
clusterings (adjusted Rand index, `latentcore.analysis.labels.probe.clustering_agreement`) and each one's probe accuracy on
the workspace's labels (`latentcore.analysis.labels.probe.compare_latents`, the CLI's `compare`). Only latents of
the same source (the same source SHA-256 recorded) are offered, each named by its source, model and rows.

    other_stamp, label = pick_other(lat)           # another latents file of the source, or stops
    files_table(lat.path, other_stamp[0])          # the two files: source, model, rows
    params = embedding_params()                    # method, neighbours, min distance, seed
    colour = colour_choice(lat_stamp, other_stamp, n_rows)
    linked_embeddings(coords_a, coords_b, colour, names)
    agreement(lat_stamp, other_stamp, lat)
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from latentcore.analysis.labels.labelled import codes_per_row
from latentcore.analysis.labels.probe import check_one_source
from latentcore.errors import LatentError

from ..compute import cluster_runs, labelling, sources
from ..figures import plots
from ..session import defaults, lifecycle, state
from . import common, labels, point_panel, selection

METHODS = ["umap", "pca"]  # the embeddings offered
LABELS, KMEANS_A, KMEANS_B, NONE = "labels", "k-means clusters of the first file", \
    "k-means clusters of the second file", "none"


def other_latents(lat) -> list[Path]:
    """The workspace's other latents files of the same source (another model's, the same model before
    training...): those recording the source SHA-256 the session's latents record."""
    here = Path(lat.path).resolve()
    digest = lat.attrs.get("source_sha256")
    found = sorted(p for p in lifecycle.workdir().rglob("*_latents.h5") if p.resolve() != here)
    return [p for p in found if digest and _summary(p).get("source_sha256") == digest]


def _summary(path: Path) -> dict:
    try:
        return sources.latents_summary(sources.stamp(path))
    except (LatentError, OSError):  # an unreadable file is not offered; the pages that open it say why
        return {}


def pick_other(lat) -> tuple[tuple, str]:
    """The second latents file, chosen among the workspace's others of the same source, each named by its source,
    model and rows, and checked to be of that source (the same rows at the same coordinates); the page stops with
    the reason otherwise."""
    others = other_latents(lat)
    if not others:
        st.info(f"No other latents of {sources.latents_label(lat.path)} in this workspace: extract the same data "
                "with another model (or the same model after training) on the Extract page, then come back.",
                icon=":material/info:")
        st.stop()
    names, first = {}, sources.latents_label(lat.path)
    for path in others:  # two files of one source and model (two poolings): their folders tell them apart
        label = sources.latents_label(path)
        names[label if label not in (first, *names) else f"{label} ({path.parent.name})"] = path
    name = st.selectbox("Second latents file", list(names), key="compare_other",
                        index=defaults.setting_index("compare_other", next(iter(names)), names),
                        help=f"Latents of the same source as the session's ({first}, "
                             "the first file)")
    other_stamp = sources.stamp(names[name])
    with common.user_errors():
        check_one_source(lat, sources.latents(other_stamp), lat.path, names[name])
    return other_stamp, name


def files_table(first: Path, second: Path):
    """The two files compared: which is first, the source, the model and the rows of each, and the file itself."""
    rows = []
    for role, path in (("first", Path(first)), ("second", Path(second))):
        summary = sources.latents_summary(sources.stamp(path))
        rows.append({"": role, "source": summary["source"], "model": summary["model"] or "not recorded",
                     "rows": f"{summary['rows']:,}", "file": path.name})
    st.dataframe(rows, hide_index=True, width="stretch")


def embedding_params() -> tuple[str, int, float, int]:
    with st.expander("Embedding parameters (both files)", icon=":material/tune:"):
        cols = st.columns(4)
        method = cols[0].selectbox("Method", METHODS, key="compare_method",
                                   index=defaults.setting_index("compare_method", METHODS[0], METHODS))
        neighbours = cols[1].number_input("Neighbours", 2, 200,
                                          defaults.setting("compare_neighbors", 15, bounds=(2, 200)),
                                          key="compare_neighbors")
        min_dist = cols[2].number_input("Min distance", 0.0, 1.0,
                                        defaults.setting("compare_min_dist", 0.1, bounds=(0, 1)),
                                        step=0.05, key="compare_min_dist")
        seed = cols[3].number_input("Seed", 0, 2**31 - 1, defaults.setting("compare_seed", 0, bounds=(0, 2**31 - 1)),
                                    key="compare_seed")
    return method, int(neighbours), float(min_dist), int(seed)


def colour_choice(lat_stamp: tuple, other_stamp: tuple, n_rows: int) -> plots.Colour:
    """One colour per row, the same in both embeddings: the labels, or one file's k-means clusters."""
    labelled = state.labels()
    options = ([LABELS] if len(labelled.rows) else []) + [KMEANS_A, KMEANS_B, NONE]
    cols = st.columns([2, 1])
    choice = cols[0].selectbox("Colour both by", options, key="compare_colour",
                               index=defaults.setting_index("compare_colour", options[0], options))
    if choice == LABELS:
        return plots.label_colour(codes_per_row(labelled, n_rows), labelled.classes)
    if choice == NONE:
        return plots.neutral_colour(n_rows)
    k = cols[1].number_input("Clusters (k)", 2, 30, defaults.setting("compare_colour_k", 6, bounds=(2, 30)),
                             key="compare_colour_k")
    chosen = lat_stamp if choice == KMEANS_A else other_stamp
    return plots.categorical_colour(cluster_runs.kmeans_labels(chosen, int(k)), "cluster")


@common.linked_panels
def linked_embeddings(coords_a, coords_b, colour, names: tuple[str, str], method: str):
    """The two embeddings side by side (point panels of one group, linked in the browser; binned above
    `point_panel.geometry.MAX_POINTS` rows); a selection in either is the session's selection, drawn in both."""
    keys, n = ("compare_a", "compare_b"), len(coords_a)
    panels = {key: selection.zoomed_points(key, selection.scatter_points(coords[:, 0], coords[:, 1]))
              for key, coords in zip(keys, (coords_a, coords_b))}
    selection.take_shapes({key: geometry for key, (geometry, _, _) in panels.items()})
    selection.made_elsewhere("compare", "point")
    chosen = state.selection()
    titles = {"x_title": f"{method.upper()} 1", "y_title": f"{method.upper()} 2"}
    for key, name, column in zip(keys, names, st.columns(2)):
        with column:
            point_panel.draw(key, panels[key], colour, group="compare", title=name, **titles)
    point_panel.overlays("compare", panels, n, chosen)
    st.caption(f"Selected: {common.counted(len(chosen), 'row')}, highlighted in both embeddings (the same source rows)."
               if len(chosen) else "Select points in either embedding (click, or Box and Lasso above it; Shift "
               "adds, Alt removes): the same rows are highlighted in the other.")


def agreement(lat_stamp: tuple, other_stamp: tuple, lat, other_name: str):
    """The ARI of the two files' k-means clusterings; with labels of two classes or more, each file's probe
    accuracy on them (the same labels, folds and smoothing)."""
    labelled = state.labels()
    problem = labels.class_problem(labelled) if len(labelled.rows) else "no labels yet"
    on_scan = lat.x is not None
    cols = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
    k = cols[0].number_input("Clusters (k) of each file", 2, 30, defaults.setting(
        "compare_k", len(labelled.classes) if problem is None else 6, bounds=(2, 30)), key="compare_k")
    smooth = cols[1].number_input("Smoothing sigma (grid steps)", 0.0, 10.0,
                                  defaults.setting("compare_smooth", 0.0, bounds=(0, 10)), step=0.5,
                                  key="compare_smooth", disabled=not on_scan)
    probes = list(labels.METHODS)
    method = cols[2].selectbox("Probe", probes, format_func=labels.METHODS.get, key="compare_probe",
                               index=defaults.setting_index("compare_probe", probes[0], probes),
                               disabled=problem is not None)
    if not cols[3].toggle("Compare", key="compare_run"):
        return
    with common.user_errors():
        if problem is None:
            labels_stamp = sources.stamp(labels.labels_file(lat, labelled, lifecycle.workdir("labels")))
            result = labelling.compare_latents(lat_stamp, other_stamp, labels_stamp, method, float(smooth), int(k))
        else:
            result = labelling.clustering_agreement(lat_stamp, other_stamp, int(k), float(smooth))
    cols = st.columns(3)
    cols[0].metric(f"Agreement of their k-means clusterings (ARI, k = {result['n_clusters']})", f"{result['ari']:.3f}",
                   help="Adjusted Rand index: 1 the same partition of the rows, about 0 no more alike than chance")
    if problem is None:
        cols[1].metric(f"Probe accuracy: {sources.latents_label(lat.path)}", f"{result['a']['accuracy']:.3f}")
        cols[2].metric(f"Probe accuracy: {other_name}", f"{result['b']['accuracy']:.3f}")
        st.caption(f"The same {len(labelled.rows):,} labelled rows, {labels.METHODS[method]}, stratified seeded folds"
                   + (f", smoothing sigma {float(smooth):g}" if smooth else "") + ".")
    else:
        cols[1].caption(f"Probe accuracies wait for labels of two classes of two rows or more ({problem}): label "
                        "selections on the UMAP, Clusters or Latent maps page.")
