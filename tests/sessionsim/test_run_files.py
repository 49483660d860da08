"""Files (issue 19, part 6): a check never tracebacks on where its report goes, and a new
run into a directory leaves nothing of an earlier one beside its files."""

from __future__ import annotations

import orjson

from tests.conftest import SCENARIOS
from tests.helpers import copy_run, one_line_error, run_cli


def test_a_report_that_cannot_be_written_is_printed_or_written_where_told(
    small_run, tmp_path, capsys, monkeypatch
):
    run_dir = copy_run(small_run, tmp_path / "copy")
    (run_dir / "report.json").mkdir()  # the report's place is taken (as a read-only dir is)
    code, out, err = run_cli(capsys, monkeypatch, "check", str(run_dir), "--no-realism")
    assert code == 0
    assert "CTR measured" in out and "cannot write" in err and "Traceback" not in err
    elsewhere = tmp_path / "elsewhere.json"
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(run_dir), "--no-realism", "--report", str(elsewhere)
    )
    assert code == 0, err
    assert orjson.loads(elsewhere.read_bytes())["events"] > 0
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(run_dir), "--no-realism", "--report",
        str(run_dir / "report.json"),
    )  # fmt: skip
    assert code == 2 and "--report" in one_line_error(err)


def test_a_new_run_removes_an_earlier_runs_outputs(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    code, _, err = run_cli(
        capsys, monkeypatch, "run", str(SCENARIOS / "baseline.yaml"), "--users", "40",
        "--duration", "1h", "--out", str(out), "--no-realism",
    )  # fmt: skip
    assert code == 0, err
    assert (out / "report.json").exists() and (out / "sessions.jsonl").exists()
    code, _, err = run_cli(
        capsys, monkeypatch, "simulate", str(SCENARIOS / "baseline.yaml"), "--users", "40",
        "--duration", "1h", "--out", str(out), "--format", "parquet",
    )  # fmt: skip
    assert code == 0, err
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert left == [
        ".sessionsim.lock",
        "events.parquet",
        "scenario.yaml",
        "truth/events.parquet",
        "truth/searches.parquet",
        "truth/sessions.parquet",
        "truth/summary.json",
    ]
