"""The vectorised sessionizer gives exactly the reference's output, whatever the batch size."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sessionizer import GapSessionizer, Late, Session, SessionConfig, resolve
from sessionizer.base import Event
from sessionizer.vectorized import VectorizedSessionizer
from tests.sessionizer.test_properties import configs, streams


def _outcome(sessionizer, events):
    out = list(sessionizer.sessionize(iter(events)))
    sessions = sorted(
        (s.user_id, s.start, s.end, tuple(id(e) for e in s.events))
        for s in out
        if isinstance(s, Session)
    )
    late = sorted((id(o.event), o.reason) for o in out if isinstance(o, Late))
    c = sessionizer.counts
    return sessions, late, (c.accepted, c.late, c.duplicates)


@settings(max_examples=400, deadline=None)
@given(streams(), configs, st.sampled_from([1, 2, 3, 7, 64]))
def test_same_sessions_late_events_and_counts_as_the_reference(stream, config, batch):
    events, _ = stream
    expected = _outcome(GapSessionizer(config), events)
    assert _outcome(VectorizedSessionizer(config, batch=batch), events) == expected


def test_registered_as_vectorized():
    assert resolve("vectorized") is VectorizedSessionizer


def test_memory_follows_open_sessions_not_users_seen():
    """Users whose sessions are all final are forgotten as the stream goes on."""
    config = SessionConfig(gap_ms=1000)
    sz = VectorizedSessionizer(config, batch=10)
    events = [Event(f"e{i}", "search", f"u{i}", i * 10_000) for i in range(1000)]
    out = sz.sessionize(iter(events))
    sessions = [next(out) for _ in range(900)]  # the stream is far from its end
    assert all(isinstance(s, Session) for s in sessions)
    assert 0 < sz.open_events < 20 and 0 < sz.open_users < 20
    assert len(list(out)) == 100 and sz.open_events == sz.open_users == 0
