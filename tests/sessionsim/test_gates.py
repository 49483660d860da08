"""Thresholds over any result (issue 22, part 3): `--gate 'KEY OP NUMBER'`, repeatable, on
`run`, `check` and `stream`, and a scenario's `gates:`; a malformed gate or an unknown key is
one line (exit 2), a missed gate names itself and its value (exit 3)."""

from __future__ import annotations

import pytest

from sessionsim.errors import SessionsimError
from sessionsim.gates import missed, parse_gate
from tests.conftest import SCENARIOS
from tests.helpers import copy_run, one_line_error, run_cli

RESULTS = {"ctr_abs_error": 0.004, "pairwise_f1": 0.91, "late": None, "live": {"p99_ms": 120.0}}


@pytest.mark.parametrize(
    "text, passes",
    [
        ("ctr_abs_error<=0.01", True),
        ("ctr_abs_error < 0.001", False),
        ("pairwise_f1>=0.9", True),
        ("pairwise_f1>0.95", False),
        ("live.p99_ms<250", True),
        ("live.p99_ms==120", True),
        ("live.p99_ms!=120", False),
        ("late<=1", False),  # not measured: a gate cannot pass on nothing
    ],
)
def test_a_gate_passes_or_names_its_miss(text, passes):
    lines = missed([parse_gate(text)], RESULTS)
    assert (lines == []) is passes
    if not passes:
        assert lines[0].startswith(parse_gate(text).key)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("ctr_abs_error<<0.1", "KEY OP NUMBER"),
        ("ctr_abs_error", "KEY OP NUMBER"),
        ("<=0.1", "KEY OP NUMBER"),
        ("ctr_abs_error<=abc", "not a number"),
        ("ctr_abs_error<=nan", "finite"),
    ],
)
def test_a_malformed_gate_is_refused(text, needle):
    with pytest.raises(SessionsimError, match=needle):
        parse_gate(text)


def test_an_unknown_key_names_the_keys_there_are():
    with pytest.raises(
        SessionsimError, match=r"unknown key 'live\.p50_ms' \(keys of live: p99_ms\)"
    ):
        missed([parse_gate("live.p50_ms<1")], RESULTS)


def test_check_gates_pass_fail_and_refuse(small_run, tmp_path, capsys, monkeypatch):
    run = copy_run(small_run, tmp_path)
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(run), "--gate", "pairwise_f1>=0.5",
        "--gate", "sessions_true>0",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(run), "--gate", "pairwise_f1>=0.5",
        "--gate", "pairwise_f1>1", "--gate", "splits<0",
    )  # fmt: skip
    assert code == 3
    line = one_line_error(err)
    assert "pairwise_f1" in line and "not > 1" in line and "splits" in line
    assert "0.5" not in line  # the gate that passed is not named
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run), "--gate", "nope<1")
    assert code == 2 and "unknown key 'nope'" in one_line_error(err)
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run), "--gate", "f1=>1")
    assert code == 2 and "KEY OP NUMBER" in one_line_error(err)


def test_a_scenarios_gates_apply_to_run(tmp_path, capsys, monkeypatch):
    scenario = tmp_path / "gated.yaml"
    base = (SCENARIOS / "baseline.yaml").read_text()
    scenario.write_text(base + "gates: ['pairwise_f1>1.5']\n")
    code, _, err = run_cli(
        capsys, monkeypatch, "run", str(scenario), "--users", "100", "--duration", "2h"
    )
    assert code == 3 and "pairwise_f1" in err.strip().splitlines()[-1]
    scenario.write_text(base + "gates: ['pairwise_f1 >> 1']\n")
    code, _, err = run_cli(capsys, monkeypatch, "run", str(scenario), "--users", "100")
    assert code == 2
    line = one_line_error(err)
    assert str(scenario) in line and "gates" in line and "KEY OP NUMBER" in line


def test_stream_gates_read_the_live_summary(collector, tmp_path, capsys, monkeypatch):
    c = collector()
    flags = ["--users", "100", "--duration", "1h", "--sink", f"http://{c.address}/e"]
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *flags,
        "--out", str(tmp_path / "a"), "--gate", "live.acknowledged>=1",
        "--gate", "live.ack_latency_ms.p99_ms<60000",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *flags,
        "--out", str(tmp_path / "b"), "--gate", "live.ack_latency_ms.p99_ms<0",
    )  # fmt: skip
    assert code == 3 and "live.ack_latency_ms.p99_ms" in err.strip().splitlines()[-1]


def test_an_unknown_key_is_refused_before_any_work(collector, tmp_path, capsys, monkeypatch):
    """The key is checked against the results' record (``LiveSummary``, ``Report``) before
    anything is simulated or sent: no run directory, nothing sent to the collector."""
    c = collector()
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), "--users", "100",
        "--sink", f"http://{c.address}/e", "--out", str(tmp_path / "live"),
        "--gate", "live.ack_latency.p99_ms<250",
    )  # fmt: skip
    line = one_line_error(err)
    assert code == 2 and "unknown key 'live.ack_latency.p99_ms'" in line
    assert "keys of live:" in line and "ack_latency_ms" in line
    assert not (tmp_path / "live").exists() and c.requests == 0
    code, _, err = run_cli(
        capsys, monkeypatch, "run", str(SCENARIOS / "baseline.yaml"), "--users", "100",
        "--out", str(tmp_path / "run"), "--gate", "pairwise_f1.x>0",
    )  # fmt: skip
    assert code == 2 and "unknown key 'pairwise_f1.x'" in one_line_error(err)
    assert not (tmp_path / "run").exists()
