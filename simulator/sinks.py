"""Where the simulator's output goes: JSON lines files written atomically, or nowhere."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Protocol

from simulator.errors import SimulatorError

__all__ = ["AtomicFile", "EventSink", "JsonlSink", "NullSink", "OutputSet"]


class AtomicFile:
    """A file written under a hidden partial name and renamed into place by ``commit``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        try:
            self.file: BinaryIO = open(self.partial, "wb")  # noqa: SIM115 (closed in commit)
        except OSError as e:
            raise SimulatorError(f"{path}: cannot write: {e.strerror}") from None

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> None:
        self.file.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        self.file.close()
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
        for f in self.files:
            f.abort() if exc_type is not None else f.commit()


class EventSink(Protocol):
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
