"""Child processes of the engines (Bytewax peers, JVMs): each dies with its parent, ends
with the call that started it, and a failure is one line.

``die_with_parent`` is Linux's ``PR_SET_PDEATHSIG``: a SIGKILLed run leaves no peer, JVM or
cluster daemon behind. ``Child`` runs a command with it, its output to a log file, and kills
it (TERM, then KILL) when the block ends for any reason: a stop, an error, the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from sessionizer.errors import SessionizerError

__all__ = ["Child", "die_with_parent", "free_ports", "java", "last_error"]

_PR_SET_PDEATHSIG = 1
TERM_WAIT_S = 3.0  # a child asked to stop gets this long before SIGKILL


def die_with_parent(parent_pid: int) -> None:
    """In a child: be killed when the parent dies (Linux ``PR_SET_PDEATHSIG``); exit at once
    if it already has (it died before the call)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def java(engine: str) -> str:
    """The ``java`` to run an engine with (``JAVA_HOME`` first, then the path); its absence
    is one line naming the engine."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise SessionizerError(
            f"sessionizer {engine!r}: needs Java 17 or later (no java on PATH, no JAVA_HOME)"
        )
    return found


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (free when asked: a race is possible)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
        return ports


def last_error(log: Path, limit: int = 300) -> str:
    """The most telling line of a JVM's log: the deepest ``Caused by``, else the first
    exception line, else the last line; cut to ``limit`` characters."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    causes = [ln for ln in lines if ln.startswith("Caused by:")]
    errors = [ln for ln in lines if "Exception" in ln or "Error" in ln]
    line = (causes or errors or [ln for ln in lines if ln.strip()] or ["(empty log)"])[-1]
    line = line.removeprefix("Caused by: ").strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


class Child:
    """A command in its own process group, logging to ``log``, killed when the block ends."""

    def __init__(
        self,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv, self.log, self.env, self.cwd = list(argv), log, env, cwd
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Child:
        # util-linux's setpriv sets PR_SET_PDEATHSIG before it execs the command (no
        # preexec_fn in a process that has threads): a SIGKILLed parent leaves no JVM.
        setpriv = shutil.which("setpriv")
        argv = [setpriv, "--pdeathsig", "KILL", "--", *self.argv] if setpriv else self.argv
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # a Ctrl-C reaches us; we end it (never half-done)
            )
        return self

    def wait(self, timeout_s: float | None = None) -> int:
        """Wait for the child to end (in short steps, so a signal to us is handled at once)."""
        assert self.process is not None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                return self.process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() > deadline:
                    raise

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """TERM the child's process group, KILL it after ``TERM_WAIT_S``; then KILL what is
        left of the group (a grandchild, such as PySpark's JVM, outlives its parent on a
        TERM while its shutdown hooks run). Idempotent."""
        p = self.process
        if p is None:
            return
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=TERM_WAIT_S)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)  # the group is this child's alone (a session)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=10.0)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
