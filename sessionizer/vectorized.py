"""A vectorised streaming sessionizer: the reference's semantics on column micro-batches.

It reads event batches (``sessionizer.columns``) and decides with numpy and Arrow what the
reference decides event by event, exactly (a property test holds the two equal):

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
``sessionize_columns`` takes and gives columns; ``sessionize`` is the same core behind the
record API, and hands back the very records it was given.

The per-user watermark is not vectorised yet: an event can be late because a session of its
user became final earlier in the same batch (by the stream's watermark), which a batch
cannot see without replaying it in order. In that mode this class runs the reference's loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sessionizer.base import Counts, Event, Late, Session, SessionConfig
from sessionizer.columns import LateColumns, SessionColumns, batch_of, kind_codes
from sessionizer.gap import GapSessionizer
from sessionizer.records import format_ts

__all__ = ["VectorizedSessionizer"]

_APP_OPEN, _APP_CLOSE = 0, 4  # kind codes (index in EVENT_TYPES)


def _firsts(values: pa.Array) -> np.ndarray:
    """A mask of the first occurrence of each value (exact, by value)."""
    codes = pc.dictionary_encode(values).indices.to_numpy()
    first = np.zeros(len(codes), dtype=bool)
    first[np.unique(codes, return_index=True)[1]] = True
    return first


class _Core:
    """The sessionizer's state and one step per input batch."""

    def __init__(self, config: SessionConfig, counts: Counts) -> None:
        self.config, self.counts = config, counts
        self.user = np.zeros(0, dtype=np.int64)  # per open event: its user's code
        self.ts = np.zeros(0, dtype=np.int64)
        self.arrival = np.zeros(0, dtype=np.int64)  # its position in the input
        self.kind = np.zeros(0, dtype=np.int8)
        self.rows: pa.Table | None = None  # the open events themselves
        self.codes: dict[str, int] = {}  # users with open events -> code
        self.names: dict[int, str] = {}
        self.next_code = 0
        self.max_ts: int | None = None
        self.read = 0
        self.dropped = np.zeros(0, dtype=np.int64)  # the last step's duplicates (arrivals)

    def step(self, batch: pa.RecordBatch) -> list[SessionColumns | LateColumns]:
        """Take one batch; return what it made final or rejected, in order."""
        out: list[SessionColumns | LateColumns] = []
        n = batch.num_rows
        arrival = np.arange(self.read, self.read + n, dtype=np.int64)
        self.read += n
        ts = batch.column("ts").to_numpy()
        late, watermarks = self._late(ts)
        if late.any():
            idx = np.flatnonzero(late)
            rejected = batch.take(pa.array(idx))
            reasons = [
                f"ts {format_ts(t)} is behind the watermark {format_ts(w)}"
                for t, w in zip(ts[idx].tolist(), watermarks[idx].tolist())
            ]
            out.append(LateColumns(rejected, reasons, arrival[idx]))
            self.counts.late += len(idx)
            on_time = np.flatnonzero(~late)
            batch, ts, arrival = batch.take(pa.array(on_time)), ts[on_time], arrival[on_time]
        self.dropped = arrival[:0]
        if self.config.dedup and batch.num_rows:
            keep = self._fresh(batch.column("event_id"))
            if not keep.all():
                self.dropped = arrival[~keep]
                idx = np.flatnonzero(keep)
                batch, ts, arrival = batch.take(pa.array(idx)), ts[idx], arrival[idx]
        self.counts.duplicates += len(self.dropped)
        self.counts.accepted += batch.num_rows
        if batch.num_rows:
            self._extend(batch, ts, arrival)
        watermark = None if self.max_ts is None else self.max_ts - self.config.lateness_ms
        if watermark is not None:
            out.extend(self._emit(watermark))
        return out

    def finish(self) -> list[SessionColumns | LateColumns]:
        """End of input: every open session is final."""
        return self._emit(None)

    def _fresh(self, ids: pa.Array) -> np.ndarray:
        """Which ids are neither accepted in an open session nor repeated in ``ids``."""
        keep = _firsts(ids)
        if self.rows is not None and self.rows.num_rows:
            # Probe the batch's ids with the held ones (a table of the batch is cheaper to
            # build than one of everything held); a held id marks its first place in ``ids``.
            held = self.rows.column("event_id").combine_chunks()
            at = pc.index_in(held, value_set=ids).drop_null()
            keep[at.to_numpy()] = False
        return keep

    def _late(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return which events are late and the watermark each met; raise the maximum."""
        if len(ts) == 0:
            return np.zeros(0, dtype=bool), ts
        running = np.maximum.accumulate(ts)
        before = np.empty_like(ts)
        before[1:] = running[:-1]
        if self.max_ts is None:
            before[0] = ts[0]  # the first event of a stream meets no watermark
        else:
            before[0] = self.max_ts
            np.maximum(before, self.max_ts, out=before)
        watermarks = before - self.config.lateness_ms
        late = ts < watermarks
        if self.max_ts is None:
            late[0] = False
        top = int(running[-1])
        self.max_ts = top if self.max_ts is None else max(top, self.max_ts)
        return late, watermarks

    def _extend(self, batch: pa.RecordBatch, ts: np.ndarray, arrival: np.ndarray) -> None:
        users = pc.dictionary_encode(batch.column("user_id"))
        codes = self.codes
        local = np.empty(len(users.dictionary), dtype=np.int64)
        for k, name in enumerate(users.dictionary.to_pylist()):
            code = codes.get(name)
            if code is None:
                code = codes[name] = self.next_code
                self.names[code] = name
                self.next_code += 1
            local[k] = code
        self.user = np.concatenate((self.user, local[users.indices.to_numpy()]))
        self.ts = np.concatenate((self.ts, ts))
        self.arrival = np.concatenate((self.arrival, arrival))
        self.kind = np.concatenate((self.kind, kind_codes(batch)))
        table = pa.Table.from_batches([batch])
        self.rows = table if self.rows is None else pa.concat_tables([self.rows, table])

    def _emit(self, watermark: int | None) -> list[SessionColumns | LateColumns]:
        """Cut the open events into sessions; return those that are final (all of them when
        ``watermark`` is None), ordered by (end, start, user); keep the rest."""
        n = len(self.ts)
        if n == 0 or self.rows is None:
            return []
        c = self.config
        order = np.lexsort((self.arrival, self.ts, self.user))
        user, ts, kind = self.user[order], self.ts[order], self.kind[order]
        cut = np.ones(n, dtype=bool)
        cut[1:] = (user[1:] != user[:-1]) | (ts[1:] - ts[:-1] > c.gap_ms)
        if c.split_on_app_open:
            cut[1:] |= kind[1:] == _APP_OPEN
        if c.close_on_app_close:
            cut[1:] |= kind[:-1] == _APP_CLOSE
        starts = np.flatnonzero(cut)
        ends = np.r_[starts[1:], n]  # exclusive
        end_ts = ts[ends - 1]
        if watermark is None:
            done = np.ones(len(starts), dtype=bool)
        else:
            done = end_ts + c.gap_ms < watermark
            if not done.any():
                return []
        first = starts[done]
        sizes = ends[done] - first
        names = pa.array([self.names[u] for u in user[first].tolist()], pa.string())
        rank = pc.rank(names, sort_keys="ascending", tiebreaker="dense").to_numpy()
        by = np.lexsort((rank, ts[first], end_ts[done]))
        first, sizes, names = first[by], sizes[by], names.take(pa.array(by))
        offsets = np.concatenate(([0], np.cumsum(sizes)))
        within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)
        rows = order[np.repeat(first, sizes) + within]  # open-event indexes, session order
        take = pa.array(rows)
        events = self.rows.take(take).combine_chunks().to_batches()
        emitted = events[0] if events else pa.RecordBatch.from_pylist([], schema=self.rows.schema)
        sessions = SessionColumns(
            names, ts[first], end_ts[done][by], offsets, emitted, self.arrival[rows]
        )
        gone_users = np.unique(self.user[rows])
        keep = np.ones(n, dtype=bool)
        keep[rows] = False
        idx = np.flatnonzero(keep)
        self.user, self.ts = self.user[idx], self.ts[idx]
        self.arrival, self.kind = self.arrival[idx], self.kind[idx]
        self.rows = self.rows.take(pa.array(idx))
        for code in np.setdiff1d(gone_users, self.user).tolist():
            del self.codes[self.names.pop(code)]
        return [sessions]


class VectorizedSessionizer:
    """Sessions by inactivity gap (docs/semantics.md sections 2 and 3), on numpy micro-batches."""

    def __init__(self, config: SessionConfig, batch: int = 65_536) -> None:
        self.config = config
        self.batch = batch
        self.counts = Counts()
        self.open_events = 0  # accepted events not yet in a final session
        self.open_users = 0  # users with such events

    def sessionize_columns(
        self, batches: Iterable[pa.RecordBatch]
    ) -> Iterator[SessionColumns | LateColumns]:
        """Sessions and late events, as columns, from event batches in arrival order.

        Batches are taken as they come (their size is the caller's); with the per-user
        watermark the reference's loop runs on their records.
        """
        self.counts = Counts()
        if self.config.per_user:
            from sessionizer.columns import events_of, outputs_of_columns

            records = (e for b in batches for e in events_of(b))
            reference = GapSessionizer(self.config)
            yield from outputs_of_columns(reference.sessionize(records))
            self.counts = reference.counts
            return
        core = _Core(self.config, self.counts)
        for batch in batches:
            yield from core.step(batch)
            self._held(core)
        yield from core.finish()
        self._held(core)

    def sessionize(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        self.counts = Counts()  # this call's: counts never carry over from an earlier one
        if self.config.per_user:
            reference = GapSessionizer(self.config)
            out = reference.sessionize(events)
            self.counts = reference.counts
            return out
        return self._records(events)

    def _records(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        """The columnar core behind the record API: the records given are the ones returned
        (held by arrival while their session is open)."""
        core = _Core(self.config, self.counts)
        held: dict[int, Event] = {}
        it = iter(events)
        while True:
            chunk = list(islice(it, self.batch))
            if chunk:
                held.update(zip(range(core.read, core.read + len(chunk)), chunk))
                outputs = core.step(batch_of(chunk))
                for a in core.dropped.tolist():
                    del held[a]
            else:
                outputs = core.finish()
            for o in outputs:
                assert o.arrival is not None  # the core numbers what it emits
                arrivals = o.arrival.tolist()
                if isinstance(o, LateColumns):
                    yield from map(Late, map(held.pop, arrivals), o.reasons)
                    continue
                records = list(map(held.pop, arrivals))
                bounds = o.offsets.tolist()
                users, starts, ends = o.user_id.to_pylist(), o.start.tolist(), o.end.tolist()
                for k, user in enumerate(users):
                    yield Session(user, starts[k], ends[k], records[bounds[k] : bounds[k + 1]])
            self._held(core)
            if not chunk:
                return

    def _held(self, core: _Core) -> None:
        self.open_events, self.open_users = len(core.ts), len(core.codes)
