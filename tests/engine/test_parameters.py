"""Parameters declared once (latentcore.parameters): each kind's check (a range, whole or not; choices; a direction;
a bool) gives the value in its type or one line naming the parameter, what it takes and the next step; a group's
values are one frozen, hashable value whose record is the report's; the commands' options are derived from the
declarations (their help says each range and default) and a bad value is refused under the option's name."""
from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest

from cli_lines import refused
from latentcore.analysis.ebsd.records import (BOUNDARY_DEG, FILL_NOT_INDEXED, GRAIN_PARAMETERS, KAM_ORDER,
                                              KAM_THRESHOLD, LOADING_DIRECTION, MIN_GRAIN_POINTS,
                                              ORIENTATION_MAP_PARAMETERS, REFERENCE_MAPS, SCHMID_FAMILY)
from latentcore.errors import InputError
from next_steps import next_step


def refusal(parameter, value) -> str:
    with pytest.raises(InputError) as raised:
        parameter.check(value)
    line = str(raised.value)
    assert "\n" not in line and line.startswith(f"{parameter.name} must ") and next_step(line), line
    return line


def test_a_number_is_checked_against_its_range_and_given_in_its_type():
    assert BOUNDARY_DEG.check(5) == 5.0 and type(BOUNDARY_DEG.check(5)) is float
    assert BOUNDARY_DEG.check(np.float32(0.1)) == pytest.approx(0.1) and BOUNDARY_DEG.check(180) == 180
    assert refusal(BOUNDARY_DEG, 0) == ("boundary_deg must be a number from 0.1 to 180 degrees, got 0: give one in "
                                            "that range")
    for bad in (181, float("nan"), float("inf"), "5", True, None, [5]):
        assert "from 0.1 to 180 degrees" in refusal(BOUNDARY_DEG, bad)
    assert MIN_GRAIN_POINTS.check(2.0) == 2 and type(MIN_GRAIN_POINTS.check(np.int64(3))) is int
    assert refusal(MIN_GRAIN_POINTS, 2.5) == ("min_grain_points must be a whole number from 0 to 1,000,000 points, "
                                                  "got 2.5: give one in that range")
    assert "got -1:" in refusal(MIN_GRAIN_POINTS, -1.0)


def test_a_choice_is_one_of_its_choices_each_said_in_words():
    assert KAM_ORDER.check(2) == 2 and KAM_ORDER.check(np.int64(3)) == 3 and KAM_ORDER.check(1.0) == 1
    assert refusal(KAM_ORDER, 8) == "kam_order must be one of 1, 2, 3, got 8: choose one of them"
    assert "got True" in refusal(KAM_ORDER, True) and "got '2'" in refusal(KAM_ORDER, "2")
    assert SCHMID_FAMILY.check("bcc") == "bcc"
    assert refusal(SCHMID_FAMILY, "hcp") == "schmid_family must be one of fcc, bcc, got 'hcp': choose one of them"
    assert [KAM_ORDER.said(k) for k in KAM_ORDER.choices] == ["1 (4 neighbours)", "2 (12 neighbours)",
                                                                      "3 (24 neighbours)"]
    assert SCHMID_FAMILY.allowed == "one of fcc {111}<110>, bcc {110}<111>"


def test_a_direction_is_three_finite_numbers_not_all_zero():
    assert LOADING_DIRECTION.check([0, 0, 1]) == (0.0, 0.0, 1.0)
    assert LOADING_DIRECTION.check(np.array([1, -2, 3])) == (1.0, -2.0, 3.0)
    for bad in ((0, 0, 0), (1, 2), (1, 2, 3, 4), (1, float("nan"), 0), ("1", 0, 0), 5, "1,0,0", (True, 0, 0)):
        assert "loading_direction must be three finite numbers x,y,z, not all 0" in \
            refusal(LOADING_DIRECTION, bad), bad
    assert LOADING_DIRECTION.said((1.0, 0.0, 0.0)) == "[1 0 0]" and LOADING_DIRECTION.parse("0,0.5,1") == \
        (0.0, 0.5, 1.0)


def test_a_bool_is_a_bool():
    assert FILL_NOT_INDEXED.check(np.True_) is True and FILL_NOT_INDEXED.check(False) is False
    assert refusal(FILL_NOT_INDEXED, 1) == "fill_not_indexed must be true or false, got 1: give one of them"


def test_a_group_gives_one_frozen_hashable_value_whose_record_is_the_reports():
    values = ORIENTATION_MAP_PARAMETERS(kam_order=2, loading_direction=[0, 0, 1])
    assert values.kam_order == 2 and values.loading_direction == (0.0, 0.0, 1.0) and values.boundary_deg == 5.0
    assert values == ORIENTATION_MAP_PARAMETERS(kam_order=2.0, loading_direction=(0, 0, 1))
    assert hash(values) == hash(ORIENTATION_MAP_PARAMETERS(kam_order=2, loading_direction=(0, 0, 1)))
    assert values != ORIENTATION_MAP_PARAMETERS() and pickle.loads(pickle.dumps(values)) == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        values.kam_order = 3
    with pytest.raises(AttributeError):
        values.min_grain_points  # noqa: B018 - a grain option, not a map's
    record = values.record()
    assert list(record) == ["boundary_deg", "twin_tolerance_deg", "kam_threshold_deg", "kam_order", "schmid_family",
                            "loading_direction"]  # the maps' order: boundaries, twins, KAM, Schmid factor
    assert json.loads(json.dumps(record)) == record and record["loading_direction"] == [0.0, 0.0, 1.0]
    assert ORIENTATION_MAP_PARAMETERS.from_record({**record, "roi": [0, 1, 0, 1]}) == values
    with pytest.raises(InputError, match="^kam_order must be one of 1, 2, 3, got 0"):
        ORIENTATION_MAP_PARAMETERS(kam_order=0)
    with pytest.raises(InputError, match="min_grain_points is not a parameter of the orientation maps"):
        ORIENTATION_MAP_PARAMETERS(min_grain_points=2)
    assert GRAIN_PARAMETERS.names == ("boundary_deg", "kam_threshold_deg", "kam_order", "twin_tolerance_deg",
                                      "min_grain_points", "fill_not_indexed")


def test_the_groups_are_the_maps_records():
    """A map's parameters are declared on its record; the group holds them all, each once, in the maps' order."""
    declared = [p for m in REFERENCE_MAPS.values() for p in m.parameters]
    assert list(ORIENTATION_MAP_PARAMETERS) == list(dict.fromkeys(declared))
    assert REFERENCE_MAPS["kam"].parameters == (KAM_THRESHOLD, KAM_ORDER)
    assert REFERENCE_MAPS["schmid"].parameters == (SCHMID_FAMILY, LOADING_DIRECTION)


@pytest.mark.parametrize("command, group", [("references", ORIENTATION_MAP_PARAMETERS), ("grains", GRAIN_PARAMETERS)])
def test_the_commands_options_are_the_declarations(command, group, capsys):
    """Each parameter is the option `--name-with-dashes` whose help is the declaration's, with what it takes and its
    default; parsed, the options are the group's defaults."""
    from latentcore.cli import build_parser, main

    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    said, squeezed = " ".join(out.split()), "".join(out.split())  # argparse wraps lines, at hyphens too
    for p in group:
        if p.kind == "bool":
            assert "".join(f"{p.option} {p.help}".split()) in squeezed, p.name
            continue
        assert "".join(f"{p.help} ({p.allowed}; default {p.as_text(p.default)})".split()) in squeezed, p.name
    args = build_parser().parse_args([command, "scan.h5", "--out", "o"])
    assert group.from_args(args) == group()
    assert "--kam-order 1|2|3" in said and ("--loading-direction X,Y,Z" in said) == (command == "references")
    assert "(from 0.1 to 180 degrees; default 5)" in said and "(one of 1 (4 neighbours), 2 (12 neighbours), 3 (24 " \
                                                              "neighbours); default 1)" in said


def test_a_bad_value_is_refused_under_its_options_name(tmp_path, capsys):
    for argv, said in ((["--boundary-deg", "0.05"], "--boundary-deg must be a number from 0.1 to 180 degrees, got 0.05"),
                       (["--min-grain-points", "2.5"], "--min-grain-points must be a whole number"),
                       (["--kam-order", "two"], "--kam-order must be one of 1, 2, 3, got 'two'")):
        refused(["grains", tmp_path / "scan.h5", "--out", tmp_path / "out", *argv], capsys, said)
    assert not (tmp_path / "out").exists()
