"""The shared search backend: ``servers`` FCFS servers, with impatient users.

A request submitted at sim time ``now`` starts on the first server to come free. Under FCFS
a request's start time depends only on the requests submitted before it, so the queue is
resolved when the request arrives: a heap of the times each server comes free. A user whose
wait would exceed their patience abandons and never occupies a server. This gives the same
starts as a SimPy ``Resource`` with ``request() | timeout(patience)`` (a test checks it) at
one heap operation per search instead of two extra process switches.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = ["LatencyHistogram", "SearchBackend"]


class LatencyHistogram:
    """Log-binned histogram of latencies (0.1 ms .. 1 day, ~1% bins): fixed memory."""

    EDGES = np.geomspace(1e-4, 86400.0, 2048)

    def __init__(self) -> None:
        self.counts = np.zeros(len(self.EDGES) + 1, dtype=np.int64)
        self._pending: list[float] = []

    @classmethod
    def of(cls, counts: np.ndarray) -> LatencyHistogram:
        """Return a histogram with these bin counts (several histograms' counts added)."""
        h = cls()
        h.counts = np.asarray(counts, dtype=np.int64).copy()
        return h

    def add(self, value: float) -> None:
        self._pending.append(value)
        if len(self._pending) >= 65536:
            self._flush()

    def flush(self) -> None:
        """Bin the values added since the last flush."""
        self._flush()

    def _flush(self) -> None:
        if self._pending:
            idx = np.searchsorted(self.EDGES, self._pending)
            self.counts += np.bincount(idx, minlength=len(self.counts))
            self._pending.clear()

    def quantile(self, q: float) -> float | None:
        """Return the upper edge of the bin holding quantile ``q`` (None when empty)."""
        self._flush()
        total = int(self.counts.sum())
        if total == 0:
            return None
        i = int(np.searchsorted(np.cumsum(self.counts), q * total))
        return float(self.EDGES[min(i, len(self.EDGES) - 1)])


class SearchBackend:
    """FCFS multi-server queue with reneging, resolved at arrival."""

    def __init__(self, servers: int, latency: LatencyHistogram | None = None) -> None:
        self._free_at = [0.0] * servers
        self.served = 0
        self.abandoned = 0
        self.latency = latency if latency is not None else LatencyHistogram()

    def submit(self, now: float, service_s: float, patience_s: float) -> float | None:
        """Queue a request at ``now``; return the time its results are ready, or None."""
        free = self._free_at[0]
        start = free if free > now else now
        if start - now > patience_s:
            self.abandoned += 1
            return None
        done = start + service_s
        heapq.heapreplace(self._free_at, done)
        self.served += 1
        self.latency.add(done - now)
        return done
