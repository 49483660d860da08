"""Event files as column batches (``sessionizer.columns.SCHEMA``), with no per-event object.

Parquet is read by pyarrow; JSON lines by pyarrow's JSON reader with an explicit schema.
Either is checked on columns (types known, ids non-empty, ``ts`` in the canonical form,
items on results, 1-based positions on clicks). A JSON batch that is not plain goes the
slow way: the line reader picks the file up where the fast one stopped, so an odd but valid
line is read as ``read_events`` reads it and a bad one is named by its line, field and value.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq
from tqdm import tqdm

from sessionizer import (
    EVENT_TYPES,
    SCHEMA,
    Event,
    SessionizerError,
    columns_of,
    parse_ts,
    read_events,
)
from sessionsim.errors import SessionsimError
from sessionsim.progress import bar
from sessionsim.rundir import read_rows

__all__ = ["event_batches", "first_bad_row", "parquet_batches", "table_batches"]

BATCH = 65_536
_TYPES = pa.array(EVENT_TYPES)
_CANONICAL_TS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
_JSON_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("type", pa.string()),
        ("user_id", pa.string()),
        ("ts", pa.string()),
        ("search_id", pa.string()),
        ("items", pa.list_(pa.string())),
        ("position", pa.int64()),
    ]
)


def parquet_batches(
    path: Path, size: int = BATCH, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Yield a Parquet file's record batches (all its columns, or those of ``columns`` that
    it has); unreadable is bad input."""
    try:
        f = pq.ParquetFile(path)
        if columns is not None:
            columns = [c for c in columns if c in f.schema_arrow.names]
        yield from f.iter_batches(batch_size=size, columns=columns)
    except (OSError, pa.ArrowException) as e:
        raise SessionsimError(f"{path}: cannot read Parquet: {str(e).splitlines()[0]}") from None


def epoch_ms(column: pa.Array) -> pa.Array:
    """A timestamp column (any unit) as epoch milliseconds, truncated."""
    return pc.cast(pc.cast(column, pa.timestamp("ms"), safe=False), pa.int64())


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(pc.fill_null(mask, False)).as_py())


def _typed(batch: pa.RecordBatch, path: Path) -> pa.RecordBatch:
    """A Parquet batch of the events, checked, as a batch of ``SCHEMA``."""
    names = batch.schema.names
    for name in ("event_id", "type", "user_id", "ts"):
        if name not in names:
            raise SessionsimError(f"{path}: {name}: expected a column of the events")
        if batch.column(name).null_count:
            raise SessionsimError(f"{path}: {name}: expected a value on every row")
    kind = batch.column("type")
    known = pc.is_in(kind, value_set=_TYPES)
    if not _all(known):
        bad = kind.filter(pc.invert(known))[0].as_py()
        raise SessionsimError(f"{path}: type: expected one of {sorted(EVENT_TYPES)} (got {bad!r})")
    if not pa.types.is_timestamp(batch.schema.field("ts").type):
        raise SessionsimError(f"{path}: ts: expected a timestamp column")
    for name, on in (("position", "click"), ("items", "results")):
        rows = pc.equal(kind, on)
        missing = rows if name not in names else pc.and_(rows, pc.is_null(batch.column(name)))
        if pc.any(missing).as_py():
            raise SessionsimError(f"{path}: {name}: expected a value on every {on} row")
    if "position" in names and pc.any(pc.less(batch.column("position"), 1)).as_py():
        raise SessionsimError(f"{path}: position: expected 1-based ranks")
    n = batch.num_rows

    def column(name: str, make: Callable[[pa.Array], pa.Array]) -> pa.Array:
        return make(batch.column(name)) if name in names else pa.nulls(n, SCHEMA.field(name).type)

    return pa.RecordBatch.from_arrays(
        [
            pc.cast(batch.column("event_id"), pa.string()),
            pc.cast(kind, pa.string()),
            pc.cast(batch.column("user_id"), pa.string()),
            epoch_ms(batch.column("ts")),
            column("search_id", lambda c: pc.cast(c, pa.string())),
            column("items", lambda c: pc.cast(pc.list_value_length(c), pa.int32())),
            column("position", lambda c: pc.cast(c, pa.int32())),
        ],
        schema=SCHEMA,
    )


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch | None:
    """A JSON batch as a batch of ``SCHEMA`` when every row is plain; else None."""
    kind = batch.column("type")
    ts = batch.column("ts")
    for name in ("event_id", "user_id"):
        if not _all(pc.greater(pc.binary_length(batch.column(name)), 0)):
            return None
    if not _all(pc.is_in(kind, value_set=_TYPES)):
        return None
    if not _all(pc.match_substring_regex(ts, _CANONICAL_TS)):
        return None
    results, clicks = pc.equal(kind, "results"), pc.equal(kind, "click")
    items, position = batch.column("items"), batch.column("position")
    if not _all(pc.or_kleene(pc.invert(results), pc.is_valid(items))):
        return None
    if not _all(pc.or_kleene(pc.invert(clicks), pc.greater_equal(position, 1))):
        return None
    try:
        millis = epoch_ms(pc.cast(ts, pa.timestamp("ms", tz="UTC")))
    except pa.ArrowInvalid:  # e.g. hour 25: the slow path names it
        return None
    no_int = pa.scalar(None, pa.int32())
    return pa.RecordBatch.from_arrays(
        [
            batch.column("event_id"),
            kind,
            batch.column("user_id"),
            millis,
            batch.column("search_id"),
            pc.if_else(results, pc.cast(pc.list_value_length(items), pa.int32()), no_int),
            pc.if_else(clicks, pc.cast(position, pa.int32()), no_int),
        ],
        schema=SCHEMA,
    )


def _stdin_events() -> Iterator[Event]:
    try:
        yield from read_events(sys.stdin.buffer, "<stdin>")
    except SessionizerError as e:
        raise SessionsimError(str(e)) from None


class _Counted:
    """A binary file that moves a progress bar by the bytes read."""

    def __init__(self, f: BinaryIO, shown: tqdm) -> None:
        self._f, self._bar = f, shown
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._bar.update(len(data))
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def _jsonl_batches(path: Path, shown: tqdm) -> Iterator[pa.RecordBatch]:
    done = 0
    options = pj.ParseOptions(explicit_schema=_JSON_SCHEMA, unexpected_field_behavior="ignore")
    with open(path, "rb") as f:
        try:
            reader = pj.open_json(
                _Counted(f, shown),
                read_options=pj.ReadOptions(use_threads=False, block_size=1 << 22),
                parse_options=options,
            )
            for raw in reader:
                batch = _plain(raw)
                if batch is None:
                    break
                done += batch.num_rows
                yield batch
            else:
                return
        except pa.ArrowInvalid:
            pass  # a line the fast reader refuses: the line reader names it or reads it
    with open(path, "rb") as f:
        try:
            events = islice(read_events(f, str(path)), done, None)
            yield from columns_of(events, BATCH)
        except SessionizerError as e:
            raise SessionsimError(str(e)) from None


@contextmanager
def event_batches(name: str, label: str) -> Iterator[Iterator[pa.RecordBatch]]:
    """Open an event file (JSON lines or Parquet, ``-``: JSON lines on stdin) as column
    batches, in file order, with a progress bar of bytes read on stderr for JSON lines."""
    if name == "-":
        yield columns_of(_stdin_events(), BATCH)
        return
    path = Path(name)
    if path.suffix == ".parquet":
        yield (_typed(b, path) for b in parquet_batches(path, columns=SCHEMA.names))
        return
    try:
        total = os.path.getsize(path)
    except OSError as e:
        raise SessionsimError(f"{path}: cannot read: {e.strerror}") from None
    with bar(total, label, "B") as shown:
        yield _jsonl_batches(path, shown)


def table_batches(
    path: Path, schema: pa.Schema, check: Callable[[Path, int, dict], None]
) -> Iterator[pa.RecordBatch]:
    """The columns of ``schema`` from a JSON lines or Parquet file (a run's truth, a sessions
    file), in batches. A JSON file the fast reader refuses is read row by row, each row
    checked by ``check(path, number, row)``, which names a bad row; for a refused batch that
    no row check explains, :func:`first_bad_row` is the caller's way to name it."""
    if path.suffix == ".parquet":
        for batch in parquet_batches(path, columns=schema.names):
            missing = [n for n in schema.names if n not in batch.schema.names]
            if missing:
                raise SessionsimError(f"{path}: {missing[0]}: expected a column of this file")
            yield pa.RecordBatch.from_arrays(
                [pc.cast(batch.column(f.name), f.type) for f in schema], schema=schema
            )
        return
    done = 0
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        reader = pj.open_json(
            str(path),
            read_options=pj.ReadOptions(use_threads=False, block_size=1 << 22),
            parse_options=options,
        )
        for batch in reader:
            done += batch.num_rows
            yield batch.select(schema.names)
        return
    except FileNotFoundError:
        raise SessionsimError(f"{path}: cannot read: no such file") from None
    except pa.ArrowInvalid:
        pass  # read row by row from where the fast reader stopped: a bad row is named
    rows = islice(read_rows(path), done, None)
    while chunk := list(islice(rows, BATCH)):
        for number, row in chunk:
            check(path, number, row)
        columns = []
        for f in schema:
            values = [_cell(path, number, f, row.get(f.name)) for number, row in chunk]
            try:
                columns.append(pa.array(values, f.type))
            except (pa.ArrowException, TypeError, ValueError):
                for (number, _), value in zip(chunk, values):
                    _cell(path, number, f, value, strict=True)
                raise SessionsimError(f"{path}: {f.name}: expected {f.type}") from None
        yield pa.RecordBatch.from_arrays(columns, schema=schema)


def _cell(path: Path, number: int, f: pa.Field, value: object, strict: bool = False) -> object:
    """A JSON value for column ``f`` (ISO times as epoch ms); with ``strict``, one that does
    not fit is named in a one-line error."""
    if pa.types.is_timestamp(f.type) and isinstance(value, str):
        try:
            return parse_ts(value)
        except ValueError as e:
            raise SessionsimError(f"{path}:{number}: {f.name}: {e}") from None
    if strict:
        try:
            pa.array([value], f.type)
        except (pa.ArrowException, TypeError, ValueError):
            raise SessionsimError(
                f"{path}:{number}: {f.name}: expected {f.type} (got {value!r})"
            ) from None
    return value


def first_bad_row(path: Path, check: Callable[[Path, int, dict], None], bad: int) -> None:
    """Raise the row check's message for a file's bad row; ``bad`` is the 0-based index of a
    row the columns found wrong (named by position when the check passes it)."""
    for k, (number, row) in enumerate(read_rows(path)):
        check(path, number, row)
        if k == bad:
            break
    raise SessionsimError(f"{path}:{bad + 1}: a value of an unexpected type")
