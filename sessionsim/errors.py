"""The harness's root error: bad input to a sessionsim command (a one-line message)."""

from __future__ import annotations

__all__ = ["RunFailed", "SessionsimError"]


class SessionsimError(ValueError):
    """Bad input found by the harness (a flag, a run directory, a truth or sessions file).

    The simulator (``SimulatorError``) and the sessionizers (``SessionizerError``) have their
    own; the command line turns any of the three into one line and exit status 2.
    """


class RunFailed(RuntimeError):
    """A live run whose sink did not do its job (it gave up, or acknowledged none, or too
    little, of what it was offered): one line on stderr and exit status 1. (A write that
    fails, a full disk, is bad input's one line and exit status 2, as everywhere.)"""
