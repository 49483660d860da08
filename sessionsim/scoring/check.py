"""The check: run a sessionizer (or read its sessions) and score it against the truth.

Everything between the event file and the report is columns: event batches in, sessions
and late events out (``sessionizer.columns``), CTR totals and scores computed per batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sessionizer import (
    Counts,
    CtrTotals,
    LateColumns,
    SessionColumns,
    SessionConfig,
    late_line,
    search_columns,
    session_lines,
)
from sessionsim.batches import first_bad_row, table_batches
from sessionsim.errors import SessionsimError
from sessionsim.scenario import SessionizerSpec
from sessionsim.scoring.report import Report
from sessionsim.scoring.scorer import Scorer, SessionScore, wilson_interval
from sessionsim.scoring.truth import check_event_ids
from simulator import format_duration

__all__ = [
    "build_report",
    "read_sessions",
    "score_outputs",
    "settings_of",
]


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


def score_outputs(
    outputs: Iterable[SessionColumns | LateColumns],
    config: SessionConfig,
    scorer: Scorer | None = None,
    sessions_out: Any = None,
    late_out: Any = None,
    bucket_ms: int = 3_600_000,
) -> CtrTotals:
    """Total (and optionally score and write) what a sessionizer emitted, batch by batch."""
    totals = CtrTotals(bucket_ms=bucket_ms)
    for out in outputs:
        ids = out.events.column("event_id")
        if isinstance(out, LateColumns):
            if scorer is not None:
                scorer.late(ids)
            if late_out is not None:
                late_out.write(b"".join(map(late_line, out.lates())))
            continue
        searches = search_columns(out, config.attribution)
        totals.add_columns(searches, len(out))
        if scorer is not None:
            scorer.found(ids, out.offsets)
        if sessions_out is not None:
            sessions_out.write(session_lines(out, *searches.per_session(len(out))))
    return totals


_SESSIONS = pa.schema(
    [
        ("event_ids", pa.list_(pa.string())),
        ("searches", pa.int64()),
        ("clicked_searches", pa.int64()),
        ("clicks", pa.int64()),
    ]
)


def _check_session(path: Path, number: int, obj: dict) -> None:
    check_event_ids(path, number, obj)
    for key in ("searches", "clicked_searches", "clicks"):
        value = obj.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SessionsimError(f"{path}:{number}: {key}: expected a count >= 0 (got {value!r})")
    if obj["clicked_searches"] > obj["searches"]:
        raise SessionsimError(
            f"{path}:{number}: clicked_searches: more than searches "
            f"({obj['clicked_searches']} > {obj['searches']})"
        )


def read_sessions(path: Path, scorer: Scorer) -> dict:
    """Feed sessions produced elsewhere to ``scorer``; return their summed CTR counts."""
    totals = {"searches": 0, "clicked_searches": 0, "clicks": 0}
    rows = 0
    for batch in table_batches(path, _SESSIONS, _check_session):
        ids = batch.column("event_ids")
        counts = [batch.column(k) for k in totals]
        valid = ids.is_valid()
        for c in counts:
            valid = pc.and_(valid, pc.fill_null(pc.greater_equal(c, 0), False))
        valid = pc.and_(valid, pc.less_equal(counts[1], counts[0]))
        flat = pc.list_flatten(ids)
        if flat.null_count:
            parent = pc.list_parent_indices(ids).to_numpy()
            bad_rows = np.zeros(batch.num_rows, dtype=bool)
            bad_rows[parent[pc.is_null(flat).to_numpy(zero_copy_only=False)]] = True
            valid = pc.and_(valid, pa.array(~bad_rows))
        ok = pc.fill_null(valid, False).to_numpy(zero_copy_only=False)
        if not ok.all():
            first_bad_row(path, _check_session, rows + int(np.flatnonzero(~ok)[0]))
        offsets = np.concatenate(([0], np.cumsum(pc.list_value_length(ids).to_numpy())))
        scorer.found(flat, offsets)
        for key, c in zip(totals, counts):
            totals[key] += int(pc.sum(c).as_py() or 0)
        rows += batch.num_rows
    return totals


def build_report(
    truth: dict,
    measured: dict,
    score: SessionScore,
    counts: Counts | None,
    settings: dict,
) -> Report:
    """Return the check's report (docs/semantics.md section 5)."""
    ctr_true = truth["ctr"]
    ctr_observable = truth.get("observable_ctr", ctr_true)
    searches, clicked = measured["searches"], measured["clicked_searches"]
    ctr_measured = clicked / searches if searches else None

    def diff(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a - b

    error = diff(ctr_measured, ctr_true)
    return Report(
        **settings,
        ctr_true=ctr_true,
        ctr_observable=ctr_observable,
        ctr_measured=ctr_measured,
        ctr_error=error,
        ctr_abs_error=None if error is None else abs(error),
        ctr_error_sessionizer=diff(ctr_measured, ctr_observable),
        ctr_error_data=diff(ctr_observable, ctr_true),
        ctr_measured_ci95=list(wilson_interval(clicked, searches) or ()) or None,
        events=truth.get("events"),
        searches_true=truth["searches"],
        searches_measured=searches,
        clicked_searches_measured=clicked,
        clicks_measured=measured["clicks"],
        clicks_per_search_true=truth["clicks_per_search"],
        clicks_per_search_measured=measured["clicks"] / searches if searches else None,
        **asdict(score),
        ctr_by_position=measured.get("ctr_by_position"),
        ctr_per_bucket=measured.get("ctr_per_bucket"),
        accepted=None if counts is None else counts.accepted,
        late_events=None if counts is None else counts.late,
        duplicates=None if counts is None else counts.duplicates,
    )
