"""Input checks shared by the analysis modules (ranking, clustering, embedding, maps, search), in numpy alone:
scikit-learn's `check_array` would cost a page that only maps its latents 0.8 s of importing scikit-learn and
scipy.stats (the Latent maps page's first open).

Every failure is a `latentcore.errors.InputError` whose message names the argument (and the file,
when `path` is given), so the CLI, the batch summary and the pages show it as one line.
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from ..errors import InputError
from ..latents import finite_rows


def check_matrix(values, name: str = "latents", *, dtype=np.float64, min_rows: int = 1, min_columns: int = 1,
                 finite: bool = True, allow_1d: bool = False, order=None, path=None) -> np.ndarray:
    """`values` as a numeric (N, D) array of `dtype` (None keeps the dtype), N >= `min_rows`,
    D >= `min_columns`; `finite` refuses NaN and inf (the message counts the rows and gives the
    first); `allow_1d` reads an (N,) array as one column; `order` "C" makes it C-contiguous."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric (N, D) array: pass one row of numbers per item ({exc})",
                         path) from exc
    if allow_1d and array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise InputError(f"{name} must be a 2-D (N, D) array, got shape {array.shape}: pass one row per item", path)
    if array.shape[1] == 0 and min_columns > 0:
        raise InputError(f"{name} have no columns (no latent dimensions): extract them again", path)
    if array.shape[0] < min_rows or array.shape[1] < min_columns:
        raise InputError(f"{name} has shape {array.shape}: give at least {min_rows} rows and {min_columns} "
                         "column(s)", path)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise InputError(f"{name} must be numeric (real numbers), got dtype {array.dtype}: convert it to numbers",
                         path)
    array = np.asarray(array, dtype=dtype, order=order)  # a copy only where the dtype or the order differ
    if finite:
        bad = ~finite_rows(array)  # in blocks of rows: no (N, D) temporary at ten million rows
        if bad.any():
            raise InputError(f"{name} has {int(bad.sum())} rows with NaN or infinite values (first: row "
                             f"{int(np.flatnonzero(bad)[0])}): drop or fill those rows", path)
    return array


def check_vector(values, name: str, n_rows: int, *, dtype=np.float64, of: str = "the latents") -> np.ndarray:
    """`values` flattened to one value per row of `of`, which has `n_rows` rows (NaN allowed)."""
    array = np.ravel(values)
    if np.iscomplexobj(array):
        raise InputError(f"{name}: pass real numbers, one per row (got complex numbers)")
    try:
        array = np.asarray(array, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: pass numbers, one per row ({exc})") from exc
    if len(array) != n_rows:
        raise InputError(f"{name} has {len(array)} values but {of} have {n_rows} rows: give one value per row")
    return array


def check_some_dimensions(n_dims: int) -> None:
    """The latents have at least one dimension (else a range would read "0..-1")."""
    if n_dims == 0:
        raise InputError("the latents have no latent dimensions (0 columns): nothing to map or cluster")


def check_dimensions(dims, n_dims: int) -> list[int]:
    """Latent dimensions (ints, or None for all of them), each in 0..n_dims-1; at least one."""
    check_some_dimensions(n_dims)
    dims = list(range(n_dims)) if dims is None else [int(d) for d in np.atleast_1d(dims)]
    bad = [d for d in dims if not 0 <= d < n_dims]
    if bad or not dims:
        shown = f"dimension {bad[0]}" if len(bad) == 1 else f"dimension(s) {bad or dims}"
        raise InputError(f"latent {shown} out of range: the latents have {n_dims} dimensions; choose from "
                         f"0..{n_dims - 1}")
    return dims


def check_int(value, name: str, min_value: int | None = None) -> int:
    """An integer (not a bool) >= `min_value`, as int."""
    bound = "" if min_value is None else f" >= {min_value}"
    if isinstance(value, bool) or not isinstance(value, Integral) or (min_value is not None and value < min_value):
        raise InputError(f"{name} must be an integer{bound}, got {value!r}")
    return int(value)


def check_number(value, name: str, min_value: float | None = None) -> float:
    """A real number >= `min_value`, as float."""
    bound = "" if min_value is None else f" >= {min_value:g}"
    if not isinstance(value, Real) or (min_value is not None and value < min_value):
        raise InputError(f"{name} must be a number{bound}, got {value!r}")
    return float(value)
