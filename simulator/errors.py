"""The simulator's one root exception."""

from __future__ import annotations


class SimulatorError(Exception):
    """Bad input to the simulator: a one-line message naming file, field and reason."""
