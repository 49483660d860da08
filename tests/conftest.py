from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from simulator import simulate_to_dir
from tests.helpers import load_scenario

# Hypothesis profiles: ``dev`` explores new examples each run; ``ci`` (set by .ci/run) is
# derandomised, so a CI run is reproducible and a failure prints the example to replay.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """A small baseline run (300 users, 8 hours) shared by read-only tests."""
    out = tmp_path_factory.mktemp("small_run")
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {"population.users": 300, "duration": "8h", "start": "2026-01-05T08:00:00Z"},
    )
    simulate_to_dir(sc, out)
    return out


@pytest.fixture
def collector(tmp_path):
    """Start ``sessionsim collect`` servers on free ports (writing
    ``tmp_path/collected.jsonl``); each is shut down after the test."""
    import threading

    from sessionsim.live.collect import Collector

    def start(**options) -> Collector:
        c = Collector(("127.0.0.1", 0), tmp_path / "collected.jsonl", **options)
        threading.Thread(target=c.serve, daemon=True).start()
        started.append(c)
        return c

    started: list[Collector] = []
    yield start
    for c in started:
        c.shutdown()
        c.close()
