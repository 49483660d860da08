"""What every live sink shares: an event copy on its way out (``Outgoing``), the record of
what happened to each copy (``Tally``), and the protocol a sink implements."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from simulator import LatencyHistogram

QUANTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))


class Latencies:
    """Latencies of one kind (an acknowledgement, a request): the run's, and the current
    second's window, in the backend's mergeable log-binned histogram; the exact maximum."""

    def __init__(self) -> None:
        self.run, self.window = LatencyHistogram(), LatencyHistogram()
        self.run_max_s = self.window_max_s = 0.0

    def add(self, seconds: float) -> None:
        self.run.add(seconds)
        self.window.add(seconds)
        self.run_max_s = max(self.run_max_s, seconds)
        self.window_max_s = max(self.window_max_s, seconds)

    def next_window(self) -> dict[str, float | None]:
        """The current window's percentiles (ms); a new window starts."""
        out = _percentiles_ms(self.window, self.window_max_s)
        self.window, self.window_max_s = LatencyHistogram(), 0.0
        return out

    def summary(self) -> dict[str, float | None]:
        """The whole run's percentiles and maximum (ms)."""
        return _percentiles_ms(self.run, self.run_max_s)


def _percentiles_ms(h: LatencyHistogram, max_s: float) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, q in QUANTILES:
        value = h.quantile(q)
        out[f"{name}_ms"] = None if value is None else round(min(value, max_s) * 1000.0, 2)
    out["max_ms"] = round(max_s * 1000.0, 2) if out["p50_ms"] is not None else None
    return out


@dataclass(slots=True)
class Outgoing:
    """One event copy on its way out."""

    event_id: str
    copy: int
    key: bytes  # the user id: a user's events stay in one Kafka partition, in order
    ts_ms: int  # its arrival (``received_at``) in epoch milliseconds
    line: bytes  # its JSON line, newline included
    handed: float = 0.0  # when it was handed to the sink (time.monotonic; 0: unknown)


class Tally:
    """What the sink did with each event copy; safe to call from the sink's threads."""

    def __init__(self, on_ack: Callable[[list[Outgoing]], None] | None = None) -> None:
        """``on_ack`` receives each acknowledged group (under the tally's lock)."""
        self._lock = threading.Lock()
        self._on_ack = on_ack
        self.sent = self.acked = self.retried = self.failed = self.unsent = 0
        self.unacked: list[tuple[Outgoing, str]] = []  # failed or unsent copies, with why
        self.error: str | None = None  # the first fatal problem: the run stops on it
        self.write_error: str | None = None  # recording what was acknowledged failed
        self.ack_latency = Latencies()  # handed to the sink -> acknowledged, per copy
        self.request_latency = Latencies()  # one request (a POST, a write, a delivery report)
        self._sealed = False

    def request(self, seconds: float) -> None:
        """A request took ``seconds`` (answered or not)."""
        with self._lock:
            self.request_latency.add(seconds)

    def windows(self) -> tuple[dict[str, float | None], dict[str, float | None]]:
        """The last second's acknowledgement and request latencies (ms); new windows."""
        with self._lock:
            return self.ack_latency.next_window(), self.request_latency.next_window()

    def failures_by_reason(self) -> dict[str, int]:
        """Copies failed or never sent, counted by reason (most common first)."""
        with self._lock:
            return dict(Counter(reason for _, reason in self.unacked).most_common())

    def seal(self) -> None:
        """The run's outcome is settled: later reports (a late answer) change nothing."""
        with self._lock:
            self._sealed = True

    def was_sent(self, n: int) -> None:
        with self._lock:
            self.sent += n

    def ack(self, items: list[Outgoing]) -> None:
        with self._lock:
            if self._sealed:
                return
            self.acked += len(items)
            now = time.monotonic()
            for it in items:
                if it.handed:
                    self.ack_latency.add(now - it.handed)
            if self._on_ack is not None and self.write_error is None:
                try:
                    self._on_ack(items)
                except Exception as e:  # EFBIG, ENOSPC: the run ends on it, whatever the thread
                    why = e.strerror if isinstance(e, OSError) else str(e)
                    self._broken(f"cannot record what was acknowledged: {why or e}")

    def broken(self, what: str) -> None:
        """A file of the run could not be written: the run ends on it and keeps no file."""
        with self._lock:
            self._broken(what)

    def _broken(self, what: str) -> None:
        if self.write_error is None:
            self.write_error = what
        if self.error is None:
            self.error = what

    def retry(self, n: int) -> None:
        with self._lock:
            self.retried += n

    def give_up(self, why: str) -> None:
        """The sink cannot go on (every broker down): the run stops on it."""
        with self._lock:
            if self.error is None:
                self.error = why

    def drop(self, items: list[Outgoing], reason: str) -> None:
        """Copies handed to the sink that it never sent (the run stopped first)."""
        with self._lock:
            self.unsent += len(items)
            self.unacked.extend((it, reason) for it in items)

    def fail(self, items: list[Outgoing], reason: str, fatal: str | None = None) -> None:
        """Copies sent and not acknowledged (a refusal, a timeout, a stop while in flight)."""
        with self._lock:
            if self._sealed:
                return
            self.failed += len(items)
            self.unacked.extend((it, reason) for it in items)
            if fatal is not None and self.error is None:
                self.error = fatal


class LiveSink(Protocol):
    """A destination for a live run's events."""

    def send(self, items: list[Outgoing]) -> None:
        """Hand over events in arrival order (may block: backpressure)."""

    def poll(self) -> None:
        """Let the sink make progress (flush timers, delivery reports)."""

    def close(self, timeout_s: float) -> None:
        """Flush; copies not acknowledged within ``timeout_s`` are reported failed."""
