"""Sessions of one user, for engines that partition the stream by user (docs/semantics.md 3).

An engine keyed by user sees only that user's events. What it needs from the rest of the
stream is the stream's watermark when each event arrived, so a single upstream step (the
:class:`Stamper`) stamps every event with it and, once a user can have nothing left open,
sends that user a tick with the current watermark. :class:`UserSessions` then decides
exactly what the reference decides, in the same two modes:

- a session is final once the watermark passes it; it is closed when the user's next event
  or tick arrives (the reference closes it when the watermark moves). Nothing can touch a
  final session in between (an event that could would be late), so the sessions and late
  events are the reference's; only the moment of output differs.
- per user, the user's own watermark comes from the user's events, and the stream's from
  the stamps.
"""

from __future__ import annotations

import heapq
import operator

import numpy as np

from sessionizer.base import Event, Late, Session, SessionConfig, cuts_before
from sessionizer.records import format_ts

__all__ = ["Stamper", "UserSessions"]

_TS = operator.itemgetter(3)


class Stamper:
    """Stamp each event with the stream's watermark at its arrival, and send ticks.

    ``stamp`` takes events in arrival order and returns, per user with something to do,
    ``(user_id, (events, watermarks, tick))``: the user's events in order, the stream's
    watermark each met (``None`` before the first event), and ``tick``, the watermark at the
    end of the batch when every session the user could have open is final by then (else
    ``None``). State: one entry per user whose sessions may still be open.
    """

    def __init__(self, config: SessionConfig) -> None:
        self.lateness = config.lateness_ms
        # A user whose latest ts is t has nothing open once W > t + horizon.
        self.horizon = config.gap_ms + (config.idle_ms if config.per_user else 0)
        self.max_ts: int | None = None
        self.latest: dict[str, int] = {}  # user -> largest ts seen, while it may be open
        self.due: list[tuple[int, str]] = []  # (latest + horizon, user), possibly stale

    def stamp(self, batch: list[Event]) -> list[tuple[str, tuple]]:
        n = len(batch)
        if n == 0:
            return []
        lateness, max_ts = self.lateness, self.max_ts
        # The watermark each event meets: the running maximum before it, minus lateness.
        running = np.maximum.accumulate(np.fromiter(map(_TS, batch), np.int64, n))
        if max_ts is not None:
            np.maximum(running, max_ts, out=running)
        met = (running[:-1] - lateness).tolist()
        met.insert(0, None if max_ts is None else max_ts - lateness)
        groups: dict[str, list] = {}
        for e, w in zip(batch, met):
            group = groups.get(e[2])
            if group is None:
                groups[e[2]] = [[e], [w], e[3], None]
            else:
                group[0].append(e)
                group[1].append(w)
                if e[3] > group[2]:
                    group[2] = e[3]
        latest, due, horizon = self.latest, self.due, self.horizon
        for user, group in groups.items():
            if group[2] > latest.get(user, group[2] - 1):
                latest[user] = group[2]
                heapq.heappush(due, (group[2] + horizon, user))
        self.max_ts = int(running[-1])
        watermark = self.max_ts - lateness
        while due and due[0][0] < watermark:
            at, user = heapq.heappop(due)
            if latest.get(user) == at - horizon:  # not stale
                del latest[user]
                group = groups.get(user)
                if group is None:
                    group = groups[user] = [[], [], None, None]
                group[3] = watermark
        return [(user, (g[0], g[1], g[3])) for user, g in groups.items()]


class UserSessions:
    """The open sessions of one user, and (per user) what the user's past still rules."""

    __slots__ = ("config", "sessions", "ids", "max_ts", "emitted", "arrival")

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.sessions: list[list[tuple[int, int, Event]]] = []  # ordered, each (ts, n, e)
        self.ids: set[str] = set()  # ids in open sessions
        self.max_ts: int | None = None  # per_user: largest ts seen
        self.emitted: list[tuple[int, int]] = []  # per_user: final (start, end) still ruling
        self.arrival = 0

    @property
    def empty(self) -> bool:
        """True when forgetting this user changes nothing (global mode, nothing open)."""
        return not self.sessions and not self.config.per_user

    def step(self, events: list[Event], watermarks: list, tick: int | None, out: list) -> None:
        """Take the user's next events (with the stream's watermark each met) and a tick;
        append what becomes final or late to ``out``."""
        c = self.config
        if c.per_user:
            for e, w in zip(events, watermarks):
                self._close(w, out)
                self._take(e, out)
        else:  # the hot path of global mode, inlined
            gap, dedup, ids = c.gap_ms, c.dedup, self.ids
            for e, w in zip(events, watermarks):
                ts = e[3]
                if w is not None:
                    # Sessions are disjoint in time: the first one ends first.
                    if self.sessions and self.sessions[0][-1][0] < w - gap:
                        self._close(w, out)
                    if ts < w:
                        out.append(
                            Late(e, f"ts {format_ts(ts)} is behind the watermark {format_ts(w)}")
                        )
                        continue
                if dedup:
                    if e[0] in ids:
                        continue
                    ids.add(e[0])
                self.arrival += 1
                self._insert((ts, self.arrival, e))
        if tick is not None:
            self._close(tick, out)

    def flush(self, out: list) -> None:
        """End of input: every open session is final."""
        for items in self.sessions:
            out.append(self._final(items))
        self.sessions = []
        self.ids.clear()

    def _close(self, w: int | None, out: list) -> None:
        """Emit the sessions the watermarks have made final (the stream's is ``w``)."""
        if not self.sessions:
            return
        c = self.config
        if c.per_user:
            w_u = None if self.max_ts is None else self.max_ts - c.lateness_ms
            limit_g = None if w is None else w - c.gap_ms - c.idle_ms
            limit_u = None if w_u is None else w_u - c.gap_ms
            limits = [x for x in (limit_g, limit_u) if x is not None]
            if not limits:
                return
            limit = max(limits)
        else:
            if w is None:
                return
            limit = w - c.gap_ms
        keep = []
        for items in self.sessions:
            if items[-1][0] < limit:  # end + gap < watermark
                out.append(self._final(items))
                if c.per_user:
                    self.emitted.append((items[0][0], items[-1][0]))
            else:
                keep.append(items)
        self.sessions = keep

    def _final(self, items: list[tuple[int, int, Event]]) -> Session:
        if self.config.dedup:
            self.ids.difference_update(it[2].event_id for it in items)
        return Session(items[0][2].user_id, items[0][0], items[-1][0], [it[2] for it in items])

    def _take(self, e: Event, out: list) -> None:
        """Per-user mode: judge ``e`` by the user's own watermark and final sessions."""
        c, ts = self.config, e.ts
        reason = self._late_per_user(e)
        if self.max_ts is None or ts > self.max_ts:  # every event raises the user's maximum
            self.max_ts = ts
            w_u = ts - c.lateness_ms
            if self.emitted:
                self.emitted = [iv for iv in self.emitted if iv[1] + c.gap_ms >= w_u]
        if reason is not None:
            out.append(Late(e, reason))
            return
        if c.dedup:
            if e.event_id in self.ids:
                return  # a duplicate: counted by whoever counts the input
            self.ids.add(e.event_id)
        self.arrival += 1
        self._insert((ts, self.arrival, e))

    def _late_per_user(self, e: Event) -> str | None:
        c, ts = self.config, e.ts
        if self.max_ts is not None and ts < (w_u := self.max_ts - c.lateness_ms):
            return f"ts {format_ts(ts)} is behind the user's watermark {format_ts(w_u)}"
        for start, end in self.emitted:
            if start - c.gap_ms <= ts <= end + c.gap_ms:
                return (
                    f"ts {format_ts(ts)} is within the gap of the user's final session "
                    f"{e.user_id}@{start}"
                )
        return None

    def _insert(self, item: tuple[int, int, Event]) -> None:
        sessions = self.sessions
        if not sessions:
            sessions.append([item])
            return
        last = sessions[-1]
        if item[0] >= last[-1][0]:  # in order: the common case
            if cuts_before(self.config, last[-1][2], item[2]):
                sessions.append([item])
            else:
                last.append(item)
            return
        merged = sorted([it for s in sessions for it in s] + [item])
        current = [merged[0]]
        sessions = [current]
        for prev, it in zip(merged, merged[1:]):
            if cuts_before(self.config, prev[2], it[2]):
                current = []
                sessions.append(current)
            current.append(it)
        self.sessions = sessions
