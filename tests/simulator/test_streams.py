"""Per-cohort random streams: a cohort's draws do not depend on the rest of the population."""

from __future__ import annotations

import numpy as np

from simulator import Simulation
from simulator.streams import COHORT
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario


def _sim(users: int) -> Simulation:
    return Simulation(load_scenario(SCENARIOS / "baseline.yaml", {"population.users": users}))


def test_a_cohorts_traits_and_arrivals_do_not_depend_on_population_size():
    small, large = _sim(COHORT + 10), _sim(3 * COHORT)
    for name in ("visits_per_day", "click_propensity", "patience_s", "utc_offset_h"):
        a, b = getattr(small.population, name), getattr(large.population, name)
        assert np.array_equal(a[:COHORT], b[:COHORT]), name
    first_small = [
        (t, plan["user"][i])
        for plan, rows, times in small._plan_chunk(3, 3 * 3600.0, 3600.0)
        for i, t in zip(rows, times)
        if plan["user"][i] < COHORT
    ]
    first_large = [
        (t, plan["user"][i])
        for plan, rows, times in large._plan_chunk(3, 3 * 3600.0, 3600.0)
        for i, t in zip(rows, times)
        if plan["user"][i] < COHORT
    ]
    assert first_small == first_large and len(first_small) > 50
