"""One parity matrix: every bundled scenario x every backend, the same sessions and totals.

Each backend runs on the same delivered stream (a small slice of the scenario) in each mode
it has; its sessions (by event ids), late events, counts and CTR totals must equal the
reference's in the same mode. DuckDB (batch) is held to the reference with nothing late,
and ``bytewax-window`` to the reference in the mode it documents.
"""

from __future__ import annotations

import dataclasses

import pytest

from sessionizer import CtrTotals, GapSessionizer, Late, SessionConfig, resolve, searches_of
from sessionizer.runloop import outputs_of
from sessionsim.pipeline import sim_events
from simulator import Simulation
from simulator.truth import Ledger
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

pytestmark = pytest.mark.slow  # end-to-end simulations

pytest.importorskip("bytewax")
pytest.importorskip("duckdb")

NAMES = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
SMALL = {"population.users": 600, "duration": "6h"}
GAP, LATENESS = 600_000, 30_000  # 10m and 30s: some events are late in most scenarios


def _stream(name: str) -> list:
    sc = load_scenario(SCENARIOS / f"{name}.yaml", SMALL)
    sim = Simulation(sc)
    return list(sim_events(sim, Ledger(sim.codec)))


def _outcome(sz, events, config: SessionConfig):
    out = list(outputs_of(sz, iter(events)))
    totals = CtrTotals()
    sessions = []
    for o in out:
        if not isinstance(o, Late):
            totals.add(searches_of(o.events, config.attribution))
            sessions.append((o.user_id, o.start, o.end, tuple(e.event_id for e in o.events)))
    late = sorted(o.event.event_id for o in out if isinstance(o, Late))
    c = sz.counts
    return sorted(sessions), late, (c.accepted, c.late, c.duplicates), totals.summary()


BACKENDS = [
    ("vectorized", {}),
    ("bytewax", {"workers": 1}),
    ("bytewax", {"workers": 2}),
]


@pytest.mark.parametrize("name", NAMES)
def test_every_backend_agrees_on_every_scenario(name):
    events = _stream(name)
    for watermark in ("global", "per_user"):
        config = SessionConfig(
            gap_ms=GAP, lateness_ms=LATENESS, watermark=watermark, idle_ms=60_000
        )
        expected = _outcome(GapSessionizer(config), events, config)
        for backend, options in BACKENDS:
            got = _outcome(resolve(backend)(config, **options), events, config)
            assert got == expected, (name, watermark, backend, options)

    # Batch: the reference with nothing late.
    config = SessionConfig(gap_ms=GAP, lateness_ms=10**13)
    expected = _outcome(GapSessionizer(config), events, config)
    assert expected[2][1] == 0
    assert _outcome(resolve("duckdb")(config), events, config) == expected, (name, "duckdb")

    # Bytewax's SessionWindower: the reference per user, idle infinite, no dedup.
    window = SessionConfig(gap_ms=GAP, lateness_ms=LATENESS)
    kept = dataclasses.replace(window, watermark="per_user", idle_ms=10**13, dedup=False)
    expected = _outcome(GapSessionizer(kept), events, kept)
    got = _outcome(resolve("bytewax-window")(window), events, window)
    assert got == expected, (name, "bytewax-window")


def test_a_two_process_bytewax_cluster_agrees_on_the_late_mobile_scenario():
    events = _stream("late_mobile")
    for watermark in ("global", "per_user"):
        config = SessionConfig(gap_ms=GAP, lateness_ms=LATENESS, watermark=watermark)
        expected = _outcome(GapSessionizer(config), events, config)
        assert expected[2][1] > 0  # late events exist: the watermark is exercised
        got = _outcome(resolve("bytewax")(config, workers=2, processes=2), events, config)
        assert got == expected, watermark


def test_run_on_a_two_process_cluster_reports_what_one_process_reports(tmp_path):
    import json

    from sessionsim.pipeline import run_scenario
    from sessionsim.scenario import RunScenario

    def report(sessionizer: str, processes: int, **options) -> dict:
        spec = {"sessionizer": sessionizer, "gap": "10m", "lateness": "30s", "options": options}
        sc = load_scenario(
            SCENARIOS / "late_mobile.yaml",
            {**SMALL, "backend.replicas": 2, "sessionizers": [spec]},
            model=RunScenario,
        )
        out = tmp_path / f"{sessionizer}-{processes}"
        run_scenario(sc, out, realism=False, processes=processes)
        r = json.loads((out / "report.json").read_text())
        return {k: v for k, v in r.items() if k not in ("sessionizer", "label")}

    one = report("reference", 1)
    assert one["late_events"] > 0
    assert report("bytewax", 2, workers=2) == one
    assert report("bytewax", 1) == one
