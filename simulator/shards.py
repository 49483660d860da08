"""Process shards: the users of each backend replica simulated apart, the files merged exactly.

The only coupling between users is the search backend. With ``backend.replicas`` replicas
behind a sticky load balancer, the users of one replica never meet another's, so a shard
that owns whole replicas is an independent simulation drawing exactly what the whole run
draws for its users (every draw is per cohort). Each shard writes its files with a merge
key before every line, (arrival time, user, visit, event, copy) for events and (tick, user,
visit, row) for the truth, which is the order one process writes them in; merging the
shards' files by key gives the same bytes for any number of processes.
"""

from __future__ import annotations

import heapq
import multiprocessing as mp
import os
import shutil
import time
from pathlib import Path

import numpy as np

from simulator.engine import (
    TRUTH_FILES,
    Progress,
    Simulation,
    check_shards,
    merge_states,
    prepare_dir,
    summary_of,
    write_summary,
)
from simulator.orphans import die_with_parent
from simulator.scenario import Scenario
from simulator.sdk import Events, arrival_keys, size
from simulator.sinks import AtomicFile, EventRows, JsonlRows, OutputSet
from simulator.text import hex_bytes
from simulator.truth import Ledger

__all__ = ["simulate_sharded"]

# Arrival times are >= 0: their big-endian IEEE bytes sort as the numbers do.
_KEY = np.dtype([("received", ">f8"), ("key", ">u8")])


def _event_keys(events: Events) -> np.ndarray:
    """Each event's merge key, (arrival time, user-visit-event-copy key), as 32
    hexadecimal digits and a tab: big-endian, so the digits sort as the values."""
    n = size(events)
    k = np.empty(n, dtype=_KEY)
    k["received"] = events["received"]
    k["key"] = arrival_keys(events)
    return np.strings.add(hex_bytes(k.view(np.uint8).reshape(n, 16)), b"\t")


def _shard(
    scenario: Scenario, shard: int, shards: int, work: Path, clock, count, conn, parent: int
) -> None:
    """Simulate one shard into ``work/<shard>/``; send its totals (or its error) back."""
    die_with_parent(parent)
    try:
        sim = Simulation(scenario, shard, shards)
        root = work / str(shard)
        (root / "truth").mkdir(parents=True)
        with OutputSet(root) as outputs:
            out = outputs.open("events.jsonl")
            events = EventRows(JsonlRows(out), out, sim.codec.columns, _event_keys)
            s, q, e = (JsonlRows(outputs.open(f"{name}.jsonl")) for name in TRUTH_FILES)
            ledger = Ledger(sim.codec, s, q, e, keyed=True)

            def progress(sim_s: float, n: int) -> None:
                clock[shard], count[shard] = sim_s, n

            sim.run(events, ledger, progress)
        conn.send(sim.state)
    except BaseException as e:  # reported by the parent: a shard never fails silently
        conn.send(e if isinstance(e, Exception) else RuntimeError(f"shard {shard}: {e!r}"))
    finally:
        conn.close()


def _merge(parts: list[Path], out: AtomicFile) -> None:
    """Merge key-prefixed shard files into ``out`` in key order, dropping the keys."""
    files = [open(p, "rb") for p in parts]  # noqa: SIM115 (closed below)
    try:
        buf = bytearray()
        for line in heapq.merge(*files):
            buf += line[line.index(b"\t") + 1 :]
            if len(buf) >= 1 << 20:
                out.write(buf)
                buf.clear()
        out.write(buf)
    finally:
        for f in files:
            f.close()


def simulate_sharded(
    scenario: Scenario, out: Path, processes: int, progress: Progress | None = None
) -> dict:
    """Simulate ``scenario`` in ``processes`` shards and merge them into ``out`` (JSON
    lines); the files are byte-identical to one process's. Return the summary."""
    check_shards(scenario, processes)
    prepare_dir(out)
    work = out / f".shards-{time.time_ns()}"
    ctx = mp.get_context("fork")
    clock, count = ctx.Array("d", processes, lock=False), ctx.Array("q", processes, lock=False)
    procs, pipes = [], []
    try:
        for k in range(processes):
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_shard,
                args=(scenario, k, processes, work, clock, count, child, os.getpid()),
            )
            proc.start()
            child.close()
            procs.append(proc)
            pipes.append(parent)
        states: list = [None] * processes
        waiting = set(range(processes))
        while waiting:
            for k in [k for k in waiting if pipes[k].poll(0.2 / processes)]:
                try:
                    states[k] = pipes[k].recv()
                except EOFError:
                    states[k] = RuntimeError(f"shard {k} died (exit {procs[k].exitcode})")
                waiting.discard(k)
                if isinstance(states[k], BaseException):
                    for p in procs:
                        p.terminate()
                    raise states[k]
            if progress is not None:
                progress(min(clock), sum(count))
        for p in procs:
            p.join()
        summary = summary_of(merge_states(states), scenario)
        with OutputSet(out) as outputs:
            for name in ("events", *TRUTH_FILES):
                parts = [work / str(k) / f"{name}.jsonl" for k in range(processes)]
                _merge(parts, outputs.open(f"{name}.jsonl"))
            write_summary(outputs, summary, scenario)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        shutil.rmtree(work, ignore_errors=True)
    return summary
