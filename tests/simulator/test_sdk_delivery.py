"""Delivery as SDKs send: batches by the flush policy, in order per device, faults named."""

from __future__ import annotations

from collections import defaultdict

import pytest

from simulator import simulate_to_dir
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, read_jsonl

SMALL = {"population.users": 300, "duration": "8h", "start": "2026-01-05T08:00:00Z"}


def _run(tmp_path, overrides: dict, name: str = "baseline"):
    out = tmp_path / "run"
    summary = simulate_to_dir(
        load_scenario(SCENARIOS / f"{name}.yaml", {**SMALL, **overrides}), out
    )
    return out, summary


def _user(event: dict) -> str:
    return event["session_id"].split(".")[0]


def _out_of_order(events: list[dict]) -> int:
    """Count arrivals whose ``ts`` is before an earlier arrival of the same user."""
    last: dict[str, str] = {}
    bad = 0
    for e in events:
        if e["ts"] < last.get(e["user_id"], e["ts"]):
            bad += 1
        else:
            last[e["user_id"]] = e["ts"]
    return bad


FAULT_FREE = sorted(
    p.stem
    for p in SCENARIOS.glob("*.yaml")
    if load_scenario(p).delivery.perfect and load_scenario(p).delivery.parallel_requests == 1
)


def test_fault_free_scenarios_are_known():
    assert {"baseline", "long_pauses", "flash_crowd", "diurnal_week"} <= set(FAULT_FREE)


@pytest.mark.parametrize("name", FAULT_FREE)
def test_fault_free_devices_send_in_order_with_strictly_increasing_times(tmp_path, name):
    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    over = {"population.users": 300}
    if not sc.arrivals.bursts:
        over["duration"] = "6h"
    out, summary = _run(tmp_path, over, name)
    events = read_jsonl(out / "events.jsonl")
    assert len(events) > 500
    assert _out_of_order(events) == 0
    by_user = defaultdict(list)
    for e in events:
        by_user[e["user_id"]].append(e["ts"])
    for stamps in by_user.values():  # no ties: a search and its results never share a ms
        assert all(a < b for a, b in zip(stamps, stamps[1:]))
    assert summary.observable_ctr == summary.ctr


def test_batches_follow_the_flush_policy(tmp_path):
    out, _ = _run(tmp_path, {})
    truth = read_jsonl(out / "truth" / "events.jsonl")
    batches = defaultdict(list)
    for e in truth:
        batches[(_user(e), e["batch"])].append(e)
    assert len(batches) < 0.6 * len(truth)  # events really travel together
    sizes = [len(b) for b in batches.values()]
    assert max(sizes) <= 20 and max(sizes) > 3
    for batch in batches.values():
        assert len({e["received_at"] for e in batch}) == 1  # one request, one arrival
        assert batch[0]["request"] == batch[0]["batch"]  # no retries configured
    arrivals = defaultdict(list)
    for (user, _number), batch in sorted(batches.items()):
        arrivals[user].append(batch[0]["received_at"])
    for stamps in arrivals.values():  # a device's batches arrive in order
        assert stamps == sorted(stamps)


def test_parallel_requests_reorder_a_devices_events(tmp_path):
    out, _ = _run(
        tmp_path,
        {
            "delivery.parallel_requests": 4,
            "delivery.delay": {"dist": "lognormal", "median": "2s", "sigma": 1.5},
        },
    )
    assert _out_of_order(read_jsonl(out / "events.jsonl")) > 20


def test_retried_batches_repeat_events_and_can_land_after_newer_ones(tmp_path):
    out, summary = _run(tmp_path, {"delivery.duplicates.batch_retry_prob": 0.3})
    truth = read_jsonl(out / "truth" / "events.jsonl")
    retried = [e for e in truth if e["deliveries"] == 2]
    assert summary.duplicate_deliveries == len(retried) > 100
    assert any(e["request"] > e["batch"] for e in truth)  # retries are requests of their own
    assert _out_of_order(read_jsonl(out / "events.jsonl")) > 0


def test_a_killed_apps_queue_goes_out_at_the_next_launch(tmp_path):
    out, summary = _run(tmp_path, {"delivery.offline.unflushed_tail_prob": 1.0})
    truth = read_jsonl(out / "truth" / "events.jsonl")
    visits = defaultdict(list)
    for e in truth:
        visits[e["session_id"]].append(e)
    held = sent = 0
    for session, events in visits.items():
        user, number = session.split(".v")
        after = visits.get(f"{user}.v{int(number) + 1}")
        for e in events:
            if not e["offline"]:
                continue
            held += 1
            if after is None:  # the user never came back: never delivered
                assert e["deliveries"] == 0 and e["received_at"] is None
            else:  # sent at the next launch, before that visit's own events
                sent += 1
                assert after[0]["true_ts"] <= e["received_at"]
                assert e["received_at"] <= min(a["received_at"] or "~" for a in after)
    assert held > 100 and sent > 50
    assert summary.unsent_events == held - sent
    assert _out_of_order(read_jsonl(out / "events.jsonl")) == 0  # still in order per device
