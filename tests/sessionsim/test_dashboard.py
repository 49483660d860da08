"""`stream --dashboard HOST:PORT` (issue 22, part 5): the live run's page, served while the
run goes and opened in a real headless Chromium; the server's limits; and the run's
second-by-second history (`live_stats.csv`) drawn on its report page."""

from __future__ import annotations

import csv
import http.client
import re
import socket
import subprocess
import sys
import time

import pytest

from sessionsim.errors import SessionsimError
from sessionsim.live.dashboard import (
    MAX_CONNECTIONS,
    READ_TIMEOUT_S,
    Dashboard,
    parse_dashboard,
)
from tests.conftest import SCENARIOS
from tests.sessionsim.test_report_page import _chromium, needs_browser


def _request(url_host: str, port: int, method: str, path: str = "/", body: bytes | None = None):
    conn = http.client.HTTPConnection(url_host, port, timeout=10)
    try:
        conn.request(method, path, body=body)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


@pytest.fixture
def board():
    pages = []

    def page() -> bytes:
        pages.append(1)
        return f"<html><body>page {len(pages)}</body></html>".encode()

    with Dashboard(("127.0.0.1", 0), page) as d:
        yield d


def test_the_dashboard_serves_its_page_fresh_on_each_request(board):
    host, port = board.server.server_address[:2]
    assert board.url == f"http://127.0.0.1:{port}/"
    assert _request(host, port, "GET") == (200, b"<html><body>page 1</body></html>")
    assert _request(host, port, "GET", "/index.html")[1].endswith(b"page 2</body></html>")


def test_the_dashboard_answers_only_get_of_its_page_without_a_body(board):
    host, port = board.server.server_address[:2]
    assert _request(host, port, "GET", "/etc/passwd")[0] == 404
    assert _request(host, port, "POST", "/", b"x" * 100)[0] == 405
    assert _request(host, port, "PUT", "/", b"x")[0] == 405
    assert _request(host, port, "GET", "/", b"a body")[0] == 413


def test_the_dashboard_limits_connections_and_drops_silent_ones(board):
    """Every slot held by a silent peer: the next connection gets 503 at once; the silent
    ones are closed after READ_TIMEOUT_S, and the page is served again."""
    host, port = board.server.server_address[:2]
    held = [socket.create_connection((host, port), timeout=30) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)  # every held connection has its thread (and slot)
        status, _ = _request(host, port, "GET")
        assert status == 503 and board.server.refused >= 1
        deadline = time.monotonic() + READ_TIMEOUT_S + 10
        while time.monotonic() < deadline:  # the silent peers are dropped: slots come back
            if _request(host, port, "GET")[0] == 200:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the dashboard kept its silent connections")
        assert all(s.recv(1) == b"" for s in held)  # closed by the server, not by us
    finally:
        for s in held:
            s.close()


def test_a_bad_dashboard_address_is_one_line():
    assert parse_dashboard(":0") == ("127.0.0.1", 0)
    assert parse_dashboard("0.0.0.0:8089") == ("0.0.0.0", 8089)
    for text in ("8089", "host:", "h:99999", "h:x"):
        with pytest.raises(SessionsimError, match="--dashboard"):
            parse_dashboard(text)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SessionsimError, match="cannot listen"):
            Dashboard(taken.getsockname(), lambda: b"")


@needs_browser
def test_a_live_run_serves_its_page_while_it_goes_and_draws_it_after(collector, tmp_path):
    """A paced run with --dashboard: Chromium loads the page mid-run (the live tables and
    the two charts, no console message); the run ends 0 with its history in
    live_stats.csv, and the report page of the run draws that history."""
    c = collector()
    out = tmp_path / "run"
    run = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "stream", str(SCENARIOS / "baseline.yaml"),
         "--users", "2000", "--duration", "2h", "--sink", f"http://{c.address}/e",
         "--out", str(out), "--realtime", "--speed", "600", "--stop-after", "12s",
         "--dashboard", "127.0.0.1:0"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert run.stderr is not None
        url = None
        for line in run.stderr:
            if match := re.search(r"dashboard: (http://127\.0\.0\.1:\d+/)", line):
                url = match.group(1)
                break
        assert url is not None, "the run printed no dashboard URL"
        time.sleep(3)  # a few seconds of history
        done = _chromium("--dump-dom", url)
        assert done.returncode == 0, done.stderr[-2000:]
        dom = done.stdout
        assert "Live run" in dom and "events per second" in dom and "acknowledged" in dom
        assert dom.count("<polyline") >= 4 and 'http-equiv="refresh"' in dom
        assert "CONSOLE" not in done.stderr
        rest = run.stderr.read()
        assert run.wait(timeout=120) == 0, rest[-2000:]
    finally:
        run.kill()
        run.wait()
    with open(out / "live_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 8 and int(rows[-1]["acked"]) > 0
    assert [float(r["wall_s"]) for r in rows] == sorted(float(r["wall_s"]) for r in rows)
    page = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "sessionsim", "report", str(out), "--out", str(page)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    text = page.read_text()
    assert "events per second" in text and text.count("<polyline") >= 4
