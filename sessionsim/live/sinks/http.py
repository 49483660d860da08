"""Batched NDJSON POSTs to an HTTP collector, as an analytics SDK uploads."""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections.abc import Callable

import numpy as np

from sessionsim.live.deadline import Deadline
from sessionsim.live.sinks.base import Outgoing, Tally
from sessionsim.live.sinks.http_post import ABANDON_S, Link, Transport


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
        transport: Callable[[str, float], Transport] = Link,
    ) -> None:
        """``rng`` draws the jitter (seeded by the caller); ``timeout_s`` bounds a request
        (longer than any latency the collector is allowed); ``stopping`` cuts every wait
        short (a full in-flight window, a retry's backoff, an answer) once it is set.
        ``transport(url, timeout_s)`` opens a connection (default: a socket, ``Link``)."""
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
        self._links = [transport(url, timeout_s) for _ in range(inflight)]
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

    def _work(self, link: Transport) -> None:
        while (items := self._queue.get()) is not None:
            with self._posting_lock:
                self._posting[id(items)] = items
            try:
                self._post(link, items)
            finally:
                with self._posting_lock:
                    self._posting.pop(id(items), None)
        link.close()

    def _post(self, link: Transport, items: list[Outgoing]) -> None:
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
            began = time.monotonic()
            answer = link.post(body, key, Deadline(self.timeout_s, self.stopping))
            self.tally.request(time.monotonic() - began)
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
