"""Live statistics of a live run: one status line a second on stderr, a CSV row a second
(to ``--stats-csv``, flushed each row, and to the run's ``live_stats.csv``), and the recent
history for the dashboard.

Columns (as Locust's ``--csv`` history): wall seconds since the start, the target rate
(``--rate`` or the scenario's ``load:`` shape; empty without), the rate the schedule
released events at, the rates sent and acknowledged, the lag behind schedule, and the
running totals, then the latencies of the second (p50, p95, p99, max, in ms; empty when
nothing was acknowledged or requested): a copy handed to the sink until acknowledged, and
one request (a POST, a write, a Kafka delivery report).
"""

from __future__ import annotations

import csv
import io
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from tqdm import tqdm

from sessionsim.errors import SessionsimError
from sessionsim.live.sinks import Tally

__all__ = ["COLUMNS", "HISTORY_ROWS", "LiveStats"]

HISTORY_ROWS = 3600  # seconds of history the dashboard draws (the run's file keeps all)

COLUMNS = (
    "wall_s",
    "target_eps",
    "scheduled_eps",
    "sent_eps",
    "acked_eps",
    "lag_s",
    "scheduled",
    "sent",
    "acked",
    "retried",
    "failed",
    "ack_p50_ms",
    "ack_p95_ms",
    "ack_p99_ms",
    "ack_max_ms",
    "request_p50_ms",
    "request_p95_ms",
    "request_p99_ms",
    "request_max_ms",
)


class Writes(Protocol):
    def write(self, data: bytes, /) -> Any: ...


class LiveStats:
    """Watch a live run's tally; report once a second (or when forced)."""

    def __init__(
        self,
        tally: Tally,
        clock: Callable[[], float],
        target: Callable[[float], float] | None = None,
        csv_path: Path | None = None,
        max_lag_s: float | None = None,
        on_max_lag: Callable[[], None] | None = None,
        history_out: Writes | None = None,
    ) -> None:
        """Write the CSV history to ``csv_path`` (flushed every row) and to
        ``history_out`` when given; call ``on_max_lag`` once, when the lag first exceeds
        ``max_lag_s``."""
        self.history_out = history_out
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_ROWS)
        self._history_lock = threading.Lock()  # the dashboard reads from its own thread
        self.tally, self.clock, self.target = tally, clock, target
        self.max_lag_s, self.on_max_lag = max_lag_s, on_max_lag
        self.lagged_s: float | None = None  # the lag that exceeded max_lag_s
        self.csv_path = csv_path
        self.due = 0
        self.lag_s = 0.0
        self.peak_lag_s = 0.0
        self._csv_file: IO[str] | None = None
        self._writer: csv.DictWriter | None = None
        self._bar: tqdm | None = None
        self._start = self._last = 0.0
        self._prev = (0, 0, 0)

    def __enter__(self) -> LiveStats:
        self._start = self._last = self.clock()
        if self.csv_path is not None:
            try:
                self._csv_file = open(self.csv_path, "w", newline="")  # noqa: SIM115
            except OSError as e:
                raise SessionsimError(f"--stats-csv {self.csv_path}: {e.strerror}") from None
            self._writer = csv.DictWriter(self._csv_file, COLUMNS)
            self._writer.writeheader()
        if self.history_out is not None:
            self.history_out.write(_csv_lines(None))
        self._bar = tqdm(total=0, bar_format="{desc}", file=sys.stderr, dynamic_ncols=True)
        return self

    def scheduled(self, n: int, lag_s: float) -> None:
        """``n`` events were due; the run is ``lag_s`` behind schedule."""
        self.due += n
        self.lag_s = lag_s
        self.peak_lag_s = max(self.peak_lag_s, lag_s)
        if self.max_lag_s is not None and lag_s > self.max_lag_s and self.lagged_s is None:
            self.lagged_s = lag_s
            if self.on_max_lag is not None:
                self.on_max_lag()

    def tick(self, force: bool = False) -> None:
        """Report when a second has passed since the last report (or ``force``)."""
        now = self.clock()
        dt = now - self._last
        if dt < 1.0 and not (force and dt > 0):
            return
        t = self.tally
        due0, sent0, acked0 = self._prev
        row = {
            "wall_s": round(now - self._start, 3),
            "target_eps": round(self.target(now - self._start), 1) if self.target else "",
            "scheduled_eps": round((self.due - due0) / dt, 1),
            "sent_eps": round((t.sent - sent0) / dt, 1),
            "acked_eps": round((t.acked - acked0) / dt, 1),
            "lag_s": round(self.lag_s, 3),
            "scheduled": self.due,
            "sent": t.sent,
            "acked": t.acked,
            "retried": t.retried,
            "failed": t.failed,
        }
        acks, requests = t.windows()
        for name, value in acks.items():
            row[f"ack_{name}"] = "" if value is None else value
        for name, value in requests.items():
            row[f"request_{name}"] = "" if value is None else value
        self._prev, self._last = (self.due, t.sent, t.acked), now
        with self._history_lock:
            self.history.append(row)
        if self.history_out is not None:
            self.history_out.write(_csv_lines(row))
        if self._writer is not None and self._csv_file is not None:
            try:
                self._writer.writerow(row)
                self._csv_file.flush()
            except OSError as e:  # a full disk: the run ends on it, with one line
                self._writer = None
                self.tally.broken(f"--stats-csv {self.csv_path}: {e.strerror or e}")
        if self._bar is not None:
            self._bar.set_description_str(_line(row), refresh=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._csv_file is not None:
            try:
                self._csv_file.close()
            except OSError:
                pass  # already reported by the write that failed

    def recent(self) -> list[dict[str, Any]]:
        """The last ``HISTORY_ROWS`` rows (safe from another thread)."""
        with self._history_lock:
            return list(self.history)

    def summary(self) -> str:
        """One line over the whole run."""
        t = self.tally
        wall = max(self._last - self._start, 1e-9)
        ack = t.ack_latency.summary()
        latency = (
            f"; ack latency p50 {ack['p50_ms']:,.1f} ms, p95 {ack['p95_ms']:,.1f}, "
            f"p99 {ack['p99_ms']:,.1f}, max {ack['max_ms']:,.1f}"
            if ack["p50_ms"] is not None
            and ack["max_ms"] is not None
            and ack["p95_ms"] is not None
            and ack["p99_ms"] is not None
            else ""
        )
        reasons = t.failures_by_reason()
        why = (
            "; failed or unsent by reason: " + ", ".join(f"{n:,} {r}" for r, n in reasons.items())
            if reasons
            else ""
        )
        return (
            f"live: {t.acked:,} events acknowledged of {t.sent:,} sent in {wall:.1f} s "
            f"({t.acked / wall:,.0f} events/s), {t.retried:,} retried, {t.failed:,} failed, "
            f"{t.unsent:,} not sent, peak lag {self.peak_lag_s:.2f} s{latency}{why}"
        )


def _line(row: dict) -> str:
    target = f"target {row['target_eps']:,.0f} | " if row["target_eps"] != "" else ""
    p99 = row["ack_p99_ms"]
    ack = f" | ack p99 {p99:,.0f} ms" if p99 != "" else ""
    return (
        f"{target}scheduled {row['scheduled_eps']:,.0f}/s  sent {row['sent_eps']:,.0f}/s  "
        f"acked {row['acked_eps']:,.0f}/s | lag {row['lag_s']:.2f} s{ack} | sent {row['sent']:,}  "
        f"acked {row['acked']:,}  retried {row['retried']:,}  failed {row['failed']:,}"
    )


def _csv_lines(row: dict[str, Any] | None) -> bytes:
    """The CSV header (``row`` None) or one row, as bytes."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    if row is None:
        writer.writeheader()
    else:
        writer.writerow(row)
    return buf.getvalue().encode()
