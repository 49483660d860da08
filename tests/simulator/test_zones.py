"""Time zones (issue 20, part 6): several per country, daylight saving time by its rules."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from simulator import Simulation
from simulator.zones import ZONES, dst_hours
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario


def _t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_daylight_saving_starts_and_ends_on_the_rules_dates():
    # 2026: the US springs forward on 8 March at 07:00 UTC (02:00 EST) and falls back on
    # 1 November at 06:00 UTC (02:00 EDT); the EU on 29 March and 25 October at 01:00
    # UTC; Sydney from 4 October (16:00 UTC the day before) to 5 April 2026.
    assert dst_hours("us", -5.0, _t("2026-03-08T06:59:59")) == 0.0
    assert dst_hours("us", -5.0, _t("2026-03-08T07:00:00")) == 1.0
    assert dst_hours("us", -5.0, _t("2026-11-01T05:59:59")) == 1.0
    assert dst_hours("us", -5.0, _t("2026-11-01T06:00:00")) == 0.0
    assert dst_hours("eu", 1.0, _t("2026-03-29T00:59:59")) == 0.0
    assert dst_hours("eu", 1.0, _t("2026-03-29T01:00:00")) == 1.0
    assert dst_hours("eu", 1.0, _t("2026-10-25T01:00:00")) == 0.0
    assert dst_hours("au", 10.0, _t("2026-01-15T00:00:00")) == 1.0
    assert dst_hours("au", 10.0, _t("2026-04-04T15:59:59")) == 1.0
    assert dst_hours("au", 10.0, _t("2026-04-04T16:00:00")) == 0.0
    assert dst_hours("au", 10.0, _t("2026-10-03T16:00:00")) == 1.0
    assert dst_hours("none", 5.5, _t("2026-07-01T00:00:00")) == 0.0


def test_users_of_a_country_live_in_its_zones_at_their_shares():
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {"population.users": 40_000, "population.locales": {"en_US": 1.0}},
    )
    pop = Simulation(sc).population
    offsets = pop.utc_offset_h
    n = len(offsets)
    for share, std, _ in ZONES["en_US"]:
        got = (offsets == std).mean()
        assert abs(got - share) <= 4 * np.sqrt(share * (1 - share) / n), (std, got)
