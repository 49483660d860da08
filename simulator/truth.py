"""The ground-truth ledger: every true visit, search and generated event, and the summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.events import CLICK, SEARCH

if TYPE_CHECKING:
    from simulator.delivery import VisitDelivery
    from simulator.events import EventCodec
    from simulator.sinks import RowWriter

__all__ = ["Ledger", "Visit", "visit_label"]


def visit_label(user: int, visit: int) -> int:
    """Return an integer naming one true visit (user index and the user's visit number)."""
    return (user << 20) | visit


def _observable(events: list[tuple], fates: list[tuple]) -> tuple[int, int, int]:
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


@dataclass(slots=True)
class Visit:
    """One finished true visit, as the user actor hands it over.

    ``events`` are ``(t, type, n, payload, search_n, rank)`` in true time order; ``route``
    tells what delivery did to each (``route.fate(n)``); ``searches`` are ``(n, ts, query,
    results, clicks, p_click, s)`` where ``results`` is the number of items shown (None:
    the user gave up waiting), ``p_click`` the click model's probability of any click on
    that page and ``s`` the search's row in ``route.batch`` (its page's latent values).
    """

    user: int
    visit: int
    events: list[tuple]
    route: VisitDelivery
    start_s: float
    end_s: float
    searches: list[tuple]


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
        time: Callable[[float], object] | None = None,
    ) -> None:
        """Rows go to the writers given (none: totals only); ``time`` renders sim times
        (default ISO 8601 strings; epoch milliseconds for typed Parquet columns)."""
        self.codec = codec
        self.outputs = (sessions_out, searches_out, events_out)
        self.on_visit = on_visit
        self.time = time or codec.iso
        self.sessions = self.searches = self.clicked_searches = self.clicks = 0
        self.zero_result = self.abandoned = self.timed_out = 0
        self.shown = 0
        self.p_click_sum = 0.0
        self.generated = self.delivered = self.deliveries = self.offline_buffered = 0
        self.unsent = 0
        self.skewed = 0
        self.lost: Counter[str] = Counter()
        self.observable = [0, 0, 0]

    def visit(self, v: Visit) -> None:
        """Record one finished visit."""
        events, searches, route = v.events, v.searches, v.route
        clicked = clicks = 0
        for _, _, _, results, c, p, _ in searches:
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
        self.generated += len(events)
        if route.faultless:  # every event delivered once: observable = behavioural
            delivered = len(events)
            self.deliveries += delivered
            observable = (len(searches), clicked, clicks)
        else:
            delivered = 0
            for (t, kind, *_), (stamped, _, deliveries, offline, *_) in zip(events, route.fates):
                self.skewed += abs(stamped - t) >= 0.001
                if deliveries:
                    delivered += 1
                    self.deliveries += deliveries
                    self.offline_buffered += offline
                elif offline:
                    self.unsent += 1
                else:
                    self.lost[kind] += 1
            observable = _observable(events, route.fates)
        self.delivered += delivered
        for k, value in enumerate(observable):
            self.observable[k] += value
        if self.on_visit is not None:
            self.on_visit(visit_label(v.user, v.visit), delivered)
        if self.outputs[0] is not None:
            self._write(v, clicked, clicks)

    def _write(self, v: Visit, clicked: int, clicks: int) -> None:
        codec = self.codec
        user_id = codec.population.user_id(v.user)
        session_id = f"{user_id}.v{v.visit}"
        event_ids = [codec.event_id(v.user, v.visit, n) for n in range(len(v.events))]
        events, searches, route = v.events, v.searches, v.route
        sessions, searches_rows, events_rows = self.outputs
        iso = self.time
        sessions.add(
            {
                "session_id": session_id,
                "user_id": user_id,
                "start": iso(v.start_s),
                "end": iso(v.end_s),
                "event_ids": event_ids,
                "searches": len(searches),
                "clicked_searches": clicked,
                "clicks": clicks,
            }
        )
        text, b = codec.vocabulary.text, route.batch
        item = codec.item
        for n, ts, q, results, c, p, k in searches:
            line = {
                "search_id": event_ids[n],
                "session_id": session_id,
                "user_id": user_id,
                "ts": iso(ts),
                "query": text(q),
                "results": results,
                "clicks": c,
                "clicked": c > 0,
                "p_click": None if p is None else round(p, 6),
            }
            if results:  # a page was shown: the latent values the click model used
                shown = b.pages[k]
                line["items"] = [item(i) for i in shown]
                line["clicked_positions"] = [
                    e[5] + 1 for e in events[n + 2 : n + 2 + c] if e[1] == CLICK
                ]
                line["examination"] = b.exam[k].tolist()
                line["attractiveness"] = b.alpha[k].tolist()
                if b.sat is not None:
                    line["satisfaction"] = b.sat[k].tolist()
            line["propensity"] = round(float(b.propensity[k]), 4)
            searches_rows.add(line)
        for t, kind, n, *_ in events:
            stamped, received, deliveries, offline, batch_no, request = route.fate(n)
            events_rows.add(
                {
                    "event_id": event_ids[n],
                    "session_id": session_id,
                    "type": kind,
                    "true_ts": iso(t),
                    "ts": iso(stamped),
                    "deliveries": deliveries,
                    "received_at": None if received is None else iso(received),
                    "delay_s": None if received is None else round(received - t, 3),
                    "offline": offline,
                    "batch": batch_no,
                    "request": request,
                }
            )

    def flush(self) -> None:
        for out in self.outputs:
            if out is not None:
                out.flush()

    def summary(self) -> dict:
        """Return the totals of SESSIONS.md sections 4 and 5 over every true visit."""
        s, (obs_searches, obs_clicked, obs_clicks) = self.searches, self.observable
        return {
            "sessions": self.sessions,
            "generated_events": self.generated,
            "delivered_events": self.delivered,
            "lost_events": sum(self.lost.values()),
            "lost_by_type": dict(sorted(self.lost.items())),
            "unsent_events": self.unsent,
            "duplicate_deliveries": self.deliveries - self.delivered,
            "offline_buffered_events": self.offline_buffered,
            "skewed_events": self.skewed,
            "searches": s,
            "clicked_searches": self.clicked_searches,
            "clicks": self.clicks,
            "ctr": self.clicked_searches / s if s else None,
            "clicks_per_search": self.clicks / s if s else None,
            "expected_ctr": self.p_click_sum / s if s else None,
            "expected_ctr_served": self.p_click_sum / self.shown if self.shown else None,
            "zero_result_searches": self.zero_result,
            "abandoned_searches": self.abandoned,
            "timed_out_searches": self.timed_out,
            "observable_searches": obs_searches,
            "observable_clicked_searches": obs_clicked,
            "observable_clicks": obs_clicks,
            "observable_ctr": obs_clicked / obs_searches if obs_searches else None,
        }
