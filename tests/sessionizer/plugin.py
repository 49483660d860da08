"""A third-party style sessionizer: satisfies the protocol without subclassing anything.

It puts every event of a user in one session, emitted at end of input (a deliberately
naive engine, to check that plugins load and are scored like any other). It keeps no
counts: the harness derives them from what it reads and emits.
"""

from __future__ import annotations

from sessionizer import Session


class WholeUser:
    def __init__(self, config) -> None:
        self.config = config

    def sessionize(self, events):
        by_user: dict[str, dict[str, object]] = {}
        for e in events:
            seen = by_user.setdefault(e.user_id, {})
            seen.setdefault(e.event_id, e)  # a repeated id is a duplicate: dropped
        for user_id in sorted(by_user):
            evs = sorted(by_user[user_id].values(), key=lambda e: e.ts)
            yield Session(user_id, evs[0].ts, evs[-1].ts, evs)
