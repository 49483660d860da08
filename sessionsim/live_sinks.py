"""Where a live run sends its events: stdout, an HTTP collector, or Kafka.

Every sink reports what happened to each event copy to a ``Tally``: acknowledged (written
to stdout and flushed, a 2xx answer, a successful Kafka delivery report) or failed, with
the reason. Only acknowledged copies count as delivered in the run's truth.
"""

from __future__ import annotations

import functools
import itertools
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import numpy as np

from sessionsim.deadline import Deadline
from sessionsim.errors import SessionsimError
from sessionsim.http_post import ABANDON_S, Link

__all__ = ["HttpSink", "KafkaSink", "LiveSink", "Outgoing", "StdoutSink", "Tally", "open_sink"]


@dataclass(slots=True)
class Outgoing:
    """One event copy on its way out."""

    event_id: str
    copy: int
    key: bytes  # the user id: a user's events stay in one Kafka partition, in order
    ts_ms: int  # its arrival (``received_at``) in epoch milliseconds
    line: bytes  # its JSON line, newline included


class Tally:
    """What the sink did with each event copy; safe to call from the sink's threads."""

    def __init__(self, on_ack: Callable[[list[Outgoing]], None] | None = None) -> None:
        """``on_ack`` receives each acknowledged group (under the tally's lock)."""
        self._lock = threading.Lock()
        self._on_ack = on_ack
        self.sent = self.acked = self.retried = self.failed = self.unsent = 0
        self.unacked: list[tuple[Outgoing, str]] = []  # failed or unsent copies, with why
        self.error: str | None = None  # the first fatal problem: the run stops on it
        self.write_error: str | None = None  # recording what was acknowledged failed
        self._sealed = False

    def seal(self) -> None:
        """The run's outcome is settled: later reports (a late answer) change nothing."""
        with self._lock:
            self._sealed = True

    def was_sent(self, n: int) -> None:
        with self._lock:
            self.sent += n

    def ack(self, items: list[Outgoing]) -> None:
        with self._lock:
            if self._sealed:
                return
            self.acked += len(items)
            if self._on_ack is not None and self.write_error is None:
                try:
                    self._on_ack(items)
                except Exception as e:  # EFBIG, ENOSPC: the run ends on it, whatever the thread
                    why = e.strerror if isinstance(e, OSError) else str(e)
                    self._broken(f"cannot record what was acknowledged: {why or e}")

    def broken(self, what: str) -> None:
        """A file of the run could not be written: the run ends on it and keeps no file."""
        with self._lock:
            self._broken(what)

    def _broken(self, what: str) -> None:
        if self.write_error is None:
            self.write_error = what
        if self.error is None:
            self.error = what

    def retry(self, n: int) -> None:
        with self._lock:
            self.retried += n

    def give_up(self, why: str) -> None:
        """The sink cannot go on (every broker down): the run stops on it."""
        with self._lock:
            if self.error is None:
                self.error = why

    def drop(self, items: list[Outgoing], reason: str) -> None:
        """Copies handed to the sink that it never sent (the run stopped first)."""
        with self._lock:
            self.unsent += len(items)
            self.unacked.extend((it, reason) for it in items)

    def fail(self, items: list[Outgoing], reason: str, fatal: str | None = None) -> None:
        """Copies sent and not acknowledged (a refusal, a timeout, a stop while in flight)."""
        with self._lock:
            if self._sealed:
                return
            self.failed += len(items)
            self.unacked.extend((it, reason) for it in items)
            if fatal is not None and self.error is None:
                self.error = fatal


class LiveSink(Protocol):
    """A destination for a live run's events."""

    def send(self, items: list[Outgoing]) -> None:
        """Hand over events in arrival order (may block: backpressure)."""

    def poll(self) -> None:
        """Let the sink make progress (flush timers, delivery reports)."""

    def close(self, timeout_s: float) -> None:
        """Flush; copies not acknowledged within ``timeout_s`` are reported failed."""


class StdoutSink:
    """JSON lines on stdout (or a file), flushed per batch; ``key`` prefixes each with the
    user and a tab (for ``kcat -K$'\\t'``)."""

    def __init__(self, tally: Tally, keyed: bool = False, stream: IO[bytes] | None = None) -> None:
        """Write to ``stream`` (default: this process's stdout)."""
        self.tally, self.keyed = tally, keyed
        self._owned = stream is not None  # a file it opened: closed at the end
        self.stream = stream if stream is not None else sys.stdout.buffer

    def send(self, items: list[Outgoing]) -> None:
        if not items:
            return
        if self.tally.error:
            self.tally.drop(items, "not sent: the run stopped")
            return
        if self.keyed:
            data = b"".join(it.key + b"\t" + it.line for it in items)
        else:
            data = b"".join(it.line for it in items)
        self.tally.was_sent(len(items))
        try:
            self.stream.write(data)
            self.stream.flush()
        except (BrokenPipeError, OSError) as e:
            reason = "the reader closed the pipe" if isinstance(e, BrokenPipeError) else str(e)
            self.tally.fail(items, reason, fatal=f"stdout: {reason}")
            return
        self.tally.ack(items)

    def poll(self) -> None:
        pass

    def close(self, timeout_s: float) -> None:
        if self._owned:
            self.stream.close()


class HttpSink:
    """Batched POSTs of NDJSON, as an analytics SDK uploads.

    A batch goes out when it holds ``batch`` events or its oldest event has waited
    ``interval_s``. ``inflight`` batches at most are posted at once; when all are busy,
    ``send`` waits (backpressure: the sender slows, nothing is dropped). A 5xx answer, a
    429, a connection error or no answer in time is retried ``retries`` times with
    exponential backoff and jitter (at least a 429/503's ``Retry-After``), under the same
    idempotency key; after that, or on another 4xx, the batch fails and the run stops. A
    request it stops waiting for is left so that the collector and the truth agree (see
    ``http_post``).
    """

    def __init__(
        self,
        url: str,
        tally: Tally,
        rng: np.random.Generator,
        batch: int = 500,
        interval_s: float = 1.0,
        inflight: int = 4,
        retries: int = 5,
        backoff_s: float = 0.2,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        stopping: threading.Event | None = None,
    ) -> None:
        """``rng`` draws the jitter (seeded by the caller); ``timeout_s`` bounds a request
        (longer than any latency the collector is allowed); ``stopping`` cuts every wait
        short (a full in-flight window, a retry's backoff, an answer) once it is set."""
        self.url, self.tally = url, tally
        self.stopping = stopping or threading.Event()
        self.batch, self.interval_s = batch, interval_s
        self.retries, self.backoff_s, self.timeout_s = retries, backoff_s, timeout_s
        self.clock = clock
        self._rng, self._rng_lock = rng, threading.Lock()
        self._buffer: list[Outgoing] = []
        self._oldest = 0.0
        self._queue: queue.Queue[list[Outgoing] | None] = queue.Queue(maxsize=inflight)
        self._posting: dict[int, list[Outgoing]] = {}  # batches a worker is posting
        self._posting_lock = threading.Lock()
        # Batch keys: unique to this run (not a simulation draw: nothing of it is written).
        self._run_key = os.urandom(8).hex()
        self._batches = itertools.count()
        self._links = [Link(url, timeout_s) for _ in range(inflight)]
        self._workers = [
            threading.Thread(target=self._work, args=(link,), name=f"http-{k}", daemon=True)
            for k, link in enumerate(self._links)
        ]
        for w in self._workers:
            w.start()

    def send(self, items: list[Outgoing]) -> None:
        if not items:
            return
        if not self._buffer:
            self._oldest = self.clock()
        self._buffer.extend(items)
        while len(self._buffer) >= self.batch:
            self._submit(self._buffer[: self.batch])
            self._buffer = self._buffer[self.batch :]
            self._oldest = self.clock()

    def poll(self) -> None:
        if self._buffer and self.clock() - self._oldest >= self.interval_s:
            self._submit(self._buffer)
            self._buffer = []

    def _submit(self, items: list[Outgoing]) -> None:
        while not self.stopping.is_set():  # waits while every in-flight slot is busy
            try:
                self._queue.put(items, timeout=0.1)
                return
            except queue.Full:
                continue
        self.tally.drop(items, "not sent: the run stopped")

    def _jitter(self) -> float:
        with self._rng_lock:
            return 0.5 + float(self._rng.random())

    def _work(self, link: Link) -> None:
        while (items := self._queue.get()) is not None:
            with self._posting_lock:
                self._posting[id(items)] = items
            try:
                self._post(link, items)
            finally:
                with self._posting_lock:
                    self._posting.pop(id(items), None)
        link.close()

    def _post(self, link: Link, items: list[Outgoing]) -> None:
        body = b"".join(it.line for it in items)
        key = f"{self._run_key}-{next(self._batches)}"
        reason = ""
        for attempt in range(self.retries + 1):
            if self.tally.error or self.stopping.is_set() or link.left:  # no peer waits again
                if attempt == 0:
                    self.tally.drop(items, "not sent: the run stopped")
                else:
                    self.tally.fail(items, f"{reason}, then the run stopped")
                return
            if attempt == 0:
                self.tally.was_sent(len(items))
            answer = link.post(body, key, Deadline(self.timeout_s, self.stopping))
            if answer.ok:
                self.tally.ack(items)
                return
            reason = answer.reason
            if answer.status is not None and answer.status < 500 and answer.status != 429:
                break  # the collector refuses this batch: retrying will not help
            if attempt < self.retries and not (self.stopping.is_set() or link.left):
                self.tally.retry(len(items))
                backoff = self.backoff_s * 2**attempt * self._jitter()
                self.stopping.wait(max(backoff, answer.retry_after_s))
        self.tally.fail(
            items,
            reason,
            fatal=f"{self.url}: gave up after {self.retries} retries: {reason}",
        )

    def _put_end(self, deadline: Deadline) -> bool:
        try:
            self._queue.put(None, timeout=min(0.1, deadline.left()))
        except queue.Full:
            return False
        return True

    def close(self, timeout_s: float) -> None:
        if self._buffer and not self.tally.error and not self.stopping.is_set():
            self._submit(self._buffer)
        elif self._buffer:
            self.tally.drop(self._buffer, "not sent: the run stopped")
        self._buffer = []
        deadline = Deadline(timeout_s, self.stopping)
        for _ in self._workers:
            while not self._put_end(deadline):
                if not deadline.left():
                    break
        for w in self._workers:
            while w.is_alive() and deadline.left():
                w.join(min(0.1, deadline.left()))
        # What is still in flight leaves, and hears within ABANDON_S whether it was stored.
        for link in self._links:
            link.leave()
        last = Deadline(ABANDON_S + 0.5)
        for w in self._workers:
            while w.is_alive() and last.left():
                w.join(min(0.1, last.left()))
        while True:  # batches no worker took before the deadline
            try:
                items = self._queue.get_nowait()
            except queue.Empty:
                break
            if items is not None:
                self.tally.drop(items, "not sent: the run stopped")
        with self._posting_lock:  # a worker stuck sending: not acknowledged
            for items in self._posting.values():
                self.tally.fail(items, "not acknowledged before the stop")
        self.tally.seal()


class KafkaSink:
    """An idempotent Kafka producer (confluent-kafka): key = user, timestamp = arrival.

    A copy counts as delivered only when its delivery report succeeds; a failed report is
    final (the idempotent producer has already retried) and stops the run.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        tally: Tally,
        timeout_s: float = 30.0,
        stopping: threading.Event | None = None,
        **config: Any,
    ) -> None:
        """``config`` adds librdkafka settings (tests pass ``test.mock.num.brokers``).
        A copy not delivered within ``timeout_s`` fails; ``stopping`` cuts a wait for room
        in the local queue short. librdkafka's log goes to a logger of its own, not stderr:
        its first error is the run's one line when every broker is down."""
        import logging

        from confluent_kafka import KafkaError, KafkaException, Producer

        self.topic, self.tally = topic, tally
        self.stopping = stopping or threading.Event()
        self.url = f"kafka://{bootstrap}/{topic}"
        log = logging.getLogger(f"sessionsim.kafka.{id(self)}")
        log.propagate = False
        log.addHandler(logging.NullHandler())
        down = KafkaError._ALL_BROKERS_DOWN

        def on_error(err: Any) -> None:
            if err.code() == down or err.fatal():
                self.tally.give_up(f"{self.url}: {err.str()}")

        try:
            self._producer = Producer(
                {
                    "bootstrap.servers": bootstrap,
                    "enable.idempotence": True,
                    # Larger, later batches: the producer's throughput (idempotence kept).
                    "linger.ms": 20,
                    "batch.size": 1 << 20,
                    "batch.num.messages": 100_000,
                    "queue.buffering.max.messages": 1_000_000,
                    "message.timeout.ms": max(1, round(timeout_s * 1000)),
                    "error_cb": on_error,
                    **config,
                },
                logger=log,
            )
        except KafkaException as e:
            raise SessionsimError(f"{self.url}: {e}") from None
        self._pending: dict[int, Outgoing] = {}
        self._next = 0

    def send(self, items: list[Outgoing]) -> None:
        produce, poll = self._producer.produce, self._producer.poll
        for k, it in enumerate(items):
            token = self._next
            while True:
                if self.stopping.is_set() or self.tally.error:  # the rest is not sent
                    self.tally.was_sent(k)
                    self.tally.drop(items[k:], "not sent: the run stopped")
                    poll(0)
                    return
                try:
                    produce(
                        self.topic,
                        value=it.line[:-1],
                        key=it.key,
                        timestamp=it.ts_ms,
                        on_delivery=functools.partial(self._report, token),
                    )
                    break
                except BufferError:  # the local queue is full: wait for the broker
                    poll(0.05)
            self._next += 1
            self._pending[token] = it
        self.tally.was_sent(len(items))
        poll(0)

    def _report(self, token: int, err: Any, _msg: Any) -> None:
        it = self._pending.pop(token)
        if err is None:
            self.tally.ack([it])
        else:
            self.tally.fail([it], str(err), fatal=f"kafka: delivery failed: {err}")

    def poll(self) -> None:
        self._producer.poll(0)

    def close(self, timeout_s: float) -> None:
        deadline = Deadline(timeout_s, self.stopping)
        left = self._producer.flush(0)
        while left and deadline.left() and not self.tally.error:
            left = self._producer.flush(min(0.1, deadline.left()))
        if left:  # not delivered in time: dropped from the producer, reported below
            self._producer.purge()
            self._producer.poll(0)
        if self._pending:
            self.tally.fail(list(self._pending.values()), "not acknowledged before the stop")
            self._pending.clear()
        self.tally.seal()


def open_sink(url: str, tally: Tally, rng: np.random.Generator, **options: Any) -> LiveSink:
    """Build the sink ``url`` names: ``stdout``, ``file:PATH``, ``http://HOST:PORT/PATH`` or
    ``kafka://HOST:PORT/TOPIC`` (``kafka://mock/TOPIC``: librdkafka's mock cluster);
    ``options`` are the HTTP batching settings, ``keyed``, ``timeout_s`` (a request or a
    delivery report) and ``stopping`` (an event that cuts waits short)."""
    keyed = options.pop("keyed", False)
    timeout_s, stopping = options.pop("timeout_s", 30.0), options.pop("stopping", None)
    if url == "stdout":
        return StdoutSink(tally, keyed)
    if url.startswith("file:") and len(url) > len("file:"):
        path = Path(url[len("file:") :])
        try:  # appended as it goes (no hidden partial name): ``tail -F`` follows it
            stream = open(path, "ab")  # noqa: SIM115 - open for the whole run
        except OSError as e:
            raise SessionsimError(f"--sink {url}: cannot write: {e.strerror}") from None
        return StdoutSink(tally, keyed, stream)
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return HttpSink(url, tally, rng, timeout_s=timeout_s, stopping=stopping, **options)
    if parts.scheme == "kafka" and parts.netloc and parts.path.strip("/"):
        topic = parts.path.strip("/")
        if parts.netloc == "mock":  # librdkafka's in-process mock cluster: try it, no broker
            mock = {"test.mock.num.brokers": 1}
            return KafkaSink("mock", topic, tally, timeout_s, stopping, **mock)
        return KafkaSink(parts.netloc, topic, tally, timeout_s, stopping)
    raise SessionsimError(
        f"--sink: expected stdout, http://HOST:PORT/PATH or kafka://HOST:PORT/TOPIC (got {url!r})"
    )
