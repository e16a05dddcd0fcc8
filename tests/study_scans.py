"""Three small simulated scans sharing their grains' orientations (latentcore/demo/simulate.py,
`orientation_seed`), each with its latents file (the PCA of the three scans' patterns, as one model would make
them), for the app's and the browser's study tests (as tests/engine/test_study_commands.py makes them)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd
from latentcore.latents import LatentsWriter

MODEL = {"model": "pca", "model_name": "pca", "model_sha256": "e" * 64}


def scan_latents(folder: Path, names=("p", "q", "r"), shape=(12, 16), dim: int = 6, model=MODEL,
                 scans: Path | None = None) -> dict[str, Path]:
    """`<folder>/<name>__pca_latents.h5` for each name: a scan of `shape` pixels (seeds 1, 2, ...; one orientation
    seed), its latents with x, y (µm), grid and band contrast, recording `<name>.h5` as its source (written into
    `scans` as an h5ebsd file when given, and then the scan's orientations kept in the latents, as an extraction
    keeps them). Returns {name: path}."""
    from sklearn.decomposition import PCA

    for made in (folder, scans):
        if made is not None:
            Path(made).mkdir(parents=True, exist_ok=True)
    simulated = [simulate_scan(ScanSettings(n_rows=shape[0], n_columns=shape[1], pattern_size=16, n_grains=4,
                                        seed=seed, orientation_seed=7)) for seed in range(1, len(names) + 1)]
    patterns = np.concatenate([s.patterns.reshape(len(s.patterns), -1) for s in simulated]).astype(np.float32)
    patterns = (patterns - patterns.mean(1, keepdims=True)) / patterns.std(1, keepdims=True)
    rows = np.split(PCA(dim, random_state=0).fit_transform(patterns).astype(np.float32), len(names))
    paths = {}
    for name, scan, part in zip(names, simulated, rows):
        writer = LatentsWriter(folder / f"{name}__pca_latents.h5", {"all": part.shape}, {})
        if scans is not None:
            from latentcore.data import open_source

            write_h5ebsd(scan, Path(scans) / f"{name}.h5")
            writer.write_orientations(open_source(Path(scans) / f"{name}.h5").orientations(),
                                      {"all": np.arange(len(part))})
        writer.write_rows("all", 0, part)
        writer.write_array("x", scan.x)
        writer.write_array("y", scan.y)
        writer.write_array("grid_shape", list(shape))
        writer.write_point_maps({"Band Contrast": scan.band_contrast.astype(np.float64)},
                                {"all": np.arange(len(part))})
        paths[name] = writer.finish({**model, "source": f"{name}.h5", "units": "um"})
    return paths
