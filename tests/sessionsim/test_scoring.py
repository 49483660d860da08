"""The scorer on hand-written visits and sessions."""

from __future__ import annotations

import pytest

from sessionsim.scoring.scorer import wilson_interval
from tests.sessionsim.scorers import VisitScorer


def test_exact_split_and_merge_counts_and_pairs():
    scorer = VisitScorer({"A": ["a1", "a2", "a3"], "B": ["b1", "b2"], "C": ["c1", "c2"]})
    scorer.found(["a1", "a2"])  # A split...
    scorer.found(["a3", "b1", "b2"])  # ...and its tail merged with all of B
    scorer.found(["c1", "c2"])  # C exact
    s = scorer.score()
    assert (s.sessions_true, s.sessions_found, s.sessions_exact) == (3, 3, 1)
    assert (s.splits, s.merges) == (1, 1)
    # true pairs: A 3 + B 1 + C 1 = 5; found pairs: 1 + 3 + 1 = 5; shared: a1a2, b1b2, c1c2
    assert s.pairwise_precision == pytest.approx(3 / 5)
    assert s.pairwise_recall == pytest.approx(3 / 5)


def test_a_visit_is_settled_once_every_delivered_event_is_placed():
    scorer = VisitScorer({"A": ["a1", "a2"], "B": ["b1"]})
    scorer.found(["a1"])
    scorer.late("a2")  # A settled: one found session, one late event
    scorer.found(["a1"])  # a1 again after A settled: unknown, not a repeat or a split
    scorer.found(["b1"])
    s = scorer.score()
    assert (s.unknown_events, s.repeated_events, s.splits) == (1, 0, 0)
    assert s.sessions_exact == 1  # B
    assert s.pairwise_recall == 0.0  # the only true pair (a1, a2) was never put together


def test_an_event_placed_twice_while_its_visit_is_open_is_repeated():
    scorer = VisitScorer({"A": ["a1", "a2"]})
    scorer.found(["a1"])
    scorer.found(["a1"])  # A still waits for a2
    scorer.found(["a2"])
    s = scorer.score()
    assert (s.repeated_events, s.unknown_events, s.splits) == (1, 0, 1)


def test_undelivered_visits_do_not_count_and_unknown_events_are_reported():
    scorer = VisitScorer({"A": ["a1"], "lost": ["l1"]}, delivered={"lost": 0})
    scorer.found(["a1", "zz", "l1"])  # l1 is in the truth but was never delivered
    s = scorer.score()
    assert s.sessions_true == 1 and s.unknown_events == 2 and s.sessions_exact == 0


def test_delivered_events_never_placed_are_unplaced():
    scorer = VisitScorer({"A": ["a1", "a2", "a3"]})
    scorer.found(["a1"])
    s = scorer.score()
    assert (s.sessions_true, s.unplaced_events, s.sessions_exact) == (1, 2, 0)


def test_duplicates_in_a_session_count_once():
    scorer = VisitScorer({"A": ["a1", "a2"]})
    scorer.found(["a1", "a2", "a2"])
    s = scorer.score()
    assert s.sessions_exact == 1 and s.pairwise_precision == 1.0 and s.pairwise_recall == 1.0
    assert s.repeated_events == 1


def test_wilson_interval_contains_the_estimate_and_narrows():
    lo, hi = wilson_interval(30, 100)
    assert lo < 0.3 < hi
    lo2, hi2 = wilson_interval(300, 1000)
    assert hi2 - lo2 < hi - lo
    assert wilson_interval(0, 0) is None
