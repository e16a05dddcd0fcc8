"""The items behind chosen rows (latentcore.analysis.items): pages of a selection read exactly their
rows, and the streamed mean equals numpy's mean of the rows read directly from the file with h5py."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from latentcore.analysis.items import by_partition, mean_item, page_of, read_items
from latentcore.data import open_source
from latentcore.errors import InputError


def test_pages_cover_the_selection_once_in_order():
    rows = np.random.default_rng(3).permutation(1000)[:412]
    pages = [page_of(len(rows), n, 24) for n in range(page_of(412, 0, 24).pages)]
    assert len(pages) == 18 and pages[1].label() == "images 25-48 of 412" and pages[-1].label() == "images 409-412 of 412"
    assert np.array_equal(np.concatenate([p.of(rows) for p in pages]), rows)
    assert page_of(412, 99, 24).number == 17 and page_of(412, -3, 24).number == 0  # clamped
    assert page_of(0, 0, 24).label() == "no images" and len(page_of(0, 0, 24).of(rows[:0])) == 0
    with pytest.raises(InputError):
        page_of(10, 0, 0)


def test_a_page_reads_exactly_its_rows_from_the_scan(ebsd_h5):
    selection = np.random.default_rng(7).choice(2400, 61, replace=False)  # not sorted: the selection's order
    page = page_of(len(selection), 2, 24)
    rows = page.of(selection)
    with open_source(ebsd_h5) as reader:
        items = read_items(reader, ["all"] * len(rows), rows)
    with h5py.File(ebsd_h5) as f:
        direct = f["Scan 1/EBSD/Data/patterns"][()][rows]
    assert len(rows) == 13 and np.array_equal(rows, selection[48:61])
    np.testing.assert_array_equal(items.reshape(direct.shape), direct.astype(np.float32))


def test_global_rows_are_named_by_partition_and_index():
    parts = by_partition({"valid": 12, "train": 6}, [13, 2, 11, 12, 17])
    assert list(parts) == ["valid", "train"]
    assert parts["valid"].tolist() == [2, 11] and parts["train"].tolist() == [1, 0, 5]
    with pytest.raises(InputError, match="row ids"):
        by_partition({"all": 10}, [10])


def test_a_page_of_cutouts_reads_rows_of_two_partitions_in_the_selection_order(sst_h5):
    partitions, indices = ["train", "valid", "train", "valid"], [5, 0, 1, 3]
    with open_source(sst_h5) as reader:
        items = read_items(reader, partitions, indices)
    with h5py.File(sst_h5) as f:
        direct = np.stack([f[p][i] for p, i in zip(partitions, indices)]).astype(np.float32)
    np.testing.assert_array_equal(items, direct)


def test_the_streamed_mean_is_numpys_mean_of_the_rows(ebsd_h5):
    rows = np.random.default_rng(11).choice(2400, 777, replace=False)
    told = []
    with open_source(ebsd_h5) as reader:
        mean, count = mean_item(reader, {"all": rows}, block=100,
                                progress=lambda fraction, message: told.append(fraction))
    with h5py.File(ebsd_h5) as f:
        direct = f["Scan 1/EBSD/Data/patterns"][()][np.sort(rows)].astype(np.float64)
    assert count == 777 and mean.dtype == np.float64 and mean.shape == (1, 60, 60)  # the items' (C, H, W)
    np.testing.assert_allclose(mean[0], direct.mean(axis=0), rtol=1e-12)
    assert len(told) == 8 and told[-1] == 1.0  # streamed: 8 blocks of at most 100


def test_the_mean_of_two_partitions_counts_each_item_once(sst_h5):
    with open_source(sst_h5) as reader:
        mean, count = mean_item(reader, {"train": [5, 1, 5], "valid": [0]}, block=2)  # train 5 twice
    with h5py.File(sst_h5) as f:
        direct = np.stack([f["train"][5], f["valid"][0], f["train"][1]]).astype(np.float64)
    assert count == 3
    np.testing.assert_allclose(mean, direct.mean(axis=0), rtol=1e-12)


def test_the_mean_is_accumulated_in_float64(sst_h5):
    """Float32 sums of these real-valued cutouts are off by about 1e-8 of their size; float64's are not."""
    with open_source(sst_h5) as reader:
        mean, count = mean_item(reader, by_partition({"valid": 12, "train": 6}, np.arange(18)), block=5)
    with h5py.File(sst_h5) as f:
        direct = np.concatenate([f["valid"][()], f["train"][()]]).astype(np.float64)
    assert count == 18
    np.testing.assert_allclose(mean, direct.mean(axis=0), rtol=0, atol=1e-13 * np.abs(direct).max())
    with open_source(sst_h5) as reader, pytest.raises(InputError, match="no items"):
        mean_item(reader, {"valid": []})
