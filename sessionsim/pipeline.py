"""In-process wiring: simulator tuples to sessionizer events, and the ``run`` job."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import orjson

from sessionizer import Event, Outputs
from sessionsim.check import build_report, score_stream, settings_of, tap
from sessionsim.errors import SessionsimError
from sessionsim.files import event_source, load_truth, new_scorer, read_sessions, run_file
from sessionsim.realism import realism_block
from sessionsim.scenario import RunScenario, SessionizerSpec
from sessionsim.scoring import Scorer
from simulator import (
    EventSink,
    Ledger,
    OutputSet,
    Simulation,
    open_outputs,
    prepare_dir,
    simulate_sharded,
    visit_label,
    write_summary,
)

__all__ = ["check_run_dir", "run_scenario", "sim_event_batches", "sim_events"]


def sim_events(
    sim: Simulation,
    ledger: Ledger,
    sink: EventSink | None = None,
    progress=None,
    scorer: Scorer | None = None,
) -> Iterator[Event]:
    """Yield the simulation's delivered events as sessionizer events, in arrival order.

    The fields equal what parsing ``events.jsonl`` gives (ts floored to the millisecond).
    With ``scorer``, each delivery is recorded with its true visit.
    """
    for batch in sim_event_batches(sim, ledger, sink, progress, scorer):
        yield from batch


def sim_event_batches(
    sim: Simulation,
    ledger: Ledger,
    sink: EventSink | None = None,
    progress=None,
    scorer: Scorer | None = None,
) -> Iterator[list[Event]]:
    """:func:`sim_events`, one list per simulator tick (possibly empty)."""
    records = sim.codec.records
    first = None
    if scorer is not None:
        deliver = scorer.deliver

        def first(event_id: str, user: int, visit: int) -> None:
            deliver(event_id, visit_label(user, visit))

    for batch in sim.batches(ledger, progress):
        if sink is not None:
            sink.write(batch)
        yield records(batch, Event, first)


def _check_one(
    sim: Simulation,
    spec: SessionizerSpec,
    outputs: OutputSet | None,
    write_run: bool,
    suffix: str,
    progress,
) -> dict:
    """Simulate, sessionize in process with ``spec``, and score; write into ``outputs``."""
    sessionizer = spec.build()
    scorer = Scorer()
    sink, sessions_out, late_out = None, None, None
    if outputs is not None and write_run:
        sink, ledger = open_outputs(outputs, sim, on_visit=scorer.expect)
    else:
        ledger = Ledger(sim.codec, on_visit=scorer.expect)
    if outputs is not None:
        sessions_out = outputs.open(f"sessions{suffix}.jsonl")
        late_out = outputs.open(f"sessions{suffix}.late.jsonl")
    events = sim_events(sim, ledger, sink, progress, scorer)
    emitted = Outputs.of(sessionizer, events)
    report = score_stream(emitted, spec, scorer, lambda: sim.summary, sessions_out, late_out)
    if outputs is not None:
        if write_run:
            write_summary(outputs, sim.summary, sim.scenario)
    return report


def check_run_dir(
    run_dir: Path,
    spec: SessionizerSpec,
    sessions_file: Path | None = None,
    bucket_ms: int = 3_600_000,
    outputs: OutputSet | None = None,
    suffix: str = "",
) -> dict:
    """Sessionize ``run_dir``'s events with ``spec`` (or read ``sessions_file``, made by any
    engine) and score them against ``run_dir/truth``; return the report (without realism).

    With ``outputs``, the sessions and late events are written there, suffixed.
    """
    truth, labels, delivered = load_truth(run_dir)
    scorer = new_scorer(delivered)
    lines = [0]

    def counted(stream):
        for e in stream:
            lines[0] += 1
            yield e

    events_path = run_file(run_dir, "events")
    with event_source(str(events_path), "checking") as stream:
        events = tap(counted(stream), scorer, labels)
        if sessions_file is not None:
            for _ in events:  # only the delivered ids are needed
                pass
            # Made elsewhere: its settings and counts are unknown here.
            settings = {
                **dict.fromkeys(settings_of(spec)),
                "sessionizer": "file",
                "label": str(sessions_file),
            }
            measured, counts = read_sessions(sessions_file, scorer), None
            report = build_report(truth, measured, scorer.score(), counts, settings)
        else:
            sessionizer = spec.build()
            sessions_out = late_out = None
            if outputs is not None:
                sessions_out = outputs.open(f"sessions{suffix}.jsonl")
                late_out = outputs.open(f"sessions{suffix}.late.jsonl")
            if hasattr(sessionizer, "sessionize_file"):  # an engine that reads files itself
                for _ in events:  # the scorer learns what was delivered
                    pass
                emitted = Outputs(sessionizer.sessionize_file(events_path), lambda: lines[0])
            else:
                emitted = Outputs.of(sessionizer, events)
            report = score_stream(
                emitted, spec, scorer, lambda: truth, sessions_out, late_out, bucket_ms
            )
            counts = emitted.counts
    if lines[0] != truth.get("events", lines[0]):
        raise SessionsimError(
            f"{events_path}: {lines[0]:,} events where truth/summary.json says "
            f"{truth['events']:,}: the files are not of one run"
        )
    read = None if counts is None else counts.accepted + counts.late + counts.duplicates
    if read is not None and read != lines[0]:
        raise SessionsimError(
            f"sessionizer {spec.sessionizer!r}: read {read:,} of the {lines[0]:,} events it "
            "was given"
        )
    return report


def run_scenario(
    scenario: RunScenario,
    out: Path | None,
    progress_for: Callable[[str], AbstractContextManager] | None = None,
    realism: bool = True,
    processes: int = 1,
) -> list[dict]:
    """Check every sessionizer setting of ``scenario``; return their reports.

    With one process the stream is simulated once per setting (same seed, same bytes) and
    sessionized in process. With several, it is simulated once in shards (as many as the
    backend has replicas, at most ``processes``) into ``out`` (or a temporary directory) and
    each setting reads the merged files; engines that take ``processes`` (Bytewax) run on
    that many. The reports are the same.
    With ``out``, the run's files, each setting's sessions, late events and report (with
    the run's realism block) are written there (suffixed with the setting's label when
    there are several).
    """
    if processes > 1:  # engines that run on processes (Bytewax) get them too
        scenario = scenario.model_copy(
            update={"sessionizers": [_with_processes(s, processes) for s in scenario.sessionizers]}
        )
    specs = scenario.sessionizers
    for spec in specs:  # a bad name, plugin or option fails before anything is simulated
        spec.build()
    processes = min(processes, scenario.backend.replicas)  # the simulator's shards
    if processes > 1:
        if out is None:
            with tempfile.TemporaryDirectory(prefix="sessionsim-run-") as tmp:
                return _run_sharded(scenario, Path(tmp), progress_for, False, processes)
        return _run_sharded(scenario, out, progress_for, realism, processes)
    if out is not None:
        prepare_dir(out)
    sim = Simulation(scenario)
    reports = []
    for k, spec in enumerate(specs):
        suffix = _suffix(specs, spec)
        with ExitStack() as stack:
            outputs = stack.enter_context(OutputSet(out)) if out is not None else None
            tick = stack.enter_context(progress_for(spec.name)) if progress_for else None
            reports.append(_check_one(sim, spec, outputs, k == 0, suffix, tick))
    if out is not None:
        _write_reports(scenario, out, reports, realism)
    return reports


def _with_processes(spec: SessionizerSpec, processes: int) -> SessionizerSpec:
    if "processes" in spec.options or not spec.takes("processes"):
        return spec
    return spec.model_copy(update={"options": {**spec.options, "processes": processes}})


def _suffix(specs: list[SessionizerSpec], spec: SessionizerSpec) -> str:
    return "" if len(specs) == 1 else f".{spec.name}"


def _run_sharded(scenario, out: Path, progress_for, realism: bool, processes: int) -> list[dict]:
    """Simulate in ``processes`` shards into ``out``, then check each setting from the files."""
    specs = scenario.sessionizers
    with ExitStack() as stack:
        tick = stack.enter_context(progress_for("simulate")) if progress_for else None
        simulate_sharded(scenario, out, processes, tick)
    reports = []
    for spec in specs:
        with OutputSet(out) as outputs:
            reports.append(check_run_dir(out, spec, outputs=outputs, suffix=_suffix(specs, spec)))
    _write_reports(scenario, out, reports, realism)
    return reports


def _write_reports(scenario, out: Path, reports: list[dict], realism: bool) -> None:
    """Write each setting's report (with the run's realism block) once the files are whole."""
    specs = scenario.sessionizers
    block = realism_block(out) if realism else None
    with OutputSet(out) as outputs:
        for spec, report in zip(specs, reports):
            if block is not None:
                report["realism"] = block
            outputs.open(f"report{_suffix(specs, spec)}.json").write(
                orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"
            )
