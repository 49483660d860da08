"""An HTTP server with limits, for the collector and the dashboard: a thread per connection,
at most ``max_connections`` at once (beyond them an immediate 503 and a close), a listen
backlog for bursts, and quiet about a peer's resets and timeouts (each handler sets its
own read timeout)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BACKLOG", "LimitedServer"]

BACKLOG = 128


class LimitedServer(ThreadingHTTPServer):
    """Threads per connection, at most ``max_connections`` at once; ``owner`` is what the
    handlers serve (the collector, the dashboard)."""

    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int,
        owner: Any,
    ) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        self.owner = owner
        self.refused = 0  # connections answered 503: every slot was taken
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            try:
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n"
                    b"connection: close\r\n\r\n"
                )
                # What the client sent already is read (not waited for), so the close is a
                # FIN after the answer, not a reset that could destroy it.
                request.setblocking(False)
                while request.recv(65_536):
                    pass
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a peer that reset or went silent: its connection is closed, nothing kept
