"""The user actors: each visit's randomness drawn in batches, then played out in SimPy.

A visit yields to SimPy once per search (the only moment it touches shared state, the
backend). Everything between two searches (results, clicks with their scan and dwell times)
is emitted at once with its own timestamps; the delivery stage restores arrival order.
A finished visit may bring the user back soon (a follow-up visit, ``return_prob``), which
is what gives gap-based sessionization real merge cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.clickmodels import ClickModel
from simulator.events import APP_CLOSE, APP_OPEN, CLICK, RESULTS, SEARCH
from simulator.streams import COHORT
from simulator.truth import Visit

if TYPE_CHECKING:
    import simpy

    from simulator.backend import SearchBackend
    from simulator.delivery import Delivery
    from simulator.population import Population
    from simulator.scenario import Scenario
    from simulator.truth import Ledger
    from simulator.vocabulary import Vocabulary

__all__ = ["MIN_STEP_S", "Actors", "VisitBatch", "plan_visits"]

# Two events of one device are at least this far apart, so their millisecond stamps differ
# and sorting a device's events by time never ties (a search and its results included).
MIN_STEP_S = 0.002


@dataclass(slots=True)
class VisitBatch:
    """Pre-drawn randomness of a batch of visits (rows), flattened into Python lists.

    Row i owns searches ``search_lo[i]:search_lo[i+1]``; search s owns clicks
    ``searches[s][6]:searches[s][7]``; row i's n-th event takes its delivery draws at
    ``event_lo[i] + n``. ``follow[i]`` is the row of the visit that follows row i
    ``return_gap[i]`` after it ends (-1: none); follow-up rows have no arrival of their own.
    The numpy arrays keep each shown page's latent values for the ledger.
    """

    user: list[int]
    primary: np.ndarray  # the rows of the arrivals, in arrival order (the rest follow them)
    follow: list[int]
    return_gap: list[float]
    search_lo: list[int]
    # (after a click, after no click, query, service, p_any, first click, end of clicks, s)
    searches: list[tuple]
    pages: list[tuple]  # items shown by each search, by rank
    click_rank: list[int]
    click_gap: list[float]
    close_after: list[float]
    silent: list[bool]
    offline_gap: list[float]
    offline_len: list[float]
    tail_held: list[bool]
    event_lo: list[int]
    delay: list[float]
    loss_u: list[float]
    dup_u: list[float]
    dup_delay: list[float]
    retry_u: list[float]
    # For the ledger, rounded to 4 decimals: (searches, ranks) attractiveness the model used,
    # satisfaction (for models that use it: DBN), marginal examination probability.
    alpha: np.ndarray
    sat: np.ndarray | None
    exam: np.ndarray
    propensity: np.ndarray  # (searches,) the user's click propensity


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts)))


def _pauses(rng: np.random.Generator, scenario: Scenario, dist, n: int, long: bool) -> np.ndarray:
    """Draw ``n`` pauses from ``dist`` (a fraction ``long_pause_prob`` from ``long_pause``)."""
    v = scenario.visit
    pauses = dist.sample(rng, n)
    if long:
        idx = np.flatnonzero(rng.random(n) < v.long_pause_prob)
        pauses[idx] = v.long_pause.sample(rng, len(idx))
    return np.maximum(pauses, MIN_STEP_S)


def _rows(rng: np.random.Generator, n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """Expand ``n`` arrivals into rows: each followed by a geometric number of returns.

    Return (arrival of each row, follow-up row or -1).
    """
    extra = rng.geometric(1.0 - p, n) - 1 if p > 0 else np.zeros(n, dtype=np.int64)
    owner = np.repeat(np.arange(n), 1 + extra)
    lo = _offsets(1 + extra)
    rows = len(owner)
    follow = np.arange(1, rows + 1)
    follow[lo[1:] - 1] = -1  # the last row of each chain
    return owner, follow


def plan_visits(
    rng: np.random.Generator,
    scenario: Scenario,
    users: np.ndarray,
    population: Population,
    vocabulary: Vocabulary,
    model: ClickModel,
) -> VisitBatch:
    """Draw everything random about these arrivals (of ``users``, in time order) and their
    follow-up visits."""
    v, sc = scenario.visit, scenario
    owner, follow = _rows(rng, len(users), v.return_prob)
    row_user = users[owner]
    n = len(owner)
    searching = rng.random(n) >= v.no_search_prob
    count = np.minimum(rng.geometric(1.0 / v.searches_mean, n), v.max_searches) * searching
    search_lo = _offsets(count)
    total = int(search_lo[-1])
    first = np.zeros(total, dtype=bool)
    first[search_lo[:-1][count > 0]] = True
    after_click = _pauses(rng, sc, v.dwell_time, total, long=True)
    after_none = _pauses(rng, sc, v.reformulation, total, long=True)
    opening = _pauses(rng, sc, v.first_search, total, long=False)
    after_click[first] = after_none[first] = opening[first]
    query = vocabulary.sample(rng, total)
    zero = rng.random(total) < sc.queries.zero_result_rate
    service = sc.backend.service_time.sample(rng, total)

    page = vocabulary.pages(rng, query)
    clicks = sc.clicks
    propensity = population.click_propensity[np.repeat(row_user, count)]
    alpha = np.asarray(clicks.attractiveness)[page.grades] * propensity[:, None]
    np.clip(alpha, 0.0, 1.0, out=alpha)
    sat = np.asarray(clicks.satisfaction)[page.grades]
    clicked = model.clicks(alpha, sat, rng)
    clicked[zero] = False
    p_any = model.p_any(alpha, sat)
    p_any[zero] = 0.0
    click_lo = _offsets(clicked.sum(axis=1))
    click_rank = np.nonzero(clicked)[1]
    scan = _pauses(rng, sc, v.scan_time, len(click_rank), long=True)
    gap = _pauses(rng, sc, v.dwell_time, len(click_rank), long=True)
    first_click = np.zeros(len(click_rank), dtype=bool)
    first_click[click_lo[:-1][click_lo[1:] > click_lo[:-1]]] = True
    click_gap = np.where(first_click, scan, gap)

    close_after = _pauses(rng, sc, v.close_after, n, long=False)
    silent = rng.random(n) < v.silent_close_prob
    return_gap = v.return_after.sample(rng, n)
    clicks_per_row = np.diff(click_lo[search_lo])
    event_lo = _offsets(2 + 2 * count + clicks_per_row)
    events = int(event_lo[-1])
    d = sc.delivery
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
    return VisitBatch(
        user=row_user.tolist(),
        primary=np.flatnonzero(np.r_[True, follow[:-1] < 0]),
        follow=follow.tolist(),
        return_gap=return_gap.tolist(),
        search_lo=search_lo.tolist(),
        searches=list(
            zip(
                after_click.tolist(),
                after_none.tolist(),
                query.tolist(),
                service.tolist(),
                p_any.tolist(),
                click_lo[:-1].tolist(),
                click_lo[1:].tolist(),
                range(total),
            )
        ),
        pages=[() if z else tuple(p) for z, p in zip(zero.tolist(), page.items.tolist())],
        click_rank=click_rank.tolist(),
        click_gap=click_gap.tolist(),
        close_after=close_after.tolist(),
        silent=silent.tolist(),
        offline_gap=offline_gap.tolist(),
        offline_len=offline_len.tolist(),
        tail_held=tail_held.tolist(),
        event_lo=event_lo.tolist(),
        delay=delay.tolist(),
        loss_u=loss_u.tolist(),
        dup_u=dup_u.tolist(),
        dup_delay=dup_delay.tolist(),
        retry_u=retry_u.tolist(),
        alpha=np.round(alpha, 4),
        sat=np.round(sat, 4) if model.name == "dbn" else None,
        exam=np.round(model.examination(alpha, sat), 4),
        propensity=propensity,
    )


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

    @property
    def busy(self) -> bool:
        """True while a visit is being played or a follow-up visit is due."""
        return bool(self.active or self.waiting)

    def start(self, b: VisitBatch, i: int, t: float):
        """Begin visit row ``i`` of ``b`` at ``t``.

        Return the SimPy process body that plays its searches, or None when there is none
        to play (the arrival was dropped, or the visit has no search and ends at once).
        """
        u = b.user[i]
        if self.free_at[u] + self.min_gap > t:
            self.dropped += 1  # the user is still in (or just left) the app
            return None
        seq = self.visits[u]
        self.visits[u] = seq + 1
        route, released = self.delivery.open_visit(b, i, u, seq, t)
        if released is not None:  # a killed app's cached tail went out at this launch
            self.ledger.visit(released)
        events = [(t, APP_OPEN, 0, 0, 0, 0)]  # (true t, type, n, payload, search n, rank)
        if b.search_lo[i] == b.search_lo[i + 1]:
            self._finish(b, i, u, seq, route, events, 0, t, t, [])
            return None
        self.free_at[u] = np.inf
        self.active += 1
        return self._searches(b, i, u, seq, route, events)

    def _searches(self, b: VisitBatch, i: int, u: int, seq: int, route, events: list):
        """Play the visit's searches: one yield to SimPy each, to meet the backend in order."""
        env, send = self.env, self.delivery.send
        backend = self.backends[u // COHORT % len(self.backends)]  # a sticky load balancer
        patience = self.patience[u]
        t = start = last = events[0][0]
        sent = 0
        searches = []
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
        visit = Visit(u, seq, events, route, start, last, searches)
        if self.delivery.close_visit(route, events, sent, t, b.tail_held[i], visit):
            self.ledger.visit(visit)
        self.free_at[u] = t
        j = b.follow[i]
        if j >= 0 and t + b.return_gap[i] < self.end_s:
            self.waiting += 1
            self.env.process(self._return(b, j, t + b.return_gap[i]))

    def _return(self, b: VisitBatch, j: int, at: float):
        """Bring the user back for follow-up visit ``j`` at ``at``."""
        yield self.env.timeout(at - self.env.now)
        self.waiting -= 1
        body = self.start(b, j, at)
        if body is not None:
            yield from body
