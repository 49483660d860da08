"""The ``sessionsim`` command's entry point: Ctrl-C while the command loads is a quiet exit.

It imports nothing heavy itself, so an interruption during the imports (the first second of
any command) is caught here, as one line and exit status 130, not a traceback.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["main"]


def main() -> None:
    """Load the command line and run it."""
    try:
        from sessionsim.cli import main as command
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one Ctrl-C, one line: no second one
        sys.stderr.write("sessionsim: interrupted; no partial output was kept\n")
        sys.stderr.flush()
        # Nothing is open yet, and a half-imported module must not meet the interpreter's
        # exit (it could end the process by SIGINT after this line): exit here, 130.
        os._exit(130)
    command()
