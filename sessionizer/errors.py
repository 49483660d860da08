"""The sessionizers' one root exception."""

from __future__ import annotations

from sessionsim.errors import Error  # the distribution's one root (imports nothing)


class SessionizerError(Error):
    """Bad input or configuration: a one-line message naming where, what and why."""
