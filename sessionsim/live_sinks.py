"""Where a live run sends its events: stdout, an HTTP collector, or Kafka.

Every sink reports what happened to each event copy to a ``Tally``: acknowledged (written
to stdout and flushed, a 2xx answer, a successful Kafka delivery report) or failed, with
the reason. Only acknowledged copies count as delivered in the run's truth.
"""

from __future__ import annotations

import functools
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

from sessionsim.errors import SessionsimError

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
        self.sent = self.acked = self.retried = self.failed = 0
        self.unacked: list[tuple[Outgoing, str]] = []  # failed copies, with the reason
        self.error: str | None = None  # the first fatal problem: the run stops on it
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
            if self._on_ack is not None:
                self._on_ack(items)

    def retry(self, n: int) -> None:
        with self._lock:
            self.retried += n

    def fail(self, items: list[Outgoing], reason: str, fatal: str | None = None) -> None:
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
        if not items or self.tally.error:
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
    429 or a connection error is retried ``retries`` times with exponential backoff and
    jitter; after that, or on another 4xx, the batch fails and the run stops.
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
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``rng`` draws the jitter (seeded by the caller)."""
        import httpx

        self.url, self.tally = url, tally
        self.batch, self.interval_s = batch, interval_s
        self.retries, self.backoff_s = retries, backoff_s
        self.clock = clock
        self._rng, self._rng_lock = rng, threading.Lock()
        self._buffer: list[Outgoing] = []
        self._oldest = 0.0
        self._queue: queue.Queue[list[Outgoing] | None] = queue.Queue(maxsize=inflight)
        self._posting: dict[int, list[Outgoing]] = {}  # batches a worker is posting
        self._posting_lock = threading.Lock()
        self._transport_error: type[Exception] = httpx.TransportError
        self._clients = [httpx.Client(timeout=timeout_s) for _ in range(inflight)]
        self._workers = [
            threading.Thread(target=self._work, args=(c,), name=f"http-{k}", daemon=True)
            for k, c in enumerate(self._clients)
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
        self.tally.was_sent(len(items))
        self._queue.put(items)  # blocks while every in-flight slot is busy

    def _jitter(self) -> float:
        with self._rng_lock:
            return 0.5 + float(self._rng.random())

    def _work(self, client: Any) -> None:
        while (items := self._queue.get()) is not None:
            with self._posting_lock:
                self._posting[id(items)] = items
            try:
                self._post(client, items)
            finally:
                with self._posting_lock:
                    self._posting.pop(id(items), None)

    def _post(self, client: Any, items: list[Outgoing]) -> None:
        if self.tally.error:  # the run is stopping: do not wait on a dead peer again
            self.tally.fail(items, "not sent: the run stopped")
            return
        body = b"".join(it.line for it in items)
        reason = ""
        for attempt in range(self.retries + 1):
            try:
                r = client.post(
                    self.url, content=body, headers={"content-type": "application/x-ndjson"}
                )
            except self._transport_error as e:
                reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            else:
                if r.status_code < 300:
                    self.tally.ack(items)
                    return
                reason = f"HTTP {r.status_code}"
                if r.status_code < 500 and r.status_code != 429:
                    break  # the collector refuses this batch: retrying will not help
            if attempt < self.retries:
                self.tally.retry(len(items))
                time.sleep(self.backoff_s * 2**attempt * self._jitter())
        self.tally.fail(
            items,
            reason,
            fatal=f"{self.url}: gave up after {self.retries} retries: {reason}",
        )

    def close(self, timeout_s: float) -> None:
        if self._buffer and not self.tally.error:
            self._submit(self._buffer)
        elif self._buffer:
            self.tally.fail(self._buffer, "not sent: the run stopped")
        self._buffer = []
        deadline = time.monotonic() + timeout_s
        for _ in self._workers:
            try:
                self._queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                break
        for w in self._workers:
            w.join(max(0.0, deadline - time.monotonic()))
        while True:  # batches no worker took before the deadline
            try:
                items = self._queue.get_nowait()
            except queue.Empty:
                break
            if items is not None:
                self.tally.fail(items, "not acknowledged before the stop")
        with self._posting_lock:  # still being posted at the deadline: not acknowledged
            for items in self._posting.values():
                self.tally.fail(items, "not acknowledged before the stop")
        self.tally.seal()
        if not any(w.is_alive() for w in self._workers):  # a late worker keeps its client
            for c in self._clients:
                c.close()


class KafkaSink:
    """An idempotent Kafka producer (confluent-kafka): key = user, timestamp = arrival.

    A copy counts as delivered only when its delivery report succeeds; a failed report is
    final (the idempotent producer has already retried) and stops the run.
    """

    def __init__(self, bootstrap: str, topic: str, tally: Tally, **config: Any) -> None:
        """``config`` adds librdkafka settings (tests pass ``test.mock.num.brokers``)."""
        from confluent_kafka import KafkaException, Producer

        self.topic, self.tally = topic, tally
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
                    **config,
                }
            )
        except KafkaException as e:
            raise SessionsimError(f"kafka://{bootstrap}/{topic}: {e}") from None
        self._pending: dict[int, Outgoing] = {}
        self._next = 0

    def send(self, items: list[Outgoing]) -> None:
        produce, poll = self._producer.produce, self._producer.poll
        for it in items:
            token = self._next
            self._next += 1
            self._pending[token] = it
            while True:
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
        self._producer.flush(timeout_s)
        if self._pending:
            self.tally.fail(list(self._pending.values()), "not acknowledged before the stop")
            self._pending.clear()
        self.tally.seal()


def open_sink(url: str, tally: Tally, rng: np.random.Generator, **options: Any) -> LiveSink:
    """Build the sink ``url`` names: ``stdout``, ``file:PATH``, ``http://HOST:PORT/PATH`` or
    ``kafka://HOST:PORT/TOPIC`` (``kafka://mock/TOPIC``: librdkafka's mock cluster);
    ``options`` are the HTTP batching settings and ``keyed``."""
    keyed = options.pop("keyed", False)
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
        return HttpSink(url, tally, rng, **options)
    if parts.scheme == "kafka" and parts.netloc and parts.path.strip("/"):
        if parts.netloc == "mock":  # librdkafka's in-process mock cluster: try it, no broker
            return KafkaSink("mock", parts.path.strip("/"), tally, **{"test.mock.num.brokers": 1})
        return KafkaSink(parts.netloc, parts.path.strip("/"), tally)
    raise SessionsimError(
        f"--sink: expected stdout, http://HOST:PORT/PATH or kafka://HOST:PORT/TOPIC (got {url!r})"
    )
