"""A population that lives (issue 20, part 8): users install the app during a run and
others stop for good, at the scenario's daily rates."""

from __future__ import annotations

import numpy as np

from simulator import Simulation, simulate_to_dir
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, read_jsonl

DAY = 86_400.0


def test_joins_and_churn_follow_their_daily_rates():
    sc = load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 50_000, "duration": "7d"})
    pop = Simulation(sc).population
    n, days = pop.size, 7
    p_join = sc.population.joins_per_day * days
    joined = np.isfinite(pop.joined_s)
    assert abs(joined.mean() - p_join) <= 4 * np.sqrt(p_join * (1 - p_join) / n)
    assert (pop.joined_s[joined] >= 0).all() and (pop.joined_s[joined] < sc.duration).all()
    # A user there from the start leaves within the week with 1 - (1 - churn)^7.
    old = ~joined
    p_left = 1 - (1 - sc.population.churn_per_day) ** days
    left = (pop.left_s[old] < days * DAY).mean()
    assert abs(left - p_left) <= 4 * np.sqrt(p_left * (1 - p_left) / old.sum())
    assert (pop.left_s >= np.maximum(pop.joined_s, 0)).all()


def test_no_visit_starts_before_its_user_joins_or_after_they_leave(tmp_path):
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {
            "population.users": 3000,
            "duration": "4d",
            "population.joins_per_day": 0.1,
            "population.churn_per_day": 0.1,
        },
    )
    sim = Simulation(sc)
    simulate_to_dir(sc, tmp_path)
    index = {
        u: i
        for i, u in enumerate(
            sim.codec.user_ids(np.arange(sim.population.size)).astype("U").tolist()
        )
    }
    t0 = sc.start.timestamp()
    joined, left = sim.population.joined_s, sim.population.left_s
    chunk = 1800.0  # a user's rate is judged at the middle of each half hour
    checked = 0
    for s in read_jsonl(tmp_path / "truth" / "sessions.jsonl"):
        u = index[s["user_id"]]
        if np.isfinite(joined[u]) or np.isfinite(left[u]):
            checked += 1
            start = np.datetime64(s["start"].rstrip("Z")).astype("datetime64[ms]").astype(float)
            at = start / 1000.0 - t0
            # (an arrival is judged at the middle of its half hour; a return after leaving
            # is not made)
            assert at >= joined[u] - chunk and at < left[u] + chunk
    assert checked > 100
