"""JSON lines on stdout or into a file, flushed per batch."""

from __future__ import annotations

import sys
import time
from typing import IO

from sessionsim.live.sinks.base import Outgoing, Tally


class StdoutSink:
    """JSON lines on stdout (or a file), flushed per batch; ``key`` prefixes each with the
    user and a tab (for ``kcat -K$'\\t'``)."""

    def __init__(self, tally: Tally, keyed: bool = False, stream: IO[bytes] | None = None) -> None:
        """Write to ``stream`` (default: this process's stdout)."""
        self.tally, self.keyed = tally, keyed
        self._owned = stream is not None  # a file it opened: closed at the end
        self.stream = stream if stream is not None else sys.stdout.buffer

    def send(self, items: list[Outgoing]) -> None:
        if not items:
            return
        if self.tally.error:
            self.tally.drop(items, "not sent: the run stopped")
            return
        if self.keyed:
            data = b"".join(it.key + b"\t" + it.line for it in items)
        else:
            data = b"".join(it.line for it in items)
        self.tally.was_sent(len(items))
        began = time.monotonic()
        try:
            self.stream.write(data)
            self.stream.flush()
        except (BrokenPipeError, OSError) as e:
            reason = "the reader closed the pipe" if isinstance(e, BrokenPipeError) else str(e)
            self.tally.fail(items, reason, fatal=f"stdout: {reason}")
            return
        self.tally.request(time.monotonic() - began)
        self.tally.ack(items)

    def poll(self) -> None:
        pass

    def close(self, timeout_s: float) -> None:
        if self._owned:
            self.stream.close()
