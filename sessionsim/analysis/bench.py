"""``sessionsim bench``: every stage side by side, each case in a fresh process.

Each figure is the median of ``reps`` timed repetitions after a warm-up, in events per wall
second and per CPU second, with the case process's peak RSS. Sessionizers all read the same
stream, written once by the parent.
"""

from __future__ import annotations

import importlib.util
import multiprocessing as mp
import os
import platform
import resource
import signal
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from sessionizer import ColumnOutputs, SessionConfig, outputs_of, read_events, resolve
from sessionsim.batches import event_batches
from sessionsim.bundled import scenario_path
from sessionsim.extras import figure_format, need
from sessionsim.pipeline import check_run_dir
from sessionsim.scenario import RunScenario, SessionizerSpec
from simulator import (
    Ledger,
    NullSink,
    Simulation,
    SimulatorError,
    die_with_parent,
    load_scenario,
    simulate_sharded,
    simulate_to_dir,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["run_bench"]

BASELINE = scenario_path("baseline")
# (key in the results, sessionizer, its options, inputs, events at most: None = all)
SESSIONIZERS: tuple[tuple[str, str, dict, tuple[str, ...], int | None], ...] = (
    ("reference", "reference", {}, ("records", "jsonl", "parquet"), None),
    ("vectorized", "vectorized", {}, ("records", "columns", "jsonl", "parquet"), None),
    ("bytewax", "bytewax", {"workers": 1}, ("records", "jsonl"), None),
    ("bytewax_2_workers", "bytewax", {"workers": 2}, ("records",), None),
    ("duckdb", "duckdb", {"threads": 1}, ("records", "columns", "jsonl", "parquet"), None),
    # Its windows copy themselves at each epoch: a prefix it can finish.
    ("bytewax_window", "bytewax-window", {}, ("records",), 100_000),
)
ENGINES = {"bytewax": "bytewax", "bytewax-window": "bytewax", "duckdb": "duckdb"}
CONFIG = SessionConfig(gap_ms=30 * 60_000, lateness_ms=120_000)
# Cases that cannot run here: reported as missing, with the reason, rather than left out.
MISSING: dict[str, str] = {}


def _peak_rss_mb() -> float:
    """The case's peak RSS: its own, or its largest shard process's."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (shard processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _scenario(users: int, scaled: bool = False) -> RunScenario:
    """The baseline at ``users`` users for one day, on its 8 backend replicas; ``scaled``
    gives each replica a server per 250,000 users (so that a large population does not
    just saturate the baseline's 8 servers)."""
    overrides: dict = {"population.users": users, "duration": "1d"}
    if scaled:
        overrides["backend.servers"] = max(1, -(-users // 250_000))
    return load_scenario(BASELINE, overrides, RunScenario)


def _timed(work: Callable[[], int], reps: int) -> dict:
    """Warm up once, then time ``reps`` runs of ``work`` (which returns its event count)."""
    work()
    walls, cpus, events = [], [], 0
    for _ in range(reps):
        w, c = time.perf_counter(), _cpu_s()
        events = work()
        walls.append(time.perf_counter() - w)
        cpus.append(_cpu_s() - c)
    wall, cpu = statistics.median(walls), max(statistics.median(cpus), 1e-3)  # 10 ms ticks
    return {
        "events": events,
        "seconds": wall,
        "cpu_seconds": cpu,
        "events_per_s": events / wall,
        "events_per_cpu_s": events / cpu,
    }


def _sim_null(users: int, reps: int, _stream: Path | None, scaled: bool = False) -> dict:
    """The simulator into a null sink (``scaled``: the backend sized for the users)."""
    sc = _scenario(users, scaled)

    def work() -> int:
        sim = Simulation(sc)
        return sim.run(NullSink(), Ledger(sim.codec)).events

    return _timed(work, reps)


def _sim_files(fmt: str) -> Callable:
    def case(users: int, reps: int, _stream: Path | None) -> dict:
        sc = _scenario(users)

        def work() -> int:
            with tempfile.TemporaryDirectory() as d:
                return simulate_to_dir(sc, Path(d), fmt=fmt).events

        return _timed(work, reps)

    return case


def _sim_processes(processes: int) -> Callable:
    def case(users: int, reps: int, _stream: Path | None) -> dict:
        sc = _scenario(users)

        def work() -> int:
            with tempfile.TemporaryDirectory() as d:
                if processes == 1:
                    return simulate_to_dir(sc, Path(d)).events
                return simulate_sharded(sc, Path(d), processes).events

        return _timed(work, reps)

    return case


def _live(sink: str) -> Callable:
    """A live run, unpaced, into ``sink``: ``stdout`` (to /dev/null), ``file``,
    ``kafka_mock`` (librdkafka's in-process mock cluster) or ``http`` (into ``sessionsim
    collect`` in another process); events are those the sink acknowledged."""

    def case(users: int, reps: int, _stream: Path | None) -> dict:
        from sessionsim.live.collect import Collector
        from sessionsim.live.run import run_live

        sc = _scenario(users)
        with tempfile.TemporaryDirectory() as d:
            collector = None
            if sink == "http":
                collector = Collector(("127.0.0.1", 0), Path(d) / "collected.jsonl")
                server = os.fork()
                if server == 0:  # the collector's own process, on the socket bound above
                    try:
                        collector.serve()
                    finally:
                        os._exit(0)
                collector.server.socket.close()
            url = {
                "stdout": "stdout",
                "file": f"file:{d}/live.jsonl",
                "kafka_mock": "kafka://mock/events",
                "http": f"http://{collector.address}/events" if collector else "",
            }[sink]
            devnull = os.open(os.devnull, os.O_WRONLY)
            if sink == "stdout":
                os.dup2(devnull, 1)  # this case's own process: its stdout is the sink
            runs = iter(range(reps + 1))

            def work() -> int:
                out = Path(d) / f"run{next(runs)}"
                stderr = os.dup(2)
                os.dup2(devnull, 2)  # the live stats line: not part of the table
                try:
                    return run_live(sc, out, url).summary.live.acknowledged
                finally:
                    os.dup2(stderr, 2)
                    os.close(stderr)

            try:
                return _timed(work, reps)
            finally:
                os.close(devnull)
                if collector is not None:
                    os.kill(server, signal.SIGTERM)
                    os.waitpid(server, 0)

    return case


def _limit(fmt: str) -> Callable:
    """The writer alone on the bench stream's events: orjson writing the parsed rows as JSON
    lines, or pyarrow writing the Arrow table as Parquet (zstd), into a file."""

    def case(_users: int, reps: int, stream: Path | None) -> dict:
        assert stream is not None  # limits are measured on the bench stream
        with tempfile.TemporaryDirectory() as d:
            target = Path(d) / f"out.{fmt}"
            if fmt == "parquet":
                import pyarrow.parquet as pq

                table = pq.read_table(_input(stream, "parquet"))

                def work() -> int:
                    pq.write_table(table, target, compression="zstd")
                    return table.num_rows

            else:
                with open(stream, "rb") as f:
                    rows = [orjson.loads(line) for line in f]

                def work() -> int:
                    dumps, nl = orjson.dumps, orjson.OPT_APPEND_NEWLINE
                    with open(target, "wb") as f:
                        f.write(b"".join(dumps(row, option=nl) for row in rows))
                    return len(rows)

            return _timed(work, reps)

    return case


def _sim_naive(users: int, reps: int, _stream: Path | None) -> dict:
    from simulator import simulate_naive

    sc = _scenario(users)
    sim = Simulation(sc)  # the same population and vocabulary, built the same way
    return _timed(lambda: simulate_naive(sc, sim.population, sim.vocabulary), reps)


def _sessionizer_records(name: str, options: dict, limit: int | None) -> Callable:
    def case(users: int, reps: int, stream: Path | None) -> dict:
        assert stream is not None  # sessionizer cases are given the stream
        with open(stream, "rb") as f:
            events = list(read_events(f, str(stream)))[:limit]  # parsed once, not timed
        factory = resolve(name)

        def work() -> int:
            for _ in outputs_of(factory(CONFIG, **options), events):
                pass
            return len(events)

        return _timed(work, reps)

    return case


def _input(stream: Path, source: str) -> str:
    """The events file of the bench's stream in ``source`` format (``jsonl``, ``parquet``)."""
    return str(stream if source == "jsonl" else stream.parent / "parquet" / "events.parquet")


def _drained(sessionizer: object, batches: Iterable[pa.RecordBatch]) -> int:
    """Run ``sessionizer`` over event batches to the end; return how many events it read."""
    emitted = ColumnOutputs.of(sessionizer, batches)
    for _ in emitted:
        pass
    return emitted.read()


def _sessionizer_columns(name: str, options: dict) -> Callable:
    """A sessionizer on event batches in memory (read once, not timed)."""

    def case(users: int, reps: int, stream: Path | None) -> dict:
        assert stream is not None  # sessionizer cases are given the stream
        factory = resolve(name)
        with event_batches(_input(stream, "parquet"), "") as batches:
            given = list(batches)

        def work() -> int:
            return _drained(factory(CONFIG, **options), given)

        return _timed(work, reps)

    return case


def _sessionizer_file(name: str, options: dict, source: str) -> Callable:
    def case(users: int, reps: int, stream: Path | None) -> dict:
        assert stream is not None  # sessionizer cases are given the stream
        factory = resolve(name)
        path = _input(stream, source)

        with event_batches(path, "") as batches:  # not timed: the size of the stream
            given = sum(b.num_rows for b in batches)

        def work() -> int:
            sz = factory(CONFIG, **options)
            if hasattr(sz, "sessionize_file"):  # an engine that reads the file itself
                for _ in sz.sessionize_file(path):
                    pass
                return given
            with event_batches(path, "") as batches:
                return _drained(sz, batches)

        return _timed(work, reps)

    return case


def _check(source: str) -> Callable:
    """``check`` of the stream's run directory, end to end in process: the truth read, the
    events read and sessionized (vectorized), every session scored (no realism)."""

    def case(users: int, reps: int, stream: Path | None) -> dict:
        assert stream is not None
        run_dir = Path(_input(stream, source)).parent
        spec = SessionizerSpec.model_validate(
            {"sessionizer": "vectorized", "gap": "30m", "lateness": "2m"}
        )

        def work() -> int:
            return check_run_dir(run_dir, spec).events or 0

        return _timed(work, reps)

    return case


def _streams(users: int, _reps: int, stream: Path) -> dict:
    """Write the sessionizers' stream as ``stream`` (JSON lines) and beside it as Parquet."""
    sc = _scenario(users)
    summary = simulate_to_dir(sc, stream.parent)
    simulate_to_dir(sc, stream.parent / "parquet", fmt="parquet")
    return {"events": summary.events}


def _child(case: Callable[..., dict], args: tuple, conn: Any, parent: int) -> None:
    die_with_parent(parent)  # a stop is the parent's: it ends this case at once
    try:
        result = case(*args)
    except SimulatorError as e:  # bad input (e.g. no scenario file here): report, no traceback
        conn.send(e)
        return
    result["peak_rss_mb"] = _peak_rss_mb()
    conn.send(result)


def _isolated(case: Callable[..., dict], *args: object) -> dict:
    """Run ``case`` in a forked process so its peak RSS is its own."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(case, args, child, os.getpid()))
    proc.start()
    child.close()  # so that a crashed child ends recv() instead of hanging it
    try:
        result = parent.recv()
    except EOFError:
        raise RuntimeError(f"benchmark case {case.__qualname__} crashed (see above)") from None
    except BaseException:  # a stop (Ctrl-C, SIGTERM): the running case ends now
        proc.kill()
        raise
    finally:
        proc.join()
    if isinstance(result, SimulatorError):
        raise result
    return result


def _row(key: str, r: dict) -> str:
    return (
        f"{key:<40}{r['events']:>12,}{r['seconds']:>9.2f}{r['events_per_s']:>12,.0f}"
        f"{r['events_per_cpu_s']:>14,.0f}{r['peak_rss_mb']:>8.0f} MB"
    )


def run_bench(
    quick: bool,
    json_path: Path | None = None,
    plot_path: Path | None = None,
    sizes: tuple[int, int, list[int]] | None = None,
) -> dict:
    """Run every case, print a table, write the JSON and the plot; return the results.

    ``sizes`` (users, repetitions, scaling users) replaces the quick or full sizes.
    """
    # Quick: two full cohorts of users (4,096 each).
    users, reps, scaling_users = sizes or (
        (8192, 1, [2000, 10_000]) if quick else (50_000, 3, [10_000, 100_000, 1_000_000])
    )
    results: dict = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": mp.cpu_count(),
        },
        "users": users,
        "repetitions": reps,
        "simulator": {},
        "live": {},
        "limits": {},
        "sessionizers": {},
        "check": {},
        "missing": MISSING,
    }
    runs = f"median of {reps} runs" if reps > 1 else "one run"
    click.echo(f"baseline scenario, {users:,} users, 1 simulated day, {runs} after a warm-up")
    click.echo(
        f"{'case':<40}{'events':>12}{'wall s':>9}{'events/s':>12}{'events/CPU-s':>14}"
        f"{'peak RSS':>11}"
    )
    simulators = (
        ("null", _sim_null),
        ("jsonl", _sim_files("jsonl")),
        ("parquet", _sim_files("parquet")),
        ("processes_1", _sim_processes(1)),
        ("processes_2", _sim_processes(2)),
        ("naive_simpy", _sim_naive),
    )
    for key, case in simulators:
        r = results["simulator"][key] = _isolated(case, users, reps, None)
        click.echo(_row(f"simulator.{key}", r))
    for sink in ("stdout", "file", "kafka_mock", "http"):
        r = results["live"][sink] = _isolated(_live(sink), users, reps, None)
        click.echo(_row(f"live.{sink}", r))
    with tempfile.TemporaryDirectory() as d:
        stream = Path(d) / "jsonl" / "events.jsonl"
        _isolated(_streams, users, reps, stream)  # in a child: this process stays small
        for fmt in ("jsonl", "parquet"):
            r = results["limits"][f"{fmt}_writer"] = _isolated(_limit(fmt), users, reps, stream)
            click.echo(_row(f"limits.{fmt}_writer", r))
        for key, name, options, inputs, limit in SESSIONIZERS:
            if name in ENGINES and importlib.util.find_spec(ENGINES[name]) is None:
                MISSING[f"sessionizers.{key}"] = "pip install 'sessionsim[engines]'"
                continue
            by_input = results["sessionizers"][key] = {}
            for source in inputs:
                if source == "records":
                    case = _sessionizer_records(name, options, limit)
                elif source == "columns":
                    case = _sessionizer_columns(name, options)
                else:
                    case = _sessionizer_file(name, options, source)
                r = by_input[source] = _isolated(case, users, reps, stream)
                click.echo(_row(f"sessionizers.{key}.{source}", r))
        for source in ("parquet", "jsonl"):
            r = results["check"][source] = _isolated(_check(source), users, reps, stream)
            click.echo(_row(f"check.{source}", r))
    sim = results["simulator"]
    ratio = sim["null"]["events_per_cpu_s"] / sim["naive_simpy"]["events_per_cpu_s"]
    results["simulator_over_naive"] = ratio
    click.echo(f"simulator / naive SimPy yardstick, same run (per CPU-s): {ratio:.1f}x")
    speedup = sim["processes_2"]["events_per_s"] / sim["processes_1"]["events_per_s"]
    results["processes_2_over_1"] = speedup
    click.echo(f"2 processes / 1 (JSONL, wall), same run: {speedup:.2f}x")
    results["scaling"] = []
    for n in scaling_users:
        r = _isolated(_sim_null, n, 1, None, True)
        results["scaling"].append(
            {k: r[k] for k in ("events", "events_per_s", "peak_rss_mb")} | {"users": n}
        )
        click.echo(_row(f"scaling: simulator.null, {n:,} users", r))
    for key, why in MISSING.items():
        click.echo(f"{key:<40}not measured: {why}")
    if json_path is not None:
        json_path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
        click.echo(f"written to {json_path}")
    if plot_path is not None:
        plot_path.write_bytes(plot_bench(results, figure_format(plot_path, "--plot")))
        click.echo(f"plot written to {plot_path}")
    return results


def plot_bench(results: dict, fmt: str = "png") -> bytes:
    """Return the figure: what produces events (the simulator into files, the live sinks,
    the writers' own limits) and what consumes them (each sessionizer by input, the check),
    each on its own axis and coloured by kind with a legend; and the simulator's scaling
    (events/s and peak RSS, one legend for both axes)."""
    import io

    matplotlib = need("matplotlib", "plot", "the benchmark figure (--plot)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    producing = [
        *(("simulator into", f"simulator.{k}", v) for k, v in results["simulator"].items()),
        *(("live sink", f"live.{k}", v) for k, v in results.get("live", {}).items()),
        *(("writer alone (limit)", f"limits.{k}", v) for k, v in results["limits"].items()),
    ]
    consuming = [
        (f"reads {src}", f"{name}.{src}", v)
        for name, by_input in results["sessionizers"].items()
        for src, v in by_input.items()
    ]
    consuming += [("check (read, sessionize, score)", f"check.{src}", v)
                  for src, v in results.get("check", {}).items()]  # fmt: skip
    fig, (a, b, c) = plt.subplots(
        1, 3, figsize=(19, 7), gridspec_kw={"width_ratios": [1, 1, 0.8]}, constrained_layout=True
    )
    for ax, cases, title in (
        (a, producing, "producing events"),
        (b, consuming, "consuming events"),
    ):
        kinds = list(dict.fromkeys(kind for kind, _, _ in cases))
        colour = {k: f"C{i}" for i, k in enumerate(kinds)}
        ax.barh(
            [name for _, name, _ in cases],
            [v["events_per_s"] for _, _, v in cases],
            color=[colour[kind] for kind, _, _ in cases],
        )
        ax.set(xscale="log", xlabel="events per wall second (log)", title=title)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        handles = [plt.Rectangle((0, 0), 1, 1, color=colour[k]) for k in kinds]
        ax.legend(
            handles, kinds, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=9
        )
    scale = results["scaling"]
    users = [s["users"] for s in scale]
    (rate,) = c.plot(users, [s["events_per_s"] for s in scale], "o-", color="C0")
    c.set(xscale="log", xlabel="users (one simulated day)", ylabel="events/s (null sink)")
    c2 = c.twinx()
    (rss,) = c2.plot(users, [s["peak_rss_mb"] for s in scale], "s--", color="C1")
    c2.set_ylabel("peak RSS (MB)")
    c.set_ylim(bottom=0)
    c2.set_ylim(bottom=0)
    c.set_title("simulator scaling")
    c.legend(
        [rate, rss],
        ["events/s (left)", "peak RSS, MB (right)"],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.09),
        ncol=2,
        fontsize=9,
    )
    fig.suptitle(
        f"sessionsim bench: baseline, {results['users']:,} users, one simulated day, "
        f"{results['repetitions']} run(s) per case; {results['machine']['cpus']} CPUs"
    )
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=90)
    plt.close(fig)
    return buf.getvalue()
