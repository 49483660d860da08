"""The run's summary (``truth/summary.json``): a typed record, the simulator's side of the
contract with the harness (which extends it for a live run)."""

from __future__ import annotations

import msgspec
import orjson

__all__ = ["Summary", "encode_summary"]


class Summary(msgspec.Struct, kw_only=True, frozen=True):
    """What a run simulated and delivered; the true and expected CTR (docs/semantics.md
    sections 4 and 5). A ratio over no searches is None."""

    events: int  # lines of events.jsonl: the deliveries
    sessions: int  # true visits
    generated_events: int
    delivered_events: int  # distinct events delivered at least once
    lost_events: int
    lost_by_type: dict[str, int]
    unsent_events: int
    duplicate_deliveries: int
    offline_buffered_events: int
    skewed_events: int
    searches: int
    clicked_searches: int
    clicks: int
    ctr: float | None
    clicks_per_search: float | None
    expected_ctr: float | None  # the click model's expectation over every search
    expected_ctr_served: float | None  # over the searches whose page was shown
    zero_result_searches: int
    abandoned_searches: int
    timed_out_searches: int
    observable_searches: int
    observable_clicked_searches: int
    observable_clicks: int
    observable_ctr: float | None
    dropped_visits: int
    backend_served: int
    backend_latency_p50_s: float | None
    backend_latency_p99_s: float | None
    simulated_s: float
    expected_arrivals_by_hour: list[float]


def encode_summary(summary: msgspec.Struct) -> bytes:
    """The summary as ``summary.json`` holds it: indented JSON, fields in declared order."""
    return orjson.dumps(msgspec.to_builtins(summary), option=orjson.OPT_INDENT_2) + b"\n"
