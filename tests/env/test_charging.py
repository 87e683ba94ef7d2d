"""The charging rule's one home: its forms agree, and they are the rule the docs state."""

from __future__ import annotations

import itertools

import numpy as np

from autotts.env.charging import FULL, finish_charge, read_charge, slot_charge, slot_charges

# (length, n_probes, freq): longer than its probes, shorter (probes overcharge), exact, none
BRANCHES = [(1234, 2, 500), (700, 3, 500), (1500, 3, 500), (37, 0, 500), (0, 0, 100)]


def test_a_walk_costs_the_longer_of_its_probes_and_its_length() -> None:
    for length, n, freq in BRANCHES:
        walked = sum(read_charge(k, n, length, freq) for k in range(1, n + 5))
        assert walked == max(freq * n, length)
        assert slot_charge(n + 4, n, length, freq) == walked


def test_slot_charge_is_the_sum_of_its_reads() -> None:
    for (length, n, freq), reads in itertools.product(BRANCHES, range(8)):
        expected = sum(read_charge(k, n, length, freq) for k in range(1, reads + 1))
        assert slot_charge(reads, n, length, freq) == expected


def test_a_full_read_costs_the_length_and_finishing_costs_what_is_left() -> None:
    assert slot_charge(FULL, 3, 1234, 500) == 1234
    assert finish_charge(1234, 500, 0) == 1234
    assert finish_charge(1234, 500, 2) == 234
    assert finish_charge(1234, 500, 3) == 0  # probes already overcharged past the end


def test_the_array_form_matches_the_scalar_form() -> None:
    cases = [(r, n, length, f) for (length, n, f), r in itertools.product(BRANCHES, range(8))]
    reads, probes, lengths, freqs = (np.asarray(c, dtype=np.int64) for c in zip(*cases))
    got = slot_charges(reads, probes, lengths, freqs)
    assert got.tolist() == [slot_charge(*case) for case in cases]
    assert got.dtype == np.int64
