"""The simulator's one root exception."""

from __future__ import annotations

from sessionsim.errors import Error  # the distribution's one root (imports nothing)


class SimulatorError(Error):
    """Bad input to the simulator: a one-line message naming file, field and reason."""
