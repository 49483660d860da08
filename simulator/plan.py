"""The visit plan: everything random about a batch of arrivals, drawn at once with numpy.

The kernel (``play``) plays a plan out; the delivery stage draws its own
randomness (``delivery.draw_delivery``) at the point of the plan where it always has, so a
seed gives the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.codes import MIN_STEP_S
from simulator.draws import DeliveryDraws, draw_delivery
from simulator.query_plan import QueryHistory, draw_queries
from simulator.table import ranges

if TYPE_CHECKING:
    from simulator.clickmodels import ClickModel
    from simulator.population import Population
    from simulator.scenario import Clicks, Scenario
    from simulator.vocabulary import Vocabulary

RECLICK_ATTRACTIVENESS = 0.9  # a re-found item's pull on a user who clicked it before
VISIT_MARGIN_S = 600.0  # beyond a visit's planned pauses: its backend waits

__all__ = [
    "MIN_STEP_S",
    "VisitBatch",
    "batch_of",
    "draw_plan",
    "keep_rows",
]


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
    round_trip: list[float]  # per search: the network's round trip before its results
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
    shown: np.ndarray  # per search: the items its page shows (0: none)
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


def _pauses(
    rng: np.random.Generator, scenario: Scenario, dist: Any, n: int, long: bool
) -> np.ndarray:
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


def _click_order(
    rng: np.random.Generator, clicks: Clicks, clicked: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The ranks clicked, per search in the order clicked, and the clicks per search: the
    model's clicks top down, a share ``out_of_order_prob`` of searches with two or more in
    a shuffled order, and each click followed by a second on the same item with
    ``repeat_prob``."""
    per_search = clicked.sum(axis=1)
    rank = np.nonzero(clicked)[1]
    search = np.repeat(np.arange(len(per_search)), per_search)
    shuffled = (per_search >= 2) & (rng.random(len(per_search)) < clicks.out_of_order_prob)
    key = np.where(shuffled[search], rng.random(len(rank)), rank)
    order = np.lexsort((key, search))
    rank, search = rank[order], search[order]
    again = rng.random(len(rank)) < clicks.repeat_prob
    per_search = per_search + np.bincount(search[again], minlength=len(per_search))
    return np.repeat(rank, 1 + again), per_search


def draw_plan(
    rng: np.random.Generator,
    scenario: Scenario,
    users: np.ndarray,
    population: Population,
    vocabulary: Vocabulary,
    model: ClickModel,
    history: QueryHistory | None = None,
    times: np.ndarray | None = None,
) -> dict:
    """Draw everything random about these arrivals (of ``users``, in time order) and their
    follow-up visits, as arrays (``batch_of`` gives the kernel's view)."""
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
    search_user = np.repeat(row_user, count)
    lang = vocabulary.language_of_locale[population.locale[search_user]]
    # Arrival times: a chain's visits start no earlier, so they may repeat what was typed
    # by then (``times`` absent: no repeats).
    arrived = np.full(len(users), -np.inf) if times is None else np.asarray(times, float)
    query, refound = draw_queries(
        rng, vocabulary, sc.queries, search_user, lang, search_lo, history, arrived[owner]
    )
    service = sc.backend.service_time.sample(rng, total)
    round_trip = sc.backend.round_trip.sample(rng, total)

    page = vocabulary.pages(rng, query)
    zero = page.shown == 0
    clicks = sc.clicks
    propensity = population.click_propensity[search_user]
    alpha = np.asarray(clicks.attractiveness)[page.grades] * propensity[:, None]
    np.clip(alpha, 0.0, 1.0, out=alpha)
    on_page = np.arange(alpha.shape[1]) < page.shown[:, None]
    # Re-finding: the item clicked before, if on the page, draws the user again.
    again = (page.items == refound[:, None]) & on_page
    again &= (rng.random(total) < sc.queries.reclick_prob)[:, None]
    alpha[again] = np.maximum(alpha[again], RECLICK_ATTRACTIVENESS)
    alpha[~on_page] = 0.0  # not on a short page
    sat = np.asarray(clicks.satisfaction)[page.grades]
    clicked = model.clicks(alpha, sat, rng)
    clicked[zero] = False
    p_any = model.p_any(alpha, sat)
    p_any[zero] = 0.0
    click_rank, per_search = _click_order(rng, clicks, clicked)
    click_lo = _offsets(per_search)
    scan = _pauses(rng, sc, v.scan_time, len(click_rank), long=True)
    gap = _pauses(rng, sc, v.dwell_time, len(click_rank), long=True)
    first_click = np.zeros(len(click_rank), dtype=bool)
    first_click[click_lo[:-1][click_lo[1:] > click_lo[:-1]]] = True
    click_gap = np.where(first_click, scan, gap)

    close_after = _pauses(rng, sc, v.close_after, n, long=False)
    if history is not None:  # what each user searched and first clicked, for later visits
        has = per_search > 0  # the item clicked first
        first = np.zeros(total, dtype=np.int64)
        first[has] = click_rank[click_lo[:-1][has]]
        item = np.where(has, page.items[np.arange(total), first], -1)
        # Known to later visits once the visit is surely over: its arrival plus every pause
        # it could take and a margin for the backend. A follow-up visit's start depends on
        # the play: it is not remembered.
        search_row = np.repeat(np.arange(n), count)
        pauses = np.bincount(search_row, after_click + after_none, minlength=n)
        clicking = np.bincount(np.repeat(search_row, np.diff(click_lo)), click_gap, minlength=n)
        primary = np.r_[True, follow[:-1] < 0]
        done = arrived[owner] + pauses + clicking + close_after + VISIT_MARGIN_S
        history.record(search_user, query, item, np.where(primary, done, np.inf)[search_row])
    silent = rng.random(n) < v.silent_close_prob
    return_gap = v.return_after.sample(rng, n)
    clicks_per_row = np.diff(click_lo[search_lo])
    event_lo = _offsets(2 + 2 * count + clicks_per_row)
    draws = draw_delivery(rng, sc.delivery, int(event_lo[-1]), n)
    return {
        "user": row_user,
        "primary": np.flatnonzero(np.r_[True, follow[:-1] < 0]),
        "follow": follow,
        "return_gap": return_gap,
        "search_lo": search_lo,
        "after_click": after_click,
        "after_none": after_none,
        "service": service,
        "round_trip": round_trip,
        "click_lo": click_lo,
        "click_gap": click_gap,
        "close_after": close_after,
        "silent": silent,
        "event_lo": event_lo,
        "query": query,
        "p_any": p_any,
        "items": page.items,
        "zero": zero,
        "shown": page.shown,
        "click_rank": click_rank,
        "delivery": draws,
        "alpha": np.round(alpha, 4),
        "sat": np.round(sat, 4) if model.name == "dbn" else None,
        "exam": np.round(model.examination(alpha, sat), 4),
        "propensity": propensity,
    }


_LISTS = (
    "user", "follow", "return_gap", "search_lo", "after_click", "after_none", "service",
    "round_trip", "click_lo", "click_gap", "close_after", "silent", "event_lo",
)  # fmt: skip
_ARRAYS = (
    "primary", "query", "p_any", "items", "zero", "shown", "click_rank", "delivery", "alpha",
    "sat", "exam", "propensity",
)  # fmt: skip


def batch_of(plan: dict) -> VisitBatch:
    """The kernel's view of a drawn plan: what it reads one value at a time as lists."""
    return VisitBatch(
        **{k: plan[k].tolist() for k in _LISTS},
        **{k: plan[k] for k in _ARRAYS},
        click_lo_array=plan["click_lo"],
        tail_held=plan["delivery"].tail_held.tolist(),
    )


def keep_rows(plan: dict, keep: np.ndarray) -> tuple[dict, np.ndarray]:
    """The plan of the rows ``keep`` (a mask) only, with their searches, clicks and event
    slots; return it and each old row's new index (-1: dropped). A shard keeps its own
    users' rows of a cohort whose plan it drew whole."""
    new_row = np.cumsum(keep) - 1
    new_row[~keep] = -1
    rows = np.flatnonzero(keep)
    search_lo, click_lo, event_lo = plan["search_lo"], plan["click_lo"], plan["event_lo"]
    searches = ranges(search_lo[rows], search_lo[rows + 1])
    clicks = ranges(click_lo[searches], click_lo[searches + 1])
    slots = ranges(event_lo[rows], event_lo[rows + 1])

    def offsets(lo: np.ndarray, picked: np.ndarray) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(lo[picked + 1] - lo[picked])))

    out = {
        "search_lo": offsets(search_lo, rows),
        "click_lo": offsets(click_lo, searches),
        "event_lo": offsets(event_lo, rows),
        "follow": np.where(plan["follow"][rows] >= 0, new_row[plan["follow"][rows]], -1),
        "primary": new_row[plan["primary"]][keep[plan["primary"]]],
    }
    for name in ("user", "return_gap", "close_after", "silent"):
        out[name] = plan[name][rows]
    for name in (
        "after_click",
        "after_none",
        "service",
        "round_trip",
        "query",
        "p_any",
        "items",
        "zero",
        "shown",
    ):
        out[name] = plan[name][searches]
    for name in ("alpha", "sat", "exam", "propensity"):
        out[name] = None if plan[name] is None else plan[name][searches]
    out["click_gap"], out["click_rank"] = plan["click_gap"][clicks], plan["click_rank"][clicks]
    d = plan["delivery"]
    out["delivery"] = DeliveryDraws(
        *(getattr(d, f)[slots] for f in ("delay", "loss_u", "dup_u", "dup_delay", "retry_u")),
        *(getattr(d, f)[rows] for f in ("offline_gap", "offline_len", "tail_held")),
    )
    return out, new_row
