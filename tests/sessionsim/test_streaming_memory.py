"""Streaming: state held while checking in process follows open visits, not run length."""

from __future__ import annotations

from sessionizer import GapSessionizer
from sessionsim.check import measure
from sessionsim.pipeline import sim_events
from sessionsim.scenario import RunScenario
from sessionsim.scoring import Scorer
from simulator import Simulation
from simulator.truth import Ledger
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario


def test_scorer_state_stays_small_over_a_long_run():
    sc = load_scenario(
        SCENARIOS / "diurnal_week.yaml",
        {"population.users": 300, "duration": "4d"},
        model=RunScenario,
    )
    spec = sc.sessionizers[0]
    sim = Simulation(sc)
    scorer = Scorer()
    ledger = Ledger(sim.codec, on_visit=scorer.expect)
    peak = [0]

    def watched(events):
        for k, e in enumerate(events):
            if k % 200 == 0:
                peak[0] = max(peak[0], scorer.open_visits())
            yield e

    events = watched(sim_events(sim, ledger, scorer=scorer))
    measure(GapSessionizer(spec.config()), events, spec.config(), scorer)
    visits = sim.summary["sessions"]
    assert visits > 1000
    assert peak[0] < 0.05 * visits  # open visits, not every visit of the run
    assert scorer.open_visits() == 0  # everything settled once the stream ended
    assert scorer.score().sessions_true == visits
