"""The run directory the simulator writes: created, locked for one writer at a time (a
second writer is bad input), and cleared of what a dead or earlier run left there."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from simulator.errors import SimulatorError

__all__ = ["EARLIER_OUTPUTS", "lock_directory", "prepare_dir"]

_LOCKS: dict[Path, int] = {}  # output directories this process writes: their lock files


# A run directory's files (README: the run directory), whoever wrote them: a new run into
# the directory removes them first, so nothing of an earlier run sits beside its files.
EARLIER_OUTPUTS = (
    "events.jsonl",
    "events.parquet",
    "scenario.yaml",
    "truth/*.jsonl",
    "truth/*.parquet",
    "truth/summary.json",
    "report*.json",
    "sessions*.jsonl",
    "sweep.csv",
    "sweep.json",
    "sweep.png",
    "live_stats.csv",
)


def prepare_dir(out: Path) -> None:
    """Create ``out`` and ``out/truth`` and lock ``out`` for this process (a second writer
    is bad input); remove partial files and work directories a dead run left there, and
    the outputs of an earlier run (``EARLIER_OUTPUTS``). A file in the way is bad input."""
    if out.exists() and not out.is_dir():
        raise SimulatorError(f"{out}: output directory is a file")
    try:
        (out / "truth").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SimulatorError(f"{out}: cannot create output directory: {e.strerror}") from None
    lock_directory(out)
    for stale in [*out.glob(".*.partial"), *(out / "truth").glob(".*.partial")]:
        stale.unlink(missing_ok=True)  # we hold the lock: their writer is gone
    for work in out.glob(".shards-*"):  # a killed sharded run's work directory
        shutil.rmtree(work, ignore_errors=True)
    for pattern in EARLIER_OUTPUTS:  # an earlier run's files: none may pass for this run's
        for stale in out.glob(pattern):
            if stale.is_file():
                stale.unlink(missing_ok=True)


def lock_directory(out: Path) -> None:
    """Hold an exclusive lock on ``out`` until this process ends (the kernel drops it even
    on SIGKILL); raise SimulatorError if another process holds it."""
    key = out.resolve()
    if key in _LOCKS:
        return
    path = out / ".sessionsim.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise SimulatorError(f"{out}: cannot lock output directory: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(fd)
        os.close(fd)
        raise SimulatorError(
            f"{out}: another sessionsim run is writing here{holder}; "
            "wait for it or choose another --out"
        ) from None
    _LOCKS[key] = fd  # the file stays empty: the directory's bytes do not depend on the pid


def _lock_holder(fd: int) -> str:
    """`` (pid N)`` for the process holding the lock on ``fd`` (from /proc/locks), or ''."""
    inode = os.fstat(fd).st_ino
    try:
        with open("/proc/locks") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].endswith(f":{inode}"):
                    return f" (pid {fields[4]})"
    except OSError:
        pass
    return ""
