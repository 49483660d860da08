"""Wiring: simulator tuples to sessionizer events, the check of a run directory, and ``run``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from sessionizer import ColumnOutputs, Counts, Event
from sessionsim.batches import event_batches
from sessionsim.errors import SessionsimError
from sessionsim.realism.metrics import realism_block
from sessionsim.rundir import run_file
from sessionsim.scenario import RunScenario, SessionizerSpec
from sessionsim.scoring.check import build_report, read_sessions, score_outputs, settings_of
from sessionsim.scoring.latency import Latency
from sessionsim.scoring.report import RealismVerdict, Report
from sessionsim.scoring.scorer import Scorer
from sessionsim.scoring.truth import Truth, load_truth
from simulator import Ledger, OutputSet, Simulation, simulate_sharded, simulate_to_dir

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["check_run_dir", "run_scenario", "sim_event_batches", "sim_events"]


def sim_events(sim: Simulation, ledger: Ledger) -> Iterator[Event]:
    """Yield the simulation's delivered events as sessionizer events, in arrival order.

    The fields equal what parsing ``events.jsonl`` gives (ts floored to the millisecond).
    """
    for batch in sim_event_batches(sim, ledger):
        yield from batch


def sim_event_batches(sim: Simulation, ledger: Ledger) -> Iterator[list[Event]]:
    """:func:`sim_events`, one list per simulator tick (possibly empty)."""
    records = sim.codec.records
    for batch in sim.batches(ledger):
        yield records(batch, Event)


def check_run_dir(
    run_dir: Path,
    spec: SessionizerSpec,
    sessions_file: Path | None = None,
    bucket_ms: int = 3_600_000,
    outputs: OutputSet | None = None,
    suffix: str = "",
    truth: Truth | None = None,
    latency: Latency | None = None,
) -> Report:
    """Sessionize ``run_dir``'s events with ``spec`` (or read ``sessions_file``, made by any
    engine) and score them against ``run_dir/truth``; return the report (without realism).

    With ``outputs``, the sessions and late events are written there, suffixed. ``truth``:
    what :func:`load_truth` returned for this run, when the caller has it already.
    ``latency`` watches what the sessionizer reads and emits (the sweep's emission delay):
    batch by batch for a sessionizer on columns, record by record for any other.
    """
    truth = truth or load_truth(run_dir)
    summary = truth.summary
    # What was delivered is the truth's (each event's deliveries): the event file is
    # counted against it, not joined to it.
    scorer = Scorer(truth.index, truth.expected, truth.delivered)
    lines = [0]

    def counted(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            lines[0] += b.num_rows
            yield b

    events_path = run_file(run_dir, "events")
    counts: Counts | None
    with event_batches(str(events_path), "checking") as batches:
        stream = counted(batches)
        if sessions_file is not None:
            # Made elsewhere: its settings and counts are unknown here.
            settings = {
                **dict.fromkeys(settings_of(spec)),
                "sessionizer": "file",
                "label": str(sessions_file),
            }
            measured, counts = read_sessions(sessions_file, scorer), None
            report = build_report(summary, measured, scorer.score(), counts, settings)
        else:
            sessionizer = spec.build()
            sessions_out = late_out = None
            if outputs is not None:
                sessions_out = outputs.open(f"sessions{suffix}.jsonl")
                late_out = outputs.open(f"sessions{suffix}.late.jsonl")
            emitted = _emitted(sessionizer, stream, events_path, lines, latency)
            watched: Iterable = emitted
            if latency is not None and hasattr(sessionizer, "sessionize_columns"):
                watched = latency.watch_columns(emitted)
            totals = score_outputs(
                watched, spec.config(), scorer, sessions_out, late_out, bucket_ms
            )
            counts = emitted.counts
            report = build_report(
                summary, totals.summary(), scorer.score(), counts, settings_of(spec)
            )
        # What was not read (beside a sessions file, or by a sessionizer that stopped
        # early) is still counted against the truth.
        for _ in stream:
            pass
    if lines[0] != summary.get("events", lines[0]):
        raise SessionsimError(
            f"{events_path}: {lines[0]:,} events where truth/summary.json says "
            f"{summary['events']:,}: the files are not of one run"
        )
    if counts is not None and counts.duplicates < 0:
        raise SessionsimError(
            f"sessionizer {spec.sessionizer!r}: emitted {counts.accepted + counts.late:,} "
            f"events in sessions and late of the {lines[0]:,} it read: it emitted events twice"
        )
    read = None if counts is None else counts.accepted + counts.late + counts.duplicates
    if read is not None and read != lines[0]:
        raise SessionsimError(
            f"sessionizer {spec.sessionizer!r}: read {read:,} of the {lines[0]:,} events it "
            "was given"
        )
    return report


def _emitted(
    sessionizer: object,
    stream: Iterable,
    events_path: Path,
    lines: list[int],
    latency: Latency | None,
) -> ColumnOutputs:
    """What ``sessionizer`` emits for the run's events, as columns. An engine that reads the
    file itself is given the path (the stream is then only counted, into ``lines``); with
    ``latency``, what it reads is watched (batch by batch on columns, else record by
    record)."""
    if hasattr(sessionizer, "sessionize_file"):
        for _ in stream:
            pass
        return ColumnOutputs(sessionizer.sessionize_file(events_path), lambda: lines[0])
    if latency is None:
        return ColumnOutputs.of(sessionizer, stream)
    if hasattr(sessionizer, "sessionize_columns"):
        return ColumnOutputs.of(sessionizer, latency.feed_batches(stream))
    return ColumnOutputs.of(sessionizer, stream, latency.feed, latency.watch)


def run_scenario(
    scenario: RunScenario,
    out: Path | None,
    progress_for: Callable[[str], AbstractContextManager] | None = None,
    realism: bool = True,
    processes: int = 1,
) -> list[Report]:
    """Check every sessionizer setting of ``scenario``; return their reports.

    The stream is simulated once, into ``out`` (JSON lines) or a temporary directory
    (Parquet), in shards when ``processes`` > 1 (as many as the backend has replicas, at
    most ``processes``); the truth is read once and each setting is sessionized from the
    files. Engines that take ``processes`` (Bytewax) run on that many. The reports are the
    same whatever the processes or the format. With ``out``, each setting's sessions, late
    events and report (with the run's realism block) are written there too (suffixed with
    the setting's label when there are several).
    """
    if processes > 1:  # engines that run on processes (Bytewax) get them too
        scenario = scenario.model_copy(
            update={"sessionizers": [_with_processes(s, processes) for s in scenario.sessionizers]}
        )
    for spec in scenario.sessionizers:  # a bad name, plugin or option fails before simulating
        spec.build()
    processes = min(processes, scenario.backend.replicas)  # the simulator's shards
    if out is None:
        with tempfile.TemporaryDirectory(prefix="sessionsim-run-") as tmp:
            return _run_files(scenario, Path(tmp), progress_for, False, processes, "parquet")
    return _run_files(scenario, out, progress_for, realism, processes, "jsonl")


def _with_processes(spec: SessionizerSpec, processes: int) -> SessionizerSpec:
    if "processes" in spec.options or not spec.takes("processes"):
        return spec
    return spec.model_copy(update={"options": {**spec.options, "processes": processes}})


def _suffix(specs: list[SessionizerSpec], spec: SessionizerSpec) -> str:
    return "" if len(specs) == 1 else f".{spec.name}"


def _run_files(
    scenario: RunScenario,
    out: Path,
    progress_for: Callable[[str], AbstractContextManager] | None,
    realism: bool,
    processes: int,
    fmt: str,
) -> list[Report]:
    """Simulate into ``out`` once, then check each setting from the files."""
    specs = scenario.sessionizers
    with ExitStack() as stack:
        tick = stack.enter_context(progress_for("simulate")) if progress_for else None
        if processes > 1:
            simulate_sharded(scenario, out, processes, tick, fmt)
        else:
            simulate_to_dir(scenario, out, tick, fmt)
    truth = load_truth(out)
    reports = []
    for spec in specs:
        with OutputSet(out) as outputs:
            suffix = _suffix(specs, spec)
            reports.append(check_run_dir(out, spec, outputs=outputs, suffix=suffix, truth=truth))
    return _write_reports(scenario, out, reports, realism)


def _write_reports(
    scenario: RunScenario, out: Path, reports: list[Report], realism: bool
) -> list[Report]:
    """Write each setting's report (with the run's realism block) once the files are whole;
    return them as written."""
    specs = scenario.sessionizers
    if realism:
        reports = with_realism(reports, out)
    with OutputSet(out) as outputs:
        for spec, report in zip(specs, reports):
            outputs.open(f"report{_suffix(specs, spec)}.json").write(report.encode())
    return reports


def with_realism(reports: list[Report], run_dir: Path) -> list[Report]:
    """The reports, each with the realism block of ``run_dir`` (measured once)."""
    block = {k: RealismVerdict(**v) for k, v in realism_block(run_dir).items()}
    return [msgspec.structs.replace(r, realism=block) for r in reports]
