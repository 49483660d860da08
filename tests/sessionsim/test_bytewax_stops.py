"""Bytewax runs end cleanly on SIGINT and SIGTERM (issue 19, part 3): exit 130/143, every
cluster process ended, no fatal error from the engine's native thread."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import SCENARIOS

pytest.importorskip("bytewax")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bw") / "run"
    subprocess.run(
        [sys.executable, "-m", "sessionsim", "simulate", str(SCENARIOS / "baseline.yaml")]
        + ["--users", "40000", "--format", "parquet", "--out", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return out


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_a_bytewax_check_cleanly(big_run, tmp_path, sig, status):
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "check", str(big_run), "--no-realism"]
        + ["--sessionizer", "bytewax", "--report", str(tmp_path / "report.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    time.sleep(4.0)  # the truth is read and the dataflow is running
    assert proc.poll() is None, "the check ended before the signal: make the run larger"
    _stopped_cleanly(proc, sig, status)


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_a_bytewax_cluster_cleanly(tmp_path, sig, status):
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "run", str(SCENARIOS / "baseline.yaml")]
        + ["--users", "40000", "--sessionizer", "bytewax", "--processes", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    deadline = time.monotonic() + 120
    while not _children() and time.monotonic() < deadline:  # the cluster is up
        time.sleep(0.1)
    time.sleep(1.0)
    assert proc.poll() is None and _children()
    _stopped_cleanly(proc, sig, status)


def _stopped_cleanly(proc: subprocess.Popen, sig: int, status: int) -> None:
    proc.send_signal(sig)
    signalled = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - signalled < 15.0
    assert proc.returncode == status, err.decode()
    assert b"Fatal Python error" not in err and b"Traceback" not in err, err.decode()
    time.sleep(0.5)
    assert _children() == []  # no cluster process left behind


def _children() -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "sessionizer.bytewax_engine" in line]
