"""Spatial smoothing over the scan grid: NaN-aware, confined to the rows given (the ROI), equal to a
direct weighted sum over the neighbours; and the cluster job smooths only inside its ROI and
standardises the smoothed features by the unsmoothed ones' scale."""
import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.artifacts.cluster import ClusterJob, cluster_inputs
from latentcore.analysis.artifacts.cluster_run import load_inputs
from latentcore.analysis.cluster import cluster, feature_scale
from latentcore.analysis.maps import Roi
from latentcore.analysis.smoothing import TRUNCATE, smooth_maps, smooth_rows
from latentcore.data.bandcontrast import BandContrast
from latentcore.errors import InputError
from latentcore.latents import LatentsWriter

STEP = 1.5


def direct_smooth(values, rows, columns, sigma):
    """Each pixel: the Gaussian-weighted mean of the finite values among the given pixels within
    scipy's truncation window (radius round(4 sigma)), written out pixel by pixel."""
    radius = int(TRUNCATE * sigma + 0.5)
    out = np.full(len(values), np.nan)
    for i in range(len(values)):
        if not np.isfinite(values[i]):
            continue
        dr, dc = rows - rows[i], columns - columns[i]
        near = (np.abs(dr) <= radius) & (np.abs(dc) <= radius) & np.isfinite(values)
        weight = np.exp(-(dr[near] ** 2 + dc[near] ** 2) / (2 * sigma ** 2))
        out[i] = np.sum(weight * values[near]) / np.sum(weight)
    return out


def scan_rows(n_rows=12, n_columns=15, seed=0):
    rng = np.random.default_rng(seed)
    rows, columns = np.divmod(np.arange(n_rows * n_columns), n_columns)
    return rng.normal(size=(n_rows * n_columns, 3)), rows, columns


@pytest.mark.parametrize("sigma", [0.7, 1.0, 2.0])
def test_smoothing_equals_the_direct_weighted_mean_skipping_nan_and_staying_in_the_roi(sigma):
    values, rows, columns = scan_rows()
    values[[5, 40, 41, 100], 0] = np.nan  # holes: no value, no weight
    values[77, 2] = np.nan
    x, y = columns * STEP, rows * STEP
    inside = Roi(3, 15, 1.5, 12).mask(x, y)  # columns 2..10, rows 1..8 of the scan
    smoothed = smooth_rows(values[inside], x[inside], y[inside], sigma)
    for j in range(3):
        expected = direct_smooth(values[inside, j], rows[inside], columns[inside], sigma)
        np.testing.assert_allclose(smoothed[:, j], expected, rtol=1e-10, equal_nan=True)
    assert np.isnan(smoothed[:, 0]).sum() == np.isnan(values[inside, 0]).sum()  # holes stay holes, none spread


def test_maps_smoothing_is_nan_aware_and_a_constant_stays_constant():
    maps = np.full((2, 10, 14), 3.25, np.float32)
    maps[:, 4, 5] = np.nan
    maps[1, :, :3] = np.nan  # a missing band at the edge
    smoothed = smooth_maps(maps, 1.5)
    assert smoothed.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(smoothed), np.isnan(maps))
    np.testing.assert_allclose(smoothed[np.isfinite(smoothed)], 3.25, rtol=1e-6)  # no pull towards 0 at holes/edges
    np.testing.assert_array_equal(smooth_maps(maps, 0), maps)


def test_bad_sigma_is_refused():
    values, rows, columns = scan_rows()
    with pytest.raises(InputError, match="smooth must be a Gaussian sigma in grid steps >= 0, got -1"):
        smooth_rows(values, columns * STEP, rows * STEP, -1)
    with pytest.raises(InputError, match="got 'wide'"):
        ClusterJob(latents="a", bandcontrast=BandContrast.scan_map(), method="kmeans", smooth="wide")


def write_scan_latents(path, values, rows, columns):
    writer = LatentsWriter(path, {"all": values.shape}, {"test": "smooth"})
    writer.write_rows("all", 0, values.astype(np.float32))
    writer.write_array("x", columns * STEP)
    writer.write_array("y", rows * STEP)
    writer.write_array("grid_shape", np.array([rows.max() + 1, columns.max() + 1]))
    return writer.finish({"model": "random"})


def test_the_cluster_job_smooths_latents_and_band_contrast_over_the_roi_rows_only(tmp_path):
    values, rows, columns = scan_rows()
    x, y = columns * STEP, rows * STEP
    latents = write_scan_latents(tmp_path / "scan_latents.h5", values, rows, columns)
    bandcontrast = np.random.default_rng(1).integers(0, 255, len(x)).astype(float)
    pd.DataFrame({"x": x, "y": y, "bandcontrast": bandcontrast}).to_csv(tmp_path / "bc.csv", index=False)

    roi = Roi(3, 15, 1.5, 12)
    job = dict(latents=str(latents), bandcontrast=BandContrast.table(tmp_path / "bc.csv"), method="kmeans", roi=roi, smooth=1.0)
    inputs = load_inputs(ClusterJob(**job, features="latent"))
    inside = roi.mask(x, y)
    for j in range(3):
        expected = direct_smooth(values[inside, j].astype(np.float32).astype(np.float64), rows[inside],
                                 columns[inside], 1.0)
        np.testing.assert_allclose(inputs.features[:, j], expected, rtol=1e-6)
    np.testing.assert_array_equal(inputs.bandcontrast, bandcontrast[inside])  # the CSV keeps raw values
    pair = load_inputs(ClusterJob(**job, features="pair", dim=2))
    np.testing.assert_allclose(pair.features[:, 1], direct_smooth(bandcontrast[inside], rows[inside],
                                                                  columns[inside], 1.0), rtol=1e-10)
    np.testing.assert_allclose(pair.features[:, 0], inputs.features[:, 2])


def test_smoothed_features_are_standardised_by_the_unsmoothed_scale_so_noise_stays_small(tmp_path):
    """Two grains (left, right) told apart by one latent dimension among twelve of pure noise: smoothing
    shrinks the noise; standardising the smoothed features by their own std would scale it back up to
    the grains' weight (KMeans then splits along the noise, ARI 0.07), by the raw std it stays small."""
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(1)
    rows, columns = np.divmod(np.arange(24 * 24), 24)
    grains = (columns >= 12).astype(int)
    values = rng.normal(0, 1, (len(rows), 12))
    values[:, 0] += np.where(grains, 0.8, -0.8)
    latents = write_scan_latents(tmp_path / "scan_latents.h5", values, rows, columns)
    bandcontrast = tmp_path / "bc.csv"
    pd.DataFrame({"x": columns * STEP, "y": rows * STEP, "bandcontrast": 1.0}).to_csv(bandcontrast, index=False)
    job = ClusterJob(latents=str(latents), bandcontrast=BandContrast.table(bandcontrast), method="kmeans", features="latent",
                     smooth=1.0, params={"n_clusters": 2})
    inputs = load_inputs(job)
    for got, expected in zip(inputs.scale, feature_scale(values.astype(np.float32))):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert adjusted_rand_score(grains, cluster_inputs(job, inputs).labels) > 0.9
    assert adjusted_rand_score(grains, cluster(inputs.features, "kmeans", n_clusters=2).labels) < 0.5
