"""docs/semantics.md section 3, per-user watermark: each rule on a small stream, every backend."""

from __future__ import annotations

import pytest

from sessionizer.base import Event

S = 1000  # ms
pytestmark = pytest.mark.streaming  # a watermark mode: batch backends have none


def _e(i: int, user: str, t_s: float, kind: str = "search") -> Event:
    return Event(f"e{i}", kind, user, round(t_s * S))


def _spans(sessions):
    return sorted((s.user_id, s.start // S, s.end // S) for s in sessions)


@pytest.mark.semantics("global_watermark", "idle")
def test_a_user_behind_the_stream_is_not_late_per_user(sessionize):
    # b is an hour ahead of a (a phone sending its queue late, in order).
    events = [_e(0, "b", 3600), _e(1, "a", 0), _e(2, "a", 5), _e(3, "b", 3601), _e(4, "a", 9)]
    sessions, lates, counts = sessionize(events, gap_s=10, watermark="global")
    assert counts.late == 3 and _spans(sessions) == [("b", 3600, 3601)]
    sessions, lates, counts = sessionize(events, gap_s=10, watermark="per_user", idle_ms=3_600_000)
    assert counts.late == 0 and _spans(sessions) == [("a", 0, 9), ("b", 3600, 3601)]


def test_behind_the_users_own_watermark_is_late(sessionize):
    events = [_e(0, "a", 100), _e(1, "a", 50), _e(2, "a", 97)]
    sessions, lates, counts = sessionize(events, gap_s=10, lateness_s=5, watermark="per_user")
    assert [o.event.event_id for o in lates] == ["e1"]
    assert "user's watermark" in lates[0].reason
    assert _spans(sessions) == [("a", 97, 100)]


@pytest.mark.semantics("idle")
def test_a_quiet_users_session_is_final_by_the_streams_watermark(sessionize):
    # a goes quiet at 10; the stream passes 10 + gap + idle; a's event at 15 would change
    # that final session, so it is late; one at 40 starts a new session.
    events = [_e(0, "a", 0), _e(1, "a", 10), _e(2, "b", 31), _e(3, "a", 15), _e(4, "a", 40)]
    sessions, lates, counts = sessionize(events, gap_s=10, watermark="per_user", idle_ms=10_000)
    assert [o.event.event_id for o in lates] == ["e3"]
    assert "final session a@0" in lates[0].reason
    assert _spans(sessions) == [("a", 0, 10), ("a", 40, 40), ("b", 31, 31)]
    # with a longer idle allowance the session is still open and e3 joins it
    sessions, lates, counts = sessionize(events, gap_s=10, watermark="per_user", idle_ms=11_001)
    assert counts.late == 0 and _spans(sessions) == [("a", 0, 15), ("a", 40, 40), ("b", 31, 31)]


def test_the_users_own_progress_closes_its_sessions(sessionize):
    # a's watermark reaches 30 - 10 = 20 > 0 + gap: the session at 0 is final, and an event
    # of a at 18 is behind a's watermark (a session a user moved on from cannot change).
    events = [_e(0, "a", 0), _e(1, "a", 30), _e(2, "a", 18), _e(3, "a", 21)]
    sessions, lates, counts = sessionize(events, gap_s=15, lateness_s=10, watermark="per_user")
    assert [o.event.event_id for o in lates] == ["e2"]
    assert _spans(sessions) == [("a", 0, 0), ("a", 21, 30)]


@pytest.mark.semantics("idle", "dedup")
def test_a_session_born_final_by_the_streams_watermark_is_closed_at_once(sessionize):
    # b's first event is already gap + idle behind the stream: its session is final as it
    # opens, so b's repeat of the same instant would change a final session: late.
    events = [_e(0, "a", 20), _e(1, "b", 0), _e(2, "b", 0)]
    sessions, lates, counts = sessionize(events, gap_s=1, watermark="per_user", dedup=False)
    assert [o.event.event_id for o in lates] == ["e2"]
    assert _spans(sessions) == [("a", 20, 20), ("b", 0, 0)]
