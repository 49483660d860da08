"""Search splitting, attribution and the CTR totals (docs/semantics.md section 4)."""

from __future__ import annotations

from sessionizer import CtrTotals, searches_of
from tests.sessionizer.conftest import ev


def test_zero_result_and_abandoned_are_counted_apart():
    events = [
        ev(0, kind="search"),
        ev(1, kind="results", items=0),
        ev(2, kind="search"),
        ev(3, kind="results", items=5),
        ev(4, kind="search"),
        ev(5, kind="results", items=5),
        ev(6, kind="click", position=2),
    ]
    totals = CtrTotals()
    assert totals.add(searches_of(events)) == (3, 1, 1)
    assert totals.zero_result_searches == 1 and totals.abandoned_searches == 1
    assert totals.ctr == 1 / 3


def test_session_without_search_contributes_nothing():
    totals = CtrTotals()
    totals.add(searches_of([ev(0, kind="app_open"), ev(1, kind="app_close")]))
    assert totals.searches == 0 and totals.ctr is None and totals.sessions == 1


def test_search_id_attribution_follows_ids_not_time():
    events = [
        ev(0, kind="search", search_id="s1"),
        ev(1, kind="results", items=3, search_id="s1"),
        ev(2, kind="search", search_id="s2"),
        ev(3, kind="click", position=1, search_id="s1"),
        ev(4, kind="click", position=1, search_id="elsewhere"),
    ]
    by_time = searches_of(events, "time")
    by_id = searches_of(events, "search_id")
    assert [len(s.positions) for s in by_time] == [0, 2]
    assert [len(s.positions) for s in by_id] == [1, 0]


def test_ctr_per_minute_buckets_by_search_time():
    events = [
        ev(10, kind="search"),
        ev(11, kind="click", position=1),
        ev(70, kind="search"),
        ev(130, kind="search"),
        ev(131, kind="click", position=1),
    ]
    totals = CtrTotals(bucket_ms=60_000)
    totals.add(searches_of(events))
    assert totals.ctr_by_bucket() == {0: 1.0, 60_000: 0.0, 120_000: 1.0}
