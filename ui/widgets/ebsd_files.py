"""Downloads of the scan with a clustering or the labels as phases, for MTEX, AZtecCrystal and OIM: an Oxford .ctf and
an EDAX .ang (`latentcore.analysis.ebsd.vendor_files`, as `python -m latentcore export-ebsd`), made from the latents
file, which keeps the scan's orientations and vendor maps. On the Clusters page (`explore.cluster_downloads`) and in
the labels panel (`labels`).

    as_phases(lat, classes, stem, out_dir, key, inputs)   two buttons; a caption where the latents hold no orientations
                                                          (`inputs`: name -> the file, or a function writing it,
                                                          recorded with its SHA-256 and, inside the workspaces,
                                                          its path relative to the file)
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from latentcore.analysis.artifacts.common import input_record
from latentcore.analysis.ebsd.scan_points import latents_points
from latentcore.analysis.ebsd.vendor_files import export_ebsd

from ..session import workspace

FORMATS = {".ctf": "Oxford .ctf: AZtecCrystal, MTEX", ".ang": "EDAX .ang: OIM, MTEX"}


def as_phases(lat, classes, stem: str, out_dir: Path, key: str, inputs: dict):
    """Buttons writing `<stem>.ctf` and `<stem>.ang` in `out_dir` when clicked: `classes` (a `RowClasses`, or a
    function giving one) as phases, unclassified pixels as the phase `unclassified`."""
    what = "clusters" if key.startswith("clusters") else "labels"
    if lat.orientations is None or lat.x is None:
        st.caption(f"The {what} as phases of a .ctf or .ang need a scan with orientations: these latents hold none.")
        return
    cols = st.columns(len(FORMATS))
    for col, (ending, title) in zip(cols, FORMATS.items()):
        target = Path(out_dir) / f"{stem}{ending}"
        col.download_button(f"Scan with the {what} as phases ({title})",
                            lambda target=target: _written(lat, classes, target, inputs),
                            file_name=target.name, mime="text/plain", key=f"{key}_dl_{ending[1:]}", on_click="ignore",
                            icon=":material/download:",
                            help="The scan's own Euler angles (as stored), band contrast and MAD; each class a phase "
                                 "with the scan's crystal symmetry; points the scan did not index are not indexed.")


def _written(lat, classes, target: Path, inputs: dict) -> bytes:
    """The file, made when its button is clicked (outside the page's run: no session state here)."""
    paths = {name: path() if callable(path) else path for name, path in inputs.items()}
    records = {name: input_record(path, target.parent, workspace.WORKDIR_ROOT) for name, path in paths.items()
               if path is not None and Path(path).is_file()}
    export_ebsd(latents_points(lat), classes() if callable(classes) else classes, target, records)
    return target.read_bytes()
