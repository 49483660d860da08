"""`sessionsim simulate` end to end: determinism, seeds, bad input, atomic outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sessionsim.scenario import RunScenario
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, one_line_error, run_cli

pytestmark = pytest.mark.slow  # end-to-end simulations

SMALL = ["--users", "150", "--duration", "3h", "--start", "2026-01-05T09:00:00Z"]
OUTPUTS = [
    "events.jsonl",
    "truth/sessions.jsonl",
    "truth/searches.jsonl",
    "truth/summary.json",
    "scenario.yaml",
]


def _simulate(capsys, monkeypatch, out: Path, *extra: str) -> dict[str, bytes]:
    code, stdout, err = run_cli(
        capsys,
        monkeypatch,
        "simulate",
        str(SCENARIOS / "baseline.yaml"),
        "--out",
        str(out),
        *SMALL,
        *extra,
    )
    assert code == 0, err
    assert "CTR" in stdout and "events" in stdout
    return {name: (out / name).read_bytes() for name in OUTPUTS}


def test_same_seed_gives_byte_identical_outputs(tmp_path, capsys, monkeypatch):
    a = _simulate(capsys, monkeypatch, tmp_path / "a", "--seed", "3")
    b = _simulate(capsys, monkeypatch, tmp_path / "b", "--seed", "3")
    assert a == b
    assert len(a["events.jsonl"]) > 10_000


def test_different_seeds_give_different_streams(tmp_path, capsys, monkeypatch):
    a = _simulate(capsys, monkeypatch, tmp_path / "a", "--seed", "3")
    b = _simulate(capsys, monkeypatch, tmp_path / "b", "--seed", "4")
    assert a["events.jsonl"] != b["events.jsonl"]
    ids_a = {json.loads(line)["event_id"] for line in a["events.jsonl"].splitlines()}
    ids_b = {json.loads(line)["event_id"] for line in b["events.jsonl"].splitlines()}
    assert not ids_a & ids_b


def test_resolved_scenario_reproduces_the_run(tmp_path, capsys, monkeypatch):
    a = _simulate(capsys, monkeypatch, tmp_path / "a", "--seed", "5")
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "simulate",
        str(tmp_path / "a" / "scenario.yaml"),
        "--out",
        str(tmp_path / "b"),
    )
    assert code == 0, err
    assert (tmp_path / "b" / "events.jsonl").read_bytes() == a["events.jsonl"]
    resolved = load_scenario(tmp_path / "a" / "scenario.yaml", model=RunScenario)
    assert resolved.seed == 5 and resolved.population.users == 150 and resolved.duration == 10800


def test_no_partial_files_left_behind(tmp_path, capsys, monkeypatch):
    _simulate(capsys, monkeypatch, tmp_path / "a")
    leftovers = [p for p in (tmp_path / "a").rglob("*") if p.name.endswith(".partial")]
    assert leftovers == []


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("population:\n  users: 10\nbogus: 1\n", ["bogus", "unknown key"]),
        ("population:\n  usres: 10\n", ["population.usres", "did you mean 'users'?"]),
        ("durration: 1d\n", ["durration", "did you mean 'duration'?"]),
        ("seed: 1\nseed: 2\n", ["line 2", "duplicate key 'seed'"]),
        ("", ["empty", "write {}"]),
        ("visit:\n  no_search_prob: .nan\n", ["visit.no_search_prob", "finite"]),
        ("clicks:\n  examination_decay: .inf\n", ["clicks.examination_decay", "finite"]),
        ('population:\n  users: "100"\n', ["population.users", "'100'"]),
        ("seed: true\n", ["seed", "True"]),
        ("a: " + "[" * 50_000 + "\n", ["invalid YAML"]),
        ("delivery: {loss: 5}\n", ["delivery.loss: expected a mapping of keys (got 5)"]),
        ("visit: {dwell_time: {dist: gamma}}\n", ["dist: expected one of 'lognormal'"]),
        ("population:\n  userz: 10\n", ["population.userz"]),
        ("population:\n  users: many\n", ["population.users", "many"]),
        ("population:\n  users: -5\n", ["population.users", "-5"]),
        ("backend:\n  servers: 0\n", ["backend.servers", "0"]),
        ("visit:\n  silent_close_prob: 1.5\n", ["visit.silent_close_prob", "1.5"]),
        ("visit:\n  long_pause_prob: -0.1\n", ["visit.long_pause_prob"]),
        ("clicks:\n  model: ubm\n", ["clicks.model", "ubm"]),
        ("duration: 30\n", ["duration", "expected a duration"]),
        ("duration: 0s\n", ["duration", "greater than 0"]),
        (
            "backend:\n  service_time: {dist: exponential, mean: -1s}\n",
            ["backend.service_time", "expected a duration"],
        ),
        ("population:\n  locales: {xx_XX: 1}\n", ["population.locales", "xx_XX"]),
        ("arrivals:\n  hourly_weights: [1, 2]\n", ["arrivals.hourly_weights", "24"]),
        ("start: yesterday\n", ["start", "ISO 8601"]),
        ("population: [1, 2\n", ["invalid YAML", "line"]),
        ("- 1\n- 2\n", ["expected a mapping"]),
    ],
)
def test_bad_scenario_is_one_line_exit_2(tmp_path, capsys, monkeypatch, text, needles):
    path = _write(tmp_path, text)
    code, _, err = run_cli(
        capsys, monkeypatch, "simulate", str(path), "--out", str(tmp_path / "out")
    )
    assert code == 2
    line = one_line_error(err)
    assert str(path) in line
    for needle in needles:
        assert needle in line
    assert not (tmp_path / "out" / "events.jsonl").exists()


def test_a_scenario_that_is_not_utf8_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xff\xfeseed: 1\n")
    code, _, err = run_cli(
        capsys, monkeypatch, "simulate", str(path), "--out", str(tmp_path / "out")
    )
    assert code == 2 and "not UTF-8 text (byte 0xff at offset 0)" in one_line_error(err)


def test_all_problems_of_a_file_reported_together(tmp_path, capsys, monkeypatch):
    path = _write(tmp_path, "population:\n  users: -1\nbackend:\n  servers: 0\n")
    code, _, err = run_cli(capsys, monkeypatch, "simulate", str(path), "--out", str(tmp_path / "o"))
    line = one_line_error(err)
    assert code == 2 and "population.users" in line and "backend.servers" in line


def test_missing_scenario_file(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, monkeypatch, "simulate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")
    )
    assert code == 2 and "nope.yaml" in one_line_error(err)


def test_bad_override_names_the_field(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "simulate",
        str(SCENARIOS / "baseline.yaml"),
        "--out",
        str(tmp_path / "o"),
        "--duration",
        "6 parsecs",
    )
    line = one_line_error(err)
    assert (
        code == 2
        and line.startswith("sessionsim: --duration: expected a duration")
        and "6 parsecs" in line
    )


def test_output_dir_that_is_a_file(tmp_path, capsys, monkeypatch):
    target = tmp_path / "taken"
    target.write_text("keep me")
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "simulate",
        str(SCENARIOS / "baseline.yaml"),
        "--out",
        str(target),
        *SMALL,
    )
    assert code == 2 and "is a file" in one_line_error(err)
    assert target.read_text() == "keep me"


def test_schema_command_prints_json_schema(capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "schema")
    schema = json.loads(out)
    assert code == 0 and "population" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_same_bytes_across_processes_with_different_hash_seeds(tmp_path):
    """No output depends on set or dict iteration order of strings (hash randomization)."""
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sessionsim",
                "run",
                str(SCENARIOS / "lossy.yaml"),
                "--users",
                "120",
                "--duration",
                "4h",
                "--out",
                str(out),
            ],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            check=True,
            capture_output=True,
        )
        outputs.append(
            {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        )
    assert outputs[0] == outputs[1] and len(outputs[0]) >= 10


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (("--users", "0"), "sessionsim: --users: Input should be greater than 0 (got 0)"),
        (("--seed", "-1"), "sessionsim: --seed: Input should be greater than or equal to 0"),
        (("--duration", "0s"), "sessionsim: --duration: Input should be greater than 0"),
    ],
)
def test_a_bad_flag_value_is_blamed_on_the_flag(tmp_path, capsys, monkeypatch, flags, needle):
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "simulate",
        str(SCENARIOS / "baseline.yaml"),
        "--out",
        str(tmp_path / "out"),
        *flags,
    )
    assert code == 2 and one_line_error(err).startswith(needle)
    assert "baseline.yaml" not in err
