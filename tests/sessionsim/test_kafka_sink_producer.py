"""The Kafka sink's accounting, without a broker (issue 22, part 7): a scripted producer
(``KafkaSink(producer=...)``) stands in for librdkafka, so delivery errors, a full local
queue, every broker down and reports that never come are checked exactly."""

from __future__ import annotations

from typing import Any

import pytest

from sessionsim.live.sinks import KafkaSink, Outgoing, Tally

kafka = pytest.importorskip("confluent_kafka")


class Scripted:
    """A producer: ``errors`` maps a message's number to the error its report carries,
    ``full`` is how many produce calls find the local queue full, ``silent`` keeps every
    report back (a broker that never answers)."""

    def __init__(self, errors=None, full=0, silent=False) -> None:
        self.errors, self.full, self.silent = errors or {}, full, silent
        self.queued: list[Any] = []
        self.produced = 0
        self.config: dict = {}

    def __call__(self, config: dict, logger: Any = None) -> Scripted:
        self.config = config
        return self

    def produce(self, topic, value, key, timestamp, on_delivery) -> None:
        if self.full:
            self.full -= 1
            raise BufferError("queue full")
        self.queued.append((self.produced, on_delivery))
        self.produced += 1

    def poll(self, timeout: float = 0) -> int:
        if self.silent:
            return 0
        done, self.queued = self.queued, []
        for n, report in done:
            report(self.errors.get(n), None)
        return len(done)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return len(self.queued)

    def purge(self) -> None:
        self.queued.clear()


def _items(n: int) -> list[Outgoing]:
    return [Outgoing(f"e{k}", 0, b"u", k, b"{}\n", 1.0) for k in range(n)]


def _sink(producer: Scripted) -> tuple[KafkaSink, Tally]:
    tally = Tally()
    return KafkaSink("broker:9092", "events", tally, timeout_s=1.0, producer=producer), tally


def test_every_report_delivered_is_acknowledged():
    sink, tally = _sink(Scripted())
    sink.send(_items(10))
    sink.close(1.0)
    assert (tally.sent, tally.acked, tally.failed) == (10, 10, 0)
    assert tally.request_latency.summary()["p50_ms"] is not None
    assert sink._producer.config["enable.idempotence"] is True


def test_a_failed_delivery_report_fails_its_copy_and_stops_the_run():
    timed_out = kafka.KafkaError(kafka.KafkaError._MSG_TIMED_OUT)
    sink, tally = _sink(Scripted(errors={3: timed_out}))
    sink.send(_items(10))
    sink.close(1.0)
    assert (tally.acked, tally.failed) == (9, 1)
    assert tally.error is not None and tally.error.startswith("kafka: delivery failed")
    assert tally.failures_by_reason() == {str(timed_out): 1}


def test_a_full_local_queue_waits_and_loses_nothing():
    sink, tally = _sink(Scripted(full=3))
    sink.send(_items(5))
    sink.close(1.0)
    assert (tally.sent, tally.acked, tally.failed) == (5, 5, 0)


def test_every_broker_down_gives_up_with_one_line():
    producer = Scripted()
    sink, tally = _sink(producer)
    producer.config["error_cb"](kafka.KafkaError(kafka.KafkaError._ALL_BROKERS_DOWN))
    assert tally.error is not None and tally.error.startswith("kafka://broker:9092/events: ")
    sink.send(_items(3))  # after giving up, nothing more is sent
    assert tally.unsent == 3 and tally.sent == 0


def test_reports_that_never_come_are_failed_at_the_end():
    sink, tally = _sink(Scripted(silent=True))
    sink.send(_items(4))
    sink.close(0.2)
    assert (tally.acked, tally.failed) == (0, 4)
    assert tally.failures_by_reason() == {"not acknowledged before the stop": 4}
