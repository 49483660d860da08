"""An open-ended query vocabulary: a shared Zipf head, a growing tail, pages drawn per search.

Query ``k`` is an integer. Ranks ``0..head-1`` follow Zipf(``zipf_exponent``) and are shared
by every user; with probability ``tail_share`` a search instead draws from a tail space of
``W**3`` queries with P(k) proportional to 1/k (log-uniform), so distinct queries keep
growing with the number of searches (Heaps' law). Nothing is stored per query: its text, its
candidate items and their relevance grades are functions of ``k`` and the seed (a
splitmix64 hash), so memory does not grow with the log.

A query's candidates come half from the pool of its first word's topic (so related queries,
which share that word, share items) and half from a run of items of its own; item indices
are rendered as opaque ids (``item_ids``), so no id gives away another. Whether a query has
results at all, and how many, is a property of the query: tail queries find nothing more
often than head queries and some find less than a page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker

from simulator.scenario import Scenario
from simulator.streams import VOCABULARY, stream
from simulator.text import hex_bytes

__all__ = ["Page", "Vocabulary", "build_vocabulary", "item_ids", "splitmix64"]

_M64 = np.uint64((1 << 64) - 1)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Return the splitmix64 finaliser of a uint64 array (a fast, well-mixed hash)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


SHORT_TAIL_SHARE = 0.3  # tail queries with fewer results than a page (a design choice)
HEAD_ZERO_FACTOR = 0.25  # a head query's zero-result chance, relative to the overall rate


@dataclass(frozen=True, slots=True)
class Page:
    """Results pages of a batch of searches: item ids and each shown item's grade, by rank,
    and how many the page shows (0: no results)."""

    items: np.ndarray  # (searches, ranks) int64 catalog indices
    grades: np.ndarray  # (searches, ranks) relevance grade of each shown item
    shown: np.ndarray  # (searches,) items on the page: 0 for a query without results


def _uniform(h: np.ndarray) -> np.ndarray:
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


_M48 = (1 << 48) - 1


def item_ids(items: np.ndarray, salt: int) -> np.ndarray:
    """Opaque 12-hex-digit ids of catalogue indices (a bijection of 48 bits: unique)."""
    x = (np.asarray(items, dtype=np.uint64) ^ np.uint64(salt & _M48)) & np.uint64(_M48)
    with np.errstate(over="ignore"):
        for mult in (0x9E3779B97F4B, 0xBF58476D1CE5, 0x94D049BB1331):
            x = (x * np.uint64(mult)) & np.uint64(_M48)
            x ^= x >> np.uint64(24)
    digits = np.ascontiguousarray(x, dtype=">u8").view(np.uint8).reshape(-1, 8)[:, 2:]
    return hex_bytes(digits)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Sample queries, render their text and draw result pages; nothing stored per query."""

    head: int
    tail_share: float
    head_cdf: np.ndarray
    words: tuple[str, ...]
    head_text: tuple[str, ...]
    salt: int
    catalog: int
    candidates: int
    page_size: int
    grade_cdf: np.ndarray
    ranking_noise: float
    difficulty: float
    zero_head: float  # P(a head query has no results)
    zero_tail: float  # ... a tail query

    @property
    def tail_space(self) -> int:
        return len(self.words) ** 3

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` query indices (int64): the head by Zipf rank, else the 1/k tail."""
        head = np.searchsorted(self.head_cdf, rng.random(n), side="right")
        u = rng.random(n)
        tail = rng.random(n) < self.tail_share
        space = self.tail_space
        # Continuous 1/k on [head, head + space): k = head * ((head + space) / head) ** u.
        k = np.floor(self.head * ((self.head + space) / self.head) ** u).astype(np.int64)
        return np.where(tail, np.minimum(k, self.head + space - 1), head)

    def text(self, k: int) -> str:
        """Return query ``k``'s text: distinct queries have distinct texts."""
        if k < self.head:
            return self.head_text[k]
        w = len(self.words)
        j = (k - self.head) * 2654435761 % self.tail_space  # a bijection, scrambling ranks
        return f"{self.words[j % w]} {self.words[j // w % w]} {self.words[j // (w * w)]}"

    def pages(self, rng: np.random.Generator, queries: np.ndarray) -> Page:
        """Draw each search's results page: its query's candidates ranked by a noisy score.

        The ranker sees each candidate's grade plus Gaussian noise (``ranking_noise``), so
        the same item is shown at different ranks over a run. Queries differ in how many
        relevant candidates they have (``difficulty``).
        """
        n, c = len(queries), self.candidates
        q64 = queries.astype(np.uint64)
        key = q64[:, None] * np.uint64(c) + np.arange(c, dtype=np.uint64)
        h = splitmix64(np.bitwise_xor(key, np.uint64(self.salt)))
        u = _uniform(h)
        # A hard query (w near 0) has few relevant candidates: its grades are pushed down.
        w = _uniform(splitmix64(q64 ^ np.uint64(self.salt ^ 2)))
        grades = np.searchsorted(self.grade_cdf, u * w[:, None] ** self.difficulty, side="right")
        items = self._candidates(queries)
        score = grades + self.ranking_noise * rng.standard_normal((n, c))
        top = np.argsort(-score, axis=1, kind="stable")[:, : self.page_size]
        return Page(
            np.take_along_axis(items, top, axis=1),
            np.take_along_axis(grades, top, axis=1),
            self._shown(queries),
        )

    def first_word(self, queries: np.ndarray) -> np.ndarray:
        """The index (into ``words``) of each query's first word, as ``text`` renders it."""
        k = np.asarray(queries, dtype=np.int64)
        w = len(self.words)
        two = (k - w) * 2654435761 % (w * w)  # head queries of two words
        three = (k - self.head) * 2654435761 % self.tail_space
        return np.where(k < w, k, np.where(k < self.head, two, three) % w)

    def _candidates(self, queries: np.ndarray) -> np.ndarray:
        """Each query's ``candidates`` distinct catalogue indices: the first half from its
        first word's topic pool (``pool`` slots, a query's own stride through them), the
        rest a run of its own beyond the pools."""
        c, catalog = self.candidates, self.catalog
        q64 = queries.astype(np.uint64)
        own = splitmix64(q64 ^ np.uint64(self.salt ^ 1)) >> np.uint64(1)
        pool = _next_prime(2 * c)
        pools = min(len(self.words) * pool, catalog // 2)
        topical = c // 2 if pools >= pool and catalog - pools >= c else 0
        region = catalog - pools if topical else catalog
        base = 0 if not topical else pools
        j = np.arange(c - topical)
        items = np.empty((len(queries), c), dtype=np.int64)
        items[:, topical:] = base + (own.astype(np.int64)[:, None] % region + j) % region
        if topical:
            start = (own >> np.uint64(20)).astype(np.int64) % pool
            stride = 1 + (own >> np.uint64(40)).astype(np.int64) % (pool - 1)
            slot = (start[:, None] + stride[:, None] * np.arange(topical)) % pool
            word = self.first_word(queries)
            items[:, :topical] = (word[:, None] * pool + slot) % pools
        return items

    def _shown(self, queries: np.ndarray) -> np.ndarray:
        """How many results each query finds: none (more often for tail queries), a short
        page (some tail queries) or a full page."""
        q64 = queries.astype(np.uint64)
        tail = queries >= self.head
        zero = _uniform(splitmix64(q64 ^ np.uint64(self.salt ^ 4))) < np.where(
            tail, self.zero_tail, self.zero_head
        )
        v = _uniform(splitmix64(q64 ^ np.uint64(self.salt ^ 5)))
        short = tail & (v < SHORT_TAIL_SHARE)
        size = self.page_size
        count = np.where(short, 1 + (v / SHORT_TAIL_SHARE * (size - 1)).astype(np.int64), size)
        return np.where(zero, 0, np.minimum(count, size))


def _next_prime(n: int) -> int:
    def prime(k: int) -> bool:
        return k > 1 and all(k % d for d in range(2, int(k**0.5) + 1))

    while not prime(n):
        n += 1
    return n


def _word_list(faker: Faker, rng: np.random.Generator) -> tuple[str, ...]:
    words = sorted({w.lower() for w in faker.get_words_list() if w.isalpha()})
    return tuple(words[i] for i in rng.permutation(len(words)))


def _head_text(words: tuple[str, ...], head: int) -> tuple[str, ...]:
    """Popular queries are short: one word, then two words (tail queries have three, so no
    head text is ever a tail text; ``head`` is at most ``w + w**2``)."""
    w = len(words)
    out = []
    for k in range(head):  # j: a bijective scramble, so neighbours share no word
        if k < w:
            out.append(words[k])
        else:
            j = (k - w) * 2654435761 % (w * w)
            out.append(f"{words[j % w]} {words[j // w]}")
    return tuple(out)


def build_vocabulary(scenario: Scenario) -> Vocabulary:
    """Build the scenario's vocabulary: a seeded word list and the head's Zipf weights."""
    q, clicks = scenario.queries, scenario.clicks
    faker = Faker("en_US")
    faker.seed_instance(scenario.seed)
    rng = stream(scenario.seed, VOCABULARY)
    words = _word_list(faker, rng)
    weights = 1.0 / np.arange(1, q.head + 1) ** q.zipf_exponent
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    candidates = min(max(q.candidates, q.results_per_page), q.catalog)
    grade_cdf = np.cumsum(np.asarray(clicks.grade_weights) / sum(clicks.grade_weights))[:-1]
    # Zero results: the overall rate, a head query a quarter as likely as the average.
    rate, tail = q.zero_result_rate, q.tail_share
    zero_head = rate if tail == 0 else rate * HEAD_ZERO_FACTOR
    zero_tail = min(1.0, (rate - (1 - tail) * zero_head) / tail) if tail > 0 else rate
    return Vocabulary(
        head=q.head,
        tail_share=q.tail_share,
        head_cdf=cdf,
        words=words,
        head_text=_head_text(words, q.head),
        salt=int(rng.integers(0, 2**63)),
        catalog=q.catalog,
        candidates=candidates,
        page_size=min(q.results_per_page, candidates),
        grade_cdf=grade_cdf,
        ranking_noise=q.ranking_noise,
        difficulty=q.difficulty,
        zero_head=zero_head,
        zero_tail=zero_tail,
    )
