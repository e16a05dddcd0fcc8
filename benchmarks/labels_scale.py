"""Labels at scale (issue 23): what one click of the labels panel costs at N rows, and the probe over N rows.

Per click (run in the server; the limit is 3 s): labelling a selection of half the rows, the label list's counts
(with the selection's), the labels' fingerprint, saving labels.npz (every run that changed them), and writing the
CLI's CSV (only when a download or the probe asks for it and the labels changed since). The probe (a worker job with
progress in the app above 20,000 rows): fit on the labelled rows and predict every row, logistic and kNN. Synthetic
latents: N x 16 float32, 6 Gaussian classes; 20 labelled rows per class for the probe, all N rows labelled for the
editing steps (the worst case: "keep this clustering as labels").

    nice python benchmarks/labels_scale.py [--n 1000000]

Measured (N = 1,000,000, a 2-core machine shared with 4 other agents' jobs, so an upper bound):
    per click: label half the rows 0.73 s; list counts 0.02 s; digest 0.02 s; labels.npz 0.02 s
    on demand: labels CSV 5.8 s (a download or the probe; the probe is a worker job anyway)
    probe logistic: fit + predict 1M rows 1.4 s; kNN 5.3 s (accuracy 1.000 both; in a worker, with progress)
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from latentcore.analysis import labels as lab
from latentcore.analysis.probe import probe


def timed(name, fn):
    start = time.perf_counter()
    result = fn()
    print(f"{name}: {time.perf_counter() - start:.2f} s", flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    n = parser.parse_args().n
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 6, n)
    latents = (rng.normal(0, 1, (n, 16)) + 3 * rng.normal(0, 1, (6, 16))[truth]).astype(np.float32)
    side = int(np.ceil(np.sqrt(n)))
    x, y = (np.arange(n) % side) * 1.5, (np.arange(n) // side) * 1.5

    everything = timed("keep a clustering as labels", lambda: lab.from_clustering(np.arange(n), truth))
    half = rng.choice(n, n // 2, replace=False)
    edited = timed("label half the rows", lambda: lab.with_label(everything, half, "half"))
    timed("list counts with the selection's", lambda: (edited.counts(), np.bincount(
        edited.y[np.isin(edited.rows, half)], minlength=len(edited.classes))))
    digest = timed("digest", edited.digest)
    with tempfile.TemporaryDirectory() as folder:
        timed("labels CSV", lambda: lab.write_labels(Path(folder) / "labels.csv",
                                                     lab.labels_table(edited.rows, edited.names, x, y)))
        from ui.session import workspace

        timed("labels.npz", lambda: workspace.save_labels(Path(folder), edited.rows, edited.y, edited.classes, digest))

    from latentcore.analysis.maps import Grid, values_map
    from ui.figures.plots import code_map_figure, label_colour

    def label_map():  # the Clusters page's and the Latent maps page's colour by label (cached per labels' digest)
        colour = label_colour(lab.codes_per_row(edited, n), edited.classes)
        grid = Grid.from_coordinates(x, y)
        return colour, grid, values_map(colour.codes.astype(np.float32), x, y, grid)

    colour, grid, code_map = timed("colour by label: codes, legend, code map", label_map)
    flat = np.ravel_multi_index(grid.indices(x, y), grid.shape)  # the map's one-row-per-pixel check, before and now
    before = timed("  one row per pixel, as before (np.unique, twice)", lambda: (np.unique(flat), np.unique(flat)))
    now = timed("  one row per pixel, now (np.bincount)", lambda: np.bincount(flat, minlength=flat.size))
    del before, now
    timed("colour by label: the map figure (its PNG)", lambda: code_map_figure(code_map, colour, grid))

    picked = np.concatenate([rng.choice(np.flatnonzero(truth == k), 20, replace=False) for k in range(6)])
    labelled = lab.LabelledRows.from_names(picked, [f"class {k}" for k in truth[picked]])
    for method in ("logistic", "knn"):
        result = timed(f"probe {method}: fit + predict {n:,} rows", lambda method=method: probe(latents, labelled, method))
        print(f"  accuracy over every row {np.mean(result.predicted == truth):.3f}")

    from latentcore.analysis.cluster import cluster

    # the Compare page's ARI: two k-means, a worker job

    noisy = latents + rng.normal(0, 1, latents.shape).astype(np.float32)
    timed(f"compare: k-means (k=6) of two files of {n:,} rows", lambda: [
        cluster(np.asarray(m, np.float64), "kmeans", n_clusters=6, random_state=0).labels for m in (latents, noisy)])


if __name__ == "__main__":
    main()
