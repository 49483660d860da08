"""The end of a wait, which a stop brings forward."""

from __future__ import annotations

import threading
import time

__all__ = ["STOP_GRACE_S", "Deadline"]

STOP_GRACE_S = 2.0  # after a stop: how long what is in flight may still be acknowledged


class Deadline:
    """The end of a wait of ``timeout_s``, brought forward to ``STOP_GRACE_S`` from the
    moment ``stopping`` is seen set (a wait already under way is cut short too)."""

    def __init__(self, timeout_s: float, stopping: threading.Event | None = None) -> None:
        self.end = time.monotonic() + timeout_s
        self.stopping = stopping
        self._cut = False

    def left(self) -> float:
        """Seconds left (0.0 once passed)."""
        now = time.monotonic()
        if self.stopping is not None and self.stopping.is_set() and not self._cut:
            self._cut = True
            self.end = min(self.end, now + STOP_GRACE_S)
        return max(0.0, self.end - now)

    @property
    def expired(self) -> bool:
        return self.left() <= 0.0
