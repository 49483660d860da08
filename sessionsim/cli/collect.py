"""`sessionsim collect`: a local NDJSON collector for live runs."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from sessionsim.cli.options import _duration_flag, _Finite
from sessionsim.live.collect import MAX_BODY, MAX_CONNECTIONS, Collector, parse_listen


@click.command()
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="HOST:PORT.")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="JSON lines file (appended)."
)
@click.option(
    "--fail-rate",
    type=_Finite(0, 1),
    default=0.0,
    show_default=True,
    help="Answer this fraction of requests with 500.",
)
@click.option(
    "--fail-first", type=click.IntRange(min=0), default=0, help="Answer the first N with 500."
)
@click.option("--latency", default="0s", show_default=True, help="Delay every answer.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --fail-rate.")
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=MAX_BODY,
    show_default=True,
    help="Bytes of a request body (decoded); larger: 413.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1, max=1024),
    default=MAX_CONNECTIONS,
    show_default=True,
    help="Connections served at once; more: 503.",
)
def collect(
    listen: str,
    out: Path,
    fail_rate: float,
    fail_first: int,
    latency: str,
    seed: int,
    max_body: int,
    max_connections: int,
) -> None:
    """Receive NDJSON POSTs into a JSON lines file, until SIGINT or SIGTERM.

    Each request is stored whole or refused: every non-blank line must be a JSON object.
    """
    collector = Collector(
        parse_listen(listen),
        out,
        fail_rate=fail_rate,
        fail_first=fail_first,
        latency_s=_duration_flag("--latency", latency) or 0.0,
        seed=seed,
        max_body=max_body,
        max_connections=max_connections,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    server = threading.Thread(target=collector.serve, name="collect", daemon=True)
    server.start()
    click.echo(f"collect: listening on http://{collector.address}/, writing {out}", err=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        collector.shutdown()
        server.join()
        collector.close()
        for s_, h in old.items():
            signal.signal(s_, h)
    click.echo(collector.summary(), err=True)
