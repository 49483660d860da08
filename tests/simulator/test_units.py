"""The visit plan, delivery and the ledger on small hand-built inputs."""

from __future__ import annotations

import numpy as np

from simulator.backend import SearchBackend
from simulator.clickmodels import click_model
from simulator.codes import APP_CLOSE, APP_OPEN, CLICK, RESULTS, SEARCH
from simulator.draws import DeliveryDraws
from simulator.events import EventCodec
from simulator.plan import VisitBatch, batch_of, draw_plan
from simulator.play import Kernel
from simulator.population import build_population
from simulator.sdk import Sdk
from simulator.truth import Ledger
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


def _play(sc, pop, click_loss_u: float = 1.0):
    """Play one hand-built visit through the real kernel and SDK: open at 0, a search at
    1 s (served in 0.2 s: results at 1.2 s, three items), a click at 5 s on rank 2, close
    at 7 s; every request 0.5 s on the network, no loss but the click's draw."""
    ones = np.ones(5)
    loss_u = ones.copy()
    loss_u[3] = click_loss_u  # event 3 is the click
    draws = DeliveryDraws(
        delay=np.full(5, 0.5),
        loss_u=loss_u,
        dup_u=ones,
        dup_delay=np.ones(5),
        retry_u=ones,
        offline_gap=np.array([np.inf]),
        offline_len=np.zeros(1),
        tail_held=np.zeros(1, dtype=bool),
    )
    batch = VisitBatch(
        user=[0], primary=np.array([0]), follow=[-1], return_gap=[1e9], search_lo=[0, 1],
        after_click=[1.0], after_none=[1.0], service=[0.2], round_trip=[0.05], click_lo=[0, 1],
        click_lo_array=np.array([0, 1]), click_gap=[3.8],
        close_after=[2.0], silent=[False], event_lo=[0, 5], tail_held=[False],
        query=np.array([7]), p_any=np.array([0.4]), items=np.array([[11, 12, 13]]),
        zero=np.array([False]), shown=np.array([3]), click_rank=np.array([1]), delivery=draws,
        alpha=np.full((1, 3), 0.5), sat=None, exam=np.ones((1, 3)), propensity=np.ones(1),
    )  # fmt: skip
    kernel = Kernel([SearchBackend(1)], pop, 0.0, 1e9)
    kernel.add_batch(0, batch, [(0, 0.0)])
    kernel.run_until(60.0)
    sdk = Sdk(sc, pop, 60.0)
    done = sdk.step(kernel)
    assert done == [0]  # the visit's delivery is all known
    return sdk, sdk.take_visits(done), sdk.release(float("inf"))


def test_the_sdk_sends_two_events_a_request_each_after_one_delay():
    sc, pop = _world()
    _, events, arrivals = _play(sc, pop)
    # flush_at 2: [open, search] at t=1, [results, click] at t=5.05, [close] as the app
    # closes; the results reach the device one round trip (0.05 s) after the service ends.
    results = 1.2 + 0.05
    assert list(zip(arrivals["received"].tolist(), arrivals["kind"].tolist())) == [
        (1.5, APP_OPEN), (1.5, SEARCH), (results + 3.8 + 0.5, RESULTS),
        (results + 3.8 + 0.5, CLICK), (results + 3.8 + 2.0 + 0.5, APP_CLOSE)
    ]  # fmt: skip
    assert events["t"].tolist() == [0.0, 1.0, results, results + 3.8, results + 3.8 + 2.0]
    assert events["deliveries"].tolist() == [1] * 5
    assert events["batch"].tolist() == [1, 1, 2, 2, 3]
    assert not events["offline"].any()


def test_a_lost_click_never_arrives_and_the_ledger_counts_it_unobservable():
    sc, pop = _world(loss={"click": 0.5})
    sdk, events, arrivals = _play(sc, pop, click_loss_u=0.1)  # 0.1 < 0.5: lost
    assert CLICK not in arrivals["kind"].tolist()
    assert events["deliveries"][3] == 0 and np.isnan(events["received"][3])
    ledger = Ledger(EventCodec(sc, pop, build_vocabulary(sc)))
    ledger.visits(events, sdk.visits)
    n = ledger.totals
    assert (n["searches"], n["clicked_searches"], n["clicks"]) == (1, 1, 1)  # behaviour
    assert (n["obs_searches"], n["obs_clicked"], n["obs_clicks"]) == (1, 0, 0)  # delivered
    assert (n["generated"], n["delivered"], n["lost:click"]) == (5, 4, 1)


def test_a_plan_without_returns_has_one_row_per_arrival_and_its_events_add_up():
    sc, pop = _world()
    sc = sc.model_copy(update={"visit": sc.visit.model_copy(update={"return_prob": 0.0})})
    vocab = build_vocabulary(sc)
    users = np.array([0, 1, 2, 0])
    model = click_model(sc.clicks, 10)
    b = batch_of(draw_plan(np.random.default_rng(1), sc, users, pop, vocab, model))
    assert b.user == [0, 1, 2, 0] and b.follow == [-1, -1, -1, -1]
    assert b.primary.tolist() == [0, 1, 2, 3]
    for i in range(4):
        s0, s1 = b.search_lo[i], b.search_lo[i + 1]
        clicks = b.click_lo[s1] - b.click_lo[s0]
        # open, close, and per search: search + results; then the clicks
        assert b.event_lo[i + 1] - b.event_lo[i] == 2 + 2 * (s1 - s0) + clicks
    assert len(b.delivery.delay) == b.event_lo[-1]
