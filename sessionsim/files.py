"""Reading the files of a run directory and of sessions produced elsewhere."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson
from tqdm import tqdm

from sessionizer import EVENT_TYPES, Event, format_ts, read_events
from sessionsim.errors import SessionsimError
from sessionsim.scoring import Scorer
from sessionsim.truth_index import EventIndex

__all__ = [
    "event_source",
    "load_truth",
    "new_scorer",
    "open_input",
    "read_rows",
    "read_sessions",
    "run_file",
    "with_progress",
]


@contextmanager
def open_input(path: str) -> Iterator[BinaryIO]:
    """Open a file for reading, or standard input for ``-``; a missing file is bad input."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as e:
        raise SessionsimError(f"{path}: cannot read: {e.strerror}") from None
    with f:
        yield f


def with_progress(f: BinaryIO, path: str, label: str) -> Iterator[bytes]:
    """Yield the lines of ``f``; for a file, show a bar of bytes read (rate, ETA) on stderr."""
    if path == "-":
        yield from f
        return
    with tqdm(
        total=os.path.getsize(path),
        desc=label,
        unit="B",
        unit_scale=True,
        file=sys.stderr,
        delay=1.0,
        leave=False,
        disable=None,  # no bar when stderr is not a terminal
    ) as bar:
        done = 0
        for k, line in enumerate(f):
            done += len(line)
            if k % 8192 == 0:
                bar.update(done - bar.n)
            yield line


def run_file(run_dir: Path, stem: str) -> Path:
    """Return a run's file ``stem`` as JSON lines or Parquet, whichever the run wrote."""
    jsonl, parquet = run_dir / f"{stem}.jsonl", run_dir / f"{stem}.parquet"
    return parquet if not jsonl.exists() and parquet.exists() else jsonl


def _parquet_batches(path: Path):
    """Yield a Parquet file's record batches; a file pyarrow cannot read is bad input."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        yield from pq.ParquetFile(path).iter_batches(batch_size=65_536)
    except (OSError, pa.ArrowException) as e:
        raise SessionsimError(f"{path}: cannot read Parquet: {str(e).splitlines()[0]}") from None


def _epoch_ms(column):
    """Return a timestamp column (any unit) as epoch milliseconds, truncated."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.cast(column, pa.timestamp("ms"), safe=False), pa.int64())


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield a Parquet file's rows as the JSON lines would give them (times as ISO text)."""
    import pyarrow as pa

    number = 0
    for batch in _parquet_batches(path):
        columns = []
        for field, column in zip(batch.schema, batch.columns):
            if pa.types.is_timestamp(field.type):
                values = _epoch_ms(column).to_pylist()
                columns.append([None if v is None else format_ts(v) for v in values])
            else:
                columns.append(column.to_pylist())
        for values in zip(*columns):
            number += 1
            yield number, dict(zip(batch.schema.names, values))


def read_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield (line or row number, object) of a JSON lines or Parquet file."""
    if path.suffix == ".parquet":
        yield from _parquet_rows(path)
        return
    yield from _lines(path)


def _parquet_events(path: Path) -> Iterator[Event]:
    """Yield a Parquet event file's events (SESSIONS.md section 1 columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kinds = pa.array(sorted(EVENT_TYPES))
    for batch in _parquet_batches(path):
        names = batch.schema.names
        for name in ("event_id", "type", "user_id", "ts"):
            if name not in names:
                raise SessionsimError(f"{path}: {name}: expected a column of the events")
            if batch.column(name).null_count:
                raise SessionsimError(f"{path}: {name}: expected a value on every row")
        col = batch.column
        known = pc.is_in(col("type"), value_set=kinds)
        if not pc.all(known).as_py():
            bad = col("type").filter(pc.invert(known))[0].as_py()
            raise SessionsimError(
                f"{path}: type: expected one of {sorted(EVENT_TYPES)} (got {bad!r})"
            )
        if not pa.types.is_timestamp(batch.schema.field("ts").type):
            raise SessionsimError(f"{path}: ts: expected a timestamp column")
        n = batch.num_rows
        absent = [None] * n
        for kind, name in (("click", "position"), ("results", "items")):
            rows = pc.equal(col("type"), kind)
            missing = rows if name not in names else pc.and_(rows, pc.is_null(col(name)))
            if pc.any(missing).as_py():
                raise SessionsimError(f"{path}: {name}: expected a value on every {kind} row")
        if "position" in names and pc.any(pc.less(col("position"), 1)).as_py():
            raise SessionsimError(f"{path}: position: expected 1-based ranks")
        items = pc.list_value_length(col("items")).to_pylist() if "items" in names else absent
        yield from map(
            Event,
            col("event_id").to_pylist(),
            col("type").to_pylist(),
            col("user_id").to_pylist(),
            _epoch_ms(col("ts")).to_pylist(),
            col("search_id").to_pylist() if "search_id" in names else absent,
            items,
            col("position").to_pylist() if "position" in names else absent,
        )


@contextmanager
def event_source(path: str, label: str) -> Iterator[Iterator[Event]]:
    """Open an event file (JSON lines, ``-`` for stdin, or Parquet) as an event iterator,
    with a progress bar for files."""
    if path.endswith(".parquet"):
        yield _parquet_events(Path(path))
        return
    source = "<stdin>" if path == "-" else path
    with open_input(path) as f:
        yield read_events(with_progress(f, path, label), source)


def _lines(path: Path) -> Iterator[tuple[int, dict]]:
    with open_input(str(path)) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise SessionsimError(f"{path}:{number}: (line): invalid JSON: {e}") from None
            if not isinstance(obj, dict):
                raise SessionsimError(f"{path}:{number}: (line): expected a JSON object")
            yield number, obj


def _ids(path: Path, number: int, obj: dict) -> list[str]:
    ids = obj.get("event_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise SessionsimError(f"{path}:{number}: event_ids: expected a list of strings")
    return ids


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


def load_truth(run_dir: Path) -> tuple[dict, EventIndex, list[int]]:
    """Return the truth summary, each event's true visit (by index, compactly) and, per
    visit, how many of its events were delivered."""
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
    index = EventIndex()
    sessions = run_file(run_dir, "truth/sessions")
    visits = 0
    for number, obj in read_rows(sessions):
        visits = number
        for eid in _ids(sessions, number, obj):
            index.add(eid, number - 1)
    index.freeze()
    delivered = [0] * visits
    events = run_file(run_dir, "truth/events")
    rows = read_rows(events)
    truth_events = 0
    while chunk := list(itertools.islice(rows, 8192)):
        truth_events += len(chunk)
        ids = [obj.get("event_id") for _, obj in chunk]
        labels = index.labels_of([i if isinstance(i, str) else "" for i in ids])
        for (number, obj), label in zip(chunk, labels):
            count = obj.get("deliveries")
            if not isinstance(count, int) or label is None:
                raise SessionsimError(
                    f"{events}:{number}: expected an event of the truth with its deliveries"
                )
            delivered[label] += count > 0
    for name, count_of_rows, key in (
        ("truth/sessions", visits, "sessions"),
        ("truth/events", truth_events, "generated_events"),
    ):
        if isinstance(summary.get(key), int) and summary[key] != count_of_rows:
            raise SessionsimError(
                f"{run_file(run_dir, name)}: {count_of_rows:,} rows where truth/summary.json says "
                f"{key} {summary[key]:,}: the files are not of one run"
            )
    return summary, index, delivered


def new_scorer(delivered: list[int]) -> Scorer:
    """Return a scorer that knows how many events of each true visit were delivered."""
    return Scorer(expected=np.asarray(delivered, dtype=np.int64))


def read_sessions(path: Path, scorer: Scorer) -> dict:
    """Feed sessions produced elsewhere to ``scorer``; return their summed CTR counts."""
    totals = {"searches": 0, "clicked_searches": 0, "clicks": 0}
    for number, obj in read_rows(path):
        scorer.found(_ids(path, number, obj))
        for key in totals:
            value = obj.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SessionsimError(
                    f"{path}:{number}: {key}: expected a count >= 0 (got {value!r})"
                )
            totals[key] += value
        if obj["clicked_searches"] > obj["searches"]:
            raise SessionsimError(
                f"{path}:{number}: clicked_searches: more than searches "
                f"({obj['clicked_searches']} > {obj['searches']})"
            )
    return totals
