"""The root of every error sessionsim raises (``sessionsim.Error``), and the harness's own.

One tree for the whole distribution: the simulator's ``SimulatorError``, the sessionizers'
``SessionizerError`` and the harness's ``SessionsimError`` (bad input: a one-line message,
exit status 2 on the command line) and ``RunFailed`` (a live run whose sink did not do its
job: exit status 1) all derive from ``Error``, so ``except sessionsim.Error`` catches any of
them. This module imports nothing: the simulator and the sessionizers import it, and
nothing else of the harness.
"""

from __future__ import annotations

__all__ = [
    "GATE_FAILED",
    "LAG_EXCEEDED",
    "Error",
    "GateFailed",
    "LagExceeded",
    "RunFailed",
    "SessionsimError",
]

GATE_FAILED = 3  # exit status when a gate (--max-ctr-error, --min-pairwise-f1) fails
LAG_EXCEEDED = 4  # exit status when a paced run falls further behind than --max-lag


class Error(Exception):
    """Anything sessionsim refuses or fails at, with a one-line message."""


class SessionsimError(Error, ValueError):
    """Bad input found by the harness (a flag, a run directory, a truth or sessions file)."""


class RunFailed(Error, RuntimeError):
    """A live run whose sink did not do its job (it gave up, or acknowledged none, or too
    little, of what it was offered): one line on stderr and exit status 1. (A write that
    fails, a full disk, is bad input's one line and exit status 2, as everywhere.)"""


class LagExceeded(RunFailed):
    """A paced run that fell further behind its schedule than ``--max-lag``: the generator
    could not keep up, so the load it offered was not the load asked for (exit status 4)."""


class GateFailed(AssertionError):
    """A report missed a gate in Python (``Report.gate``; the message names each one): an
    assertion, so a test that gates a report fails as any assertion does."""
