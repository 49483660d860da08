"""The delivery layer's faults, accounted for in the truth ledger (counted from files)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from simulator import simulate_to_dir
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, read_jsonl

FAULTS = {
    "population.users": 300,
    "duration": "8h",
    "start": "2026-01-05T08:00:00Z",
    "delivery.loss": {"search": 0.05, "click": 0.1, "app_close": 0.5},
    "delivery.duplicates.prob": {"click": 0.3, "search": 0.1},
    "delivery.offline": {
        "rate_per_day": 6,
        "unflushed_tail_prob": 0.2,
        "duration": {"dist": "lognormal", "median": "30m", "sigma": 0.5},
    },
    "delivery.clock_skew": {"offset_sd": "2m", "drift_ppm_sd": 20},
}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    out = tmp_path_factory.mktemp("faulty")
    summary = simulate_to_dir(load_scenario(SCENARIOS / "baseline.yaml", FAULTS), out)
    return out, summary


def test_every_event_is_lost_or_delivered_and_each_delivery_accounted(faulty):
    out, summary = faulty
    lines = Counter(e["event_id"] for e in read_jsonl(out / "events.jsonl"))
    ledger = read_jsonl(out / "truth" / "events.jsonl")
    assert {e["event_id"] for e in ledger} >= set(lines)
    for e in ledger:
        assert lines.get(e["event_id"], 0) == e["deliveries"]
        assert (e["received_at"] is None) == (e["deliveries"] == 0)
    lost = sum(e["deliveries"] == 0 and not e["offline"] for e in ledger)
    unsent = sum(e["deliveries"] == 0 and e["offline"] for e in ledger)  # cached at the end
    once = sum(e["deliveries"] == 1 for e in ledger)
    duplicated = sum(e["deliveries"] > 1 for e in ledger)
    assert lost > 0 and duplicated > 0
    assert len(ledger) == lost + unsent + once + duplicated == summary.generated_events
    assert summary.unsent_events == unsent
    assert sum(lines.values()) == summary.events == sum(e["deliveries"] for e in ledger)
    assert summary.lost_events == lost
    assert summary.duplicate_deliveries == sum(lines.values()) - len(lines)
    sessions = read_jsonl(out / "truth" / "sessions.jsonl")
    assert sum(len(s["event_ids"]) for s in sessions) == len(ledger)


def test_loss_hits_the_configured_types_at_their_rates(faulty):
    out, summary = faulty
    ledger = read_jsonl(out / "truth" / "events.jsonl")
    by_type = Counter(e["type"] for e in ledger)
    lost = Counter(e["type"] for e in ledger if e["deliveries"] == 0 and not e["offline"])
    assert set(lost) == {"search", "click", "app_close"}
    assert summary.lost_by_type == dict(sorted(lost.items()))
    for kind, p in FAULTS["delivery.loss"].items():
        n = by_type[kind]
        assert abs(lost[kind] - n * p) < 4 * (n * p * (1 - p)) ** 0.5, kind


def test_offline_events_arrive_after_their_outage(faulty):
    out, summary = faulty
    ledger = read_jsonl(out / "truth" / "events.jsonl")
    offline = [e for e in ledger if e["offline"] and e["deliveries"]]
    assert len(offline) == summary.offline_buffered_events > 20
    assert min(e["delay_s"] for e in offline) > 0
    assert sorted(e["delay_s"] for e in offline)[len(offline) // 2] > 60  # typically long
    online = [e for e in ledger if e["deliveries"] and not e["offline"]]
    assert max(e["delay_s"] for e in online) < 90  # queued for a flush interval, then sent


def test_arrival_order_holds_with_faults(faulty):
    out, _ = faulty
    received = [e["received_at"] for e in read_jsonl(out / "events.jsonl")]
    assert received == sorted(received)


def test_clock_skew_changes_ts_but_never_truth_times(faulty, tmp_path):
    out, _ = faulty
    unskewed = dict(FAULTS, **{"delivery.clock_skew": {"offset_sd": "0s"}})
    simulate_to_dir(load_scenario(SCENARIOS / "baseline.yaml", unskewed), tmp_path)
    ids = ("session_id", "user_id", "event_ids", "search_id")  # salted by the scenario

    def without_ids(path: Path) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ids} for r in read_jsonl(path)]

    for name in ("sessions.jsonl", "searches.jsonl"):
        assert without_ids(out / "truth" / name) == without_ids(tmp_path / "truth" / name)
    skewed = read_jsonl(out / "truth" / "events.jsonl")
    plain = read_jsonl(tmp_path / "truth" / "events.jsonl")
    assert [e["true_ts"] for e in skewed] == [e["true_ts"] for e in plain]
    assert all(e["ts"] == e["true_ts"] for e in plain)
    stamped_off = sum(e["ts"] != e["true_ts"] for e in skewed)
    assert stamped_off > 0.9 * len(skewed)
    summary = orjson.loads((out / "truth" / "summary.json").read_bytes())
    assert abs(summary["skewed_events"] - stamped_off) <= 0.01 * len(skewed)  # ms rounding
    assert [e["received_at"] for e in skewed] == [e["received_at"] for e in plain]


def test_observable_ctr_accounts_for_lost_clicks(faulty):
    _, summary = faulty
    assert summary.observable_ctr < summary.ctr  # lost clicks hide clicked searches
    assert summary.observable_searches < summary.searches  # lost search events


def test_determinism_with_faults_on(faulty, tmp_path):
    out, _ = faulty
    simulate_to_dir(load_scenario(SCENARIOS / "baseline.yaml", FAULTS), tmp_path)
    for name in (
        "events.jsonl",
        "truth/events.jsonl",
        "truth/sessions.jsonl",
        "truth/summary.json",
    ):
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name
    assert orjson.loads((tmp_path / "truth/summary.json").read_bytes())["lost_events"] > 0
