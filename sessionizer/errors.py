"""The sessionizers' one root exception."""

from __future__ import annotations


class SessionizerError(Exception):
    """Bad input or configuration: a one-line message naming where, what and why."""
