"""Where the simulator's output goes: JSON lines or Parquet files written atomically, or nowhere.

Rows (one dict each: an event, a true visit, search or event of the ledger) go to a row
writer, ``JsonlRows`` or ``ParquetRows``; pyarrow is imported only when Parquet is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

import orjson

from simulator.errors import SimulatorError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "committed_files",
    "AtomicFile",
    "EventSink",
    "JsonlRows",
    "JsonlSink",
    "NullSink",
    "OutputSet",
    "ParquetRows",
    "RowSink",
    "RowWriter",
]

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: mkstemp makes 0600 files; a finished one gets the usual mode
_FLUSH_BYTES = 1 << 20  # orjson returns over-allocated bytes: copy lines into one buffer
_GROUP_ROWS = 16_384  # rows per Parquet row group (4 files buffer this many dicts each)


_COMMITTED: list[Path] = []  # files this process completed, in order (for interruptions)


def committed_files(reset: bool = False) -> list[Path]:
    """The files completed since the last reset (an interruption keeps these)."""
    done = list(_COMMITTED)
    if reset:
        _COMMITTED.clear()
    return done


class AtomicFile:
    """A file written under a hidden partial name and renamed into place by ``commit``.

    The partial file is created anew (``O_EXCL``: never through a planted symlink) in the
    target's directory. Any ``OSError`` (a full disk, a file-size limit) ends as one
    ``SimulatorError`` naming the file, with the partial file removed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            raise SimulatorError(f"{path}: cannot write: is a directory")
        try:
            fd, partial = tempfile.mkstemp(
                prefix=f".{path.name}.", suffix=".partial", dir=path.parent
            )
        except OSError as e:
            raise SimulatorError(f"{path}: cannot write: {e.strerror}") from None
        self.partial = Path(partial)
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.finishers: list[Callable[[], None]] = []  # run before the file closes

    def write(self, data: bytes | bytearray) -> None:
        try:
            self.file.write(data)
        except OSError as e:
            self.abort()
            raise SimulatorError(f"{self.path}: cannot write: {e.strerror}") from None

    def commit(self) -> None:
        try:
            for finish in self.finishers:
                finish()
            self.file.close()
            os.chmod(self.partial, 0o666 & ~_UMASK)  # as open() would have made it
            os.replace(self.partial, self.path)
            _COMMITTED.append(self.path)
        except OSError as e:
            self.abort()
            raise SimulatorError(f"{self.path}: cannot write: {e.strerror}") from None

    def abort(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass  # the data is being dropped anyway
        self.partial.unlink(missing_ok=True)


class OutputSet:
    """Files that appear together: all renamed into place on success, all dropped on error."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: list[AtomicFile] = []

    def open(self, relative: str) -> AtomicFile:
        f = AtomicFile(self.root / relative)
        self.files.append(f)
        return f

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            for f in self.files:
                f.abort()
            return
        for k, f in enumerate(self.files):
            try:
                f.commit()
            except BaseException:
                for rest in self.files[k + 1 :]:
                    rest.abort()
                raise


class EventSink(Protocol):
    """Where arrived events go: a file, or nowhere (counted only)."""

    count: int

    def write(self, records: list[tuple]) -> None: ...


class JsonlSink:
    """Encode event tuples as JSON lines into a file."""

    def __init__(self, out: AtomicFile, encode) -> None:
        self.out = out
        self.encode = encode
        self.count = 0

    def write(self, records: list[tuple]) -> None:
        if records:
            self.out.write(self.encode(records))
            self.count += len(records)


class NullSink:
    """Count events and drop them (for benchmarks)."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, records: list[tuple]) -> None:
        self.count += len(records)


class RowWriter(Protocol):
    """Where the ledger writes one truth file's rows."""

    def add(self, row: dict, key: bytes | None = None) -> None: ...

    def flush(self) -> None: ...


class JsonlRows:
    """Rows as JSON lines, buffered and written in blocks.

    A row given a ``key`` is written after the key in hex and a tab: a shard's file, merged
    with the others' by that prefix (``merge_keyed``).
    """

    def __init__(self, out: AtomicFile) -> None:
        self.out = out
        self._buffer = bytearray()
        out.finishers.append(self.flush)  # nothing buffered is left behind at commit

    def add(self, row: dict, key: bytes | None = None) -> None:
        if key is not None:
            self._buffer += key.hex().encode() + b"\t"
        self._buffer += orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
        if len(self._buffer) >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self.out.write(self._buffer)
            self._buffer.clear()


class ParquetRows:
    """Rows as a Parquet file with a fixed schema (typed columns), a row group at a time.

    Rows are gathered into one list per column and converted a column at a time.
    """

    def __init__(self, out: AtomicFile, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.schema = schema
        self._names = schema.names
        self._columns: list[list] = [[] for _ in self._names]
        self._size = 0
        self._writer = pq.ParquetWriter(out.file, schema, compression="zstd")
        out.finishers.append(self.close)

    def add(self, row: dict, key: bytes | None = None) -> None:
        get = row.get
        for column, name in zip(self._columns, self._names):
            column.append(get(name))
        self._size += 1
        if self._size >= _GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._size:
            import pyarrow as pa

            arrays = [
                pa.array(column, type=field.type)
                for column, field in zip(self._columns, self.schema)
            ]
            self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
            for column in self._columns:
                column.clear()
            self._size = 0

    def close(self) -> None:
        self.flush()
        self._writer.close()


class RowSink:
    """Events as rows (``to_row`` of each event tuple) into a row writer, each with its
    merge key when ``key`` is given."""

    def __init__(
        self,
        rows: RowWriter,
        to_row: Callable[[tuple], dict],
        key: Callable[[tuple], bytes] | None = None,
    ) -> None:
        self.rows = rows
        self.to_row = to_row
        self.key = key
        self.count = 0

    def write(self, records: list[tuple]) -> None:
        add, to_row, key = self.rows.add, self.to_row, self.key
        for r in records:
            add(to_row(r), key(r) if key else None)
        self.count += len(records)
