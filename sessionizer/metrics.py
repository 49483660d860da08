"""CTR and friends (SESSIONS.md section 4), per session and in total."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sessionizer.base import CLICK, RESULTS, SEARCH, Event
from sessionizer.records import format_ts

__all__ = ["CtrTotals", "SearchOutcome", "searches_of"]


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
