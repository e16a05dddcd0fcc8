"""Latents as training data (latentcore.export): NPZ and Parquet exports and the torch Dataset view."""
import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA

from latentcore.data._hdf5 import read_byte_table
from latentcore.errors import InputError
from latentcore.export import LatentsDataset, export_npz, export_parquet, split_indices
from latentcore.latents import LatentsWriter, read_latents


@pytest.fixture(scope="module")
def scan_latents(tmp_path_factory, ebsd_h5, truth_csv):
    """A scan latents file (PCA of the real EBSD patterns, with x, y) and the grain ids."""
    with h5py.File(ebsd_h5, "r") as f:
        patterns = f["Scan 1/EBSD/Data/patterns"][()].reshape(2400, -1).astype(np.float64)
        x = f["Scan 1/EBSD/CrystalMap/crystal_map/data/x"][()]
        y = f["Scan 1/EBSD/CrystalMap/crystal_map/data/y"][()]
    latents = PCA(8, random_state=0).fit_transform(patterns).astype(np.float32)
    writer = LatentsWriter(tmp_path_factory.mktemp("scan") / "ni_grains_latents.h5", {"all": latents.shape}, {})
    writer.write_rows("all", 0, latents)
    writer.write_array("x", x)
    writer.write_array("y", y)
    path = writer.finish({"model": "pca-8"})
    return path, latents, pd.read_csv(truth_csv)["grain_id"].to_numpy()


@pytest.fixture(scope="module")
def cutout_latents(tmp_path_factory, sst_h5):
    """A cutout latents file (valid + train, with the real metadata tables)."""
    with h5py.File(sst_h5, "r") as f:
        parts = {name: f[name][()].reshape(len(f[name]), -1) for name in ("valid", "train")}
        meta = {name: read_byte_table(f[f"{name}_metadata"]) for name in parts}
    pca = PCA(4, random_state=0).fit(np.concatenate(list(parts.values())))
    shapes = {name: (len(v), 4) for name, v in parts.items()}
    writer = LatentsWriter(tmp_path_factory.mktemp("sst") / "sst_latents.h5", shapes, {})
    for name, values in parts.items():
        writer.write_rows(name, 0, pca.transform(values).astype(np.float32))
        writer.write_metadata(name, meta[name])
    return writer.finish({"model": "pca-4"}), meta


def test_split_is_seeded_disjoint_and_complete():
    split = split_indices(1000, (0.7, 0.2, 0.1), random_state=4)
    assert [len(split[k]) for k in ("train", "val", "test")] == [700, 200, 100]
    assert np.array_equal(np.sort(np.concatenate(list(split.values()))), np.arange(1000))
    again = split_indices(1000, (0.7, 0.2, 0.1), random_state=4)
    assert all(np.array_equal(split[k], again[k]) for k in split)
    assert not np.array_equal(split["train"], split_indices(1000, (0.7, 0.2, 0.1), random_state=5)["train"])
    with pytest.raises(InputError, match="summing to 1"):
        split_indices(10, (0.5, 0.2, 0.2))


def test_npz_export_round_trips_through_the_features_reader(tmp_path, scan_latents):
    from latentcore.data import open_source

    path, latents, grain = scan_latents
    out = export_npz(path, tmp_path / "features.npz", labels=grain, random_state=1)
    with np.load(out, allow_pickle=False) as npz:
        assert np.array_equal(npz["X"], latents) and np.array_equal(npz["y"], grain)
        split = {k: npz[f"idx_{k}"] for k in ("train", "val", "test")}
        assert np.array_equal(npz["coord_x"], read_latents(path).x)
    assert [len(v) for v in split.values()] == [1920, 240, 240]
    assert np.array_equal(np.sort(np.concatenate(list(split.values()))), np.arange(2400))
    with open_source(out) as reader:  # the KinoML-style reader of latentcore.data
        assert reader.info().format == "npz" and reader.info().partitions["train"] == 1920
        assert np.array_equal(reader.read("all", 0, 2400), latents)
        assert np.array_equal(reader.read("test", 0, 240), latents[split["test"]])
        assert np.array_equal(reader.labels("val"), grain[split["val"]])
    assert not list(tmp_path.glob("*.partial"))


def test_parquet_export_holds_latents_labels_coordinates_and_the_same_split(tmp_path, scan_latents):
    path, latents, grain = scan_latents
    table = pd.read_parquet(export_parquet(path, tmp_path / "features.parquet", labels=grain, random_state=1))
    assert np.array_equal(table[[f"latent_{i}" for i in range(8)]].to_numpy(), latents)
    assert np.array_equal(table["label"], grain) and np.array_equal(table["x"], read_latents(path).x)
    with np.load(export_npz(path, tmp_path / "f.npz", labels=grain, random_state=1)) as npz:
        for name in ("train", "val", "test"):
            assert np.array_equal(np.flatnonzero(table["split"] == name), npz[f"idx_{name}"])


def test_cutout_exports_take_labels_from_a_metadata_column(tmp_path, cutout_latents):
    path, meta = cutout_latents
    table = pd.read_parquet(export_parquet(path, tmp_path / "sst.parquet", labels="pp_type"))
    assert table["partition"].tolist() == ["valid"] * 12 + ["train"] * 6
    assert table["label"].tolist() == [0] * 12 + [1] * 6
    assert np.allclose(table["DT40"], pd.concat([meta["valid"]["DT40"], meta["train"]["DT40"]]))
    with np.load(export_npz(path, tmp_path / "valid.npz", labels="DT40", partitions="valid")) as npz:
        assert npz["X"].shape == (12, 4) and np.allclose(npz["y"], meta["valid"]["DT40"])
        assert "coord_x" not in npz.files
    with pytest.raises(InputError, match="no metadata column 'nope'"):
        export_npz(path, tmp_path / "x.npz", labels="nope")
    with pytest.raises(InputError, match="labels have 3 values but the exported latents have 18 rows"):
        export_parquet(path, tmp_path / "x.parquet", labels=[1, 2, 3])
    with pytest.raises(InputError, match="no partition"):
        export_npz(path, tmp_path / "x.npz", partitions="all")


def test_dataset_items_splits_and_seeded_dataloader(tmp_path, scan_latents):
    path, latents, grain = scan_latents
    dataset = LatentsDataset(path, labels=grain)
    assert len(dataset) == 2400
    features, label = dataset[5]
    assert features.dtype == torch.float32 and torch.equal(features, torch.from_numpy(latents[5]))
    assert label.dtype == torch.int64 and int(label) == grain[5]

    train = LatentsDataset(read_latents(path), labels=grain, split="train", random_state=1)
    with np.load(export_npz(path, tmp_path / "f.npz", labels=grain, random_state=1)) as npz:
        assert np.array_equal(train.rows, npz["idx_train"])
    assert torch.equal(train[0][0], torch.from_numpy(latents[train.rows[0]]))

    def order(loader):
        return torch.cat([batch[1] for batch in loader]), torch.cat([batch[0] for batch in loader])

    labels_a, rows_a = order(train.as_dataloader(batch_size=256, shuffle=True, seed=3))
    labels_b, rows_b = order(train.as_dataloader(batch_size=256, shuffle=True, seed=3))
    labels_c, _ = order(train.as_dataloader(batch_size=256, shuffle=True, seed=4))
    assert torch.equal(rows_a, rows_b) and not torch.equal(labels_a, labels_c)
    assert sorted(labels_a.tolist()) == sorted(grain[train.rows].tolist())  # every row once

    unlabelled = LatentsDataset(path).as_dataloader(batch_size=1000)
    assert [tuple(b.shape) for b in unlabelled] == [(1000, 8), (1000, 8), (400, 8)]
