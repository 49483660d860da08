"""Which query each search of a visit types: a new one, an edit of the one before
(reformulation), or one the user typed in an earlier visit (re-finding).

The first search of a visit repeats one of the user's last ``SLOTS`` queries with
``refind_prob`` (when the user has any), and then often clicks the item it clicked before.
Each later search edits the previous query with ``reformulation_prob``: it corrects a typo,
adds a word (specialization), leaves one out (generalization) or swaps one; else it is new.
A query carries one added word and one dropped term at most: an edit it cannot take gives
way to one it can.
The edit is kept in the query (``query_text.EDITS``), a label for the truth.
"""

from __future__ import annotations

import numpy as np

from simulator.query_text import EDIT_SHIFT, EDITS, MAX_TERMS, fields, pack
from simulator.scenario import Queries
from simulator.vocabulary import Vocabulary

__all__ = ["REPEAT", "SLOTS", "QueryHistory", "Typed", "draw_queries", "relabel_new"]

SLOTS = 4  # queries remembered per user
_EDIT = {name: code for code, name in enumerate(EDITS)}
_KEEP = ~np.int64(7 << EDIT_SHIFT)  # a query without its edit label
REPEAT = _EDIT["repeat"]


def relabel_new(query: int) -> int:
    """``query`` labelled a new query (a repeat of nothing the user typed)."""
    return query & int(_KEEP)


class QueryHistory:
    """Each user's last ``SLOTS`` planned queries, the item first clicked on each (-1:
    none) and when the visit that typed it is surely over. Recorded as visits are planned,
    so every shard that draws a cohort's plan holds the same history; what was really
    typed is checked at play (``Typed``)."""

    def __init__(self, users: int) -> None:
        self.query = np.full((users, SLOTS), -1, dtype=np.int64)
        self.item = np.full((users, SLOTS), -1, dtype=np.int64)
        self.known = np.full((users, SLOTS), np.inf)
        self.next = np.zeros(users, dtype=np.int64)

    def pick(
        self, users: np.ndarray, u: np.ndarray, now: np.ndarray | float = np.inf
    ) -> tuple[np.ndarray, np.ndarray]:
        """A remembered query of each user known before ``now`` (uniform ``u`` picks one of
        those slots) and its clicked item; -1 for a user with none."""
        ready = self.known[users] < np.asarray(now, dtype=np.float64).reshape(-1, 1)
        count = ready.sum(axis=1)
        nth = np.minimum((u * count).astype(np.int64), np.maximum(count - 1, 0))
        slot = np.argmax(np.cumsum(ready, axis=1) > nth[:, None], axis=1)
        query = np.where(count > 0, self.query[users, slot], -1)
        item = np.where(count > 0, self.item[users, slot], -1)
        return query, item

    def record(
        self, users: np.ndarray, queries: np.ndarray, items: np.ndarray, known: np.ndarray
    ) -> None:
        """Remember searches (in time order per user) known from ``known`` on (inf: not
        remembered): the last ``SLOTS`` of each user."""
        keep = np.isfinite(known)
        users, queries, items, known = users[keep], queries[keep], items[keep], known[keep]
        if not len(users):
            return
        order = np.argsort(users, kind="stable")
        u, q, it, when = users[order], queries[order] & _KEEP, items[order], known[order]
        start = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
        count = np.diff(np.r_[start, len(u)])
        rank = np.arange(len(u)) - np.repeat(start, count)
        last = rank >= np.repeat(count, count) - SLOTS
        slot = (self.next[u] + rank) % SLOTS
        self.query[u[last], slot[last]] = q[last]
        self.item[u[last], slot[last]] = it[last]
        self.known[u[last], slot[last]] = when[last]
        self.next[u[start]] += count


class Typed:
    """Each user's last ``SLOTS`` queries as played: what a repeat must be one of."""

    def __init__(self, users: int) -> None:
        self.query = np.full((users, SLOTS), -1, dtype=np.int64)
        self.next = [0] * users

    def remember(self, user: int, query: int) -> None:
        self.query[user, self.next[user] % SLOTS] = query & _KEEP
        self.next[user] += 1

    def has(self, user: int, query: int) -> bool:
        return bool((self.query[user] == (query & _KEEP)).any())


def _edit(
    vocab: Vocabulary, rng: np.random.Generator, prev: np.ndarray, lang: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One reformulation of each query ``prev``, and whether one could be made."""
    n = len(prev)
    terms = (vocab.lexicon.base_terms(fields(prev, "lang"), fields(prev, "base")) >= 0).sum(1)
    present = vocab.lexicon.terms(prev)
    u = rng.random(n)
    word = np.empty(n, dtype=np.int64)
    todo = np.ones(n, dtype=bool)
    for w in rng.random((4, n)):  # a word not in the query already (four tries, else none)
        for k, cdf in enumerate(vocab.lexicon.word_cdf):
            rows = (lang == k) & todo
            word[rows] = np.searchsorted(cdf, w[rows], side="right")
        todo &= (present == word[:, None]).any(axis=1)
    position = 1 + (rng.random(n) * terms).astype(np.int64)
    base, add, drop = fields(prev, "base"), fields(prev, "add"), fields(prev, "drop")
    typo = fields(prev, "typo")
    # A misspelling is corrected half the time; else add (45%), drop (20%), swap (35%). An
    # edit the query cannot take (one added word and one dropped term at most) gives way
    # to the next that it can, in that order: every query can take one of them.
    can = {
        "correction": typo > 0,
        "specialization": (add == 0) & ((present >= 0).sum(axis=1) < MAX_TERMS) & ~todo,
        "generalization": (add > 0) | ((drop == 0) & (terms >= 2)),
        "swap": (add == 0) & (drop == 0) & (terms >= 2) & ~todo,
    }
    v = np.where(typo > 0, (u - 0.5) * 2.0, u)
    wanted = np.where(
        (typo > 0) & (u < 0.5),
        _EDIT["correction"],
        np.select(
            [v < 0.45, v < 0.65], [_EDIT["specialization"], _EDIT["generalization"]], _EDIT["swap"]
        ),
    )
    chosen = np.zeros(n, dtype=np.int64)
    for name in ("correction", "specialization", "swap", "generalization"):  # wanted first
        hit = (wanted == _EDIT[name]) & can[name] & (chosen == 0)
        chosen[hit] = _EDIT[name]
    for name in ("specialization", "swap", "generalization", "correction"):  # then any
        hit = can[name] & (chosen == 0)
        chosen[hit] = _EDIT[name]
    correct, special = chosen == _EDIT["correction"], chosen == _EDIT["specialization"]
    general, swap = chosen == _EDIT["generalization"], chosen == _EDIT["swap"]
    edited = chosen > 0
    # A generalization drops the added word if there is one, else a term of the base.
    out_add = np.where(special | swap, word + 1, np.where(general, 0, add))
    out_drop = np.where(swap | (general & (add == 0)), position, drop)
    edit = chosen
    out = pack(
        base=base,
        add=out_add,
        drop=out_drop,
        typo=np.where(correct, 0, typo),
        lang=fields(prev, "lang"),
        edit=edit,
    )
    return out, edited


def draw_queries(
    rng: np.random.Generator,
    vocab: Vocabulary,
    q: Queries,
    users: np.ndarray,
    lang: np.ndarray,
    search_lo: np.ndarray,
    history: QueryHistory | None,
    arrived: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The query of each search (``users``, ``lang``: per search; ``search_lo``: each
    visit's first search, and one past the last; ``arrived``: per visit, no earlier than
    it starts) and, for a re-found query, the item its user clicked before (-1: none)."""
    total = len(users)
    queries = vocab.sample(rng, total, lang)
    refound = np.full(total, -1, dtype=np.int64)
    count = np.diff(search_lo)
    firsts = search_lo[:-1][count > 0]
    if history is not None and len(firsts):
        wants = rng.random(len(firsts)) < q.refind_prob
        now = np.inf if arrived is None else arrived[count > 0]
        old, item = history.pick(users[firsts], rng.random(len(firsts)), now)
        again = wants & (old >= 0)
        at = firsts[again]
        queries[at] = (old[again] & _KEEP) | np.int64(_EDIT["repeat"] << EDIT_SHIFT)
        refound[at] = item[again]
    position = np.arange(total) - np.repeat(search_lo[:-1], count)
    reform = rng.random(total) < q.reformulation_prob
    for j in range(1, int(count.max(initial=0))):
        at = np.flatnonzero((position == j) & reform)
        if len(at):
            edited, made = _edit(vocab, rng, queries[at - 1], lang[at])
            queries[at[made]] = edited[made]  # else a new query
    return queries, refound
