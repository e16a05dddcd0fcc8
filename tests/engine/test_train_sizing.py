"""latentcore.train.sizing: settings sized for the machine and the data (the largest model whose run fits the
budget, then fewer epochs, then a part of the patterns per epoch; one thread per core the process may use), from
the models' multiply-adds and the machine's rate measured once in one thread's CPU time and kept: the same settings
quiet and beside processes that keep every core busy; their estimate as a Pace, and what more epochs would buy."""
import json
import math
import os
import subprocess
import sys
import time

import pytest
import torch

from latentcore import machine_rates
from latentcore.train import sizing
from latentcore.train.outputs import improvement_text, recent_improvement
from latentcore.train.pace import Pace


def test_the_demo_scans_sized_run_fits_the_budget_by_the_engines_own_estimate():
    """On this CPU: the demo scan's 2,400 patterns of 60 x 60 pixels, the Train page's 8 dimensions. The estimate is
    the Pace of the chosen settings (their batches per epoch, each batch's multiply-adds at the machine's speed) and
    its run takes at most the budget, a few minutes; a thread for each core the process may use; the record says
    what the choice was made from."""
    sized = sizing.sized_settings(2400, 60, "cpu", latent_dim=8)
    values, pace = sized.values, sized.estimate
    assert pace.seconds_total <= sizing.BUDGET_SECONDS and pace.measured_batches == 0
    assert (values["input_size"], values["channels"]) in sizing.LADDER and values["batch_size"] == 64
    assert sizing.MIN_EPOCHS <= values["epochs"] == pace.epochs <= sizing.EPOCHS
    per_epoch = min(values["patterns_per_epoch"] or 2160, 2160)  # 2,160 training patterns, 240 validation ones
    assert pace.batches_per_epoch == math.ceil(per_epoch / 64) and pace.batches_done == 0
    speed = sized.machine.rate * len(os.sched_getaffinity(0)) ** sizing.THREAD_SPEEDUP
    training, validation = sizing.multiply_adds(values["input_size"], values["channels"], 8)
    assert pace.seconds_per_batch == pytest.approx(64 * training / speed)
    assert pace.validation_seconds == pytest.approx(240 * validation / speed)
    assert values["threads"] == sized.machine.cores == len(os.sched_getaffinity(0))
    again = sizing.estimate(values, 2400, "cpu", latent_dim=8)  # the same settings counted again: the same run
    assert again == pace
    record = json.loads(json.dumps(sized.record()))  # as config.json keeps it
    assert record["chosen"] == {**values, "channels": list(values["channels"])}
    assert (record["n_patterns"], record["pattern_side"], record["budget_seconds"]) == (2400, 60, sizing.BUDGET_SECONDS)
    assert record["machine"]["cores"] == values["threads"] and record["machine"]["rate"] == sized.machine.rate > 1e8


def test_multiply_adds_are_counted_from_the_layers_shapes():
    """Input 32 px, widths 8,16,32, 16 dimensions: each conv's output pixels x its input channels x 9, each
    transposed conv's input pixels x its output channels x 9, each linear layer's in x out, counted by hand; a
    training step's forward and backward: about 3 forwards (the first conv has no input gradient)."""
    encoder = 16 * 16 * 8 * 1 * 9 + 8 * 8 * 16 * 8 * 9 + 4 * 4 * 32 * 16 * 9
    linear = 2 * (4 * 4 * 32 * 16) + 16 * 4 * 4 * 32  # mu, logvar; the decoder's first layer
    decoder = 4 * 4 * 32 * 16 * 9 + 8 * 8 * 16 * 8 * 9 + 16 * 16 * 8 * 1 * 9
    training, validation = sizing.multiply_adds(32, (8, 16, 32), 16)
    assert validation == encoder + linear + decoder == 356_352
    assert training == 3 * validation - 16 * 16 * 8 * 1 * 9  # no gradient for the patterns themselves


@pytest.fixture
def machine(monkeypatch):
    """A made-up machine: 2 cores at `rate` multiply-adds per second of one core (settable)."""
    made = {"rate": 2e10}
    monkeypatch.setattr(sizing, "this_machine", lambda device="auto": sizing.Machine(
        "cpu", "test CPU", 2, made["rate"], "2026-11-27"))
    return made


def run_seconds(model, n_patterns=5120, epochs=30) -> float:
    values = {"input_size": model[0], "channels": model[1], "batch_size": 64, "epochs": epochs, "threads": 2}
    return sizing.estimate(values, n_patterns, "cpu").seconds_total


def test_the_largest_model_that_fits_is_chosen(machine):
    sized = sizing.sized_settings(5120, 60, "cpu", budget_seconds=1e6)
    assert (sized.values["input_size"], sized.values["channels"]) == sizing.LADDER[-1]  # TrainConfig's model
    assert (sized.values["epochs"], sized.values["patterns_per_epoch"], sized.values["threads"]) == (30, None, 2)
    budget = (run_seconds(sizing.LADDER[0]) + run_seconds(sizing.LADDER[1])) / 2  # the first fits, the second not
    sized = sizing.sized_settings(5120, 60, "cpu", budget_seconds=budget)
    assert (sized.values["input_size"], sized.values["channels"]) == sizing.LADDER[0]
    assert sized.estimate.seconds_total <= budget and sized.values["epochs"] == 30
    assert sized.text() == "input 48 px, widths 16,32,64, batch 64, 30 epochs of all the training patterns, 2 CPU threads"
    assert sized.estimate_text().endswith("for 30 epochs on 2 idle cores")
    machine["rate"] *= 4  # a machine 4 times as fast: a larger model in the same budget
    faster = sizing.sized_settings(5120, 60, "cpu", budget_seconds=budget)
    assert sizing.LADDER.index((faster.values["input_size"], faster.values["channels"])) > 0


def test_when_the_smallest_model_does_not_fit_it_trains_fewer_epochs_then_part_of_the_patterns(machine):
    smallest = run_seconds(sizing.LADDER[0], epochs=1)
    fewer = sizing.sized_settings(5120, 60, "cpu", budget_seconds=15.5 * smallest)
    assert (fewer.values["input_size"], fewer.values["channels"]) == sizing.LADDER[0]
    assert (fewer.values["epochs"], fewer.values["patterns_per_epoch"]) == (15, None)
    part = sizing.sized_settings(5120, 60, "cpu", budget_seconds=5 * smallest)
    assert part.values["epochs"] == sizing.MIN_EPOCHS and part.estimate.seconds_total <= 5 * smallest
    assert part.values["patterns_per_epoch"] % 64 == 0 and 0 < part.values["patterns_per_epoch"] < 4608 / 2
    assert part.estimate.batches_per_epoch == part.values["patterns_per_epoch"] // 64
    assert f"10 epochs of {part.values['patterns_per_epoch']:,} of the training patterns" in part.text()


def test_input_sizes_are_cut_to_the_patterns_side(machine):
    sized = sizing.sized_settings(1000, 24, "cpu", budget_seconds=1e6)
    assert (sized.values["input_size"], sized.values["channels"]) == (24, (32, 64, 128))  # 48 and 60 px: 24


def test_a_thread_for_each_core_the_process_may_use_and_the_rate_measured_once(monkeypatch, tmp_path):
    """The cores are the process's affinity (a container's CPU set), not the machine's; the rate is measured on the
    first call and read back from the rate file after, also by another process; a file that cannot be read is
    measured again and rewritten."""
    monkeypatch.setenv(machine_rates.RATE_FILE_ENV, str(tmp_path / "rates.json"))
    measured = []
    monkeypatch.setattr(sizing, "measured_rate", lambda device: measured.append(device) or 3e10)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5})
    first, second = (sizing.sized_settings(1000, 60, "cpu") for _ in range(2))
    assert len(measured) == 1 and first.values == second.values and first.values["threads"] == 3
    assert first.machine == second.machine and first.machine.rate == 3e10
    kept = json.loads((tmp_path / "rates.json").read_text())
    assert list(kept) == [f"cpu: {machine_rates.cpu_name()}, torch {torch.__version__}"]
    (tmp_path / "rates.json").write_text("{not json")
    assert sizing.this_machine("cpu").rate == 3e10 and len(measured) == 2
    assert json.loads((tmp_path / "rates.json").read_text()) == kept


BURN = "while True: pass"


def test_the_same_settings_when_every_core_is_busy(monkeypatch, tmp_path):
    """For real: the sizing with the rate measured quiet, then again, measured anew, while twice as many processes as
    cores burn CPU beside it: the same settings. The patterns are as many as leave the largest model's run at half
    the budget at the quiet rate: a rate measured half as high would choose a smaller model, as a wall-clock timing
    does beside busy processes (2.4x lower here; its batches took 7x as long), while one thread's CPU time moves
    0.67-1.04x on this shared 2-core machine, whose host's load moves it too (docs/benchmarks.md). A 1,000,000-pattern
    scan, whose epochs the budget cuts, with the rate kept: the same too (nothing else in the sizing moves with the
    load)."""
    def sized(name, n_patterns):
        monkeypatch.setenv(machine_rates.RATE_FILE_ENV, str(tmp_path / name))
        return sizing.sized_settings(n_patterns, 60, "cpu")

    largest = dict(zip(("input_size", "channels"), sizing.LADDER[-1]), batch_size=64, epochs=sizing.EPOCHS)
    one_run = sized("quiet.json", 10_000).machine  # the rate measured quiet, and kept
    n_patterns = int(10_000 * 0.5 * sizing.BUDGET_SECONDS / sizing.pace_of(largest, 10_000, one_run, 16, 0.1)
                     .seconds_total)
    quiet, quiet_large = sized("quiet.json", n_patterns), sized("quiet.json", 1_000_000)
    assert quiet.values == {**largest, "patterns_per_epoch": None, "threads": one_run.cores}
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(2 * len(os.sched_getaffinity(0)))]
    try:
        time.sleep(0.5)  # the burners running
        busy, busy_large = sized("busy.json", n_patterns), sized("quiet.json", 1_000_000)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert busy.values == quiet.values and busy.machine.cores == quiet.machine.cores
    assert busy.machine.rate > 0.5 * quiet.machine.rate  # CPU time: within its noise, unlike the wall clock
    assert busy_large.values == quiet_large.values and busy_large.values["patterns_per_epoch"]


def test_what_more_epochs_would_buy():
    pace = Pace(epochs=30, batches_per_epoch=34, batches_done=0, measured_batches=3, seconds_per_batch=0.1,
                validation_seconds=0.6)
    assert sizing.longer_runs_text(pace) == "60 epochs: about 4 min; 120 epochs: about 8 min"
    history = [{"epoch": e, "beta": min(0.5, 0.25 * (e - 1)), "val_loss": loss}
               for e, loss in enumerate([300, 200, 110, 105, 101, 100, 99], start=1)]
    assert recent_improvement(history) == pytest.approx(((110 - 99) / 110 / 4, 5))  # epochs 3-7: the final beta
    assert improvement_text(history) == "the validation loss fell 2.50% per epoch over the last 5 epochs"
    assert improvement_text(history[:3]) == ""  # one epoch at the final beta: nothing to compare
