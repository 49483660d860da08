"""The batch definition of sessions (docs/semantics.md section 2): the oracle streaming must match.

Written independently of the streaming code, for tests (ours and plugin authors').
"""

from __future__ import annotations

from collections.abc import Iterable

from sessionizer.base import APP_CLOSE, APP_OPEN, Event, Session, SessionConfig

__all__ = ["batch_sessions"]


def batch_sessions(events: Iterable[Event], config: SessionConfig) -> list[Session]:
    """Return the sessions of ``events`` (in arrival order), sorted by (user, start)."""
    seen: set[str] = set()
    by_user: dict[str, list[tuple[int, int, Event]]] = {}
    for arrival, e in enumerate(events):
        if config.dedup and e.event_id in seen:
            continue
        seen.add(e.event_id)
        by_user.setdefault(e.user_id, []).append((e.ts, arrival, e))
    out = []
    for user_id in sorted(by_user):
        current: list[Event] = []
        for _, _, e in sorted(by_user[user_id]):
            if current:
                prev = current[-1]
                cut = (
                    e.ts - prev.ts > config.gap_ms
                    or (config.split_on_app_open and e.type == APP_OPEN)
                    or (config.close_on_app_close and prev.type == APP_CLOSE)
                )
                if cut:
                    out.append(Session(user_id, current[0].ts, prev.ts, current))
                    current = []
            current.append(e)
        out.append(Session(user_id, current[0].ts, current[-1].ts, current))
    return out
