"""docs/semantics.md section 6, case by case, against every registered sessionizer (G = 10 s)."""

from __future__ import annotations

import itertools

import pytest

from sessionizer import CtrTotals, Session, searches_of
from tests.sessionizer.conftest import ev, spans


def test_01_no_events_no_sessions(sessionize):
    sessions, lates, counts = sessionize([])
    assert sessions == [] and lates == [] and counts.accepted == 0


def test_02_one_event_one_session_emitted_at_end_of_input(sessionize):
    sessions, _, _ = sessionize([ev(5)])
    assert spans(sessions) == [("u1", 5, 5, 1)]


def test_03_exact_gap_stays_just_over_splits(sessionize):
    assert spans(sessionize([ev(0), ev(10)])[0]) == [("u1", 0, 10, 2)]
    assert spans(sessionize([ev(0), ev(10.001)])[0]) == [("u1", 0, 0, 1), ("u1", 10.001, 10.001, 1)]


def test_04_chain_longer_than_gap_is_one_session(sessionize):
    assert spans(sessionize([ev(0), ev(9), ev(18), ev(27)])[0]) == [("u1", 0, 27, 4)]


@pytest.mark.semantics("dedup")
def test_05_same_ts_distinct_ids_one_session_repeated_id_once(sessionize):
    events = [ev(3, "a"), ev(3, "b"), ev(3, "c"), ev(3, "b")]
    sessions, lates, counts = sessionize(events)
    assert spans(sessions) == [("u1", 3, 3, 3)]
    assert counts.duplicates == 1 and counts.accepted == 3 and lates == []


def test_06_two_users_interleaved_are_independent(sessionize):
    events = [ev(0, user="a"), ev(1, user="b"), ev(8, user="a"), ev(15, user="b"), ev(30, user="a")]
    assert spans(sessionize(events)[0]) == [
        ("a", 0, 8, 2),
        ("a", 30, 30, 1),
        ("b", 1, 1, 1),
        ("b", 15, 15, 1),
    ]


def test_07_out_of_order_within_lateness_same_session_every_order(sessionize):
    for order in itertools.permutations([5, 0, 9]):
        sessions, lates, _ = sessionize([ev(t) for t in order], lateness_s=10)
        assert spans(sessions) == [("u1", 0, 9, 3)] and lates == []


def test_08_late_bridge_merges_two_open_sessions(sessionize):
    sessions, lates, _ = sessionize([ev(0), ev(18), ev(9)], lateness_s=9)
    assert spans(sessions) == [("u1", 0, 18, 3)] and lates == []


@pytest.mark.semantics("finality")
def test_09_bridge_at_exactly_gap_on_both_sides(sessionize):
    sessions, lates, _ = sessionize([ev(0), ev(20), ev(10)], lateness_s=10)
    assert spans(sessions) == [("u1", 0, 20, 3)] and lates == []


def test_10_earlier_event_moves_start_and_id_back(sessionize):
    sessions, _, _ = sessionize([ev(20), ev(12)], lateness_s=8)
    assert spans(sessions) == [("u1", 12, 20, 2)]
    assert sessions[0].session_id == Session("u1", 12_000, 20_000, []).session_id


def test_11_event_exactly_at_watermark_is_on_time(sessionize):
    sessions, lates, _ = sessionize([ev(10), ev(5)], lateness_s=5)
    assert lates == [] and spans(sessions) == [("u1", 5, 10, 2)]


@pytest.mark.streaming
@pytest.mark.semantics("event_watermark")
def test_12_event_behind_watermark_goes_to_late_output(sessionize):
    sessions, lates, counts = sessionize([ev(0), ev(5), ev(30), ev(8, "late-one")])
    assert spans(sessions) == [("u1", 0, 5, 2), ("u1", 30, 30, 1)]  # no re-emission
    assert [late.event.event_id for late in lates] == ["late-one"]
    assert "watermark" in lates[0].reason
    assert counts.late == 1 and counts.accepted == 3


def test_13_end_of_input_flushes_every_open_session_once(sessionize):
    events = [ev(0, user="a"), ev(0, user="b"), ev(50, user="a"), ev(55, user="c")]
    sessions, _, _ = sessionize(events, lateness_s=100)
    assert spans(sessions) == [("a", 0, 0, 1), ("a", 50, 50, 1), ("b", 0, 0, 1), ("c", 55, 55, 1)]
    assert len({s.session_id for s in sessions}) == 4


def _metrics(sessionize, events, **options):
    sessions, _, _ = sessionize(events, **options)
    totals = CtrTotals()
    for s in sessions:
        totals.add(searches_of(s.events))
    return totals


def test_14_search_with_two_clicks(sessionize):
    events = [
        ev(0, kind="app_open"),
        ev(1, kind="search"),
        ev(2, kind="results", items=3),
        ev(3, kind="click", position=1),
        ev(4, kind="click", position=3),
    ]
    totals = _metrics(sessionize, events)
    assert totals.ctr == 1.0 and totals.clicks_per_search == 2.0
    assert totals.ctr_by_position() == {1: 1.0, 2: 0.0, 3: 1.0}


def test_15_click_before_first_search_is_owned_by_none(sessionize):
    events = [
        ev(0, kind="app_open"),
        ev(1, kind="click", position=1),
        ev(2, kind="search"),
        ev(3, kind="results", items=2),
    ]
    totals = _metrics(sessionize, events)
    assert totals.searches == 1 and totals.clicks == 0 and totals.ctr == 0.0
    assert totals.abandoned_searches == 1


@pytest.mark.semantics("markers")
def test_16_split_on_app_open(sessionize):
    events = [ev(0, kind="app_open"), ev(2), ev(5, kind="app_open"), ev(6)]
    assert spans(sessionize(events)[0]) == [("u1", 0, 6, 4)]
    assert spans(sessionize(events, split_on_app_open=True)[0]) == [
        ("u1", 0, 2, 2),
        ("u1", 5, 6, 2),
    ]


@pytest.mark.semantics("markers")
def test_17_close_on_app_close(sessionize):
    events = [ev(0, kind="app_open"), ev(2, kind="app_close"), ev(3), ev(4)]
    assert spans(sessionize(events)[0]) == [("u1", 0, 4, 4)]
    assert spans(sessionize(events, close_on_app_close=True)[0]) == [
        ("u1", 0, 2, 2),
        ("u1", 3, 4, 2),
    ]
