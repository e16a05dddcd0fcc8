"""Labels at scale (issue 23): what one click of the labels panel costs at N rows, and the probe over N rows.

Per click (run in the server; the limit is 3 s): keeping a clustering as labels (the Clusters page's one click),
labelling a selection of half the rows, the label list's counts (with the selection's), the labels' fingerprint,
saving labels.npz (every run that changed them), the colour by label of the Clusters page's map and scatter and of
the Latent maps page's labels map (codes, legend with counts, the code map; cached per labels' fingerprint) and its
figure (the map's PNG), and writing the CLI's CSV (only when a download, the probe or a comparison asks for it and
the labels changed since). The probe (a worker job with progress in the app above 20,000 rows: rows predicted, in
blocks): fit on the labelled rows and predict every row, logistic and kNN. The Compare page's ARI (a worker job):
k-means of two files. Synthetic latents: N x 16 float32, 6 Gaussian classes; 20 labelled rows per class for the
probe, all N rows labelled for the editing steps (the worst case: "keep this clustering as labels").

    nice python benchmarks/labels_scale.py [--n 1000000]

Results: docs/benchmarks.md.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from latentcore.analysis.labels import labelled as lab
from latentcore.analysis.labels.probe import probe


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
        table = lab.labels_table(edited.rows, edited.names, x, y)
        start = time.perf_counter()
        table.to_csv(Path(folder) / "pandas.csv", index=False)
        before = time.perf_counter() - start
        start = time.perf_counter()
        lab.write_labels(Path(folder) / "labels.csv", table)
        now = time.perf_counter() - start
        print(f"labels CSV: pandas to_csv (before) {before:.2f} s, Arrow (now) {now:.2f} s: {before / now:.1f}x",
              flush=True)
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
    start = time.perf_counter()
    np.unique(flat), np.unique(flat)
    before = time.perf_counter() - start
    start = time.perf_counter()
    np.count_nonzero(np.bincount(flat, minlength=flat.size))
    now = time.perf_counter() - start
    print(f"  its one-row-per-pixel check: np.unique twice (before) {before:.2f} s, np.bincount (now) {now:.3f} s: "
          f"{before / now:.0f}x", flush=True)
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
