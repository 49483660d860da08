"""Live runs report what Locust and k6 users look for (issue 22, parts 1 and 2): request
and acknowledgement latency per second and over the run (p50, p95, p99, max), failures
counted by reason, and a paced run that cannot keep its schedule ends with its own code."""

from __future__ import annotations

import csv

import orjson

from tests.conftest import SCENARIOS
from tests.helpers import one_line_error, read_jsonl, run_cli

SMALL = ["--users", "200", "--duration", "1h", "--start", "2026-01-05T08:00:00Z"]
INJECTED_MS = 200.0


def _live(run) -> dict:
    return orjson.loads((run / "truth" / "summary.json").read_bytes())["live"]


def _stream(capsys, monkeypatch, run, sink, *flags):
    return run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--sink", sink, "--out", str(run), *flags,
    )  # fmt: skip


def test_latency_percentiles_follow_the_collectors_injected_latency(
    collector, tmp_path, capsys, monkeypatch
):
    slow, fast = collector(latency_s=INJECTED_MS / 1000), collector()
    runs = {}
    for name, c in (("slow", slow), ("fast", fast)):
        run = tmp_path / name
        stats = tmp_path / f"{name}.csv"
        code, _, err = _stream(
            capsys, monkeypatch, run, f"http://{c.address}/e", "--http-batch", "200",
            "--stats-csv", str(stats),
        )  # fmt: skip
        assert code == 0, err
        runs[name] = (_live(run), list(csv.DictReader(stats.open())), err)
    live, rows, err = runs["slow"]
    for kind in ("request_latency_ms", "ack_latency_ms"):
        q = live[kind]
        assert INJECTED_MS <= q["p50_ms"] <= q["p95_ms"] <= q["p99_ms"] <= q["max_ms"], (kind, q)
    assert runs["fast"][0]["request_latency_ms"]["p50_ms"] < INJECTED_MS
    # Each second's window in the CSV, and the final line on stderr.
    p99 = [float(r["ack_p99_ms"]) for r in rows if r["ack_p99_ms"]]
    assert p99 and min(p99) >= INJECTED_MS
    assert "ack latency p50" in err.strip().splitlines()[-2]


def test_failures_are_counted_by_reason(collector, tmp_path, capsys, monkeypatch):
    c = collector(fail_rate=1.0)
    run = tmp_path / "run"
    code, _, err = _stream(capsys, monkeypatch, run, f"http://{c.address}/e", "--retries", "0")
    assert code == 1
    live = _live(run)
    reasons = live["failures_by_reason"]
    assert sum(reasons.values()) == live["failed"] + live["unsent"] > 0
    assert any("500" in reason for reason in reasons), reasons
    assert "by reason" in err


def test_a_run_that_falls_behind_its_schedule_ends_with_its_own_code(
    collector, tmp_path, capsys, monkeypatch
):
    """A day of 2,000 users at 1,000,000x is due in 86 ms of wall time: no generator keeps
    that, so a 10 ms --max-lag ends the run (exit 4, one line); what was acknowledged is
    still the truth."""
    c = collector()
    run = tmp_path / "run"
    code, _, err = _stream(
        capsys, monkeypatch, run, f"http://{c.address}/e", "--realtime", "--speed", "1000000",
        "--users", "2000", "--duration", "1d", "--max-lag", "10ms",
    )  # fmt: skip
    assert code == 4
    line = one_line_error(err.strip().splitlines()[-1] + "\n")
    assert "--max-lag" in line and "behind its schedule" in line
    live = _live(run)
    assert live["stopped_by"] == "--max-lag"
    collected = sorted(r["event_id"] for r in read_jsonl(tmp_path / "collected.jsonl"))
    assert collected == sorted(r["event_id"] for r in read_jsonl(run / "events.jsonl"))


def test_a_run_that_keeps_its_schedule_passes_max_lag(collector, tmp_path, capsys, monkeypatch):
    c = collector()
    code, _, err = _stream(
        capsys, monkeypatch, tmp_path / "run", f"http://{c.address}/e", "--realtime",
        "--speed", "3600", "--max-lag", "30s",
    )  # fmt: skip
    assert code == 0, err


def test_max_lag_needs_a_schedule(tmp_path, capsys, monkeypatch):
    code, _, err = _stream(capsys, monkeypatch, tmp_path / "run", "stdout", "--max-lag", "1s")
    assert code == 2 and "--max-lag: needs --realtime" in one_line_error(err)
