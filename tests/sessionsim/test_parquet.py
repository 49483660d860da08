"""Parquet runs: typed columns, and every command reads them as it reads JSON lines."""

from __future__ import annotations

import orjson
import pytest

from sessionsim.realism.metrics import measure_realism
from simulator import simulate_to_dir
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, one_line_error, read_jsonl, run_cli

SMALL = {"population.users": 300, "duration": "8h", "start": "2026-01-05T08:00:00Z"}
FAULTS = {
    "delivery.loss": {"click": 0.1},
    "delivery.duplicates.prob": {"click": 0.2},
    "delivery.offline": {"rate_per_day": 4, "unflushed_tail_prob": 0.2},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same faulty scenario and seed, written as JSON lines and as Parquet."""
    sc = load_scenario(SCENARIOS / "baseline.yaml", {**SMALL, **FAULTS})
    out = {}
    for fmt in ("jsonl", "parquet"):
        out[fmt] = tmp_path_factory.mktemp(fmt)
        simulate_to_dir(sc, out[fmt], fmt=fmt)
    return out


def test_parquet_columns_are_typed_and_hold_the_same_rows(runs):
    import pyarrow as pa
    import pyarrow.parquet as pq

    events = pq.read_table(runs["parquet"] / "events.parquet")
    assert events.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert events.schema.field("position").type == pa.int32()
    jsonl = read_jsonl(runs["jsonl"] / "events.jsonl")
    assert events.num_rows == len(jsonl)
    assert events.column("event_id").to_pylist() == [e["event_id"] for e in jsonl]
    from sessionizer.records import format_ts

    stamps = events.column("received_at").cast(pa.int64()).to_pylist()
    assert [format_ts(ms) for ms in stamps] == [e["received_at"] for e in jsonl]
    for name in ("sessions", "searches", "events"):
        table = pq.read_table(runs["parquet"] / "truth" / f"{name}.parquet")
        assert table.num_rows == len(read_jsonl(runs["jsonl"] / "truth" / f"{name}.jsonl"))
    assert (runs["parquet"] / "truth" / "summary.json").read_bytes() == (
        runs["jsonl"] / "truth" / "summary.json"
    ).read_bytes()


def test_check_reports_the_same_on_both_formats(runs, tmp_path, capsys, monkeypatch):
    reports = {}
    for fmt, run in runs.items():
        code, _, err = run_cli(capsys, monkeypatch, "check", str(run), "--lateness", "1h")
        assert code == 0, err
        reports[fmt] = orjson.loads((run / "report.json").read_bytes())
    assert reports["parquet"]["duplicates"] > 0
    assert reports["parquet"] == reports["jsonl"]


def test_realism_and_sessionize_read_parquet(runs, tmp_path, capsys, monkeypatch):
    a, b = measure_realism(runs["jsonl"]), measure_realism(runs["parquet"])
    assert a.values == b.values
    outs = {}
    for fmt, run in runs.items():
        out = tmp_path / f"{fmt}.sessions.jsonl"
        code, _, err = run_cli(
            capsys, monkeypatch, "sessionize", str(run / f"events.{fmt}"), "--out", str(out)
        )
        assert code == 0, err
        outs[fmt] = out.read_bytes()
    assert outs["parquet"] == outs["jsonl"] and outs["jsonl"]


def test_corrupt_parquet_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "events.parquet"
    bad.write_bytes(b"PAR1 not really")
    code, _, err = run_cli(
        capsys, monkeypatch, "sessionize", str(bad), "--out", str(tmp_path / "s.jsonl")
    )
    assert code == 2
    assert str(bad) in one_line_error(err)


def test_parquet_events_of_other_writers_are_read_or_refused_in_one_line(
    tmp_path, capsys, monkeypatch
):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts = pa.array([1767605400123456, 1767605401000000], type=pa.timestamp("us"))
    base = {"event_id": ["a", "b"], "type": ["search", "click"], "user_id": ["u", "u"], "ts": ts}
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    pq.write_table(pa.table({**base, "position": pa.array([None, 2], pa.int32())}), good)
    pq.write_table(pa.table(base), bad)  # a click without a position
    out = tmp_path / "s.jsonl"
    code, _, err = run_cli(capsys, monkeypatch, "sessionize", str(good), "--out", str(out))
    assert code == 0, err
    (session,) = read_jsonl(out)
    assert session["start"] == "2026-01-05T09:30:00.123Z" and session["clicked_searches"] == 1
    code, _, err = run_cli(capsys, monkeypatch, "sessionize", str(bad), "--out", str(out))
    assert code == 2 and "position" in one_line_error(err)
