"""The ledger accounts for every event, and its counts follow docs/semantics.md section 4."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from tests.helpers import read_jsonl


@pytest.fixture(scope="module")
def run(small_run):
    events = read_jsonl(small_run / "events.jsonl")
    sessions = read_jsonl(small_run / "truth" / "sessions.jsonl")
    searches = read_jsonl(small_run / "truth" / "searches.jsonl")
    summary = orjson.loads((small_run / "truth" / "summary.json").read_bytes())
    return events, sessions, searches, summary


def test_run_is_not_trivial(run):
    events, sessions, searches, summary = run
    assert len(sessions) > 200 and len(searches) > 300 and summary["clicks"] > 50


def test_every_event_in_exactly_one_true_session(run):
    events, sessions, _, _ = run
    owners = Counter(eid for s in sessions for eid in s["event_ids"])
    assert all(n == 1 for n in owners.values())
    assert set(owners) == {e["event_id"] for e in events}
    assert len(events) == len(owners)  # perfect delivery: each event once


def test_session_bounds_are_min_and_max_ts(run):
    events, sessions, _, _ = run
    ts = {e["event_id"]: e["ts"] for e in events}
    for s in sessions:
        stamps = [ts[i] for i in s["event_ids"]]
        assert s["start"] == min(stamps) and s["end"] == max(stamps)
        assert stamps == sorted(stamps)  # event_ids are in time order


def test_arrival_order_and_delay(run):
    events, *_ = run
    received = [e["received_at"] for e in events]
    assert received == sorted(received)
    assert all(e["received_at"] >= e["ts"] for e in events)


def test_visit_structure_search_results_clicks(run):
    events, sessions, _, _ = run
    by_id = {e["event_id"]: e for e in events}
    for s in sessions:
        visit = [by_id[i] for i in s["event_ids"]]
        assert visit[0]["type"] == "app_open"
        assert all(e["user_id"] == s["user_id"] for e in visit)
        shown = None  # items of the current search's results, once they arrived
        searched = False
        for e in visit[1:]:
            if e["type"] == "search":
                searched, shown = True, None
            elif e["type"] == "results":
                assert searched and shown is None, "results follow their search, once"
                shown = e["items"]
            elif e["type"] == "click":
                assert shown, "a click follows a non-empty results page"
                assert 1 <= e["position"] <= len(shown)
                assert shown[e["position"] - 1] == e["item"]
            else:
                assert e["type"] == "app_close" and e is visit[-1]


def _ctr_counts(visit_events: list[dict]) -> tuple[int, int, int]:
    """docs/semantics.md section 4 on one session's events, written here independently."""
    searches = clicked = clicks = 0
    current = None  # clicks owned by the current search, None before the first search
    for e in visit_events:
        if e["type"] == "search":
            if current:
                clicked += 1
            searches += 1
            current = 0
        elif e["type"] == "click" and current is not None:
            current += 1
            clicks += 1
    if current:
        clicked += 1
    return searches, clicked, clicks


def test_summary_equals_sums_over_ledger_files(run):
    events, sessions, searches, summary = run
    assert summary["events"] == len(events)
    assert summary["sessions"] == len(sessions)
    assert summary["searches"] == len(searches) == sum(s["searches"] for s in sessions)
    assert summary["clicked_searches"] == sum(s["clicked"] for s in searches)
    assert summary["clicked_searches"] == sum(s["clicked_searches"] for s in sessions)
    assert summary["clicks"] == sum(s["clicks"] for s in searches)
    assert summary["zero_result_searches"] == sum(s["results"] == 0 for s in searches)
    assert summary["timed_out_searches"] == sum(s["results"] is None for s in searches)
    assert summary["abandoned_searches"] == sum(
        bool(s["results"]) and not s["clicked"] for s in searches
    )
    assert summary["ctr"] == summary["clicked_searches"] / summary["searches"]


def test_ctr_recomputed_from_events_by_true_visit_equals_summary(run):
    events, sessions, _, summary = run
    order = {e["event_id"]: k for k, e in enumerate(events)}
    by_id = {e["event_id"]: e for e in events}
    totals = [0, 0, 0]
    for s in sessions:
        visit = sorted(
            (by_id[i] for i in s["event_ids"]), key=lambda e: (e["ts"], order[e["event_id"]])
        )
        counts = _ctr_counts(visit)
        assert list(counts) == [s["searches"], s["clicked_searches"], s["clicks"]]
        totals = [a + b for a, b in zip(totals, counts)]
    assert totals == [summary["searches"], summary["clicked_searches"], summary["clicks"]]
    assert totals[1] / totals[0] == summary["ctr"]


def test_searches_belong_to_their_sessions(run):
    events, sessions, searches, _ = run
    by_id = {e["event_id"]: e for e in events}
    session_of = {i: s["session_id"] for s in sessions for i in s["event_ids"]}
    for s in searches:
        e = by_id[s["search_id"]]
        assert e["type"] == "search" and e["query"] == s["query"] and e["ts"] == s["ts"]
        assert session_of[s["search_id"]] == s["session_id"]
