"""A vectorised streaming sessionizer: the reference's semantics on column micro-batches.

It reads events in micro-batches and decides with numpy what the reference decides event by
event, exactly (a property test holds the two equal):

- Late: an event is late iff its ``ts`` is behind the watermark when it arrives, and the
  watermark is the running maximum of ``ts`` minus the lateness. Late events and repeated
  deliveries never raise the maximum (a late event is behind it; a repeat carries its
  original's ``ts``), so the watermark each event meets is one ``maximum.accumulate``.
- Dedup: an id already accepted in a session still open is a duplicate (a repeat of an id
  whose session is final is necessarily late).
- Sessions: accepted events stay open until final; each batch re-cuts the open events
  (sort by user, ts, arrival; cut at gaps and markers; a cumulative sum numbers the
  sessions) and emits those that are final, ``end + gap < watermark``. Finality at the end
  of a batch is exact: an event that could join a final session would be late.

Sessions come out at the end of the batch in which they became final, so a batch delays
output by at most ``batch`` events; the sessions and late events are the reference's.

The per-user watermark is not vectorised yet: an event can be late because a session of its
user became final earlier in the same batch (by the stream's watermark), which a batch
cannot see without replaying it in order. In that mode this class runs the reference's loop.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Iterable, Iterator

import numpy as np

from sessionizer.base import APP_CLOSE, APP_OPEN, Counts, Event, Late, Session, SessionConfig
from sessionizer.gap import GapSessionizer
from sessionizer.records import format_ts

__all__ = ["VectorizedSessionizer"]

_KIND = {APP_OPEN: 1, APP_CLOSE: 2}
_ID, _TYPE, _USER, _TS = (operator.itemgetter(k) for k in range(4))
_ZEROS = functools.partial(itertools.repeat, 0)


class _Open:
    """Accepted events not yet in a final session, as columns (plus the records)."""

    def __init__(self) -> None:
        self.user = np.zeros(0, dtype=np.int64)  # code of the user (see ``users``)
        self.ts = np.zeros(0, dtype=np.int64)
        self.arrival = np.zeros(0, dtype=np.int64)
        self.kind = np.zeros(0, dtype=np.int8)
        self.records: list[Event] = []

    def extend(self, user, ts, arrival, kind, records: list[Event]) -> None:
        self.user = np.concatenate((self.user, user))
        self.ts = np.concatenate((self.ts, ts))
        self.arrival = np.concatenate((self.arrival, arrival))
        self.kind = np.concatenate((self.kind, kind))
        self.records.extend(records)

    def keep(self, mask: np.ndarray) -> None:
        idx = np.flatnonzero(mask)
        self.user, self.ts = self.user[idx], self.ts[idx]
        self.arrival, self.kind = self.arrival[idx], self.kind[idx]
        records = self.records
        self.records = [records[i] for i in idx.tolist()]


class VectorizedSessionizer:
    """Sessions by inactivity gap (SESSIONS.md sections 2 and 3), on numpy micro-batches."""

    def __init__(self, config: SessionConfig, batch: int = 65_536) -> None:
        self.config = config
        self.batch = batch
        self.counts = Counts()
        self.open_events = 0  # accepted events not yet in a final session
        self.open_users = 0  # users with such events

    def sessionize(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        self.counts = Counts()  # this call's: counts never carry over from an earlier one
        if self.config.per_user:
            reference = GapSessionizer(self.config)
            out = reference.sessionize(events)
            self.counts = reference.counts
            return out
        return self._sessionize(events)

    def _sessionize(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        it = iter(events)
        state = _Open()
        codes: dict[str, int] = {}  # users with open events -> code
        names: dict[int, str] = {}
        next_code = itertools.count()
        open_ids: set[str] = set()
        max_ts: int | None = None
        arrival = 0
        while chunk := list(itertools.islice(it, self.batch)):
            ts = np.fromiter(map(_TS, chunk), dtype=np.int64, count=len(chunk))
            late, watermarks, max_ts = self._late(ts, max_ts)
            if late.any():
                for k in np.flatnonzero(late).tolist():
                    e = chunk[k]
                    w = format_ts(int(watermarks[k]))
                    yield Late(e, f"ts {format_ts(e[3])} is behind the watermark {w}")
                self.counts.late += int(late.sum())
                on_time = [chunk[k] for k in np.flatnonzero(~late).tolist()]
            else:
                on_time = chunk
            accepted = self._dedup(on_time, open_ids) if self.config.dedup else on_time
            self.counts.duplicates += len(on_time) - len(accepted)
            self.counts.accepted += len(accepted)
            if accepted:
                users = list(map(_USER, accepted))
                for name in set(users).difference(codes):
                    code = codes[name] = next(next_code)
                    names[code] = name
                n = len(accepted)
                state.extend(
                    np.fromiter(map(codes.__getitem__, users), dtype=np.int64, count=n),
                    np.fromiter(map(_TS, accepted), dtype=np.int64, count=n),
                    np.arange(arrival, arrival + n, dtype=np.int64),
                    np.fromiter(map(_KIND.get, map(_TYPE, accepted), _ZEROS(n)), np.int8, n),
                    accepted,
                )
                arrival += n
            watermark = None if max_ts is None else max_ts - self.config.lateness_ms
            yield from self._emit(state, watermark, codes, names, open_ids)
            self.open_events, self.open_users = len(state.records), len(codes)
        yield from self._emit(state, None, codes, names, open_ids, final=True)
        self.open_events, self.open_users = len(state.records), len(codes)

    @staticmethod
    def _dedup(events: list[Event], open_ids: set[str]) -> list[Event]:
        """Drop repeated ids (of open sessions, or earlier in ``events``); record the rest."""
        ids = list(map(_ID, events))
        fresh = set(ids)
        if len(fresh) == len(ids) and open_ids.isdisjoint(fresh):  # the common case
            open_ids |= fresh
            return events
        kept = []
        for event_id, e in zip(ids, events):
            if event_id not in open_ids:
                open_ids.add(event_id)
                kept.append(e)
        return kept

    def _late(self, ts: np.ndarray, max_ts: int | None) -> tuple[np.ndarray, np.ndarray, int]:
        """Return which events are late, the watermark each met, and the new maximum."""
        running = np.maximum.accumulate(ts)
        before = np.empty_like(ts)
        before[1:] = running[:-1]
        if max_ts is None:
            before[0] = ts[0]  # the first event of a stream meets no watermark
        else:
            before[0] = max_ts
            np.maximum(before, max_ts, out=before)
        watermarks = before - self.config.lateness_ms
        late = ts < watermarks
        if max_ts is None:
            late[0] = False
        top = int(running[-1])
        return late, watermarks, top if max_ts is None else max(top, max_ts)

    def _emit(self, state: _Open, watermark, codes, names, open_ids, final: bool = False):
        """Cut the open events into sessions; yield those that are final, keep the rest."""
        n = len(state.ts)
        if n == 0 or (watermark is None and not final):
            return
        c = self.config
        order = np.lexsort((state.arrival, state.ts, state.user))
        user, ts, kind = state.user[order], state.ts[order], state.kind[order]
        cut = np.ones(n, dtype=bool)
        cut[1:] = (user[1:] != user[:-1]) | (ts[1:] - ts[:-1] > c.gap_ms)
        if c.split_on_app_open:
            cut[1:] |= kind[1:] == 1
        if c.close_on_app_close:
            cut[1:] |= kind[:-1] == 2
        starts = np.flatnonzero(cut)
        ends = np.r_[starts[1:], n]  # exclusive
        end_ts = ts[ends - 1]
        done = np.ones(len(starts), dtype=bool) if final else end_ts + c.gap_ms < watermark
        if not done.any():
            return
        emitted = np.repeat(done, ends - starts)  # per sorted position
        sel = np.flatnonzero(done)
        first = starts[sel]
        ordered = list(map(state.records.__getitem__, order[emitted].tolist()))
        sizes = (ends[sel] - first).tolist()
        offsets = np.concatenate(([0], np.cumsum(sizes))).tolist()
        sessions = sorted(
            zip(
                end_ts[sel].tolist(),
                ts[first].tolist(),
                list(map(names.__getitem__, user[first].tolist())),
                offsets[:-1],
                offsets[1:],
            )
        )
        keep = np.ones(n, dtype=bool)
        keep[order[emitted]] = False
        if self.config.dedup:
            open_ids.difference_update(map(_ID, ordered))
        state.keep(keep)
        for code in set(user[emitted].tolist()).difference(state.user.tolist()):
            del codes[names.pop(code)]
        for end, start, name, lo, hi in sessions:
            yield Session(name, start, end, ordered[lo:hi])
