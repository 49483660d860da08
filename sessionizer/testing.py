"""A conformance kit for sessionizer authors: the edge cases of docs/semantics.md section 6.

    from sessionizer.testing import run_conformance

    def test_my_sessionizer_conforms():
        assert run_conformance(MySessionizer) == []

``run_conformance(factory)`` builds the sessionizer from a ``SessionConfig`` for each case,
runs it on a small hand-built stream and returns one line per failed case (empty when it
conforms). A batch backend (``batch_only=True``, or a factory with ``batch_only = True``)
skips the cases that need a watermark; a factory that documents departures in ``differs``
(a dict of rule name to reason: ``dedup``, ``markers``, ``global_watermark``,
``event_watermark`` (the watermark moves with each event, not per micro-batch),
``finality`` (a session is final once ``W > end + G``, strictly)) skips the cases that need
those rules. The builders ``event`` and ``spans`` are for your own tests.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from sessionizer.base import Counts, Event, Late, Session, SessionConfig
from sessionizer.metrics import CtrTotals, searches_of
from sessionizer.runloop import Outputs

__all__ = ["CASES", "event", "run_conformance", "spans"]

GAP_S = 10


def event(
    ts_s: float, event_id: str | None = None, user: str = "u1", kind: str = "search", **fields: Any
) -> Event:
    """An event at ``ts_s`` seconds (epoch ms inside); the id defaults from user and time."""
    return Event(
        event_id=event_id or f"{user}-{ts_s}",
        type=kind,
        user_id=user,
        ts=round(ts_s * 1000),
        **fields,
    )


def spans(sessions: list[Session]) -> list[tuple[str, float, float, int]]:
    """Sessions as sorted (user, start s, end s, number of events)."""
    return sorted((s.user_id, s.start / 1000, s.end / 1000, len(s.events)) for s in sessions)


class _Runner:
    def __init__(self, factory: Callable) -> None:
        self.factory = factory

    def __call__(
        self, events: list[Event], lateness_s: float = 0, **options: Any
    ) -> tuple[list[Session], list[Late], Counts]:
        config = SessionConfig(gap_ms=GAP_S * 1000, lateness_ms=round(lateness_s * 1000), **options)
        emitted = Outputs.of(self.factory(config), iter(events))
        bound = 10 * len(events) + 10  # a session or a late event per event, and then some
        outputs = iter(emitted)
        out = list(itertools.islice(outputs, bound + 1))
        if len(out) > bound:
            raise AssertionError(f"more than {bound} outputs for {len(events)} events: endless?")
        out.extend(outputs)  # the stream ended: this closes it (its counts are then known)
        sessions = [o for o in out if isinstance(o, Session)]
        lates = [o for o in out if isinstance(o, Late)]
        return sessions, lates, emitted.counts


def _expect(got: object, want: object, what: str) -> None:
    if got != want:
        raise AssertionError(f"{what}: expected {want}, got {got}")


def _case_01(run: _Runner) -> None:
    sessions, lates, counts = run([])
    _expect((sessions, lates, counts.accepted), ([], [], 0), "no events")


def _case_02(run: _Runner) -> None:
    _expect(spans(run([event(5)])[0]), [("u1", 5, 5, 1)], "one event")


def _case_03(run: _Runner) -> None:
    _expect(spans(run([event(0), event(10)])[0]), [("u1", 0, 10, 2)], "a gap of exactly G")
    _expect(
        spans(run([event(0), event(10.001)])[0]),
        [("u1", 0, 0, 1), ("u1", 10.001, 10.001, 1)],
        "just over G",
    )


def _case_04(run: _Runner) -> None:
    got = spans(run([event(0), event(9), event(18), event(27)])[0])
    _expect(got, [("u1", 0, 27, 4)], "a chain longer than G")


def _case_05(run: _Runner) -> None:
    sessions, _, counts = run([event(3, "a"), event(3, "b"), event(3, "c"), event(3, "b")])
    _expect(spans(sessions), [("u1", 3, 3, 3)], "one ts, a repeated id")
    _expect((counts.accepted, counts.duplicates), (3, 1), "counts (accepted, duplicates)")


def _case_06(run: _Runner) -> None:
    events = [event(0, user="a"), event(1, user="b"), event(8, user="a"), event(15, user="b")]
    got = spans(run(events)[0])
    _expect(got, [("a", 0, 8, 2), ("b", 1, 1, 1), ("b", 15, 15, 1)], "two users")


def _case_07(run: _Runner) -> None:
    for order in itertools.permutations([5, 0, 9]):
        sessions, lates, _ = run([event(t) for t in order], lateness_s=10)
        _expect((spans(sessions), lates), ([("u1", 0, 9, 3)], []), f"arrival order {order}")


def _case_08(run: _Runner) -> None:
    sessions, lates, _ = run([event(0), event(18), event(9)], lateness_s=9)
    _expect((spans(sessions), lates), ([("u1", 0, 18, 3)], []), "a bridging event")


def _case_09(run: _Runner) -> None:
    sessions, lates, _ = run([event(0), event(20), event(10)], lateness_s=10)
    _expect((spans(sessions), lates), ([("u1", 0, 20, 3)], []), "a bridge at exactly G")


def _case_10(run: _Runner) -> None:
    sessions, _, _ = run([event(20), event(12)], lateness_s=8)
    _expect(spans(sessions), [("u1", 12, 20, 2)], "an earlier event")
    _expect(sessions[0].session_id, "u1@12000", "the session id moves back")


def _case_11(run: _Runner) -> None:
    sessions, lates, _ = run([event(10), event(5)], lateness_s=5)
    _expect((spans(sessions), lates), ([("u1", 5, 10, 2)], []), "ts equal to the watermark")


def _case_12(run: _Runner) -> None:
    sessions, lates, counts = run([event(0), event(5), event(30), event(8, "late-one")])
    _expect(spans(sessions), [("u1", 0, 5, 2), ("u1", 30, 30, 1)], "no re-emission")
    _expect([x.event.event_id for x in lates], ["late-one"], "the late output")
    _expect((counts.accepted, counts.late), (3, 1), "counts (accepted, late)")


def _case_13(run: _Runner) -> None:
    events = [event(0, user="a"), event(0, user="b"), event(50, user="a"), event(55, user="c")]
    sessions, _, _ = run(events, lateness_s=100)
    want = [("a", 0, 0, 1), ("a", 50, 50, 1), ("b", 0, 0, 1), ("c", 55, 55, 1)]
    _expect(spans(sessions), want, "the end of input flushes each session once")


def _totals(run: _Runner, events: list[Event]) -> CtrTotals:
    totals = CtrTotals()
    for s in run(events)[0]:
        totals.add(searches_of(s.events))
    return totals


def _case_14(run: _Runner) -> None:
    kinds: list[tuple[str, dict[str, Any]]] = [("app_open", {}), ("search", {})]
    kinds += [("results", {"items": 3})]
    kinds += [("click", {"position": 1}), ("click", {"position": 3})]
    totals = _totals(run, [event(t, kind=k, **f) for t, (k, f) in enumerate(kinds)])
    _expect((totals.ctr, totals.clicks_per_search), (1.0, 2.0), "(CTR, clicks per search)")


def _case_15(run: _Runner) -> None:
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("app_open", {}),
        ("click", {"position": 1}),
        ("search", {}),
        ("results", {"items": 2}),
    ]
    totals = _totals(run, [event(t, kind=k, **f) for t, (k, f) in enumerate(kinds)])
    _expect((totals.searches, totals.clicks), (1, 0), "a click before the first search")


def _case_16(run: _Runner) -> None:
    events = [event(0, kind="app_open"), event(2), event(5, kind="app_open"), event(6)]
    got = spans(run(events, split_on_app_open=True)[0])
    _expect(got, [("u1", 0, 2, 2), ("u1", 5, 6, 2)], "split_on_app_open")


def _case_17(run: _Runner) -> None:
    events = [event(0, kind="app_open"), event(2, kind="app_close"), event(3), event(4)]
    got = spans(run(events, close_on_app_close=True)[0])
    _expect(got, [("u1", 0, 2, 2), ("u1", 3, 4, 2)], "close_on_app_close")


# (number, what it checks, the rules it needs, the case)
CASES = [
    (1, "no events, no sessions", set(), _case_01),
    (2, "one event: one session at the end of input", set(), _case_02),
    (3, "a gap of exactly G stays; just over splits", set(), _case_03),
    (4, "a chain longer than G is one session", set(), _case_04),
    (5, "one ts, distinct ids: one session; a repeated id once", {"dedup"}, _case_05),
    (6, "users are independent", set(), _case_06),
    (7, "out of order within lateness: same session in every order", set(), _case_07),
    (8, "a late bridge merges two open sessions", set(), _case_08),
    (9, "a bridge at exactly G on both sides", {"finality"}, _case_09),
    (10, "an earlier event moves the start and the id back", set(), _case_10),
    (11, "an event exactly at the watermark is on time", set(), _case_11),
    (
        12,
        "behind the watermark: late output, no re-emission",
        {"streaming", "event_watermark"},
        _case_12,
    ),
    (13, "the end of input flushes every open session once", set(), _case_13),
    (14, "a search with two clicks: CTR 1, two clicks", set(), _case_14),
    (15, "a click before the first search is owned by none", set(), _case_15),
    (16, "split_on_app_open", {"markers"}, _case_16),
    (17, "close_on_app_close", {"markers"}, _case_17),
]


def run_conformance(factory: Callable, *, batch_only: bool = False) -> list[str]:
    """Run every case against sessionizers built by ``factory``; return one line per
    failure (an empty list: it conforms). A factory whose runs take a while to start (a
    JVM) says how long in ``startup_s``: each case is given that much more per run."""
    batch_only = batch_only or getattr(factory, "batch_only", False)
    differs = getattr(factory, "differs", {})
    timeout_s = CASE_TIMEOUT_S + RUNS_PER_CASE * getattr(factory, "startup_s", 0.0)
    run = _Runner(factory)
    failures = []
    for number, what, needs, case in CASES:
        if (batch_only and "streaming" in needs) or needs & set(differs):
            continue
        failure = _bounded(case, run, timeout_s)
        if failure is not None:
            failures.append(f"case {number} ({what}): {failure}")
    return failures


CASE_TIMEOUT_S = 10.0  # a case's events are a handful: any sessionizer answers in far less
RUNS_PER_CASE = 8  # the most runs a case makes (case 7: six orders), for ``startup_s``


def _bounded(case: Callable, run: _Runner, timeout_s: float = CASE_TIMEOUT_S) -> str | None:
    """Run one case in a thread, at most ``timeout_s``; return why it failed, if it did (a
    sessionizer that never returns is left behind in its daemon thread)."""
    failed: list[str] = []

    def work() -> None:
        try:
            case(run)
        except Exception as e:  # a failed expectation, or the sessionizer's own crash
            failed.append(f"{type(e).__name__}: {e}")

    thread = threading.Thread(target=work, name="conformance-case", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        return f"did not finish within {timeout_s:g} s"
    return failed[0] if failed else None
