"""Whole runs against closed forms: click-model CTR, and what a flash crowd does."""

from __future__ import annotations

import math

import orjson
import pytest

from simulator import simulate_to_dir
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, read_jsonl


def _clicked_vs_expected(run_dir) -> tuple[int, float, float]:
    """Return (clicked pages, expected clicked pages, sd) over pages shown."""
    shown = [
        s for s in read_jsonl(run_dir / "truth" / "searches.jsonl") if s["results"] is not None
    ]
    clicked = sum(s["clicked"] for s in shown)
    mean = sum(s["p_click"] for s in shown)
    sd = math.sqrt(sum(s["p_click"] * (1 - s["p_click"]) for s in shown))
    return clicked, mean, sd


def test_default_run_ctr_matches_click_model_expectation(small_run):
    clicked, mean, sd = _clicked_vs_expected(small_run)
    assert sd > 5
    assert abs(clicked - mean) < 4 * sd  # sum of independent Bernoullis, 4 sigma
    summary = orjson.loads((small_run / "truth" / "summary.json").read_bytes())
    shown = summary["searches"] - summary["timed_out_searches"]
    assert summary["expected_ctr_served"] * shown == pytest.approx(mean, rel=1e-4)
    assert summary["expected_ctr"] * summary["searches"] == pytest.approx(mean, rel=1e-4)


def test_pbm_run_ctr_matches_click_model_expectation(tmp_path):
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {
            "population.users": 300,
            "duration": "8h",
            "clicks.model": "pbm",
            "start": "2026-01-05T08:00:00Z",
        },
    )
    simulate_to_dir(sc, tmp_path)
    clicked, mean, sd = _clicked_vs_expected(tmp_path)
    assert abs(clicked - mean) < 4 * sd
    searches = read_jsonl(tmp_path / "truth" / "searches.jsonl")
    assert max(s["clicks"] for s in searches) > 1  # PBM clicks several results


@pytest.mark.slow
def test_flash_crowd_saturates_backend_and_lowers_ctr(tmp_path):
    full = load_scenario(SCENARIOS / "flash_crowd.yaml")
    # A third of the users with a burst three times as strong: the same load during the burst.
    burst = full.arrivals.bursts[0]
    base = load_scenario(
        SCENARIOS / "flash_crowd.yaml",
        {
            "population.users": full.population.users // 3,
            "arrivals.bursts": [{"at": "8h", "length": "20m", "factor": burst.factor * 3}],
        },
    )
    assert burst.at == 8 * 3600 and burst.length == 1200
    calm = base.model_copy(update={"arrivals": base.arrivals.model_copy(update={"bursts": []})})
    crowd = simulate_to_dir(base, tmp_path / "crowd")
    quiet = simulate_to_dir(calm, tmp_path / "quiet")
    assert crowd.backend_latency_p99_s > 2 * quiet.backend_latency_p99_s
    assert crowd.timed_out_searches / crowd.searches > 0.05
    assert quiet.timed_out_searches / quiet.searches < 0.01
    # Users who gave up cannot click: behavioural CTR falls below the model's on pages shown,
    # while the closed form over every search (a timed-out search counts 0) still holds.
    assert crowd.ctr < crowd.expected_ctr_served - 0.05
    n = crowd.searches
    p = crowd.expected_ctr
    assert abs(crowd.ctr - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_the_summary_is_known_only_once_the_run_has_ended():
    from simulator import Simulation, SimulatorError
    from tests.helpers import load_scenario

    sim = Simulation(load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 50}))
    with pytest.raises(SimulatorError, match="once its run has ended"):
        _ = sim.summary
    from simulator import Ledger

    for _ in sim.batches(Ledger(sim.codec)):
        pass
    assert sim.summary.events > 0
