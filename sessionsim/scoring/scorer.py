"""Scoring sessions against true visits (docs/semantics.md section 5), whoever made them.

On columns: deliveries, found sessions and late events come in batches of event ids, and
are joined to the truth (``truth_index``) with sorted arrays. State is a few bytes per event
and per visit of the run, nothing per event in Python.

A true visit is settled once every delivered event of it has been placed (in a found
session, or as late); an event placed again after that is unknown to the score, and one
placed again before is repeated. Pairs are counted over distinct event ids: a duplicate
delivery kept in a session (dedup off) changes CTR, not the grouping scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sessionsim.scoring.truth_index import EventIndex, id_keys

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
    unknown_events: int  # placed in a session, unknown to the truth or its visit scored already
    repeated_events: int  # placed twice while its visit is open (two sessions, or one twice)
    unplaced_events: int  # delivered, yet in no session and not reported late


def _pair_sum(sizes: np.ndarray) -> int:
    sizes = sizes.astype(np.int64, copy=False)
    return int((sizes * (sizes - 1) // 2).sum())


class Scorer:
    """Feed it found sessions and late events, in the order they came (each a batch of
    event ids); then ``score``."""

    def __init__(self, index: EventIndex, expected: np.ndarray, delivered: np.ndarray) -> None:
        """``index``: every true event and its visit; ``expected``: per visit, how many of
        its events were delivered (distinct), from the truth; ``delivered``: per event of
        the index, whether it was (an event placed and never delivered is unknown)."""
        self.index = index
        self.expected = np.asarray(expected, dtype=np.int64)
        visits, events = len(self.expected), len(index)
        self.delivered = np.asarray(delivered, dtype=bool)
        self.placed = np.zeros(events, dtype=bool)
        self.placed_count = np.zeros(visits, dtype=np.int64)
        self.settled = np.zeros(visits, dtype=bool)
        self.where_count = np.zeros(visits, dtype=np.int64)  # found sessions holding it
        self.first_members = np.zeros(visits, dtype=np.int64)  # in the first of them
        self.first_pure = np.zeros(visits, dtype=bool)  # the first holds nothing else
        self.sessions_found = self.found_pairs = self.tp = 0
        self.merges = self.unknown = self.repeated = 0

    def _place(
        self, pos: np.ndarray, label: np.ndarray, output: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Place events (in order; ``output`` numbers the session or late event each is in,
        non-decreasing); return which were known (delivered, visit not settled when placed)
        and which of those were placed for the first time."""
        n = len(pos)
        safe_pos, safe_label = np.maximum(pos, 0), np.maximum(label, 0)
        cand = (pos >= 0) & self.delivered[safe_pos] & ~self.settled[safe_label]
        idx = np.flatnonzero(cand)
        first = np.zeros(len(idx), dtype=bool)
        first[np.unique(pos[idx], return_index=True)[1]] = True
        new = np.zeros(n, dtype=bool)
        new[idx[first & ~self.placed[pos[idx]]]] = True
        # Visits settled in this batch: where a visit's placed count reaches its expected.
        fresh = np.flatnonzero(new)
        order = np.argsort(label[fresh], kind="stable")
        v = label[fresh][order]
        known = cand
        if len(v):
            head = np.r_[True, v[1:] != v[:-1]]
            count = np.arange(len(v)) - np.flatnonzero(head)[np.cumsum(head) - 1] + 1
            expected = self.expected[v]
            reach = (expected > 0) & (self.placed_count[v] + count == expected)
            settled_v, settled_at = v[reach], output[fresh[order][reach]]
            if len(settled_v):  # each visit reaches its count once: settled_v is sorted, unique
                at = np.minimum(np.searchsorted(settled_v, safe_label), len(settled_v) - 1)
                late_for_it = (settled_v[at] == label) & (output > settled_at[at])
                known = cand & ~late_for_it
                self.settled[settled_v] = True
        new &= known
        self.placed[pos[new]] = True
        self.placed_count += np.bincount(label[new], minlength=len(self.expected))
        return known, new

    def found(self, ids: pa.Array, offsets: np.ndarray) -> None:
        """Record found sessions: session ``k`` holds ``ids[offsets[k]:offsets[k + 1]]``."""
        sizes = np.diff(offsets)
        sessions = len(sizes)
        self.sessions_found += sessions
        if len(ids) == 0:
            return
        session = np.repeat(np.arange(sessions, dtype=np.int64), sizes)
        keys, ok = id_keys(ids)
        if not ok.all():  # ids of another form: compared by value
            keys = pc.dictionary_encode(ids).indices.to_numpy().astype(np.uint64)
        order = np.lexsort((keys, session))  # stable: a repeated id's first place leads
        ks, ss = keys[order], session[order]
        lead = np.r_[True, (ks[1:] != ks[:-1]) | (ss[1:] != ss[:-1])]
        kept = np.sort(order[lead])
        self.repeated += len(ids) - len(kept)  # twice in one session
        distinct = np.bincount(session[kept], minlength=sessions)
        self.found_pairs += _pair_sum(distinct)
        if ok.all():
            pos, label = self.index.lookup_keys(ids, keys[kept], ok[kept])
        else:
            pos, label = self.index.lookup(ids.take(pa.array(kept)))
        output = session[kept]
        known, new = self._place(pos, label, output)
        self.unknown += int((~known).sum())
        self.repeated += int((known & ~new).sum())  # placed already (in a session, or late)
        visits = len(self.expected)
        pair = np.unique(output[known] * visits + label[known], return_counts=True)
        group_session, group_visit = pair[0] // visits, pair[0] % visits
        members = pair[1]
        self.tp += _pair_sum(members)
        per_session = np.bincount(group_session, minlength=sessions)
        self.merges += int((per_session > 1).sum())
        pure = (per_session == 1) & (np.bincount(output[known], minlength=sessions) == distinct)
        firsts = np.unique(group_visit, return_index=True)[1]  # each visit's first session
        v = group_visit[firsts]
        opening = self.where_count[v] == 0
        self.first_members[v[opening]] = members[firsts][opening]
        self.first_pure[v[opening]] = pure[group_session[firsts]][opening]
        self.where_count += np.bincount(group_visit, minlength=visits)

    def late(self, ids: pa.Array) -> None:
        """Record events the sessionizer rejected as late, in the order it did."""
        pos, label = self.index.lookup(ids)
        self._place(pos, label, np.arange(len(pos)))

    def score(self) -> SessionScore:
        """The scores; visits still unsettled count what was never placed."""
        expected = self.expected
        delivered = np.bincount(self.index.visits[self.delivered], minlength=len(expected))
        m = np.where(expected > 0, expected, delivered)
        counted = (expected > 0) | (delivered > 0)
        true_pairs = _pair_sum(m[counted])
        unplaced = int(np.maximum(m - self.placed_count, 0)[counted].sum())
        exact = (self.where_count == 1) & (self.first_members == m) & self.first_pure
        precision = self.tp / self.found_pairs if self.found_pairs else 1.0
        recall = self.tp / true_pairs if true_pairs else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return SessionScore(
            sessions_true=int(counted.sum()),
            sessions_found=self.sessions_found,
            sessions_exact=int(exact.sum()),
            splits=int((self.where_count > 1).sum()),
            merges=self.merges,
            pairwise_precision=precision,
            pairwise_recall=recall,
            pairwise_f1=f1,
            unknown_events=self.unknown,
            repeated_events=self.repeated,
            unplaced_events=unplaced,
        )
