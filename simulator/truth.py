"""The ground-truth ledger: every true visit and search, and the run's summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from simulator.events import EventCodec
    from simulator.sinks import AtomicFile

__all__ = ["Ledger"]

_FLUSH_LINES = 4096


class Ledger:
    """Write one line per true visit and per true search as visits end; keep the totals.

    A visit's searches arrive as ``(n, ts_s, query, results, clicks, p_click)`` tuples where
    ``results`` is the number of items shown (None: the user gave up before results) and
    ``p_click`` the click model's probability of any click on that page.
    """

    def __init__(
        self,
        codec: EventCodec,
        sessions_out: AtomicFile | None = None,
        searches_out: AtomicFile | None = None,
        on_visit: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self.codec = codec
        self.on_visit = on_visit
        self.sessions_out = sessions_out
        self.searches_out = searches_out
        self._sessions: list[bytes] = []
        self._searches: list[bytes] = []
        self.sessions = self.searches = self.clicked_searches = self.clicks = 0
        self.zero_result = self.abandoned = self.timed_out = 0
        self.generated_events = 0
        self.shown = 0
        self.p_click_sum = 0.0

    def visit(
        self, u: int, seq: int, n_events: int, start_s: float, end_s: float, searches: list[tuple]
    ) -> None:
        """Record one finished visit."""
        clicked = clicks = 0
        for _, _, _, results, c, p in searches:
            clicks += c
            clicked += c > 0
            if results is None:
                self.timed_out += 1
                continue
            self.shown += 1
            self.p_click_sum += p
            if results == 0:
                self.zero_result += 1
            elif c == 0:
                self.abandoned += 1
        self.sessions += 1
        self.searches += len(searches)
        self.clicked_searches += clicked
        self.clicks += clicks
        self.generated_events += n_events
        if self.sessions_out is None and self.on_visit is None:
            return
        codec = self.codec
        user_id = codec.population.user_id(u)
        session_id = f"{user_id}.v{seq}"
        event_ids = [codec.event_id(u, seq, n) for n in range(n_events)]
        if self.on_visit is not None:
            self.on_visit(session_id, event_ids)
        if self.sessions_out is None:
            return
        self._sessions.append(
            orjson.dumps(
                {
                    "session_id": session_id,
                    "user_id": user_id,
                    "start": codec.iso(start_s),
                    "end": codec.iso(end_s),
                    "event_ids": event_ids,
                    "searches": len(searches),
                    "clicked_searches": clicked,
                    "clicks": clicks,
                },
                option=orjson.OPT_APPEND_NEWLINE,
            )
        )
        queries = codec.vocabulary.queries
        for n, ts, q, results, c, p in searches:
            self._searches.append(
                orjson.dumps(
                    {
                        "search_id": codec.event_id(u, seq, n),
                        "session_id": session_id,
                        "user_id": user_id,
                        "ts": codec.iso(ts),
                        "query": queries[q],
                        "results": results,
                        "clicks": c,
                        "clicked": c > 0,
                        "p_click": None if p is None else round(p, 6),
                    },
                    option=orjson.OPT_APPEND_NEWLINE,
                )
            )
        if len(self._sessions) >= _FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        if self.sessions_out is not None:
            self.sessions_out.write(b"".join(self._sessions))
            self.searches_out.write(b"".join(self._searches))
        self._sessions.clear()
        self._searches.clear()

    def summary(self) -> dict:
        """Return the totals of SESSIONS.md section 4 over every true visit."""
        s = self.searches
        return {
            "sessions": self.sessions,
            "generated_events": self.generated_events,
            "searches": s,
            "clicked_searches": self.clicked_searches,
            "clicks": self.clicks,
            "ctr": self.clicked_searches / s if s else None,
            "clicks_per_search": self.clicks / s if s else None,
            "expected_ctr": self.p_click_sum / self.shown if self.shown else None,
            "zero_result_searches": self.zero_result,
            "abandoned_searches": self.abandoned,
            "timed_out_searches": self.timed_out,
        }
