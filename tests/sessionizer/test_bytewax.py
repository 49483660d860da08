"""The Bytewax dataflow gives exactly the reference's output: any mode, workers, processes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionizer import GapSessionizer, Late, Session, SessionConfig
from sessionizer.base import Event
from tests.sessionizer.test_properties import configs, streams

bytewax_engine = pytest.importorskip("sessionizer.bytewax_engine")


def _outcome(sessionizer, events, key=id):
    """Sessions and late events, events by ``key`` (``id``: the very input objects)."""
    out = list(sessionizer.sessionize(iter(events)))
    sessions = sorted(
        (s.user_id, s.start, s.end, tuple(map(key, s.events)))
        for s in out
        if isinstance(s, Session)
    )
    late = sorted((key(o.event), o.reason) for o in out if isinstance(o, Late))
    c = sessionizer.counts
    return sessions, late, (c.accepted, c.late, c.duplicates)


@settings(max_examples=150, deadline=None)
@given(streams(), configs, st.sampled_from([1, 2, 3]), st.sampled_from([1, 3, 64]))
def test_same_sessions_late_events_and_counts_as_the_reference(stream, config, workers, batch):
    events, _ = stream
    expected = _outcome(GapSessionizer(config), events)
    sz = bytewax_engine.BytewaxSessionizer(config, workers=workers)
    sz_batch = bytewax_engine.BATCH
    try:
        bytewax_engine.BATCH = batch  # small batches: ticks and stamps cross batch edges
        assert _outcome(sz, events) == expected
    finally:
        bytewax_engine.BATCH = sz_batch


def _big_stream(n_users=300, n=20_000):
    import numpy as np

    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(0, 4 * 3_600_000, n))
    arrival = ts + rng.exponential(20_000, n).astype(int) * (rng.random(n) < 0.3)
    users = rng.integers(0, n_users, n)
    kinds = rng.choice(["app_open", "search", "results", "click", "app_close"], n)
    order = np.argsort(arrival, kind="stable")
    return [Event(f"e{k}", str(kinds[k]), f"u{users[k]}", int(ts[k])) for k in order.tolist()]


@pytest.mark.parametrize("watermark", ["global", "per_user"])
def test_a_two_process_cluster_on_localhost_equals_the_reference(watermark):
    config = SessionConfig(gap_ms=60_000, lateness_ms=5_000, watermark=watermark, idle_ms=1000)
    events = _big_stream()
    expected = _outcome(GapSessionizer(config), events, key=tuple)
    assert expected[2][1] > 100  # some events are late
    sz = bytewax_engine.BytewaxSessionizer(config, workers=2, processes=2)
    got = _outcome(sz, events, key=tuple)  # events crossed processes: compare by value
    assert got == expected


def test_memory_is_released_as_sessions_close():
    """Global mode: a user's state is dropped once its sessions are final."""
    config = SessionConfig(gap_ms=1000)
    stamper = bytewax_engine.Stamper(config)
    for i in range(100):
        stamper.stamp([Event(f"e{i}", "search", f"u{i}", i * 10_000)])
    assert len(stamper.latest) <= 2


def test_config_round_trips_for_cluster_processes():
    config = SessionConfig(gap_ms=5, watermark="per_user", idle_ms=3, dedup=False)
    import orjson

    assert SessionConfig(**orjson.loads(orjson.dumps(dataclasses.asdict(config)))) == config


@settings(max_examples=100, deadline=None)
@given(streams(), configs)
def test_session_windower_is_the_reference_per_user_without_idle_dedup_or_markers(stream, config):
    """bytewax-window's documented semantics, exactly: the reference in the mode it keeps."""
    from sessionizer.bytewax_window import BytewaxWindowSessionizer

    events, _ = stream
    kept = dataclasses.replace(
        config,
        watermark="per_user",
        idle_ms=10**15,
        dedup=False,
        split_on_app_open=False,
        close_on_app_close=False,
    )
    expected = _outcome(GapSessionizer(kept), events)
    got = _outcome(BytewaxWindowSessionizer(config), events)
    assert got[0] == expected[0] and got[2] == expected[2]
    assert [k for k, _ in got[1]] == [k for k, _ in expected[1]]  # the same late events


def test_the_readme_example_of_where_the_session_windower_differs():
    from sessionizer import resolve

    h = 3_600_000
    events = [
        Event("b1", "search", "b", 10 * h),
        Event("a1", "app_open", "a", 9 * h),
        Event("a2", "search", "a", 9 * h + 5000),
        Event("a2", "search", "a", 9 * h + 5000),
    ]
    config = SessionConfig(gap_ms=1_800_000, lateness_ms=0)
    ref = list(GapSessionizer(config).sessionize(iter(events)))
    assert [o.event.event_id for o in ref if isinstance(o, Late)] == ["a1", "a2", "a2"]
    window = list(resolve("bytewax-window")(config).sessionize(iter(events)))
    assert sorted(
        (s.user_id, [e.event_id for e in s.events]) for s in window if isinstance(s, Session)
    ) == [("a", ["a1", "a2", "a2"]), ("b", ["b1"])]


def test_a_dead_cluster_peer_stops_the_run_with_one_line():
    import subprocess
    import sys

    code = """
import sys
from sessionizer import bytewax_engine as be, SessionConfig, Event
be.sys.executable = "/bin/false"  # a peer that dies at once
sz = be.BytewaxSessionizer(SessionConfig(gap_ms=1000), processes=2)
try:
    list(sz.sessionize([Event("e", "search", "u", 1)]))
except be.SessionizerError as e:
    print(e, file=sys.stderr)
    sys.exit(2)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == ["bytewax: cluster process 1 exited with 1"]


def _taken_port() -> tuple[object, int]:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()[1]


def test_a_cluster_whose_first_port_is_taken_before_it_binds_runs_on_new_ports(monkeypatch):
    """Ports are free when chosen: if another program takes process 0's before timely binds
    it, the cluster's processes are ended and it runs again on new ports."""
    holder, taken = _taken_port()
    real, calls = bytewax_engine._free_ports, []

    def first_taken(n: int) -> list[int]:
        calls.append(n)
        ports = real(n)
        return [taken, *ports[1:]] if len(calls) == 1 else ports

    monkeypatch.setattr(bytewax_engine, "_free_ports", first_taken)
    config = SessionConfig(gap_ms=60_000, lateness_ms=5_000)
    events = _big_stream()[:2000]
    try:
        got = _outcome(bytewax_engine.BytewaxSessionizer(config, processes=2), events, key=tuple)
    finally:
        holder.close()
    assert len(calls) == 2
    assert got == _outcome(GapSessionizer(config), events, key=tuple)


def test_a_taken_port_of_another_cluster_process_is_named_in_one_line():
    import subprocess
    import sys

    holder, taken = _taken_port()
    code = f"""
import sys
from sessionizer import bytewax_engine as be, SessionConfig, Event
real = be._free_ports
be._free_ports = lambda n: [real(1)[0], {taken}]
sz = be.BytewaxSessionizer(SessionConfig(gap_ms=1000), processes=2)
try:
    list(sz.sessionize([Event("e", "search", "u", 1)]))
except KeyboardInterrupt:  # the watcher saw it first
    sys.exit(130)
except be.SessionizerError as e:  # the cluster failed first
    print(e, file=sys.stderr)
    sys.exit(2)
"""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
    finally:
        holder.close()
    assert done.returncode in (130, 2)
    assert "Traceback" not in done.stderr
    assert f"its port 127.0.0.1:{taken} is taken" in done.stderr
