"""Live runs: pacing, the stdout, HTTP and Kafka sinks, the collector, and clean stops."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from sessionsim.live.pacing import Pacer
from tests.conftest import SCENARIOS
from tests.helpers import one_line_error, read_jsonl, run_cli

SMALL = ["--users", "200", "--duration", "1h", "--start", "2026-01-05T08:00:00Z"]


class FakeClock:
    """A clock that moves only when slept on, or when told."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_the_pacer_releases_slices_when_due_at_the_speed():
    clock = FakeClock()
    pacer = Pacer(speed=60, clock=clock, sleep=clock.sleep, slice_s=0.5)  # 30 sim s a slice
    batch = [0.0, 10.0, 29.9, 30.0, 90.0, 95.0]
    slices = list(pacer.paced(batch, lambda t: t))
    assert slices == [[0.0, 10.0, 29.9], [30.0], [90.0, 95.0]]
    assert clock.sleeps == pytest.approx([0.5, 1.0])  # due at +0.5 s and +1.5 s of wall time
    assert pacer.lag_s == 0.0


def test_an_overdue_slice_is_not_waited_for_and_its_lag_is_measured():
    clock = FakeClock()
    pacer = Pacer(speed=10, clock=clock, sleep=clock.sleep)
    pacer.wait_for(0.0)  # the origin
    clock.now += 3.0  # the sink took 3 s
    pacer.wait_for(10.0)  # due 1 s after the origin: 2 s late
    assert clock.sleeps == [] and pacer.lag_s == pytest.approx(2.0)


def test_a_pacer_needs_a_positive_speed():
    with pytest.raises(ValueError, match="speed"):
        Pacer(speed=0)


def _acknowledged(run: Path) -> tuple[list[str], set[str]]:
    """The ids in the run's events.jsonl, and the ids the truth says were delivered."""
    sent = [r["event_id"] for r in read_jsonl(run / "events.jsonl")]
    delivered = {
        r["event_id"] for r in read_jsonl(run / "truth" / "events.jsonl") if r["deliveries"]
    }
    return sent, delivered


def test_http_into_the_collector_end_to_end(collector, tmp_path, capsys, monkeypatch):
    c = collector()
    run = tmp_path / "run"
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "stream",
        str(SCENARIOS / "baseline.yaml"),
        *SMALL,
        "--sink",
        f"http://{c.address}/events",
        "--realtime",
        "--speed",
        "3600",
        "--http-batch",
        "50",
        "--out",
        str(run),
    )
    assert code == 0, err
    assert out == ""
    collected = [r["event_id"] for r in read_jsonl(tmp_path / "collected.jsonl")]
    sent, delivered = _acknowledged(run)
    assert collected and sorted(collected) == sorted(sent)
    assert set(collected) == delivered
    summary = orjson.loads((run / "truth" / "summary.json").read_bytes())
    assert summary["events"] == len(collected) and summary["live"]["failed"] == 0
    # A pipeline's sessions of the collected stream are scored against that truth.
    sessions = tmp_path / "sessions.jsonl"
    code, _, err = run_cli(
        capsys, monkeypatch, "sessionize", str(tmp_path / "collected.jsonl"), "--gap", "30m",
        "--lateness", "10m", "--out", str(sessions),
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(capsys, monkeypatch, "check", str(run), "--sessions", str(sessions))
    assert code == 0, err
    report = orjson.loads((run / "report.json").read_bytes())
    assert report["unknown_events"] == report["unplaced_events"] == 0
    assert report["pairwise_recall"] > 0.9


def test_a_collector_failing_then_answering_loses_nothing(collector, tmp_path, capsys, monkeypatch):
    c = collector(fail_first=3)
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--sink", f"http://{c.address}/e", "--http-batch", "100", "--inflight", "1",
        "--out", str(run),
    )  # fmt: skip
    assert code == 0, err
    assert c.failed == 3
    summary = orjson.loads((run / "truth" / "summary.json").read_bytes())
    assert summary["live"]["retried"] > 0 and summary["live"]["failed"] == 0
    collected = [r["event_id"] for r in read_jsonl(tmp_path / "collected.jsonl")]
    sent, delivered = _acknowledged(run)
    assert sorted(collected) == sorted(sent) and set(collected) == delivered
    assert len(collected) == summary["live"]["simulated_events"]  # every event got there


def test_a_collector_that_is_down_ends_the_run_with_one_line(tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--sink", f"http://127.0.0.1:{port}/e", "--retries", "1", "--out", str(run),
    )  # fmt: skip
    assert code == 1
    last = err.strip().splitlines()[-1]  # after the live stats, the one line saying why
    assert re.fullmatch(r"sessionsim: http://127\.0\.0\.1:\d+/e: gave up after 1 retries: .+", last)
    sent, delivered = _acknowledged(run)
    assert sent == [] and delivered == set()  # the truth: nothing was delivered
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run))
    assert code == 0, err


def test_stdout_carries_only_the_events_keyed_for_kcat(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    code, out, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--sink", "stdout", "--key", "user_id", "--out", str(run),
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines
    for line in lines:
        key, _, body = line.partition("\t")
        assert orjson.loads(body)["user_id"] == key
    sent, delivered = _acknowledged(run)
    assert [orjson.loads(line.partition("\t")[2])["event_id"] for line in lines] == sent
    assert set(sent) == delivered


@pytest.mark.parametrize("command", ["simulate", "stream"])
def test_out_dash_points_to_the_stdout_sink(tmp_path, capsys, monkeypatch, command):
    extra = ["--sink", "stdout"] if command == "stream" else []
    code, _, err = run_cli(
        capsys, monkeypatch, command, str(SCENARIOS / "baseline.yaml"), "--out", "-", *extra
    )
    assert code == 2 and "--sink stdout" in one_line_error(err)
    assert not Path("-").exists()


def test_simulate_writes_files_and_points_live_runs_to_stream(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, monkeypatch, "simulate", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--out", str(tmp_path / "run"), "--sink", "stdout",
    )  # fmt: skip
    assert code == 2 and "sessionsim stream" in one_line_error(err)
    assert not (tmp_path / "run" / "truth" / "summary.json").exists()
    code, _, err = run_cli(capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"))
    assert code == 2 and "--sink" in one_line_error(err)  # stream needs a sink


def _mock_kafka() -> tuple[object, str]:
    """A librdkafka mock cluster (kept alive by the returned producer), and its address."""
    from confluent_kafka import Producer

    found: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if m := re.search(r"replaced with (\S+)", record.getMessage()):
                found.append(m.group(1))

    log = logging.getLogger("sessionsim-test-kafka")
    log.addHandler(Grab())
    log.setLevel(logging.INFO)
    owner = Producer({"test.mock.num.brokers": 1}, logger=log)
    deadline = time.monotonic() + 10
    while not found and time.monotonic() < deadline:
        owner.poll(0.1)
    assert found, "the mock cluster did not say where it listens"
    return owner, found[0]


def test_kafka_through_the_mock_cluster_keys_by_user_and_stamps_arrival(
    tmp_path, capsys, monkeypatch
):
    from confluent_kafka import Consumer

    owner, address = _mock_kafka()
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--sink", f"kafka://{address}/events", "--out", str(run),
    )  # fmt: skip
    assert code == 0, err
    acked = {r["event_id"]: r for r in read_jsonl(run / "events.jsonl")}
    sent, delivered = _acknowledged(run)
    assert acked and set(acked) == delivered
    consumer = Consumer(
        {"bootstrap.servers": address, "group.id": "t", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe(["events"])
    got = {}
    deadline = time.monotonic() + 30
    while len(got) < len(sent) and time.monotonic() < deadline:
        m = consumer.poll(0.2)
        if m is not None and not m.error():
            e = orjson.loads(m.value())
            got[e["event_id"]] = (m.key().decode(), m.timestamp()[1], e)
    consumer.close()
    assert set(got) == set(acked)  # every acknowledged event is in the topic, and only those
    from sessionizer import parse_ts

    for eid, (key, ts_ms, e) in got.items():
        assert key == e["user_id"] == acked[eid]["user_id"]
        assert ts_ms == parse_ts(acked[eid]["received_at"])
    del owner


def _paced_run(tmp_path: Path, sig: int) -> tuple[int, Path]:
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "stream", str(SCENARIOS / "baseline.yaml")]
        + ["--users", "3000", "--duration", "6h", "--sink", "stdout", "--realtime"]
        + ["--speed", "600", "--out", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    deadline = time.monotonic() + 60
    while not (run / "truth").is_dir() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)  # some events are out
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, run


@pytest.mark.slow
@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_paced_run_with_complete_consistent_files(
    tmp_path, capsys, monkeypatch, sig, status
):
    code, run = _paced_run(tmp_path, sig)
    assert code == status
    assert not list(run.rglob("*.partial")) and not list(run.rglob("events.sim*"))
    summary = orjson.loads((run / "truth" / "summary.json").read_bytes())
    assert summary["live"]["stopped_by"] == signal.Signals(sig).name
    assert summary["live"]["unacknowledged_events"] > 0  # stopped before the end
    sent, delivered = _acknowledged(run)
    assert len(sent) == summary["events"] and set(sent) == delivered
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run))
    assert code == 0, err


@pytest.mark.slow
def test_a_real_time_run_reaches_its_rate_within_a_loose_band(tmp_path, capsys, monkeypatch):
    """One real-time smoke run: --rate sizes the population; the achieved acknowledged
    rate, over the stats rows after the first second, is within a factor 3 of it."""
    csv_path = tmp_path / "stats.csv"
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), "--duration", "6h",
        "--sink", "stdout", "--realtime", "--speed", "60", "--rate", "400",
        "--stop-after", "5s", "--stats-csv", str(csv_path), "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 0, err
    import csv

    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) >= 4
    rates = [float(r["acked_eps"]) for r in rows[1:-1]]
    mean = sum(rates) / len(rates)
    assert 400 / 3 < mean < 400 * 3, rates
    assert all(r["target_eps"] == "400.0" for r in rows)


def test_a_load_shape_steps_and_ramps_the_target_and_the_arrivals():
    from sessionsim.load_shape import RAMP_STEPS, LoadStage, bursts_of, target_at

    stages = [
        LoadStage(at="0s", rate=100),
        LoadStage(at="10s", rate=300),
        LoadStage(at="20s", rate=500, ramp="10s"),
    ]
    assert [target_at(stages, t) for t in (0, 9.9, 10, 20, 25, 30, 99)] == [
        100, 100, 300, 300, 400, 500, 500,
    ]  # fmt: skip
    bursts = bursts_of(stages, speed=60, duration_s=3600)
    assert bursts[0] == {"at": 600, "length": 600, "factor": 3.0}  # 10 s of wall = 10 min
    assert len(bursts) == 1 + RAMP_STEPS
    assert bursts[-1]["factor"] == 5.0 and bursts[-1]["at"] + bursts[-1]["length"] == 3600


def test_a_load_shape_becomes_bursts_in_the_saved_scenario(tmp_path, capsys, monkeypatch):
    scenario = tmp_path / "shape.yaml"
    scenario.write_text(
        "duration: 1h\npopulation: {users: 500}\n"
        "load:\n  - {at: 0s, rate: 100}\n  - {at: 1s, rate: 300}\n"
    )
    code, _, err = run_cli(
        capsys, monkeypatch, "simulate", str(scenario), "--out", str(tmp_path / "no")
    )
    assert code == 2 and "load: a load shape is paced in wall time" in one_line_error(err)
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(scenario), "--sink", "stdout", "--out",
        str(tmp_path / "no"),
    )  # fmt: skip
    assert code == 2 and "load: needs --realtime" in one_line_error(err)
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(scenario), "--sink", "stdout", "--realtime",
        "--speed", "600", "--out", str(run),
    )  # fmt: skip
    assert code == 0, err
    import yaml

    saved = yaml.safe_load((run / "scenario.yaml").read_text())
    assert saved["load"] == []
    assert saved["arrivals"]["bursts"] == [{"at": "10m", "length": "50m", "factor": 3.0}]


def test_a_file_sink_is_appended_as_it_goes(tmp_path, capsys, monkeypatch):
    stream = tmp_path / "stream.jsonl"
    run = tmp_path / "run"
    code, out, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--sink", f"file:{stream}", "--out", str(run),
    )  # fmt: skip
    assert code == 0, err
    assert out == "" and not list(tmp_path.glob(".*partial"))
    sent, delivered = _acknowledged(run)
    assert [r["event_id"] for r in read_jsonl(stream)] == sent and set(sent) == delivered


def test_bad_live_and_collector_paths_are_one_line_exit_2(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, monkeypatch, "collect", "--listen", "127.0.0.1:0", "--out", str(tmp_path)
    )
    assert code == 2 and one_line_error(err).startswith(f"sessionsim: {tmp_path}: cannot write")
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--sink", "stdout", "--stats-csv", str(tmp_path / "no" / "s.csv"),
        "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 2 and one_line_error(err).startswith("sessionsim: --stats-csv ")
    assert not list((tmp_path / "run").rglob("*.partial"))


def test_the_collector_refuses_a_bad_content_length(collector):
    import http.client

    c = collector()
    host, port = c.address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.putrequest("POST", "/e")
    conn.putheader("content-length", "ten")
    conn.endheaders()
    assert conn.getresponse().status == 400
    conn.close()
    assert c.lines == 0


def test_the_collector_answers_on_sockets_without_nagle(collector):
    """Each accepted connection has TCP_NODELAY: a keep-alive client's requests are not
    held by Nagle's algorithm against its delayed ACK (a 40 ms stall per request)."""
    import http.client
    import socket

    c = collector()
    accepted: list[socket.socket] = []
    get_request = c.server.get_request

    def recording() -> tuple[socket.socket, object]:
        conn, address = get_request()
        accepted.append(conn)
        return conn, address

    c.server.get_request = recording  # the standard library's accept, observed
    host, port = c.address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    for k in range(3):  # one connection, kept alive
        conn.request("POST", "/e", body=b'{"event_id":"%d"}\n' % k)
        assert conn.getresponse().read() and c.lines == k + 1
    assert len(accepted) == 1
    assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    conn.close()


def test_a_run_with_every_copy_acknowledged_keeps_the_simulated_truth(tmp_path):
    """The fast path (nothing unsent: the draft is copied, the totals are the simulation's)
    gives the bytes and totals of the row-by-row rewrite."""
    from collections import Counter

    from sessionsim.live.run import _copy_truth_events, _rewrite_truth_events
    from simulator import AtomicFile, simulate_to_dir
    from tests.helpers import load_scenario

    sc = load_scenario(SCENARIOS / "duplicates.yaml", {"population.users": 300, "duration": "6h"})
    summary = simulate_to_dir(sc, tmp_path / "run")
    draft = tmp_path / "run" / "truth" / "events.jsonl"
    slow, fast = AtomicFile(tmp_path / "slow.jsonl"), AtomicFile(tmp_path / "fast.jsonl")
    totals = _rewrite_truth_events(draft, slow, Counter())
    assert _copy_truth_events(draft, fast, summary) == {
        k: totals.get(k, 0) for k in ("delivered", "deliveries", "searches", "clicked", "clicks")
    }
    assert summary.duplicate_deliveries > 0 and totals["clicked"] > 0
    slow.commit()
    fast.commit()
    assert (tmp_path / "fast.jsonl").read_bytes() == (tmp_path / "slow.jsonl").read_bytes()
