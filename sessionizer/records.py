"""The JSON side of the contract: reading events, writing sessions and late events."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated, Literal

import msgspec
import numpy as np
import orjson

from sessionizer.base import CLICK, EVENT_TYPES, RESULTS, Event, Late, Session
from sessionizer.columns import SessionColumns
from sessionizer.errors import SessionizerError

__all__ = [
    "format_ts",
    "late_line",
    "parse_ts",
    "read_events",
    "session_line",
    "session_lines",
]

_DAY_MS = 86_400_000
_days: dict[str, int] = {}


def parse_ts(text: object) -> int:
    """Return an ISO 8601 time as epoch milliseconds; raise ValueError if it is not one."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 time (got {text!r})")
    # Fast path for the canonical form 2026-01-05T09:30:00.123Z.
    if len(text) == 24 and text[10] == "T" and text[19] == "." and text[23] == "Z":
        day = _days.get(text[:10])
        if day is None and text[4] == "-" and text[7] == "-":
            try:
                day = round(datetime.fromisoformat(text[:10] + "T00:00:00+00:00").timestamp())
            except ValueError:
                day = None
            else:
                day *= 1000
                if len(_days) < 100_000:
                    _days[text[:10]] = day
        hh, mm, ss, ms = text[11:13], text[14:16], text[17:19], text[20:23]
        if (
            day is not None
            and text[13] == ":"
            and text[16] == ":"
            and (hh + mm + ss + ms).isdigit()
            and hh < "24"
            and mm < "60"
            and ss < "60"
        ):
            return day + int(hh) * 3_600_000 + int(mm) * 60_000 + int(ss) * 1000 + int(ms)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected an ISO 8601 time (got {text!r})") from None
    if dt.tzinfo is None:
        raise ValueError(f"expected a time zone, e.g. a trailing Z (got {text!r})")
    return round(dt.timestamp() * 1000)


def format_ts(ms: int) -> str:
    """Return epoch milliseconds as ISO 8601 UTC with milliseconds and ``Z``."""
    sec, rem = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{rem:03d}Z"


def _event(obj: object) -> Event:
    if not isinstance(obj, dict):
        raise ValueError(f"(line): expected a JSON object (got {type(obj).__name__})")
    for name in ("event_id", "user_id"):
        if not isinstance(obj.get(name), str) or not obj[name]:
            raise ValueError(f"{name}: expected a non-empty string (got {obj.get(name)!r})")
    kind = obj.get("type")
    if kind not in EVENT_TYPES:
        raise ValueError(f"type: expected one of {sorted(EVENT_TYPES)} (got {kind!r})")
    try:
        ts = parse_ts(obj.get("ts"))
    except ValueError as e:
        raise ValueError(f"ts: {e}") from None
    items = position = None
    if kind == RESULTS:
        shown = obj.get("items")
        if not isinstance(shown, list):
            raise ValueError(f"items: expected a list of item ids (got {shown!r})")
        items = len(shown)
    elif kind == CLICK:
        position = obj.get("position")
        if not isinstance(position, int) or isinstance(position, bool) or position < 1:
            raise ValueError(f"position: expected a 1-based rank (got {position!r})")
    search_id = obj.get("search_id")
    if search_id is not None and not isinstance(search_id, str):
        raise ValueError(f"search_id: expected a string (got {search_id!r})")
    return Event(
        event_id=obj["event_id"],
        type=kind,
        user_id=obj["user_id"],
        ts=ts,
        search_id=search_id,
        items=items,
        position=position,
    )


class _Line(msgspec.Struct):
    """An event line as docs/semantics.md section 1 types it (other fields are ignored)."""

    event_id: Annotated[str, msgspec.Meta(min_length=1)]
    type: Literal["app_open", "search", "results", "click", "app_close"]
    user_id: Annotated[str, msgspec.Meta(min_length=1)]
    ts: datetime
    items: list | None = None
    position: Annotated[int, msgspec.Meta(ge=1)] | None = None
    search_id: str | None = None


def read_events(lines: Iterable[bytes | str], source: str) -> Iterator[Event]:
    """Parse JSON lines into events; a bad line raises SessionizerError with its number.

    Lines are decoded and typed by msgspec; a line it rejects is parsed again the slow way
    for an error message that names the field and the value.
    """
    decode = msgspec.json.Decoder(_Line).decode
    for number, line in enumerate(lines, 1):
        e: _Line | None
        try:
            e = decode(line)
        except msgspec.DecodeError:
            e = None
        else:
            if e.ts.tzinfo is None:  # a naive time: the slow path names the problem
                e = None
            else:
                ts = round(e.ts.timestamp() * 1000)
        if e is not None:  # Event by position (its field order): keywords double its cost
            kind = e.type
            if kind == RESULTS and e.items is not None:
                yield Event(e.event_id, kind, e.user_id, ts, e.search_id, len(e.items), None)
                continue
            if kind == CLICK and e.position is not None:
                yield Event(e.event_id, kind, e.user_id, ts, e.search_id, None, e.position)
                continue
            if kind not in (RESULTS, CLICK):
                yield Event(e.event_id, kind, e.user_id, ts, e.search_id, None, None)
                continue
        if (slow := _slow(line, source, number)) is not None:
            yield slow


def _slow(line: bytes | str, source: str, number: int) -> Event | None:
    """Parse a line the fast path refused; None for a blank line, else an Event or an error
    that names the line, the field and the value."""
    try:
        return _event(orjson.loads(line))
    except orjson.JSONDecodeError as e:
        if not line.strip():
            return None
        raise SessionizerError(f"{source}:{number}: (line): invalid JSON: {e}") from None
    except ValueError as e:
        raise SessionizerError(f"{source}:{number}: {e}") from None


def session_line(s: Session, searches: int, clicked: int, clicks: int) -> bytes:
    """Return a session in the output format, as one JSON line."""
    return orjson.dumps(
        {
            "session_id": s.session_id,
            "user_id": s.user_id,
            "start": format_ts(s.start),
            "end": format_ts(s.end),
            "event_ids": [e.event_id for e in s.events],
            "searches": searches,
            "clicked_searches": clicked,
            "clicks": clicks,
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


def session_lines(
    sessions: SessionColumns, searches: np.ndarray, clicked: np.ndarray, clicks: np.ndarray
) -> bytes:
    """Sessions as columns, in the output format of ``session_line``, as JSON lines."""
    users = sessions.user_id.to_pylist()
    starts, ends = sessions.start.tolist(), sessions.end.tolist()
    ids = sessions.event_ids().to_pylist()
    counts = zip(searches.tolist(), clicked.tolist(), clicks.tolist())
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    return b"".join(
        dumps(
            {
                "session_id": f"{user}@{start}",
                "user_id": user,
                "start": format_ts(start),
                "end": format_ts(end),
                "event_ids": event_ids,
                "searches": n,
                "clicked_searches": c,
                "clicks": k,
            },
            option=option,
        )
        for user, start, end, event_ids, (n, c, k) in zip(users, starts, ends, ids, counts)
    )


def late_line(late: Late) -> bytes:
    """Return a late event and its reason as one JSON line."""
    e = late.event
    event: dict[str, object] = {
        "event_id": e.event_id,
        "type": e.type,
        "user_id": e.user_id,
        "ts": format_ts(e.ts),
    }
    if e.search_id is not None:
        event["search_id"] = e.search_id
    if e.position is not None:
        event["position"] = e.position
    return orjson.dumps({"event": event, "reason": late.reason}, option=orjson.OPT_APPEND_NEWLINE)
