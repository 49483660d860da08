"""The HTTP sink's retry policy, without sockets (issue 22, part 7): a scripted transport
stands in for the network peer (``HttpSink(transport=...)``), and a stop that records its
waits stands in for the clock, so 429/5xx, Retry-After, refusals and missing answers are
checked exactly."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sessionsim.live.deadline import Deadline
from sessionsim.live.sinks import HttpSink, Outgoing, Tally
from sessionsim.live.sinks.http_post import Answer


class Scripted:
    """A peer that answers each attempt from a shared script (then 200), and remembers
    each attempt's idempotency key."""

    def __init__(self, script: list[Answer], keys: list[str]) -> None:
        self.script, self.keys = script, keys
        self.left = False

    def post(self, body: bytes, key: str, deadline: Deadline) -> Answer:
        self.keys.append(key)
        return self.script.pop(0) if self.script else Answer(200)

    def leave(self) -> None:
        self.left = True

    def close(self) -> None:
        pass


class Waits(threading.Event):
    """A stop that is never set and records each backoff instead of sleeping it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and timeout >= 0.05:  # a backoff, not a queue's poll slice
            self.waits.append(timeout)
        return False


def _run(script: list[Answer], retries: int = 3, n: int = 5):
    keys: list[str] = []
    tally, stop = Tally(), Waits()
    sink = HttpSink(
        "http://collector.invalid/e", tally, np.random.default_rng(0), batch=n, inflight=1,
        retries=retries, backoff_s=0.2, stopping=stop,
        transport=lambda url, timeout_s: Scripted(script, keys),
    )  # fmt: skip
    items = [Outgoing(f"e{k}", 0, b"u", k, b"{}\n") for k in range(n)]
    sink.send(items)
    sink.close(5.0)
    return tally, keys, stop.waits


def test_a_429_then_a_200_is_retried_under_one_key_after_its_retry_after():
    tally, keys, waits = _run([Answer(429, "HTTP 429", retry_after_s=7.0)])
    assert (tally.acked, tally.retried, tally.failed) == (5, 5, 0)
    assert len(keys) == 2 and keys[0] == keys[1]  # the same Idempotency-Key on each attempt
    assert waits[0] == 7.0  # Retry-After is the least backoff
    assert tally.request_latency.summary()["p50_ms"] is not None


def test_5xx_back_off_exponentially_with_jitter_then_give_up():
    script = [Answer(503, "HTTP 503")] * 4
    tally, keys, waits = _run(list(script), retries=3)
    assert tally.acked == 0 and tally.failed == 5 and len(keys) == 4
    assert tally.error is not None and "gave up after 3 retries: HTTP 503" in tally.error
    assert tally.failures_by_reason() == {"HTTP 503": 5}
    # 0.2 s * 2^attempt, times a jitter in [0.5, 1.5)
    for attempt, w in enumerate(waits):
        assert 0.2 * 2**attempt * 0.5 <= w < 0.2 * 2**attempt * 1.5


def test_a_4xx_refusal_is_not_retried():
    tally, keys, waits = _run([Answer(400, "HTTP 400")])
    assert len(keys) == 1 and waits == [] and tally.failed == 5
    assert tally.error is not None and "HTTP 400" in tally.error


@pytest.mark.parametrize("late", ["no answer in time", "the collector closed the connection"])
def test_a_missing_answer_is_retried_then_counted_by_its_reason(late):
    tally, keys, _ = _run([Answer(None, late)] * 2, retries=1)
    assert len(keys) == 2 and tally.acked == 0
    assert tally.failures_by_reason() == {late: 5}
