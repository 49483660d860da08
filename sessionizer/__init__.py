"""Sessionizers: turn an event stream into sessions and CTR metrics (SESSIONS.md).

This is the package's public face: the harness (``sessionsim``) imports only these names.
The SQL of the DuckDB backend is here too, imported on first use (DuckDB is an extra).
"""

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
