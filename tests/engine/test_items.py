"""The items behind chosen rows (latentcore.analysis.items): pages of a selection read exactly their
rows, and the streamed mean equals numpy's mean of the rows read directly from the file with h5py."""
from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.items import by_partition, mean_item, page_of, read_items, table_rows
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


def test_rows_are_parsed_and_checked():
    from latentcore.analysis.items import parse_rows

    assert parse_rows("3-5,1,4", 10).tolist() == [1, 3, 4, 5]
    for bad, message in (("0-10", "within 0..9"), ("5-2", "increasing"), ("a", "row ids or ranges"), ("12", "0..9")):
        with pytest.raises(InputError, match=message):
            parse_rows(bad, 10)


@pytest.fixture(scope="module")
def scan_and_latents(h5oina_small, tmp_path_factory):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from latentcore.demo import DEMO_MODEL
    from latentcore.extract import extract_file
    from latentcore.models import load_model

    return h5oina_small, extract_file(h5oina_small, load_model(DEMO_MODEL), tmp_path_factory.mktemp("latents"),
                                      device="cpu").path


def test_the_mean_pattern_command_of_rows_and_of_a_cluster(scan_and_latents, tmp_path, capsys):
    import json

    import pandas as pd
    from PIL import Image

    from latentcore.cli import main
    from latentcore.storage import sha256_file

    scan, latents = scan_and_latents
    with h5py.File(scan) as f:
        patterns = f["1/EBSD/Data/Processed Patterns"][()].astype(np.float64)
    assert main(["mean-pattern", str(latents), "--source", str(scan), "--rows", "10-19,40", "--out", str(tmp_path)]) == 0
    mean = np.load(tmp_path / "mean_pattern__small_scan__11rows.npy", allow_pickle=False)
    np.testing.assert_allclose(mean[0], patterns[[*range(10, 20), 40]].mean(axis=0), rtol=1e-12)
    report = json.loads((tmp_path / "mean_pattern__small_scan__11rows.json").read_text())
    assert report["count"] == 11 and report["inputs"]["source"]["sha256"] == sha256_file(scan)
    assert report["versions"]["numpy"] and report["accumulation"] == "float64"
    with Image.open(tmp_path / "mean_pattern__small_scan__11rows.png") as image:
        assert round(image.info["dpi"][0]) == 300

    labels = np.arange(180) % 3
    pd.DataFrame({"row": np.arange(180), "x_um": 0.0, "cluster": labels}).to_csv(tmp_path / "clusters.csv", index=False)
    assert main(["mean-pattern", str(latents), "--source", str(scan), "--table", str(tmp_path / "clusters.csv"),
                 "--cluster", "2", "--out", str(tmp_path), "--no-png"]) == 0
    mean = np.load(tmp_path / "mean_pattern__small_scan__cluster2.npy", allow_pickle=False)
    np.testing.assert_allclose(mean[0], patterns[labels == 2].mean(axis=0), rtol=1e-12)

    capsys.readouterr()
    other = tmp_path / "other.h5oina"
    other.write_bytes(scan.read_bytes() + b"\0")  # another file
    assert main(["mean-pattern", str(latents), "--source", str(other), "--rows", "0", "--out", str(tmp_path)]) != 0
    assert "not the data file these latents came from" in capsys.readouterr().err


def test_a_gallery_caption_says_the_row_its_position_in_its_unit_and_its_band_contrast():
    from latentcore.analysis.items import item_caption

    assert item_caption(812, 12.0, 30.5, "um", 143.0) == "row 812 · x 12.0 µm, y 30.5 µm · BC 143"
    assert item_caption(7, np.float32(0.05), np.float64(1.25), "nm") == "row 7 · x 0.05 nm, y 1.25 nm"
    assert item_caption(3, band_contrast=np.nan) == "row 3"  # no position, no band contrast: the row alone


def test_a_studys_sources_named_as_numbers_stay_apart(tmp_path):
    """A study's table read as text where it names sources: `001` and `1` are two sources, not one number."""
    table = tmp_path / "study.csv"
    pd.DataFrame({"source": ["001", "001", "1"], "row": [0, 1, 2]}).to_csv(table, index=False)
    assert table_rows(table, 5, source="001").tolist() == [0, 1]
    assert table_rows(table, 5, own="1").tolist() == [2]
