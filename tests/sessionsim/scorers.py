"""A columnar scorer over hand-written visits (label -> event ids), for tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sessionsim.scoring.scorer import Scorer
from sessionsim.scoring.truth_index import EventIndex


class VisitScorer:
    """``Scorer`` with one call per session or late event, over named visits."""

    def __init__(self, visits: dict[str, list[str]], delivered: dict[str, int] | None = None):
        labels = list(visits)
        parts = [
            (pa.array(visits[k], pa.string()), np.full(len(visits[k]), v))
            for v, k in enumerate(labels)
        ]
        counts = delivered or {}
        expected = np.array([counts.get(k, len(visits[k])) for k in labels], np.int64)
        index = EventIndex(parts)
        sent = [i for k in labels if counts.get(k, 1) for i in visits[k]]
        delivered = np.zeros(len(index), dtype=bool)
        pos, _ = index.lookup(pa.array(sent, pa.string()))
        delivered[pos[pos >= 0]] = True
        self.scorer = Scorer(index, expected, delivered)

    def found(self, ids: list[str]) -> None:
        self.scorer.found(pa.array(ids, pa.string()), np.array([0, len(ids)]))

    def late(self, event_id: str) -> None:
        self.scorer.late(pa.array([event_id]))

    def score(self):
        return self.scorer.score()
