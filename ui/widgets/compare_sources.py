"""The Compare page on a study: two of its sources side by side, the fractions of one clustering of the whole study
in each, the shift between their latent vectors (per dimension and as one energy test, also within each cluster),
each source's own clusters matched to the other's with a matched pair's mean patterns side by side, and downloads."""
from __future__ import annotations

import numpy as np
import streamlit as st

from latentcore.analysis.artifacts.fractions import fractions_figure
from latentcore.analysis.artifacts.mean_pattern import MeanPatternJob
from latentcore.analysis.cluster import describe_fit
from latentcore.analysis.source_shift import SMD, side_by_side, write_shift
from latentcore.columns import CLUSTER, SOURCE

from ..compute import latent_space
from ..session import defaults, lifecycle
from . import common, explore, gallery, study

MEANING = ("**What the shift means.** Each dimension's *standardised mean difference* is the first source's mean "
           "minus the second's over their pooled standard deviation (Cohen's d: |d| about 0.2 is small, 0.8 large). "
           "The *energy distance* compares the whole latent vectors (each dimension in those pooled standard "
           "deviations): 0 when the two sources have one distribution, larger as they part; its *coefficient* is "
           "it over twice the mean distance between the sources (0 the same, 1 apart). The *p-value* is the share "
           "of random re-dealings of the rows to the two sources whose distance is as large: small (< 0.05) says "
           "the sources differ beyond chance; with many rows even a small shift is significant, so read the "
           "coefficient and the dimensions for how much. The same test *within each cluster* of the k-means above "
           "(both sources' rows in it) tells two sources that hold the same clusters in other proportions (they "
           "differ as wholes, not within the clusters) from two whose clusters themselves moved.")


def page(lat_stamp: tuple, lat, title):
    """Two sources of the study `lat` (a `StudyLatents`) compared; `title`: the page's title slot."""
    title.title(f"Compare two sources of the study {lat.study.name}")
    st.caption(f"{len(lat.names)} sources, {len(lat.partitions['all']):,} rows in one latent space.")
    cols = st.columns(2)
    with cols[0]:
        first = study.source_picker(lat.names, "compare_first", "First source")
    with cols[1]:
        second = study.source_picker(lat.names, "compare_second", "Second source", default=1)
    if first == second:
        st.info("Pick two different sources.")
        st.stop()
    names = lat.names[first], lat.names[second]
    out_dir = lifecycle.results_dir("compare", lat_stamp[0])

    st.subheader("Cluster fractions")
    k = st.number_input("Clusters (k-means of the whole latent vectors of every source, as one)", 2, 30,
                        defaults.setting("compare_k", 6, bounds=(2, 30)), key="compare_k")
    with common.user_errors():
        shift, fractions, clustering = latent_space.compare_sources(lat_stamp, first, second, k)
    both = side_by_side(fractions, CLUSTER, *names)
    st.dataframe(both.style.format({c: "{:.1%}" for c in both.columns if c.startswith("fraction") or
                                    c == "difference"}), hide_index=True, key="compare_fractions")
    st.caption(f"The study's clustering: {describe_fit(clustering)}.")
    pair = fractions[fractions[SOURCE].isin(names)]
    st.plotly_chart(fractions_figure(pair, CLUSTER, "cluster fractions of the two sources"),
                    key="compare_fractions_chart", config={"displaylogo": False})

    st.subheader("Shift between their latent vectors")
    st.write(shift.describe())
    st.caption(MEANING)
    st.dataframe(shift.within, hide_index=True, key="compare_within", column_config={
        "rows_first": f"rows of {names[0]}", "rows_second": f"rows of {names[1]}", "energy_distance": "energy distance",
        "energy_coefficient": "coefficient", "p_value": "p", "p_holm": st.column_config.NumberColumn(
            "p (Holm)", format="%.3g", help="p corrected for the clusters tested (Holm); empty: not tested")})
    st.markdown(f"**Each source's own clusters, matched.** {names[0]} and {names[1]} each clustered alone (k-means, "
                f"k = {shift.own_k}): each cluster of {names[0]} paired with the cluster of {names[1]} whose mean "
                "latent vector is nearest, over all pairs at once.")
    st.dataframe(shift.matches, hide_index=True, key="compare_matches", column_config={
        "cluster_first": f"cluster of {names[0]}", "rows_first": f"rows of {names[0]}",
        "cluster_second": f"its match in {names[1]}", "rows_second": f"rows of {names[1]}",
        "distance": st.column_config.NumberColumn("distance", format="%.3g"), "next_cluster_second": "next nearest",
        "next_distance": st.column_config.NumberColumn("its distance", format="%.3g"),
        "joint_first": f"study cluster ({names[0]})", "joint_second": f"study cluster ({names[1]})"})
    st.caption(f"{shift.first}: {shift.own_fits[0]}. {shift.second}: {shift.own_fits[1]}. "
               "Distances between the clusters' mean latent vectors, each dimension in the two sources' pooled "
               "standard deviation; a match much nearer than the next nearest is clear, two alike are not, and a next "
               "nearest nearer than the match says two clusters of one source have the same nearest in the other (a "
               "cluster split or merged between the sources, or found in one only). "
               "*study cluster*: the cluster of the study's k-means above most of it is in (the same on both sides: "
               "the study's clustering agrees with the match).")
    matched_means(lat, shift, (first, second))
    st.bar_chart(shift.dimensions.set_index("dimension")[SMD], height=220, x_label="dimension",
                 y_label="standardised mean difference")
    st.dataframe(shift.largest, hide_index=True, key="compare_dimensions")
    paths = write_shift(shift, out_dir, lat.study, fractions=both, clustering=clustering)
    for kind, path in paths.items():
        study.download(path, f"compare_dl_{kind}")


def matched_means(lat, shift, indices: tuple[int, int]):
    """A matched pair of clusters' mean patterns side by side, each read from its own source's data file (a toggle:
    a mean reads every pattern of the cluster)."""
    if not st.toggle("Mean patterns of a matched pair, side by side", key="compare_match_means",
                     value=defaults.setting("compare_match_means", False)):
        return
    pairs = list(shift.matches.itertuples())
    said = [f"cluster {p.cluster_first} of {shift.first} and its match, cluster {p.cluster_second} of {shift.second}"
            for p in pairs]
    picked = st.selectbox("Pair", range(len(pairs)), format_func=said.__getitem__, key="compare_match_pair",
                          index=defaults.setting_index("compare_match_pair", 0, range(len(pairs))))
    clusters = pairs[picked].cluster_first, pairs[picked].cluster_second
    for side, column, index, own, cluster in zip((0, 1), st.columns(2), indices, shift.own_labels, clusters):
        member, name = lat.members[index], lat.names[index]
        with column:
            data = explore.data_file_of(member, name, f"mean pattern of {name}'s cluster {cluster}")
            if data is None:
                continue
            rows = np.flatnonzero(own == cluster)
            gallery.show_mean(MeanPatternJob(member.path, data, rows, cluster=int(cluster)),
                              {part: len(values) for part, values in member.partitions.items()},
                              f"compare_match_mean_{side}", f"{name}, cluster {cluster}",
                              f"the {len(rows):,} rows of {name} in its own cluster {cluster}")
