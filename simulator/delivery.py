"""Delivery from devices to the collector, the way analytics SDKs send.

Each device queues its events and flushes the queue as one batch (one request) when it holds
``flush_at`` events, when the SDK's periodic timer fires (every ``flush_interval`` since the
app launched), and when the app closes or goes to the background; a request holds at most
``max_batch`` events. A request takes one network delay, and a device has one request in
flight (``parallel_requests`` > 1 allows more, so batches overtake each other): without
faults, a device's events reach the collector in the order they happened.

Faults are named: loss per event type, duplicate deliveries of an event (a beacon fired
twice) or of a whole batch (a retry after a lost acknowledgement, which may land after
newer batches), outages (batches wait on the device until the connection returns), killed
apps (the unflushed queue goes out at the user's next launch), and clock skew.

Visits hand their events over with true times, up to a horizon before which nothing else
can happen (their next search). Arrivals wait in a heap keyed by arrival time, then by
(user, visit, event, copy) (so the order does not depend on how users are sharded), and
are released once sim time passes them, so memory holds only events in flight.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.visit import Fate, Happening, Visit

if TYPE_CHECKING:
    from simulator.population import Population
    from simulator.scenario import Delivery as DeliverySettings
    from simulator.scenario import Scenario

__all__ = ["Delivery", "DeliveryDraws", "VisitDelivery", "draw_delivery"]

MAX_COPIES = 10

# What the collector's reorder buffer holds: (received, order key, stamped ts, type, user,
# visit, n, payload, search n, rank, copy). ``release`` hands these out in arrival order.
Arrival = tuple[float, int, float, str, int, int, int, object, int, int, int]


@dataclass(slots=True)
class DeliveryDraws:
    """Delivery's randomness for a batch of visits: per event (indexed ``event_lo[i] + n``)
    the network delay and the uniforms that decide loss, duplicates and retries; per visit row
    the next outage and whether a killed app keeps its unflushed tail."""

    delay: list[float]
    loss_u: list[float]
    dup_u: list[float]
    dup_delay: list[float]
    retry_u: list[float]
    offline_gap: list[float]
    offline_len: list[float]
    tail_held: list[bool]


def draw_delivery(
    rng: np.random.Generator, d: DeliverySettings, events: int, n: int
) -> DeliveryDraws:
    """Draw delivery's randomness for ``events`` events of ``n`` visit rows (a faultless
    scenario draws only the delays)."""
    delay = d.delay.sample(rng, events)
    faults = not d.perfect
    loss_u = rng.random(events) if faults else np.zeros(0)
    dup_u = rng.random(events) if faults else np.zeros(0)
    dup_delay = d.duplicates.delay.sample(rng, events) if faults else np.zeros(0)
    retry_u = rng.random(events) if faults else np.zeros(0)
    rate, tail = d.offline.rate_per_day, d.offline.unflushed_tail_prob
    offline_gap = rng.exponential(86400.0 / rate, n) if rate > 0 else np.zeros(0)
    offline_len = d.offline.duration.sample(rng, n) if rate > 0 else np.zeros(0)
    tail_held = rng.random(n) < tail if tail > 0 else np.zeros(n, dtype=bool)
    return DeliveryDraws(
        delay=delay.tolist(),
        loss_u=loss_u.tolist(),
        dup_u=dup_u.tolist(),
        dup_delay=dup_delay.tolist(),
        retry_u=retry_u.tolist(),
        offline_gap=offline_gap.tolist(),
        offline_len=offline_len.tolist(),
        tail_held=tail_held.tolist(),
    )


class VisitDelivery:
    """One visit's SDK queue and the fate of each of its events.

    ``fate(n)`` is a ``Fate``: ``batch`` numbers the device's batches, ``request`` its
    requests (a retried batch is sent by a second request).
    """

    __slots__ = (
        "user",
        "visit",
        "draws",
        "base",
        "offset",
        "drift",
        "fates",
        "queue",
        "tick",
        "open_s",
        "policy",
        "faultless",
    )

    def __init__(
        self,
        user: int,
        visit: int,
        draws: DeliveryDraws,
        base: int,
        events: int,
        offset: float,
        drift: float,
        open_s: float,
        policy: tuple[int, float, int],
        faultless: bool,
    ) -> None:
        self.user = user
        self.visit = visit
        self.draws = draws
        self.base = base  # index of the visit's first event in the per-event draws
        self.offset = offset
        self.drift = drift
        self.fates: list[Fate] = [None] * events  # type: ignore[list-item]  # all set by the end
        self.queue: list[Happening] = []
        self.tick = math.inf  # when the SDK timer flushes the current queue
        self.open_s = open_s
        self.policy = policy  # (flush_at, flush_interval_s, max_batch)
        self.faultless = faultless

    def fate(self, n: int) -> Fate:
        """Return what happened to the visit's event ``n``."""
        return self.fates[n]


class Delivery:
    """The devices' SDK queues, their upload channels and the collector's reorder buffer."""

    def __init__(self, scenario: Scenario, population: Population) -> None:
        d = scenario.delivery
        self.perfect = d.perfect
        self.skew = bool(d.clock_skew.offset_sd or d.clock_skew.drift_ppm_sd)
        self.loss = d.loss.model_dump()
        self.dup_p = d.duplicates.prob.model_dump()
        self.log_dup_p = {k: math.log(p) if p > 0 else 0.0 for k, p in self.dup_p.items()}
        self.retry_p = d.duplicates.batch_retry_prob
        self.offline = d.offline.rate_per_day > 0
        self.offset = population.clock_offset_s.tolist()
        self.drift = population.clock_drift.tolist()
        policies: dict[str, tuple[int, float, int]] = {
            name: (p.flush_at, p.flush_interval, p.max_batch) for name, p in d.sdk.items()
        }
        platform_of = [policies[platform] for platform, _ in population.devices]
        self.policy = [platform_of[k] for k in population.device.tolist()]
        self.lanes = d.parallel_requests
        # Arrival of each device's last request (one lane), or of each lane's last request.
        self.free = [-math.inf] * population.size
        self.lane_free: dict[int, list[float]] = {}
        self.batches = [0] * population.size
        self.requests = [0] * population.size
        # The current or next offline episode of each user (device), as [start, end).
        self.off_start = [math.inf] * population.size if self.offline else []
        self.off_end = [-math.inf] * population.size if self.offline else []
        self.held: dict[int, tuple[VisitDelivery, Visit]] = {}  # killed apps' queues
        self._heap: list[Arrival] = []

    def open_visit(
        self, draws: DeliveryDraws, i: int, base: int, events: int, user: int, visit: int, t0: float
    ) -> tuple[VisitDelivery, Visit | None]:
        """Start delivering visit row ``i`` of ``draws`` (its ``events`` events take the
        per-event draws from ``base``) at launch time ``t0``.

        Draw the device's next outage if it is due, and send a cached queue left by a
        killed app; return the new visit's delivery and the visit whose cache went out.
        """
        if self.offline and self.off_end[user] <= t0:
            self.off_start[user] = t0 + draws.offline_gap[i]
            self.off_end[user] = self.off_start[user] + draws.offline_len[i]
        released = None
        cached = self.held.pop(user, None)
        if cached is not None:
            route, released = cached
            self._flush(route, t0, offline=True)
        route = VisitDelivery(
            user,
            visit,
            draws,
            base,
            events,
            self.offset[user],
            self.drift[user],
            t0,
            self.policy[user],
            self.perfect,
        )
        return route, released

    def send(self, v: VisitDelivery, events: list[Happening], lo: int, horizon: float) -> None:
        """Queue ``events[lo:]``, flushing as the
        SDK would; nothing else of the visit happens before ``horizon``."""
        queue = v.queue
        flush_at, interval, _ = v.policy
        lossy = not self.perfect
        for k in range(lo, len(events)):
            ev = events[k]
            t = ev[0]
            if queue and v.tick <= t:
                self._flush(v, v.tick)
            if lossy and v.draws.loss_u[v.base + ev[2]] < self.loss[ev[1]]:
                v.fates[ev[2]] = (self._stamp(v, t), None, 0, False, None, None)
                continue
            if not queue:
                v.tick = v.open_s + interval * (math.floor((t - v.open_s) / interval) + 1)
            queue.append(ev)
            if len(queue) >= flush_at:
                self._flush(v, t)
        if queue and v.tick < horizon:
            self._flush(v, v.tick)

    def close_visit(
        self,
        v: VisitDelivery,
        events: list[Happening],
        lo: int,
        t: float,
        killed: bool,
        visit: Visit,
    ) -> bool:
        """Queue the visit's last events and flush as the app closes at ``t``.

        A killed app keeps its queue for the next launch: return False (the visit's
        delivery is not known yet; ``open_visit`` or ``unsent`` hands the visit back).
        """
        self.send(v, events, lo, t)
        if v.queue and v.tick <= t:
            self._flush(v, v.tick)
        if v.queue:
            if killed:
                self.held[v.user] = (v, visit)
                return False
            self._flush(v, t)
        return True

    def unsent(self) -> list[Visit]:
        """End the run: queues still cached by killed apps are never delivered."""
        visits = []
        for user in sorted(self.held):
            v, visit = self.held[user]
            for ev in v.queue:
                v.fates[ev[2]] = (self._stamp(v, ev[0]), None, 0, True, None, None)
            v.queue.clear()
            visits.append(visit)
        self.held.clear()
        return visits

    def _stamp(self, v: VisitDelivery, t: float) -> float:
        return t + v.offset + v.drift * t if self.skew else t

    def _flush(self, v: VisitDelivery, at: float, offline: bool = False) -> None:
        """Send the queue at ``at``: one request per ``max_batch`` events."""
        queue = v.queue[:]
        v.queue.clear()  # the same list: callers hold it
        v.tick = math.inf
        size = v.policy[2]
        for lo in range(0, len(queue), size):
            self._request(v, queue[lo : lo + size], at, offline)

    def _request(self, v: VisitDelivery, batch: list[Happening], at: float, offline: bool) -> None:
        u, b, base = v.user, v.draws, v.base
        if self.lanes == 1:
            start = max(at, self.free[u])
        else:
            lanes = self.lane_free.setdefault(u, [-math.inf] * self.lanes)
            lane = lanes.index(min(lanes))
            start = max(at, lanes[lane])
        if self.offline:
            if self.off_start[u] <= start < self.off_end[u]:
                start, offline = self.off_end[u], True
            elif self.off_start[u] <= at < self.off_end[u]:
                offline = True  # flushed in the outage: it waited behind the backlog
        j = base + batch[0][2]  # the batch takes its first event's draws
        received = start + b.delay[j]
        if self.lanes == 1:
            self.free[u] = received
        else:
            lanes[lane] = received
        self.batches[u] += 1
        self.requests[u] += 1
        batch_no, request = self.batches[u], self.requests[u]
        heap, push, fates = self._heap, heapq.heappush, v.fates
        visit = v.visit
        base_key = (u << 40) | (visit << 20)  # orders equal arrival times, shard-independent
        if self.perfect:
            for t, kind, n, payload, sn, rank in batch:
                key = base_key | n << 5
                push(heap, (received, key, t, kind, u, visit, n, payload, sn, rank, 0))
                fates[n] = (t, received, 1, offline, batch_no, request)
            return
        retry = b.retry_u[j] < self.retry_p
        if retry:
            self.requests[u] += 1
            again = received + b.dup_delay[j]
        dup_p = self.dup_p
        for t, kind, n, payload, sn, rank in batch:
            stamped = self._stamp(v, t)
            key = base_key | n << 5
            push(heap, (received, key, stamped, kind, u, visit, n, payload, sn, rank, 0))
            copies = 0
            k = base + n
            if b.dup_u[k] < dup_p[kind]:
                copies = min(MAX_COPIES, int(math.log(b.dup_u[k]) / self.log_dup_p[kind]))
                for c in range(1, copies + 1):
                    r = received + c * b.dup_delay[k]
                    push(heap, (r, key | c, stamped, kind, u, visit, n, payload, sn, rank, c))
            if retry:
                copies += 1
                push(
                    heap,
                    (again, key | copies, stamped, kind, u, visit, n, payload, sn, rank, copies),
                )
            fates[n] = (stamped, received, 1 + copies, offline, batch_no, request)

    def release(self, until_s: float) -> list[Arrival]:
        """Return, in arrival order, every event that has arrived by ``until_s``."""
        heap, out = self._heap, []
        pop = heapq.heappop
        while heap and heap[0][0] <= until_s:
            out.append(pop(heap))
        return out
