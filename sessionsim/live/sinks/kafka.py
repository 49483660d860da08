"""An idempotent Kafka producer (confluent-kafka, imported when a Kafka sink is opened)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from sessionsim.errors import SessionsimError
from sessionsim.extras import need
from sessionsim.live.deadline import Deadline
from sessionsim.live.sinks.base import Outgoing, Tally


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
        producer: Callable[..., Any] | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        """``config`` adds librdkafka settings (tests pass ``test.mock.num.brokers``);
        ``producer(config, logger=...)`` builds the producer (default: confluent-kafka's;
        tests script delivery reports with their own).
        A copy not delivered within ``timeout_s`` fails; ``stopping`` cuts a wait for room
        in the local queue short. librdkafka's log goes to a logger of its own, not stderr:
        its first error is the run's one line when every broker is down."""
        import logging

        kafka = need("confluent_kafka", "kafka", "--sink kafka://")
        KafkaError, KafkaException, Producer = (
            kafka.KafkaError,
            kafka.KafkaException,
            kafka.Producer,
        )

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
            self._producer = (producer or Producer)(
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
                    **(config or {}),
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
        if it.handed:  # a produce's request: until its delivery report
            self.tally.request(time.monotonic() - it.handed)
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
