"""A new image's place in a saved embedding, its temperature range, and features files as latents."""
import h5py
import numpy as np
import torch

from latentcore.analysis.embedding.fit import fit_embedding
from latentcore.analysis.embedding.projection import project_image, temperature_range
from latentcore.data._hdf5 import read_byte_table
from latentcore.extract import Extractor
from latentcore.latents import features_to_latents, read_latents
from latentcore.models.base import InputSpec, LoadedModel
from latentcore.models.nenya import build_nenya


def test_temperature_range_follows_ulmo_on_the_real_cutout(sst_dir, sst_h5):
    with h5py.File(sst_h5) as f:
        row = read_byte_table(f["train_metadata"]).iloc[4]  # train[4] is test_image, in degrees C
    stats = temperature_range(np.load(sst_dir / "test_image.npy"))
    assert abs(stats["T10"] - row["T10"]) < 1e-3 and abs(stats["T90"] - row["T90"]) < 1e-3
    assert stats["DT"] == stats["T90"] - stats["T10"] > 0


def test_a_known_cutout_lands_on_its_own_point(sst_h5, tmp_path):
    torch.manual_seed(0)
    model = LoadedModel("nenya-resnet18", "nenya", build_nenya({"ssl_model": "resnet18", "feat_dim": 16}).eval(),
                        InputSpec(1, None, "none"))
    with h5py.File(sst_h5) as f:
        cutouts = np.concatenate([f["valid"][()], f["train"][()]])
    latents = Extractor(model, "cpu", batch_size=18).extract_batch(cutouts)
    fitted = fit_embedding(latents, method="pca", cache_dir=False)
    np.save(tmp_path / "cutout.npy", cutouts[7, 0])
    landed = project_image(tmp_path / "cutout.npy", model, fitted)
    np.testing.assert_allclose(landed["xy"], fitted.coords[7], atol=1e-4)
    np.testing.assert_allclose(landed["latent"], latents[7], atol=1e-5)


def test_npz_features_become_a_latents_file_with_labels(tmp_path):
    X = np.random.default_rng(0).normal(size=(30, 5)).astype(np.float32)
    y = np.arange(30) % 3
    np.savez(tmp_path / "feats.npz", X=X, y=y, idx_train=np.arange(20), idx_test=np.arange(20, 30))
    latents = read_latents(features_to_latents(tmp_path / "feats.npz", tmp_path / "out"))
    np.testing.assert_array_equal(latents.partitions["all"], X)
    assert latents.metadata["all"]["label"].tolist() == y.tolist()
