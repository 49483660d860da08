"""The user actors: each visit's randomness drawn in batches, then played out in SimPy.

A visit yields to SimPy once per search (the only moment it touches shared state, the
backend). Everything between two searches (results, clicks with their scan and dwell times)
is emitted at once with its own timestamps; the delivery stage restores arrival order.
A finished visit may bring the user back soon (a follow-up visit, ``return_prob``), which
is what gives gap-based sessionization real merge cases.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np

from simulator.events import APP_CLOSE, APP_OPEN, CLICK, RESULTS, SEARCH
from simulator.plan import MIN_STEP_S, VisitBatch
from simulator.streams import GROUP
from simulator.visit import Happening, PlayedSearch, Visit

if TYPE_CHECKING:
    import simpy

    from simulator.backend import SearchBackend
    from simulator.delivery import Delivery
    from simulator.population import Population
    from simulator.truth import Ledger

__all__ = ["Actors"]


class Actors:
    """The users' shared state and the SimPy processes that play their visits."""

    def __init__(
        self,
        env: simpy.Environment,
        backends: list[SearchBackend],
        delivery: Delivery,
        ledger: Ledger,
        population: Population,
        min_visit_gap_s: float,
        end_s: float,
    ) -> None:
        self.env = env
        self.backends = backends
        self.delivery = delivery
        self.ledger = ledger
        self.patience = population.patience_s.tolist()
        self.min_gap = max(min_visit_gap_s, MIN_STEP_S)
        self.end_s = end_s
        self.free_at = [-np.inf] * population.size  # when each user's last visit ended
        self.visits = [0] * population.size
        self.active = 0  # visits being played
        self.waiting = 0  # follow-up visits scheduled but not started
        self.dropped = 0
        self.closed = False  # the run was stopped: no further visit starts

    @property
    def busy(self) -> bool:
        """True while a visit is being played or a follow-up visit is due."""
        return bool(self.active or self.waiting)

    def start(self, b: VisitBatch, i: int, t: float) -> Generator | None:
        """Begin visit row ``i`` of ``b`` at ``t``.

        Return the SimPy process body that plays its searches, or None when there is none
        to play (the arrival was dropped, or the visit has no search and ends at once).
        """
        u = b.user[i]
        if self.closed:
            return None
        if self.free_at[u] + self.min_gap > t:
            self.dropped += 1  # the user is still in (or just left) the app
            return None
        seq = self.visits[u]
        self.visits[u] = seq + 1
        lo = b.event_lo[i]
        route, released = self.delivery.open_visit(
            b.delivery, i, lo, b.event_lo[i + 1] - lo, u, seq, t
        )
        if released is not None:  # a killed app's cached tail went out at this launch
            self.ledger.visit(released)
        events: list[Happening] = [(t, APP_OPEN, 0, 0, 0, 0)]
        if b.search_lo[i] == b.search_lo[i + 1]:
            self._finish(b, i, u, seq, route, events, 0, t, t, [])
            return None
        self.free_at[u] = np.inf
        self.active += 1
        return self._searches(b, i, u, seq, route, events)

    def _searches(self, b: VisitBatch, i: int, u: int, seq: int, route, events: list):
        """Play the visit's searches: one yield to SimPy each, to meet the backend in order."""
        env, send = self.env, self.delivery.send
        backend = self.backends[u // GROUP % len(self.backends)]  # a sticky load balancer
        patience = self.patience[u]
        t = start = last = events[0][0]
        sent = 0
        searches: list[PlayedSearch] = []
        clicked_before = False
        gaps, rank, pages = b.click_gap, b.click_rank, b.pages
        for after_click, after_none, q, service, p_any, c0, c1, s in b.searches[
            b.search_lo[i] : b.search_lo[i + 1]
        ]:
            t += after_click if clicked_before else after_none
            send(route, events, sent, t)
            sent = len(events)
            yield env.timeout(t - env.now)
            sn = len(events)
            events.append((t, SEARCH, sn, q, sn, 0))
            search_ts = last = t
            done = backend.submit(t, service, patience)
            if done is None:  # gave up waiting: no results, no click
                searches.append((sn, search_ts, q, None, 0, None, s))
                t += patience
                clicked_before = False
                continue
            t = last = max(done, t + MIN_STEP_S)
            shown = pages[s]
            events.append((t, RESULTS, sn + 1, shown, sn, 0))
            for c in range(c0, c1):
                t += gaps[c]
                events.append((t, CLICK, len(events), shown[rank[c]], sn, rank[c]))
            last = t
            clicked_before = c1 > c0
            searches.append((sn, search_ts, q, len(shown), c1 - c0, p_any, s))
        self.active -= 1
        self._finish(b, i, u, seq, route, events, sent, start, t, searches, last)

    def _finish(self, b, i, u, seq, route, events, sent, start, t, searches, last=None) -> None:
        """Close the visit after its last action at ``t``; hand everything over."""
        last = t if last is None else last
        t += b.close_after[i]
        if not b.silent[i]:
            events.append((t, APP_CLOSE, len(events), 0, 0, 0))
            last = t
        visit = Visit(u, seq, events, route, start, last, searches, b)
        if self.delivery.close_visit(route, events, sent, t, b.delivery.tail_held[i], visit):
            self.ledger.visit(visit)
        self.free_at[u] = t
        j = b.follow[i]
        if j >= 0 and t + b.return_gap[i] < self.end_s and not self.closed:
            self.waiting += 1
            self.env.process(self._return(b, j, t + b.return_gap[i]))

    def _return(self, b: VisitBatch, j: int, at: float):
        """Bring the user back for follow-up visit ``j`` at ``at``."""
        yield self.env.timeout(at - self.env.now)
        self.waiting -= 1
        body = self.start(b, j, at)
        if body is not None:
            yield from body
