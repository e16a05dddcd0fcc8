"""Where a new image lands in a fitted embedding (`project_image`), and ulmo's temperature range of a cutout."""
from __future__ import annotations

import numpy as np

from ...data import open_source
from ...extract import Extractor
from ...models.base import LoadedModel


def temperature_range(image) -> dict[str, float]:
    """ulmo's T10, T90 and DT = T90 - T10 of a cutout: the finite values at sorted positions
    int(0.1 n) and int(0.9 n)."""
    values = np.sort(np.asarray(image, np.float64)[np.isfinite(image)].ravel())
    t10, t90 = values[int(0.1 * len(values))], values[int(0.9 * len(values))]
    return {"T10": float(t10), "T90": float(t90), "DT": float(t90 - t10)}


def is_sst_like(data_kind: str | None, model: LoadedModel) -> bool:
    """SST measures (T10, T90, DT) mean something only for sea-surface-temperature cutouts: the
    latents' data kind says so, or, when it is not known, the model is Nenya's SST encoder."""
    from ...domain import CUTOUTS

    return data_kind == CUTOUTS if data_kind else model.arch == "nenya"


def project_image(path, model: LoadedModel, fitted, pool: str = "mean", data_kind: str | None = None) -> dict:
    """One image file through `model` and into a fitted embedding (`embedding.FittedEmbedding`):
    its latent vector, its coordinates, the image itself and, for SST-like cutouts only
    (`is_sst_like`), its temperature range T10, T90, DT."""
    with open_source(path, format="images") as reader:  # a 2-D NPY is an image here, not a feature table
        item = reader.read(reader.partitions[0], 0, 1)
    latent = Extractor(model, device="cpu", pool=pool, batch_size=1).extract_batch(item)
    measures = temperature_range(item) if is_sst_like(data_kind, model) else {}
    return {"latent": latent[0], "xy": fitted.transform(latent)[0], **measures, "image": item[0]}
