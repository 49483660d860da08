"""One HTTP/1.1 POST whose outcome the client and the collector agree on.

A request the client stops waiting for (its timeout, a stop) is not simply dropped: the
client half-closes the connection (a FIN: "I am leaving") and reads on for a moment. The
collector stores a request only while its client is still there, and answers at once after
storing; seeing the FIN first, it stores nothing and closes. So the client either reads the
answer to what was stored, or reads the end of the connection for what was not: a late
answer can never disagree with the run's truth. An ``Idempotency-Key``, the same on every
attempt of a batch, lets the collector answer a retry of a stored batch without storing it
twice (a connection lost after the answer was sent).

Built on the standard library's ``http.client``, so the worker owns its socket: it waits
for the answer in short slices that a stop cuts short.
"""

from __future__ import annotations

import http.client
import select
import socket
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from sessionsim.live.deadline import Deadline

__all__ = ["ABANDON_S", "Answer", "Link", "Transport"]

ABANDON_S = 1.0  # after a half-close: how long the answer to a stored request may take


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of one attempt: a status (None: no answer) and, if any, why not 2xx."""

    status: int | None
    reason: str = ""
    retry_after_s: float = 0.0  # a 429/503's Retry-After, in seconds

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Transport(Protocol):
    """What the HTTP sink needs of a connection (``Link``; tests script one): post a batch
    under its key, leave what is in flight, close."""

    left: bool

    def post(self, body: bytes, key: str, deadline: Deadline) -> Answer: ...

    def leave(self) -> None: ...

    def close(self) -> None: ...


def _retry_after(value: str | None) -> float:
    if value and value.strip().isdigit():
        return min(float(value.strip()), 60.0)
    return 0.0  # absent, or an HTTP date: the sink's own backoff


class Link:
    """A keep-alive connection to one URL, used by one thread at a time."""

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme == "https":
            self._conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=timeout_s
            )
        else:
            self._conn = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=timeout_s
            )
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.left = False  # set by ``leave``: no request is sent or waited for any more

    def post(self, body: bytes, key: str, deadline: Deadline) -> Answer:
        """POST ``body``; wait for the answer until ``deadline``, then leave (half-close) and
        take the answer only if it comes at once."""
        conn = self._conn
        if self.left:
            return Answer(None, "the run stopped")
        if conn.sock is not None and select.select([conn.sock], [], [], 0)[0]:
            conn.close()  # an idle connection the collector closed: a new one, not a failure
        try:
            conn.request(
                "POST",
                self.target,
                body,
                {"content-type": "application/x-ndjson", "idempotency-key": key},
            )
            sock = conn.sock
            assert sock is not None
            if not self._answered(sock, deadline):
                _half_close(sock)  # leaving: the collector stores nothing more
                if not self._answered(sock, Deadline(ABANDON_S), leaving=True):
                    self.close()
                    return Answer(None, "no answer in time")
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            why = "the collector closed the connection" if _closed(e) else _describe(e)
            if self.left or deadline.expired:
                why = "no answer in time" if _closed(e) else why
            return Answer(None, why)
        if self.left or deadline.expired or response.will_close:
            self.close()  # after a half-close the connection cannot carry another request
        if 200 <= response.status < 300:
            return Answer(response.status)
        return Answer(
            response.status,
            f"HTTP {response.status}",
            _retry_after(response.getheader("retry-after")),
        )

    def leave(self) -> None:
        """From another thread: what is in flight leaves (a half-close) and hears within
        ``ABANDON_S`` whether it was stored; nothing more is sent."""
        self.left = True
        sock = self._conn.sock
        if sock is not None:
            _half_close(sock)

    def _answered(self, sock: socket.socket, deadline: Deadline, leaving: bool = False) -> bool:
        """Wait, in slices a stop or ``leave`` can cut, until there is an answer to read."""
        if getattr(sock, "pending", lambda: 0)():  # TLS bytes already decrypted
            return True
        while (left := deadline.left()) > 0 and (leaving or not self.left):
            if select.select([sock], [], [], min(0.1, left))[0]:
                return True
        return False

    def close(self) -> None:
        self._conn.close()


def _half_close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # not connected (yet, or any more): nothing to say


def _closed(e: BaseException) -> bool:
    return isinstance(e, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError)


def _describe(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
