"""`run`, `sessionize` and `check` end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pytest

from sessionsim.pipeline import run_scenario
from sessionsim.scenario import RunScenario
from simulator.durations import format_duration
from tests.conftest import SCENARIOS
from tests.helpers import (
    EXACT_FLAGS,
    SCORE_KEYS,
    copy_run,
    load_scenario,
    one_line_error,
    read_jsonl,
    run_cli,
)

SMALL = {"population.users": 300, "duration": "8h", "start": "2026-01-05T08:00:00Z"}


def _scenario(**spec) -> RunScenario:
    return load_scenario(
        SCENARIOS / "baseline.yaml", {**SMALL, "sessionizers": [spec]}, model=RunScenario
    )


def test_reference_recovers_true_visits_with_generous_gap(tmp_path):
    sc = _scenario(gap="1d", lateness="1m", split_on_app_open=True)
    (report,) = run_scenario(sc, tmp_path)
    assert report.sessions_true > 200
    assert report.sessions_exact == report.sessions_true == report.sessions_found
    assert report.splits == report.merges == report.late_events == 0
    assert report.pairwise_f1 == 1.0
    assert report.ctr_measured == report.ctr_true
    assert report.searches_measured == report.searches_true


def test_short_gap_splits_visits_and_lowers_recall(tmp_path):
    (report,) = run_scenario(_scenario(gap="20s", lateness="1m"), None)
    assert report.splits > 50 and report.pairwise_recall < 0.9
    assert report.sessions_found > report.sessions_true


def test_in_process_run_equals_check_on_written_files(tmp_path, capsys, monkeypatch):
    sc = _scenario(gap="30m", lateness="2s")
    (in_process,) = run_scenario(sc, tmp_path)
    args = ("check", str(tmp_path), "--gap", "30m", "--lateness", "2s")
    code, out, err = run_cli(capsys, monkeypatch, *args, "--sessionizer", "reference")
    assert code == 0, err
    from_files = orjson.loads((tmp_path / "report.json").read_bytes())
    assert from_files == in_process.to_dict()
    assert "CTR measured" in out and "pairwise" in out
    _assert_vectorized_default_agrees(capsys, monkeypatch, args, tmp_path, in_process)


def _assert_vectorized_default_agrees(capsys, monkeypatch, args, run_dir, in_process):
    """check's default (vectorized) reports exactly what the reference did in process."""
    code, _, err = run_cli(capsys, monkeypatch, *args)
    assert code == 0, err
    report = orjson.loads((run_dir / "report.json").read_bytes())
    assert report["sessionizer"] == report["label"] == "vectorized"
    names = ("sessionizer", "label")
    assert {k: v for k, v in report.items() if k not in names} == {
        k: v for k, v in in_process.to_dict().items() if k not in names
    }


def test_check_scores_a_sessions_file_like_its_own_run(small_run, tmp_path, capsys, monkeypatch):
    run_dir = copy_run(small_run, tmp_path)
    sessions = tmp_path / "s.jsonl"
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "sessionize",
        str(run_dir / "events.jsonl"),
        "--gap",
        "10m",
        "--lateness",
        "5s",
        "--out",
        str(sessions),
    )
    assert code == 0, err
    assert json.loads(err)["sessions"] == len(read_jsonl(sessions))
    assert (tmp_path / "s.late.jsonl").exists()
    run_cli(capsys, monkeypatch, "check", str(run_dir), "--gap", "10m", "--lateness", "5s")
    direct = orjson.loads((run_dir / "report.json").read_bytes())
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run_dir), "--sessions", str(sessions))
    assert code == 0, err
    scored = orjson.loads((run_dir / "report.json").read_bytes())
    for key in ("ctr_measured", "ctr_true", *SCORE_KEYS):
        assert scored[key] == direct[key], key
    assert scored["late_events"] is None  # unknown for sessions made elsewhere


def test_sessionize_composes_in_a_pipe(small_run, tmp_path):
    events = (small_run / "events.jsonl").read_bytes()
    late = tmp_path / "late.jsonl"
    args = ["sessionize", "-", "--gap", "30m", "--lateness", "0s", "--out", "-"]
    proc = subprocess.run(
        [sys.executable, "-m", "sessionsim", *args, "--late", str(late)],
        input=events,
        capture_output=True,
        check=True,
    )
    lines = proc.stdout.splitlines()
    summary = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert len(lines) == summary["sessions"] > 100
    placed = sum(len(orjson.loads(line)["event_ids"]) for line in lines)
    assert placed == summary["accepted"]
    assert summary["accepted"] + summary["late_events"] + summary["duplicates"] == len(
        events.splitlines()
    )
    assert summary["late_events"] == len(late.read_bytes().splitlines()) > 0  # none vanish
    # Without a place for late events, stdout output is refused; --drop-late counts them.
    refused = subprocess.run(
        [sys.executable, "-m", "sessionsim", *args], input=events, capture_output=True
    )
    assert refused.returncode == 2 and b"--late: required with --out -" in refused.stderr
    dropped = subprocess.run(
        [sys.executable, "-m", "sessionsim", *args, "--drop-late"],
        input=events,
        capture_output=True,
        check=True,
    )
    counted = json.loads(dropped.stderr.decode().strip().splitlines()[-1])
    assert counted["late_events"] == summary["late_events"] and counted["late_written_to"] is None


def test_corrupt_line_stops_with_its_number_and_no_output(small_run, tmp_path, capsys, monkeypatch):
    lines = (small_run / "events.jsonl").read_bytes().splitlines(keepends=True)
    lines[56] = b'{"event_id": "x", "type": "search", "user_id": "u", "ts": "yesterday"}\n'
    bad = tmp_path / "events.jsonl"
    bad.write_bytes(b"".join(lines))
    out = tmp_path / "sessions.jsonl"
    code, _, err = run_cli(capsys, monkeypatch, "sessionize", str(bad), "--out", str(out))
    line = one_line_error(err)
    assert code == 2 and f"{bad}:57: ts:" in line and "yesterday" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]


def test_truncated_json_line_is_reported(small_run, tmp_path, capsys, monkeypatch):
    lines = (small_run / "events.jsonl").read_bytes().splitlines(keepends=True)
    bad = tmp_path / "events.jsonl"
    bad.write_bytes(b"".join(lines[:10]) + lines[10][:25])
    code, _, err = run_cli(
        capsys, monkeypatch, "sessionize", str(bad), "--out", str(tmp_path / "s.jsonl")
    )
    assert code == 2 and ":11: (line): invalid JSON" in one_line_error(err)


def test_bad_gap_strings_are_one_line_errors(small_run, tmp_path, capsys, monkeypatch):
    for bad in ["30", "thirty minutes", "-5m", "0s"]:
        code, _, err = run_cli(
            capsys,
            monkeypatch,
            "sessionize",
            str(small_run / "events.jsonl"),
            "--gap",
            bad,
            "--out",
            str(tmp_path / "s.jsonl"),
        )
        line = one_line_error(err)
        assert code == 2 and line.startswith("sessionsim: --gap:"), line
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "sessionize",
        str(small_run / "events.jsonl"),
        "--lateness",
        "soon",
        "--out",
        str(tmp_path / "s.jsonl"),
    )
    assert code == 2 and "--lateness" in one_line_error(err)


def test_unknown_sessionizer_lists_known_and_suggests(small_run, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(small_run), "--sessionizer", "refrence"
    )
    line = one_line_error(err)
    assert code == 2 and "known: " in line and "reference" in line and "did you mean" in line


def test_plugin_by_module_path_is_scored_like_any_other(small_run, tmp_path, capsys, monkeypatch):
    run_dir = copy_run(small_run, tmp_path)
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "check",
        str(run_dir),
        "--sessionizer",
        "tests.sessionizer.plugin:WholeUser",
    )
    assert code == 0, err
    report = orjson.loads((run_dir / "report.json").read_bytes())
    assert report["merges"] > 0 and report["splits"] == 0  # one session per user
    assert report["pairwise_recall"] == 1.0 and report["pairwise_precision"] < 0.5


def test_gates_exit_with_distinct_status(small_run, tmp_path, capsys, monkeypatch):
    run_dir = copy_run(small_run, tmp_path)
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(run_dir), "--gap", "5s", "--min-pairwise-f1", "0.99"
    )
    assert code == 3 and "pairwise_f1" in one_line_error(err)
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "check",
        str(run_dir),
        *EXACT_FLAGS,
        "--max-ctr-error",
        "0",
    )
    assert code == 0, err


def test_run_checks_every_configured_setting(tmp_path, capsys, monkeypatch):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        (SCENARIOS / "baseline.yaml").read_text().split("sessionizers:")[0] + "sessionizers:\n"
        "  - {label: short, gap: 1m}\n"
        "  - {label: long, gap: 1h, lateness: 1m}\n"
    )
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "run",
        str(scenario),
        "--users",
        "150",
        "--duration",
        "4h",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 0, err
    short = orjson.loads((tmp_path / "o" / "report.short.json").read_bytes())
    long = orjson.loads((tmp_path / "o" / "report.long.json").read_bytes())
    assert short["gap"] == "1m" and long["gap"] == "1h"
    assert short["splits"] > long["splits"]
    assert short["ctr_true"] == long["ctr_true"]  # the same stream for both
    assert out.count("CTR measured") == 2


def test_run_flags_replace_scenario_sessionizers(tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "run",
        str(SCENARIOS / "baseline.yaml"),
        "--users",
        "100",
        "--duration",
        "2h",
        "--gap",
        "7m",
    )
    assert code == 0, err
    assert "gap 7m, lateness 2m" in out


def test_report_has_ctr_by_position_and_per_bucket(small_run, tmp_path, capsys, monkeypatch):
    run_dir = copy_run(small_run, tmp_path)
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "check",
        str(run_dir),
        *EXACT_FLAGS,
        "--bucket",
        "1h",
    )
    assert code == 0, err
    report = orjson.loads((run_dir / "report.json").read_bytes())
    by_position = report["ctr_by_position"]
    assert list(by_position)[:3] == ["1", "2", "3"]
    assert by_position["1"] > by_position["10"]  # attractive results are ranked first
    buckets = report["ctr_per_bucket"]
    assert len(buckets) >= 8 and all(k.endswith(":00:00.000Z") for k in buckets)
    searches = read_jsonl(run_dir / "truth" / "searches.jsonl")
    first_hour = min(buckets)
    in_hour = [s for s in searches if s["ts"][:13] == first_hour[:13]]
    assert buckets[first_hour] == sum(s["clicked"] for s in in_hour) / len(in_hour)
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run_dir), "--bucket", "never")
    assert code == 2 and "--bucket" in one_line_error(err)


def test_in_process_equals_files_with_every_fault_on(tmp_path, capsys, monkeypatch):
    faults = {
        "delivery.loss": {"click": 0.1, "app_close": 0.3},
        "delivery.duplicates.prob": {"click": 0.3, "search": 0.1},
        "delivery.offline": {"rate_per_day": 6, "unflushed_tail_prob": 0.2},
        "delivery.clock_skew": {"offset_sd": "30s"},
    }
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {**SMALL, **faults, "sessionizers": [{"gap": "30m", "lateness": "5m"}]},
        model=RunScenario,
    )
    (in_process,) = run_scenario(sc, tmp_path)
    assert in_process.duplicates > 0 and in_process.late_events > 0
    args = ("check", str(tmp_path), "--gap", "30m", "--lateness", "5m")
    code, _, err = run_cli(capsys, monkeypatch, *args, "--sessionizer", "reference")
    assert code == 0, err
    assert orjson.loads((tmp_path / "report.json").read_bytes()) == in_process.to_dict()
    _assert_vectorized_default_agrees(capsys, monkeypatch, args, tmp_path, in_process)


def test_no_dedup_flag_keeps_repeated_deliveries(tmp_path, capsys, monkeypatch):
    args = [
        "run",
        str(SCENARIOS / "duplicates.yaml"),
        "--users",
        "150",
        "--duration",
        "6h",
        "--gap",
        "30m",
        "--lateness",
        "5m",
    ]
    code, out, err = run_cli(capsys, monkeypatch, *args, "--out", str(tmp_path / "on"))
    assert code == 0, err
    code, out, err = run_cli(
        capsys, monkeypatch, *args, "--no-dedup", "--out", str(tmp_path / "off")
    )
    assert code == 0, err
    on = orjson.loads((tmp_path / "on" / "report.json").read_bytes())
    off = orjson.loads((tmp_path / "off" / "report.json").read_bytes())
    assert on["dedup"] is True and off["dedup"] is False
    assert on["duplicates"] > 0 and off["duplicates"] == 0
    assert off["clicks_measured"] > on["clicks_measured"]


def test_per_user_watermark_flag_leaves_fewer_late_events_on_late_phones(capsys, monkeypatch):
    def late(*flags):
        code, out, _ = run_cli(
            capsys,
            monkeypatch,
            "run",
            str(SCENARIOS / "late_mobile.yaml"),
            "--users",
            "400",
            "--lateness",
            "5m",
            "--no-realism",
            *flags,
        )
        assert code == 0
        row = next(line for line in out.splitlines() if line.startswith("accepted / late"))
        return out, int(row.split("/")[-2].replace(",", ""))

    out, per_user = late("--watermark", "per-user", "--idle", "1m")
    assert "per-user watermark, idle 1m" in out
    assert per_user < late()[1]
    code, _, err = run_cli(capsys, monkeypatch, "run", "baseline", "--watermark", "user")
    assert code == 2 and "--watermark" in err


def test_a_failed_check_leaves_no_old_report(small_run, tmp_path, capsys, monkeypatch):
    run_dir = copy_run(small_run, tmp_path)
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run_dir), "--no-realism")
    assert code == 0 and (run_dir / "report.json").exists()
    (run_dir / "truth" / "summary.json").write_text("{}")
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run_dir), "--no-realism")
    assert code == 2 and not (run_dir / "report.json").exists()


@pytest.mark.parametrize("gate", ["--max-ctr-error", "--min-pairwise-f1"])
@pytest.mark.parametrize("value", ["nan", "inf", "-0.1", "1.5"])
def test_a_gate_that_could_not_fail_is_bad_input(
    small_run, tmp_path, capsys, monkeypatch, gate, value
):
    run_dir = copy_run(small_run, tmp_path)
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run_dir), gate, value)
    assert code == 2 and f"'{gate}': expected a number from 0 to 1" in one_line_error(err)


def test_check_uses_the_runs_own_setting_unless_a_flag_replaces_it(
    small_run, tmp_path, capsys, monkeypatch
):
    run_dir = copy_run(small_run, tmp_path)
    saved = load_scenario(run_dir / "scenario.yaml", model=RunScenario).sessionizers[0]
    code, out, _ = run_cli(capsys, monkeypatch, "check", str(run_dir), "--no-realism")
    report = orjson.loads((run_dir / "report.json").read_bytes())
    assert code == 0 and report["lateness"] == "1m" == format_duration(saved.lateness)
    assert "vectorized (gap 30m, lateness 1m)" in out  # which settings were used
    code, out, _ = run_cli(
        capsys, monkeypatch, "check", str(run_dir), "--no-realism", "--lateness", "5m"
    )
    assert code == 0 and "lateness 5m" in out


def test_unknown_repeated_and_unplaced_events_are_reported(
    small_run, tmp_path, capsys, monkeypatch
):
    run_dir = copy_run(small_run, tmp_path)
    code, _, _ = run_cli(
        capsys,
        monkeypatch,
        "sessionize",
        str(run_dir / "events.jsonl"),
        "--out",
        str(tmp_path / "s.jsonl"),
        "--lateness",
        "1d",
    )
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    first, second, dropped = (json.loads(lines[k]) for k in (0, 1, 5))
    second["event_ids"].append("not-an-event")
    lines[1] = json.dumps(second)
    del lines[5]  # a session no one reported
    ids = list(first["event_ids"])
    lines.insert(1, json.dumps(first))  # the same session twice
    first["event_ids"] = ids + ids[:1]  # and one id twice in a session
    lines[0] = json.dumps(first)
    (tmp_path / "mangled.jsonl").write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(
        capsys, monkeypatch, "check", str(run_dir), "--sessions", str(tmp_path / "mangled.jsonl")
    )
    assert code == 0, err
    report = orjson.loads((run_dir / "report.json").read_bytes())
    # Every extra placement is counted: the stranger is unknown, the id twice in one session
    # a repeat, and each id of the twin session a repeat while its visit is open (unknown
    # once the visit was scored).
    assert report["repeated_events"] >= 1 and report["unknown_events"] >= 1
    assert report["unknown_events"] + report["repeated_events"] == len(ids) + 2
    assert report["unplaced_events"] == len(dropped["event_ids"])
    assert "unknown / repeated / unplaced" in out
