"""The columnar scorer gives exactly what the per-event scorer gave, in any batching.

Deliveries are known before any placement (``check`` takes them from the truth), so the
per-event oracle is told every first delivery up front, then the sessions and late events
in their order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionsim.scoring.scorer import Scorer
from sessionsim.scoring.truth_index import EventIndex
from tests.sessionsim.record_scorer import Scorer as RecordScorer


def _id(visit: int, k: int) -> str:
    """Mostly the simulator's form; some hand-made ids take the index's other path."""
    return f"{visit * 64 + k:016x}" if (visit + k) % 5 else f"v{visit}-e{k}"


@st.composite
def streams(draw):
    """True visits, and in order: found sessions and late events (with repeats, ids the
    truth does not know and ids never delivered), each cut into random batches; the
    ``deliver`` actions say which ids were delivered."""
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=10))
    visits = [[_id(v, k) for k in range(n)] for v, n in enumerate(sizes)]
    truth = [i for ids in visits for i in ids]
    pool = st.sampled_from([*truth, "unknown-1", f"{999_999:016x}"])
    actions = []
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["deliver", "found", "late"]))
        if kind == "found":
            sessions = draw(
                st.lists(st.lists(pool, min_size=1, max_size=7), min_size=1, max_size=4)
            )
            actions.append((kind, sessions))
        else:
            actions.append((kind, draw(st.lists(pool, min_size=1, max_size=8))))
    return visits, actions


def _expected(visits, actions) -> np.ndarray:
    sent = {i for kind, ids in actions if kind == "deliver" for i in ids}
    return np.array([sum(i in sent for i in ids) for ids in visits], np.int64)


def _record_score(visits, actions):
    visit_of = {i: v for v, ids in enumerate(visits) for i in ids}
    scorer = RecordScorer(expected=_expected(visits, actions))
    seen: set[str] = set()
    for kind, payload in actions:
        if kind == "deliver":
            for i in payload:
                if i not in seen:  # first deliveries only, as check's tap gave them
                    seen.add(i)
                    scorer.deliver(i, visit_of.get(i))
    for kind, payload in actions:
        if kind == "found":
            for session in payload:
                scorer.found(session)
        elif kind == "late":
            for i in payload:
                scorer.late(i)
    return scorer.score()


def _column_score(visits, actions):
    parts = [(pa.array(ids), np.full(len(ids), v)) for v, ids in enumerate(visits)]
    index = EventIndex(parts)
    delivered = np.zeros(len(index), dtype=bool)
    for kind, payload in actions:
        if kind == "deliver":
            pos, _ = index.lookup(pa.array(payload))
            delivered[pos[pos >= 0]] = True
    scorer = Scorer(index, _expected(visits, actions), delivered)
    for kind, payload in actions:
        if kind == "found":
            sizes = [len(s) for s in payload]
            offsets = np.concatenate(([0], np.cumsum(sizes)))
            scorer.found(pa.array([i for s in payload for i in s]), offsets)
        elif kind == "late":
            scorer.late(pa.array(payload))
    return scorer.score()


@settings(max_examples=500, deadline=None)
@given(streams())
def test_the_columnar_scorer_equals_the_per_event_scorer(stream):
    visits, actions = stream
    assert _column_score(visits, actions) == _record_score(visits, actions)


@settings(max_examples=100, deadline=None)
@given(streams())
def test_a_batch_of_sessions_scores_as_the_same_sessions_one_by_one(stream):
    visits, actions = stream
    one_by_one = [
        ("found", [s]) if kind == "found" else (kind, payload)
        for kind, payload in actions
        for s in (payload if kind == "found" else [None])
    ]
    assert _column_score(visits, one_by_one) == _column_score(visits, actions)
