"""A run's truth, read on columns: its summary, each event's true visit, what was delivered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from sessionsim.batches import first_bad_row, table_batches
from sessionsim.errors import SessionsimError
from sessionsim.rundir import run_file
from sessionsim.scoring.truth_index import EventIndex

__all__ = ["Truth", "check_event_ids", "load_truth"]

# What check reads from truth/summary.json, and what each must be.
_SUMMARY_TYPES = {
    "ctr": "a fraction or null",
    "observable_ctr": "a fraction or null",
    "searches": "a count",
    "clicked_searches": "a count",
    "clicks": "a count",
    "clicks_per_search": "a number >= 0 or null",
    "events": "a count",
}
_SESSIONS = pa.schema([("event_ids", pa.list_(pa.string()))])
_EVENTS = pa.schema([("event_id", pa.string()), ("deliveries", pa.int64())])


def _is(value: object, kind: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "a count":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if value is None:
        return True
    if not number:
        return False
    assert isinstance(value, int | float)
    if kind == "a fraction or null":
        return 0.0 <= value <= 1.0
    return value >= 0


def check_event_ids(path: Path, number: int, obj: dict) -> None:
    """A row's ``event_ids`` must be a list of strings."""
    ids = obj.get("event_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise SessionsimError(f"{path}:{number}: event_ids: expected a list of strings")


def _check_truth_event(path: Path, number: int, obj: dict) -> None:
    count = obj.get("deliveries")
    if not isinstance(obj.get("event_id"), str) or not isinstance(count, int):
        raise SessionsimError(
            f"{path}:{number}: expected an event of the truth with its deliveries"
        )


def _summary(run_dir: Path) -> dict:
    summary_path = run_dir / "truth" / "summary.json"
    if not summary_path.is_file():
        raise SessionsimError(f"{run_dir}: not a run directory (no truth/summary.json)")
    try:
        summary = orjson.loads(summary_path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise SessionsimError(f"{summary_path}: invalid JSON: {e}") from None
    required = ("ctr", "searches", "clicks_per_search")
    missing = [k for k in required if k not in summary] if isinstance(summary, dict) else []
    if not isinstance(summary, dict) or missing:
        raise SessionsimError(
            f"{summary_path}: {', '.join(missing) or '(top level)'}: "
            f"expected the simulator's truth summary"
        )
    for key, kind in _SUMMARY_TYPES.items():
        value = summary.get(key)
        if key in summary and not _is(value, kind):
            raise SessionsimError(f"{summary_path}: {key}: expected {kind} (got {value!r})")
    return summary


def _visit_ids(path: Path, visits: list[int]) -> Iterator[tuple[pa.Array, pa.Array]]:
    """Yield (event ids, their visit) per batch of truth/sessions; count its rows."""
    for batch in table_batches(path, _SESSIONS, check_event_ids):
        ids = batch.column("event_ids")
        if ids.null_count or pc.list_flatten(ids).null_count:
            bad = visits[0] + int(np.flatnonzero(~_row_valid(ids))[0])
            first_bad_row(path, check_event_ids, bad)
        parent = pc.list_parent_indices(ids).to_numpy().astype(np.int64)
        yield pc.list_flatten(ids), parent + visits[0]
        visits[0] += batch.num_rows


def _row_valid(ids: pa.ListArray) -> np.ndarray:
    """Per row: a list with no null id."""
    valid = ids.is_valid().to_numpy(zero_copy_only=False)
    flat_null = pc.is_null(pc.list_flatten(ids)).to_numpy(zero_copy_only=False)
    parent = pc.list_parent_indices(ids).to_numpy()
    valid[parent[flat_null]] = False
    return valid


@dataclass(slots=True)
class Truth:
    """A run's truth as ``check`` uses it."""

    summary: dict
    index: EventIndex  # each event's true visit, by its id
    expected: np.ndarray  # per visit: how many of its events were delivered
    delivered: np.ndarray  # per event of the index: delivered at least once


def load_truth(run_dir: Path) -> Truth:
    """Read the truth files of ``run_dir`` (the summary, every event's visit, and which
    events were delivered, from each one's ``deliveries``)."""
    summary = _summary(run_dir)
    sessions = run_file(run_dir, "truth/sessions")
    counted = [0]
    index = EventIndex(_visit_ids(sessions, counted))
    visits = counted[0]
    delivered = np.zeros(visits, dtype=np.int64)
    sent_events = np.zeros(len(index), dtype=bool)
    events = run_file(run_dir, "truth/events")
    truth_events = 0
    for batch in table_batches(events, _EVENTS, _check_truth_event):
        pos, label = index.lookup(batch.column("event_id"))
        count = batch.column("deliveries")
        bad = (label < 0) | ~count.is_valid().to_numpy(zero_copy_only=False)
        if bad.any():
            number = truth_events + int(np.flatnonzero(bad)[0]) + 1
            raise SessionsimError(
                f"{events}:{number}: expected an event of the truth with its deliveries"
            )
        truth_events += batch.num_rows
        sent = pc.greater(count, 0).to_numpy(zero_copy_only=False)
        delivered += np.bincount(label[sent], minlength=visits)
        sent_events[pos[sent]] = True
    for name, count_of_rows, key in (
        ("truth/sessions", visits, "sessions"),
        ("truth/events", truth_events, "generated_events"),
    ):
        if isinstance(summary.get(key), int) and summary[key] != count_of_rows:
            raise SessionsimError(
                f"{run_file(run_dir, name)}: {count_of_rows:,} rows where truth/summary.json says "
                f"{key} {summary[key]:,}: the files are not of one run"
            )
    return Truth(summary, index, delivered, sent_events)
