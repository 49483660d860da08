"""A collector: receive NDJSON over HTTP into a JSON lines file, with injected failures.

``sessionsim collect --listen 127.0.0.1:8080 --out events.jsonl`` appends the body of each
POST to the file (flushed per request) and answers 200, so a live run can be tried end to
end and tests have a real peer. ``fail_rate`` answers that fraction of requests with 500
(seeded draws), ``fail_first`` the first N requests, and ``latency_s`` delays every answer.
"""

from __future__ import annotations

import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

import numpy as np
import orjson

from sessionsim.errors import SessionsimError

__all__ = ["Collector", "parse_listen"]


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as a pair (port 0: any free port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise SessionsimError(f"--listen: expected HOST:PORT like 127.0.0.1:8080 (got {text!r})")
    return host, int(port)


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
    ) -> None:
        """Bind ``listen`` now (so ``address`` is known, port 0 included)."""
        self.out_path = out
        self.fail_rate, self.fail_first, self.latency_s = fail_rate, fail_first, latency_s
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self.requests = self.failed = self.lines = 0
        try:
            self._file: IO[bytes] = open(out, "ab")  # noqa: SIM115 - open while serving
        except OSError as e:
            raise SessionsimError(f"{out}: cannot write: {e.strerror}") from None
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY on each accepted socket: the answer's header and body go out as
            # two small sends, which Nagle's algorithm and the client's delayed ACK would
            # otherwise hold about 40 ms on every request of a keep-alive connection.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                length = self.headers.get("content-length") or "0"
                if not length.isdigit():
                    self._answer(HTTPStatus.BAD_REQUEST, b'{"error":"bad content-length"}')
                    return
                status, answer = collector.receive(self.rfile.read(int(length)))
                if collector.latency_s:
                    time.sleep(collector.latency_s)
                self._answer(status, answer)

            def _answer(self, status: int, answer: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # one summary at the end, not a line per request

        try:
            self.server = ThreadingHTTPServer(listen, Handler)
        except OSError as e:
            self._file.close()
            raise SessionsimError(f"--listen {listen[0]}:{listen[1]}: {e.strerror}") from None
        self.server.daemon_threads = True

    @property
    def address(self) -> str:
        """``HOST:PORT`` the collector listens on."""
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def receive(self, body: bytes) -> tuple[int, bytes]:
        """Decide the answer to one request, and keep its events when it is accepted."""
        with self._lock:
            self.requests += 1
            fail = self.requests <= self.fail_first or (
                self.fail_rate > 0 and self._rng.random() < self.fail_rate
            )
            if fail:
                self.failed += 1
                return HTTPStatus.INTERNAL_SERVER_ERROR, b'{"error":"injected failure"}'
            if body and not body.endswith(b"\n"):
                body += b"\n"
            n = body.count(b"\n")
            self._file.write(body)
            self._file.flush()
            self.lines += n
            return HTTPStatus.OK, orjson.dumps({"received": n})

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
        return (
            f"collect: {self.lines:,} events in {self.requests - self.failed:,} requests "
            f"written to {self.out_path}; {self.failed:,} requests answered 500"
        )
