"""A third-party style sessionizer: satisfies the protocol without subclassing anything.

It puts every event of a user in one session, emitted at end of input (a deliberately
naive engine, to check that plugins load and are scored like any other).
"""

from __future__ import annotations

from sessionizer import Counts, Session


class WholeUser:
    def __init__(self, config) -> None:
        self.config = config
        self.counts = Counts()

    def sessionize(self, events):
        by_user: dict[str, dict[str, object]] = {}
        for e in events:
            seen = by_user.setdefault(e.user_id, {})
            if e.event_id in seen:
                self.counts.duplicates += 1
                continue
            seen[e.event_id] = e
            self.counts.accepted += 1
        for user_id in sorted(by_user):
            evs = sorted(by_user[user_id].values(), key=lambda e: e.ts)
            yield Session(user_id, evs[0].ts, evs[-1].ts, evs)
