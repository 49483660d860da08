"""Run a scenario: schedule the visits in SimPy and stream events and truth into sinks."""

from __future__ import annotations

import gc
import itertools
import math
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import simpy

from simulator.arrivals import chunks, expected_visits, visit_arrivals
from simulator.backend import LatencyHistogram, SearchBackend
from simulator.clickmodels import click_model
from simulator.errors import SimulatorError
from simulator.events import EventCodec
from simulator.output import (
    AtomicFile,
    EventRows,
    EventSink,
    JsonlRows,
    NullSink,
    OutputSet,
    ParquetRows,
    RowWriter,
)
from simulator.plan import batch_of, draw_plan, keep_rows
from simulator.play import Kernel
from simulator.population import build_population
from simulator.query_plan import QueryHistory, Typed
from simulator.rundir import prepare_dir
from simulator.scenario import Scenario, resolved_yaml
from simulator.schemas import schema
from simulator.sdk import Sdk, arrival_keys
from simulator.streams import GROUP, VISITS, cohorts, replica_of, stream
from simulator.summary import Summary, encode_summary
from simulator.table import Events, size
from simulator.text import hex_bytes
from simulator.truth import Ledger, summarize
from simulator.vocabulary import build_vocabulary
from simulator.zones import offsets_at

__all__ = [
    "FORMATS",
    "TRUTH_FILES",
    "check_shards",
    "Simulation",
    "open_outputs",
    "simulate_null",
    "simulate_to_dir",
    "write_summary",
]

TICK_S = 60.0  # the shortest step of the run loop


def step_s(scenario: Scenario) -> float:
    """The run loop's step: a whole number of minutes, up to an hour, so that a step holds
    thousands of events (columns pay per batch, not per event). It depends only on the
    scenario's population, never on how the users are sharded."""
    return min(3600.0, TICK_S * max(1, 1_000_000 // scenario.population.users))


Progress = Callable[[float, int], None]


@contextmanager
def _rare_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while simulating.

    A run allocates millions of short-lived tuples and frames and makes few cycles; with the
    default thresholds, collections that scan every live visit cost a third of a
    million-user run (measured: 82k -> 128k events/s with a gen-0 threshold of 100,000).
    """
    old = gc.get_threshold()
    gc.set_threshold(100_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def check_shards(scenario: Scenario, shards: int) -> None:
    """A shard owns whole backend replicas: there can be no more shards than replicas."""
    replicas = scenario.backend.replicas
    if not 1 <= shards <= replicas:
        raise SimulatorError(
            f"--processes: expected 1 to backend.replicas ({replicas}) processes (got {shards});"
            " raise backend.replicas to shard further"
        )


class Simulation:
    """One scenario's world: population, vocabulary, click model, and the run loop."""

    def __init__(self, scenario: Scenario, shard: int = 0, shards: int = 1) -> None:
        """Simulate the whole population, or shard ``shard`` of ``shards``: the users whose
        backend replica (``streams.replica_of``) the shard owns."""
        check_shards(scenario, shards)
        self.scenario = scenario
        self.shard, self.shards = shard, shards
        self.population = build_population(scenario)
        self.vocabulary = build_vocabulary(scenario)
        self.model = click_model(scenario.clicks, self.vocabulary.page_size)
        self.history = QueryHistory(self.population.size)  # for re-finding across visits
        self.codec = EventCodec(scenario, self.population, self.vocabulary)
        self._summary: Summary | None = None
        self.state: dict = {}  # the run's integer totals, which add up across shards
        self._arrivals_by_hour: Counter[int] = Counter()  # NHPP intensity (micro-visits)
        self._stop = False

    @property
    def summary(self) -> Summary:
        """The run's summary, known once ``batches`` is exhausted (never a stale one)."""
        if self._summary is None:
            raise SimulatorError("the simulation's summary is known once its run has ended")
        return self._summary

    def stop(self) -> None:
        """End the run early, at the next tick: no visit starts after it, the visits in
        progress finish and their events are delivered (a live run marks them unsent)."""
        self._stop = True

    def _plan_chunk(self, j: int, chunk_start: float, length: float) -> list[tuple]:
        """Draw chunk ``j``'s arrivals and plans, cohort by cohort: a list of (plan, its
        arrivals' rows, their times) of this shard's users."""
        sc, pop = self.scenario, self.population
        hourly = np.asarray(sc.arrivals.hourly_weights)
        weekday = np.asarray(sc.arrivals.weekday_weights)
        begin = sc.start.timestamp() + chunk_start
        burst = 1.0
        for b in sc.arrivals.bursts:
            if b.at <= chunk_start + length / 2 < b.at + b.length:
                burst *= b.factor
        planned: list[tuple] = []
        replicas = sc.backend.replicas
        for c, members in enumerate(cohorts(pop.size)):
            users = np.arange(members.start, members.stop)
            own = replica_of(users, replicas) % self.shards == self.shard
            if not own.any():
                continue  # another shard's users
            sl = slice(members.start, members.stop)
            offsets = offsets_at(pop.zone[sl], pop.zones, begin + length / 2)  # DST too
            r0, r1 = expected_visits(
                pop.visits_per_day[sl], offsets, begin, length, hourly, weekday
            )
            # Only users who have installed the app and not yet left it arrive.
            mid = chunk_start + length / 2
            here = (pop.joined_s[sl] <= mid) & (mid < pop.left_s[sl])
            rates = (r0 * burst * here, r1 * burst * here)
            expected = (rates[0] + rates[1]) / 2.0 * length
            hour = int(chunk_start // 3600.0)
            for lo in range(0, len(users), GROUP):  # per replica group: shards' sums add up
                if own[lo]:
                    group = expected[lo : lo + GROUP]
                    self._arrivals_by_hour[hour] += round(group.sum() * 1e6)
            rng = stream(sc.seed, VISITS, c, j)
            idx, times = visit_arrivals(rng, rates, chunk_start, length)
            if len(idx):
                # The whole cohort's plan is drawn (the draws do not depend on sharding);
                # only this shard's users arrive.
                plan = draw_plan(
                    rng,
                    sc,
                    idx + members.start,
                    pop,
                    self.vocabulary,
                    self.model,
                    self.history,
                    sc.start.timestamp() + times,
                )
                mine = own[idx]
                rows = plan["primary"][mine]
                if not mine.all():  # keep only this shard's users' visits
                    plan, new_row = keep_rows(plan, own[plan["user"] - members.start])
                    rows = new_row[rows]
                if len(rows):
                    planned.append((plan, rows, times[mine]))
        return planned

    def batches(self, ledger: Ledger, progress: Progress | None = None) -> Iterator[Events]:
        """Simulate the whole scenario, yielding arrived events in arrival-ordered batches
        (columns: ``sdk.Events``).

        SimPy's clock runs the world step by step (``step_s``): a process plans each chunk
        of arrivals as its time comes; in each step the kernel plays everything due in it
        (the backend's queue, in time order), the SDKs deliver what was played, the ledger
        records the visits whose delivery is known, and what arrived is released. When
        the iterator is exhausted, ``summary`` holds the run's summary.
        """
        sc = self.scenario
        self._summary = None
        self._arrivals_by_hour = Counter()
        env = simpy.Environment()
        latency = LatencyHistogram()
        backends = [SearchBackend(sc.backend.servers, latency) for _ in range(sc.backend.replicas)]
        self.history = QueryHistory(self.population.size)  # this run's: what users typed
        kernel = Kernel(
            backends,
            self.population,
            sc.population.min_visit_gap,
            sc.duration,
            Typed(self.population.size),
        )
        step = step_s(sc)
        sdk = Sdk(sc, self.population, step)
        bids = itertools.count()

        def arrivals() -> Generator[simpy.Event, Any, None]:
            cuts = tuple(c for b in sc.arrivals.bursts for c in (b.at, b.at + b.length))
            for j, (chunk_start, length) in enumerate(
                chunks(sc.start.timestamp(), sc.duration, cuts)
            ):
                if chunk_start > env.now:
                    yield env.timeout(chunk_start - env.now)
                if self._stop:
                    return
                # A cohort's batch is kept until its last follow-up visit has played: one
                # batch per cohort, so that a long chain of returns keeps little.
                for plan, rows, times in self._plan_chunk(j, chunk_start, length):
                    arrivals = list(zip(rows.tolist(), times.tolist()))
                    kernel.add_batch(next(bids), batch_of(plan), arrivals)

        def record(visits: list[int]) -> None:
            if visits:
                ledger.visits(sdk.take_visits(visits), sdk.visits)
                for vid in visits:
                    del sdk.visits[vid]

        planner = env.process(arrivals())
        t = 0.0
        events = 0
        with _rare_collections():
            while planner.is_alive or kernel.busy or kernel.next_time() < math.inf:
                if self._stop and not kernel.closed:
                    kernel.stop()  # follow-up visits due later do not start
                t += step
                env.run(until=t)
                kernel.run_until(t)
                record(sdk.step(kernel))
                ledger.tick()
                batch = sdk.release(t)
                events += size(batch)
                yield batch
                if progress is not None:
                    progress(t, events)
        record(sdk.step(kernel))
        record(sdk.unsent())
        ledger.tick(final=True)
        batch = sdk.release(math.inf)
        events += size(batch)
        yield batch
        ledger.flush()
        latency.flush()
        self.state = {
            "ledger": ledger.totals,
            "events": events,
            "dropped_visits": kernel.dropped,
            "backend_served": sum(b.served for b in backends),
            "latency_counts": latency.counts,
            "arrivals_by_hour": self._arrivals_by_hour,
            "simulated_s": t,
        }
        self._summary = summary_of(self.state, sc)

    def run(self, sink: EventSink, ledger: Ledger, progress: Progress | None = None) -> Summary:
        """Simulate the whole scenario into ``sink``; return the summary."""
        for batch in self.batches(ledger, progress):
            if size(batch):
                sink.write(batch)
        return self.summary


def merge_states(states: list[dict]) -> dict:
    """Add up the integer totals of several shards' runs."""
    return {
        "ledger": sum((s["ledger"] for s in states), Counter()),
        "events": sum(s["events"] for s in states),
        "dropped_visits": sum(s["dropped_visits"] for s in states),
        "backend_served": sum(s["backend_served"] for s in states),
        "latency_counts": sum(s["latency_counts"] for s in states),
        "arrivals_by_hour": sum((s["arrivals_by_hour"] for s in states), Counter()),
        "simulated_s": max(s["simulated_s"] for s in states),
    }


def summary_of(state: dict, sc: Scenario) -> Summary:
    """Return a run's summary from its (or its shards' added) totals."""
    latency = LatencyHistogram.of(state["latency_counts"])
    return Summary(
        events=state["events"],
        **summarize(state["ledger"]),
        dropped_visits=state["dropped_visits"],
        backend_served=state["backend_served"],
        backend_latency_p50_s=latency.quantile(0.5),
        backend_latency_p99_s=latency.quantile(0.99),
        simulated_s=state["simulated_s"],
        expected_arrivals_by_hour=[
            round(state["arrivals_by_hour"][h] / 1e6, 3)
            for h in range(math.ceil(sc.duration / 3600.0))
        ],
    )


FORMATS = ("jsonl", "parquet")
TRUTH_FILES = ("truth/sessions", "truth/searches", "truth/events")


# Arrival times are >= 0: their big-endian IEEE bytes sort as the numbers do.
_EVENT_KEY = np.dtype([("received", ">f8"), ("key", ">u8")])


def event_keys(events: Events) -> np.ndarray:
    """Each event's merge key, (arrival time, user-visit-event-copy key), as 32
    hexadecimal digits and a tab: big-endian, so the digits sort as the values."""
    n = size(events)
    k = np.empty(n, dtype=_EVENT_KEY)
    k["received"] = events["received"]
    k["key"] = arrival_keys(events)
    return np.strings.add(hex_bytes(k.view(np.uint8).reshape(n, 16)), b"\t")


def open_outputs(
    outputs: OutputSet,
    sim: Simulation,
    fmt: str = "jsonl",
    keyed: bool = False,
) -> tuple[EventSink, Ledger]:
    """Open the simulator's files in ``outputs`` as JSON lines or Parquet: the event sink
    and the ledger; ``keyed``: every row with its merge key (a shard's files)."""

    def rows(name: str) -> tuple[RowWriter, AtomicFile]:
        out = outputs.open(f"{name}.{fmt}")
        return (ParquetRows(out, schema(name), keyed) if fmt == "parquet" else JsonlRows(out)), out

    s, q, e = (rows(name)[0] for name in TRUTH_FILES)
    writer, out = rows("events")
    events = EventRows(writer, out, sim.codec.columns, event_keys if keyed else None)
    return events, Ledger(sim.codec, s, q, e, keyed=keyed)


def write_summary(outputs: OutputSet, summary: msgspec.Struct, scenario: Scenario) -> None:
    """Write the truth summary (a ``Summary``, or a harness's extension of it) and the
    resolved scenario (after the run)."""
    outputs.open("truth/summary.json").write(encode_summary(summary))
    outputs.open("scenario.yaml").write(resolved_yaml(scenario).encode())


def simulate_to_dir(
    scenario: Scenario, out: Path, progress: Progress | None = None, fmt: str = "jsonl"
) -> Summary:
    """Simulate into ``out`` (events, truth, resolved scenario) as JSON lines or Parquet;
    every file appears whole."""
    prepare_dir(out)
    sim = Simulation(scenario)
    with OutputSet(out) as outputs:
        sink, ledger = open_outputs(outputs, sim, fmt)
        sim.run(sink, ledger, progress)
        write_summary(outputs, sim.summary, scenario)
    return sim.summary


def simulate_null(scenario: Scenario) -> Summary:
    """Simulate into a null sink and a count-only ledger (for benchmarks)."""
    sim = Simulation(scenario)
    return sim.run(NullSink(), Ledger(sim.codec))
