"""The Rank page's compute: the reference maps a scan's latent dimensions are ranked against, their ranking
(both in the worker pool at scale) and its files."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import streamlit as st

from latentcore.analysis.references import LABELS_REFERENCE

from ..session import workspace
from . import tasks
from .dispatch import pooled
from .sources import stacked_latents


@dataclasses.dataclass(frozen=True)
class Extras:
    """What the Rank page adds to the latents' own maps (files as `sources.stamp` tuples): VBSE, IQ and ADP
    streamed from the scan's patterns (`patterns`), an uploaded NPZ (`upload`), the session's labels (`labels`:
    their CSV)."""

    patterns: bool = False
    upload: tuple | None = None
    labels: tuple | None = None

    def files(self, references) -> dict:
        """role -> path of the files a ranking against `references` read (each goes in its report with its
        SHA-256): the uploaded NPZ, and the labels' CSV when the labels are among them."""
        chosen = {"references_upload": self.upload,
                  "labels": self.labels if LABELS_REFERENCE in references else None}
        return {role: stamp[0] for role, stamp in chosen.items() if stamp}

    def uploaded_maps(self, available) -> list[str]:
        """The names among `available` that the uploaded NPZ added: `<file stem>:<array>`, as
        `references.latents_reference_maps` names them."""
        prefix = f"{Path(self.upload[0]).stem}:" if self.upload else None
        return [name for name in available if prefix and name.startswith(prefix)]


def reference_maps(lat_stamp: tuple, bc_stamp: tuple | None, components: int, source_stamp: tuple | None,
                   extras: Extras = Extras()) -> dict:
    """name -> per-row values (`references.latents_reference_maps`, through `tasks.reference_maps`: band contrast
    first, the EBSD maps, labels, the uploaded NPZ's maps, PCA components of the raw patterns, cutouts'
    metadata), in the worker pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.reference_maps, "Preparing the reference maps", rows, latents=lat_stamp, bandcontrast=bc_stamp,
                  components=int(components), source=source_stamp, **dataclasses.asdict(extras))


def ranking(lat_stamp: tuple, bc_stamp: tuple | None, references: tuple[str, ...], metrics: tuple[str, ...],
            components: int, roi, source_stamp: tuple | None, extras: Extras = Extras(), quality=None):
    """Score table of every dimension against the chosen reference maps, over the rows of the ROI (a `Roi`; None:
    every row) the quality filter keeps (a `QualityFilter`; None: every one), in the worker pool at scale."""
    rows = len(stacked_latents(lat_stamp)[0])
    return pooled(tasks.rank, "Ranking the dimensions", rows, latents=lat_stamp, bandcontrast=bc_stamp,
                  references=list(references), metrics=list(metrics), components=int(components),
                  roi=roi, source=source_stamp, quality=quality, **dataclasses.asdict(extras))


@st.cache_data(show_spinner="Writing the ranking files...", max_entries=8)
def ranking_files(table, out_dir: str, inputs: dict, top: int, tag: str, dpi: float = 300,
                  quality: dict | None = None) -> dict:
    """Write the ranking's CSV, JSON report (with the quality filter's record) and PNG figures (at `dpi`); returns
    {kind: path}."""
    from latentcore.analysis.rank import write_ranking

    return {kind: str(path) for kind, path in write_ranking(table, out_dir, inputs=inputs, top=top, tag=tag, dpi=dpi,
                                                            root=workspace.WORKDIR_ROOT, quality=quality).items()}
