"""What lateness costs: how long after its end a session comes out, and what is held.

Stream time is the largest ``ts`` the sessionizer has read so far. A session's emission
delay is that time when it comes out minus its end: a streaming sessionizer holds a session
for at least ``gap + lateness`` past its end; a batch one until the end of the input.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

from sessionizer import Event, Late, LateColumns, Session, SessionColumns

__all__ = ["Latency"]


class Latency:
    """Wrap the events a sessionizer reads (``feed``) and what it emits (``watch``)."""

    def __init__(self) -> None:
        self.now: int | None = None  # stream time: the largest ts read so far
        self.read = 0
        self.out = 0  # events accounted for: in emitted sessions, or late
        self.peak_held = 0
        self._delays = array("q")

    def feed(self, events: Iterable[Event]) -> Iterator[Event]:
        for e in events:
            self.read += 1
            if self.now is None or e.ts > self.now:
                self.now = e.ts
            yield e

    def feed_batches(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """``feed`` on columns: a batch is read whole before anything it makes is emitted."""
        for b in batches:
            if b.num_rows:
                self.read += b.num_rows
                top = int(b.column("ts").to_numpy().max())
                if self.now is None or top > self.now:
                    self.now = top
            yield b

    def watch_columns(
        self, outputs: Iterable[SessionColumns | LateColumns]
    ) -> Iterator[SessionColumns | LateColumns]:
        """``watch`` on columns (the events held peak before a batch's first output)."""
        for o in outputs:
            self.peak_held = max(self.peak_held, self.read - self.out)
            if isinstance(o, LateColumns):
                self.out += len(o)
            else:
                self.out += o.events.num_rows
                self._delays.extend(((self.now or 0) - o.end).tolist())
            yield o

    def watch(self, outputs: Iterable[Session | Late]) -> Iterator[Session | Late]:
        for o in outputs:
            held = self.read - self.out
            if held > self.peak_held:
                self.peak_held = held
            if isinstance(o, Late):
                self.out += 1
            else:
                self.out += len(o.events)
                self._delays.append((self.now or 0) - o.end)  # an output follows an input
            yield o

    def summary(self) -> dict:
        """Emission delay percentiles (seconds of stream time) and the peak events held
        (read, not yet in an emitted session nor late; repeats dropped count as held)."""
        delays = np.frombuffer(self._delays, np.int64) if self._delays else np.zeros(1)
        p50, p99 = np.percentile(delays, [50, 99]) / 1000.0
        return {
            "emission_delay_p50_s": float(p50),
            "emission_delay_p99_s": float(p99),
            "peak_events_held": self.peak_held,
        }
