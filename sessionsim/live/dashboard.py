"""``stream --dashboard 127.0.0.1:PORT``: the live run's page, served while the run goes.

The page (``timeline.live_page``) is made on each request from the run's statistics so
far and refreshes itself each second. Only ``GET /`` is served (404 elsewhere, 405 for
other methods, 413 for a request that carries a body); a connection silent for
``READ_TIMEOUT_S`` is closed and at most ``MAX_CONNECTIONS`` are served at once. It binds
where it is told (127.0.0.1 unless another address is given) and stops with the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import TracebackType

from sessionsim.errors import SessionsimError
from sessionsim.live.server import LimitedServer

__all__ = ["Dashboard", "parse_dashboard"]

MAX_CONNECTIONS = 8
READ_TIMEOUT_S = 5.0


def parse_dashboard(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``:PORT`` (host 127.0.0.1) as a pair; port 0: any free port."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise SessionsimError(f"--dashboard: expected HOST:PORT like 127.0.0.1:8089 (got {text!r})")
    return host or "127.0.0.1", int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S  # the socket's: a silent peer is dropped

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        if (self.headers.get("content-length") or "0").strip() not in ("", "0"):
            self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"no body expected\n")
            return
        if self.path.split("?", 1)[0] not in ("/", "/index.html"):
            self._answer(HTTPStatus.NOT_FOUND, b"not found: the dashboard is at /\n")
            return
        server = self.server
        assert isinstance(server, LimitedServer)
        self._answer(HTTPStatus.OK, server.owner.page(), "text/html; charset=utf-8")

    def _refuse(self) -> None:
        self._answer(HTTPStatus.METHOD_NOT_ALLOWED, b"the dashboard only answers GET\n")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
        if status != HTTPStatus.OK:
            self.close_connection = True  # a body we did not read may follow
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class Dashboard:
    """Serve ``page()`` at ``/`` on ``listen`` from a thread, for the life of a ``with``."""

    def __init__(self, listen: tuple[str, int], page: Callable[[], bytes]) -> None:
        self.page = page
        try:
            self.server = LimitedServer(listen, _Handler, MAX_CONNECTIONS, self)
        except OSError as e:
            raise SessionsimError(
                f"--dashboard {listen[0]}:{listen[1]}: cannot listen: {e.strerror or e}"
            ) from None
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}/"

    def __enter__(self) -> Dashboard:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()  # within poll_interval; a handler is bounded by its timeout
        self.server.server_close()
