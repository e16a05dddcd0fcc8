"""A fitted embedding (`FittedEmbedding`: the coordinates of the fitted latents and what is needed to place new
latents into it, `transform`) and its file (`save_embedding`, `load_embedding`: a plain `.npz`, no pickled object);
the files an embedding is written as (`embedding_names`) and its table's columns (`embedding_table`)."""
from __future__ import annotations

import dataclasses
import json
import os
import uuid
from pathlib import Path

import numpy as np

from ...columns import ROW, beside, coordinate_names, embedding_name
from ...data._npy import read_npz
from ...errors import InputError
from ...storage.local import atomic_path
from .._validation import check_matrix
from .knn import in_threads, knn, nearest_reference, weighted_mean

REDUCE_BLOCK_ROWS = 65_536     # rows per PCA block (fixed: the bits must not depend on the threads)
FORMAT_VERSION = 1             # of the saved .npz


@dataclasses.dataclass
class FittedEmbedding:
    """An embedding of N latents and what is needed to place new latents into it.

    coords:             (N, n_components) float32, the embedding of the fitted latents (row order kept).
    reference_index:    (M,) int64, rows of the fitted latents kept as projection neighbours (UMAP only;
                        the fitted sample in the fast path, a seeded subsample of at most `sample_size`
                        rows otherwise).
    reference_latents:  (M, D) float32, those rows' latents, as given (before any PCA).
    reference_coords:   (M, n_components) float32, their embedding.
    pca_mean, pca_components: (D,) and (P, D) float32: the PCA applied before neighbour search (UMAP fast
                        path), or the PCA itself (method "pca"); empty arrays when no PCA is used.
    params:             every parameter of the fit (JSON-serialisable), including the internal ones.
    """

    method: str
    coords: np.ndarray
    reference_index: np.ndarray
    reference_latents: np.ndarray
    reference_coords: np.ndarray
    pca_mean: np.ndarray
    pca_components: np.ndarray
    params: dict

    @property
    def n_features(self) -> int:
        return int(self.params["n_features"])

    def transform(self, new_latents, *, reference_graph=None, walk=None) -> np.ndarray:
        """Coordinates of new latents (M, D) in this embedding, float32 (M, n_components).

        PCA: the exact linear projection. UMAP: the inverse-distance weighted mean of the embedding
        of the `PLACE_NEIGHBORS` nearest reference rows (searched after the stored PCA, if any, and
        found as the fit finds them: exactly for small batches, by the graph walk for large ones), the
        same placement the fast path uses for rows outside its sample. A caller placing many batches
        passes `reference_graph` (`reference_graph()`, computed once) and `walk` (True: the graph
        walk, False: the exact search; None: by this batch's size), so that a row lands in the same
        place whichever batch it is in.
        """
        if self.method == "pca":
            return self._reduce(self._checked(new_latents))
        return weighted_mean(*self.nearest(new_latents, reference_graph=reference_graph, walk=walk),
                             self.reference_coords)

    def nearest(self, new_latents, *, rows=None, reference=None, reference_graph=None,
                walk=None) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices) of the `PLACE_NEIGHBORS` nearest reference rows of new latents, or of their `rows`
        (indices: taken after the PCA, the same bits, so a member's wide latents are not copied first), searched as
        `transform` searches them (UMAP only): it needs no coordinates, so a study's rows are searched while its
        UMAP still fits. `reference`: `reduced_reference()`, when the caller keeps it for many searches."""
        reduced = self._reduce(self._checked(new_latents, finite=rows is None))
        if rows is not None:  # only the rows searched must be finite
            reduced = check_matrix(reduced[rows], "new_latents", dtype=np.float32, order="C")
        reference = self.reduced_reference() if reference is None else reference
        return nearest_reference(reduced, reference, self.params["metric"], self.params["place_neighbors"],
                                 self.params["n_neighbors"], reference_graph, walk)

    def reduced_reference(self) -> np.ndarray:
        """The reference rows after the fit's PCA (as they are without one): what a new row is searched among."""
        return self._reduce(self.reference_latents)

    def _checked(self, new_latents, finite: bool = True) -> np.ndarray:
        new = check_matrix(new_latents, "new_latents", dtype=np.float32, order="C", finite=finite)
        if new.shape[1] != self.n_features:
            raise InputError(f"new_latents has {new.shape[1]} dimensions; the embedding was fitted on "
                             f"{self.n_features}: pass latents of the same model")
        return new

    def reference_graph(self) -> np.ndarray:
        """The reference rows' kNN graph (M, n_neighbors) int64, as the fit computed it: the index the graph
        walk of `transform` follows."""
        reduced = self.reduced_reference()
        return knn(reduced, reduced, self.params["metric"], self.params["n_neighbors"])[1]

    def _reduce(self, latents: np.ndarray) -> np.ndarray:
        if self.pca_components.size == 0:
            return latents
        out = np.empty((len(latents), len(self.pca_components)), np.float32)
        components = self.pca_components.astype(np.float64)

        def reduce_block(start):
            # einsum, not BLAS: the same bits in every process, whatever its thread settings
            centred = latents[start:start + REDUCE_BLOCK_ROWS].astype(np.float64) - self.pca_mean
            out[start:start + REDUCE_BLOCK_ROWS] = np.einsum("nd,cd->nc", centred, components)

        in_threads(reduce_block, range(0, len(latents), REDUCE_BLOCK_ROWS))
        return out


_ARRAY_FIELDS = ("coords", "reference_index", "reference_latents", "reference_coords", "pca_mean",
                 "pca_components")


def embedding_names(latents, method: str) -> dict[str, str]:
    """`scan_latents_umap.parquet` (or `.csv`), `.png` and `_embedding.npz` (`save_embedding`): an embedding's
    files, named by the latents file's stem and the method."""
    tag = f"{Path(str(latents)).stem}_{method}"
    return {"table": f"{tag}.parquet", "table_csv": f"{tag}.csv", "figure": f"{tag}.png",
            "embedding": f"{tag}_embedding.npz"}


def embedding_table(table, coords, method: str, x=None, y=None, units=None, extra: dict | None = None,
                    row_ids=None):
    """The embedding's table, as the CLI's `umap` and the UMAP page's download write it: `row` (the row id:
    `row_ids`, by default the rows' positions),
    `x_um`, `y_um` (scans, their unit in the name), `{method}_0`, `{method}_1`, ..., the `extra` columns, then
    `table`'s own (`partition`, `index`, the source's metadata: `Latents.stacked`); a metadata column named as one
    of those (cutouts' own `row`) is kept as `source_<name>`."""
    import pandas as pd

    columns = {ROW: np.arange(len(coords), dtype=np.int64) if row_ids is None else np.asarray(row_ids, np.int64)}
    if x is not None:
        columns.update(zip(coordinate_names(units), (np.asarray(x), np.asarray(y))))
    columns.update({embedding_name(method, i): np.asarray(coords[:, i], np.float32) for i in range(coords.shape[1])})
    return beside(pd.DataFrame(columns | (extra or {})), table)


def save_embedding(path, fitted: FittedEmbedding) -> Path:
    """Write `fitted` to `path` (.npz, written under a temporary name then renamed).

    Stored, all plain arrays (read back with `allow_pickle=False`; no Python object is pickled):
    `coords`, `reference_index`, `reference_latents`, `reference_coords`, `pca_mean`,
    `pca_components` (see `FittedEmbedding`), `method`, `format_version`, and `params_json` (every
    parameter as JSON, including `n_features`, `metric`, `place_neighbors`, `sample_size`,
    `umap_version`).
    """
    path = Path(path)
    arrays = {name: getattr(fitted, name) for name in _ARRAY_FIELDS}
    # A unique temporary name so that two processes caching the same embedding do not collide; a cache, replaced.
    unique = f".{os.getpid()}.{uuid.uuid4().hex[:8]}.partial"
    with atomic_path(path, suffix=unique, replaces=True) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, method=np.array(fitted.method), format_version=np.array(FORMAT_VERSION),
                     params_json=np.array(json.dumps(fitted.params, sort_keys=True)), **arrays)
    return path


def load_embedding(path) -> FittedEmbedding:
    """Read a file written by `save_embedding`; a missing, corrupt or foreign file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such embedding file: check the path", path)
    data = read_npz(path)
    try:
        version = int(data["format_version"])
        if version != FORMAT_VERSION:
            raise InputError(f"embedding format version {version}, expected {FORMAT_VERSION}: fit the embedding again",
                              path)
        fields = {name: data[name] for name in _ARRAY_FIELDS}
        method = str(data["method"])
        params = json.loads(str(data["params_json"]))
    except InputError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"not a saved embedding ({exc}): give a file save_embedding wrote", path) from exc
    return FittedEmbedding(method=method, params=params, **fields)
