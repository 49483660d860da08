"""Delivery from clients to the collector: delay, loss, duplicates, offline batches, skew.

Visits hand their events over in batches (up to the next time they yield to SimPy), with
true times. Each event gets its fate here: lost, or stamped with its device clock and
delivered once or more. Arrivals wait in a heap keyed by arrival time and are released
once sim time passes them: no later emission can arrive earlier than the current sim time,
so released events are final and memory holds only events in flight (an offline device's
buffered events are in flight until it reconnects).
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.behavior import VisitBatch
    from simulator.population import Population
    from simulator.scenario import Scenario

__all__ = ["Delivery", "VisitDelivery"]

MAX_COPIES = 10


class VisitDelivery:
    """What delivery needs to know about one visit, and the fate of each of its events.

    ``fate(n, t)`` is ``(stamped_ts, first_received or None, deliveries, offline)``; under
    perfect delivery (``faultless``) it is derived, not stored.
    """

    __slots__ = (
        "user",
        "visit",
        "batch",
        "base",
        "offset",
        "drift",
        "off_start",
        "off_end",
        "held_after",
        "held_until",
        "fates",
        "faultless",
    )

    def __init__(
        self, user, visit, batch, base, offset, drift, off_start, off_end, faultless
    ) -> None:
        self.user = user
        self.visit = visit
        self.batch = batch
        self.base = base  # index of the visit's first event in the batch's per-event draws
        self.offset = offset
        self.drift = drift
        self.off_start = off_start
        self.off_end = off_end
        self.held_after = 1 << 30  # events numbered above this wait on the device
        self.held_until = -math.inf
        self.fates: list[tuple] = []
        self.faultless = faultless

    def fate(self, n: int, t: float) -> tuple:
        """Return what happened to the visit's event ``n`` (true time ``t``)."""
        if self.faultless:
            return (t, t + self.batch.delay[self.base + n], 1, False)
        return self.fates[n]

    def hold(self, after_n: int, until: float) -> None:
        """Keep the events numbered above ``after_n`` on the device until ``until``."""
        self.held_after = after_n
        self.held_until = until


class Delivery:
    """The delivery layer and its reorder buffer (a heap keyed by arrival time)."""

    def __init__(self, scenario: Scenario, population: Population) -> None:
        d = scenario.delivery
        self.perfect = d.perfect
        self.loss = d.loss.model_dump()
        self.dup_p = d.duplicates.prob.model_dump()
        self.log_dup_p = {k: math.log(p) if p > 0 else 0.0 for k, p in self.dup_p.items()}
        self.offline = d.offline.rate_per_day > 0
        self.offset = population.clock_offset_s.tolist()
        self.drift = population.clock_drift.tolist()
        # The current or next offline episode of each user (device), as [start, end).
        self.off_start = [math.inf] * population.size if self.offline else None
        self.off_end = [-math.inf] * population.size if self.offline else None
        self._heap: list[tuple] = []
        self._order = itertools.count()

    def open_visit(self, b: VisitBatch, i: int, user: int, visit: int, t0: float) -> VisitDelivery:
        """Start delivering visit ``i`` of ``b``; draw the device's next outage if it is due."""
        start = end = math.inf
        if self.offline:
            if self.off_end[user] <= t0:
                self.off_start[user] = t0 + b.offline_gap[i]
                self.off_end[user] = self.off_start[user] + b.offline_len[i]
            start, end = self.off_start[user], self.off_end[user]
        return VisitDelivery(
            user,
            visit,
            b,
            b.event_lo[i],
            self.offset[user],
            self.drift[user],
            start,
            end,
            self.perfect,
        )

    def send(self, v: VisitDelivery, events: list[tuple], lo: int) -> None:
        """Decide the fate of ``events[lo:]`` (``(t, kind, n, query, search_n, rank)``)."""
        heap, push, order, fates = self._heap, heapq.heappush, self._order, v.fates
        b, base, u, visit = v.batch, v.base, v.user, v.visit
        delay = b.delay
        if self.perfect:
            for k in range(lo, len(events)):
                t, kind, n, q, sn, rank = events[k]
                push(heap, (t + delay[base + n], next(order), t, kind, u, visit, n, q, sn, rank, 0))
            return
        loss, dup_p = self.loss, self.dup_p
        for k in range(lo, len(events)):
            t, kind, n, q, sn, rank = events[k]
            j = base + n
            stamped = t + v.offset + v.drift * t
            if b.loss_u[j] < loss[kind]:
                fates.append((stamped, None, 0, False))
                continue
            if n > v.held_after:
                offline, sent_at = True, v.held_until
            elif v.off_start <= t < v.off_end:
                offline, sent_at = True, v.off_end
            else:
                offline, sent_at = False, t
            r = sent_at + delay[j]
            push(heap, (r, next(order), stamped, kind, u, visit, n, q, sn, rank, 0))
            copies = 0
            if b.dup_u[j] < dup_p[kind]:
                copies = min(MAX_COPIES, int(math.log(b.dup_u[j]) / self.log_dup_p[kind]))
                for c in range(1, copies + 1):
                    received = r + c * b.dup_delay[j]
                    push(heap, (received, next(order), stamped, kind, u, visit, n, q, sn, rank, c))
            fates.append((stamped, r, 1 + copies, offline))

    def release(self, until_s: float) -> list[tuple]:
        """Return, in arrival order, every event that has arrived by ``until_s``."""
        heap, out = self._heap, []
        pop = heapq.heappop
        while heap and heap[0][0] <= until_s:
            out.append(pop(heap))
        return out
