"""Streaming behaviour beyond the numbered edge cases, against every sessionizer."""

from __future__ import annotations

import pytest

from sessionizer import GapSessionizer, Session, SessionConfig
from tests.sessionizer.conftest import ev, spans


def test_session_is_emitted_as_soon_as_watermark_passes_end_plus_gap():
    """The reference yields a final session before it reads the next event."""
    consumed = []

    def events():
        for e in [ev(0), ev(5), ev(15), ev(25), ev(35.001), ev(36)]:
            consumed.append(e.ts)
            yield e

    out = GapSessionizer(SessionConfig(gap_ms=10_000)).sessionize(events())
    first = next(out)
    assert isinstance(first, Session) and (first.start, first.end) == (0, 25_000)
    assert consumed[-1] == 35_001  # W = 35.001 > 25 + 10, and not a single event more
    rest = list(out)
    assert [(s.start, s.end) for s in rest] == [(35_001, 36_000)]


@pytest.mark.streaming
@pytest.mark.semantics("global_watermark")
def test_watermark_is_global_across_users(sessionize):
    sessions, lates, _ = sessionize([ev(0, user="a"), ev(100, user="b"), ev(50, user="a")])
    assert [late.event.user_id for late in lates] == ["a"]
    assert spans(sessions) == [("a", 0, 0, 1), ("b", 100, 100, 1)]


@pytest.mark.semantics("markers")
def test_late_app_open_splits_an_open_session(sessionize):
    events = [ev(0), ev(4), ev(8), ev(5, kind="app_open")]
    sessions, lates, _ = sessionize(events, lateness_s=10, split_on_app_open=True)
    assert lates == [] and spans(sessions) == [("u1", 0, 4, 2), ("u1", 5, 8, 2)]


@pytest.mark.streaming
def test_duplicate_of_final_session_event_is_late(sessionize):
    sessions, lates, counts = sessionize([ev(0, "x"), ev(30), ev(0, "x")])
    assert counts.duplicates == 0 and counts.late == 1 and counts.accepted == 2


def test_events_of_a_session_are_in_ts_then_arrival_order(sessionize):
    events = [ev(5, "b"), ev(3, "a"), ev(5, "c"), ev(4, "d")]
    sessions, _, _ = sessionize(events, lateness_s=10)
    assert [e.event_id for e in sessions[0].events] == ["a", "d", "b", "c"]


def test_dedup_off_keeps_repeated_deliveries(sessionize):
    events = [ev(0, "a"), ev(1, "b"), ev(1, "b"), ev(2, "c")]
    sessions, _, counts = sessionize(events, dedup=False)
    assert [e.event_id for e in sessions[0].events] == ["a", "b", "b", "c"]
    assert counts.duplicates == 0 and counts.accepted == 4
