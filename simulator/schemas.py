"""Parquet schemas of the simulator's files: typed columns, times as UTC timestamps (ms).

The columns are the JSON fields of the same files (README, "Outputs of simulate"); pyarrow is
imported only when a schema is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["schema"]


def schema(name: str) -> pa.Schema:
    """Return the schema of ``events``, ``truth/sessions``, ``truth/searches`` or
    ``truth/events``."""
    import pyarrow as pa

    time = pa.timestamp("ms", tz="UTC")
    text, count = pa.string(), pa.int32()
    fields = {
        "events": [
            ("event_id", text),
            ("type", text),
            ("user_id", text),
            ("ts", time),
            ("received_at", time),
            ("query", text),
            ("items", pa.list_(text)),
            ("item", text),
            ("position", count),
            ("search_id", text),
            ("platform", text),
            ("device", text),
            ("app_version", text),
            ("country", text),
        ],
        "truth/sessions": [
            ("session_id", text),
            ("user_id", text),
            ("start", time),
            ("end", time),
            ("event_ids", pa.list_(text)),
            ("searches", count),
            ("clicked_searches", count),
            ("clicks", count),
        ],
        "truth/searches": [
            ("search_id", text),
            ("session_id", text),
            ("user_id", text),
            ("ts", time),
            ("query", text),
            ("results", count),
            ("clicks", count),
            ("clicked", pa.bool_()),
            ("p_click", pa.float64()),
            ("items", pa.list_(text)),
            ("clicked_positions", pa.list_(count)),
            ("examination", pa.list_(pa.float64())),
            ("attractiveness", pa.list_(pa.float64())),
            ("satisfaction", pa.list_(pa.float64())),
            ("propensity", pa.float64()),
        ],
        "truth/events": [
            ("event_id", text),
            ("session_id", text),
            ("type", text),
            ("true_ts", time),
            ("ts", time),
            ("deliveries", count),
            ("received_at", time),
            ("delay_s", pa.float64()),
            ("offline", pa.bool_()),
            ("batch", pa.int64()),
            ("request", pa.int64()),
        ],
    }[name]
    return pa.schema(fields)
