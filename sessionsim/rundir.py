"""Reading the files of a run directory and of sessions produced elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import orjson

from sessionizer import format_ts
from sessionsim.errors import SessionsimError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "open_input",
    "read_rows",
    "run_file",
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


def run_file(run_dir: Path, stem: str) -> Path:
    """Return a run's file ``stem`` as JSON lines or Parquet, whichever the run wrote."""
    jsonl, parquet = run_dir / f"{stem}.jsonl", run_dir / f"{stem}.parquet"
    return parquet if not jsonl.exists() and parquet.exists() else jsonl


def _parquet_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield a Parquet file's record batches; a file pyarrow cannot read is bad input."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        yield from pq.ParquetFile(path).iter_batches(batch_size=65_536)
    except (OSError, pa.ArrowException) as e:
        raise SessionsimError(f"{path}: cannot read Parquet: {str(e).splitlines()[0]}") from None


def _epoch_ms(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
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
