"""The records a live run returns and writes: its summary (the simulator's ``Summary``
with what the sink acknowledged) and the ``live`` block inside it."""

from __future__ import annotations

import msgspec

from simulator import Summary

__all__ = ["Latency", "LiveBlock", "LiveSummary"]


class Latency(msgspec.Struct, kw_only=True, frozen=True):
    """Percentiles and maximum of one latency over a run, in ms (None: nothing measured)."""

    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class LiveBlock(msgspec.Struct, kw_only=True, frozen=True):
    """How the sink took the run: copies sent, acknowledged, retried, failed, never sent;
    why; how long a copy waited for its acknowledgement and a request for its answer."""

    sink: str
    speed: float | None  # simulated seconds per wall second; None: as fast as the sink takes
    simulated_events: int
    sent: int
    acknowledged: int
    retried: int
    failed: int
    unsent: int  # copies simulated and never sent (held by the sink, or never handed to it)
    unacknowledged_events: int
    stopped_by: str | None  # a signal's name, --stop-after, --max-lag
    error: str | None  # why the sink gave up
    ack_latency_ms: Latency
    request_latency_ms: Latency
    failures_by_reason: dict[str, int]


class LiveSummary(Summary, kw_only=True, frozen=True):
    """A live run's summary: the simulation's, counted over what the sink acknowledged
    (``events`` = lines of events.jsonl), and the ``live`` block."""

    live: LiveBlock
