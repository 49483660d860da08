"""The backend queue: Erlang C for M/M/c, and the same schedule as a SimPy Resource."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from simulator.backend import SearchBackend


def erlang_c(c: int, lam: float, mu: float) -> tuple[float, float]:
    """Return (P(wait), mean wait in queue) of an M/M/c queue."""
    a = lam / mu
    rho = a / c
    tail = a**c / math.factorial(c) / (1 - rho)
    p_wait = tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)
    return p_wait, p_wait / (c * mu - lam)


def test_erlang_c_reference_values():
    p_wait, wq = erlang_c(10, 8.0, 1.0)
    assert p_wait == pytest.approx(0.4092, abs=5e-4)
    assert wq == pytest.approx(0.2046, abs=5e-4)


def test_mmc_mean_wait_matches_erlang_c():
    c, lam, mu, n = 10, 8.0, 1.0, 600_000
    rng = np.random.default_rng(2024)
    arrivals = np.cumsum(rng.exponential(1 / lam, n)).tolist()
    services = rng.exponential(1 / mu, n).tolist()
    backend = SearchBackend(c)
    waits = [backend.submit(t, s, math.inf) - s - t for t, s in zip(arrivals, services)]
    warm = n // 10
    p_wait, wq = erlang_c(c, lam, mu)
    measured = sum(waits[warm:]) / (n - warm)
    assert measured == pytest.approx(wq, rel=0.05)
    assert np.mean(np.array(waits[warm:]) > 1e-12) == pytest.approx(p_wait, rel=0.05)


def _simpy_schedule(arrivals, services, patience, servers):
    env = simpy.Environment()
    resource = simpy.Resource(env, servers)
    done = [None] * len(arrivals)

    def customer(i):
        yield env.timeout(arrivals[i] - env.now)
        with resource.request() as req:
            got = yield req | env.timeout(patience[i])
            if req in got:
                yield env.timeout(services[i])
                done[i] = env.now

    for i in range(len(arrivals)):
        env.process(customer(i))
    env.run()
    return done


def test_same_schedule_as_simpy_resource_with_reneging():
    rng = np.random.default_rng(9)
    n = 3000
    arrivals = np.cumsum(rng.exponential(0.1, n)).tolist()
    services = rng.exponential(0.35, n).tolist()  # overloaded: queues and abandonment
    patience = rng.lognormal(0.0, 0.5, n).tolist()
    backend = SearchBackend(3)
    ours = [backend.submit(t, s, p) for t, s, p in zip(arrivals, services, patience)]
    theirs = _simpy_schedule(arrivals, services, patience, 3)
    assert backend.abandoned > 100
    assert [d is None for d in ours] == [d is None for d in theirs]
    assert all((a is None and b is None) or abs(a - b) < 1e-9 for a, b in zip(ours, theirs))
