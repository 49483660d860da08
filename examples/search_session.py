"""The Bytewax tutorial "Building Sessions from Search Logs", as a sessionsim plugin.

The dataflow a user of Bytewax 0.21 writes today: events keyed by user, a session window
with an inactivity gap, each session split at every search, and CTR per search = "did the
user click any result of that search". Plug it in and score it against the truth::

    PYTHONPATH=. sessionsim check RUN_DIR --sessionizer examples.search_session:TutorialSessionizer

(from the repository root: ``PYTHONPATH=.`` makes ``examples`` importable). It uses only Bytewax's
public API and sessionsim's contract types; the tutorial's 10 s gap is ``--gap 10s``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import run_main

from sessionizer import Counts, Event, Late, Session, SessionConfig

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Pull(StatelessSourcePartition):
    """Read the caller's events as Bytewax asks for them (nothing is buffered)."""

    def __init__(self, events) -> None:
        self.events = events

    def next_batch(self):
        batch = list(itertools.islice(self.events, 1000))
        if not batch:
            raise StopIteration
        return batch


class _Source(DynamicSource):
    def __init__(self, events) -> None:
        self.events = events

    def build(self, step_id, worker_index, worker_count):
        return _Pull(self.events)


class _Deliver(StatelessSinkPartition):
    def __init__(self, deliver) -> None:
        self.deliver = deliver

    def write_batch(self, items):
        self.deliver(items)


class _Sink(DynamicSink):
    def __init__(self, deliver) -> None:
        self.deliver = deliver

    def build(self, step_id, worker_index, worker_count):
        return _Deliver(self.deliver)


def split_searches(events: list[Event]) -> list[list[Event]]:
    """The tutorial's step: a search owns the events after it, up to the next search."""
    searches: list[list[Event]] = []
    for e in events:
        if e.type == "search":
            searches.append([e])
        elif searches:
            searches[-1].append(e)
    return searches


def calc_ctr(search: list[Event]) -> float:
    """The tutorial's metric: 1.0 if the user clicked any result of the search."""
    return 1.0 if any(e.type == "click" for e in search) else 0.0


class TutorialSessionizer:
    """The tutorial's dataflow; ``search_ctr`` holds its per-search output (query, CTR)."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.counts = Counts()
        self.search_ctr: list[tuple[str, float]] = []

    def run(self, events: Iterable[Event], deliver: Callable[[list], None]) -> None:
        gap = timedelta(milliseconds=self.config.gap_ms)
        wait = timedelta(milliseconds=self.config.lateness_ms)
        flow = Dataflow("search_session")
        stream = op.input("in", flow, _Source(iter(events)))
        by_user = op.key_on("by_user", stream, lambda e: e.user_id)
        clock = win.EventClock(
            lambda e: EPOCH + timedelta(milliseconds=e.ts),
            wait_for_system_duration=wait,
            now_getter=lambda: EPOCH,  # event time only: a replay gives the same windows
        )
        windows = win.collect_window("sessions", by_user, clock, win.SessionWindower(gap))

        def to_session(item):
            user, (_window_id, evs) = item
            evs = sorted(evs, key=lambda e: e.ts)
            return Session(user, evs[0].ts, evs[-1].ts, evs)

        sessions = op.map("session", windows.down, to_session)
        lates = op.map("late", windows.late, lambda item: Late(item[1][1], "late for its window"))

        def ctrs(session: Session):
            return [(s[0].event_id, calc_ctr(s)) for s in split_searches(session.events)]

        op.output("ctr", op.flat_map("split", sessions, ctrs), _Sink(self.search_ctr.extend))

        def count(results: list) -> None:
            for r in results:
                if isinstance(r, Late):
                    self.counts.late += 1
                else:
                    self.counts.accepted += len(r.events)
            deliver(results)

        op.output("out", op.merge("all", sessions, lates), _Sink(count))
        run_main(flow)
