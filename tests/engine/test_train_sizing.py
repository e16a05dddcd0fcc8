"""latentcore.train.sizing: settings sized for the machine and the data (the largest model whose run fits the
budget, then fewer epochs, then a part of the patterns per epoch; one CPU thread when it is faster), their
estimate as a Pace, and what more epochs would buy (2x, 4x epochs; the loss curve's end)."""
import math

import pytest
import torch

from latentcore.train import sizing
from latentcore.train.outputs import improvement_text, recent_improvement
from latentcore.train.pace import Pace


def test_the_demo_scans_sized_run_fits_the_budget_by_the_engines_own_estimate():
    """On this CPU, now: the demo scan's 2,400 patterns of 60 x 60 pixels, the Train page's 8 dimensions. The
    estimate is the Pace of the chosen settings (their batches per epoch, at the measured seconds per batch) and
    its run takes at most the budget, a few minutes."""
    sized = sizing.sized_settings(2400, 60, "cpu", latent_dim=8)
    values, pace = sized.values, sized.estimate
    assert pace.seconds_total <= sizing.BUDGET_SECONDS and pace.measured_batches >= 1
    assert (values["input_size"], values["channels"]) in sizing.LADDER and values["batch_size"] == 64
    assert sizing.MIN_EPOCHS <= values["epochs"] == pace.epochs <= sizing.EPOCHS
    per_epoch = min(values["patterns_per_epoch"] or 2160, 2160)  # 2,160 training patterns, 240 validation ones
    assert pace.batches_per_epoch == math.ceil(per_epoch / 64) and pace.batches_done == 0
    assert pace.seconds_total == pytest.approx(pace.epochs * (pace.batches_per_epoch * pace.seconds_per_batch
                                                              + pace.validation_seconds))
    assert sized.patterns_per_second == pytest.approx(64 / pace.seconds_per_batch)
    again = sizing.estimate(values, 2400, "cpu", latent_dim=8)  # the same settings timed again: the same run
    assert (again.epochs, again.batches_per_epoch) == (pace.epochs, pace.batches_per_epoch)
    assert values["threads"] in (1, torch.get_num_threads())


@pytest.fixture
def cost(monkeypatch):
    """Timings made up from the model's size (seconds per batch = `cost.per_pixel` x input side² x widest
    channels / 64), one thread; `cost.timed` lists the models timed."""
    class Cost:
        per_pixel, timed = 1e-5, []

    def timed(input_size, channels, latent_dim, batch_size, device, threads=None):
        Cost.timed.append((input_size, tuple(channels)))
        seconds = Cost.per_pixel * input_size ** 2 * max(channels) / 64
        return sizing.Timing(seconds, seconds / batch_size / 3, 3)

    monkeypatch.setattr(sizing, "time_model", timed)
    monkeypatch.setattr(sizing, "fastest_threads", lambda device: 1)
    return Cost


def test_the_largest_model_that_fits_is_chosen_timed_from_the_smallest_up(cost):
    sized = sizing.sized_settings(5120, 60, "cpu", budget_seconds=1e6)
    assert (sized.values["input_size"], sized.values["channels"]) == sizing.LADDER[-1]  # TrainConfig's model
    assert (sized.values["epochs"], sized.values["patterns_per_epoch"], sized.values["threads"]) == (30, None, 1)
    assert cost.timed == list(sizing.LADDER)
    cost.timed.clear()
    run_of = {model: sizing.pace_of(sizing.time_model(*model, 16, 64, None), {
        "input_size": model[0], "channels": model[1], "batch_size": 64, "epochs": 30}, 5120, 0.1).seconds_total
        for model in sizing.LADDER}
    cost.timed.clear()
    budget = (run_of[sizing.LADDER[2]] + run_of[sizing.LADDER[3]]) / 2  # the third fits, the fourth does not
    sized = sizing.sized_settings(5120, 60, "cpu", budget_seconds=budget)
    assert (sized.values["input_size"], sized.values["channels"]) == sizing.LADDER[2]
    assert sized.estimate.seconds_total <= budget and sized.values["epochs"] == 30
    assert cost.timed == list(sizing.LADDER[:4])  # the fifth is larger still: never timed
    assert sized.text() == "input 48 px, widths 16,32,64, batch 64, 30 epochs of all the training patterns, 1 CPU thread"


def test_when_the_smallest_model_does_not_fit_it_trains_fewer_epochs_then_part_of_the_patterns(cost):
    smallest = sizing.pace_of(sizing.time_model(*sizing.LADDER[0], 16, 64, None), {
        "input_size": 32, "channels": (8, 16, 32), "batch_size": 64, "epochs": 1}, 5120, 0.1).seconds_total
    fewer = sizing.sized_settings(5120, 60, "cpu", budget_seconds=15.5 * smallest)
    assert (fewer.values["input_size"], fewer.values["channels"]) == sizing.LADDER[0]
    assert (fewer.values["epochs"], fewer.values["patterns_per_epoch"]) == (15, None)
    part = sizing.sized_settings(5120, 60, "cpu", budget_seconds=5 * smallest)
    assert part.values["epochs"] == sizing.MIN_EPOCHS and part.estimate.seconds_total <= 5 * smallest
    assert part.values["patterns_per_epoch"] % 64 == 0 and 0 < part.values["patterns_per_epoch"] < 4608 / 2
    assert part.estimate.batches_per_epoch == part.values["patterns_per_epoch"] // 64
    assert f"10 epochs of {part.values['patterns_per_epoch']:,} of the training patterns" in part.text()


def test_input_sizes_are_cut_to_the_patterns_side(cost):
    sizing.sized_settings(1000, 24, "cpu", budget_seconds=1e6)
    assert cost.timed == [(24, (8, 16, 32)), (24, (16, 32, 64)), (24, (32, 64, 128))]


def test_one_thread_is_chosen_where_it_runs_faster_than_all_of_them(monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for one, every, chosen in ((0.001, 0.05, 1), (0.004, 0.002, 2)):
            monkeypatch.setattr(sizing, "_seconds", lambda function, argument, limit=float("inf"), one=one,
                                every=every: one if torch.get_num_threads() == 1 else every)
            assert sizing.fastest_threads(torch.device("cpu")) == chosen
        assert sizing.fastest_threads(torch.device("cuda")) is None  # threads do not set a GPU's pace
    finally:
        torch.set_num_threads(before)


def test_what_more_epochs_would_buy():
    pace = Pace(epochs=30, batches_per_epoch=34, batches_done=0, measured_batches=3, seconds_per_batch=0.1,
                validation_seconds=0.6)
    assert sizing.longer_runs_text(pace) == "60 epochs: about 4 min; 120 epochs: about 8 min"
    history = [{"epoch": e, "beta": min(0.5, 0.25 * (e - 1)), "val_loss": loss}
               for e, loss in enumerate([300, 200, 110, 105, 101, 100, 99], start=1)]
    assert recent_improvement(history) == pytest.approx(((110 - 99) / 110 / 4, 5))  # epochs 3-7: the final beta
    assert improvement_text(history) == "the validation loss fell 2.50% per epoch over the last 5 epochs"
    assert improvement_text(history[:3]) == ""  # one epoch at the final beta: nothing to compare
