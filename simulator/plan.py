"""The visit plan: everything random about a batch of arrivals, drawn at once with numpy.

The kernel (``play``) plays a plan out; the delivery stage draws its own
randomness (``delivery.draw_delivery``) at the point of the plan where it always has, so a
seed gives the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.codes import MIN_STEP_S
from simulator.draws import DeliveryDraws, draw_delivery

if TYPE_CHECKING:
    from simulator.clickmodels import ClickModel
    from simulator.population import Population
    from simulator.scenario import Scenario
    from simulator.vocabulary import Vocabulary

__all__ = ["MIN_STEP_S", "VisitBatch", "merge_batches", "plan_visits"]


@dataclass(slots=True)
class VisitBatch:
    """Pre-drawn randomness of a batch of visits (rows).

    Row i owns searches ``search_lo[i]:search_lo[i+1]``; search s owns clicks
    ``click_lo[s]:click_lo[s+1]``; row i's n-th event slot takes its delivery draws
    (``delivery``) at ``event_lo[i] + n``. ``follow[i]`` is the row of the visit that follows
    row i ``return_gap[i]`` after it ends (-1: none); follow-up rows have no arrival of their
    own. What the kernel reads one value at a time is in lists; what the events and the
    ledger take by the column is in arrays.
    """

    user: list[int]
    primary: np.ndarray  # the rows of the arrivals, in arrival order (the rest follow them)
    follow: list[int]
    return_gap: list[float]
    search_lo: list[int]
    after_click: list[float]  # per search: the pause before it when the last search had clicks
    after_none: list[float]  # ... and when it had none (the first search: after the open)
    service: list[float]
    click_lo: list[int]  # per search, and one past the last
    click_lo_array: np.ndarray  # the same, as an array
    click_gap: list[float]  # per click: the pause before it
    close_after: list[float]
    silent: list[bool]
    event_lo: list[int]
    tail_held: list[bool]
    query: np.ndarray  # per search
    p_any: np.ndarray  # per search: the click model's P(any click) (0 for an empty page)
    items: np.ndarray  # (searches, page size): the items shown, by rank
    zero: np.ndarray  # per search: an empty page
    click_rank: np.ndarray  # per click, 0-based
    delivery: DeliveryDraws  # the delivery stage's own draws, per row and per event
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
    draws = draw_delivery(rng, sc.delivery, int(event_lo[-1]), n)
    return VisitBatch(
        user=row_user.tolist(),
        primary=np.flatnonzero(np.r_[True, follow[:-1] < 0]),
        follow=follow.tolist(),
        return_gap=return_gap.tolist(),
        search_lo=search_lo.tolist(),
        after_click=after_click.tolist(),
        after_none=after_none.tolist(),
        service=service.tolist(),
        click_lo=click_lo.tolist(),
        click_lo_array=click_lo,
        click_gap=click_gap.tolist(),
        close_after=close_after.tolist(),
        silent=silent.tolist(),
        event_lo=event_lo.tolist(),
        tail_held=draws.tail_held.tolist(),
        query=query,
        p_any=p_any,
        items=page.items,
        zero=zero,
        click_rank=click_rank,
        delivery=draws,
        alpha=np.round(alpha, 4),
        sat=np.round(sat, 4) if model.name == "dbn" else None,
        exam=np.round(model.examination(alpha, sat), 4),
        propensity=propensity,
    )


def merge_batches(parts: list[tuple[VisitBatch, list[tuple[int, float]]]]) -> tuple:
    """Join several batches (a chunk's cohorts) into one, with their arrivals ``(row,
    time)`` renumbered: the kernel and the SDK then pay per chunk, not per cohort."""
    if len(parts) == 1:
        return parts[0]
    rows = np.cumsum([0] + [len(b.user) for b, _ in parts])
    searches = np.cumsum([0] + [len(b.query) for b, _ in parts])
    clicks = np.cumsum([0] + [len(b.click_gap) for b, _ in parts])
    slots = np.cumsum([0] + [b.event_lo[-1] for b, _ in parts])
    batches = [b for b, _ in parts]

    def lists(name: str) -> list:
        return [x for b in batches for x in getattr(b, name)]

    def arrays(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in batches])

    def offsets(name: str, shift: np.ndarray) -> list:
        out = [x + int(shift[k]) for k, b in enumerate(batches) for x in getattr(b, name)[:-1]]
        return out + [int(shift[-1])]

    click_lo = offsets("click_lo", clicks)
    d = [b.delivery for b in batches]
    merged = VisitBatch(
        user=lists("user"),
        primary=np.concatenate([b.primary + rows[k] for k, b in enumerate(batches)]),
        follow=[
            f + int(rows[k]) if f >= 0 else -1 for k, b in enumerate(batches) for f in b.follow
        ],
        return_gap=lists("return_gap"),
        search_lo=offsets("search_lo", searches),
        after_click=lists("after_click"),
        after_none=lists("after_none"),
        service=lists("service"),
        click_lo=click_lo,
        click_lo_array=np.array(click_lo, dtype=np.int64),
        click_gap=lists("click_gap"),
        close_after=lists("close_after"),
        silent=lists("silent"),
        event_lo=offsets("event_lo", slots),
        tail_held=lists("tail_held"),
        query=arrays("query"),
        p_any=arrays("p_any"),
        items=arrays("items"),
        zero=arrays("zero"),
        click_rank=arrays("click_rank"),
        delivery=DeliveryDraws(
            *(np.concatenate([getattr(x, f) for x in d]) for f in DeliveryDraws.__slots__)
        ),
        alpha=arrays("alpha"),
        sat=arrays("sat") if batches[0].sat is not None else None,
        exam=arrays("exam"),
        propensity=arrays("propensity"),
    )
    arrivals = [(r + int(rows[k]), t) for k, (_, a) in enumerate(parts) for r, t in a]
    return merged, arrivals
