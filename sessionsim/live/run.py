"""A live run: stream the simulation to a sink, paced, watched, stoppable at any time.

The simulation runs as usual and writes its truth; the sink (``live_sinks``) reports which
event copies were acknowledged. At the end the run directory holds exactly what the sink
acknowledged: ``events.jsonl`` lists those copies, and in ``truth/events.jsonl`` an event
counts the copies acknowledged as its deliveries (none: undelivered, so ``check`` scores a
pipeline against what it actually received). The summary's observable figures are
recomputed on that basis, and ``live`` in the summary says what happened.

A stop (SIGINT, SIGTERM, ``--stop-after``, or a sink that gave up) ends the run at once:
no visit starts after it, the visits in progress are simulated to their end without
sending anything more, and everything not acknowledged is marked undelivered.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson

from sessionsim.errors import SessionsimError
from sessionsim.live.pacing import Pacer
from sessionsim.live.records import Latency, LiveBlock, LiveSummary
from sessionsim.live.sinks import Outgoing, Tally, open_sink
from sessionsim.live.stats import LiveStats
from simulator import (
    AtomicFile,
    EventCodec,
    JsonlRows,
    Ledger,
    OutputSet,
    Scenario,
    Simulation,
    Summary,
    estimate,
    prepare_dir,
    write_summary,
)

__all__ = ["LiveResult", "run_live", "users_for_rate"]

SINK_TIMEOUT_S = 30.0  # default: a request or delivery report, and the flush at the end
_LIVE_STREAM = 0x4C495645  # "LIVE": the seed stream of the sink's jitter


@dataclass
class LiveResult:
    """What a live run did: its summary (``live`` in it says why it stopped), the final
    line of its statistics, and the signal or the sink failure that ended it, if any."""

    summary: LiveSummary
    line: str
    signal: int | None = None
    error: str | None = None
    lagged: float | None = None  # how far behind schedule the run was when --max-lag ended it


def users_for_rate(scenario: Scenario, rate: float, speed: float) -> int:
    """The population whose mean delivered event rate is ``rate`` events per wall second at
    ``speed`` (from a pilot run of the scenario, as ``simulate`` estimates its size)."""
    per_sim_s = estimate(scenario)["events"] / scenario.duration
    if per_sim_s <= 0:
        raise SessionsimError("--rate: the scenario makes no events: no population reaches it")
    return max(1, round(scenario.population.users * rate / (per_sim_s * speed)))


@contextmanager
def _stop_signals(stop: Callable[[int], None]) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into a request to stop cleanly (restored afterwards)."""
    handler = lambda signum, _frame: stop(signum)  # noqa: E731
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_live(
    scenario: Scenario,
    out: Path,
    sink_url: str,
    *,
    speed: float | None = None,
    stop_after_s: float | None = None,
    target: Callable[[float], float] | None = None,
    keyed: bool = False,
    stats_csv: Path | None = None,
    clock: Callable[[], float] = time.monotonic,
    timeout_s: float = SINK_TIMEOUT_S,
    max_lag_s: float | None = None,
    dashboard: tuple[str, int] | None = None,
    **sink_options: Any,
) -> LiveResult:
    """Simulate ``scenario`` into ``sink_url``, paced at ``speed`` (None: as fast as the
    sink takes it); write the truth of what was acknowledged to ``out``. ``target`` gives
    the target rate at a wall time (for the live stats). ``timeout_s`` bounds a request or
    a delivery report and the flush at the end; after a stop, what is still in flight gets
    ``deadline.STOP_GRACE_S``. A paced run that falls more than ``max_lag_s`` behind its
    schedule stops (``LiveResult.lagged``: how far). The statistics of each second go to
    ``out/live_stats.csv``; with ``dashboard`` (host, port), a page of them is served there
    while the run goes. A failure to record what was
    acknowledged (a full disk) raises ``SessionsimError`` and leaves no file behind."""
    prepare_dir(out)
    sim = Simulation(scenario)
    codec = sim.codec
    rng = np.random.default_rng([scenario.seed, _LIVE_STREAM])
    requested: list[tuple[str, int | None]] = []
    stopping = threading.Event()  # wakes a paced wait at once

    def request(reason: str, signum: int | None = None) -> None:
        if not requested:
            requested.append((reason, signum))
        stopping.set()

    def request_stop(signum: int) -> None:
        request(signal.Signals(signum).name, signum)

    with OutputSet(out) as outputs:
        events_out = outputs.open("events.jsonl")
        tally = Tally(on_ack=lambda items: events_out.write(b"".join(it.line for it in items)))
        simulated = AtomicFile(out / "truth" / "events.sim.jsonl")  # rewritten at the end
        try:
            ledger = Ledger(
                codec,
                JsonlRows(outputs.open("truth/sessions.jsonl")),
                JsonlRows(outputs.open("truth/searches.jsonl")),
                JsonlRows(simulated),
            )
            sink = open_sink(
                sink_url,
                tally,
                rng,
                keyed=keyed,
                timeout_s=timeout_s,
                stopping=stopping,
                **sink_options,
            )
            unsent: Counter[str] = Counter()
            with (
                LiveStats(
                    tally,
                    clock,
                    target,
                    stats_csv,
                    max_lag_s,
                    lambda: request("--max-lag"),
                    outputs.open("live_stats.csv"),
                ) as stats,
                _served(dashboard, scenario, sink_url, tally, stats),
                _stop_signals(request_stop),
                _timer(stop_after_s, lambda: request("--stop-after")),
            ):

                def pause(s: float) -> None:
                    """Wait ``s`` seconds, reporting each second and letting the sink flush
                    on its timer (in steps of 0.1 s at most); a stop cuts it short."""
                    end = clock() + s
                    while not stopping.is_set() and (left := end - clock()) > 0:
                        stopping.wait(min(left, 0.1))
                        sink.poll()
                        stats.tick()

                def halted() -> bool:
                    return stopping.is_set() or tally.error is not None

                pacer = Pacer(speed, clock, pause) if speed else None
                stopped = False
                withheld = 0
                for batch in sim.batches(ledger):
                    n = len(batch["received"]) if batch else 0
                    done = 0  # events of the batch handed to the sink
                    if not stopped and n:
                        times = batch["received"].tolist()
                        spans = (
                            ((s[0], s[-1] + 1) for s in pacer.paced(range(n), times.__getitem__))
                            if pacer
                            else iter([(0, n)])
                        )
                        for lo, hi in spans:
                            if halted():
                                break
                            done = hi
                            items = _outgoing(codec, _rows(batch, lo, hi))
                            stats.scheduled(len(items), pacer.lag_s if pacer else 0.0)
                            sink.send(items)
                            sink.poll()
                            stats.tick()
                    if not stopped and halted():
                        stopped = True
                        sim.stop()  # the rest is simulated to its end, not sent
                    if done < n:
                        withheld += n - done  # copies never handed to the sink
                        rest = _rows(batch, done, n)
                        unsent.update(codec.event_id_strings(rest["user"], rest["seq"], rest["n"]))
                sink.close(timeout_s + 1.0)  # a last request gets its timeout; a stop cuts it
                stats.tick(force=True)
            _recorded(tally, out)
            line = stats.summary()
            for it, _reason in tally.unacked:
                unsent[it.event_id] += 1
            for finish in simulated.finishers:
                finish()
            simulated.file.flush()
            observable = _truth_events(
                simulated.partial, outputs.open("truth/events.jsonl"), unsent, sim.summary
            )
        finally:
            simulated.abort()  # the simulated truth events were only a draft
        summary = _live_summary(
            sim.summary, observable, tally, sink_url, speed, requested, withheld
        )
        write_summary(outputs, summary, scenario)
    return LiveResult(
        summary,
        line,
        signal=requested[0][1] if requested else None,
        error=tally.error,
        lagged=stats.lagged_s,
    )


@contextmanager
def _served(
    listen: tuple[str, int] | None,
    scenario: Scenario,
    sink_url: str,
    tally: Tally,
    stats: LiveStats,
) -> Iterator[None]:
    """Serve the dashboard on ``listen`` (when given) for the life of the block."""
    if listen is None:
        yield
        return
    from sessionsim.live.dashboard import Dashboard
    from sessionsim.live.timeline import live_page

    title = (
        f"sessionsim live: {scenario.population.users:,} users, seed {scenario.seed}, "
        f"into {sink_url}"
    )

    def page() -> bytes:
        live = {
            "sink": sink_url,
            "sent": tally.sent,
            "acknowledged": tally.acked,
            "retried": tally.retried,
            "failed": tally.failed,
            "ack_latency_ms": tally.ack_latency.summary(),
            "request_latency_ms": tally.request_latency.summary(),
            "failures_by_reason": tally.failures_by_reason(),
        }
        return live_page(title, live, stats.recent())

    with Dashboard(listen, page) as board:
        print(f"dashboard: {board.url} (updated each second)", file=sys.stderr, flush=True)
        yield


def _recorded(tally: Tally, out: Path) -> None:
    """Raise the one-line error of a failed write (exit 2, as any write that fails; the
    run's files are then removed) if what the sink acknowledged could not all be recorded."""
    if tally.write_error is not None:
        raise SessionsimError(f"{out}: {tally.write_error}")


@contextmanager
def _timer(after_s: float | None, then: Callable[[], None]) -> Iterator[None]:
    """Call ``then`` (from a timer thread) after ``after_s`` wall seconds, unless done."""
    if after_s is None:
        yield
        return
    timer = threading.Timer(after_s, then)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _rows(batch: dict, lo: int, hi: int) -> dict:
    """Rows ``lo:hi`` of a batch of arrivals (columns)."""
    return {k: v[lo:hi] for k, v in batch.items()}


def _outgoing(codec: EventCodec, part: dict) -> list[Outgoing]:
    """The arrivals as outgoing copies: id, copy, user key, arrival ms, JSON line."""
    ids, users, received_ms, lines = codec.lines(part)
    now = time.monotonic()  # handed to the sink now: its acknowledgement latency starts
    return [
        Outgoing(eid, copy, user, ms, line, now)
        for eid, copy, user, ms, line in zip(ids, part["copy"].tolist(), users, received_ms, lines)
    ]


def _truth_events(draft: Path, out: AtomicFile, unsent: Counter[str], summary: Summary) -> dict:
    """Write the truth's event rows of what was acknowledged; return its observable totals."""
    if unsent:
        return _rewrite_truth_events(draft, out, unsent)
    return _copy_truth_events(draft, out, summary)  # the simulated truth is the truth


def _copy_truth_events(draft: Path, out: AtomicFile, summary: Summary) -> dict:
    """Copy the truth's event rows as simulated (every copy was acknowledged); return the
    observable totals, the simulation's own."""
    with open(draft, "rb") as f:
        while block := f.read(1 << 20):
            out.write(block)
    return {
        "delivered": summary.delivered_events,
        "deliveries": summary.delivered_events + summary.duplicate_deliveries,
        "searches": summary.observable_searches,
        "clicked": summary.observable_clicked_searches,
        "clicks": summary.observable_clicks,
    }


def _rewrite_truth_events(draft: Path, out: AtomicFile, unsent: Counter[str]) -> dict:
    """Copy the truth's event rows, counting only acknowledged copies as deliveries; return
    the observable totals (docs/semantics.md section 4) of what was acknowledged."""
    totals: Counter[str] = Counter()
    visit: str | None = None
    owned: int | None = None  # clicks of the visit's current delivered search

    def close_visit() -> None:
        if owned:
            totals["clicked"] += 1

    buffer = bytearray()
    with open(draft, "rb") as f:
        for line in f:
            row = orjson.loads(line)
            if row["session_id"] != visit:
                close_visit()
                visit, owned = row["session_id"], None
            lost = unsent.pop(row["event_id"], 0)
            if lost:
                row["deliveries"] = max(0, row["deliveries"] - lost)
                if not row["deliveries"]:
                    row["received_at"] = row["delay_s"] = None
                    totals["unacknowledged"] += 1
            if row["deliveries"]:
                totals["delivered"] += 1
                totals["deliveries"] += row["deliveries"]
                if row["type"] == "search":
                    if owned:
                        totals["clicked"] += 1
                    totals["searches"] += 1
                    owned = 0
                elif row["type"] == "click" and owned is not None:
                    owned += 1
                    totals["clicks"] += 1
            buffer += orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
            if len(buffer) >= 1 << 20:
                out.write(buffer)
                buffer.clear()
    close_visit()
    out.write(buffer)
    return dict(totals)


def _live_summary(
    sim_summary: Summary,
    observable: dict,
    tally: Tally,
    sink_url: str,
    speed: float | None,
    requested: list[tuple[str, int | None]],
    withheld: int = 0,
) -> LiveSummary:
    """The live run's summary; ``unsent`` counts every copy simulated and never sent (held
    by the sink, or never handed to it), so sent + unsent = the simulated copies."""
    searches, clicked = observable.get("searches", 0), observable.get("clicked", 0)
    delivered = observable.get("delivered", 0)
    fields = msgspec.structs.asdict(sim_summary)
    fields.update(
        events=tally.acked,  # the lines of events.jsonl: what the sink acknowledged
        delivered_events=delivered,
        duplicate_deliveries=observable.get("deliveries", 0) - delivered,
        observable_searches=searches,
        observable_clicked_searches=clicked,
        observable_clicks=observable.get("clicks", 0),
        observable_ctr=clicked / searches if searches else None,
    )
    live = LiveBlock(
        sink=sink_url,
        speed=speed,
        simulated_events=sim_summary.events,
        sent=tally.sent,
        acknowledged=tally.acked,
        retried=tally.retried,
        failed=tally.failed,
        unsent=tally.unsent + withheld,
        unacknowledged_events=observable.get("unacknowledged", 0),
        stopped_by=requested[0][0] if requested else None,
        error=tally.error,
        ack_latency_ms=Latency(**tally.ack_latency.summary()),
        request_latency_ms=Latency(**tally.request_latency.summary()),
        failures_by_reason=tally.failures_by_reason(),
    )
    return LiveSummary(**fields, live=live)
