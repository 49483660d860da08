"""In-process wiring: simulator tuples to sessionizer events, and the ``run`` job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import orjson

from sessionizer import Event, resolve
from sessionsim.check import build_report, measure
from sessionsim.realism import realism_block
from sessionsim.scenario import RunScenario, SessionizerSpec
from sessionsim.scoring import Scorer
from simulator import Simulation
from simulator.durations import format_duration
from simulator.engine import open_outputs, prepare_dir, write_summary
from simulator.events import CLICK, RESULTS, SEARCH
from simulator.sinks import EventSink, OutputSet
from simulator.truth import Ledger, visit_label

__all__ = ["run_scenario", "settings_of", "sim_events"]

_HAS_SEARCH_ID = frozenset({SEARCH, RESULTS, CLICK})


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
    codec, pop = sim.codec, sim.population
    event_id, user_id, start_ms = codec.event_id, pop.user_id, codec.start_ms
    with_search_id = codec.emit_search_id
    for batch in sim.batches(ledger, progress):
        if sink is not None:
            sink.write(batch)
        for _, _, ts, kind, u, visit, n, payload, sn, rank, copy in batch:
            eid = event_id(u, visit, n)
            if scorer is not None and not copy:
                scorer.deliver(eid, visit_label(u, visit))
            yield Event(
                eid,
                kind,
                user_id(u),
                start_ms + int(ts * 1000.0),
                event_id(u, visit, sn) if with_search_id and kind in _HAS_SEARCH_ID else None,
                len(payload) if kind == RESULTS else None,
                rank + 1 if kind == CLICK else None,
            )


def settings_of(spec: SessionizerSpec) -> dict:
    """Return the sessionizer settings a report starts with."""
    return {
        "sessionizer": spec.sessionizer,
        "label": spec.name,
        "gap": format_duration(spec.gap),
        "lateness": format_duration(spec.lateness),
        "split_on_app_open": spec.split_on_app_open,
        "close_on_app_close": spec.close_on_app_close,
        "attribution": spec.attribution,
        "dedup": spec.dedup,
    }


def _check_one(
    sim: Simulation,
    spec: SessionizerSpec,
    outputs: OutputSet | None,
    write_run: bool,
    suffix: str,
    progress,
) -> dict:
    """Simulate, sessionize in process with ``spec``, and score; write into ``outputs``."""
    config = spec.config()
    sessionizer = resolve(spec.sessionizer)(config)
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
    totals = measure(sessionizer, events, config, scorer, sessions_out, late_out)
    report = build_report(
        sim.summary, totals.summary(), scorer.score(), sessionizer.counts, settings_of(spec)
    )
    if outputs is not None:
        if write_run:
            write_summary(outputs, sim.summary, sim.scenario)
        outputs.open(f"report{suffix}.json").write(
            orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"
        )
    return report


def run_scenario(
    scenario: RunScenario,
    out: Path | None,
    progress_for: Callable[[str], AbstractContextManager] | None = None,
    realism: bool = True,
) -> list[dict]:
    """Check every sessionizer setting of ``scenario``; return their reports.

    The stream is simulated once per setting (same seed, same bytes) and sessionized in
    process. With ``out``, the run's files, each setting's sessions, late events and report
    (with the run's realism block) are written there (suffixed with the setting's label when
    there are several).
    """
    specs = scenario.sessionizers
    for spec in specs:  # a bad name or plugin fails before anything is simulated or written
        resolve(spec.sessionizer)
    if out is not None:
        prepare_dir(out)
    sim = Simulation(scenario)
    reports = []
    for k, spec in enumerate(specs):
        suffix = "" if len(specs) == 1 else f".{spec.name}"
        with ExitStack() as stack:
            outputs = stack.enter_context(OutputSet(out)) if out is not None else None
            tick = stack.enter_context(progress_for(spec.name)) if progress_for else None
            reports.append(_check_one(sim, spec, outputs, k == 0, suffix, tick))
    if out is not None and realism:  # the run's files are complete: judge their realism
        block = realism_block(out)
        with OutputSet(out) as outputs:
            for spec, report in zip(specs, reports):
                report["realism"] = block
                suffix = "" if len(specs) == 1 else f".{spec.name}"
                outputs.open(f"report{suffix}.json").write(
                    orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"
                )
    return reports
