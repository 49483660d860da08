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
    ``click_lo[s]:click_lo[s+1]`` and visit i's events take network delays from
    ``delay_lo[i]`` on.
    """

    user: list[int]
    start: list[float]
    search_lo: list[int]
    think: list[float]
    query: list[int]
    zero: list[bool]
    service: list[float]
    p_any: list[float]
    click_lo: list[int]
    click_rank: list[int]
    dwell: list[float]
    close_think: list[float]
    silent: list[bool]
    delay_lo: list[int]
    delay: list[float]


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
    delay_lo = _offsets(2 + 2 * searches + clicks_per_visit)
    delay = scenario.network.delay.sample(rng, int(delay_lo[-1]))
    return VisitBatch(
        user=users.tolist(),
        start=starts.tolist(),
        search_lo=search_lo.tolist(),
        think=think.tolist(),
        query=query.tolist(),
        zero=zero.tolist(),
        service=service.tolist(),
        p_any=p_any.tolist(),
        click_lo=click_lo.tolist(),
        click_rank=click_rank.tolist(),
        dwell=dwell.tolist(),
        close_think=close_think.tolist(),
        silent=silent.tolist(),
        delay_lo=delay_lo.tolist(),
        delay=delay.tolist(),
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

    def visit(self, b: VisitBatch, i: int):
        """Play visit ``i`` of batch ``b``; started by the scheduler at its start time."""
        u = b.user[i]
        t = b.start[i]
        if self.free_at[u] + self.min_gap > t:
            self.dropped += 1  # the user is still in (or just left) the app
            return
        seq = self.visits[u]
        self.visits[u] = seq + 1
        self.free_at[u] = np.inf
        self.active += 1
        env, emit, backend = self.env, self.delivery.emit, self.backend
        delay, d = b.delay, b.delay_lo[i]
        patience = self.patience[u]
        start = last = t
        emit(t + delay[d], t, APP_OPEN, u, seq, 0, 0, 0, 0)
        n = 1
        searches = []
        for s in range(b.search_lo[i], b.search_lo[i + 1]):
            t += b.think[s]
            yield env.timeout(t - env.now)
            q = b.query[s]
            sn = n
            emit(t + delay[d + n], t, SEARCH, u, seq, n, q, sn, 0)
            n += 1
            search_ts = last = t
            done = backend.submit(t, b.service[s], patience)
            if done is None:  # gave up waiting: no results, no click
                searches.append((sn, search_ts, q, None, 0, None))
                t += patience
                continue
            t = last = done
            zero = b.zero[s]
            emit(t + delay[d + n], t, RESULTS, u, seq, n, -1 if zero else q, sn, 0)
            n += 1
            c0, c1 = b.click_lo[s], b.click_lo[s + 1]
            for c in range(c0, c1):
                t += b.dwell[c]
                emit(t + delay[d + n], t, CLICK, u, seq, n, q, sn, b.click_rank[c])
                n += 1
            last = t
            searches.append((sn, search_ts, q, 0 if zero else self.page, c1 - c0, b.p_any[s]))
        t += b.close_think[i]
        if not b.silent[i]:
            emit(t + delay[d + n], t, APP_CLOSE, u, seq, n, 0, 0, 0)
            n += 1
            last = t
        self.free_at[u] = t
        self.active -= 1
        self.ledger.visit(u, seq, n, start, last, searches)
