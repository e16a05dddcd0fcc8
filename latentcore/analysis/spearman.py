"""Spearman's rho of a float32 column against a reference's ranks, in one compiled pass (numba, on its on-disk cache).

`scipy.stats.spearmanr` is Pearson's r of the two inputs' average ranks. The reference's side is made once for every
dimension (its ranks centred and over their norm: `rank.unit_centred(rank.ranks(reference))`); a dimension's side
needs the order of its values. Ranking a column (`rank.ranks`: an argsort, then its ranks scattered back to the rows)
moves each row through memory at random five times, which at 10M rows was a second a dimension. Here a radix sort
(four passes of 8 bits over an integer key in the floats' order: 256 buckets stay in cache, where 2,048 for three
passes of 11 bits were 10-20% slower on the whole ranking) carries each row's reference value along with its key, so nothing is gathered afterwards: walking the sorted keys, each run of tied values gets its average rank and
meets its reference values there. The sum is compensated (Neumaier) and the ranks' norm is exact from the ties
(n^3 - n minus each run's t^3 - t, over 12), so the result is nearer the exact value than the float64 dot product it
replaces (tests/engine/test_rank.py: equal to scipy's to 1e-12, with ties and +-0)."""
from __future__ import annotations

import numba
import numpy as np

from ..arrays import ThreadScratch

DIGIT_BITS = 8
BUCKETS = 1 << DIGIT_BITS
PASSES = -(-32 // DIGIT_BITS)
_SCRATCH = ThreadScratch()  # the sort's buffers, reused by each scoring thread from one dimension to the next


def spearman_against(column: np.ndarray, reference_unit_ranks: np.ndarray) -> float:
    """Spearman's rho of `column` (float32, finite) with the reference whose `rank.unit_centred` ranks are given
    (float64, the same rows); NaN when the column is constant."""
    n = len(column)
    bits = np.add(column, np.float32(0), out=_SCRATCH.take("floats", n, np.float32)).view(np.uint32)  # -0.0 is 0.0
    buffers = (*(_SCRATCH.take(name, n, np.uint32) for name in ("keys", "keys_out")),
               *(_SCRATCH.take(name, n, np.float64) for name in ("payload", "payload_out")))
    dot, norm_square = _rank_dot(bits, np.ascontiguousarray(reference_unit_ranks, np.float64), *buffers)
    if norm_square <= 0:
        return float("nan")
    return float(np.clip(dot / np.sqrt(norm_square), -1.0, 1.0))


@numba.njit(cache=True, nogil=True)
def _rank_dot(bits, payload, keys, keys_out, payload_a, payload_b):
    """(sum over rows of (rank - mean rank) * payload, sum of (rank - mean rank)^2) for the values whose float32
    bits are `bits`, average ranks for ties; the other arrays (as long as `bits`) are the sort's buffers."""
    keys, payload = _sorted_with(bits, payload, keys, keys_out, payload_a, payload_b)
    n = len(keys)
    middle = (n + 1) / 2
    dot, lost, ties = 0.0, 0.0, 0.0
    start = 0
    while start < n:
        end = start + 1
        while end < n and keys[end] == keys[start]:
            end += 1
        tied = 0.0
        for i in range(start, end):
            tied += payload[i]
        term = ((start + 1 + end) / 2 - middle) * tied
        total = dot + term
        lost += (dot - total) + term if abs(dot) >= abs(term) else (term - total) + dot
        dot = total
        run = float(end - start)
        ties += (run * run * run - run) / 12.0
        start = end
    count = float(n)
    return dot + lost, (count * count * count - count) / 12.0 - ties


@numba.njit(cache=True, nogil=True)
def _sorted_with(bits, payload, keys, keys_out, payload_a, payload_b):
    """The floats' order keys (IEEE floats order as their bits with the sign bit flipped, the negatives' bits all
    flipped), sorted by PASSES stable radix passes, with `payload` in the same order (in `keys`/`keys_out` and
    `payload_a`/`payload_b`, whichever the last pass wrote)."""
    n = len(bits)
    counts = np.zeros((PASSES, BUCKETS), np.int64)
    for i in range(n):
        b = bits[i]
        k = ~b if b >> 31 else b | np.uint32(0x80000000)
        keys[i] = k
        for digit in range(PASSES):
            counts[digit, (k >> (digit * DIGIT_BITS)) & (BUCKETS - 1)] += 1
    spare = (payload_a, payload_b)  # the caller's payload is only read
    passes = 0
    for digit in range(PASSES):
        if counts[digit].max() == n:  # every key has this digit: the order stands
            continue
        offsets = np.zeros(BUCKETS, np.int64)
        offsets[1:] = np.cumsum(counts[digit])[:-1]
        shift = digit * DIGIT_BITS
        payload_out = spare[passes % 2]  # not the one read from
        passes += 1
        for i in range(n):
            k = keys[i]
            bucket = (k >> shift) & (BUCKETS - 1)
            j = offsets[bucket]
            keys_out[j], payload_out[j] = k, payload[i]
            offsets[bucket] = j + 1
        keys, keys_out = keys_out, keys
        payload = payload_out
    return keys, payload
