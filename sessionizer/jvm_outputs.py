"""From a JVM engine's sessions (each a list of the arrival numbers of its events) back to
the harness's columns: the sessions, and every event read that no session holds, late."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa

from sessionizer.columns import SCHEMA, LateColumns, SessionColumns
from sessionizer.errors import SessionizerError

__all__ = ["placed_outputs"]


def placed_outputs(
    table: pa.Table, sessions: Sequence[Sequence[int]], late_reason: str
) -> Iterator[SessionColumns | LateColumns]:
    """``table``: every event read, in arrival order (``SCHEMA``); ``sessions``: each
    session's arrival numbers. Yields the sessions, ordered as an end of input flushes them
    (by end, start, user; events by time, then arrival), then the events in no session,
    late with ``late_reason``, in arrival order."""
    n = table.num_rows
    if n == 0:
        if any(len(s) for s in sessions):
            raise SessionizerError("the engine placed events it was never given")
        return
    table = table.select(SCHEMA.names)
    sizes = np.fromiter((len(s) for s in sessions), np.int64, count=len(sessions))
    sessions = [s for s, size in zip(sessions, sizes) if size]
    sizes = sizes[sizes > 0]
    flat = np.fromiter((a for s in sessions for a in s), np.int64, count=int(sizes.sum()))
    if len(flat) and (flat.min() < 0 or flat.max() >= n):
        raise SessionizerError("the engine placed events it was never given")
    if len(sessions):
        ts = table.column("ts").to_numpy()
        owner = np.repeat(np.arange(len(sessions)), sizes)
        flat = flat[np.lexsort((flat, ts[flat], owner))]  # each session by time, arrival
        bounds = np.concatenate(([0], np.cumsum(sizes)))
        start = ts[flat[bounds[:-1]]]
        end = np.maximum.reduceat(ts[flat], bounds[:-1])
        users = table.column("user_id").take(pa.array(flat[bounds[:-1]]))
        order = np.lexsort((users.to_numpy(zero_copy_only=False), start, end))
        picked = np.concatenate([flat[bounds[k] : bounds[k + 1]] for k in order])
        events = table.take(pa.array(picked)).combine_chunks().to_batches()[0]
        yield SessionColumns(
            user_id=users.take(pa.array(order)).combine_chunks(),
            start=start[order],
            end=end[order],
            offsets=np.concatenate(([0], np.cumsum(sizes[order]))).astype(np.int64),
            events=events,
            arrival=picked,
        )
    unplaced = np.ones(n, dtype=bool)
    unplaced[flat] = False
    missing = np.flatnonzero(unplaced)
    if len(missing):
        late = table.take(pa.array(missing)).combine_chunks().to_batches()[0]
        yield LateColumns(late, [late_reason] * len(missing), arrival=missing)
