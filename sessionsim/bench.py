"""``sessionsim bench``: throughput and peak memory, each case in a fresh process."""

from __future__ import annotations

import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

import click

from sessionizer import GapSessionizer, SessionConfig
from sessionsim.pipeline import sim_events
from sessionsim.scenario import RunScenario
from simulator import Simulation, SimulatorError, load_scenario, simulate_to_dir
from simulator.sinks import NullSink
from simulator.truth import Ledger

__all__ = ["run_bench"]

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _simulate_null(overrides: dict) -> dict:
    sc = load_scenario(BASELINE, overrides, model=RunScenario)
    t0 = time.perf_counter()
    sim = Simulation(sc)
    t1 = time.perf_counter()
    summary = sim.run(NullSink(), Ledger(sim.codec))
    t2 = time.perf_counter()
    return {"events": summary["events"], "setup_s": t1 - t0, "seconds": t2 - t1}


def _simulate_files(overrides: dict) -> dict:
    sc = load_scenario(BASELINE, overrides, model=RunScenario)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        summary = simulate_to_dir(sc, Path(d))
        t1 = time.perf_counter()
    return {"events": summary["events"], "setup_s": 0.0, "seconds": t1 - t0}


def _simulate_naive(overrides: dict) -> dict:
    from sessionsim.naive import simulate_naive

    sc = load_scenario(BASELINE, overrides, model=RunScenario)
    t0 = time.perf_counter()
    sim = Simulation(sc)  # the same population and vocabulary, built the same way
    t1 = time.perf_counter()
    events = simulate_naive(sc, sim.population, sim.vocabulary)
    return {"events": events, "setup_s": t1 - t0, "seconds": time.perf_counter() - t1}


def _reference_sessionizer(overrides: dict) -> dict:
    """Sessionize the baseline stream held in memory (the simulation is not timed)."""
    sc = load_scenario(BASELINE, overrides, model=RunScenario)
    sim = Simulation(sc)
    events = list(sim_events(sim, Ledger(sim.codec)))
    config = SessionConfig(gap_ms=30 * 60_000, lateness_ms=10_000)
    t0 = time.perf_counter()
    sessions = sum(1 for _ in GapSessionizer(config).sessionize(events))
    t1 = time.perf_counter()
    return {"events": len(events), "setup_s": 0.0, "seconds": t1 - t0, "sessions": sessions}


def _child(case, overrides, conn) -> None:
    try:
        result = case(overrides)
    except SimulatorError as e:  # bad input (e.g. no scenario file here): report, no traceback
        conn.send(e)
        return
    result["peak_rss_mb"] = _peak_rss_mb()
    conn.send(result)


def _isolated(case, overrides: dict) -> dict:
    """Run ``case`` in a forked process so its peak RSS is its own."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(case, overrides, child))
    proc.start()
    child.close()  # so that a crashed child ends recv() instead of hanging it
    try:
        result = parent.recv()
    except EOFError:
        raise RuntimeError(f"benchmark case {case.__name__} crashed (see above)") from None
    finally:
        proc.join()
    if isinstance(result, SimulatorError):
        raise result
    return result


def run_bench(quick: bool) -> list[dict]:
    """Run the benchmark cases, print a table, return the rows."""
    users = 5000 if quick else 50_000
    overrides = {"population.users": users, "duration": "1d"}
    cases = [
        ("simulate -> null sink", _simulate_null),
        ("naive simulate (yardstick)", _simulate_naive),
        ("simulate -> JSONL files", _simulate_files),
        ("reference sessionizer", _reference_sessionizer),
    ]
    rows = []
    click.echo(f"baseline scenario, {users:,} users, 1 simulated day")
    click.echo(
        f"{'case':<28}{'events':>12}{'setup s':>10}{'run s':>9}{'events/s':>12}{'peak RSS':>11}"
    )
    for name, case in cases:
        r = _isolated(case, overrides)
        r["case"] = name
        r["events_per_s"] = r["events"] / r["seconds"]
        rows.append(r)
        click.echo(
            f"{name:<28}{r['events']:>12,}{r['setup_s']:>10.2f}{r['seconds']:>9.2f}"
            f"{r['events_per_s']:>12,.0f}{r['peak_rss_mb']:>8.0f} MB"
        )
    by_case = {r["case"]: r["events_per_s"] for r in rows}
    ratio = by_case["simulate -> null sink"] / by_case["naive simulate (yardstick)"]
    click.echo(f"simulate / naive yardstick, same run: {ratio:.1f}x")
    return rows
