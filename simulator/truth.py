"""The ground-truth ledger: every true visit, search and generated event, and the summary."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from simulator.events import CLICK, SEARCH
from simulator.truth_rows import truth_tables
from simulator.visit import Fate, Happening, Visit

if TYPE_CHECKING:
    from simulator.events import EventCodec
    from simulator.sinks import RowWriter

__all__ = ["Ledger", "summarize", "visit_label"]

ROWS_PER_WRITE = 16_384  # truth rows are rendered in batches of at least this many events
FINAL_TICK = 0xFFFFFFFF  # the end of the run: visits whose delivery is known only then
P_UNITS = 10**12  # click probabilities are summed as integers of this unit (exact in any order)
_BY_VISIT = operator.itemgetter(0, 1)


def visit_label(user: int, visit: int) -> int:
    """Return an integer naming one true visit (user index and the user's visit number)."""
    return (user << 20) | visit


def _observable(events: list[Happening], fates: list[Fate]) -> tuple[int, int, int]:
    """SESSIONS.md section 4 on the delivered events of one visit: (searches, clicked, clicks)."""
    searches = clicked = clicks = 0
    owned = None  # clicks of the current delivered search; None before the first
    for (_, kind, *_), (_, _, deliveries, *_) in zip(events, fates):
        if not deliveries:
            continue
        if kind == SEARCH:
            clicked += bool(owned)
            searches += 1
            owned = 0
        elif kind == CLICK and owned is not None:
            owned += 1
            clicks += 1
    return searches, clicked + bool(owned), clicks


class Ledger:
    """Record each visit as its delivery is known: truth rows (when writers are given) and
    running totals."""

    def __init__(
        self,
        codec: EventCodec,
        sessions_out: RowWriter | None = None,
        searches_out: RowWriter | None = None,
        events_out: RowWriter | None = None,
        on_visit: Callable[[int, int], None] | None = None,
        keyed: bool = False,
    ) -> None:
        """Rows go to the writers given (none: totals only), as typed columns that each
        writer renders (JSON lines or Parquet); ``keyed`` hands each row its merge key (a
        shard's files are merged by it)."""
        self.codec = codec
        self._writers: tuple[RowWriter, RowWriter, RowWriter] | None = None
        if sessions_out is not None and searches_out is not None and events_out is not None:
            self._writers = (sessions_out, searches_out, events_out)
        elif (sessions_out, searches_out, events_out) != (None, None, None):
            raise ValueError("the ledger writes all three truth files or none")
        self.on_visit = on_visit
        self.totals: Counter[str] = Counter()  # integers only: shards' totals add up exactly
        self.keyed = keyed
        self._pending: list[tuple] = []
        self._ready: list[tuple[int, list[tuple]]] = []  # (tick, its visits), not yet written
        self._ready_events = 0
        self._ticks = 0

    def visit(self, v: Visit) -> None:
        """Record one finished visit (its rows are written at the next ``tick``)."""
        events, searches, route = v.events, v.searches, v.route
        n = self.totals
        clicked = clicks = 0
        for _, _, _, results, c, p, _ in searches:
            clicks += c
            clicked += c > 0
            if results is None:
                n["timed_out"] += 1
                continue
            n["shown"] += 1
            n["p_click_units"] += round(p * P_UNITS)  # type: ignore[operator]  # shown: p set
            if results == 0:
                n["zero_result"] += 1
            elif c == 0:
                n["abandoned"] += 1
        n["sessions"] += 1
        n["searches"] += len(searches)
        n["clicked_searches"] += clicked
        n["clicks"] += clicks
        n["generated"] += len(events)
        if route.faultless:  # every event delivered once: observable = behavioural
            delivered = len(events)
            n["deliveries"] += delivered
            observable = (len(searches), clicked, clicks)
        else:
            delivered = 0
            for (t, kind, *_), (stamped, _, deliveries, offline, *_) in zip(events, route.fates):
                n["skewed"] += abs(stamped - t) >= 0.001
                if deliveries:
                    delivered += 1
                    n["deliveries"] += deliveries
                    n["offline_buffered"] += offline
                elif offline:
                    n["unsent"] += 1
                else:
                    n[f"lost:{kind}"] += 1
            observable = _observable(events, route.fates)
        n["delivered"] += delivered
        for key, value in zip(("obs_searches", "obs_clicked", "obs_clicks"), observable):
            n[key] += value
        if self.on_visit is not None:
            self.on_visit(visit_label(v.user, v.visit), delivered)
        if self._writers is not None:
            self._pending.append((v.user, v.visit, v, clicked, clicks))

    def tick(self, final: bool = False) -> None:
        """Write the rows of the visits recorded since the last tick, by (user, visit).

        The engine ticks at fixed sim times (and once, ``final``, after the run), so the row
        order (tick, user, visit) does not depend on how users are sharded across processes.
        Rows are written a batch at a time (``ROWS_PER_WRITE`` events or more), as columns.
        """
        if final:
            self._ticks = FINAL_TICK
        if self._pending:
            self._pending.sort(key=_BY_VISIT)
            self._ready.append((self._ticks, self._pending))
            self._ready_events += sum(len(p[2].events) for p in self._pending)
            self._pending = []
        if final or self._ready_events >= ROWS_PER_WRITE:
            self._write_ready()
        self._ticks = min(self._ticks + 1, FINAL_TICK)  # nothing sorts after the final tick

    def _write_ready(self) -> None:
        if not self._ready:
            return
        assert self._writers is not None  # visits are pending only when there are writers
        ticks = [t for t, group in self._ready for _ in group]
        visits = [p for _, group in self._ready for p in group]
        self._ready, self._ready_events = [], 0
        tables = truth_tables(self.codec, ticks, visits)
        for writer, (columns, n, keys) in zip(self._writers, tables):
            writer.add_columns(columns, n, keys if self.keyed else None)

    def flush(self) -> None:
        """Write every recorded visit's rows and flush the writers."""
        self.tick()
        self._write_ready()
        for out in self._writers or ():
            out.flush()

    def summary(self) -> dict:
        """Return the totals of SESSIONS.md sections 4 and 5 over every true visit."""
        return summarize(self.totals)


def summarize(n: Counter[str]) -> dict:
    """Return the summary of a ledger's integer totals (or of several ledgers' added up)."""
    s, shown, obs = n["searches"], n["shown"], n["obs_searches"]
    p_sum = n["p_click_units"] / P_UNITS
    lost = {k.removeprefix("lost:"): v for k, v in sorted(n.items()) if k.startswith("lost:")}
    return {
        "sessions": n["sessions"],
        "generated_events": n["generated"],
        "delivered_events": n["delivered"],
        "lost_events": sum(lost.values()),
        "lost_by_type": lost,
        "unsent_events": n["unsent"],
        "duplicate_deliveries": n["deliveries"] - n["delivered"],
        "offline_buffered_events": n["offline_buffered"],
        "skewed_events": n["skewed"],
        "searches": s,
        "clicked_searches": n["clicked_searches"],
        "clicks": n["clicks"],
        "ctr": n["clicked_searches"] / s if s else None,
        "clicks_per_search": n["clicks"] / s if s else None,
        "expected_ctr": p_sum / s if s else None,
        "expected_ctr_served": p_sum / shown if shown else None,
        "zero_result_searches": n["zero_result"],
        "abandoned_searches": n["abandoned"],
        "timed_out_searches": n["timed_out"],
        "observable_searches": obs,
        "observable_clicked_searches": n["obs_clicked"],
        "observable_clicks": n["obs_clicks"],
        "observable_ctr": n["obs_clicked"] / obs if obs else None,
    }
