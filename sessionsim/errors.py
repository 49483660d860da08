"""The harness's root error: bad input to a sessionsim command (a one-line message)."""

from __future__ import annotations

__all__ = ["RunFailed", "SessionsimError"]


class SessionsimError(ValueError):
    """Bad input found by the harness (a flag, a run directory, a truth or sessions file).

    The simulator (``SimulatorError``) and the sessionizers (``SessionizerError``) have their
    own; the command line turns any of the three into one line and exit status 2.
    """


class RunFailed(RuntimeError):
    """A run that could not do its job (a sink that acknowledged nothing or gave up, a disk
    that is full): one line on stderr and exit status 1; the files it was writing are
    removed, not left half-written."""
