"""The compact event index behind check: same answers as a dict, a fraction of the memory."""

from __future__ import annotations

import numpy as np

from sessionsim.truth_index import REPEAT, EventIndex


def test_labels_and_first_deliveries_for_simulator_and_other_ids():
    index = EventIndex()
    ids = [f"{k:016x}" for k in np.random.default_rng(1).integers(0, 2**63, 1000).tolist()]
    for n, eid in enumerate(ids):
        index.add(eid, n // 3)
    index.add("hand-made", 7)
    index.add("ABCDEF0123456789", 8)  # upper case: not the simulator's form, kept as text
    index.freeze()
    assert len(index) == 1002
    assert index.labels_of([ids[5], "hand-made", "nope", "abcdef0123456789"]) == [1, 7, None, None]
    assert index.labels_of(["ABCDEF0123456789", "0x" + ids[0][2:]]) == [8, None]
    pass_one = index.deliveries()
    assert pass_one.first([ids[0], ids[1], ids[0], "hand-made", "nope"]) == [0, 0, REPEAT, 7, None]
    assert pass_one.first([ids[1], "hand-made", "nope", ids[2]]) == [REPEAT, REPEAT, REPEAT, 0]
    assert index.deliveries().first([ids[1]]) == [0]  # a new pass starts afresh


def test_a_million_events_take_about_17_bytes_each():
    index = EventIndex()
    for k in range(1_000_000):
        index.add(f"{k * 7919:016x}", k // 7)
    index.freeze()
    assert index.keys.nbytes + index.labels.nbytes + len(index.deliveries()._seen) == 17_000_000
