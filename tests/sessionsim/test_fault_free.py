"""On a fault-free stream, the only error a reference run leaves is its gap's."""

from __future__ import annotations

import orjson

from sessionizer import SessionConfig, batch_sessions
from sessionizer.records import read_events
from tests.conftest import SCENARIOS
from tests.helpers import read_jsonl, run_cli


def test_reference_covering_the_flush_interval_equals_the_batch_definition(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "run",
        str(SCENARIOS / "baseline.yaml"),
        "--users",
        "400",
        "--duration",
        "12h",
        "--gap",
        "30m",
        "--lateness",
        "1m",
        "--out",
        str(out),
    )
    assert code == 0, err
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["late_events"] == 0
    assert report["ctr_error_data"] == 0.0 and report["ctr_observable"] == report["ctr_true"]
    assert report["ctr_error"] == report["ctr_error_sessionizer"]  # the gap's part alone
    assert report["merges"] > 0  # quick returns: the 30m gap joins visits
    with open(out / "events.jsonl", "rb") as f:
        events = list(read_events(f, "events.jsonl"))
    config = SessionConfig(gap_ms=30 * 60_000, lateness_ms=60_000)
    expected = sorted(tuple(e.event_id for e in s.events) for s in batch_sessions(events, config))
    found = sorted(tuple(s["event_ids"]) for s in read_jsonl(out / "sessions.jsonl"))
    assert found == expected
    # What the check shows about the gap: splits and merges, and the realism block.
    assert report["realism"]["device_order_share"]["value"] == 1.0
