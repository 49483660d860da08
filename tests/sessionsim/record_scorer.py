"""The previous scorer, event by event in Python, kept as an oracle for the columnar one.

It is what ``check`` ran until the scoring moved to columns; the property test in
``test_scoring_columns.py`` holds the two equal on random streams.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from sessionsim.scoring.scorer import SessionScore


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


class _Visit:
    __slots__ = ("ids", "placed", "expected", "where")

    def __init__(self) -> None:
        self.ids: set[str] = set()  # delivered so far
        self.placed: set[str] = set()  # in a found session or late
        self.expected: int | None = None  # distinct events delivered in all (from the truth)
        self.where: list[tuple[int, bool]] = []  # per found session: (its events, pure?)


class Scorer:
    """Feed it deliveries, expectations, found sessions and late events; then ``score``."""

    def __init__(self, expected: np.ndarray | None = None) -> None:
        """``expected``: per visit (an int label), its distinct delivered events, when they
        are all known up front (``check``); a visit is then held only from its first
        delivery until it is scored, rather than for the whole run."""
        self._expected = expected
        self._opened = bytearray(len(expected)) if expected is not None else None
        self._label: dict[str, object] = {}  # event id -> its visit, while the visit is open
        self._open: dict[object, _Visit] = {}
        self.sessions_true = self.sessions_exact = self.splits = self.merges = 0
        self.sessions_found = self.unknown = self.repeated = self.unplaced = 0
        self.true_pairs = self.found_pairs = self.tp = 0

    def deliver(self, event_id: str, label: object) -> None:
        """Record the first delivery of an event of true visit ``label``.

        Report first deliveries only: a repeated delivery after its visit was scored would
        open it again.
        """
        if event_id in self._label or label is None:
            return
        visit = self._open.get(label)
        if visit is None:
            visit = self._open[label] = _Visit()
            opened, expected = self._opened, self._expected
            if opened is not None and expected is not None:
                i = cast(int, label)  # with ``expected``, labels are visit indexes
                if not opened[i]:
                    opened[i] = 1
                    visit.expected = int(expected[i]) or None
        visit.ids.add(event_id)
        self._label[event_id] = label

    def expect(self, label: object, delivered: int) -> None:
        """Record how many distinct events of visit ``label`` will be delivered in all."""
        if delivered == 0:
            return
        visit = self._open.get(label)
        if visit is None:
            visit = self._open[label] = _Visit()
        visit.expected = delivered
        self._settle(label, visit)

    def late(self, event_id: str) -> None:
        """Record an event the sessionizer rejected as late."""
        label = self._label.get(event_id)
        if label is not None:
            visit = self._open[label]
            visit.placed.add(event_id)
            self._settle(label, visit)

    def found(self, event_ids: list[str]) -> None:
        """Record one session a sessionizer reported."""
        ids = dict.fromkeys(event_ids)
        self.sessions_found += 1
        self.found_pairs += _pairs(len(ids))
        by_visit: dict[object, list[str]] = {}
        for eid in ids:
            label = self._label.get(eid)
            if label is None:
                self.unknown += 1  # not in the truth, or its visit was scored already
            else:
                by_visit.setdefault(label, []).append(eid)
        self.merges += len(by_visit) > 1
        pure = len(by_visit) == 1 and len(ids) == len(next(iter(by_visit.values()), ()))
        self.repeated += len(event_ids) - len(ids)  # twice in this session
        for label, members in by_visit.items():
            self.tp += _pairs(len(members))
            visit = self._open[label]
            self.repeated += len(visit.placed.intersection(members))  # in an earlier one
            visit.where.append((len(members), pure))
            visit.placed.update(members)
            self._settle(label, visit)

    def _settle(self, label: object, visit: _Visit, final: bool = False) -> None:
        if not final and (visit.expected is None or len(visit.placed) < visit.expected):
            return
        m = visit.expected if visit.expected is not None else len(visit.ids)
        self.unplaced += max(m - len(visit.placed), 0)
        self.sessions_true += 1
        self.true_pairs += _pairs(m)
        self.splits += len(visit.where) > 1
        self.sessions_exact += visit.where == [(m, True)]
        for eid in visit.ids:
            self._label.pop(eid, None)
        del self._open[label]

    def score(self) -> SessionScore:
        """Settle the visits still open (events never placed) and return the scores."""
        for label, visit in list(self._open.items()):
            self._settle(label, visit, final=True)
        if self._expected is not None and self._opened is not None:  # visits never found
            never = self._expected[np.frombuffer(self._opened, np.uint8) == 0]
            never = never[never > 0]
            self.sessions_true += len(never)
            self.true_pairs += int((never * (never - 1) // 2).sum())
            self.unplaced += int(never.sum())  # the truth says delivered; the stream had none
            self._opened[:] = b"\x01" * len(self._opened)  # scored once
        precision = self.tp / self.found_pairs if self.found_pairs else 1.0
        recall = self.tp / self.true_pairs if self.true_pairs else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return SessionScore(
            sessions_true=self.sessions_true,
            sessions_found=self.sessions_found,
            sessions_exact=self.sessions_exact,
            splits=self.splits,
            merges=self.merges,
            pairwise_precision=precision,
            pairwise_recall=recall,
            pairwise_f1=f1,
            unknown_events=self.unknown,
            repeated_events=self.repeated,
            unplaced_events=self.unplaced,
        )

    def open_visits(self) -> int:
        """Return how many true visits still have events in flight (the state held)."""
        return len(self._open)
