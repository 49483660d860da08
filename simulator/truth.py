"""The ground-truth ledger: every true visit, search and generated event, and the summary."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from simulator.codes import CLICK, EVENT_TYPES, SEARCH
from simulator.table import Events, concat, runs, size, take
from simulator.truth_rows import Searches, truth_tables

if TYPE_CHECKING:
    from simulator.events import EventCodec
    from simulator.output import RowWriter

__all__ = ["Ledger", "summarize"]

ROWS_PER_WRITE = 16_384  # truth rows are rendered in batches of at least this many events
FINAL_TICK = 0xFFFFFFFF  # the end of the run: visits whose delivery is known only then
P_UNITS = 10**12  # click probabilities are summed as integers of this unit (exact in any order)


def _observable(
    ev: Events, delivered: np.ndarray, first: np.ndarray, index: np.ndarray, k: int
) -> tuple:
    """docs/semantics.md section 4 on each visit's delivered events (rows sorted by visit: each
    visit's ``first`` row, each row's visit ``index``): (searches, clicked searches, clicks)
    per visit. A delivered click counts for the last delivered search before it."""
    kind = ev["kind"]
    search = delivered & (kind == SEARCH)
    # Number the delivered searches; a click owns the latest one of its own visit.
    number = np.cumsum(search)
    owner = number - (number - search)[first][index]
    click = delivered & (kind == CLICK) & (owner > 0)
    searches = np.bincount(index, weights=search, minlength=k).astype(np.int64)
    clicks = np.bincount(index, weights=click, minlength=k).astype(np.int64)
    owned = np.unique(number[click])  # global numbers of the searches with a click
    clicked_at = np.searchsorted(number, owned)  # the first row carrying that number
    clicked = np.bincount(index[clicked_at], minlength=k).astype(np.int64)
    return searches, clicked, clicks


class Ledger:
    """Record each visit as its delivery is known: truth rows (when writers are given) and
    running totals."""

    def __init__(
        self,
        codec: EventCodec,
        sessions_out: RowWriter | None = None,
        searches_out: RowWriter | None = None,
        events_out: RowWriter | None = None,
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
        self.totals: Counter[str] = Counter()  # integers only: shards' totals add up exactly
        self.keyed = keyed
        self._pending: list[tuple[Events, list[list]]] = []  # visits recorded since the tick
        self._ready: list[tuple[int, Events, list[list]]] = []  # (tick, ...), not written yet
        self._ready_events = 0
        self._ticks = 0

    def visits(self, ev: Events, info: dict[int, list]) -> None:
        """Record finished visits: ``ev`` holds all their events (columns, in any order),
        ``info`` each visit's [user, visit number, launch, last event time]. Their rows are
        written at the next ``tick``."""
        if not size(ev):
            return
        ev = take(ev, np.lexsort((ev["n"], ev["vid"])))
        first, index, k = runs(ev["vid"])
        n = self.totals
        kind = ev["kind"]
        played = Searches(ev)
        served = ~played.gave_up
        p_units = np.rint(ev["p_any"][played.rows[served]] * P_UNITS).astype(np.int64)
        total = {
            "timed_out": int(played.gave_up.sum()),
            "shown": int(served.sum()),
            "p_click_units": int(p_units.sum()),
            "zero_result": int((served & (played.results == 0)).sum()),
            "abandoned": int(((played.results > 0) & (played.clicks == 0)).sum()),
            "sessions": k,
            "searches": len(played.rows),
            "clicked_searches": int((played.clicks > 0).sum()),
            "clicks": int(played.clicks.sum()),
            "generated": len(kind),
        }
        deliveries = ev["deliveries"]
        delivered = deliveries > 0
        offline = ev["offline"]
        total["skewed"] = int((np.abs(ev["stamped"] - ev["t"]) >= 0.001).sum())
        total["deliveries"] = int(deliveries.sum())
        total["offline_buffered"] = int((delivered & offline).sum())
        total["unsent"] = int((~delivered & offline).sum())
        total["delivered"] = int(delivered.sum())
        lost = ~delivered & ~offline
        for code in np.unique(kind[lost]).tolist():
            total[f"lost:{EVENT_TYPES[code]}"] = int((lost & (kind == code)).sum())
        observable = _observable(ev, delivered, first, index, k)
        for key, value in zip(("obs_searches", "obs_clicked", "obs_clicks"), observable):
            total[key] = int(value.sum())
        for key, count in total.items():
            if count:
                n[key] += count
        vids = ev["vid"][first].tolist()
        if self._writers is not None:
            self._pending.append((ev, [info[v] for v in vids]))

    def tick(self, final: bool = False) -> None:
        """Write the rows of the visits recorded since the last tick, by (user, visit).

        The engine ticks at fixed sim times (and once, ``final``, after the run), so the row
        order (tick, user, visit) does not depend on how users are sharded across processes.
        Rows are written a batch at a time (``ROWS_PER_WRITE`` events or more), as columns.
        """
        if final:
            self._ticks = FINAL_TICK
        if self._pending:
            ev = concat([p[0] for p in self._pending])
            infos = [i for p in self._pending for i in p[1]]
            self._pending = []
            self._ready.append((self._ticks, ev, infos))
            self._ready_events += size(ev)
        if final or self._ready_events >= ROWS_PER_WRITE:
            self._write_ready()
        self._ticks = min(self._ticks + 1, FINAL_TICK)  # nothing sorts after the final tick

    def _write_ready(self) -> None:
        if not self._ready:
            return
        assert self._writers is not None  # visits are pending only when there are writers
        ready, self._ready, self._ready_events = self._ready, [], 0
        tables = truth_tables(self.codec, ready)
        for writer, (columns, n, keys) in zip(self._writers, tables):
            writer.add_columns(columns, n, keys if self.keyed else None)

    def flush(self) -> None:
        """Write every recorded visit's rows and flush the writers."""
        self.tick()
        self._write_ready()
        for out in self._writers or ():
            out.flush()

    def summary(self) -> dict:
        """Return the totals of docs/semantics.md sections 4 and 5 over every true visit."""
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
