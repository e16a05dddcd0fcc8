"""Studies for the app tests: small simulated scans (latentcore/demo/simulate.py, the same grains' orientations in
each, laid out anew by each seed), their latents one PCA of every scan's patterns as one model would make them, real
HDF5 latents files and a `NAME.study.json` of them written in the session's workspace and made its latents."""
from __future__ import annotations

from pathlib import Path

import numpy as np

SHAPE = (12, 16)  # each scan's grid
MODEL = {"model": "pca", "model_name": "pca", "model_sha256": "e" * 64}


def scan_latents(folder: Path, names: str, dim: int = 6) -> list[Path]:
    """A latents file `<name>__pca_latents.h5` of a simulated scan for each of `names`, with its band contrast."""
    from sklearn.decomposition import PCA

    from latentcore.demo.simulate import ScanSettings, simulate_scan
    from latentcore.latents import LatentsWriter

    scans = [simulate_scan(ScanSettings(n_rows=SHAPE[0], n_columns=SHAPE[1], pattern_size=16, n_grains=4, seed=seed,
                                        orientation_seed=7)) for seed in range(1, len(names) + 1)]
    patterns = np.concatenate([s.patterns.reshape(len(s.patterns), -1) for s in scans]).astype(np.float32)
    patterns = (patterns - patterns.mean(1, keepdims=True)) / patterns.std(1, keepdims=True)
    rows = np.split(PCA(dim, random_state=0).fit_transform(patterns).astype(np.float32), len(names))
    paths = []
    for name, scan, part in zip(names, scans, rows):
        writer = LatentsWriter(folder / f"{name}__pca_latents.h5", {"all": part.shape}, {})
        writer.write_rows("all", 0, part)
        writer.write_array("x", scan.x)
        writer.write_array("y", scan.y)
        writer.write_array("grid_shape", list(SHAPE))
        writer.write_point_maps({"Band Contrast": scan.band_contrast.astype(np.float64)},
                                {"all": np.arange(len(part))})
        paths.append(writer.finish({**MODEL, "source": f"{name}.h5", "units": "um"}))
    return paths


def study_in_workspace(at, names: str = "pqr", study_name: str = "series") -> Path:
    """The study of a scan per letter of `names`, written in the session's workspace and made its latents (as
    picking it on the Data page does)."""
    from latentcore.study import make_study, write_study

    folder = Path(at.session_state["workdir"])
    paths = scan_latents(folder, names)
    path = write_study(make_study(study_name, [str(p) for p in paths]), folder)
    at.session_state["latents"] = str(path)
    return path
