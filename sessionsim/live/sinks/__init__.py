"""Where a live run sends its events: stdout, an HTTP collector, or Kafka.

Every sink reports what happened to each event copy to a ``Tally``: acknowledged (written
to stdout and flushed, a 2xx answer, a successful Kafka delivery report) or failed, with
the reason. Only acknowledged copies count as delivered in the run's truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from sessionsim.errors import SessionsimError
from sessionsim.live.sinks.base import LiveSink, Outgoing, Tally
from sessionsim.live.sinks.http import HttpSink
from sessionsim.live.sinks.kafka import KafkaSink
from sessionsim.live.sinks.stdout import StdoutSink

__all__ = ["HttpSink", "KafkaSink", "LiveSink", "Outgoing", "StdoutSink", "Tally", "open_sink"]


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
            return KafkaSink("mock", topic, tally, timeout_s, stopping, config=mock)
        return KafkaSink(parts.netloc, topic, tally, timeout_s, stopping)
    raise SessionsimError(
        f"--sink: expected stdout, http://HOST:PORT/PATH or kafka://HOST:PORT/TOPIC (got {url!r})"
    )
