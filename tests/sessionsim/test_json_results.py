"""Results for machines (issue 22, part 4): `--json` prints the results as one JSON document
on stdout and nothing else there (the text goes to stderr), on run, check, sweep, stream
and sessionize; where stdout carries data (`--sink stdout`, `--out -`), it is refused."""

from __future__ import annotations

import jsonschema
import orjson

from tests.conftest import SCENARIOS
from tests.helpers import copy_run, one_line_error, run_cli

TINY = ["--users", "100", "--duration", "2h", "--start", "2026-01-05T08:00:00Z"]


def _valid(capsys, monkeypatch, record: str, document: object) -> None:
    """``document`` is valid against ``sessionsim schema --of record`` (the typed record's
    JSON Schema); a document with an unknown key or a wrong type is not."""
    code, out, err = run_cli(capsys, monkeypatch, "schema", "--of", record)
    assert code == 0, err
    schema = orjson.loads(out)
    jsonschema.validate(document, schema)
    if isinstance(document, dict):
        wrong = {**document, next(iter(document)): [["not", "this"]]}
        try:
            jsonschema.validate(wrong, schema)
        except jsonschema.ValidationError:
            return
        raise AssertionError(f"the {record} schema accepts anything")


def test_check_json_is_the_report(small_run, tmp_path, capsys, monkeypatch):
    run = copy_run(small_run, tmp_path)
    code, out, err = run_cli(capsys, monkeypatch, "check", str(run), "--json")
    assert code == 0, err
    assert orjson.loads(out) == orjson.loads((run / "report.json").read_bytes())
    assert "pairwise F1" in err or "pairwise" in err  # the text, on stderr
    _valid(capsys, monkeypatch, "report", orjson.loads(out))
    _valid(capsys, monkeypatch, "summary", orjson.loads((run / "truth/summary.json").read_bytes()))


def test_run_json_is_every_report(tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(
        capsys, monkeypatch, "run", str(SCENARIOS / "baseline.yaml"), *TINY, "--json",
        "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 0, err
    reports = orjson.loads(out)
    assert [r["label"] for r in reports] == ["reference"]
    assert "written to" in err


def test_sweep_json_is_its_rows(tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(
        capsys, monkeypatch, "sweep", str(SCENARIOS / "baseline.yaml"), *TINY,
        "--gap", "5m,30m", "--lateness", "1m", "--out", str(tmp_path / "sweep"), "--json",
    )  # fmt: skip
    assert code == 0, err
    rows = orjson.loads(out)
    assert [r["gap"] for r in rows] == ["5m", "30m"]
    for row in rows:
        _valid(capsys, monkeypatch, "sweep-row", row)


def test_stream_json_is_the_live_summary(collector, tmp_path, capsys, monkeypatch):
    c = collector()
    code, out, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *TINY,
        "--sink", f"http://{c.address}/e", "--out", str(tmp_path / "run"), "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = orjson.loads(out)
    assert summary["live"]["acknowledged"] == summary["events"] > 0
    _valid(capsys, monkeypatch, "live-summary", summary)
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *TINY,
        "--sink", "stdout", "--out", str(tmp_path / "b"), "--json",
    )  # fmt: skip
    assert code == 2 and "--sink stdout" in one_line_error(err)


def test_sessionize_json_is_the_summary(small_run, tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(
        capsys, monkeypatch, "sessionize", str(small_run / "events.jsonl"), "--out",
        str(tmp_path / "s.jsonl"), "--json",
    )  # fmt: skip
    assert code == 0, err
    assert orjson.loads(out)["searches"] > 0
