"""Every bundled scenario loads, starts with its comment, and runs (large ones shrunk)."""

from __future__ import annotations

import pytest

from sessionsim.pipeline import run_scenario
from sessionsim.scenario import RunScenario
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

NAMES = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
SHRINK = {"population.users": 200}
LONGER = {"diurnal_week": {"duration": "2d"}, "million_users": {"duration": "3h"}}


def test_the_library_is_complete():
    assert set(NAMES) >= {
        "baseline",
        "long_pauses",
        "flash_crowd",
        "late_mobile",
        "duplicates",
        "lossy",
        "clock_skew",
        "diurnal_week",
        "million_users",
    }


@pytest.mark.parametrize("name", NAMES)
def test_scenario_starts_with_what_it_models(name):
    text = (SCENARIOS / f"{name}.yaml").read_text()
    head = [line for line in text.splitlines() if line.startswith("#")]
    assert text.startswith(f"# {name}:") and len(head) >= 3
    assert any("Expect" in line or "Stresses" in line for line in head)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_runs(name):
    full = load_scenario(SCENARIOS / f"{name}.yaml", model=RunScenario)
    overrides = {**SHRINK, "duration": min(full.duration, 86400.0), **LONGER.get(name, {})}
    if full.arrivals.bursts:  # keep the burst inside the shortened run
        overrides["duration"] = full.duration
    sc = load_scenario(
        SCENARIOS / f"{name}.yaml",
        {k: v if not isinstance(v, float) else f"{v:.0f}s" for k, v in overrides.items()},
        model=RunScenario,
    )
    reports = run_scenario(sc, None)
    assert len(reports) == len(full.sessionizers)
    for r in reports:
        assert r.sessions_true > 20 and r.searches_true > 20
        assert (r.accepted or 0) + (r.late_events or 0) + (r.duplicates or 0) > 0
