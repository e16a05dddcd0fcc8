"""How two sources of a study differ (`analysis.source_shift`): the standardised mean difference of each dimension,
the energy test on the whole vectors (a shift is found, one distribution is not), the fractions of two sources side
by side and the files written."""
import json

import numpy as np
import pandas as pd
import pytest

from latentcore.analysis.artifacts.fractions import fractions_table
from latentcore.analysis.source_shift import (SMD, energy_test, mean_differences, side_by_side, source_shift,
                                              write_shift)
from latentcore.errors import InputError


def normal_rows(seed, n=400, dim=4, shift=None):
    rows = np.random.default_rng(seed).normal(size=(n, dim))
    return rows + (0 if shift is None else np.asarray(shift))


def test_the_standardised_mean_difference_is_the_shift_over_the_pooled_deviation():
    first, second = normal_rows(0, n=4000), normal_rows(1, n=4000, shift=[0, 0, -1.0, 0])
    second[:, 1] *= 3  # spread, not shifted
    table = mean_differences(first, second)
    assert list(table.columns) == ["dimension", "mean_first", "mean_second", "sd_first", "sd_second", SMD]
    assert table[SMD][2] == pytest.approx(1.0, abs=0.06)  # first minus second, in pooled SDs
    assert abs(table[SMD][[0, 1, 3]]).max() < 0.1
    assert mean_differences(np.ones((3, 2)), np.ones((3, 2)))[SMD].tolist() == [0, 0]  # no spread: 0, not NaN


def test_the_energy_test_finds_a_shift_and_not_one_distribution():
    same = energy_test(normal_rows(0, 200), normal_rows(1, 200), permutations=99)
    shifted = energy_test(normal_rows(0, 200), normal_rows(1, 200, shift=[0.6, 0, 0, 0]), permutations=99)
    assert same[2] > 0.05 and shifted[2] == pytest.approx(0.01)  # p: no permutation reaches the shifted distance
    assert 0 <= same[1] < shifted[1] < 1 and shifted[0] > same[0]
    apart = energy_test(normal_rows(0, 100), normal_rows(1, 100, shift=[50, 0, 0, 0]), permutations=19)
    assert apart[1] > 0.9  # coefficient near 1: apart


def test_the_shift_of_two_sources_samples_their_rows_and_says_so(tmp_path):
    shift = source_shift(normal_rows(0, 3000), normal_rows(1, 500, shift=[1, 0, 0, 0]), ("p", "q"), sample=400,
                         permutations=49)
    assert shift.sampled == (400, 400) and shift.rows == (3000, 500)
    assert shift.largest["dimension"].iloc[0] == 0 and shift.p_value == pytest.approx(0.02)
    assert "400 of 3,000 rows of p" in shift.describe() and "differ beyond chance" in shift.describe()
    fractions = fractions_table([0, 0, 1, 1, 1], ["p", "q"], [0, 1, 1, 1, 2], "cluster")
    paths = write_shift(shift, tmp_path, fractions=side_by_side(fractions, "cluster", "p", "q"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fractions__p__q.csv", "shift__p__q.csv",
                                                          "shift_report__p__q.json"]
    assert pd.read_csv(paths["fractions"])["count_q"].tolist() == [0, 2, 1]
    assert pd.read_csv(paths["dimensions"])[SMD].abs().idxmax() == 0
    report = json.loads(paths["report"].read_text())
    assert report["kind"] == "source_shift" and report["sampled_rows"] == [400, 400]
    assert report["fractions"][2] == {"cluster": 2, "count_p": 0.0, "fraction_p": 0.0, "count_q": 1.0,
                                      "fraction_q": pytest.approx(1 / 3), "difference": pytest.approx(1 / 3)}
    with pytest.raises(InputError, match="at least 2 rows of each"):
        source_shift(normal_rows(0, 1), normal_rows(1, 10), ("p", "q"))


def test_two_sources_fractions_side_by_side():
    fractions = fractions_table([0, 0, 0, 0, 1, 1], ["p", "q"], [3, 3, 5, 5, 3, 3], "cluster")
    table = side_by_side(fractions, "cluster", "p", "q")
    assert list(table.columns) == ["cluster", "count_p", "fraction_p", "count_q", "fraction_q", "difference"]
    assert table["cluster"].tolist() == [3, 5] and table["fraction_p"].tolist() == [0.5, 0.5]
    assert table["difference"].tolist() == [0.5, -0.5]
    with pytest.raises(InputError, match="no source 'z'"):
        side_by_side(fractions, "cluster", "p", "z")


def test_the_energy_distance_is_dcors_and_its_sample_estimates_the_distance_over_every_row():
    """The statistic against an independent one (dcor's energy distance of the same scaled rows), and the sampled
    test the Compare page runs (at most SAMPLE rows a source) against the distance over every row."""
    import dcor

    first, second = normal_rows(0, 300), normal_rows(1, 250, shift=[0.5, 0, 0, 0])
    scale = np.sqrt((first.var(0) + second.var(0)) / 2)
    assert energy_test(first, second, permutations=9)[0] == pytest.approx(
        dcor.energy_distance(first / scale, second / scale), rel=1e-9)
    first, second = normal_rows(2, 2000), normal_rows(3, 2000, shift=[1.0, 0, 0, 0])
    every_row = energy_test(first, second, permutations=1)[0]
    samples = [source_shift(first, second, ("p", "q"), sample=1000, permutations=19, seed=seed) for seed in range(4)]
    errors = np.array([shift.energy / every_row - 1 for shift in samples])
    assert abs(errors.mean()) < 0.1 and abs(errors).max() < 0.25  # measured: mean -0.002, -0.18 to 0.09
    assert all(shift.p_value == pytest.approx(1 / 20) for shift in samples)  # no permutation as far apart


def blobs(seed, counts, centres, shift=None):
    """Rows around `centres` (one blob a centre, 0.5 wide), `counts` of each; `shift` moves blob 0's rows."""
    rng = np.random.default_rng(seed)
    rows = [np.asarray(centre) + 0.5 * rng.normal(size=(count, len(centre))) for count, centre in zip(counts, centres)]
    if shift is not None:
        rows[0] = rows[0] + np.asarray(shift)
    labels = np.concatenate([np.full(count, k) for k, count in enumerate(counts)])
    return np.concatenate(rows), labels


CENTRES = [[0, 0, 0], [6, 0, 0], [0, 6, 0], [0, 0, 6]]


def test_two_sources_sharing_their_clusters_in_other_proportions_differ_as_wholes_not_within_the_clusters(tmp_path):
    first, first_labels = blobs(0, [600, 200, 200, 50], CENTRES)
    second, second_labels = blobs(1, [150, 300, 450, 10], CENTRES)
    shift = source_shift(first, second, ("p", "q"), permutations=99, labels=(first_labels, second_labels))
    assert shift.p_value == pytest.approx(0.01)  # the whole vectors: apart beyond chance (proportions)
    within = shift.within.set_index("cluster")
    assert within.loc[[0, 1, 2], "p_holm"].min() > 0.05  # each shared cluster: one distribution
    assert within.loc[[0, 1, 2], ["rows_first", "rows_second"]].values.tolist() == [[600, 150], [200, 300],
                                                                                   [200, 450]]
    assert np.isnan(within.loc[3, "p_value"])  # 10 rows of q: too few to test
    said = shift.describe()
    assert "The sources share these clusters; their whole vectors differ in how much of each cluster" in said
    assert "Not tested (fewer than 20 rows in one source): cluster 3." in said

    paths = write_shift(shift, tmp_path)
    assert pd.read_csv(paths["within"])["cluster"].tolist() == [0, 1, 2, 3]
    record = json.loads(paths["report"].read_text())["within_clusters"]
    assert record["correction"] == "holm" and record["clusters"][3]["p_value"] is None


def test_a_cluster_whose_rows_moved_in_one_source_is_named():
    first, first_labels = blobs(2, [300, 300, 300, 300], CENTRES)
    second, second_labels = blobs(3, [300, 300, 300, 300], CENTRES, shift=[0.8, 0, 0])
    shift = source_shift(first, second, ("p", "q"), permutations=99, labels=(first_labels, second_labels))
    within = shift.within.set_index("cluster")
    assert within.loc[0, "p_holm"] < 0.05 and within.loc[[1, 2, 3], "p_holm"].min() > 0.05
    assert "cluster 0 differs beyond chance, the others do not" in shift.describe()


def test_holm_multiplies_the_smallest_p_by_the_number_tested_and_keeps_the_order():
    from latentcore.analysis.source_shift import holm

    corrected = holm(np.array([0.01, np.nan, 0.04, 0.03]))
    np.testing.assert_allclose(corrected, [0.03, np.nan, 0.06, 0.06])  # 0.01x3, max(0.03x2, 0.03), max(0.04x1, 0.06)


def test_each_sources_own_clusters_are_matched_to_the_others_by_their_means(tmp_path):
    """Two scans of the same four centres in other proportions, each k-means'd alone (their cluster numbers need
    not agree): the match pairs the clusters of one centre; a centre that moved in one scan is its farthest match."""
    from latentcore.analysis.source_shift import match_clusters, own_clusters

    first, first_truth = blobs(4, [500, 200, 300, 250], CENTRES)
    second, second_truth = blobs(5, [150, 400, 250, 300], CENTRES)
    own = own_clusters(first, 4).labels, own_clusters(second, 4).labels
    matches = match_clusters(first, second, own, joint=(first_truth, second_truth))
    assert len(matches) == 4
    assert (matches["joint_first"] == matches["joint_second"]).all()  # each pair: one centre
    assert sorted(matches["joint_first"]) == [0, 1, 2, 3]
    assert (matches["distance"] < matches["next_distance"] / 5).all()  # and clearly so
    for match in matches.itertuples():
        assert match.rows_first == int((own[0] == match.cluster_first).sum())

    moved = second + np.where(second_truth[:, None] == 2, [[0.0, 0.0, 3.0]], 0.0)  # centre 2 moved in q
    shift = source_shift(first, moved, ("p", "q"), permutations=19, labels=(first_truth, second_truth), own_k=4)
    farthest = shift.matches.sort_values("distance").iloc[-1]
    assert farthest["joint_first"] == 2 and farthest["joint_second"] == 2
    paths = write_shift(shift, tmp_path)
    assert pd.read_csv(paths["matches"])["cluster_first"].tolist() == shift.matches["cluster_first"].tolist()
    record = json.loads(paths["report"].read_text())["matched_clusters"]
    assert record["each source"].startswith("k-means (k = 4)") and len(record["clusters"]) == 4


def test_each_sources_own_k_means_says_when_it_was_fitted_on_a_sample(monkeypatch, tmp_path):
    from latentcore.analysis import cluster

    first, first_truth = blobs(6, [300, 300, 300, 300], CENTRES)
    second, _ = blobs(7, [300, 300, 300, 300], CENTRES)
    shift = source_shift(first, second, ("p", "q"), permutations=19, own_k=4)
    assert shift.own_fits[0].startswith("kmeans fitted on all 1,200 rows")
    monkeypatch.setitem(cluster.DEFAULT_MAX_FIT, "kmeans", 500)  # as 100,000 does for a larger source
    sampled = source_shift(first, second, ("p", "q"), permutations=19, own_k=4)
    assert sampled.own_fits[0].startswith("kmeans fitted on a seeded sample of 500 of 1,200 rows")
    record = json.loads(write_shift(sampled, tmp_path)["report"].read_text())["matched_clusters"]
    assert record["fits"]["q"] == sampled.own_fits[1]
    assert sorted(sampled.matches["cluster_first"]) == [0, 1, 2, 3]  # every row still labelled and matched
