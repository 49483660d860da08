"""The user actors: each visit's randomness drawn in batches, then played out in SimPy.

A visit yields to SimPy once per search (the only moment it touches shared state, the
backend). Everything between two searches (results, clicks with their dwell times) is
emitted at once with its own timestamps; the delivery stage restores arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.events import APP_CLOSE, APP_OPEN, CLICK, RESULTS, SEARCH
from simulator.truth import Visit

if TYPE_CHECKING:
    import simpy

    from simulator.backend import SearchBackend
    from simulator.clickmodels import ClickModel
    from simulator.delivery import Delivery
    from simulator.population import Population
    from simulator.scenario import Scenario
    from simulator.truth import Ledger
    from simulator.vocabulary import Vocabulary

__all__ = ["Actors", "VisitBatch", "plan_visits"]


@dataclass(slots=True)
class VisitBatch:
    """Pre-drawn randomness of a batch of visits, flattened into Python lists.

    Visit i owns searches ``search_lo[i]:search_lo[i+1]``, search s owns clicks
    ``click_lo[s]:click_lo[s+1]`` and visit i's n-th event takes its delivery draws
    (delay, loss, duplicates) at ``event_lo[i] + n``.
    """

    user: list[int]
    start: list[float]
    search_lo: list[int]
    searches: list[tuple]  # (think, query, zero, service, p_any, first click, end of clicks)
    click_rank: list[int]
    dwell: list[float]
    close_think: list[float]
    silent: list[bool]
    offline_gap: list[float]
    offline_len: list[float]
    tail_held: list[bool]
    event_lo: list[int]
    delay: list[float]
    loss_u: list[float]
    dup_u: list[float]
    dup_delay: list[float]


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts)))


def _pauses(rng: np.random.Generator, scenario: Scenario, dist, n: int) -> np.ndarray:
    """Draw ``n`` pauses from ``dist``, a fraction ``long_pause_prob`` from ``long_pause``."""
    v = scenario.visit
    pauses = dist.sample(rng, n)
    long = np.flatnonzero(rng.random(n) < v.long_pause_prob)
    pauses[long] = v.long_pause.sample(rng, len(long))
    return pauses


def plan_visits(
    rng: np.random.Generator,
    scenario: Scenario,
    users: np.ndarray,
    starts: np.ndarray,
    population: Population,
    vocabulary: Vocabulary,
    model: ClickModel,
) -> VisitBatch:
    """Draw everything random about these visits, in a handful of vectorized calls."""
    v = scenario.visit
    n = len(users)
    searches = np.minimum(rng.geometric(1.0 / (1.0 + v.searches_mean), n) - 1, v.max_searches)
    search_lo = _offsets(searches)
    total = int(search_lo[-1])
    think = _pauses(rng, scenario, v.think_time, total)
    query = vocabulary.sample(rng, total)
    zero = rng.random(total) < scenario.queries.zero_result_rate
    service = scenario.backend.service_time.sample(rng, total)

    alpha = vocabulary.attractiveness[query]
    alpha *= population.click_propensity[np.repeat(users, searches)][:, None]
    np.clip(alpha, 0.0, 1.0, out=alpha)
    clicked = model.clicks(alpha, rng.random(alpha.shape))
    clicked[zero] = False
    p_any = model.p_any(alpha)
    p_any[zero] = 0.0
    click_lo = _offsets(clicked.sum(axis=1))
    click_rank = np.nonzero(clicked)[1]
    dwell = _pauses(rng, scenario, v.dwell_time, len(click_rank))

    close_think = _pauses(rng, scenario, v.think_time, n)
    silent = rng.random(n) < v.silent_close_prob
    clicks_per_visit = np.diff(click_lo[search_lo])
    event_lo = _offsets(2 + 2 * searches + clicks_per_visit)
    events = int(event_lo[-1])
    d = scenario.delivery
    delay = d.delay.sample(rng, events)
    faults = not d.perfect
    loss_u = rng.random(events) if faults else np.zeros(0)
    dup_u = rng.random(events) if faults else np.zeros(0)
    dup_delay = d.duplicates.delay.sample(rng, events) if faults else np.zeros(0)
    rate, tail = d.offline.rate_per_day, d.offline.unflushed_tail_prob
    offline_gap = rng.exponential(86400.0 / rate, n) if rate > 0 else np.zeros(0)
    offline_len = d.offline.duration.sample(rng, n) if rate or tail else np.zeros(0)
    tail_held = rng.random(n) < tail if tail > 0 else np.zeros(n, dtype=bool)
    return VisitBatch(
        user=users.tolist(),
        start=starts.tolist(),
        search_lo=search_lo.tolist(),
        searches=list(
            zip(
                think.tolist(),
                query.tolist(),
                zero.tolist(),
                service.tolist(),
                p_any.tolist(),
                click_lo[:-1].tolist(),
                click_lo[1:].tolist(),
            )
        ),
        click_rank=click_rank.tolist(),
        dwell=dwell.tolist(),
        close_think=close_think.tolist(),
        silent=silent.tolist(),
        offline_gap=offline_gap.tolist(),
        offline_len=offline_len.tolist(),
        tail_held=tail_held.tolist(),
        event_lo=event_lo.tolist(),
        delay=delay.tolist(),
        loss_u=loss_u.tolist(),
        dup_u=dup_u.tolist(),
        dup_delay=dup_delay.tolist(),
    )


class Actors:
    """The users' shared state and the SimPy process that plays one visit."""

    def __init__(
        self,
        env: simpy.Environment,
        backend: SearchBackend,
        delivery: Delivery,
        ledger: Ledger,
        population: Population,
        min_visit_gap_s: float,
        results_per_page: int,
    ) -> None:
        self.env = env
        self.backend = backend
        self.delivery = delivery
        self.ledger = ledger
        self.patience = population.patience_s.tolist()
        self.min_gap = min_visit_gap_s
        self.page = results_per_page
        self.free_at = [-np.inf] * population.size  # when each user's last visit ended
        self.visits = [0] * population.size
        self.active = 0
        self.dropped = 0

    def start(self, b: VisitBatch, i: int):
        """Begin visit ``i`` of ``b`` at its start time.

        Return the SimPy process body that plays its searches, or None when there is none
        to play (the arrival was dropped, or the visit has no search and ends at once).
        """
        u = b.user[i]
        t = b.start[i]
        if self.free_at[u] + self.min_gap > t:
            self.dropped += 1  # the user is still in (or just left) the app
            return None
        seq = self.visits[u]
        self.visits[u] = seq + 1
        route = self.delivery.open_visit(b, i, u, seq, t)
        events = [(t, APP_OPEN, 0, 0, 0, 0)]  # (true t, type, n, query, search n, rank)
        if b.search_lo[i] == b.search_lo[i + 1]:
            self._finish(b, i, u, seq, route, events, 0, t, t, [])
            return None
        self.free_at[u] = np.inf
        self.active += 1
        return self._searches(b, i, u, seq, route, events)

    def _searches(self, b: VisitBatch, i: int, u: int, seq: int, route, events: list):
        """Play the visit's searches: one yield to SimPy each, to meet the backend in order."""
        env, backend, send = self.env, self.backend, self.delivery.send
        patience = self.patience[u]
        t = start = last = events[0][0]
        sent = 0
        searches = []
        dwell, rank = b.dwell, b.click_rank
        for think, q, zero, service, p_any, c0, c1 in b.searches[
            b.search_lo[i] : b.search_lo[i + 1]
        ]:
            t += think
            send(route, events, sent)
            sent = len(events)
            yield env.timeout(t - env.now)
            sn = len(events)
            events.append((t, SEARCH, sn, q, sn, 0))
            search_ts = last = t
            done = backend.submit(t, service, patience)
            if done is None:  # gave up waiting: no results, no click
                searches.append((sn, search_ts, q, None, 0, None))
                t += patience
                continue
            t = last = done
            events.append((t, RESULTS, sn + 1, -1 if zero else q, sn, 0))
            for c in range(c0, c1):
                t += dwell[c]
                events.append((t, CLICK, len(events), q, sn, rank[c]))
            last = t
            searches.append((sn, search_ts, q, 0 if zero else self.page, c1 - c0, p_any))
        self.active -= 1
        self._finish(b, i, u, seq, route, events, sent, start, t, searches, last)

    def _finish(self, b, i, u, seq, route, events, sent, start, t, searches, last=None) -> None:
        """Close the visit after its last action at ``t``; hand everything over."""
        last = t if last is None else last
        t += b.close_think[i]
        if not b.silent[i]:
            events.append((t, APP_CLOSE, len(events), 0, 0, 0))
            last = t
        if b.tail_held[i] and searches:  # killed before the SDK flushed
            route.hold(searches[-1][0], t + b.offline_len[i])
        self.delivery.send(route, events, sent)
        self.free_at[u] = t
        self.ledger.visit(Visit(u, seq, events, route, start, last, searches))
