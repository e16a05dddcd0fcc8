"""The Train page with Streamlit's AppTest: the real app, the demo scan, defaults sized for this machine with
their estimate (a few minutes) before Start, a real (tiny) training run in a worker process (train_vae fails
in this, the server's, process): its live loss chart and time left, the model appearing on the Extract page
under its name, and a run stopped from the page in the middle of an epoch and resumed from its last finished
batch."""
import base64
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from latentcore.models import load_model
from latentcore.train import TrainConfig, sizing
from latentcore.train.pace import Pace, duration
from ui.compute import dispatch

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("one_torch_thread", "private_folders")]


def values(encoded) -> np.ndarray:
    """A plotly trace's array: plain list or typed array {"dtype", "bdata"}."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"])
    return np.asarray(encoded)


@pytest.fixture
def not_here(monkeypatch):
    """Training fails in this process: the page's run must happen in a worker."""
    import latentcore.train
    import latentcore.train.trainer

    def refuse(*args, **kwargs):
        raise AssertionError("trained in the server process")

    monkeypatch.setattr(latentcore.train, "train_vae", refuse)
    monkeypatch.setattr(latentcore.train.trainer, "train_vae", refuse)


def tiny_run(epochs: int) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.checkbox(key="train_use_roi").check().run()  # a 20 x 20 pixel region: fast
    at.slider(key="train_roi_x").set_value((0.0, 28.5))
    at.slider(key="train_roi_y").set_value((0.0, 28.5))
    at.number_input(key="train_latent_dim").set_value(3)
    at.number_input(key="train_input_size").set_value(16)
    at.number_input(key="train_epochs").set_value(epochs)
    at.text_input(key="train_channels").set_value("4,8")
    at.number_input(key="train_batch").set_value(32)
    at.selectbox(key="train_device").set_value("cpu")
    at.text_input(key="train_name").set_value("tiny roi vae")
    return at.run()


def estimate_then_start(at: AppTest, epochs: int):
    """The estimate of the form's settings is shown before Start, counted for idle cores; Start: the run itself."""
    message = " ".join(i.value for i in at.info)
    assert "Training would take about" in message and f"for {epochs} epochs of 12 batches" in message, message
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at.session_state["train_job"]


def test_the_defaults_are_sized_for_this_machine_and_the_estimate_says_a_few_minutes():
    """The Train page's defaults on the demo scan are the engine's sizing for this CPU (`sizing.sized_settings`), and
    its estimate (the engine's own, counted for idle cores) is a run of at most BUDGET_SECONDS (3 min), with what
    2x and 4x the epochs would take, and the caption says what the defaults were sized from; the default name is the
    scan's stem and the time. The latent dimensions, beta and learning rate are `train-vae`'s defaults (the page
    had 8 latent dimensions where the command has 16)."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    device = at.selectbox(key="train_device").value
    sized = dispatch.sized_training(2400, 60, device, TrainConfig.latent_dim)  # the page's, kept
    pace, values = Pace(**sized["pace"]), sized["values"]
    assert values == sizing.sized_settings(2400, 60, device, TrainConfig.latent_dim).values | {
        "channels": values["channels"]}
    assert pace.seconds_total <= sizing.BUDGET_SECONDS and pace.measured_batches == 0
    assert pace.seconds_total == pytest.approx(pace.epochs * (pace.batches_per_epoch * pace.seconds_per_batch
                                                              + pace.validation_seconds))
    assert (values["input_size"], tuple(values["channels"])) in sizing.LADDER
    shown = {w.key: w.value for w in at.number_input} | {w.key: w.value for w in at.text_input}
    assert (shown["train_input_size"], shown["train_channels"], shown["train_batch"], shown["train_epochs"],
            shown["train_per_epoch"]) == (values["input_size"], ",".join(map(str, values["channels"])),
                                          values["batch_size"], values["epochs"], values["patterns_per_epoch"] or 0)
    assert shown["train_name"].startswith("ni_grains_h5ebsd-20")
    assert (shown["train_latent_dim"], shown["train_beta"], shown["train_lr"]) == (
        TrainConfig.latent_dim, TrainConfig.beta, TrainConfig.lr)
    message = " ".join(i.value for i in at.info)
    assert f"about {duration(pace.seconds_total)} for {pace.epochs} epochs" in message
    assert f"More epochs: {2 * pace.epochs} epochs: about" in message and f"{4 * pace.epochs} epochs: about" in message
    assert any(f"sized for a run of a few minutes from 2,400 {sized['basis']}: the same on this machine whatever "
               "else runs" in c.value and "first batches" in c.value for c in at.caption)


def test_a_run_started_on_the_train_page_shows_its_loss_and_reaches_the_extract_page(not_here):
    at = tiny_run(3)
    assert at.checkbox(key="train_static_bg").value and at.checkbox(key="train_dynamic_bg").value  # the defaults
    at.checkbox(key="train_average").check()
    job = estimate_then_start(at, 3)
    assert job.job.folder is not None and job.config.name == "tiny roi vae"  # a pool job
    at.switch_page("pages/extract.py").run()  # leave the page while the run goes on in its worker
    assert not at.exception
    assert job.wait(timeout=120), "training did not finish"
    assert job.error is None and job.result.stop_reason == "completed"
    models = at.session_state["models"]
    assert list(models) == ["tiny roi vae"]  # under its name
    label, spec = next(iter(models.items()))
    assert load_model(spec["path"]).recorded_name == "tiny roi vae"
    assert spec["path"] == str(job.result.model_path) and torch.load(spec["path"], weights_only=True)["arch"] == "vae"
    at.run()  # the Extract page offers the new model at once
    assert label in at.selectbox(key="extract_model").options

    at.switch_page("pages/train.py").run()  # back on the Train page: the run's curve and previews
    assert not at.exception and not at.error
    loss = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert [trace["name"] for trace in loss] == ["train_loss", "val_loss"]
    assert [list(values(trace["x"])) for trace in loss] == [[1, 2, 3]] * 2
    assert list(values(loss[1]["y"])) == [row["val_loss"] for row in job.history]
    assert any("best epoch" in s.value for s in at.success)
    rows = at.get("image")  # the inputs row and the reconstructions row, 8 validation patterns each
    assert [len(row.proto.imgs) for row in rows] == [8, 8]
    config = json.loads((job.result.out_dir / "config.json").read_text())
    assert config["filters"]["roi"] == [0.0, 28.5, 0.0, 28.5] and config["data"]["n_selected"] == 400
    sized = config["train"]["sizing"]  # what the page's defaults were sized from, recorded beside what ran
    assert sized["n_patterns"] == 400 and sized["machine"]["rate"] > 0 and sized["chosen"]["input_size"] != 16
    patterns = config["preprocess"]["patterns"]  # what was ticked is what was applied and recorded
    assert (patterns["static_background"], patterns["dynamic_background"], patterns["neighbour_window"]) == (
        "subtract", "subtract", "gaussian") and patterns["static_background_from"] == "stored"
    assert load_model(job.result.model_path).preprocessing["neighbour_window"] == "gaussian"

    # a reload of the workspace (a new session, no run in it): the last finished run, from its files
    workspace = at.query_params["workspace"]
    again = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    again.query_params["workspace"] = workspace[0] if isinstance(workspace, list) else workspace
    again.run()
    assert "train_job" not in again.session_state
    again.switch_page("pages/train.py").run()
    assert not again.exception and not again.error, [e.value for e in again.error]
    saved = json.loads(again.get("plotly_chart")[0].proto.spec)["data"]
    assert [list(values(trace["x"])) for trace in saved] == [[1, 2, 3]] * 2
    assert list(values(saved[1]["y"])) == pytest.approx([row["val_loss"] for row in job.history])
    assert len(again.get("image")) == 1  # reconstructions.png: inputs above their reconstructions
    message = " ".join(s.value for s in again.success)
    assert f"best epoch {job.result.best_epoch}" in message and "Extract page offers it" in message
    assert str(job.result.model_path.relative_to(job.result.model_path.parents[2])) in message  # models/vae-.../
    assert [b.proto.label for b in again.get("download_button")] == [
        "config.json", "loss.csv", "loss_curve.png", "reconstructions.png", "vae_model.pth"]
    offered = [name for name, spec in again.session_state["models"].items()
               if spec["path"] == str(job.result.model_path)]
    assert offered == ["tiny roi vae"] and f'offers it as "{offered[0]}"' in message  # the name it records
    again.switch_page("pages/extract.py").run()
    assert offered[0] in again.selectbox(key="extract_model").options


def test_a_run_stopped_on_the_page_keeps_its_last_batch_and_resumes(not_here):
    at = tiny_run(500)
    job = estimate_then_start(at, 500)
    end = time.time() + 120
    while not job.history and time.time() < end:
        time.sleep(0.2)
    at.run()  # the live view: progress with the time left, the loss so far, the reconstructions, a Stop button
    assert at.get("plotly_chart") and [len(row.proto.imgs) for row in at.get("image")] == [8, 8]
    progress = at.get("progress")[0].proto.text
    assert "epoch" in progress and "left" in progress and "worker process" in progress, progress
    at.button(key="train_stop").click().run()
    assert job.wait(timeout=60) and job.result.stop_reason == "stopped"
    done = len(job.result.history)
    assert 1 <= done < 500 and len(at.session_state["models"]) == 1  # the best model so far
    state = torch.load(Path(job.config.out_dir) / "checkpoint.pth", weights_only=True)["state"]
    assert state["epoch"] == done and 0 <= state["batch"] < 12  # the last finished batch, of epoch done + 1
    at.run()
    assert not at.button(key="train_start").disabled
    assert at.get("progress")[0].proto.text == f"stopped in epoch {done + 1} of 500"
    assert any("last finished batch is kept" in c.value for c in at.caption)

    at.number_input(key="train_epochs").set_value(done + 1)
    at.button(key="train_resume").click().run()
    resumed = at.session_state["train_job"]
    assert resumed is not job and resumed.config.out_dir == job.config.out_dir
    assert resumed.wait(timeout=120) and resumed.error is None
    assert resumed.result.stop_reason == "completed" and resumed.result.resumed_from == done
    assert resumed.result.resumed_at_batch == state["batch"]
    assert len(at.session_state["models"]) == 1  # the same model, now trained further
    at.run()
    loss = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert list(values(loss[0]["x"])) == list(range(1, done + 2))  # the whole run, resumed epochs included


@pytest.mark.timeout(600)
def test_a_stopped_run_is_listed_in_a_new_tab_and_resumed_there_ends_as_an_uninterrupted_run(not_here, tmp_path,
                                                                                              monkeypatch):
    """Start, Stop, then the workspace opened in a new tab (a new session: nothing of the run in its state):
    the stopped run is found from its files and resumed there; on one torch thread, where the engine's
    resume is exact, it ends with the very losses and weights of the same run trained without a stop."""
    at = tiny_run(20)
    pool = dispatch.app_pool()  # the pool the page's runs go to: one thread per worker, as resuming exactly needs
    monkeypatch.setattr(pool, "threads", 1)
    job = estimate_then_start(at, 20)
    end = time.time() + 120
    while job.pace is None and time.time() < end:  # its first batches timed: a checkpoint to resume from
        time.sleep(0.1)
    at.button(key="train_stop").click().run()
    assert job.wait(timeout=120) and job.result.stop_reason == "stopped", job.error
    done, position = len(job.result.history), torch.load(Path(job.config.out_dir) / "checkpoint.pth",
                                                         weights_only=True)["state"]
    at.run()
    progress = at.get("progress")[0].proto.text
    # one wording, as the stopped runs' list has it (it said "stopped: 0 of 20 epochs done" beside "Stopped in epoch 1")
    assert progress == f"stopped in epoch {done + 1} of 20"
    assert any("last finished batch is kept" in c.value for c in at.caption)
    assert not any("Stopped in epoch" in c.value for c in at.caption)  # said once, in the progress
    assert "Stopped runs" not in [h.value for h in at.subheader]  # its own run is drawn above, not listed

    workspace = at.query_params["workspace"]
    tab = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    tab.query_params["workspace"] = workspace[0] if isinstance(workspace, list) else workspace
    tab.run()
    tab.switch_page("pages/train.py").run()
    assert not tab.exception and not tab.error, [e.value for e in tab.error]
    assert "train_job" not in tab.session_state and tab.number_input(key="train_epochs").value == 20
    name = Path(job.config.out_dir).name
    assert "Stopped runs" in [h.value for h in tab.subheader]
    assert any(m.value.startswith(f"**{name}**: stopped in epoch {done + 1} of 20, {position['batch']} of 12 "
                                  "batches done; 3 latent dimensions, input 16 px") for m in tab.markdown)
    tab.button(key=f"train_resume_{name}").click().run()
    assert not tab.exception and not tab.error, [e.value for e in tab.error]
    resumed = tab.session_state["train_job"]
    assert resumed.config == dataclasses.replace(job.config, epochs=20)  # the run's own settings, in its folder
    assert resumed.wait(timeout=300) and resumed.error is None, resumed.error
    assert (resumed.result.resumed_from, resumed.result.resumed_at_batch) == (done, position["batch"])
    tab.run()
    assert "Stopped runs" not in [h.value for h in tab.subheader]  # it ran to its end
    assert [spec["path"] for spec in tab.session_state["models"].values()].count(str(resumed.result.model_path)) == 1

    straight = dispatch.start_training({**job.config.to_dict(), "out_dir": str(tmp_path / "straight")},
                                       "the same run without a stop").result(timeout=300)
    losses = ["train_loss", "train_rec", "train_kl", "val_loss"]
    assert resumed.result.stop_reason == straight.stop_reason and len(straight.history) == len(resumed.history)
    assert pd.DataFrame(resumed.result.history)[losses].equals(pd.DataFrame(straight.history)[losses])
    models = [torch.load(path, weights_only=True)["model"] for path in (resumed.result.model_path, straight.model_path)]
    assert all(torch.equal(weights, models[1][key]) for key, weights in models[0].items())


def trained_config(at: AppTest, epochs: int, batch: int) -> dict:
    """The config.json of a tiny run (3 latent dimensions, 16 px, widths 4,8, on the CPU) started from the page as it
    stands: the run waited for in its worker."""
    from driving import run

    for key, value in (("train_latent_dim", 3), ("train_input_size", 16), ("train_epochs", epochs),
                       ("train_batch", batch)):
        at.number_input(key=key).set_value(value)
    at.text_input(key="train_channels").set_value("4,8")
    at.selectbox(key="train_device").set_value("cpu")
    at = run(at)
    at.button(key="train_start").click()
    job = run(at).session_state["train_job"]
    assert job.wait(timeout=120) and job.error is None, job.error
    return json.loads((job.result.out_dir / "config.json").read_text())


def test_one_model_for_several_uploaded_scans_trains_on_as_many_patterns_of_each(not_here, tmp_path):
    """The Train page's "several pattern files" choice: the workspace's pattern files (the demo and two uploads; not
    a latents file), one run on those picked, sized for as many patterns of each as the smallest holds; no ROI (one
    scan's coordinates); config.json records each source's counts."""
    from driving import run, with_upload

    from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5ebsd

    scans = [write_h5ebsd(simulate_scan(ScanSettings(n_rows=rows, n_columns=columns, pattern_size=16, n_grains=2,
                                                     seed=seed, orientation_seed=3)), tmp_path / f"s{seed}.h5")
             for seed, (rows, columns) in enumerate([(6, 8), (8, 10)], 1)]
    at = run(with_upload(*scans), "train")
    at = run(at.radio(key="train_data").set_value("Several pattern files: one model for a study"))
    picker = at.multiselect(key="train_files")
    assert picker.options[1:] == ["s1.h5", "s2.h5"] and picker.options[0].startswith("Built-in demo scan")
    assert picker.value == ["s1.h5", "s2.h5"]  # the uploads, not the demo
    at = run(picker.set_value(["s1.h5", "s2.h5"]))
    assert "train_use_roi" not in [c.key for c in at.checkbox]  # a region is one scan's
    assert any("same number of patterns from each" in c.value for c in at.caption)
    assert at.text_input(key="train_name").value.startswith("s1+1-20")
    config = trained_config(at, epochs=2, batch=16)
    assert config["train"]["data"] == ["s1.h5", "s2.h5"] and config["train"]["sizing"]["n_patterns"] == 2 * 48
    assert [(s["name"], s["n_source"], s["n_used"]) for s in config["data"]["sources"]] == [
        ("s1.h5", 48, 48), ("s2.h5", 80, 48)]


def test_a_saved_studys_pattern_files_are_one_choice_and_train_one_model_on_its_sources(not_here):
    """A study saved in the workspace whose every source's data file the session has is one choice of the Train page:
    it trains one model on those files (as many patterns of each); a study with a source whose file is missing is not
    offered."""
    from driving import new_app, run
    from study_scans import scan_latents

    from ui.compute.sources import write_study

    at = new_app()
    folder = Path(at.session_state["workdir"])
    paths = scan_latents(folder / "latents", names=("p", "q", "r"), scans=folder / "uploads")
    write_study("pair", [paths["p"], paths["q"]], folder)
    write_study("three", list(paths.values()), folder)
    at.session_state["_files"] = {"data": [str(folder / "uploads" / f"{name}.h5") for name in "pq"]}  # not r's
    at = run(at, "train")
    choices = at.radio(key="train_data").options
    assert "Study pair: the pattern files of its 2 sources" in choices and not any("three" in c for c in choices)
    at = run(at.radio(key="train_data").set_value("Study pair: the pattern files of its 2 sources"))
    assert "train_files" not in [m.key for m in at.multiselect]  # the study's files, nothing to pick
    assert any("same number of patterns from each" in c.value for c in at.caption)
    assert at.text_input(key="train_name").value.startswith("p+1-")
    config = trained_config(at, epochs=1, batch=32)
    assert config["train"]["data"] == ["p.h5", "q.h5"]
    assert [(s["name"], s["n_used"]) for s in config["data"]["sources"]] == [("p.h5", 192), ("q.h5", 192)]
