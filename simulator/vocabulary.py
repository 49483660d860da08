"""An open-ended query vocabulary per language: a shared Zipf head, a growing tail, and the
results page each query finds.

A base query ``k`` is an integer. Ranks ``0..head-1`` follow Zipf(``zipf_exponent``); with
probability ``tail_share`` a search instead draws from a tail of 2^33 queries with P(k)
proportional to 1/k (log-uniform), so distinct queries keep growing with the number of
searches (Heaps' law). A query's words (``query_text``) come from its user's language, and a
share ``typo_rate`` of them is misspelled. Nothing is stored per query: its text, its
candidate items and their relevance grades are functions of the query and the seed (a
splitmix64 hash), so memory does not grow with the log.

A query's candidates come half from the pool of its first word's topic (so related queries,
which share that word, share items) and half from a run of items of its own; item indices
are rendered as opaque ids (``item_ids``), so no id gives away another. Whether a query
finds anything, and how much, is a property of the query: long and misspelled queries find
nothing more often, and find fewer items than a page more often.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker

from simulator.query_text import MAX_TERMS, TERMS_P, Lexicon, fields, pack
from simulator.scenario import Scenario
from simulator.streams import VOCABULARY, stream
from simulator.text import hex_bytes, splitmix64

__all__ = ["LANGUAGES", "Page", "Vocabulary", "build_vocabulary", "item_ids"]

# The word list each locale's users type in: Faker's lorem words of the language, then its
# names and places (queries name people and towns). Faker has no Portuguese or Hindi
# words: Brazilian and Indian users type English words.
LANGUAGES = {
    "en_US": "en_US",
    "en_GB": "en_US",
    "en_AU": "en_US",
    "hi_IN": "en_US",
    "pt_BR": "en_US",
    "es_MX": "es_MX",
    "de_DE": "de_DE",
    "fr_FR": "fr_FR",
    "ja_JP": "ja_JP",
}
# Word popularity within a language: Zipf, flatter than running text (query terms are
# content words; the distinct-query share of a 200k-user day reads as the AOL source).
WORD_ZIPF = 0.8
_ENTITIES = ("last_names", "first_names", "cities")  # Faker attributes: names and places
TAIL_SPACE = 1 << 33
# A query's chance of no results and of a short page, relative to the average, by its
# number of terms (long, specific queries match less), and for a misspelled query.
_TERMS_FACTOR = np.array([0.3, 0.5, 0.9, 1.5, 2.2, 3.0, 4.0, 5.0])
_TYPO_FACTOR = 4.0
_HEAD_FACTOR = 0.2  # a popular query, as typed: an index has results for it
SHORT_PAGE_BASE = 0.05  # a design choice: about one served search in 20 shows a short page


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


@dataclass(frozen=True, slots=True, eq=False)
class Vocabulary:
    """Sample queries, render their text and draw result pages; nothing stored per query."""

    head: int
    tail_share: float
    typo_rate: float
    head_cdf: np.ndarray
    lexicon: Lexicon
    language_of_locale: np.ndarray  # per scenario locale (in order): its language index
    salt: int
    catalog: int
    candidates: int
    page_size: int
    grade_cdf: np.ndarray
    ranking_noise: float
    difficulty: float
    zero_scale: float  # P(no results) of an average query, before its length and typo

    def sample(self, rng: np.random.Generator, n: int, lang: np.ndarray | int = 0) -> np.ndarray:
        """Draw ``n`` queries in languages ``lang``: the head by Zipf rank, else the 1/k
        tail; a share ``typo_rate`` misspelled."""
        head = np.searchsorted(self.head_cdf, rng.random(n), side="right")
        u = rng.random(n)
        tail = rng.random(n) < self.tail_share
        # Continuous 1/k on [head, head + space): k = head * ((head + space) / head) ** u.
        k = np.floor(self.head * ((self.head + TAIL_SPACE) / self.head) ** u).astype(np.int64)
        base = np.where(tail, np.minimum(k, self.head + TAIL_SPACE - 1), head)
        typo = np.where(rng.random(n) < self.typo_rate, rng.integers(1, 4, n), 0)
        return pack(base=base, typo=typo, lang=np.broadcast_to(lang, (n,)))

    def texts(self, queries: np.ndarray) -> list[str]:
        """The text of each query."""
        return self.lexicon.texts(queries)

    def text(self, query: int) -> str:
        """The text of one query: distinct queries have distinct keys, and the same words
        are the same query."""
        return self.lexicon.text(query)

    def first_word(self, queries: np.ndarray) -> np.ndarray:
        """The topic of each query: its first word, numbered across languages."""
        offsets = np.cumsum([0, *(len(w) for w in self.lexicon.words)])
        return offsets[fields(queries, "lang")] + self.lexicon.terms(queries)[:, 0]

    def pages(self, rng: np.random.Generator, queries: np.ndarray) -> Page:
        """Draw each search's results page: its query's candidates ranked by a noisy score.

        The ranker sees each candidate's grade plus Gaussian noise (``ranking_noise``), so
        the same item is shown at different ranks over a run. Queries differ in how many
        relevant candidates they have (``difficulty``). A page depends on the query's key:
        the same words find the same items.
        """
        n, c = len(queries), self.candidates
        key = self.lexicon.key(queries)
        slots = key[:, None] * np.uint64(c) + np.arange(c, dtype=np.uint64)
        u = _uniform(splitmix64(np.bitwise_xor(slots, np.uint64(self.salt))))
        # A hard query (w near 0) has few relevant candidates: its grades are pushed down.
        w = _uniform(splitmix64(key ^ np.uint64(self.salt ^ 2)))
        grades = np.searchsorted(self.grade_cdf, u * w[:, None] ** self.difficulty, side="right")
        items = self._candidates(queries, key)
        score = grades + self.ranking_noise * rng.standard_normal((n, c))
        top = np.argsort(-score, axis=1, kind="stable")[:, : self.page_size]
        return Page(
            np.take_along_axis(items, top, axis=1),
            np.take_along_axis(grades, top, axis=1),
            self._shown(queries, key),
        )

    def _candidates(self, queries: np.ndarray, key: np.ndarray) -> np.ndarray:
        """Each query's ``candidates`` distinct catalogue indices: the first half from its
        first word's topic pool (``pool`` slots, a query's own stride through them), the
        rest a run of its own beyond the pools."""
        c, catalog = self.candidates, self.catalog
        own = splitmix64(key ^ np.uint64(self.salt ^ 1)) >> np.uint64(1)
        pool = _next_prime(2 * c)
        topics = sum(len(w) for w in self.lexicon.words)
        pools = min(topics * pool, catalog // 2)
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
            topic = self.first_word(queries)
            items[:, :topical] = (topic[:, None] * pool + slot) % pools
        return items

    def _relative(self, queries: np.ndarray) -> np.ndarray:
        """A query's chance of no (or few) results relative to the average query."""
        terms = (self.lexicon.terms(queries) >= 0).sum(axis=1)
        typo = fields(queries, "typo") > 0
        as_typed = (fields(queries, "add") == 0) & (fields(queries, "drop") == 0) & ~typo
        head = as_typed & (fields(queries, "base") < self.head)
        return (
            _TERMS_FACTOR[np.clip(terms, 1, MAX_TERMS) - 1]
            * np.where(typo, _TYPO_FACTOR, 1.0)
            * np.where(head, _HEAD_FACTOR, 1.0)
        )

    def _shown(self, queries: np.ndarray, key: np.ndarray) -> np.ndarray:
        """How many results each query finds: none, a short page, or a full page."""
        relative = self._relative(queries)
        zero = _uniform(splitmix64(key ^ np.uint64(self.salt ^ 4))) < self.zero_scale * relative
        v = _uniform(splitmix64(key ^ np.uint64(self.salt ^ 5)))
        p_short = np.minimum(0.9, SHORT_PAGE_BASE * relative)
        short = v < p_short
        size = self.page_size
        count = np.where(short, 1 + (v / p_short * (size - 1)).astype(np.int64), size)
        return np.where(zero, 0, np.minimum(count, size))


def _next_prime(n: int) -> int:
    def prime(k: int) -> bool:
        return k > 1 and all(k % d for d in range(2, int(k**0.5) + 1))

    while not prime(n):
        n += 1
    return n


def _word_list(locale: str, rng: np.random.Generator) -> tuple[str, ...]:
    """A language's words, lower case, most popular first (a seeded order): its common
    words, then the names and places of its locale."""
    faker = Faker(locale)
    words = sorted({w.lower() for w in faker.get_words_list() if w.isalpha()})
    names: set[str] = set()
    for provider in faker.factories[0].providers:
        for attribute in _ENTITIES:
            names.update(w.lower() for w in getattr(provider, attribute, ()) if w.isalpha())
    rare = sorted(names - set(words))
    return tuple(
        [words[i] for i in rng.permutation(len(words))]
        + [rare[i] for i in rng.permutation(len(rare))]
    )


def build_vocabulary(scenario: Scenario) -> Vocabulary:
    """Build the scenario's vocabulary: a seeded word list per language and the head's Zipf
    weights."""
    q, clicks = scenario.queries, scenario.clicks
    rng = stream(scenario.seed, VOCABULARY)
    salt = int(rng.integers(0, 2**63))
    languages = tuple(sorted(set(LANGUAGES.values())))
    words = tuple(_word_list(lang, rng) for lang in languages)
    word_cdf = []
    for w in words:
        weights = 1.0 / np.arange(1, len(w) + 1) ** WORD_ZIPF
        cdf = np.cumsum(weights / weights.sum())
        cdf[-1] = 1.0
        word_cdf.append(cdf[:-1])
    lexicon = Lexicon(languages, words, tuple(word_cdf), salt)
    weights = 1.0 / np.arange(1, q.head + 1) ** q.zipf_exponent
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    candidates = min(max(q.candidates, q.results_per_page), q.catalog)
    grade_cdf = np.cumsum(np.asarray(clicks.grade_weights) / sum(clicks.grade_weights))[:-1]
    # Zero results: ``zero_result_rate`` over new queries as they are drawn (a head query
    # typed right gets the head factor; a misspelled one the typo factor).
    typo, tail = q.typo_rate, q.tail_share
    mean_relative = float((TERMS_P * _TERMS_FACTOR).sum()) * (
        (1 - tail) * (1 - typo) * _HEAD_FACTOR + tail * (1 - typo) + typo * _TYPO_FACTOR
    )
    return Vocabulary(
        head=q.head,
        tail_share=q.tail_share,
        typo_rate=q.typo_rate,
        head_cdf=cdf,
        lexicon=lexicon,
        language_of_locale=np.array(
            [languages.index(LANGUAGES[name]) for name in scenario.population.locales]
        ),
        salt=salt,
        catalog=q.catalog,
        candidates=candidates,
        page_size=min(q.results_per_page, candidates),
        grade_cdf=grade_cdf,
        ranking_noise=q.ranking_noise,
        difficulty=q.difficulty,
        zero_scale=q.zero_result_rate / mean_relative,
    )
