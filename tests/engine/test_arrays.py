"""latentcore.arrays: `unique`, what np.unique gives, by sorting (numpy's hash-table unique is slow at scale);
`finite_range`; `ThreadScratch`, each thread's reused arrays."""
import concurrent.futures

import numpy as np
import pytest

from latentcore import arrays
from latentcore.arrays import finite_range, unique

RNG = np.random.default_rng(4)


@pytest.mark.parametrize("values", [np.array([], np.int64), np.array([3]), np.array([3, 1, 2, 3, 1]),
                                    RNG.integers(0, 50, 1000), RNG.normal(size=100), np.arange(10),
                                    np.array([[2, 1], [1, 5]]), np.array(["b", "a", "b"]),
                                    np.array([np.nan, 1.0, np.nan, 2.0, 1.0]), np.array([True, False, True])])
def test_unique_is_numpys_unique(values):
    ours, numpys = unique(values), np.unique(values)
    assert ours.dtype == numpys.dtype
    np.testing.assert_array_equal(ours, numpys)  # NaN once in both


def test_sorted_distinct_rows_come_back_as_a_copy():
    rows = np.arange(0, 100, 3)
    out = unique(rows)
    np.testing.assert_array_equal(out, rows)
    out[0] = -1
    assert rows[0] == 0


def test_finite_range_is_the_finite_values_min_and_max_without_a_float64_copy():
    values = np.array([[np.nan, 1.5, np.inf], [-2.25, np.nan, -np.inf]], np.float32)
    assert finite_range(values) == (-2.25, 1.5)  # infinities are left out, as NaN
    assert finite_range(np.array([0.5, 3.0])) == (0.5, 3.0)
    assert finite_range(np.full(4, np.nan)) == finite_range([]) == (0.0, 1.0)


def test_a_thread_takes_back_its_own_scratch_array_and_no_other_thread_shares_it():
    scratch = arrays.ThreadScratch()
    first = scratch.take("keys", 1000, np.uint32)
    again = scratch.take("keys", 600, np.uint32)
    assert again.shape == (600,) and again.dtype == np.uint32 and np.shares_memory(first, again)  # no new memory
    assert not np.shares_memory(first, scratch.take("other", 1000, np.uint32))
    grown = scratch.take("keys", 2000, np.uint32)
    assert grown.shape == (2000,) and not np.shares_memory(first, grown)
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        theirs = thread.submit(scratch.take, "keys", 2000, np.uint32).result()
    assert not np.shares_memory(grown, theirs)
