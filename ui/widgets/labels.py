"""The labels panel: name the selection, keep a clustering as labels, edit the label list, predict the labels
over every row (linear probe or kNN, `latentcore.analysis.labels.probe`; `unknown` below a confidence
threshold), download the labels, the predictions and a
training set of the labelled rows' own images, upload a labels table. (Two latents files are compared on the labels
on the Compare page: `ui.widgets.compare`.)

    labels_panel(lat_stamp, lat, chosen, page, clustering=None)   # page: the widgets' keys ("umap", "clusters")

The labels live in the session (`state.labels`: row ids, codes, names) and in the workspace (labels.npz). The CSV
the command line reads (`x,y,label` for scans, `row,label` otherwise) is written into the workspace when a
download, the probe or a comparison needs it and the labels changed since: those read that file, as
`python -m latentcore probe/export/compare` would. Label k (in sorted order) has the k-th cluster colour, on the
UMAP (colour by label), the list and the maps (the Latent maps page's labels map: `maps_panels`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from latentcore.analysis.ebsd.scan_points import row_classes
from latentcore.analysis.labels import labelled as lab
from latentcore.analysis.labels.probe import UNKNOWN, probe_names
from latentcore.analysis.labels.probe_run import fraction_names, labels_of, source_figure_name
from latentcore.columns import LABEL
from latentcore.errors import LatentError
from latentcore.figures import NOISE_GREY, cluster_hue
from latentcore.figures.labels import label_colours

from ..compute import cluster_runs, labelling, sources
from ..figures import png
from ..session import defaults, files, lifecycle, state
from . import common, ebsd_files, explore, study

METHODS = {"logistic": "linear probe (logistic regression)", "knn": "k nearest neighbours"}


def labels_panel(lat_stamp: tuple, lat, chosen, page: str, clustering: dict | None = None):
    """The panel, its widgets' keys starting `labels_{page}`. `clustering` ({"rows", "labels"}: the page's own
    clustering) adds a one-click "keep this clustering as labels"."""
    key = f"labels_{page}"
    if state.take_labels_changed() and common.in_fragment_rerun():
        st.rerun(scope="app")  # a button of this panel changed them: the colours by label are drawn outside
    n_rows = len(sources.stacked_latents(lat_stamp)[0])
    labelled = state.labels()
    if len(labelled.rows) and labelled.rows.max() >= n_rows:
        st.warning(f"The labels name rows up to {labelled.rows.max():,} but these latents have {n_rows:,}: they "
                   "belong to other data.", icon=":material/warning:")
        if st.button("Clear the labels", key=f"{key}_clear_all"):
            state.set_labels(lab.empty_labels())
            st.rerun()
        return
    elsewhere = state.labels_elsewhere()
    if elsewhere is not None:
        st.info(f"The session's labels name the rows of {Path(elsewhere).name}, not of these latents: they are kept "
                "and shown again when those latents are opened. Labels made here replace them.",
                icon=":material/label_off:")
    _label_the_selection(chosen, key)
    if clustering is not None:
        _keep_this_clustering(clustering, key)
    else:
        _keep_a_clustering(lat_stamp, n_rows, key)
    if not len(labelled.rows):
        st.caption("No labels yet: select points and name them, keep a clustering, or upload a labels table.")
    else:
        _label_list(labelled, chosen)
        _edit(labelled, chosen, key)
        problem = class_problem(labelled)
        if problem:
            st.caption(f"Training sets and predictions wait for two labels of two rows or more: {problem}.")
        _downloads(lat, labelled, key, problem)
        _predict(lat_stamp, lat, labelled, key, problem)
        st.caption("Another latents file of this source (another model, or this one before training) is compared "
                   "on these labels on the Compare page.")
    _upload(lat, key)


def class_problem(labelled) -> str | None:
    """Why the labels cannot train a probe or make a training set yet (one class, a class of one row), or None."""
    try:
        lab.check_classes(labelled)
    except LatentError as exc:
        return str(exc)
    return None


# -- labelling --------------------------------------------------------------------------------------

def _label_the_selection(chosen, key: str):
    cols = st.columns([3, 2], vertical_alignment="bottom")
    cols[0].text_input("Label the selection as", key=f"{key}_name", placeholder="e.g. grain 2, boundary, front")
    cols[1].button(f"Label the {len(chosen):,} selected rows", key=f"{key}_assign", disabled=not len(chosen),
                   on_click=_assign, args=(np.asarray(chosen), f"{key}_name"), icon=":material/label:")


def _assign(chosen, name_key: str):
    name = str(defaults.widget_value(name_key) or "").strip()
    if name:
        state.set_labels(lab.with_label(state.labels(), chosen, name))


def _keep_this_clustering(clustering: dict, key: str):
    counts = np.bincount(np.asarray(clustering["labels"]) + 1, minlength=1)  # noise (-1) first: counted, not sorted
    n_clusters, noise = int(np.count_nonzero(counts[1:])), bool(counts[0])
    st.button(f"Keep this clustering as labels: {n_clusters} labels \"cluster k\""
              + (", noise unlabelled" if noise else "") + " (replaces the labels)", key=f"{key}_keep_this",
              disabled=not n_clusters, on_click=_keep, args=(clustering["rows"], clustering["labels"]),
              icon=":material/category:")


def _keep(rows, cluster_labels):
    state.set_labels(lab.from_clustering(rows, cluster_labels))


def _keep_a_clustering(lat_stamp, n_rows: int, key: str):
    with st.popover("Keep a clustering as labels", icon=":material/category:"):
        clusters = state.last_clusters()
        options = (["the Clusters page's clustering"] if clusters else []) + ["k-means of the latents"]
        which = st.radio("Clustering", options, key=f"{key}_clustering")
        k = st.number_input("Clusters (k)", 2, min(30, n_rows), min(6, n_rows), key=f"{key}_k",
                            disabled=which != "k-means of the latents")
        if st.button("Keep this clustering as labels (replaces the labels)", key=f"{key}_keep_clusters"):
            if which == "k-means of the latents":
                rows, labels = np.arange(n_rows), cluster_runs.kmeans_labels(lat_stamp, int(k))
            else:
                rows, labels = np.asarray(clusters["rows"]), np.asarray(clusters["labels"])
            state.set_labels(lab.from_clustering(rows, labels))
            st.rerun()


def _label_list(labelled, chosen):
    counts = labelled.counts()
    inside = labelled.y[np.isin(labelled.rows, chosen)] if len(chosen) else np.empty(0, np.int64)
    in_selection = dict(zip(labelled.classes, np.bincount(inside, minlength=len(labelled.classes)).tolist()))
    colours = label_colours(labelled.classes)
    table = pd.DataFrame({"colour": [colours[c] for c in labelled.classes], "label": labelled.classes,
                          "rows": [counts[c] for c in labelled.classes],
                          "selected": [f"{int(in_selection.get(c, 0)):,} selected / {counts[c]:,}"
                                       for c in labelled.classes]})
    styled = table.style.map(lambda colour: f"background-color: {colour}; color: {colour}", subset=["colour"])
    st.dataframe(styled, hide_index=True, width="stretch")
    st.caption(f"{len(labelled.rows):,} labelled rows in {len(labelled.classes)} labels.")


def _edit(labelled, chosen, key: str):
    cols = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
    old = cols[0].selectbox("Label", labelled.classes, key=f"{key}_pick")
    cols[1].text_input("New name (an existing one merges the two)", key=f"{key}_new_name")
    cols[2].button("Rename", key=f"{key}_rename", on_click=_rename, args=(old, f"{key}_new_name"),
                   icon=":material/edit:")
    cols[3].button("Delete", key=f"{key}_delete", on_click=_delete, args=(old,), icon=":material/delete:")
    inside = int(np.isin(labelled.rows, chosen).sum()) if len(chosen) else 0
    st.button(f"Remove the {inside:,} selected labelled rows from their labels", key=f"{key}_remove_rows",
              disabled=not inside, on_click=_remove_rows, args=(np.asarray(chosen),), icon=":material/label_off:")


def _rename(old: str, name_key: str):
    new = str(defaults.widget_value(name_key) or "").strip()
    if new:
        state.set_labels(lab.renamed(state.labels(), old, new))


def _delete(old: str):
    state.set_labels(lab.without_class(state.labels(), old))


def _remove_rows(chosen):
    state.set_labels(lab.without_rows(state.labels(), chosen))


# -- files ------------------------------------------------------------------------------------------

def labels_file(lat, labelled, folder: Path) -> Path:
    """The labels as the CLI's table, in the workspace; written when asked for (a download, the probe) and the
    labels changed since (its stamp keys the probe and the training set; 1M rows take seconds to write). No session
    state here: a download's deferred callable runs outside the script."""
    path, digest_file = folder / "labels.csv", folder / "labels.csv.digest"
    digest = f"{labelled.digest()} {lat.path}"  # other latents name the same rows otherwise (a study by source)
    if not path.exists() or not digest_file.exists() or digest_file.read_text() != digest:
        table = lat.row_table(labelled.rows).assign(**{LABEL: np.asarray(labelled.names, dtype=str)})
        lab.write_labels(path, table)
        digest_file.write_text(digest)
    return path


def _positions(lat):
    """(x, y) of one scan's rows; (None, None) without coordinates or for a study of several sources (each scan's
    rows on its own grid)."""
    found = lat.sources()
    return (found[0].x, found[0].y) if len(found) == 1 else (None, None)


def _downloads(lat, labelled, key: str, problem: str | None):
    names = lab.labels_names(lat.path)
    cols = st.columns(3)
    out = lifecycle.workdir("labels")
    cols[0].download_button("Labels (CSV)", lambda: labels_file(lat, labelled, out).read_bytes(),
                            file_name=names["labels"], mime="text/csv", key=f"{key}_dl_csv", on_click="ignore",
                            icon=":material/download:")
    if _positions(lat)[0] is not None:  # a scan: the labels as phases of a .ctf or .ang, named as the labels CSV
        ebsd_files.as_phases(lat, row_classes(labelled, len(lat.x)), Path(names["labels"]).stem, out, key,
                             {"latents": lat.path, "classes": lambda: labels_file(lat, labelled, out)})
    source = explore.source_for(lat)
    if source is None:
        cols[1].caption("Training sets need the data file these latents came from, loaded in this session.")
        return
    for col, suffix in ((cols[1], "npz"), (cols[2], "h5")):
        target = str(out / names[f"training_set_{suffix}"])
        col.download_button(f"Training set ({suffix.upper()})",
                            lambda target=target: _training_set(source, labels_file(lat, labelled, out), target,
                                                                lat.path),
                            file_name=Path(target).name, key=f"{key}_dl_{suffix}", on_click="ignore",
                            disabled=problem is not None,
                            icon=":material/download:")


def _training_set(source, labels_path, target, latents) -> bytes:
    labelling.training_set(sources.stamp(source), sources.stamp(labels_path), target, str(latents))
    return Path(target).read_bytes()


def _upload(lat, key: str):
    with st.expander("Upload a labels table", icon=":material/upload:"):
        named = "source," if len(lat.sources()) > 1 else ""  # a study's rows are named by their source first
        upload = st.file_uploader(f"CSV with columns {named}x_um,y_um,label (scans, matched by coordinates; or "
                                  f"{named}x,y,label) or {named}row,label", type=["csv"], key=f"{key}_upload")
        if upload is not None and st.button("Use the uploaded labels (replaces the labels)", key=f"{key}_use_upload"):
            with common.user_errors():
                # not beside labels.csv: the labels download would write over an upload of that name
                path = files.save_upload_once(upload, "labels/uploaded")
                state.set_labels(labels_of(lat, path))
            st.rerun()


# -- prediction -------------------------------------------------------------------------------------

def _predict(lat_stamp, lat, labelled, key: str, problem: str | None):
    st.markdown("**Predict the labels over every row**")
    on_scan = any(source.x is not None for source in lat.sources())  # a study: each scan smoothed on its own grid
    cols = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    method = cols[0].selectbox("Method", list(METHODS), format_func=METHODS.get, key=f"{key}_method")
    smooth = cols[1].number_input("Smoothing sigma (grid steps)", 0.0, 10.0, 0.0, step=0.5, key=f"{key}_smooth",
                                  disabled=not on_scan, help="The same Gaussian over the scan grid as the Clusters "
                                                             "page's smoothing, on the latents first")
    min_confidence = cols[2].slider(
        "Confidence threshold", 0.0, 1.0, 0.0, step=0.05, key=f"{key}_min_confidence",
        help="Rows whose most likely label has a lower probability are `unknown` (grey on the map) instead of "
             "being forced into a label. kNN's probability is the share of the neighbours that vote for the "
             "label. 0: every row gets a label.")
    go = cols[3].toggle("Predict", key=f"{key}_predict", disabled=problem is not None)
    if not go or problem is not None:
        return
    out = lifecycle.results_dir("probe", lat_stamp[0])  # one folder per latents file: two models never share
    quality = state.quality_filter(lat_stamp)  # the pages' quality filter: trained and predicted on the rows it keeps
    with common.user_errors():
        labels_stamp = sources.stamp(labels_file(lat, labelled, lifecycle.workdir("labels")))
        result = labelling.probe(lat_stamp, labels_stamp, method, float(smooth), str(out), float(min_confidence),
                                 quality)
    report = result["report"]
    if quality is not None:
        st.caption(f"Quality filter {quality}: trained on the labelled rows it keeps and predicted over its "
                   f"{report['quality']['kept']:,} kept rows; the others are left out of the predictions.")
    _metrics(report)
    title = f"{METHODS[method]}: cross-validated accuracy {report['cross_validation']['accuracy_mean']:.3f}"
    shown = _predicted_maps(lat, result, title, key)
    if result["fractions"] is not None:  # several sources: how much of each label is in each
        _fractions(result, out, key)
    elif shown is None:
        counts = np.bincount(result["predicted"][result["predicted"] >= 0], minlength=len(result["classes"]))
        st.dataframe(pd.DataFrame({"label": result["classes"] + [UNKNOWN],
                                   "predicted rows": [*counts.tolist(), report["unknown"]["n_rows"]]}),
                     hide_index=True)
    cols = st.columns(3)
    for col, kind in zip(cols, ("predictions", "report")):
        with col:
            study.download(out / report["outputs"][kind]["name"], f"{key}_dl_{kind}")
    if shown is not None:
        source, fig = shown
        name = probe_names(report["tag"])["figure"] if source is None else source_figure_name(report["tag"], source)
        dpi = state.png_dpi()  # read here: the deferred callable runs outside the script
        cols[2].download_button(f"{name} ({dpi} dpi)",
                                lambda: png.figure_png(fig, str(out / name), dpi), file_name=name,
                                mime="image/png", key=f"{key}_dl_png", on_click="ignore", icon=":material/download:")


def _predicted_maps(lat, result: dict, title: str, key: str):
    """The predicted labels and their probability on a scan's own grid (`figures.labels.probe_maps`, as the `probe`
    command draws them), drawn: one file's scan, or a study's source picked among its scans. Returns (the source's
    name, None for one file; the figure), or None without a scan."""
    from latentcore.analysis.maps import Grid
    from latentcore.figures.labels import probe_maps

    found = lat.sources()
    scans = [i for i, source in enumerate(found) if source.x is not None]
    if not scans:
        return None
    several = len(found) > 1
    index = scans[study.source_picker([found[i].name for i in scans], f"{key}_maps_source", "Predicted labels of")
                  if several else 0]
    source = found[index]
    part = slice(source.start, source.start + source.rows)
    fig = probe_maps(source.x, source.y, result["predicted"][part], result["probability"][part],
                     Grid.from_coordinates(source.x, source.y, source.grid_shape), result["classes"], units=lat.units,
                     title=f"{source.name}: {title}" if several else title)
    st.plotly_chart(fig, key=f"{key}_maps", config={"displaylogo": False})
    return (source.name if several else None), fig


def _fractions(result: dict, out: Path, key: str):
    """How much of each predicted label is in each source of a study (the fractions' table, bars and downloads)."""
    colours = {**{name: cluster_hue(k) for k, name in enumerate(result["classes"])}, UNKNOWN: NOISE_GREY}
    tag = result["report"]["tag"]
    st.markdown("**How much of each predicted label is in each source**")
    study.fractions_panel(result["fractions"], LABEL, fraction_names(tag), out, f"{key}_predicted",
                          f"predicted labels per source<br><sup>{tag}</sup>", colours)


def _metrics(report: dict):
    """The probe's accuracy against chance, its labelled and unknown rows, its notes and confusion matrix."""
    cv, unknown = report["cross_validation"], report["unknown"]
    cols = st.columns(4)
    cols[0].metric("Cross-validated accuracy", f"{cv['accuracy_mean']:.3f}", help=f"± {cv['accuracy_std']:.3f} over "
                   f"{cv['n_splits']} stratified folds of the labelled rows (seed {cv['random_state']})")
    cols[1].metric("Chance (the largest label's share)", f"{cv['chance']:.3f}")
    cols[2].metric("Labelled rows", f"{report['n_labelled']:,}")
    cols[3].metric("Unknown rows", f"{unknown['n_rows']:,}", help=f"Rows whose most likely label has a "
                   f"probability below {unknown['min_confidence']:g} (of {report['n_rows']:,} rows)")
    for note in report.get("notes", []):  # what the probe is not as asked (kNN with fewer neighbours)
        st.caption(note)
    st.caption("Confusion matrix of the held-out predictions (rows: given label, columns: predicted):")
    st.dataframe(pd.DataFrame(cv["confusion_matrix"], index=report["classes"], columns=report["classes"]))
