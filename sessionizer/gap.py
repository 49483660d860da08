"""The reference streaming sessionizer: event-time watermark, lateness, bridging merges.

Per user it keeps the open sessions, each a list of ``(ts, arrival, event)`` in order. An
event at or after the user's last open event (the common case) is appended or starts a new
session in O(1). Any other on-time event re-cuts that user's open events from scratch:
simple, and exactly the batch definition, whatever it bridges, extends or splits.
Sessions wait in a heap keyed by ``end + gap`` (per user: ``end + gap + idle``, for the
stream's watermark; the user's own is checked when the user's maximum rises); a key made
stale by an extension is pushed again when it comes up, so an append costs no heap
operation. Both watermark modes of docs/semantics.md section 3 share the cutting code.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator

from sessionizer.base import Counts, Event, Late, Session, SessionConfig, cuts_before
from sessionizer.records import format_ts

__all__ = ["GapSessionizer"]


class _Open:
    """An open session of one user."""

    __slots__ = ("user", "items", "start", "end", "alive")

    def __init__(self, user: _User, items: list[tuple]) -> None:
        self.user = user
        self.items = items
        self.start = items[0][0]
        self.end = items[-1][0]
        self.alive = True


class _User:
    __slots__ = ("user_id", "sessions", "ids", "max_ts", "emitted")

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.sessions: list[_Open] = []  # ordered by start, separated by cuts
        self.ids: set[str] = set()  # event ids in open sessions, for dedup
        self.max_ts: int | None = None  # per_user: the largest ts seen for this user
        self.emitted: list[tuple[int, int]] = []  # per_user: (start, end) of final sessions


class GapSessionizer:
    """Sessions by inactivity gap (docs/semantics.md sections 2 and 3), in pure Python."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.counts = Counts()

    def _recut(self, user: _User, items: list[tuple]) -> list[_Open]:
        """Cut a user's ordered open events into sessions."""
        sessions, current = [], [items[0]]
        for prev, item in itertools.pairwise(items):
            if cuts_before(self.config, prev[2], item[2]):
                sessions.append(_Open(user, current))
                current = []
            current.append(item)
        sessions.append(_Open(user, current))
        return sessions

    def _accept(self, user: _User, e: Event, item: tuple, heap: list, key_offset: int) -> None:
        """Add an on-time, new event to its user's open sessions (re-cutting if needed)."""
        ts, sessions = item[0], user.sessions
        if not sessions:
            s = _Open(user, [item])
            sessions.append(s)
            heapq.heappush(heap, (ts + key_offset, next(self._order), s))
        elif ts >= (last := sessions[-1]).end:
            if cuts_before(self.config, last.items[-1][2], e):
                s = _Open(user, [item])
                sessions.append(s)
                heapq.heappush(heap, (ts + key_offset, next(self._order), s))
            else:
                last.items.append(item)
                last.end = ts
        else:
            merged = sorted([it for s in sessions for it in s.items] + [item])
            for s in sessions:
                s.alive = False
            sessions[:] = self._recut(user, merged)
            for s in sessions:
                heapq.heappush(heap, (s.end + key_offset, next(self._order), s))

    def sessionize(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        self.counts = Counts()  # this call's: counts never carry over from an earlier one
        if self.config.per_user:
            return self._sessionize_per_user(events)
        return self._sessionize_global(events)

    def _sessionize_per_user(  # noqa: C901 - the hot loop stays in one frame, for speed
        self, events: Iterable[Event]
    ) -> Iterator[Session | Late]:
        """docs/semantics.md section 3, per-user watermark.

        Every event raises its user's maximum ``ts`` and the stream's. A user's sessions are
        final once ``W_u > end + gap`` (checked when the user's maximum rises) or once
        ``W_g > end + gap + idle`` (a heap keyed by ``end + gap + idle``). A user keeps,
        after its sessions are final, its maximum and the final sessions an event could
        still fall within ``gap`` of without being behind ``W_u``: a few integers, since an
        event of that user, however old, must still be judged by them.
        """
        c = self.config
        gap, lateness, horizon = c.gap_ms, c.lateness_ms, c.gap_ms + c.idle_ms
        counts = self.counts
        users: dict[str, _User] = {}
        heap: list[tuple[int, int, _Open]] = []
        self._order = itertools.count()
        max_g = None
        arrival = 0
        for e in events:
            event_id, user_id, ts = e[0], e[2], e[3]
            user = users.get(user_id)
            if user is None:
                user = users[user_id] = _User(user_id)
            reason = None
            if user.max_ts is not None and ts < (w_u := user.max_ts - lateness):
                reason = f"ts {format_ts(ts)} is behind the user's watermark {format_ts(w_u)}"
            else:
                for start, end in user.emitted:
                    if start - gap <= ts <= end + gap:
                        reason = (
                            f"ts {format_ts(ts)} is within the gap of the user's final "
                            f"session {user_id}@{start}"
                        )
                        break
            if reason is not None:
                counts.late += 1
                yield Late(e, reason)
            elif c.dedup and event_id in user.ids:
                counts.duplicates += 1
            else:
                counts.accepted += 1
                if c.dedup:
                    user.ids.add(event_id)
                arrival += 1
                self._accept(user, e, (ts, arrival, e), heap, horizon)
            if user.max_ts is None or ts > user.max_ts:
                user.max_ts = ts
                w_u = ts - lateness
                for s in [s for s in user.sessions if s.end + gap < w_u]:
                    yield self._final(s)
                if user.emitted:
                    user.emitted = [iv for iv in user.emitted if iv[1] + gap >= w_u]
            if max_g is None or ts > max_g:
                max_g = ts
            # Even when the stream's maximum stays, a user far behind it may have just
            # opened a session that is already final by it.
            w_g = max_g - lateness
            while heap and heap[0][0] < w_g:
                _, _, s = heapq.heappop(heap)
                if not s.alive:
                    continue
                if s.end + horizon >= w_g:  # extended since pushed
                    heapq.heappush(heap, (s.end + horizon, next(self._order), s))
                    continue
                yield self._final(s)
        open_sessions = [s for _, _, s in heap if s.alive]
        open_sessions.sort(key=lambda s: (s.end, s.start, s.user.user_id))
        for s in open_sessions:
            yield self._final(s)

    def _final(self, s: _Open) -> Session:
        """Emit ``s`` (per_user): its user keeps its interval and no longer its ids."""
        s.alive = False
        user = s.user
        user.sessions.remove(s)
        user.ids.difference_update(it[2].event_id for it in s.items)
        user.emitted.append((s.start, s.end))
        return Session(user.user_id, s.start, s.end, [it[2] for it in s.items])

    def _sessionize_global(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        gap, lateness = self.config.gap_ms, self.config.lateness_ms
        counts = self.counts
        users: dict[str, _User] = {}
        heap: list[tuple[int, int, _Open]] = []
        self._order = order = itertools.count()  # one counter for every heap entry
        push, pop = heapq.heappush, heapq.heappop
        max_ts = watermark = None
        arrival = 0
        dedup = self.config.dedup
        for e in events:
            event_id, user_id, ts = e[0], e[2], e[3]
            if watermark is not None and ts < watermark:
                counts.late += 1
                yield Late(e, f"ts {format_ts(ts)} is behind the watermark {format_ts(watermark)}")
                continue
            user = users.get(user_id)
            if user is None:
                user = users[user_id] = _User(user_id)
            elif dedup and event_id in user.ids:
                counts.duplicates += 1
                continue
            counts.accepted += 1
            if dedup:
                user.ids.add(event_id)
            arrival += 1
            self._accept(user, e, (ts, arrival, e), heap, gap)
            if max_ts is None or ts > max_ts:
                max_ts = ts
                watermark = ts - lateness
                while heap and heap[0][0] < watermark:
                    _, _, s = pop(heap)
                    if not s.alive:
                        continue
                    if s.end + gap >= watermark:  # extended since pushed
                        push(heap, (s.end + gap, next(order), s))
                        continue
                    yield self._close(users, s)

        open_sessions = [s for _, _, s in heap if s.alive]
        open_sessions.sort(key=lambda s: (s.end, s.start, s.user.user_id))
        for s in open_sessions:
            yield self._close(users, s)

    @staticmethod
    def _close(users: dict[str, _User], s: _Open) -> Session:
        s.alive = False
        user = s.user
        user.sessions.remove(s)
        if user.sessions:
            user.ids.difference_update(it[2].event_id for it in s.items)
        else:
            del users[user.user_id]
        return Session(user.user_id, s.start, s.end, [it[2] for it in s.items])
