"""The visit plan, delivery and the ledger on small hand-built inputs."""

from __future__ import annotations

import numpy as np

from simulator.clickmodels import click_model
from simulator.delivery import Delivery, DeliveryDraws
from simulator.events import APP_CLOSE, APP_OPEN, CLICK, RESULTS, SEARCH
from simulator.plan import plan_visits
from simulator.population import build_population
from simulator.truth import Ledger
from simulator.visit import Visit
from simulator.vocabulary import build_vocabulary
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

POLICY = {"flush_at": 2, "flush_interval": "30s", "max_batch": 100}


def _world(**delivery):
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {
            "population.users": 3,
            "delivery.sdk": {p: POLICY for p in ("ios", "android", "web")},
            **{f"delivery.{k}": v for k, v in delivery.items()},
        },
    )
    return sc, build_population(sc)


# One visit as the actor hands it over: (true t, type, n, payload, search n, rank).
EVENTS = [
    (0.0, APP_OPEN, 0, 0, 0, 0),
    (1.0, SEARCH, 1, 7, 1, 0),
    (1.2, RESULTS, 2, (11, 12, 13), 1, 0),
    (5.0, CLICK, 3, 12, 1, 1),
    (7.0, APP_CLOSE, 4, 0, 0, 0),
]


def _draws(n: int, click_loss_u: float = 1.0) -> DeliveryDraws:
    """Every event 0.5 s on the network; no loss (but the click's draw), no duplicate."""
    loss_u = [1.0] * n
    loss_u[3] = click_loss_u  # EVENTS[3] is the click
    return DeliveryDraws(
        delay=[0.5] * n,
        loss_u=loss_u,
        dup_u=[1.0] * n,
        dup_delay=[1.0] * n,
        retry_u=[1.0] * n,
        offline_gap=[1e9],
        offline_len=[0.0],
        tail_held=[False],
    )


def _deliver(delivery: Delivery, draws: DeliveryDraws):
    route, released = delivery.open_visit(draws, 0, 0, len(EVENTS), 0, 0, 0.0)
    assert released is None
    assert delivery.close_visit(route, list(EVENTS), 0, 7.0, False, None)
    return route, delivery.release(float("inf"))


def test_the_sdk_sends_two_events_a_request_each_after_one_delay():
    sc, pop = _world()
    route, arrivals = _deliver(Delivery(sc, pop), _draws(5))
    # flush_at 2: [open, search] at t=1, [results, click] at t=5, [close] as the app closes
    assert [(a[0], a[3]) for a in arrivals] == [
        (1.5, APP_OPEN), (1.5, SEARCH), (5.5, RESULTS), (5.5, CLICK), (7.5, APP_CLOSE)
    ]  # fmt: skip
    assert [route.fate(n)[2:5] for n in range(5)] == [
        (1, False, 1), (1, False, 1), (1, False, 2), (1, False, 2), (1, False, 3)
    ]  # fmt: skip


def test_a_lost_click_never_arrives_and_the_ledger_counts_it_unobservable():
    sc, pop = _world(loss={"click": 0.5})
    delivery = Delivery(sc, pop)
    route, arrivals = _deliver(delivery, _draws(5, click_loss_u=0.1))  # 0.1 < 0.5: lost
    assert CLICK not in [a[3] for a in arrivals]
    assert route.fate(3)[1:3] == (None, 0)
    vocab = build_vocabulary(sc)
    from simulator.events import EventCodec

    ledger = Ledger(EventCodec(sc, pop, vocab))
    searches = [(1, 1.0, 7, 3, 1, 0.4, 0)]  # one search, 3 items shown, one click
    ledger.visit(Visit(0, 0, list(EVENTS), route, 0.0, 7.0, searches, plan=None))  # type: ignore[arg-type]
    n = ledger.totals
    assert (n["searches"], n["clicked_searches"], n["clicks"]) == (1, 1, 1)  # behaviour
    assert (n["obs_searches"], n["obs_clicked"], n["obs_clicks"]) == (1, 0, 0)  # delivered
    assert (n["generated"], n["delivered"], n["lost:click"]) == (5, 4, 1)


def test_a_plan_without_returns_has_one_row_per_arrival_and_its_events_add_up():
    sc, pop = _world()
    sc = sc.model_copy(update={"visit": sc.visit.model_copy(update={"return_prob": 0.0})})
    vocab = build_vocabulary(sc)
    users = np.array([0, 1, 2, 0])
    b = plan_visits(np.random.default_rng(1), sc, users, pop, vocab, click_model(sc.clicks, 10))
    assert b.user == [0, 1, 2, 0] and b.follow == [-1, -1, -1, -1]
    assert b.primary.tolist() == [0, 1, 2, 3]
    for i in range(4):
        searches = b.searches[b.search_lo[i] : b.search_lo[i + 1]]
        clicks = sum(c1 - c0 for *_, c0, c1, _ in searches)
        # open, close, and per search: search + results; then the clicks
        assert b.event_lo[i + 1] - b.event_lo[i] == 2 + 2 * len(searches) + clicks
    assert len(b.delivery.delay) == b.event_lo[-1]
