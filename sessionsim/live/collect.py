"""A collector: receive NDJSON over HTTP into a JSON lines file, with injected failures.

``sessionsim collect --listen 127.0.0.1:8080 --out events.jsonl`` appends the events of
each POST to the file (flushed per request) and answers 200, so a live run can be tried
end to end and tests have a real peer. ``fail_rate`` answers that fraction of requests with
500 (seeded draws), ``fail_first`` the first N requests, and ``latency_s`` delays every
answer.

It is a network server, so it has limits: a body is at most ``max_body`` bytes (413, never
read, whatever ``Content-Length`` claims), its length must be stated (411: no chunked
uploads) and honest (400 when the body is shorter), gzip is decoded within the same bound
(415 for other encodings), a connection that sends nothing for ``READ_TIMEOUT_S`` is
closed, at most ``max_connections`` are served at once (503 beyond), and the listen backlog
holds a burst. A request is stored whole or not at all: every non-blank line must be a JSON
object (400 names the first that is not; blank lines are ignored), and a write that fails
(a full disk) is undone and answered 507.

It agrees with its client on what was stored (see ``http_post``): a request is stored only
while its client is still waiting (a client that half-closes during ``latency_s`` gets its
connection closed and nothing stored) and is answered at once after; a request whose
``Idempotency-Key`` was stored before is answered 200 and not stored again (the last
``MAX_KEYS`` keys are remembered).
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO

import numpy as np
import orjson

from sessionsim.errors import SessionsimError
from sessionsim.live.server import LimitedServer

__all__ = ["MAX_LATENCY_S", "Collector", "parse_listen"]

MAX_BODY = 16 << 20  # bytes of a request body (decoded)
MAX_CONNECTIONS = 64
READ_TIMEOUT_S = 10.0  # a connection silent this long is closed
MAX_LATENCY_S = 10.0  # injected latency: under the live sinks' 30 s timeout
MAX_KEYS = 100_000  # idempotency keys remembered (the most recent)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as a pair (port 0: any free port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise SessionsimError(f"--listen: expected HOST:PORT like 127.0.0.1:8080 (got {text!r})")
    return host, int(port)


class _Refused(Exception):
    """A request answered with an error status; nothing of it is stored."""

    def __init__(self, status: HTTPStatus, why: str) -> None:
        super().__init__(why)
        self.status, self.why = status, why


def _events(body: bytes) -> list[bytes]:
    """The body's non-blank lines, each a JSON object; else refused (400)."""
    lines = [line.strip() for line in body.split(b"\n")]
    kept = []
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            why = f"line {number}: not JSON (or not UTF-8)"
            raise _Refused(HTTPStatus.BAD_REQUEST, why) from None
        if not isinstance(obj, dict):
            raise _Refused(HTTPStatus.BAD_REQUEST, f"line {number}: not a JSON object")
        kept.append(line)
    return kept


def _client_left(sock: socket.socket, wait_s: float) -> bool:
    """Whether the client closes its side (it stopped waiting) within ``wait_s``."""
    end = time.monotonic() + wait_s
    if not select.select([sock], [], [], wait_s)[0]:
        return False
    try:
        if not sock.recv(1, socket.MSG_PEEK):
            return True  # its FIN
    except OSError:
        return True  # a reset
    time.sleep(max(0.0, end - time.monotonic()))  # a next request already: it is there
    return False


def _gunzip(body: bytes, limit: int) -> bytes:
    inflate = zlib.decompressobj(wbits=31)
    try:
        out = inflate.decompress(body, limit + 1)
    except zlib.error:
        raise _Refused(HTTPStatus.BAD_REQUEST, "not gzip") from None
    if len(out) > limit or inflate.unconsumed_tail:
        raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"over {limit} bytes decoded")
    return out


class _Handler(BaseHTTPRequestHandler):
    """One connection: POSTs of NDJSON, each answered after it is stored (or refused)."""

    protocol_version = "HTTP/1.1"
    # TCP_NODELAY on each accepted socket: the answer's header and body go out as
    # two small sends, which Nagle's algorithm and the client's delayed ACK would
    # otherwise hold about 40 ms on every request of a keep-alive connection.
    disable_nagle_algorithm = True

    timeout = READ_TIMEOUT_S  # the socket's: a silent peer is dropped

    @property
    def _collector(self) -> Collector:
        server = self.server
        assert isinstance(server, LimitedServer)
        return server.owner

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        collector = self._collector
        try:
            lines = _events(self._body())
        except _Refused as e:
            collector.refuse()
            self.close_connection = True  # what follows a refused body is unknown
            time.sleep(collector.latency_s)
            self._answer(e.status, orjson.dumps({"error": e.why}))
            return
        sock = self.connection
        answer = None
        if not (collector.latency_s and _client_left(sock, collector.latency_s)):
            key = self.headers.get("idempotency-key")
            answer = collector.receive(lines, key, lambda: not _client_left(sock, 0.0))
        if answer is None:  # the client stopped waiting: nothing stored, nothing to say
            collector.abandon()
            self.close_connection = True
            return
        self._answer(*answer)

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            raise _Refused(HTTPStatus.LENGTH_REQUIRED, "send a content-length")
        length = self.headers.get("content-length")
        if length is None:
            raise _Refused(HTTPStatus.LENGTH_REQUIRED, "send a content-length")
        if not length.strip().isdigit():
            raise _Refused(HTTPStatus.BAD_REQUEST, "bad content-length")
        n = int(length)
        if n > self._collector.max_body:
            raise _Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"over {self._collector.max_body} bytes"
            )
        encoding = (self.headers.get("content-encoding") or "identity").lower()
        if encoding not in ("identity", "gzip"):
            raise _Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"encoding {encoding}")
        try:
            body = self.rfile.read(n)
        except (TimeoutError, OSError):
            body = b""
        if len(body) < n:
            raise _Refused(HTTPStatus.BAD_REQUEST, "body shorter than content-length")
        return _gunzip(body, self._collector.max_body) if encoding == "gzip" else body

    def _answer(self, status: int, answer: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # one summary at the end, not a line per request


class Collector:
    """An HTTP server that appends every POSTed NDJSON body to one file."""

    def __init__(
        self,
        listen: tuple[str, int],
        out: Path,
        fail_rate: float = 0.0,
        fail_first: int = 0,
        latency_s: float = 0.0,
        seed: int = 0,
        max_body: int = MAX_BODY,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        """Bind ``listen`` now (so ``address`` is known, port 0 included)."""
        if not 0.0 <= latency_s <= MAX_LATENCY_S:
            raise SessionsimError(
                f"--latency: expected at most {MAX_LATENCY_S:g}s, under the live sinks' "
                f"timeout (got {latency_s:g}s)"
            )
        self.out_path, self.max_body = out, max_body
        self.fail_rate, self.fail_first, self.latency_s = fail_rate, fail_first, latency_s
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self.requests = self.failed = self.lines = self.refused = 0
        self.abandoned = self.duplicates = 0
        self._keys: OrderedDict[str, None] = OrderedDict()  # stored requests' idempotency keys
        try:
            # Unbuffered: a request's bytes go to the kernel at once, or are undone whole.
            self._file: IO[bytes] = open(out, "ab", buffering=0)  # noqa: SIM115 - while serving
        except OSError as e:
            raise SessionsimError(f"{out}: cannot write: {e.strerror}") from None
        try:
            self.server = LimitedServer(listen, _Handler, max_connections, self)
        except OSError as e:
            self._file.close()
            raise SessionsimError(f"--listen {listen[0]}:{listen[1]}: {e.strerror}") from None

    @property
    def address(self) -> str:
        """``HOST:PORT`` the collector listens on."""
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def refuse(self) -> None:
        with self._lock:
            self.requests += 1
            self.refused += 1

    def abandon(self) -> None:
        with self._lock:
            self.requests += 1
            self.abandoned += 1

    def receive(
        self, lines: list[bytes], key: str | None = None, present: Callable[[], bool] = lambda: True
    ) -> tuple[int, bytes] | None:
        """Decide the answer to one request's ``lines``, and keep them (all or none) when it
        is accepted, its ``key`` was not stored before and ``present()`` says its client is
        still there (None when it is not)."""
        with self._lock:
            if not present():
                return None
            self.requests += 1
            fail = self.requests <= self.fail_first or (
                self.fail_rate > 0 and self._rng.random() < self.fail_rate
            )
            if fail:
                self.failed += 1
                return HTTPStatus.INTERNAL_SERVER_ERROR, b'{"error":"injected failure"}'
            if key is not None and key in self._keys:
                self.duplicates += 1
                return HTTPStatus.OK, orjson.dumps({"received": 0, "duplicate": True})
            if not lines:
                return HTTPStatus.OK, orjson.dumps({"received": 0})
            at = os.fstat(self._file.fileno()).st_size  # appended at the end, wherever that is
            try:
                data = memoryview(b"\n".join(lines) + b"\n")
                while data:
                    data = data[self._file.write(data) or 0 :]
            except OSError as e:  # a full disk: undo, so the file stays whole lines
                self._undo(at)
                self.failed += 1
                return HTTPStatus.INSUFFICIENT_STORAGE, orjson.dumps({"error": e.strerror})
            if key is not None:
                self._keys[key] = None
                if len(self._keys) > MAX_KEYS:
                    self._keys.popitem(last=False)
            self.lines += len(lines)
            return HTTPStatus.OK, orjson.dumps({"received": len(lines)})

    def _undo(self, at: int) -> None:
        try:
            os.ftruncate(self._file.fileno(), at)
        except OSError:
            pass

    def serve(self) -> None:
        """Serve until ``shutdown`` (from another thread or a signal handler)."""
        self.server.serve_forever(poll_interval=0.1)

    def shutdown(self) -> None:
        """Stop serving (call from another thread than ``serve``'s)."""
        self.server.shutdown()

    def close(self) -> None:
        """Release the socket and the file."""
        self.server.server_close()
        self._file.close()

    def summary(self) -> str:
        """One line: what was received."""
        stored = self.requests - self.failed - self.refused - self.abandoned - self.duplicates
        return (
            f"collect: {self.lines:,} events in {stored:,} requests written to "
            f"{self.out_path}; {self.failed:,} requests failed (500, 507), {self.refused:,} "
            f"refused (4xx), {self.abandoned:,} abandoned by their client, "
            f"{self.duplicates:,} repeated (already stored), "
            f"{self.server.refused:,} connections turned away (503)"
        )
