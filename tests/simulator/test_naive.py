"""The benchmark's naive yardstick."""

from __future__ import annotations

from simulator import simulate_null
from simulator.naive import simulate_naive
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario


def test_naive_yardstick_models_the_same_event_volume():
    """The naive simulator must simulate the same thing to be a fair yardstick."""
    sc = load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 1500})
    ours = simulate_null(sc).events
    naive = simulate_naive(sc)
    assert abs(naive - ours) < 0.05 * ours
