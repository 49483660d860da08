"""Engines that own their run loop: the ``run(events, deliver)`` form of the contract.

A sessionizer may offer, beside or instead of ``sessionize(events)``, a blocking
``run(events, deliver)`` that pulls events from the iterator as its engine wants them and
hands each batch of results (``Session`` and ``Late``) to ``deliver``. Nothing needs to be
buffered: :func:`threaded` runs it in a thread and streams its results back.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import cast

import pyarrow as pa

from sessionizer.base import Counts, Event, Late, Session
from sessionizer.columns import LateColumns, SessionColumns, events_of, outputs_of_columns
from sessionizer.errors import SessionizerError

__all__ = ["ColumnOutputs", "Outputs", "outputs_of", "rare_collections", "threaded"]


@contextlib.contextmanager
def rare_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while an engine runs.

    An engine run allocates millions of short-lived tuples and lists and makes few cycles;
    with the default thresholds the collector rescans every open session again and again
    (measured on the bytewax engine, 295k events: 110-158k -> 189k events/s with a gen-0
    threshold of 100,000).
    """
    old = gc.get_threshold()
    gc.set_threshold(100_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*old)


Run = Callable[[Iterable[Event], Callable[[list], None]], None]


STOP_WAIT_S = 10.0  # how long a stopped engine may take to wind down
FAILED_POLL_S = 0.5  # how often a waiting reader asks the engine whether it has failed


def threaded(
    run: Run, events: Iterable[Event], failed: Callable[[], str | None] | None = None
) -> Iterator[Session | Late]:
    """The iterator form of a ``run(events, deliver)`` engine: the engine runs in a thread
    and its results stream out as they come (a bounded queue holds it back when the reader
    is slower); its failure is raised here. ``failed`` (if given) is asked while no result
    comes: a reason it returns is raised here as a ``SessionizerError`` (an engine that
    cannot fail by itself, such as a cluster waiting for a dead peer, is stopped from the
    reader's side).

    When the reader stops (Ctrl-C, SIGTERM, or it leaves early), the engine's input ends
    at once and what it still delivers is dropped, so the engine winds down and its thread
    is joined before the stop goes on: an engine thread inside native code (Bytewax) must
    not meet the interpreter's exit.
    """
    results: queue.Queue = queue.Queue(maxsize=64)
    done = object()
    failure: list[BaseException] = []
    stop = threading.Event()

    def deliver(batch: list) -> None:
        while not stop.is_set():
            try:
                results.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            run(_until(events, stop), deliver)
        except BaseException as e:  # handed to the reader
            failure.append(e)
        finally:
            deliver(done)  # type: ignore[arg-type]  # the end marker

    thread = threading.Thread(target=work, name="engine", daemon=True)
    thread.start()
    try:
        while True:
            try:
                batch = results.get(timeout=FAILED_POLL_S)
            except queue.Empty:
                if failed is not None and (why := failed()):
                    raise SessionizerError(why) from None
                continue
            if batch is done:
                break
            yield from batch
    except BaseException:
        stop.set()
        thread.join(STOP_WAIT_S)
        raise
    thread.join()
    if failure:
        raise failure[0]


def _until(events: Iterable[Event], stop: threading.Event) -> Iterator[Event]:
    """``events`` until ``stop`` is set (then the input simply ends)."""
    for k, e in enumerate(events):
        if not k & 1023 and stop.is_set():
            return
        yield e


def outputs_of(sessionizer: object, events: Iterable[Event]) -> Iterator[Session | Late]:
    """What ``sessionizer`` emits for ``events``, whichever form it offers."""
    if hasattr(sessionizer, "sessionize"):
        return sessionizer.sessionize(events)
    if hasattr(sessionizer, "run"):
        return threaded(sessionizer.run, events)
    raise SessionizerError(
        f"sessionizer {type(sessionizer).__name__}: has neither sessionize(events) nor "
        "run(events, deliver)"
    )


class _Tallied:
    """Outputs read once, then the counts they imply (``accepted``: events in sessions,
    ``late``: late events, ``duplicates``: the rest of what the sessionizer read)."""

    def __init__(self, outputs: Iterable, read: Callable[[], int]) -> None:
        """``read`` returns how many events the sessionizer read (asked once exhausted)."""
        self._outputs, self._read = outputs, read
        self._accepted = self._late = 0
        self._done = False

    def _sizes(self, o: object) -> tuple[int, int]:
        """An output's events in sessions and late events."""
        raise NotImplementedError

    def __iter__(self) -> Iterator:
        if self._done:
            raise SessionizerError("a sessionizer's outputs are read once")
        accepted = late = 0
        for o in self._outputs:
            placed, rejected = self._sizes(o)
            accepted, late = accepted + placed, late + rejected
            yield o
        self._accepted, self._late, self._done = accepted, late, True

    def read(self) -> int:
        """How many events the sessionizer read (known once the outputs are exhausted)."""
        return self._read()

    @property
    def counts(self) -> Counts:
        """This call's counts; known once the outputs are exhausted."""
        if not self._done:
            raise SessionizerError("a sessionizer's counts are known once its outputs are read")
        read = self._read()
        return Counts(self._accepted, self._late, read - self._accepted - self._late)


class Outputs(_Tallied):
    """One call of a sessionizer: its outputs, then the counts they imply.

    Iterate it once for the outputs (``Session`` and ``Late``). Once it is exhausted,
    ``counts`` says what the sessionizer did with this call's input, derived from the stream
    itself: ``accepted`` = events in the sessions, ``late`` = ``Late`` records, and
    ``duplicates`` = the rest of the events it read (docs/semantics.md: every event is in a
    session, late, or a dropped duplicate). So counts need nothing from the plugin, belong
    to one call, and cannot be stale.
    """

    def __init__(
        self,
        outputs: Iterable[Session | Late],
        read: Callable[[], int],
        name: str = "sessionizer",
    ) -> None:
        """``name`` names the sessionizer in the error for an output that is not a Session
        or a Late."""
        super().__init__(outputs, read)
        self.name = name

    @classmethod
    def of(cls, sessionizer: object, events: Iterable[Event]) -> Outputs:
        """The outputs of ``sessionizer`` for ``events``, counting what it reads."""
        read = [0]

        def counted() -> Iterator[Event]:
            n = 0
            try:
                for e in events:
                    n += 1
                    yield e
            finally:
                read[0] = n

        return cls(
            outputs_of(sessionizer, counted()),
            lambda: read[0],
            f"sessionizer {type(sessionizer).__name__}",
        )

    def __iter__(self) -> Iterator[Session | Late]:
        return super().__iter__()

    def _sizes(self, o: object) -> tuple[int, int]:
        if isinstance(o, Late):
            return 0, 1
        if isinstance(o, Session) and isinstance(o.events, list):
            return len(o.events), 0
        shown = repr(o)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise SessionizerError(
            f"{self.name}: yielded {type(o).__name__} {shown}, expected a Session or a Late"
        )


def _plugin(
    outputs: Iterator[SessionColumns | LateColumns], name: str
) -> Iterator[SessionColumns | LateColumns]:
    """A plugin's outputs; its failure is one line naming it (what it raised), not a
    traceback through the harness."""
    try:
        yield from outputs
    except (SessionizerError, KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as e:
        raise SessionizerError(f"{name}: raised {type(e).__name__}: {e}") from None


class ColumnOutputs(_Tallied):
    """:class:`Outputs` on columns: one call of a sessionizer on event batches, its outputs
    as :class:`~sessionizer.columns.SessionColumns` and
    :class:`~sessionizer.columns.LateColumns`, then the counts they imply.

    A sessionizer with ``sessionize_columns`` gets the batches; any other gets their
    records, and what it emits is gathered into columns. ``feed`` and ``watch`` (optional)
    wrap the record stream both ways, for a caller that watches records as they pass; with
    them, every sessionizer goes the record way.
    """

    @classmethod
    def of(
        cls,
        sessionizer: object,
        batches: Iterable[pa.RecordBatch],
        feed: Callable[[Iterable[Event]], Iterable[Event]] | None = None,
        watch: Callable[[Iterable[Session | Late]], Iterable[Session | Late]] | None = None,
    ) -> ColumnOutputs:
        if hasattr(sessionizer, "sessionize_columns") and feed is None and watch is None:
            read = [0]

            def counted() -> Iterator[pa.RecordBatch]:
                for b in batches:
                    read[0] += b.num_rows
                    yield b

            return cls(sessionizer.sessionize_columns(counted()), lambda: read[0])
        records: Iterable[Event] = (e for b in batches for e in events_of(b))
        emitted = Outputs.of(sessionizer, feed(records) if feed else records)
        outputs = watch(emitted) if watch else emitted
        name = f"sessionizer {type(sessionizer).__name__}"
        return cls(_plugin(outputs_of_columns(outputs), name), emitted.read)

    def __iter__(self) -> Iterator[SessionColumns | LateColumns]:
        return super().__iter__()

    def _sizes(self, o: object) -> tuple[int, int]:
        if isinstance(o, LateColumns):
            return 0, len(o)
        return cast(SessionColumns, o).events.num_rows, 0
