"""Scoring sessions against true visits (SESSIONS.md section 5), whoever made them."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["SessionScore", "Scorer", "wilson_interval"]


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """Return the Wilson score interval of k successes in n trials (None when n = 0)."""
    if n == 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(slots=True)
class SessionScore:
    """Session accuracy against true visits, matched by event ids."""

    sessions_true: int
    sessions_found: int
    sessions_exact: int
    splits: int
    merges: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    unknown_events: int


@dataclass
class Scorer:
    """Collect true visits, delivered event ids and found sessions; then score.

    Memory holds one entry per event of the run: scoring is a join over the whole run.
    """

    _visit_of: dict[str, int] = field(default_factory=dict)
    _visits: list[list[str]] = field(default_factory=list)
    _delivered: set[str] = field(default_factory=set)
    _found_of: dict[str, int] = field(default_factory=dict)
    _found_sizes: list[int] = field(default_factory=list)

    def add_visit(self, session_id: str, event_ids: list[str]) -> None:
        """Record one true visit and every event generated in it."""
        index = len(self._visits)
        self._visits.append(event_ids)
        for eid in event_ids:
            self._visit_of[eid] = index

    def add_delivered(self, event_id: str) -> None:
        """Record that an event reached the collector (duplicates count once)."""
        self._delivered.add(event_id)

    def add_found(self, event_ids: list[str]) -> None:
        """Record one session a sessionizer reported."""
        index = len(self._found_sizes)
        self._found_sizes.append(len(event_ids))
        for eid in event_ids:
            self._found_of[eid] = index

    def for_another_run(self) -> Scorer:
        """Return a scorer sharing this one's truth and deliveries, with no sessions found."""
        return Scorer(self._visit_of, self._visits, self._delivered)

    def score(self) -> SessionScore:
        delivered, found_of, sizes = self._delivered, self._found_of, self._found_sizes
        visits_in_found = Counter()  # found session -> how many true visits it holds
        sessions_true = splits = true_pairs = tp = exact = 0
        for event_ids in self._visits:
            seen = [eid for eid in event_ids if eid in delivered]
            if not seen:
                continue
            sessions_true += 1
            true_pairs += _pairs(len(seen))
            where = Counter(found_of[eid] for eid in seen if eid in found_of)
            for f, c in where.items():
                visits_in_found[f] += 1
                tp += _pairs(c)
            if len(where) > 1:
                splits += 1
            elif len(where) == 1:
                ((f, c),) = where.items()
                exact += c == len(seen) == sizes[f]
        found_pairs = sum(_pairs(n) for n in sizes)
        precision = tp / found_pairs if found_pairs else 1.0
        recall = tp / true_pairs if true_pairs else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return SessionScore(
            sessions_true=sessions_true,
            sessions_found=len(sizes),
            sessions_exact=exact,
            splits=splits,
            merges=sum(1 for n in visits_in_found.values() if n > 1),
            pairwise_precision=precision,
            pairwise_recall=recall,
            pairwise_f1=f1,
            unknown_events=sum(1 for eid in found_of if eid not in self._visit_of),
        )
