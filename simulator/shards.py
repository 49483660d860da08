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
from typing import Any

import numpy as np

from simulator.engine import (
    TRUTH_FILES,
    Progress,
    Simulation,
    check_shards,
    merge_states,
    open_outputs,
    summary_of,
    write_summary,
)
from simulator.orphans import die_with_parent
from simulator.output import KEY, AtomicFile, OutputSet
from simulator.rundir import prepare_dir
from simulator.scenario import Scenario
from simulator.schemas import schema
from simulator.summary import Summary

__all__ = ["simulate_sharded"]


def _shard(
    scenario: Scenario,
    shard: int,
    shards: int,
    work: Path,
    fmt: str,
    clock: Any,
    count: Any,
    conn: Any,
    parent: int,
) -> None:
    """Simulate one shard into ``work/<shard>/``; send its totals (or its error) back."""
    die_with_parent(parent)
    try:
        sim = Simulation(scenario, shard, shards)
        root = work / str(shard)
        (root / "truth").mkdir(parents=True)
        with OutputSet(root) as outputs:
            events, ledger = open_outputs(outputs, sim, fmt, keyed=True)

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


def _merge_parquet(parts: list[Path], out: AtomicFile, name: str) -> None:
    """Merge key-sorted shard Parquet files into ``out`` in key order, without the keys.

    Streams a batch of rows from each shard at a time: rows up to the smallest last key
    read from a shard that has more are final; only the shard that sets that bound is
    read further."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    target = schema(name)
    writer = pq.ParquetWriter(out.file, target, compression="zstd")
    streams = [pq.ParquetFile(p).iter_batches(batch_size=65_536) for p in parts]
    last: dict[int, str] = {}  # shard -> the last key read from it, while it has more
    pool: list[pa.Table] = []

    def pull(k: int) -> None:
        for batch in streams[k]:
            if batch.num_rows:
                pool.append(pa.Table.from_batches([batch]))
                last[k] = batch.column(KEY)[-1].as_py()
                return
        last.pop(k, None)  # exhausted

    for k in range(len(streams)):
        pull(k)
    while pool:
        table = pa.concat_tables(pool)
        table = table.take(pc.sort_indices(table, [(KEY, "ascending")]))
        keys = table.column(KEY).to_numpy(zero_copy_only=False)
        bound = min(last.values()) if last else None
        n = len(keys) if bound is None else int(np.searchsorted(keys, bound, side="right"))
        writer.write_table(table.slice(0, n).drop_columns([KEY]).cast(target))
        pool = [table.slice(n)] if n < len(keys) else []
        for k in [k for k, key in last.items() if key == bound]:
            pull(k)
    writer.close()


def simulate_sharded(
    scenario: Scenario,
    out: Path,
    processes: int,
    progress: Progress | None = None,
    fmt: str = "jsonl",
) -> Summary:
    """Simulate ``scenario`` in ``processes`` shards and merge them into ``out`` as JSON
    lines (byte-identical to one process's files) or Parquet (the same rows, in the same
    order, as one process's). Return the summary."""
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
                args=(scenario, k, processes, work, fmt, clock, count, child, os.getpid()),
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
                parts = [work / str(k) / f"{name}.{fmt}" for k in range(processes)]
                if fmt == "parquet":
                    _merge_parquet(parts, outputs.open(f"{name}.parquet"), name)
                else:
                    _merge(parts, outputs.open(f"{name}.jsonl"))
            write_summary(outputs, summary, scenario)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        shutil.rmtree(work, ignore_errors=True)
    return summary
