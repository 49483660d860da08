"""Properties (Hypothesis): streaming equals the batch definition on its on-time events."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from sessionizer import GapSessionizer, Late, Session, SessionConfig, batch_sessions, resolve
from sessionizer.base import Event
from tests.sessionizer.conftest import SESSIONIZERS

KINDS = ["app_open", "search", "results", "click", "app_close"]


@st.composite
def streams(draw):
    """Events of a few users, possibly with duplicates; arrival = ts + a delay."""
    n = draw(st.integers(0, 40))
    events, arrivals = [], []
    for i in range(n):
        ts = draw(st.integers(0, 120_000))
        e = Event(f"e{i}", draw(st.sampled_from(KINDS)), draw(st.sampled_from("abc")), ts)
        events.append(e)
        arrivals.append(ts + draw(st.integers(0, 30_000)))
    for i in draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=5)) if n else []:
        events.append(events[i]._replace())  # an at-least-once re-delivery (a new object)
        arrivals.append(arrivals[i] + draw(st.integers(0, 20_000)))
    order = sorted(range(len(events)), key=lambda k: (arrivals[k], k))
    max_delay = max((arrivals[k] - events[k].ts for k in order), default=0)
    return [events[k] for k in order], max_delay


configs = st.builds(
    SessionConfig,
    gap_ms=st.sampled_from([1, 5_000, 10_000, 30_000]),
    lateness_ms=st.sampled_from([0, 2_000, 10_000, 30_000]),
    split_on_app_open=st.booleans(),
    close_on_app_close=st.booleans(),
    dedup=st.booleans(),
    watermark=st.sampled_from(["global", "per_user"]),
    idle_ms=st.sampled_from([0, 5_000]),
)


def _key(sessions):
    return sorted(
        (s.user_id, s.start, s.end, tuple(e.event_id for e in s.events)) for s in sessions
    )


@settings(max_examples=300, deadline=None)
@given(streams(), configs, st.sampled_from(SESSIONIZERS))
def test_sessions_equal_batch_definition_of_on_time_events(stream, config, name):
    events, _ = stream
    factory = resolve(name)
    sz = factory(config)
    # A backend that documents a difference is held to the rules it keeps.
    differs = getattr(factory, "differs", {})
    if "dedup" in differs:
        config = dataclasses.replace(config, dedup=False)
    if "markers" in differs:
        config = dataclasses.replace(config, split_on_app_open=False, close_on_app_close=False)
    out = list(sz.sessionize(iter(events)))
    sessions = [o for o in out if isinstance(o, Session)]
    late = [o.event for o in out if isinstance(o, Late)]
    late_ids = {id(e) for e in late}
    on_time = [e for e in events if id(e) not in late_ids]
    assert _key(sessions) == _key(batch_sessions(on_time, config))
    # accepted + late + duplicates = every input line
    c = sz.counts
    assert c.accepted + c.late + c.duplicates == len(events)
    assert c.late == len(late)
    # every accepted event lands in exactly one session
    placed = [e.event_id for s in sessions for e in s.events]
    assert len(placed) == c.accepted
    if config.dedup:
        assert len(set(placed)) == len(placed)


@settings(max_examples=200, deadline=None)
@given(streams(), configs)
def test_within_lateness_nothing_is_late_and_order_does_not_matter(stream, config):
    events, max_delay = stream
    config = dataclasses.replace(config, lateness_ms=max_delay)
    sz = GapSessionizer(config)
    sessions = list(sz.sessionize(iter(events)))
    assert sz.counts.late == 0
    assert _key(sessions) == _key(batch_sessions(events, config))
