"""The columnar side of the contract: events, sessions and late events as Arrow columns.

An event batch is a ``pyarrow.RecordBatch`` of :data:`SCHEMA`, the fields of ``Event`` in
its order: ``event_id``, ``type``, ``user_id`` (strings), ``ts`` (int64 epoch ms),
``search_id`` (string or null), ``items`` (how many items a ``results`` event showed, else
null) and ``position`` (a click's 1-based rank, else null). A sessionizer that offers
``sessionize_columns(batches)`` takes such batches in arrival order and yields
:class:`SessionColumns` and :class:`LateColumns`; no per-event Python object is made on the
way. Records and columns convert both ways, so every engine can be scored on columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sessionizer.base import EVENT_TYPES, Event, Late, Session

__all__ = [
    "SCHEMA",
    "LateColumns",
    "SessionColumns",
    "batch_of",
    "columns_of",
    "events_of",
    "kind_codes",
    "outputs_of_columns",
]

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("type", pa.string()),
        ("user_id", pa.string()),
        ("ts", pa.int64()),
        ("search_id", pa.string()),
        ("items", pa.int32()),
        ("position", pa.int32()),
    ]
)
_TYPES = pa.array(EVENT_TYPES)


def kind_codes(batch: pa.RecordBatch) -> np.ndarray:
    """Each event's type as its index in ``EVENT_TYPES`` (int8)."""
    codes = pc.fill_null(pc.index_in(batch.column("type"), value_set=_TYPES), -1)
    return codes.to_numpy().astype(np.int8)


def int_column(batch: pa.RecordBatch, name: str, missing: int = -1) -> np.ndarray:
    """A nullable integer column as int64, nulls as ``missing``."""
    return pc.fill_null(batch.column(name), missing).to_numpy().astype(np.int64, copy=False)


def batch_of(events: Sequence[Event]) -> pa.RecordBatch:
    """Event records as one batch of :data:`SCHEMA`."""
    columns = list(zip(*events)) if events else [()] * len(SCHEMA)
    return pa.RecordBatch.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, SCHEMA)], schema=SCHEMA
    )


def events_of(batch: pa.RecordBatch) -> list[Event]:
    """A batch as event records, in order."""
    return list(map(Event._make, zip(*(c.to_pylist() for c in batch.columns))))


def columns_of(events: Iterable[Event], size: int = 65_536) -> Iterator[pa.RecordBatch]:
    """Event records as batches of at most ``size`` events."""
    it = iter(events)
    while chunk := list(islice(it, size)):
        yield batch_of(chunk)


@dataclass(slots=True)
class SessionColumns:
    """Final sessions: session ``k`` is ``user_id[k]`` from ``start[k]`` to ``end[k]`` (ms),
    its events ``events[offsets[k]:offsets[k + 1]]`` in order."""

    user_id: pa.Array
    start: np.ndarray
    end: np.ndarray
    offsets: np.ndarray
    events: pa.RecordBatch
    arrival: np.ndarray | None = None  # per event, its position in the input (when known)

    def __len__(self) -> int:
        return len(self.start)

    def event_ids(self) -> pa.ListArray:
        """Each session's event ids, as a list column."""
        return pa.ListArray.from_arrays(
            pa.array(self.offsets, pa.int32()), self.events.column("event_id")
        )

    def sessions(self) -> Iterator[Session]:
        """The sessions as records."""
        records = events_of(self.events)
        bounds = self.offsets.tolist()
        for k, (user, start, end) in enumerate(
            zip(self.user_id.to_pylist(), self.start.tolist(), self.end.tolist())
        ):
            yield Session(user, start, end, records[bounds[k] : bounds[k + 1]])

    @classmethod
    def of(cls, sessions: Sequence[Session]) -> SessionColumns:
        """Session records as columns."""
        sizes = [len(s.events) for s in sessions]
        return cls(
            user_id=pa.array([s.user_id for s in sessions], pa.string()),
            start=np.array([s.start for s in sessions], np.int64),
            end=np.array([s.end for s in sessions], np.int64),
            offsets=np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))),
            events=batch_of([e for s in sessions for e in s.events]),
        )


@dataclass(slots=True)
class LateColumns:
    """Events rejected as late, in the order they were rejected, with each reason."""

    events: pa.RecordBatch
    reasons: list[str]
    arrival: np.ndarray | None = None  # per event, its position in the input (when known)

    def __len__(self) -> int:
        return self.events.num_rows

    def lates(self) -> Iterator[Late]:
        return map(Late, events_of(self.events), self.reasons)

    @classmethod
    def of(cls, lates: Sequence[Late]) -> LateColumns:
        return cls(batch_of([x.event for x in lates]), [x.reason for x in lates])


def outputs_of_columns(
    outputs: Iterable[Session | Late], size: int = 4096
) -> Iterator[SessionColumns | LateColumns]:
    """Records a sessionizer emitted, as columns: each run of sessions or of late events
    (at most ``size``) becomes one batch, in the order they came."""
    run: list = []
    for o in outputs:
        if run and (len(run) >= size or isinstance(o, Late) != isinstance(run[0], Late)):
            yield LateColumns.of(run) if isinstance(run[0], Late) else SessionColumns.of(run)
            run = []
        run.append(o)
    if run:
        yield LateColumns.of(run) if isinstance(run[0], Late) else SessionColumns.of(run)
