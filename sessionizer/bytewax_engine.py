"""The ``bytewax`` sessionizer: docs/semantics.md in a Bytewax dataflow keyed by user.

The dataflow (Bytewax 0.21)::

    events (one partition, in arrival order)
      -> stamp    (flat_map_batch: the stream's watermark on each event, ticks for users
                   that can have nothing left open; see sessionizer.keyed.Stamper)
      -> sessions (stateful_batch keyed by user_id: sessionizer.keyed.UserSessions)
      -> results  (one sink partition, where the caller is)

Time comes only from the events, never from the wall clock, so a replay gives the same
sessions and late events as the reference, with one worker, several, or several processes
forming a cluster on localhost (``processes``): the other processes run the same dataflow
and own no partition of the input or of the output, so every result comes back here.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from typing import Any

import orjson

from sessionizer.base import Counts, Event, Late, Session, SessionConfig
from sessionizer.errors import SessionizerError
from sessionizer.keyed import Stamper, UserSessions
from sessionizer.processes import die_with_parent
from sessionizer.runloop import rare_collections, threaded

try:
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
    from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
    from bytewax.testing import cluster_main
except ImportError:  # pragma: no cover - the engines extra is not installed
    op = None  # type: ignore[assignment]

__all__ = ["BytewaxSessionizer", "Stamper", "build_flow"]

MAX_PROCESSES = 32  # a cluster of this many processes at most, whatever the cores

BATCH = 4096  # events per source batch: the unit the stamp step and the workers see


class _EventPartition(StatefulSourcePartition if op else object):  # type: ignore[misc]
    def __init__(self, events: Iterator[Event], batch: int) -> None:
        self._events, self._batch = events, batch

    def next_batch(self) -> list[Event]:
        chunk = list(itertools.islice(self._events, self._batch))
        if not chunk:
            raise StopIteration
        return chunk

    def snapshot(self) -> None:
        return None


class _EventSource(FixedPartitionedSource if op else object):  # type: ignore[misc]
    """One partition, local only to the process that holds the events."""

    def __init__(self, events: Iterator[Event] | None, batch: int) -> None:
        self._events, self._batch = events, batch

    def list_parts(self) -> list[str]:
        return [] if self._events is None else ["events"]

    def build_part(self, step_id: str, for_part: str, resume_state: object) -> _EventPartition:
        assert self._events is not None, "only the first process lists a partition"
        return _EventPartition(self._events, self._batch)


class _ResultPartition(StatefulSinkPartition if op else object):  # type: ignore[misc]
    def __init__(self, deliver: Callable[[list], None]) -> None:
        self._deliver = deliver

    def write_batch(self, values: list) -> None:
        self._deliver(values)

    def snapshot(self) -> None:
        return None


class _ResultSink(FixedPartitionedSink if op else object):  # type: ignore[misc]
    """One partition, local only to the caller's process: every result comes back."""

    def __init__(self, deliver: Callable[[list], None] | None) -> None:
        self._deliver = deliver

    def list_parts(self) -> list[str]:
        return [] if self._deliver is None else ["results"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: object) -> _ResultPartition:
        assert self._deliver is not None, "only the first process lists a partition"
        return _ResultPartition(self._deliver)


class _SessionsLogic(op.StatefulBatchLogic if op else object):  # type: ignore[misc]
    def __init__(self, config: SessionConfig) -> None:
        self.user = UserSessions(config)

    def on_batch(self, values: list) -> tuple[list, bool]:
        out: list = []
        step = self.user.step
        for events, watermarks, tick in values:
            step(events, watermarks, tick, out)
        return out, self.user.empty

    def on_eof(self) -> tuple[list, bool]:
        out: list = []
        self.user.flush(out)
        return out, True

    def snapshot(self) -> None:
        return None  # no recovery: a replay starts from the beginning


def build_flow(
    config: SessionConfig,
    events: Iterator[Event] | None,
    deliver: Callable[[list], None] | None,
    batch: int = 4096,
) -> Dataflow:
    """Return the dataflow; ``events`` and ``deliver`` are ``None`` in the other processes
    of a cluster (they own no partition)."""
    if op is None:
        raise SessionizerError(
            "sessionizer 'bytewax': Bytewax is not installed (pip install 'sessionsim[engines]')"
        )
    stamper = Stamper(config)
    flow = Dataflow("sessionsim_sessions")
    stream: Any = op.input("events", flow, _EventSource(events, batch))
    stamped = op.flat_map_batch("stamp", stream, stamper.stamp)
    results: Any = op.stateful_batch("sessions", stamped, lambda _: _SessionsLogic(config))
    op.output("results", results, _ResultSink(deliver))
    return flow


PORT_ATTEMPTS = 3  # sets of free ports tried when process 0's is taken before it binds


def _port_taken(e: BaseException) -> bool:
    return "Address already in use" in str(e)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class BytewaxSessionizer:
    """docs/semantics.md semantics in a Bytewax dataflow (either watermark mode).

    ``workers`` threads per process; ``processes`` > 1 forms a cluster on localhost, this
    process being the first.
    """

    def __init__(self, config: SessionConfig, workers: int = 1, processes: int = 1) -> None:
        if op is None:
            build_flow(config, None, None)  # raises the one-line error
        if not (isinstance(workers, int) and workers >= 1):
            raise SessionizerError(f"bytewax: workers: expected an integer >= 1 (got {workers!r})")
        if not (isinstance(processes, int) and 1 <= processes <= MAX_PROCESSES):
            raise SessionizerError(
                f"bytewax: processes: expected an integer from 1 to {MAX_PROCESSES} "
                f"(got {processes!r})"
            )
        self.config, self.workers, self.processes = config, workers, processes
        self.counts = Counts()
        self._dead_peer: str | None = None  # a cluster peer that died, and how

    def run(self, events: Iterable[Event], deliver: Callable[[list], None]) -> None:
        """Run the dataflow over ``events``, handing each batch of results to ``deliver``;
        return when the input is done and every session has come out."""
        self.counts = Counts()  # this run's: counts never carry over from an earlier one
        counted = _Counted(iter(events))
        flow = build_flow(self.config, counted, tallying(self.counts, deliver), BATCH)
        with rare_collections():
            if self.processes == 1:
                cluster_main(flow, [], 0, worker_count_per_proc=self.workers)
            else:
                self._run_cluster(flow)
        counted.settle(self.counts)

    def _run_cluster(self, flow: Dataflow) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            addresses = [f"127.0.0.1:{p}" for p in _free_ports(self.processes)]
            try:
                self._run_cluster_on(flow, addresses)
                return
            except RuntimeError as e:
                if not _port_taken(e):
                    raise
                # Ports are free when chosen and bound by timely a moment later: another
                # program took this process's in between. The others are ended; new ports.
                if attempt == PORT_ATTEMPTS:
                    raise SessionizerError(
                        f"bytewax: cluster process 0: its port {addresses[0]} is taken "
                        f"({PORT_ATTEMPTS} sets of free ports tried)"
                    ) from None

    def _run_cluster_on(self, flow: Dataflow, addresses: list[str]) -> None:
        spec = orjson.dumps(asdict(self.config)).decode()
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        others = [
            subprocess.Popen(
                [sys.executable, "-m", "sessionizer.bytewax_engine", spec, ",".join(addresses)]
                + [str(k), str(self.workers), str(os.getpid())],
                env=env,
            )
            for k in range(1, self.processes)
        ]
        finished = threading.Event()

        def watch() -> None:
            # This process would wait for a dead peer forever: the reader is told why
            # (``sessionize``'s ``failed``) and stops the run from its side.
            while not finished.wait(0.5):
                for k, p in enumerate(others, start=1):
                    if p.poll() not in (None, 0):
                        why = f" (its port {addresses[k]} is taken)" if p.returncode == 3 else ""
                        self._dead_peer = (
                            f"bytewax: cluster process {k} exited with {p.returncode}{why}"
                        )
                        return

        threading.Thread(target=watch, name="cluster-watch", daemon=True).start()
        try:
            cluster_main(flow, addresses, 0, worker_count_per_proc=self.workers)
        except RuntimeError:
            finished.set()
            for p in others:  # they cannot go on without this process: end them now
                p.kill()
                p.wait()
            raise
        finally:
            finished.set()
            for k, p in enumerate(others, start=1):
                if p.returncode == -signal.SIGKILL:
                    continue  # ended above
                try:
                    code = p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    code = p.wait()
                if code == 3:
                    raise SessionizerError(
                        f"bytewax: cluster process {k}: its port {addresses[k]} is taken"
                    )
                if code != 0:
                    raise SessionizerError(f"bytewax: cluster process {k} exited with {code}")

    def sessionize(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        self._dead_peer = None
        return threaded(self.run, events, failed=lambda: self._dead_peer)


def tallying(counts: Counts, deliver: Callable[[list], None]) -> Callable[[list], None]:
    """Wrap ``deliver`` to count what comes out: late events, and events in sessions."""

    def tally(results: list) -> None:
        for r in results:
            if isinstance(r, Late):
                counts.late += 1
            else:
                counts.accepted += len(r.events)
        deliver(results)

    return tally


class _Counted:
    """An iterator that counts what it hands out (every input line, for the counts)."""

    def __init__(self, it: Iterator[Event]) -> None:
        self._it, self.n = it, 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Event:
        e = next(self._it)
        self.n += 1
        return e

    def settle(self, counts: Counts) -> None:
        """Once the input is done: what was neither placed nor late was a duplicate."""
        counts.duplicates = self.n - counts.accepted - counts.late


def _die_with_parent(parent_pid: int) -> None:
    """Be killed when the parent dies; exit if it already has. Ctrl-C (sent to the whole
    process group) is the first process's to handle: its input ends and the cluster
    finishes with it; a SIGTERM ends this process quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent_pid)


def _cluster_process(argv: list[str]) -> None:
    """Another process of the cluster: the same dataflow, no partitions of its own."""
    spec, addresses, proc_id, workers, parent = argv
    _die_with_parent(int(parent))  # a killed run leaves no peer waiting for it
    config = SessionConfig(**orjson.loads(spec))
    flow = build_flow(config, None, None)
    with rare_collections():
        try:
            cluster_main(
                flow, addresses.split(","), int(proc_id), worker_count_per_proc=int(workers)
            )
        except RuntimeError as e:
            if _port_taken(e):
                sys.exit(3)  # process 0 names the port and stops the run
            raise


if __name__ == "__main__":
    _cluster_process(sys.argv[1:])
