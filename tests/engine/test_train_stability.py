"""The VAE trains on any scan with its defaults: finite losses on simulated h5ebsd and Oxford scans, a
divergence that stops with one line, preprocessing identical at training and extraction, loss plots
that survive degenerate losses."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from latentcore.data import open_source
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd, write_h5oina
from latentcore.errors import TrainingError
from latentcore.extract import Extractor, extract_array, extract_file
from latentcore.latents import read_latents
from latentcore.models import load_model
from latentcore.models.base import LoadedModel
from latentcore.train import TrainConfig, load_patterns, train_vae
from latentcore.train.outputs import loss_scale, plot_loss_curve

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SCAN = ScanSettings(n_rows=8, n_columns=10, pattern_size=24, n_grains=4, seed=1)
PREPROCESSING = {"static_background": "subtract", "dynamic_background": "divide", "neighbour_window": "gaussian"}


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    scan = simulate_scan(SCAN)
    folder = tmp_path_factory.mktemp("sim")
    return write_h5ebsd(scan, folder / "sim.h5"), write_h5oina(scan, folder / "sim.h5oina")


def tiny(data, out_dir, **overrides) -> TrainConfig:
    values = dict(data=data, out_dir=out_dir, input_size=16, latent_dim=3, channels=(4, 8), epochs=2,
                  batch_size=16, kl_warmup_epochs=1, device="cpu")
    return TrainConfig(**{**values, **overrides})


def test_the_oxford_scan_uint8_0_255_trains_with_finite_losses(scans, tmp_path):
    """The issue's failure: background-corrected uint8 H5OINA patterns gave NaN from epoch 1."""
    _, oxford = scans
    with open_source(oxford) as reader:
        assert reader.info().format == "oxford" and reader.read("all", 0, 80).max() == 255
    result = train_vae(tiny(oxford, tmp_path / "run", epochs=3, input_size=24, latent_dim=8, channels=(8, 16),
                            lr=2e-2))
    losses = pd.read_csv(tmp_path / "run" / "loss.csv")
    assert result.stop_reason == "completed" and len(losses) == 3
    assert np.isfinite(losses[["train_loss", "train_kl", "val_loss", "val_kl"]].to_numpy()).all()
    assert (tmp_path / "run" / "loss_curve.png").stat().st_size > 0


def test_a_diverging_run_stops_with_one_line_naming_the_epoch(scans, tmp_path):
    h5ebsd, _ = scans
    with pytest.raises(TrainingError) as stopped:
        train_vae(tiny(h5ebsd, tmp_path / "run", lr=1e12, grad_clip=None))
    message = str(stopped.value)
    assert "\n" not in message and "epoch 1" in message and "likely cause" in message and "1e+12" in message
    assert pd.read_csv(tmp_path / "run" / "loss.csv").empty  # no NaN row was written
    status = json.loads((tmp_path / "run" / "config.json").read_text())["result"]["status"]
    assert status.startswith("diverged: training stopped at epoch 1")


def test_preprocessing_is_recorded_and_extraction_feeds_the_model_the_training_inputs(scans, tmp_path):
    h5ebsd, _ = scans
    config = tiny(h5ebsd, tmp_path / "run", epochs=1, preprocessing=PREPROCESSING)
    result = train_vae(config)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["preprocess"]["patterns"]
    assert {k: recorded[k] for k in PREPROCESSING} == PREPROCESSING and recorded["static_background_from"] == "stored"
    model = load_model(result.model_path)
    assert {k: model.preprocessing[k] for k in PREPROCESSING} == PREPROCESSING
    with open_source(h5ebsd) as reader:
        trained_on = load_patterns(reader, config).patterns
        # the extractor's own input path, with a model that returns its input: what the VAE is fed
        identity = LoadedModel("identity", "vae", torch.nn.Flatten(), model.input_spec,
                               preprocessing=model.preprocessing)
        extracted_inputs = extract_array(Extractor(identity, "cpu", batch_size=7), reader, "all")
    np.testing.assert_array_equal(extracted_inputs, trained_on.reshape(len(trained_on), -1))
    with open_source(h5ebsd) as reader:
        plain = load_patterns(reader, tiny(h5ebsd, tmp_path, preprocessing=None)).patterns
    assert np.abs(plain - trained_on).mean() > 0.05  # the preprocessing did change the inputs
    latents = read_latents(extract_file(h5ebsd, model, tmp_path / "latents", device="cpu").path)
    assert json.loads(latents.attrs["preprocessing"])["neighbour_window"] == "gaussian"  # dicts are stored as JSON


@pytest.mark.parametrize("losses", [[0.0, 0.0], [2.0, -1.0], [5.0, float("nan")]])
def test_loss_plots_survive_zero_negative_and_nan_losses(tmp_path, losses):
    history = [{"epoch": i + 1, "train_loss": v, "val_loss": v} for i, v in enumerate(losses)]
    path = plot_loss_curve(history, tmp_path / "loss.png", best_epoch=1)
    assert path.stat().st_size > 0
    assert loss_scale(losses) == "linear" if min(np.nan_to_num(losses, nan=1)) <= 0 else "log"


def test_extract_flags_preprocess_for_a_model_without_a_record_and_refuse_to_override_one(scans, tmp_path,
                                                                                          capsys):
    from latentcore.cli import main

    h5ebsd, _ = scans
    plain = train_vae(tiny(h5ebsd, tmp_path / "plain", epochs=1, preprocessing=None)).model_path
    assert main(["extract", str(h5ebsd), "--model", str(plain), "--out", str(tmp_path / "a"), "--device", "cpu",
                 "--dynamic-background", "subtract"]) == 0
    attrs = read_latents(next((tmp_path / "a").glob("sim__*_latents.h5"))).attrs  # the trained model's short hash
    assert json.loads(attrs["preprocessing"])["dynamic_background"] == "subtract"
    trained = train_vae(tiny(h5ebsd, tmp_path / "prep", epochs=1, preprocessing=PREPROCESSING)).model_path
    capsys.readouterr()  # the progress bar of the first extraction
    assert main(["extract", str(h5ebsd), "--model", str(trained), "--out", str(tmp_path / "b"),
                 "--static-background", "divide"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "trained with the preprocessing 'static background subtract" in error
