"""Parameter widgets for the analysis methods, with latentcore's defaults."""
from __future__ import annotations

import streamlit as st

from ..session import defaults


def cluster_params(method: str, key: str) -> dict:
    """The chosen method's own parameters (names as `latentcore.analysis.cluster.DEFAULTS`)."""
    from latentcore.analysis.cluster import DEFAULTS

    preset = DEFAULTS[method]
    cols = st.columns(3)
    if method == "gmm":
        auto = cols[0].checkbox("choose k by BIC/AIC", value=defaults.setting(f"{key}_auto", False), key=f"{key}_auto")
        if auto:
            low, high = cols[1].slider("k range", 2, 15, key=f"{key}_krange",
                                         value=defaults.setting(f"{key}_krange", tuple(preset["k_range"]),
                                                                bounds=(2, 15)))
            criterion = cols[2].selectbox("criterion", ["bic", "aic"], key=f"{key}_criterion",
                                          index=defaults.setting_index(f"{key}_criterion", "bic", ["bic", "aic"]))
            return {"n_components": "auto", "k_range": [low, high], "criterion": criterion}
        return {"n_components": cols[1].number_input(
            "clusters (k)", 1, 30, defaults.setting(f"{key}_k", preset["n_components"], bounds=(1, 30)),
            key=f"{key}_k")}
    if method == "kmeans":
        return {"n_clusters": cols[0].number_input(
            "clusters (k)", 1, 30, defaults.setting(f"{key}_k", preset["n_clusters"], bounds=(1, 30)),
            key=f"{key}_k")}
    if method == "dbscan":
        return {"eps": cols[0].number_input("eps (standardised units)", 0.001, 10.0,
                                            defaults.setting(f"{key}_eps", preset["eps"], bounds=(0.001, 10.0)),
                                            step=0.01, format="%.3f", key=f"{key}_eps"),
                "min_samples": cols[1].number_input(
                    "min samples", 1, 10_000, defaults.setting(f"{key}_min_samples", preset["min_samples"],
                                                            bounds=(1, 10_000)), key=f"{key}_min_samples")}
    return {"min_cluster_size": cols[0].number_input(
                "min cluster size", 2, 100_000, defaults.setting(f"{key}_mcs", preset["min_cluster_size"],
                                                              bounds=(2, 100_000)), key=f"{key}_mcs"),
            "min_samples": cols[1].number_input(
                "min samples", 1, 10_000, defaults.setting(f"{key}_ms", preset["min_samples"], bounds=(1, 10_000)),
                key=f"{key}_ms")}


def smooth_sigma(key: str, container=st) -> float:
    """Gaussian sigma over the scan grid (grid steps), 0 = off; `latentcore.analysis.smoothing`."""
    return float(container.number_input(
        "Smooth over the scan grid (sigma, grid steps)", 0.0, 10.0,
        defaults.setting(f"{key}_smooth", 0.0, bounds=(0, 10)), step=0.5, format="%.1f",
        key=f"{key}_smooth", help="A Gaussian over neighbouring pixels (0 = off). NaN-aware: pixels without a value "
                                  "and pixels outside the ROI take no part."))
