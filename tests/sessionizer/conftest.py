from __future__ import annotations

import pytest

from sessionizer import Late, Outputs, Session, SessionConfig, known_names, resolve
from sessionizer.base import Event
from tests.helpers import JVM_ENGINES

# Engines that need an optional dependency are skipped only when it is missing. The JVM
# engines take the same cases through the conformance kit (test_conformance_kit.py): a JVM
# and a job per run would make this file's every case cost seconds.
SESSIONIZERS = [n for n in known_names() if n not in JVM_ENGINES]


@pytest.fixture(params=SESSIONIZERS)
def sessionize(request):
    """Run the named sessionizer over events; return (sessions, lates, counts)."""
    factory = resolve(request.param)
    if getattr(factory, "batch_only", False) and request.node.get_closest_marker("streaming"):
        pytest.skip(f"{request.param} is a batch backend: no watermark, nothing is late")
    differs = getattr(factory, "differs", {})
    for marker in request.node.iter_markers("semantics"):
        for name in marker.args:
            if name in differs:
                pytest.skip(f"{request.param}: a documented difference: {differs[name]}")

    def run(events, gap_s=10, lateness_s=0, **options):
        config = SessionConfig(
            gap_ms=round(gap_s * 1000), lateness_ms=round(lateness_s * 1000), **options
        )
        sz = factory(config)
        emitted = Outputs.of(sz, iter(events))
        out = list(emitted)
        sessions = [o for o in out if isinstance(o, Session)]
        lates = [o for o in out if isinstance(o, Late)]
        assert len(sessions) + len(lates) == len(out)
        if hasattr(sz, "counts"):  # a backend's own tally agrees with what it emitted
            assert sz.counts == emitted.counts
        return sessions, lates, emitted.counts

    run.name = request.param
    return run


def ev(
    ts_s: float, event_id: str | None = None, user: str = "u1", kind: str = "search", **fields
) -> Event:
    """An event at ``ts_s`` seconds (epoch ms internally); the id defaults from user and ts."""
    return Event(event_id or f"{user}-{ts_s}", kind, user, round(ts_s * 1000), **fields)


def spans(sessions) -> list[tuple[str, float, float, int]]:
    """Sessions as sorted (user, start s, end s, events) for comparison."""
    return sorted((s.user_id, s.start / 1000, s.end / 1000, len(s.events)) for s in sessions)
