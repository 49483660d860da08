"""Each delivery fault's effect on what a sessionizer reports, in the right direction."""

from __future__ import annotations

from sessionsim.pipeline import run_scenario
from sessionsim.scenario import RunScenario
from sessionsim.scoring.report import Report
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

SMALL = {"population.users": 400, "duration": "12h", "start": "2026-01-05T06:00:00Z"}
# A setting that recovers true visits exactly when delivery is perfect.
EXACT = {"gap": "1d", "lateness": "1d", "split_on_app_open": True}


def _reports(name: str, overrides: dict, *specs: dict) -> list[Report]:
    sc = load_scenario(
        SCENARIOS / f"{name}.yaml",
        {**SMALL, **overrides, "sessionizers": list(specs)},
        model=RunScenario,
    )
    return run_scenario(sc, None)


def test_duplicates_inflate_clicks_per_search_only_without_dedup():
    dedup, raw = _reports(
        "duplicates", {}, {"label": "on", **EXACT}, {"label": "off", "dedup": False, **EXACT}
    )
    assert dedup.duplicates > 100 and raw.duplicates == 0
    # Dedup on: every count is exact.
    assert dedup.searches_measured == dedup.searches_true
    assert dedup.clicks_measured / dedup.searches_measured == dedup.clicks_per_search_true
    assert dedup.ctr_measured == dedup.ctr_true and dedup.sessions_exact == dedup.sessions_true
    # Dedup off: clicks per search rises, the any-click CTR does not.
    assert raw.clicks_per_search_measured > 1.1 * dedup.clicks_per_search_measured
    assert raw.ctr_measured <= dedup.ctr_measured


def test_offline_batches_with_small_lateness_are_late_and_lose_searches():
    minutes, hours = _reports(
        "late_mobile",
        {},
        {"label": "5m", "gap": "30m", "lateness": "5m"},
        {"label": "1d", **EXACT},
    )
    assert minutes.late_events > 100
    # Batches arrive whole: a late batch takes searches with their clicks, so searches go
    # missing while the CTR of those found stays within noise of the truth.
    assert minutes.searches_measured < hours.searches_measured - 20
    lo, hi = minutes.ctr_measured_ci95
    assert lo <= minutes.ctr_true <= hi
    assert hours.late_events == 0  # lateness covering the outages: no late events
    assert hours.ctr_measured == hours.ctr_observable


def test_lost_app_close_does_not_change_ctr_without_close_marker():
    spec = {"gap": "30m", "lateness": "1m"}
    (lossy,) = _reports("baseline", {"delivery.loss": {"app_close": 0.6}}, spec)
    (clean,) = _reports("baseline", {}, spec)
    assert lossy.accepted < clean.accepted  # the closes really are gone
    for key in ("ctr_measured", "searches_measured", "clicks_measured"):
        assert getattr(lossy, key) == getattr(clean, key), key


def test_lost_clicks_are_the_datas_part_of_the_error():
    (report,) = _reports("baseline", {"delivery.loss": {"click": 0.2}}, EXACT)
    assert report.ctr_error_data < -0.02  # observable below behavioural
    assert report.ctr_error_sessionizer == 0.0  # the sessionizer did all it could


def test_clock_skew_needs_lateness_covering_it():
    small, large = _reports(
        "clock_skew",
        {},
        {"label": "10s", "gap": "30m", "lateness": "10s"},
        {"label": "1h", "gap": "30m", "lateness": "1h"},
    )
    assert small.late_events > 0.5 * small.accepted
    assert large.late_events == 0
    assert large.searches_measured == large.searches_true
