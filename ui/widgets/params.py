"""Parameter widgets for the analysis methods, with latentcore's defaults; a declared parameter's widget
(`parameter`: from its `latentcore.parameters.Parameter`, as the command's option is)."""
from __future__ import annotations

import streamlit as st

from latentcore.errors import InputError
from latentcore.parameters import AXES, Parameter, Parameters, Values

from ..session import defaults, settings


def parameter(p: Parameter, page: str, where=st, disabled: bool = False):
    """A declared parameter's widget, saved under its page's keys (`settings.parameter_keys`): a number input within
    its range, at its step (a whole one for an int), a toggle for a bool, a select box of its choices in words, a
    direction as three numbers side by side (`where` then takes columns). Its label, help and default are the
    declaration's; its value is returned unchecked (its group checks it, as it checks the command's)."""
    keys = settings.parameter_keys(page, p)
    if p.kind == "vector":
        return tuple(column.number_input(f"{p.label} {axis}", value=defaults.setting(key, float(default)),
                                         step=float(p.step or 1), key=key, disabled=disabled, help=p.sentence)
                     for column, axis, key, default in zip(where.columns(len(AXES)), AXES, keys, p.default))
    [key] = keys
    if p.kind == "bool":
        return where.toggle(p.label, value=defaults.setting(key, p.default), key=key, disabled=disabled,
                            help=p.sentence)
    if p.kind == "choice":
        return where.selectbox(p.label, p.choices, index=defaults.setting_index(key, p.default, p.choices),
                               format_func=p.said, key=key, disabled=disabled, help=p.sentence)
    kind = int if p.kind == "int" else float
    bounds = (kind(p.low), kind(p.high))
    return where.number_input(p.label, *bounds, defaults.setting(key, kind(p.default), bounds=bounds),
                              step=kind(p.step or 1), format=None if kind is int else "%.2f", key=key,
                              disabled=disabled, help=p.sentence)


def checked(group: Parameters, **values) -> Values:
    """`group(**values)` (the widgets' values), a refusal naming the widget by its label where the engine names the
    parameter, as the command line names its option (`latentcore.cli.named_options`)."""
    try:
        return group(**values)
    except InputError as exc:
        named = next((p for p in group if str(exc).startswith(f"{p.name} ")), None)
        if named is None:
            raise
        raise InputError(f"{named.label}{str(exc)[len(named.name):]}") from None


def parameters(declared, page: str, where=st, per_row: int = 2, disabled: bool = False) -> dict:
    """The widgets of several declared parameters, `per_row` side by side, each direction on a row of its own:
    name -> value (`parameter`)."""
    scalars = [p for p in declared if p.kind != "vector"]
    values = {}
    for start in range(0, len(scalars), per_row):
        for column, p in zip(where.columns(per_row), scalars[start:start + per_row]):
            values[p.name] = parameter(p, page, column, disabled)
    for p in declared:
        if p.kind == "vector":
            values[p.name] = parameter(p, page, where, disabled)
    return values


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
