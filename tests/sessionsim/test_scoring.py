"""The streaming scorer on hand-written visits and sessions."""

from __future__ import annotations

import pytest

from sessionsim.scoring import Scorer, wilson_interval


def _scorer(visits: dict[str, list[str]]) -> Scorer:
    scorer = Scorer()
    for label, ids in visits.items():
        scorer.expect(label, len(ids))
        for eid in ids:
            scorer.deliver(eid, label)
    return scorer


def test_exact_split_and_merge_counts_and_pairs():
    scorer = _scorer({"A": ["a1", "a2", "a3"], "B": ["b1", "b2"], "C": ["c1", "c2"]})
    scorer.found(["a1", "a2"])  # A split...
    scorer.found(["a3", "b1", "b2"])  # ...and its tail merged with all of B
    scorer.found(["c1", "c2"])  # C exact
    s = scorer.score()
    assert (s.sessions_true, s.sessions_found, s.sessions_exact) == (3, 3, 1)
    assert (s.splits, s.merges) == (1, 1)
    # true pairs: A 3 + B 1 + C 1 = 5; found pairs: 1 + 3 + 1 = 5; shared: a1a2, b1b2, c1c2
    assert s.pairwise_precision == pytest.approx(3 / 5)
    assert s.pairwise_recall == pytest.approx(3 / 5)


def test_visit_is_forgotten_once_every_delivered_event_is_placed():
    scorer = _scorer({"A": ["a1", "a2"], "B": ["b1"]})
    scorer.found(["a1"])
    assert scorer.open_visits() == 2
    scorer.late("a2")
    assert scorer.open_visits() == 1  # A settled: one found session, one late event
    scorer.found(["b1"])
    assert scorer.open_visits() == 0
    s = scorer.score()
    assert s.sessions_exact == 1 and s.splits == 0
    assert s.pairwise_recall == 0.0  # the only true pair (a1, a2) was never put together


def test_undelivered_visits_do_not_count_and_unknown_events_are_reported():
    scorer = _scorer({"A": ["a1"]})
    scorer.expect("lost", 0)
    scorer.found(["a1", "zz"])
    s = scorer.score()
    assert s.sessions_true == 1 and s.unknown_events == 1 and s.sessions_exact == 0


def test_duplicates_in_a_session_count_once():
    scorer = _scorer({"A": ["a1", "a2"]})
    scorer.found(["a1", "a2", "a2"])
    s = scorer.score()
    assert s.sessions_exact == 1 and s.pairwise_precision == 1.0 and s.pairwise_recall == 1.0


def test_wilson_interval_contains_the_estimate_and_narrows():
    lo, hi = wilson_interval(30, 100)
    assert lo < 0.3 < hi
    lo2, hi2 = wilson_interval(300, 1000)
    assert hi2 - lo2 < hi - lo
    assert wilson_interval(0, 0) is None


def test_expectations_up_front_hold_a_visit_only_while_its_events_are_in_flight():
    import numpy as np

    def play(scorer):
        held = []
        for visit in range(1000):
            ids = [f"v{visit}e{k}" for k in range(3)]
            for eid in ids:
                scorer.deliver(eid, visit)
            held.append(scorer.open_visits())
            scorer.found(ids[:2])
            scorer.late(ids[2])
        return scorer.score(), max(held)

    expected = np.full(1001, 3)  # visit 1000: its events never came (a truncated file)
    lazy, held = play(Scorer(expected=expected))
    eager = Scorer()
    for visit, n in enumerate(expected.tolist()):
        eager.expect(visit, n)
    assert play(eager)[0] == lazy and lazy.sessions_true == 1001
    assert held == 1  # one visit at a time, not the thousand
