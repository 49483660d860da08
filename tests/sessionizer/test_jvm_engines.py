"""The JVM engines (issue 23): Flink SQL's and Spark's session windows, scored against the
truth. Each runs on a few thousand events, locally and on a standalone cluster it starts on
127.0.0.1 (the conformance kit, in test_conformance_kit.py, holds each to docs/semantics.md
except where it declares: ``differs``).
Skipped, saying why, where Java or the engine's package is absent."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from sessionsim.pipeline import check_run_dir, run_scenario
from sessionsim.scenario import RunScenario, SessionizerSpec
from tests.conftest import SCENARIOS
from tests.helpers import SCORE_KEYS, engine_param, load_scenario

ENGINES = [engine_param(n) for n in ("flink", "spark", "spark-batch")]
SMALL = {"population.users": 300, "duration": "12h", "start": "2026-01-05T06:00:00Z"}


@pytest.fixture(scope="module")
def in_order(tmp_path_factory) -> Path:
    """A baseline run (in-order delivery: nothing late for a 2-minute lateness)."""
    out = tmp_path_factory.mktemp("in_order") / "run"
    sc = load_scenario(SCENARIOS / "baseline.yaml", SMALL, model=RunScenario)
    from simulator import simulate_to_dir

    simulate_to_dir(sc, out)
    return out


def _check(run: Path, name: str, **options) -> dict:
    spec = SessionizerSpec.model_validate(
        {"sessionizer": name, "gap": "30m", "lateness": "2m", "options": options}
    )
    return check_run_dir(run, spec).to_dict()


@pytest.mark.parametrize("name", ENGINES)
def test_on_in_order_data_each_engine_finds_the_references_sessions(in_order, name):
    want = _check(in_order, "reference")
    assert want["late_events"] == 0 and want["duplicates"] == 0  # the premise
    got = _check(in_order, name, workers=2)
    for key in (*SCORE_KEYS, "ctr_measured", "searches_measured", "clicks_measured"):
        assert got[key] == want[key], key
    assert got["late_events"] == 0 and got["accepted"] == want["accepted"]


@pytest.mark.parametrize("name", [ENGINES[0], ENGINES[1]])
def test_on_late_data_each_streaming_engine_drops_and_accounts_for_every_event(tmp_path, name):
    """late_mobile: phones send their queues late. The engine drops events the reference
    keeps or marks late, differently; every event read is in a session or late, and the
    late ones are listed with the engine's reason. (Spark: micro-batches of 200 events; in
    one batch of the whole stream nothing would be late.)"""
    options = {"micro_batch": 200} if name == "spark" else {}
    setting = {"sessionizer": name, "gap": "30m", "lateness": "2m", "options": options}
    sc = load_scenario(
        SCENARIOS / "late_mobile.yaml", {**SMALL, "sessionizers": [setting]}, model=RunScenario
    )
    (report,) = run_scenario(sc, tmp_path, realism=False)
    events = sum(1 for _ in open(tmp_path / "events.jsonl", "rb"))
    assert report.late_events and report.late_events > 0
    assert (report.accepted or 0) + report.late_events + (report.duplicates or 0) == events
    late = [orjson.loads(line) for line in open(tmp_path / "sessions.late.jsonl", "rb")]
    assert len(late) == report.late_events
    assert all(("Flink" if name == "flink" else "Spark") in x["reason"] for x in late)
    assert report.unknown_events == report.repeated_events == report.unplaced_events == 0


@pytest.mark.parametrize("name", [ENGINES[0], ENGINES[1]])
def test_a_standalone_cluster_gives_the_local_sessions_and_leaves_no_process(in_order, name):
    """--processes 2: a standalone cluster (Flink: a job manager and two task managers;
    Spark: a master and two workers) on 127.0.0.1, started and stopped by the engine."""
    local = _check(in_order, name)
    clustered = _check(in_order, name, processes=2)
    for key in (*SCORE_KEYS, "ctr_measured", "late_events", "accepted"):
        assert clustered[key] == local[key], key
    main = "TaskManagerRunner" if name == "flink" else "deploy.worker.Worker"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = subprocess.run(["pgrep", "-f", main], capture_output=True, text=True).stdout
        if not left.strip():
            break
        time.sleep(0.5)
    assert not left.strip(), f"{main} still running: {left}"


def test_an_engine_without_java_is_one_line(tmp_path, monkeypatch, small_run):
    monkeypatch.setenv("PATH", str(tmp_path))  # no java anywhere on it
    monkeypatch.delenv("JAVA_HOME", raising=False)
    done = subprocess.run(
        [sys.executable, "-m", "sessionsim", "check", str(small_run), "--sessionizer", "flink",
         "--report", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=120,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "flink" in lines[0], done.stderr
    assert "Java" in lines[0] or "not installed" in lines[0]


@pytest.mark.parametrize("name", [ENGINES[1]])
def test_sparks_own_count_of_rows_dropped_by_its_watermark_is_the_late_count(tmp_path, name):
    """With the end-of-input flush, what Spark placed in no session is exactly what its
    query progress says it dropped behind its watermark (numRowsDroppedByWatermark)."""
    from sessionizer import ColumnOutputs
    from sessionsim.batches import event_batches
    from simulator import simulate_to_dir

    sc = load_scenario(SCENARIOS / "late_mobile.yaml", SMALL, model=RunScenario)
    simulate_to_dir(sc, tmp_path / "run")
    spec = SessionizerSpec.model_validate(
        {"sessionizer": name, "gap": "30m", "lateness": "2m", "options": {"micro_batch": 200}}
    )
    sz = spec.build()
    with event_batches(str(tmp_path / "run" / "events.jsonl"), "") as batches:
        out = ColumnOutputs.of(sz, batches)
        for _ in out:
            pass
    assert out.counts.late > 0
    assert sz.dropped_by_watermark == out.counts.late


@pytest.mark.parametrize("name", [ENGINES[0], ENGINES[1]])
def test_sigterm_during_a_jvm_run_ends_it_within_seconds_and_leaves_no_jvm(in_order, name):
    """SIGTERM while the engine's JVM works: exit 143 within seconds, one line, no report
    written, and no JVM of the run left (its job, or Spark's driver)."""
    report = in_order.parent / f"sigterm-{name}.json"
    run = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "check", str(in_order), "--sessionizer", name,
         "--no-realism", "--report", str(report)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    mark = "sessionsim-flink-" if name == "flink" else "pyspark-shell"

    def jvms() -> str:
        found = subprocess.run(["pgrep", "-f", mark], capture_output=True, text=True).stdout
        return found.strip()

    deadline = time.monotonic() + 120
    while not jvms() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
    assert jvms(), "the engine's JVM never started"
    time.sleep(1.0)
    began = time.monotonic()
    run.terminate()
    _, err = run.communicate(timeout=30)
    took = time.monotonic() - began
    assert run.returncode == 143, err
    assert took < 10, f"took {took:.1f} s"
    assert err.strip().splitlines()[-1].startswith("sessionsim: terminated")
    assert not report.exists()
    deadline = time.monotonic() + 10
    while jvms() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not jvms(), "a JVM of the run is still running"
