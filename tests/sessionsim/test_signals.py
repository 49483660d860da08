"""Signals everywhere (issue 19, part 3): Ctrl-C while loading, a terminated sharded run,
a stopped benchmark, a killed run's leftovers, and a bound on processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import SCENARIOS
from tests.helpers import one_line_error, run_cli

ENV = {**os.environ, "TQDM_DISABLE": "1"}


def test_ctrl_c_while_the_command_loads_is_one_line_and_130():
    """Ctrl-C while the command is still loading. Loading is fast (the imports are lazy), so
    the signal is sent earlier and earlier until one lands while the command runs; the one
    that lands must give one line and exit 130."""
    import pytest

    for delay_s in (0.15, 0.08, 0.04, 0.02, 0.01):
        proc = subprocess.Popen(
            [sys.executable, "-m", "sessionsim", "simulate", "--help"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=ENV,
        )
        time.sleep(delay_s)
        if proc.poll() is not None:  # done before the signal: try earlier
            proc.communicate()
            continue
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:  # it finished as the signal was sent: try earlier
            continue
        assert proc.returncode == 130, err.decode()
        assert b"Traceback" not in err and len(err.decode().strip().splitlines()) == 1
        return
    pytest.skip("the command loaded and ran in under 10 ms: no moment to interrupt it")


def test_a_terminated_sharded_run_ends_quietly_and_its_work_is_gone(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "simulate", str(SCENARIOS / "baseline.yaml")]
        + ["--users", "40000", "--processes", "2", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    deadline = time.monotonic() + 60
    while not list(out.glob(".shards-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert b"Traceback" not in err, err.decode()


def test_a_killed_runs_work_directory_is_removed_by_the_next_run(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    left = out / ".shards-123" / "0" / "truth"
    left.mkdir(parents=True)
    (left / "events.jsonl").write_bytes(b"x" * 1000)
    code, _, err = run_cli(
        capsys, monkeypatch, "simulate", str(SCENARIOS / "baseline.yaml"), "--users", "30",
        "--duration", "1h", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert not list(out.glob(".shards-*"))


def test_processes_are_bounded(tmp_path, capsys, monkeypatch):
    for command in ("simulate", "run"):
        code, _, err = run_cli(
            capsys, monkeypatch, command, str(SCENARIOS / "baseline.yaml"), "--processes",
            "1000", "--out", str(tmp_path / command),
        )  # fmt: skip
        assert code == 2 and "--processes" in one_line_error(err)


def test_a_stopped_benchmark_ends_its_case_at_once(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "bench", "--quick"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # the header: the first case is running
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    _, err = proc.communicate(timeout=120)
    assert time.monotonic() - stopped < 5.0
    assert proc.returncode == 143
    assert b"Traceback" not in err, err.decode()
