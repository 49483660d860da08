"""The collector is a network server with limits (issue 19, part 2): bounded bodies, honest
lengths, whole-or-nothing requests of JSON objects, timeouts, a bounded pool, a backlog."""

from __future__ import annotations

import gzip
import http.client
import os
import resource
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from sessionsim.errors import SessionsimError
from sessionsim.live import collect
from sessionsim.live.collect import Collector
from tests.helpers import one_line_error, run_cli


@pytest.fixture
def serve(collector):
    return collector  # tests/conftest.py: started on a free port, shut down after


def _raw(c: Collector, data: bytes, read: bool = True) -> bytes:
    host, port = c.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        if not read:
            return b""
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed first (a refusal)
            pass
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def _post(c: Collector, body: bytes, **headers: str) -> tuple[int, dict]:
    host, port = c.address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/e", body=body, headers=headers)
    r = conn.getresponse()
    answer = orjson.loads(r.read() or b"{}")
    conn.close()
    return r.status, answer


def _stored(c: Collector) -> bytes:
    return c.out_path.read_bytes()


def test_a_huge_content_length_is_413_without_allocating_it(serve):
    c = serve()
    reply = _raw(c, b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n{}\n")
    assert reply.startswith(b"HTTP/1.1 413")
    assert _post(c, b'{"a": 1}\n') == (200, {"received": 1})  # still serving


def test_a_body_past_its_content_length_stores_nothing_of_it(serve):
    c = serve()
    reply = _raw(c, b'POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{"a":1}\n')
    assert reply.startswith(b"HTTP/1.1 400") and _stored(c) == b""


@pytest.mark.parametrize(
    "body",
    [b"not json\n", b'{"a": 1}\n{"b":', b'{"a": "\xff"}\n', b"[1, 2]\n", b'{"a": 1}\n"s"\n'],
)
def test_a_request_with_a_bad_line_is_refused_whole(serve, body):
    c = serve()
    status, answer = _post(c, b'{"ok": 1}\n' + body)
    assert status == 400 and answer["error"].startswith("line ")
    assert _stored(c) == b"" and c.lines == 0


def test_blank_lines_are_ignored_not_counted(serve):
    c = serve()
    assert _post(c, b"\n\n\n") == (200, {"received": 0})
    assert _post(c, b'\n{"a": 1}\n\n{"b": 2}\n\n') == (200, {"received": 2})
    assert _stored(c) == b'{"a": 1}\n{"b": 2}\n' and c.lines == 2


def test_bodies_over_the_limit_are_413_gzip_is_decoded_within_it(serve):
    c = serve(max_body=1000)
    assert _post(c, b'{"a": 1}\n' * 200)[0] == 413
    packed = gzip.compress(b'{"a": 1}\n' * 50)
    assert _post(c, packed, **{"Content-Encoding": "gzip"}) == (200, {"received": 50})
    bomb = gzip.compress(b'{"a": 1}\n' * 10_000)  # small on the wire, 90 kB decoded
    assert len(bomb) < 1000 and _post(c, bomb, **{"Content-Encoding": "gzip"})[0] == 413
    assert _post(c, b'{"a": 1}\n', **{"Content-Encoding": "br"})[0] == 415
    assert c.lines == 50


def test_chunked_uploads_are_asked_for_a_length(serve):
    c = serve()
    reply = _raw(
        c,
        b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'9\r\n{"a": 1}\n\r\n0\r\n\r\n',
    )
    assert reply.startswith(b"HTTP/1.1 411") and _stored(c) == b""


def test_silent_clients_are_dropped_and_the_pool_is_bounded(serve, monkeypatch):
    monkeypatch.setattr(collect._Handler, "timeout", 0.5)
    c = serve(max_connections=2)
    host, port = c.address.rsplit(":", 1)
    slow = [socket.create_connection((host, int(port))) for _ in range(2)]
    for s in slow:  # half-sent requests hold both slots
        s.sendall(b"POST /e HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
    time.sleep(0.2)
    assert _raw(c, b"GET / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 503")
    time.sleep(1.0)  # the silent ones are timed out, their slots freed
    assert _post(c, b'{"a": 1}\n') == (200, {"received": 1})
    for s in slow:
        s.close()


def test_a_burst_of_64_clients_is_served_without_resets(serve):
    c = serve()

    def client(k: int) -> list[int]:
        return [_post(c, b'{"k": %d}\n' % k)[0] for _ in range(8)]

    with ThreadPoolExecutor(64) as pool:
        statuses = [s for batch in pool.map(client, range(64)) for s in batch]
    assert statuses == [200] * 512 and c.lines == 512


def test_latency_is_bounded_below_the_sinks_timeout(tmp_path, capsys, monkeypatch):
    with pytest.raises(SessionsimError, match="--latency"):
        Collector(("127.0.0.1", 0), tmp_path / "c.jsonl", latency_s=11.0)
    code, _, err = run_cli(
        capsys, monkeypatch, "collect", "--listen", "127.0.0.1:0", "--out",
        str(tmp_path / "c.jsonl"), "--latency", "200000d",
    )  # fmt: skip
    assert code == 2 and "--latency" in one_line_error(err)


def test_a_full_disk_is_answered_507_and_the_file_stays_whole(tmp_path):
    out = tmp_path / "collected.jsonl"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "collect", "--listen", "127.0.0.1:0"]
        + ["--out", str(out)],
        stderr=subprocess.PIPE,
        preexec_fn=limit,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()  # "collect: listening on http://HOST:PORT/..."
        address = line.split("http://")[1].split("/")[0]
        host, port = address.rsplit(":", 1)
        statuses = []
        for k in range(40):
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("POST", "/e", body=b'{"event": %d, "pad": "%s"}\n' % (k, b"x" * 80))
            statuses.append(conn.getresponse().status)
            conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert 200 in statuses and 507 in statuses
    data = out.read_bytes()
    assert len(data) <= 3000 and data.endswith(b"\n")
    assert all(orjson.loads(line) for line in data.splitlines())
    assert Path(out).stat().st_size == len(data)


def test_a_repeated_idempotency_key_is_answered_and_stored_once(serve):
    c = serve()
    key = {"idempotency-key": "run-1"}
    assert _post(c, b'{"a": 1}\n', **key) == (200, {"received": 1})
    assert _post(c, b'{"a": 1}\n', **key) == (200, {"received": 0, "duplicate": True})
    assert _post(c, b'{"a": 1}\n', **{"idempotency-key": "run-2"}) == (200, {"received": 1})
    assert _stored(c) == b'{"a": 1}\n' * 2 and c.duplicates == 1


def test_a_client_that_leaves_before_the_answer_gets_nothing_stored(serve):
    """A half-close while the answer is delayed means the client stopped waiting: the
    collector stores nothing and closes, so it cannot keep what the client counts lost."""
    c = serve(latency_s=1.0)
    request = b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n" + b'{"a": 1}\n'
    host, port = c.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        time.sleep(0.2)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(100) == b""  # closed, unanswered
    assert _stored(c) == b"" and c.abandoned == 1 and c.lines == 0
    assert _post(c, b'{"a": 1}\n') == (200, {"received": 1})  # a client that waits is served
