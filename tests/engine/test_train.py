"""latentcore.train: filters, preprocessing shared with extraction, outputs, exact resume (from an epoch's
end or from the middle of one), the time estimate from the first batches, settings sized for the machine
(`sizing`) and a part of the patterns per epoch, the model's name, the atomic checkpoint, early stop, CLI,
and the quality bar (VAE latents recover the simulated grains)."""
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from latentcore.analysis.maps import Roi
from latentcore.data import open_source
from latentcore.data.bandcontrast import BandContrast
from latentcore.errors import InputError, OutputError
from latentcore.extract import Extractor, extract_array, extract_file
from latentcore.models import load_model
from latentcore.models.vae import ConvVAE
from latentcore.storage import lock_exclusive, sha256_file
from latentcore.train import TrainConfig, encode_patterns, load_patterns, train_vae
from latentcore.train.dataset import select_rows
from latentcore.train.outputs import inputs_found, stopped_runs
from latentcore.train.pace import ESTIMATE_BATCHES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


ROI = Roi(0.0, 28.5, 0.0, 28.5)  # 20 x 20 pixels of the 60 x 40 scan: small and fast


def tiny(ebsd_h5, out_dir, **overrides) -> TrainConfig:
    values = dict(data=ebsd_h5, out_dir=out_dir, roi=ROI, input_size=16, latent_dim=3, channels=(4, 8),
                  epochs=2, batch_size=32, kl_warmup_epochs=1, device="cpu")
    return TrainConfig(**{**values, **overrides})


# -- which patterns, prepared how -----------------------------------------------------------------

def test_the_band_contrast_filter_takes_the_scans_own_map(h5oina_small, tmp_path):
    with open_source(h5oina_small) as reader:
        own = reader.point_maps()["Band Contrast"]
        own_map = BandContrast.scan_map("Band Contrast")
        kept, summary = select_rows(reader, "all", TrainConfig(h5oina_small, tmp_path, bandcontrast=own_map, bc_min=200))
    np.testing.assert_array_equal(kept, np.flatnonzero(own >= 200))
    assert 0 < len(kept) < len(own) and summary["kept"] == len(kept)


def test_filters_select_the_rows_the_tables_say(ebsd_h5, bandcontrast_csv, tmp_path):
    table = pd.read_csv(bandcontrast_csv)  # row-major like the scan, so row i is pattern i
    keep_list = table.sample(50, random_state=0)[["x", "y"]]
    keep_list.to_csv(tmp_path / "keep.csv", index=False)
    with open_source(ebsd_h5) as reader:
        table_bc = BandContrast.table(bandcontrast_csv)
        by_bc, _ = select_rows(reader, "all", TrainConfig(ebsd_h5, tmp_path, bandcontrast=table_bc, bc_min=150))
        by_roi, _ = select_rows(reader, "all", TrainConfig(ebsd_h5, tmp_path, roi=Roi(3, 9, 1.5, 6)))
        by_list, summary = select_rows(reader, "all", TrainConfig(ebsd_h5, tmp_path, keep_coordinates=tmp_path / "keep.csv",
                                                                  bandcontrast=table_bc, bc_min=150))
    np.testing.assert_array_equal(by_bc, np.flatnonzero(table.bandcontrast >= 150))
    assert 0 < len(by_bc) < len(table)
    in_roi = table.x.between(3, 9) & table.y.between(1.5, 6)
    np.testing.assert_array_equal(by_roi, np.flatnonzero(in_roi))
    assert len(by_roi) == 5 * 4
    both = np.intersect1d(np.sort(keep_list.index.to_numpy()), np.flatnonzero(table.bandcontrast >= 150))
    np.testing.assert_array_equal(by_list, both)
    assert summary["kept"] == len(both)


def test_training_preprocessing_is_what_extraction_feeds_the_model(ebsd_h5, tmp_path):
    """The trained model gives the same latents through the engine's load_model + Extractor (its
    recorded background correction, then prepare_batch) as on the trainer's own preprocessed
    patterns: training and extraction see the same inputs."""
    result = train_vae(tiny(ebsd_h5, tmp_path / "run", epochs=1))
    loaded = load_model(result.model_path)
    assert loaded.arch == "vae" and loaded.input_spec.size == (16, 16) and loaded.input_spec.normalize == "minmax"
    with open_source(ebsd_h5) as reader:
        trained_on = load_patterns(reader, TrainConfig(ebsd_h5, tmp_path, input_size=16))
        extracted = extract_array(Extractor(loaded, "cpu"), reader, "all", np.arange(40))
    assert trained_on.patterns.shape == (2400, 1, 16, 16)
    assert trained_on.patterns.min() == -1 and trained_on.patterns.max() == 1
    model = ConvVAE.from_checkpoint(torch.load(result.model_path, weights_only=True))
    np.testing.assert_allclose(extracted, encode_patterns(model, trained_on.patterns[:40]), atol=1e-5)


def test_trains_on_other_sources_edax_and_an_image_folder_with_a_crop(edax_h5, tmp_path):
    from PIL import Image

    edax = train_vae(tiny(edax_h5, tmp_path / "edax", epochs=1))
    assert edax.n_train + edax.n_val == 400
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):  # RGB, not square: the crop makes them square, grey comes from the mean
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(folder / f"im{i:02d}.png")
    images = train_vae(TrainConfig(folder, tmp_path / "img", crop=16, input_size=None, latent_dim=2,
                                   channels=(4,), epochs=1, batch_size=4, device="cpu"))
    assert images.n_train + images.n_val == 12
    assert load_model(images.model_path).input_spec.size == (16, 16)
    with pytest.raises(InputError, match="not square"):
        train_vae(TrainConfig(folder, tmp_path / "img2", input_size=None, device="cpu"))


# -- a run and its outputs ----------------------------------------------------------------------------

def test_a_run_writes_every_output(ebsd_h5, tmp_path):
    reports = []
    result = train_vae(tiny(ebsd_h5, tmp_path / "run", epochs=3), callback=reports.append)
    assert [r.epoch for r in reports] == [1, 2, 3] and result.stop_reason == "completed"
    assert all(np.isfinite([r.train_loss, r.val_loss]).all() for r in reports)
    assert reports[0].reconstructions.shape == reports[0].inputs.shape == (8, 16, 16)
    assert result.n_train + result.n_val == 400 and result.n_val == 40
    for name in ("vae_model.pth", "config.json", "loss.csv", "loss_curve.png", "reconstructions.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0, name
    assert not list((tmp_path / "run").glob("*.partial"))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["sha256"] == sha256_file(ebsd_h5) and config["data"]["n_selected"] == 400
    assert config["filters"]["roi"] == ROI.to_json() and config["train"]["latent_dim"] == 3
    assert config["versions"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert config["result"]["status"] == "completed" and config["result"]["epochs_done"] == 3
    losses = pd.read_csv(tmp_path / "run" / "loss.csv")
    np.testing.assert_allclose(losses.val_loss, [r.val_loss for r in reports])
    assert losses.beta.tolist() == [0.0, TrainConfig.beta, TrainConfig.beta]  # KL warm-up over one epoch
    checkpoint = torch.load(result.model_path, weights_only=True)  # plain values: no code can run
    assert checkpoint["arch"] == "vae" and checkpoint["config"]["latent_dim"] == 3
    assert checkpoint["preprocess"]["normalize"] == "minmax"


def test_a_training_set_over_the_memory_budget_is_memory_mapped(ebsd_h5, tmp_path, monkeypatch):
    import latentcore.train.dataset as dataset

    monkeypatch.setattr(dataset, "MEMORY_BUDGET_BYTES", 1)
    with open_source(ebsd_h5) as reader:
        mapped = load_patterns(reader, tiny(ebsd_h5, tmp_path), cache_dir=tmp_path / "cache")
    assert isinstance(mapped.patterns, np.memmap) and mapped.patterns.shape == (400, 1, 16, 16)
    result = train_vae(tiny(ebsd_h5, tmp_path / "run"))
    assert np.isfinite(result.best_val_loss) and not (tmp_path / "run" / "cache").exists()


def test_an_interrupted_run_resumes_exactly_where_it_stopped(ebsd_h5, tmp_path):
    straight = train_vae(tiny(ebsd_h5, tmp_path / "straight", epochs=4))
    stop = threading.Event()
    first = train_vae(tiny(ebsd_h5, tmp_path / "cut", epochs=4), callback=lambda r: r.epoch == 2 and stop.set(),
                      stop_event=stop)
    assert first.stop_reason == "stopped" and len(first.history) == 2
    resumed = train_vae(tiny(ebsd_h5, tmp_path / "cut", epochs=4))
    assert resumed.resumed_from == 2 and [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    # same seed, same data: the resumed run's losses equal those of the uninterrupted run (CPU)
    assert pd.DataFrame(resumed.history)[["train_loss", "val_loss"]].equals(
        pd.DataFrame(straight.history)[["train_loss", "val_loss"]])


class StopAtLook:
    """A stop_event set from its nth look on. train_vae looks before every batch and after every
    epoch: with tiny()'s 12 batches an epoch, look 5 is before batch 5 of epoch 1 (4 done), look 18
    before batch 5 of epoch 2."""

    def __init__(self, look: int):
        self.look, self.looks = look, 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks >= self.look


def last_state(out_dir) -> dict:
    return torch.load(Path(out_dir) / "checkpoint.pth", weights_only=True)


@pytest.mark.parametrize("look, epochs_done, batches_done", [(5, 0, 4), (18, 1, 4)])
def test_a_run_stopped_mid_epoch_resumes_at_its_last_batch_and_ends_as_an_uninterrupted_one(
        ebsd_h5, tmp_path, look, epochs_done, batches_done):
    """Bit-identical on the CPU, by construction rather than by luck: the checkpoint holds the weights,
    the optimizer, the RNG state (the reparameterisation's draws) and the epoch's position and loss sums
    (float64, restored exactly), each epoch's order comes from its own seeded generator, and one thread
    (one_torch_thread) makes each CPU kernel repeat its floats. (On a GPU, bf16 autocast and atomics
    make no such promise.)"""
    straight = train_vae(tiny(ebsd_h5, tmp_path / "straight", epochs=3))
    cut = train_vae(tiny(ebsd_h5, tmp_path / "cut", epochs=3), stop_event=StopAtLook(look))
    assert cut.stop_reason == "stopped" and len(cut.history) == epochs_done
    state = last_state(tmp_path / "cut")["state"]
    assert (state["epoch"], state["batch"], state["partial_count"]) == (epochs_done, batches_done, 32 * batches_done)
    resumed = train_vae(tiny(ebsd_h5, tmp_path / "cut", epochs=3))
    assert (resumed.resumed_from, resumed.resumed_at_batch, resumed.stop_reason) == (epochs_done, batches_done,
                                                                                   "completed")
    losses = ["train_loss", "train_rec", "train_kl", "val_loss"]
    assert pd.DataFrame(resumed.history)[losses].equals(pd.DataFrame(straight.history)[losses])
    ends = [last_state(tmp_path / name) for name in ("straight", "cut")]
    for name, weights in ends[0]["model"].items():
        assert torch.equal(weights, ends[1]["model"][name]), name
    moments = [end["optimizer"]["state"][0]["exp_avg"] for end in ends]
    assert torch.equal(*moments)


def test_the_estimate_comes_from_the_first_batches_before_the_run_and_matches_its_time(ebsd_h5, tmp_path):
    """The first pace report is the estimate, timed on ESTIMATE_BATCHES batches of the real data and
    device after one untimed batch, and it comes before the first epoch ends. Against the measured
    epochs it must be right within a factor 4 (the right order of magnitude): batches of this small
    model take milliseconds on a shared 2-core machine, where a busy neighbour can double a few."""
    events = []
    result = train_vae(tiny(ebsd_h5, tmp_path, epochs=3, input_size=32, channels=(8, 16)),
                       callback=lambda report: events.append(("epoch", report)),
                       on_pace=lambda pace: events.append(("pace", pace)))
    kind, estimate = events[0]
    assert kind == "pace" and estimate == result.estimate
    assert (estimate.measured_batches, estimate.batches_done, estimate.batches_per_epoch) == (
        ESTIMATE_BATCHES, ESTIMATE_BATCHES + 1, 12)
    assert estimate.estimate_text().endswith(f"for 3 epochs (measured on {ESTIMATE_BATCHES} batches)")
    measured = sum(row["seconds"] for row in result.history)
    assert 1 / 4 <= estimate.seconds_total / measured <= 4, (estimate, measured)
    last = [pace for kind, pace in events if kind == "pace"][-1]
    assert last.batches_done == last.batches_total == 36 and last.seconds_left == 0


def test_an_epoch_of_patterns_per_epoch_trains_on_that_many_another_draw_each_epoch(ebsd_h5, tmp_path, monkeypatch):
    """Each epoch trains on the first `patterns_per_epoch` patterns of its own shuffle; the pace and the run's files
    count its batches; the threads asked for are torch's during the run, and restored after."""
    from latentcore.train import trainer

    drawn, threads = [], []
    step = trainer._Run.step
    monkeypatch.setattr(trainer._Run, "step", lambda run, batch, beta: (drawn.append(batch.clone()),
                                                                          threads.append(torch.get_num_threads()),
                                                                          step(run, batch, beta))[-1])
    before = torch.get_num_threads()
    paces = []
    result = train_vae(tiny(ebsd_h5, tmp_path, patterns_per_epoch=64, threads=2, epochs=2), on_pace=paces.append)
    assert [len(batch) for batch in drawn] == [32, 32, 32, 32] and set(threads) == {2}
    assert torch.get_num_threads() == before
    assert not torch.equal(torch.cat(drawn[:2]), torch.cat(drawn[2:]))  # another draw in epoch 2
    assert paces[-1].batches_per_epoch == 2 and paces[-1].batches_total == 4
    assert json.loads((tmp_path / "config.json").read_text())["result"]["batches_per_epoch"] == 2
    assert result.n_train == 360  # every training pattern stays in the set the epochs draw from


def test_the_models_name_is_recorded_and_names_its_latents(ebsd_h5, tmp_path):
    """The name given (spaces and all) is the checkpoint's recorded name, which names the latents file (as a file
    name: `outputs.model_tag`) and the model in the latents' summary and label; without one, the data's stem and
    the time."""
    from latentcore.latents import latents_summary, model_label, read_attrs
    from latentcore.outputs import latents_path_for

    named = train_vae(tiny(ebsd_h5, tmp_path / "named", epochs=1, name="  grain finder/v2 "))
    model = load_model(named.model_path)
    assert model.recorded_name == "grain finder/v2"
    assert json.loads((tmp_path / "named" / "config.json").read_text())["model"]["name"] == "grain finder/v2"
    path = latents_path_for(ebsd_h5, tmp_path, model="grain-finder-v2")
    assert extract_file(ebsd_h5, model, out_dir=tmp_path, device="cpu").path == path and path.name == f"{Path(ebsd_h5).stem}__grain-finder-v2_latents.h5"
    assert latents_summary(path)["model"] == "grain-finder-v2"
    assert model_label(read_attrs(path)).startswith("grain finder/v2 (SHA-256 ")
    unnamed = load_model(train_vae(tiny(ebsd_h5, tmp_path / "unnamed", epochs=1)).model_path)
    assert re.fullmatch(rf"{Path(ebsd_h5).stem}-20\d{{6}}-\d{{4}}", unnamed.recorded_name)
    with pytest.raises(InputError, match="name must hold a letter or digit"):
        tiny(ebsd_h5, tmp_path, name="---")



def test_the_checkpoint_is_written_under_a_temporary_name_then_renamed(ebsd_h5, tmp_path, monkeypatch):
    """A write cut short (here: a full disk half-way) leaves the previous checkpoint whole, and no
    partial file behind: the run resumes from the previous one."""
    train_vae(tiny(ebsd_h5, tmp_path, epochs=1))
    before = (tmp_path / "checkpoint.pth").read_bytes()
    save, written = torch.save, []

    def half_a_checkpoint(obj, path, *args, **kwargs):
        written.append(Path(path).name)
        if Path(path).name.startswith("checkpoint"):
            Path(path).write_bytes(before[:100])
            raise OSError("No space left on device")
        return save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", half_a_checkpoint)
    with pytest.raises(OSError, match="No space left"):
        train_vae(tiny(ebsd_h5, tmp_path, epochs=2), stop_event=StopAtLook(3))  # stopped after 2 batches
    assert written == ["checkpoint.pth.partial"]
    assert (tmp_path / "checkpoint.pth").read_bytes() == before and not list(tmp_path.glob("*.partial"))
    monkeypatch.undo()
    resumed = train_vae(tiny(ebsd_h5, tmp_path, epochs=2))
    assert (resumed.resumed_from, resumed.resumed_at_batch) == (1, 0)


def test_a_stopped_run_is_found_from_its_files_and_a_second_call_in_its_folder_is_refused(ebsd_h5, tmp_path):
    """What the Train page lists in every tab: the runs stopped before their epochs, with the config that resumes
    them; not a finished run, not one stopped before its first batch, not a folder whose files are damaged."""
    train_vae(tiny(ebsd_h5, tmp_path / "stopped", epochs=3), stop_event=StopAtLook(5))
    train_vae(tiny(ebsd_h5, tmp_path / "finished", epochs=1))
    train_vae(tiny(ebsd_h5, tmp_path / "timed", epochs=3), stop_event=StopAtLook(1))  # before its first batch
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "checkpoint.pth").write_bytes(b"")
    (tmp_path / "damaged" / "config.json").write_text('{"result": {"status": "stopped"}, "train": {}}')
    [named] = stopped_runs(tmp_path)  # config.json names the data by its name alone: not found without it
    assert named["config"].data == Path(ebsd_h5).name and not inputs_found(named["config"])
    [run] = stopped_runs(tmp_path, [tmp_path / "other.h5", ebsd_h5])  # the files the caller trains on, by name
    assert run["out_dir"] == tmp_path / "stopped" and run["config"] == tiny(ebsd_h5, tmp_path / "stopped", epochs=3)
    assert inputs_found(run["config"])
    assert (run["status"], run["epochs_done"], run["batches_done"], run["batches_per_epoch"]) == ("stopped", 0, 4, 12)
    lock = lock_exclusive(tmp_path / "stopped" / "run.lock")  # a call going on there (resumed in another tab)
    try:
        with pytest.raises(OutputError, match="another run is writing"):
            train_vae(run["config"])
    finally:
        os.close(lock)
    assert train_vae(run["config"]).resumed_at_batch == 4
    assert stopped_runs(tmp_path) == []


def test_a_stop_or_time_limit_before_the_first_batch_writes_no_checkpoint(ebsd_h5, tmp_path):
    stop = threading.Event()
    stop.set()
    stopped = train_vae(tiny(ebsd_h5, tmp_path / "a"), stop_event=stop)
    timed_out = train_vae(tiny(ebsd_h5, tmp_path / "b", max_minutes=1e-9))
    for result, reason in ((stopped, "stopped"), (timed_out, "time_limit")):
        assert result.stop_reason == reason and result.history == []
        assert not result.model_path.exists() and not (result.out_dir / "checkpoint.pth").exists()
        assert json.loads((result.out_dir / "config.json").read_text())["result"]["status"] == reason
    assert train_vae(tiny(ebsd_h5, tmp_path / "a")).resumed_from == 0  # nothing to resume: starts afresh


def test_resuming_with_other_settings_is_refused(ebsd_h5, tmp_path):
    train_vae(tiny(ebsd_h5, tmp_path, epochs=1))
    with pytest.raises(InputError, match="latent_dim"):
        train_vae(tiny(ebsd_h5, tmp_path, epochs=2, latent_dim=4))
    assert train_vae(tiny(ebsd_h5, tmp_path, epochs=1, latent_dim=4, resume=False)).resumed_from == 0


def test_early_stop_on_a_plateau(ebsd_h5, tmp_path):
    result = train_vae(tiny(ebsd_h5, tmp_path, epochs=20, lr=1e-12, kl_warmup_epochs=0, patience=2,
                            min_delta=0.01))
    assert result.stop_reason == "early_stop" and len(result.history) == 3 and result.best_epoch == 1


@pytest.mark.parametrize("overrides, message", [
    ({"bc_min": 100}, "need a bandcontrast table"),
    ({"roi": Roi(1000, 2000, 0, 10)}, "keep 0 of 2400 patterns"),
    ({"latent_dim": 0}, "latent_dim must be >= 1"),
    ({"val_fraction": 1.5}, "val_fraction"),
])
def test_bad_settings_are_refused_with_a_clear_message(ebsd_h5, tmp_path, overrides, message):
    with pytest.raises(InputError, match=message):
        train_vae(tiny(ebsd_h5, tmp_path, **overrides))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_the_gpu_with_bf16_autocast(ebsd_h5, tmp_path):
    result = train_vae(tiny(ebsd_h5, tmp_path, device="cuda"))
    assert result.device.startswith("cuda") and np.isfinite(result.best_val_loss)


# -- the command line --------------------------------------------------------------------------------

def cli(*args):
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}  # tiny model: see one_torch_thread
    return subprocess.run([sys.executable, "-m", "latentcore", "train-vae", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)


def test_cli_trains_then_resumes_at_epoch_3(ebsd_h5, bandcontrast_csv, tmp_path):
    common = [ebsd_h5, "--roi", "0,28.5,0,28.5", "--bandcontrast", bandcontrast_csv, "--bc-min", "100",
              "--input-size", "16", "--latent-dim", "3", "--channels", "4,8", "--device", "cpu", "--out", tmp_path]
    first = cli(*common, "--epochs", "2")
    assert first.returncode == 0, first.stderr
    assert "sized for this machine and 2,400 patterns: " in first.stderr  # batch size, threads, patterns per epoch
    assert re.search(r"; from 60 px patterns, \d+ cores? of .+ at [\d.]+ G multiply-adds/s each \(measured "
                     r"\d{4}-\d\d-\d\d\): the same at any load", first.stderr), first.stderr  # what it was sized from
    assert f"for 2 epochs (measured on {ESTIMATE_BATCHES} batches)" in first.stderr  # printed at the start
    assert first.stderr.index("estimate: about") < first.stderr.index("batches [")
    assert "(named ni_grains_h5ebsd-20" in first.stdout
    sized = json.loads((tmp_path / "config.json").read_text())["train"]
    record = sized["sizing"]  # the choice, and what it was made from
    assert (record["n_patterns"], record["pattern_side"]) == (2400, 60) and record["machine"]["rate"] > 0
    assert record["machine"]["cores"] == len(os.sched_getaffinity(0)) == sized["threads"] == record["chosen"]["threads"]
    assert record["chosen"]["batch_size"] == sized["batch_size"] and record["chosen"]["input_size"] != 16  # given
    second = cli(*common, "--epochs", "4")
    assert second.returncode == 0, second.stderr
    assert "resumed at epoch 3" in second.stdout and "sized for" not in second.stderr  # the run's own settings
    again = json.loads((tmp_path / "config.json").read_text())["train"]
    assert {k: again[k] for k in ("batch_size", "threads", "patterns_per_epoch", "name", "sizing")} == {
        k: sized[k] for k in ("batch_size", "threads", "patterns_per_epoch", "name", "sizing")}
    assert pd.read_csv(tmp_path / "loss.csv").epoch.tolist() == [1, 2, 3, 4]
    assert json.loads((tmp_path / "config.json").read_text())["filters"]["bandcontrast"]["min"] == 100


def test_the_first_ctrl_c_of_train_vae_stops_after_the_batch_and_the_second_interrupts(capsys):
    """train-vae's Ctrl-C sets the stop_event (train_vae then checkpoints its last finished batch, as
    the stop tests above show) instead of raising; a second Ctrl-C interrupts as usual."""
    import signal

    from latentcore.cli.train import _ctrl_c_stops

    stop = threading.Event()
    with pytest.raises(KeyboardInterrupt):
        with _ctrl_c_stops(stop):
            signal.raise_signal(signal.SIGINT)
            assert stop.is_set() and "stopping after this batch" in capsys.readouterr().err
            signal.raise_signal(signal.SIGINT)


def test_cli_refuses_a_bad_roi_naming_it(ebsd_h5, tmp_path, capsys):
    from latentcore.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["train-vae", str(ebsd_h5), "--roi", "0,1,2", "--out", str(tmp_path)])
    assert exited.value.code == 2 and "ROI must be four numbers" in capsys.readouterr().err
    assert main(["train-vae", str(ebsd_h5), "--bc-min", "3", "--out", str(tmp_path)]) == 2
    assert "bc_min/bc_max need a bandcontrast table" in capsys.readouterr().err


# -- quality -----------------------------------------------------------------------------------------

def test_vae_latents_recover_the_grains(ebsd_h5, truth_csv, tmp_path):
    """KMeans (k=6) on mu of a VAE trained on the CPU (20 epochs: about 25 s of one core, well within
    the 2 minutes asked; the default beta) recovers the 6 grains: ARI >= 0.8 on the pixels not marked bad.
    benchmarks/train_quality.py prints this ARI beside PCA's."""
    result = train_vae(TrainConfig(ebsd_h5, tmp_path, input_size=30, latent_dim=8, channels=(16, 32, 64),
                                   batch_size=32, epochs=20, device="cpu"))
    assert len(result.history) == 20
    truth = pd.read_csv(truth_csv)
    good = truth.is_bad.to_numpy() == 0
    with open_source(ebsd_h5) as reader:
        patterns = load_patterns(reader, TrainConfig(ebsd_h5, tmp_path, input_size=30)).patterns
    model = ConvVAE.from_checkpoint(torch.load(result.model_path, weights_only=True))
    clusters = KMeans(6, n_init=10, random_state=0).fit_predict(encode_patterns(model, patterns)[good])
    assert adjusted_rand_score(truth.grain_id[good], clusters) >= 0.8
