"""A stop is a stop: live runs end in bounded time whatever the sink does, and a run that
delivered nothing never exits 0 (issue 19, part 1)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import SCENARIOS
from tests.helpers import one_line_error, run_cli

SMALL = ["--users", "200", "--duration", "1h", "--start", "2026-01-05T08:00:00Z"]


class HungPeer:
    """Accepts connections and reads, never answers (a hung collector or broker)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def hung():
    peer = HungPeer()
    yield peer
    peer.close()


def _start(run: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "stream", str(SCENARIOS / "baseline.yaml")]
        + [*SMALL, "--out", str(run), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_a_run_into_a_hung_collector_within_seconds(hung, tmp_path, sig, status):
    run = tmp_path / "run"
    proc = _start(run, "--sink", f"http://{hung.address}/e", "--http-batch", "20")
    deadline = time.monotonic() + 60
    while not hung.conns and time.monotonic() < deadline:  # requests are in flight
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(sig)
    signalled = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - signalled < 5.0, err.decode()
    assert proc.returncode == status, err.decode()
    summary = orjson.loads((run / "truth" / "summary.json").read_bytes())
    live = summary["live"]
    assert live["stopped_by"] == signal.Signals(sig).name and live["acknowledged"] == 0
    assert live["sent"] + live["unsent"] > 0 and summary["events"] == 0
    assert not list(run.rglob("*.partial"))


def test_a_stop_after_into_a_hung_collector_exits_1_saying_nothing_was_acknowledged(
    hung, tmp_path, capsys, monkeypatch
):
    run = tmp_path / "run"
    started = time.monotonic()
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--out", str(run), "--sink", f"http://{hung.address}/e", "--stop-after", "1s",
    )  # fmt: skip
    assert time.monotonic() - started < 15.0
    assert code == 1
    assert "acknowledged none of the" in err.strip().splitlines()[-1]
    summary = orjson.loads((run / "truth" / "summary.json").read_bytes())
    assert summary["live"]["stopped_by"] == "--stop-after" and summary["events"] == 0


def test_kafka_with_no_broker_ends_with_one_line_and_no_librdkafka_log(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = tmp_path / "run"
    started = time.monotonic()
    proc = _start(run, "--sink", f"kafka://127.0.0.1:{port}/events")
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 30.0
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert not any("rdkafka" in line or "FAIL|" in line for line in lines), lines
    assert lines[-1].startswith(f"sessionsim: kafka://127.0.0.1:{port}/events")


def _copies(path: Path) -> list[str]:
    """The event ids of a JSON lines file, one per copy, sorted."""
    if not path.exists():
        return []
    return sorted(orjson.loads(line)["event_id"] for line in path.read_bytes().splitlines())


def test_a_sink_timeout_shorter_than_the_answers_fails_the_copies_and_nothing_is_stored(
    collector, tmp_path, capsys, monkeypatch
):
    """A request the sink stops waiting for is left, and the collector stores nothing of a
    request whose client left: what it holds is what the truth says was acknowledged."""
    c = collector(latency_s=2.0)
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--out", str(run), "--sink", f"http://{c.address}/e", "--retries", "1",
        "--sink-timeout", "0.5s",
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while c.requests < c.abandoned + 1 and time.monotonic() < deadline:
        time.sleep(0.1)  # the collector notices the last client leave
    assert code == 1 and "no answer in time" in one_line_error(err.strip().splitlines()[-1])
    summary = orjson.loads((run / "truth" / "summary.json").read_bytes())
    assert summary["live"]["acknowledged"] == 0 and summary["events"] == 0
    assert c.abandoned >= 2 and _copies(c.out_path) == []


def test_a_stop_while_answers_are_slow_leaves_the_collector_and_the_truth_agreeing(
    collector, tmp_path, capsys, monkeypatch
):
    """Stopped while answers take 2.5 s, past the stop's 2 s grace: requests posted just
    before the stop are still answered and acknowledged, later ones are left. The collected
    copies are exactly the run's acknowledged copies, whichever way each went."""
    c = collector(latency_s=2.5)
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--out", str(run), "--sink", f"http://{c.address}/e", "--realtime",
        "--speed", "600", "--http-batch", "10", "--http-interval", "0.1s",
        "--inflight", "8", "--stop-after", "1.5s",
    )  # fmt: skip
    time.sleep(1.0)  # a left request is noticed by the collector at once; margin
    summary = orjson.loads((run / "truth" / "summary.json").read_bytes())
    assert code == 0, err
    assert summary["live"]["stopped_by"] == "--stop-after"
    assert summary["live"]["acknowledged"] > 0 and summary["live"]["failed"] > 0
    assert c.abandoned > 0
    assert _copies(c.out_path) == _copies(run / "events.jsonl")


@pytest.mark.parametrize("where", ["sink", "stats"])
def test_a_full_disk_ends_the_run_with_one_line_and_no_files(tmp_path, capsys, monkeypatch, where):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    run = tmp_path / "run"
    flags = ["--sink", "file:/dev/full"] if where == "sink" else ["--sink", "file:" + str(
        tmp_path / "events.jsonl"), "--stats-csv", "/dev/full"]  # fmt: skip
    code, _, err = run_cli(
        capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
        "--out", str(run), *flags,
    )  # fmt: skip
    assert code == (1 if where == "sink" else 2)  # the sink failed; a write of ours failed
    assert "/dev/full" in err.strip().splitlines()[-1] or "space" in err.strip().splitlines()[-1]
    assert not list(run.rglob("*.partial"))


def test_the_account_after_a_refusal_adds_up(tmp_path, capsys, monkeypatch):
    """A 404 stops the run; what was posted is failed, what was never posted is unsent,
    and together they are every event offered (issue 19: "sent 200, failed 211")."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotFound(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = tmp_path / "run"
        code, _, err = run_cli(
            capsys, monkeypatch, "stream", str(SCENARIOS / "baseline.yaml"), *SMALL,
            "--out", str(run), "--sink", f"http://127.0.0.1:{server.server_address[1]}/e",
            "--http-batch", "20",
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1 and "HTTP 404" in err.strip().splitlines()[-1]
    live = orjson.loads((run / "truth" / "summary.json").read_bytes())["live"]
    assert live["acknowledged"] == 0 and live["sent"] == live["failed"] > 0
    assert live["sent"] + live["unsent"] == live["simulated_events"]


def test_a_file_size_limit_during_a_live_http_run_ends_it_with_one_line(tmp_path):
    """RLIMIT_FSIZE while the sender threads record what was acknowledged: one line, exit
    2 (a write that fails), no partial file, within seconds (it used to hang with
    tracebacks)."""
    import resource

    from sessionsim.live.collect import Collector

    c = Collector(("127.0.0.1", 0), tmp_path / "collected.jsonl")
    threading.Thread(target=c.serve, daemon=True).start()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    run = tmp_path / "run"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sessionsim", "stream", str(SCENARIOS / "baseline.yaml")]
            + [*SMALL, "--out", str(run), "--sink", f"http://{c.address}/e", "--http-batch", "20"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "TQDM_DISABLE": "1"},
            preexec_fn=limit,
        )
        _, err = proc.communicate(timeout=60)
    finally:
        c.shutdown()
        c.close()
    text = err.decode()
    assert proc.returncode == 2, text
    assert "Traceback" not in text and "File too large" in text.strip().splitlines()[-1]
    assert not list(run.rglob("*.partial")) and not (run / "events.jsonl").exists()
