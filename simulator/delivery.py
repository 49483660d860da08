"""Delivery from clients to the collector: events leave in arrival (``received_at``) order.

Visits emit events ahead of sim time (a batch of clicks at once), so arrivals are held in a
heap and released once sim time passes them. No future emission can arrive earlier than
the current sim time, so what is released is final: memory holds only events in flight.
"""

from __future__ import annotations

import heapq
import itertools

__all__ = ["Delivery"]


class Delivery:
    """A reorder buffer keyed by arrival time (ties broken by emission order)."""

    def __init__(self) -> None:
        self._heap: list[tuple] = []
        self._order = itertools.count()

    def emit(self, received_s, ts_s, kind, user, visit, n, query, search_n, rank) -> None:
        """Hand one event to the network."""
        heapq.heappush(
            self._heap,
            (received_s, next(self._order), ts_s, kind, user, visit, n, query, search_n, rank),
        )

    def release(self, until_s: float) -> list[tuple]:
        """Return, in arrival order, every event that has arrived by ``until_s``."""
        heap, out = self._heap, []
        pop = heapq.heappop
        while heap and heap[0][0] <= until_s:
            out.append(pop(heap))
        return out

    def in_flight(self) -> int:
        return len(self._heap)
