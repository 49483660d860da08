"""Reading the files of a run directory and of sessions produced elsewhere."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import orjson
from tqdm import tqdm

from sessionizer import EVENT_TYPES, Event, format_ts, read_events
from sessionsim.errors import SessionsimError

__all__ = [
    "event_source",
    "open_input",
    "read_rows",
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
