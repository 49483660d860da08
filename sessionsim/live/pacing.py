"""Real-time pacing: simulated time advances at ``speed`` times wall-clock time.

An event leaves at its ``received_at`` instant: the pacer releases a batch of arrivals in
slices of ``slice_s`` wall seconds (small enough to look continuous to a consumer, large
enough to keep the overhead per event low) and sleeps until each slice is due. The clock
and the sleep are injected, so the logic is tested without timing anything.

It is an open workload: the schedule never waits for the sink. When the sink falls behind,
the pacer does not sleep, and ``lag_s`` says how far behind schedule the run is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

__all__ = ["Pacer"]

T = TypeVar("T")


class Pacer:
    """Hold arrivals until their simulated arrival time is due in wall-clock time."""

    def __init__(
        self,
        speed: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        slice_s: float = 0.05,
    ) -> None:
        """``speed`` simulated seconds pass per wall second (1: real time)."""
        if not speed > 0:
            raise ValueError(f"speed: expected a number > 0 (got {speed!r})")
        self.speed = speed
        self.clock, self.sleep = clock, sleep
        self.slice_s = slice_s
        self._origin: tuple[float, float] | None = None  # (wall, sim) at the start
        self.lag_s = 0.0

    def due(self, sim_s: float) -> float:
        """The wall-clock instant at which simulated time ``sim_s`` is due."""
        if self._origin is None:
            self._origin = (self.clock(), sim_s)
        wall0, sim0 = self._origin
        return wall0 + (sim_s - sim0) / self.speed

    def wait_for(self, sim_s: float) -> None:
        """Sleep until ``sim_s`` is due; when it is overdue, record the lag instead."""
        wait = self.due(sim_s) - self.clock()
        if wait > 0:
            self.sleep(wait)
            self.lag_s = 0.0
        else:
            self.lag_s = -wait

    def paced(self, batch: Sequence[T], time_of: Callable[[T], float]) -> Iterator[list[T]]:
        """Yield ``batch`` (in time order) in slices, each once its first item is due."""
        step = self.slice_s * self.speed  # simulated seconds per slice
        lo, n = 0, len(batch)
        while lo < n:
            start = time_of(batch[lo])
            hi = lo + 1
            while hi < n and time_of(batch[hi]) < start + step:
                hi += 1
            self.wait_for(start)
            yield list(batch[lo:hi])
            lo = hi
