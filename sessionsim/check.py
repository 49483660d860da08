"""The check: run a sessionizer (or read its sessions) and score it against the truth."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from typing import Any

from sessionizer import (
    Counts,
    CtrTotals,
    Event,
    Late,
    Outputs,
    Session,
    SessionConfig,
    Sessionizer,
    late_line,
    searches_of,
    session_line,
)
from sessionsim.scenario import SessionizerSpec
from sessionsim.scoring import Scorer, SessionScore, wilson_interval
from sessionsim.truth_index import REPEAT, EventIndex
from simulator import format_duration

__all__ = [
    "GATE_FAILED",
    "build_report",
    "gate_failures",
    "measure",
    "score_outputs",
    "score_stream",
    "settings_of",
    "tap",
]

GATE_FAILED = 3  # exit status when a --max-*/--min-* gate fails


def tap(events: Iterable[Event], scorer: Scorer, index: EventIndex) -> Iterator[Event]:
    """Pass events through, recording each first delivery with its true visit."""
    deliver, it, deliveries = scorer.deliver, iter(events), index.deliveries()
    while chunk := list(itertools.islice(it, 4096)):
        for e, label in zip(chunk, deliveries.first([e.event_id for e in chunk])):
            if label is not REPEAT:
                deliver(e.event_id, label)
        yield from chunk


def measure(
    sessionizer: Sessionizer,
    events: Iterable[Event],
    config: SessionConfig,
    scorer: Scorer | None = None,
    sessions_out=None,
    late_out=None,
    bucket_ms: int = 3_600_000,
) -> tuple[CtrTotals, Counts]:
    """Run ``sessionizer`` over ``events``, scoring and (optionally) writing what it emits;
    return the CTR totals and what it did with the events.

    CTR per time bucket uses buckets of ``bucket_ms`` of search time.
    """
    emitted = Outputs.of(sessionizer, events)
    totals = score_outputs(emitted, config, scorer, sessions_out, late_out, bucket_ms)
    return totals, emitted.counts


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
        "watermark": spec.watermark,
        "idle": format_duration(spec.idle),
    }


def score_stream(
    emitted: Outputs,
    spec: SessionizerSpec,
    scorer: Scorer,
    truth: Callable[[], dict],
    sessions_out: Any = None,
    late_out: Any = None,
    bucket_ms: int = 3_600_000,
    watch: Callable[[Iterable[Session | Late]], Iterable[Session | Late]] | None = None,
) -> dict:
    """Score one sessionizer's outputs on one stream; return the report (``report.json``).

    The one place every command scores a stream: ``run`` (events straight from the
    simulation), ``check`` (a run directory), ``sweep`` (a setting of the grid). ``truth``
    returns the truth summary once the stream is exhausted; ``watch`` sees the outputs on
    their way (the sweep measures emission delay with it).
    """
    stream = emitted if watch is None else watch(emitted)
    totals = score_outputs(stream, spec.config(), scorer, sessions_out, late_out, bucket_ms)
    counts, settings = emitted.counts, settings_of(spec)
    return build_report(truth(), totals.summary(), scorer.score(), counts, settings)


def score_outputs(
    outputs: Iterable[Session | Late],
    config: SessionConfig,
    scorer: Scorer | None = None,
    sessions_out=None,
    late_out=None,
    bucket_ms: int = 3_600_000,
) -> CtrTotals:
    """Total (and optionally score and write) what a sessionizer emitted."""
    totals = CtrTotals(bucket_ms=bucket_ms)
    for out in outputs:
        if isinstance(out, Late):
            if scorer is not None:
                scorer.late(out.event.event_id)
            if late_out is not None:
                late_out.write(late_line(out))
            continue
        searches, clicked, clicks = totals.add(searches_of(out.events, config.attribution))
        if scorer is not None:
            scorer.found([e.event_id for e in out.events])
        if sessions_out is not None:
            sessions_out.write(session_line(out, searches, clicked, clicks))
    return totals


def build_report(
    truth: dict,
    measured: dict,
    score: SessionScore,
    counts: Counts | None,
    settings: dict,
) -> dict:
    """Return the check's report (SESSIONS.md section 5) as a flat dict."""
    ctr_true = truth["ctr"]
    ctr_observable = truth.get("observable_ctr", ctr_true)
    searches, clicked = measured["searches"], measured["clicked_searches"]
    ctr_measured = clicked / searches if searches else None

    def diff(a, b):
        return None if a is None or b is None else a - b

    error = diff(ctr_measured, ctr_true)
    report = {
        **settings,
        "ctr_true": ctr_true,
        "ctr_observable": ctr_observable,
        "ctr_measured": ctr_measured,
        "ctr_error": error,
        "ctr_abs_error": None if error is None else abs(error),
        "ctr_error_sessionizer": diff(ctr_measured, ctr_observable),
        "ctr_error_data": diff(ctr_observable, ctr_true),
        "ctr_measured_ci95": list(wilson_interval(clicked, searches) or ()) or None,
        "events": truth.get("events"),
        "searches_true": truth["searches"],
        "searches_measured": searches,
        "clicked_searches_measured": clicked,
        "clicks_measured": measured["clicks"],
        "clicks_per_search_true": truth["clicks_per_search"],
        "clicks_per_search_measured": measured["clicks"] / searches if searches else None,
        **asdict(score),
        "ctr_by_position": measured.get("ctr_by_position"),
        "ctr_per_bucket": measured.get("ctr_per_bucket"),
        "accepted": None if counts is None else counts.accepted,
        "late_events": None if counts is None else counts.late,
        "duplicates": None if counts is None else counts.duplicates,
    }
    return report


def gate_failures(report: dict, max_ctr_error: float | None, min_f1: float | None) -> list[str]:
    """Return a line for each gate the report fails."""
    failed = []
    err = report["ctr_abs_error"]
    if max_ctr_error is not None and (err is None or err > max_ctr_error):
        failed.append(f"ctr_abs_error {err} > --max-ctr-error {max_ctr_error}")
    if min_f1 is not None and report["pairwise_f1"] < min_f1:
        failed.append(f"pairwise_f1 {report['pairwise_f1']:.4f} < --min-pairwise-f1 {min_f1}")
    return failed
