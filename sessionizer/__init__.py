"""Sessionizers: turn an event stream into sessions and CTR metrics (docs/semantics.md).

This is the package's public face: the harness (``sessionsim``) imports only these names.
Each name is loaded on first use, so importing the face costs nothing until a name is
used (the command line's --help imports no Arrow); the SQL of the DuckDB backend is here
too (DuckDB is an extra).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessionizer.base import (
        APP_CLOSE,
        APP_OPEN,
        CLICK,
        EVENT_TYPES,
        RESULTS,
        SEARCH,
        Counts,
        Event,
        Late,
        Session,
        SessionConfig,
        Sessionizer,
    )
    from sessionizer.batch import batch_sessions
    from sessionizer.columns import (
        SCHEMA,
        LateColumns,
        SessionColumns,
        batch_of,
        columns_of,
        events_of,
        outputs_of_columns,
    )
    from sessionizer.errors import SessionizerError
    from sessionizer.gap import GapSessionizer
    from sessionizer.metrics import (
        CtrTotals,
        SearchColumns,
        SearchOutcome,
        search_columns,
        searches_of,
    )
    from sessionizer.records import (
        format_ts,
        late_line,
        parse_ts,
        read_events,
        session_line,
        session_lines,
    )
    from sessionizer.registry import known_names, resolve
    from sessionizer.runloop import ColumnOutputs, Outputs, outputs_of

# Where each name of the face lives.
_WHERE = {
    "APP_CLOSE": "sessionizer.base",
    "APP_OPEN": "sessionizer.base",
    "CLICK": "sessionizer.base",
    "ColumnOutputs": "sessionizer.runloop",
    "Counts": "sessionizer.base",
    "CtrTotals": "sessionizer.metrics",
    "EVENT_TYPES": "sessionizer.base",
    "Event": "sessionizer.base",
    "GapSessionizer": "sessionizer.gap",
    "Late": "sessionizer.base",
    "LateColumns": "sessionizer.columns",
    "Outputs": "sessionizer.runloop",
    "RESULTS": "sessionizer.base",
    "SCHEMA": "sessionizer.columns",
    "SEARCH": "sessionizer.base",
    "SearchColumns": "sessionizer.metrics",
    "SearchOutcome": "sessionizer.metrics",
    "Session": "sessionizer.base",
    "SessionColumns": "sessionizer.columns",
    "SessionConfig": "sessionizer.base",
    "Sessionizer": "sessionizer.base",
    "SessionizerError": "sessionizer.errors",
    "batch_of": "sessionizer.columns",
    "batch_sessions": "sessionizer.batch",
    "columns_of": "sessionizer.columns",
    "events_of": "sessionizer.columns",
    "format_ts": "sessionizer.records",
    "known_names": "sessionizer.registry",
    "late_line": "sessionizer.records",
    "outputs_of": "sessionizer.runloop",
    "outputs_of_columns": "sessionizer.columns",
    "parse_ts": "sessionizer.records",
    "read_events": "sessionizer.records",
    "resolve": "sessionizer.registry",
    "search_columns": "sessionizer.metrics",
    "searches_of": "sessionizer.metrics",
    "session_line": "sessionizer.records",
    "session_lines": "sessionizer.records",
}

__all__ = [
    "SCHEMA",
    "APP_CLOSE",
    "APP_OPEN",
    "CLICK",
    "EVENT_TYPES",
    "RESULTS",
    "SEARCH",
    "ColumnOutputs",
    "Counts",
    "CtrTotals",
    "Event",
    "GapSessionizer",
    "Late",
    "LateColumns",
    "Outputs",
    "SearchColumns",
    "SearchOutcome",
    "Session",
    "SessionColumns",
    "SessionConfig",
    "Sessionizer",
    "SessionizerError",
    "batch_of",
    "batch_sessions",
    "columns_of",
    "events_of",
    "format_ts",
    "late_line",
    "outputs_of",
    "outputs_of_columns",
    "parse_ts",
    "read_events",
    "read_events_sql",
    "session_line",
    "sessions_sql",
    "known_names",
    "resolve",
    "search_columns",
    "searches_of",
    "session_lines",
]


def sessions_sql(config: SessionConfig) -> str:
    """The DuckDB SQL of the ``duckdb`` sessionizer for ``config`` (sessions, searches, CTR)."""
    from sessionizer import duckdb_engine  # DuckDB is an extra: imported on first use

    return duckdb_engine.sessions_sql(config)


def read_events_sql(path: str) -> str:
    """The DuckDB SQL that reads an events file (JSON lines or Parquet) as typed columns."""
    from sessionizer import duckdb_engine

    return duckdb_engine.read_events_sql(path)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sessionizer' has no attribute {name!r}")
