"""Reading ISO times and event lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionizer import SessionizerError
from sessionizer.records import format_ts, parse_ts, read_events

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(times)
def test_parse_ts_agrees_with_datetime_and_round_trips(dt):
    text = dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    ms = parse_ts(text)
    assert ms == (dt - EPOCH) // timedelta(milliseconds=1)
    assert format_ts(ms) == text


def test_parse_ts_accepts_offsets_and_rejects_naive_or_garbage():
    assert parse_ts("2026-01-05T10:30:00.000+01:00") == parse_ts("2026-01-05T09:30:00.000Z")
    for bad in [
        "2026-01-05T09:30:00.000",
        "2026-13-05T09:30:00.000Z",
        "2026-01-05T24:00:00.000Z",
        "yesterday",
        42,
        None,
    ]:
        with pytest.raises(ValueError):
            parse_ts(bad)


def test_read_events_names_line_and_field():
    lines = [
        b'{"event_id": "a", "type": "search", "user_id": "u", "ts": "2026-01-05T09:30:00.000Z"}',
        b'{"event_id": "b", "type": "click", "user_id": "u", "ts": "2026-01-05T09:30:01.000Z",'
        b' "position": 0}',
    ]
    with pytest.raises(SessionizerError, match=r"^f\.jsonl:2: position: expected a 1-based rank"):
        list(read_events(lines, "f.jsonl"))
