"""A naive simulator of the same model, kept only as the benchmark's yardstick.

It is what the straightforward SimPy program looks like: a process per user, one SimPy
timeout per event, one scalar random call per draw, a SimPy ``Resource`` for the backend.
It emits the same kinds of events at the same rates (no delivery faults, no ledger), so
``sessionsim bench`` can measure what the batched design of ``simulator`` buys.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simulator.arrivals import intensity
from simulator.clickmodels import click_model
from simulator.population import Population, build_population
from simulator.scenario import Scenario
from simulator.streams import GROUP
from simulator.vocabulary import Vocabulary, build_vocabulary
from simulator.zones import offsets_at

__all__ = ["simulate_naive"]


def simulate_naive(  # noqa: C901 - the yardstick is the one straightforward program
    sc: Scenario, pop: Population | None = None, vocab: Vocabulary | None = None
) -> int:
    """Simulate ``sc`` the naive way; return the number of events emitted."""
    pop = pop or build_population(sc)
    vocab = vocab or build_vocabulary(sc)
    model = click_model(sc.clicks, vocab.page_size)
    attractiveness = np.asarray(sc.clicks.attractiveness)
    satisfaction = np.asarray(sc.clicks.satisfaction)
    rng = np.random.default_rng(sc.seed)
    env = simpy.Environment()
    # One Resource per replica; a user reaches its group's (``streams.replica_of``).
    backends = [simpy.Resource(env, sc.backend.servers) for _ in range(sc.backend.replicas)]
    v = sc.visit
    hourly = np.asarray(sc.arrivals.hourly_weights)
    weekday = np.asarray(sc.arrivals.weekday_weights)
    start = sc.start.timestamp()
    emitted = [0]

    def draw(dist: Any) -> float:
        return float(dist.sample(rng, 1)[0])

    def pause(dist: Any) -> float:
        return draw(v.long_pause) if rng.random() < v.long_pause_prob else draw(dist)

    def emit(kind: str, user: int) -> None:
        emitted[0] += 1

    def visit(u: int) -> Generator[simpy.Event, Any, None]:
        emit("app_open", u)
        searches = 0
        if rng.random() >= v.no_search_prob:
            searches = min(int(rng.geometric(1.0 / v.searches_mean)), v.max_searches)
        clicked = None
        for _ in range(searches):
            if clicked is None:
                yield env.timeout(draw(v.first_search))
            else:
                yield env.timeout(pause(v.dwell_time if clicked else v.reformulation))
            emit("search", u)
            lang = vocab.language_of_locale[pop.locale[u]]  # the user's words
            page = vocab.pages(rng, vocab.sample(rng, 1, lang))
            clicked = False
            with backends[u // GROUP % len(backends)].request() as req:
                got = yield req | env.timeout(float(pop.patience_s[u]))
                if req not in got:
                    continue
                yield env.timeout(draw(sc.backend.service_time))
            yield env.timeout(draw(sc.backend.round_trip))
            emit("results", u)
            if page.shown[0] == 0:
                continue
            alpha = np.minimum(attractiveness[page.grades] * pop.click_propensity[u], 1.0)
            alpha[:, page.shown[0] :] = 0.0  # a short page
            for _ in np.flatnonzero(model.clicks(alpha, satisfaction[page.grades], rng)[0]):
                yield env.timeout(draw(v.scan_time) if not clicked else pause(v.dwell_time))
                emit("click", u)
                clicked = True
                if rng.random() < sc.clicks.repeat_prob:  # back, and the same item again
                    yield env.timeout(pause(v.dwell_time))
                    emit("click", u)
        yield env.timeout(draw(v.close_after))
        if rng.random() >= v.silent_close_prob:
            emit("app_close", u)

    def user(u: int) -> Generator[simpy.Event, Any, None]:
        while True:  # thinning of the user's hourly Poisson process
            rate_max = (
                pop.visits_per_day[u]
                * hourly.max()
                / hourly.sum()
                * weekday.max()
                / (weekday.mean() * 3600.0)
            )
            yield env.timeout(float(rng.exponential(1.0 / rate_max)))
            if env.now >= sc.duration:
                return
            here = pop.joined_s[u] <= env.now < pop.left_s[u]  # installed, not yet gone
            rate = (
                here
                * intensity(
                    pop.visits_per_day[u : u + 1],
                    offsets_at(pop.zone[u : u + 1], pop.zones, start + env.now),  # DST too
                    start + env.now,
                    hourly,
                    weekday,
                )[0]
            )
            if rng.random() < rate / rate_max:
                yield env.process(visit(u))
                while rng.random() < v.return_prob:  # a quick return
                    yield env.timeout(draw(v.return_after))
                    if env.now >= min(sc.duration, pop.left_s[u]):  # over, or gone
                        break
                    yield env.process(visit(u))

    for u in range(pop.size):
        env.process(user(u))
    env.run()
    return emitted[0]
