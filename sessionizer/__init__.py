"""Sessionizers: turn an event stream into sessions and CTR metrics (SESSIONS.md)."""

from sessionizer.base import Counts, Event, Late, Session, SessionConfig, Sessionizer
from sessionizer.batch import batch_sessions
from sessionizer.errors import SessionizerError
from sessionizer.gap import GapSessionizer
from sessionizer.metrics import CtrTotals, SearchOutcome, searches_of
from sessionizer.registry import known_names, resolve

__all__ = [
    "Counts",
    "CtrTotals",
    "Event",
    "GapSessionizer",
    "Late",
    "SearchOutcome",
    "Session",
    "SessionConfig",
    "Sessionizer",
    "SessionizerError",
    "batch_sessions",
    "known_names",
    "resolve",
    "searches_of",
]
