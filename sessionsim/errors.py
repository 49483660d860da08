"""The harness's root error: bad input to a sessionsim command (a one-line message)."""

from __future__ import annotations

__all__ = ["SessionsimError"]


class SessionsimError(ValueError):
    """Bad input found by the harness (a flag, a run directory, a truth or sessions file).

    The simulator (``SimulatorError``) and the sessionizers (``SessionizerError``) have their
    own; the command line turns any of the three into one line and exit status 2.
    """
