"""Reading ISO times and event lines."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson
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


offsets = st.sampled_from(["Z", "+00:00", "+01:00", "-05:30"])
kinds = st.sampled_from(["app_open", "search", "results", "click", "app_close", "view"])


@given(times, offsets, kinds, st.one_of(st.none(), st.integers(-1, 12), st.booleans()))
def test_fast_decoding_agrees_with_the_slow_path_line_by_line(dt, offset, kind, position):
    """msgspec decodes every line; whatever it accepts must equal the validated slow path."""
    from sessionizer.records import _slow

    stamp = dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}{offset}"
    obj = {"event_id": "e", "type": kind, "user_id": "u", "ts": stamp, "items": ["a", "b"]}
    if position is not None:
        obj["position"] = position
    line = orjson.dumps(obj)
    try:
        expected = _slow(line, "f", 1)
    except SessionizerError as e:
        with pytest.raises(SessionizerError, match=re.escape(str(e))):
            list(read_events([line], "f"))
    else:
        assert list(read_events([line], "f")) == [expected]


def test_fast_decoding_agrees_on_a_simulated_run(small_run):
    from sessionizer.records import _slow

    with open(small_run / "events.jsonl", "rb") as f:
        lines = f.readlines()
    assert list(read_events(lines, "f")) == [_slow(line, "f", 1) for line in lines]
    assert list(read_events([b"\n", *lines[:3], b"  \n"], "f")) == [
        _slow(line, "f", 1) for line in lines[:3]
    ]
