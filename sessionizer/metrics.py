"""CTR and friends (docs/semantics.md section 4), per session and in total."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow.compute as pc

from sessionizer.base import CLICK, RESULTS, SEARCH, Event
from sessionizer.columns import SessionColumns, int_column, kind_codes
from sessionizer.records import format_ts

__all__ = ["CtrTotals", "SearchColumns", "SearchOutcome", "search_columns", "searches_of"]

_SEARCH, _RESULTS, _CLICK = 1, 2, 3  # kind codes (index in EVENT_TYPES)


@dataclass(slots=True)
class SearchOutcome:
    """One search in a session: when, how many items it showed, which ranks were clicked."""

    ts: int
    items: int | None = None  # None: no results event owned by this search
    positions: list[int] = field(default_factory=list)


def searches_of(events: Iterable[Event], attribution: str = "time") -> list[SearchOutcome]:
    """Split a session's ordered events into searches and attribute results and clicks.

    By time, a search owns the events after it up to the next search; events before the
    first search belong to none. By ``search_id``, results and clicks that carry an id go to
    the search with that id in this session (none if it is not here); events without an
    id fall back to the time rule.
    """
    out: list[SearchOutcome] = []
    by_id: dict[str, SearchOutcome] = {}
    current = None
    for e in events:
        kind = e.type
        if kind == SEARCH:
            current = SearchOutcome(e.ts)
            out.append(current)
            if e.search_id is not None:
                by_id[e.search_id] = current
            continue
        if kind != RESULTS and kind != CLICK:
            continue
        owner = current
        if attribution == "search_id" and e.search_id is not None:
            owner = by_id.get(e.search_id)
        if owner is None:
            continue
        if kind == RESULTS:
            if owner.items is None:
                owner.items = e.items
        else:
            owner.positions.append(e.position)  # type: ignore[arg-type]  # clicks have one
    return out


@dataclass(slots=True)
class SearchColumns:
    """The searches of a batch of sessions (``searches_of`` on columns): per search, its
    session (index in the batch), time, items shown (-1: no results event owned) and clicks;
    and every attributed click's position."""

    session: np.ndarray
    ts: np.ndarray
    items: np.ndarray
    clicks: np.ndarray
    positions: np.ndarray

    def per_session(self, sessions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each session's searches, clicked searches and clicks."""
        searches = np.bincount(self.session, minlength=sessions)
        clicked = np.bincount(self.session, weights=self.clicks > 0, minlength=sessions)
        clicks = np.bincount(self.session, weights=self.clicks, minlength=sessions)
        return searches, clicked.astype(np.int64), clicks.astype(np.int64)


def _owner_by_id(search: np.ndarray, sid: np.ndarray, session: np.ndarray) -> np.ndarray:
    """Per event: the last search before it in its session with its search id (-1: none)."""
    n = len(sid)
    at = np.flatnonzero(search & (sid >= 0))
    span = n + 1
    keys = sid[at] * span + at  # by id, then position: sorted as ``at`` is
    order = np.argsort(keys, kind="stable")
    keys, at = keys[order], at[order]
    probe = sid * span + np.arange(n)
    k = np.searchsorted(keys, probe) - 1
    found = (sid >= 0) & (k >= 0)
    k = np.maximum(k, 0)
    hit = at[k] if len(at) else np.zeros(n, dtype=np.int64)
    found &= (keys[k] // span == sid) if len(at) else False
    found &= session[hit] == session
    return np.where(found, hit, -1)


def search_columns(sessions: SessionColumns, attribution: str = "time") -> SearchColumns:
    """``searches_of`` for every session of a batch at once, on columns."""
    events = sessions.events
    sizes = np.diff(sessions.offsets)
    session = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    kind = kind_codes(events)
    search = kind == _SEARCH
    number = np.cumsum(search) - 1  # per event: the latest search's number (global)
    before = np.r_[0, np.cumsum(search)][sessions.offsets[:-1]]  # searches before session
    owner = np.where(number >= before[session], number, -1)  # by time
    owned = (kind == _RESULTS) | (kind == _CLICK)
    if attribution == "search_id":
        ids = pc.dictionary_encode(events.column("search_id")).indices
        sid = pc.fill_null(ids, -1).to_numpy().astype(np.int64)
        with_id = owned & (sid >= 0)
        by_id = _owner_by_id(search, sid, session)
        search_at = np.flatnonzero(search)  # event position of search k
        by_id_number = np.where(by_id >= 0, np.searchsorted(search_at, by_id), -1)
        owner = np.where(with_id, by_id_number, owner)
    total = int(search.sum())
    items = np.full(total, -1, dtype=np.int64)
    results = np.flatnonzero((kind == _RESULTS) & (owner >= 0))
    first = np.unique(owner[results], return_index=True)[1]
    shown = int_column(events, "items")[results[first]]
    items[owner[results[first]]] = shown
    click_rows = np.flatnonzero((kind == _CLICK) & (owner >= 0))
    clicks = np.bincount(owner[click_rows], minlength=total)
    return SearchColumns(
        session=session[search],
        ts=events.column("ts").to_numpy()[search],
        items=items,
        clicks=clicks,
        positions=int_column(events, "position")[click_rows],
    )


@dataclass(slots=True)
class CtrTotals:
    """Running totals over sessions: CTR, clicks per search, by position and time bucket."""

    bucket_ms: int = 60_000
    sessions: int = 0
    sessions_with_search: int = 0
    searches: int = 0
    clicked_searches: int = 0
    clicks: int = 0
    zero_result_searches: int = 0
    abandoned_searches: int = 0
    shown_at: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    clicked_at: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    bucket_searches: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    bucket_clicked: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, outcomes: list[SearchOutcome]) -> tuple[int, int, int]:
        """Add one session's searches; return its (searches, clicked_searches, clicks)."""
        self.sessions += 1
        clicked = clicks = 0
        for s in outcomes:
            n = len(s.positions)
            clicks += n
            bucket = s.ts - s.ts % self.bucket_ms
            self.bucket_searches[bucket] += 1
            if n:
                clicked += 1
                self.bucket_clicked[bucket] += 1
                for p in s.positions:
                    self.clicked_at[p] += 1
            if s.items is not None:
                if s.items == 0:
                    self.zero_result_searches += 1
                elif n == 0:
                    self.abandoned_searches += 1
                for r in range(1, s.items + 1):
                    self.shown_at[r] += 1
        if outcomes:
            self.sessions_with_search += 1
        self.searches += len(outcomes)
        self.clicked_searches += clicked
        self.clicks += clicks
        return len(outcomes), clicked, clicks

    def add_columns(self, searches: SearchColumns, sessions: int) -> None:
        """Add a batch of sessions' searches (``search_columns``), as ``add`` would."""
        per_session = np.bincount(searches.session, minlength=sessions)
        self.sessions += sessions
        self.sessions_with_search += int((per_session > 0).sum())
        n = len(searches.ts)
        clicked = searches.clicks > 0
        self.searches += n
        self.clicked_searches += int(clicked.sum())
        self.clicks += int(searches.clicks.sum())
        bucket = searches.ts - searches.ts % self.bucket_ms
        for target, values in (
            (self.bucket_searches, bucket),
            (self.bucket_clicked, bucket[clicked]),
        ):
            for b, k in zip(*(a.tolist() for a in np.unique(values, return_counts=True))):
                target[b] += k
        for p, k in zip(*(a.tolist() for a in np.unique(searches.positions, return_counts=True))):
            self.clicked_at[p] += k
        items = searches.items
        self.zero_result_searches += int((items == 0).sum())
        self.abandoned_searches += int(((items > 0) & ~clicked).sum())
        sizes, count = np.unique(items[items > 0], return_counts=True)
        if len(sizes):  # rank r was shown by every search with at least r items
            at_least = np.cumsum(count[::-1])[::-1]
            ranks = np.arange(1, int(sizes[-1]) + 1)
            shown = at_least[np.searchsorted(sizes, ranks)]
            for r, k in zip(ranks.tolist(), shown.tolist()):
                self.shown_at[r] += k

    @property
    def ctr(self) -> float | None:
        return self.clicked_searches / self.searches if self.searches else None

    @property
    def clicks_per_search(self) -> float | None:
        return self.clicks / self.searches if self.searches else None

    def ctr_by_position(self) -> dict[int, float]:
        """Return clicks at rank r / searches whose results showed rank r."""
        return {r: self.clicked_at.get(r, 0) / n for r, n in sorted(self.shown_at.items()) if n}

    def ctr_by_bucket(self) -> dict[int, float]:
        """Return CTR per time bucket of search time (bucket start in epoch ms)."""
        return {
            b: self.bucket_clicked.get(b, 0) / n for b, n in sorted(self.bucket_searches.items())
        }

    def summary(self) -> dict:
        return {
            "sessions": self.sessions,
            "sessions_with_search": self.sessions_with_search,
            "searches": self.searches,
            "clicked_searches": self.clicked_searches,
            "clicks": self.clicks,
            "ctr": self.ctr,
            "clicks_per_search": self.clicks_per_search,
            "zero_result_searches": self.zero_result_searches,
            "abandoned_searches": self.abandoned_searches,
            "ctr_by_position": {str(r): ctr for r, ctr in self.ctr_by_position().items()},
            "ctr_per_bucket": {format_ts(b): ctr for b, ctr in self.ctr_by_bucket().items()},
            "bucket_s": self.bucket_ms / 1000,
        }
