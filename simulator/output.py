"""Where the simulator's output goes: JSON lines or Parquet files written atomically, or nowhere.

Rows (events, and the ledger's true visits, searches and events) go to a row writer as
typed columns, a batch at a time: ``JsonlRows`` or ``ParquetRows``; pyarrow is imported
only when Parquet is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Protocol

import numpy as np

from simulator.errors import SimulatorError
from simulator.table import Events, concat, size
from simulator.text import Column, json_lines

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "committed_files",
    "AtomicFile",
    "EventRows",
    "EventSink",
    "JsonlRows",
    "NullSink",
    "OutputSet",
    "ParquetRows",
    "RowWriter",
]

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: mkstemp makes 0600 files; a finished one gets the usual mode
KEY = "_key"  # the merge key's column in a shard's Parquet file
_FLUSH_BYTES = 1 << 20  # JSON lines are gathered into one buffer and written in blocks


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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
    """Where arrived events go (a batch of columns): a file, or nowhere (counted only)."""

    count: int

    def write(self, events: Events) -> None: ...


class NullSink:
    """Count events and drop them (for benchmarks)."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, events: Events) -> None:
        self.count += size(events)


class RowWriter(Protocol):
    """Where rows go as typed columns: one file's rows, a batch at a time."""

    def add_columns(self, columns: list[Column], n: int, keys: np.ndarray | None = None) -> None:
        """Add ``n`` rows (each after its merge key in ``keys``, when given)."""
        ...

    def flush(self) -> None: ...


class JsonlRows:
    """Rows as JSON lines, rendered a batch at a time (``text.json_lines``) and written in
    blocks.

    A row given a key is written after the key (hexadecimal digits and a tab): a shard's
    file, merged with the others' by that prefix.
    """

    def __init__(self, out: AtomicFile) -> None:
        self.out = out
        self._buffer = bytearray()
        out.finishers.append(self.flush)  # nothing buffered is left behind at commit

    def add_columns(self, columns: list[Column], n: int, keys: np.ndarray | None = None) -> None:
        """Render ``n`` rows and buffer them."""
        self._buffer += b"".join(json_lines(columns, n, keys))
        if len(self._buffer) >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self.out.write(self._buffer)
            self._buffer.clear()


class ParquetRows:
    """Rows as a Parquet file with a fixed schema (typed columns), a row group per batch.

    A column the batch does not have is all nulls. ``keyed``: each row's merge key goes in
    a last column, ``_key`` (a shard's file, merged with the others' by it).
    """

    def __init__(self, out: AtomicFile, schema: pa.Schema, keyed: bool = False) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.schema = schema.append(pa.field(KEY, pa.string())) if keyed else schema
        self._writer = pq.ParquetWriter(out.file, self.schema, compression="zstd")
        out.finishers.append(self.close)

    def add_columns(self, columns: list[Column], n: int, keys: np.ndarray | None = None) -> None:
        """Convert ``n`` rows to Arrow arrays of the schema's types and write them."""
        import pyarrow as pa

        from simulator.arrow import arrow_array

        by_name = {c.name: c for c in columns}
        if keys is not None:
            by_name[KEY] = Column(KEY, "str", keys)
        arrays = [
            arrow_array(by_name[f.name], f.type) if f.name in by_name else pa.nulls(n, f.type)
            for f in self.schema
        ]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def flush(self) -> None:
        """Nothing is buffered: each batch is written as it comes."""

    def close(self) -> None:
        self._writer.close()


class EventRows:
    """Arrived events into a row writer, gathered into batches of ``BATCH`` events and
    turned into typed columns (``columns_of``) once per batch, each row after its merge key
    when ``key`` is given."""

    BATCH = 16_384

    def __init__(
        self,
        rows: RowWriter,
        out: AtomicFile,
        columns_of: Callable[[Events], list[Column]],
        key: Callable[[Events], np.ndarray] | None = None,
    ) -> None:
        self.rows = rows
        self.columns_of = columns_of
        self.key = key
        self.count = 0
        self._chunks: list[Events] = []
        self._gathered = 0
        out.finishers.insert(0, self.flush)  # before the writer's own finisher

    def write(self, events: Events) -> None:
        n = size(events)
        if n:
            self._chunks.append(events)
            self.count += n
            self._gathered += n
            if self._gathered >= self.BATCH:
                self.flush()

    def flush(self) -> None:
        """Write the gathered events."""
        if self._chunks:
            batch = concat(self._chunks)
            self._chunks, self._gathered = [], 0
            keys = self.key(batch) if self.key is not None else None
            self.rows.add_columns(self.columns_of(batch), size(batch), keys)
