"""What a query is and how it reads: an integer that names its words, its language, how it
was edited from an earlier query, and a typo; and the text it renders to.

A query is an int64 (non-negative) packing:

- ``base`` (bits 0-33): a head rank (below ``head``) or a tail index; its words are a
  function of (language, base) and the seed: a number of terms drawn independently of
  popularity (mean about 2.4, a long tail), each term drawn from the language's words by a
  Zipf law over words, so queries share common words;
- ``add`` (bits 34-45): a word appended (0: none; else word index + 1): a specialisation;
- ``drop`` (bits 46-49): a term left out (0: none; else its position + 1): a
  generalisation;
- ``typo`` (bits 50-53): a misspelling of one term (0: none; 1, 2, 3: a letter dropped,
  two swapped, one doubled, where a hash of the words says);
- ``lang`` (bits 54-57): the language (its word list);
- ``edit`` (bits 58-60): how the query came from the user's previous one (``EDITS``), a
  label for the truth that does not change the text.

Two queries with the same words, language and typo are the same query (``key``), whatever
their base: the page a search gets depends on the key, so the same text always finds the
same items.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from simulator.text import splitmix64

__all__ = ["EDITS", "EDIT_SHIFT", "MAX_TERMS", "TERMS_P", "Lexicon", "fields", "pack"]

MAX_TERMS = 8
# Terms per query, 1..8: web search logs average about 2.4 terms (Silverstein et al. 1999:
# 2.35 on AltaVista; Jansen, Spink and Saracevic 2000: 2.21 on Excite) with a long tail.
TERMS_P = np.array([0.29, 0.33, 0.20, 0.10, 0.045, 0.02, 0.01, 0.005])
EDITS = ("new", "specialization", "generalization", "swap", "correction", "repeat")

_SHIFTS = {"base": 0, "add": 34, "drop": 46, "typo": 50, "lang": 54, "edit": 58}
_BITS = {"base": 34, "add": 12, "drop": 4, "typo": 4, "lang": 4, "edit": 3}
EDIT_SHIFT = _SHIFTS["edit"]


def pack(**parts: np.ndarray | int) -> np.ndarray:
    """Build queries from their fields (missing fields are 0)."""
    out: np.ndarray | None = None
    for name, value in parts.items():
        v = (np.asarray(value, dtype=np.int64) & ((1 << _BITS[name]) - 1)) << _SHIFTS[name]
        out = v if out is None else out | v
    assert out is not None
    return np.asarray(out, dtype=np.int64)


def fields(queries: np.ndarray, name: str) -> np.ndarray:
    """One field of each query."""
    q = np.asarray(queries, dtype=np.int64)
    return (q >> _SHIFTS[name]) & ((1 << _BITS[name]) - 1)


_UNIT = 1 << 53  # the resolution of a hash's uniform draw


def _uniform(h: np.ndarray) -> np.ndarray:
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass(frozen=True, slots=True, eq=False)
class Lexicon:
    """The words of each language, their Zipf popularity, and the queries' terms."""

    languages: tuple[str, ...]
    words: tuple[tuple[str, ...], ...]  # per language, most popular first
    word_cdf: tuple[np.ndarray, ...]  # per language
    salt: int
    # Every language's CDF in one sorted integer array, so one search draws words for all:
    # language k's thresholds ceil(cdf * 2^53) + k * 2^53, and where each language starts.
    _thresholds: np.ndarray = field(init=False, repr=False)
    _starts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        scaled = [
            np.ceil(c * _UNIT).astype(np.int64) + np.int64(k * _UNIT)  # integer sums: exact
            for k, c in enumerate(self.word_cdf)
        ]
        flat = np.concatenate(scaled) if scaled else np.zeros(0, dtype=np.int64)
        object.__setattr__(self, "_thresholds", flat)
        starts = np.cumsum([0, *(len(c) for c in self.word_cdf)])[:-1]
        object.__setattr__(self, "_starts", starts.astype(np.int64))

    def _words(self, lang: np.ndarray, h: np.ndarray) -> np.ndarray:
        """A word of each row's language, Zipf-popular, from a hash: exactly
        ``searchsorted(word_cdf[lang], u, "right")`` for u the hash's 53-bit uniform, in
        one search over all languages (integers, so no rounding)."""
        key = (h >> np.uint64(11)).astype(np.int64) + lang * np.int64(_UNIT)
        return np.searchsorted(self._thresholds, key, side="right") - self._starts[lang]

    def base_terms(self, lang: np.ndarray, base: np.ndarray) -> np.ndarray:
        """The words (indices; -1 past the last) of base queries: (n, MAX_TERMS)."""
        lang = np.asarray(lang, dtype=np.int64)
        h = splitmix64(
            np.asarray(base, dtype=np.uint64) ^ np.uint64(self.salt)
            ^ (lang.astype(np.uint64) << np.uint64(40))
        )  # fmt: skip
        count = 1 + np.searchsorted(np.cumsum(TERMS_P)[:-1], _uniform(h), side="right")
        terms = np.full((len(lang), MAX_TERMS), -1, dtype=np.int64)
        for j in range(MAX_TERMS):
            todo = j < count
            for attempt in range(4):  # a word already in the query is drawn again
                rows = np.flatnonzero(todo)
                drawn = splitmix64(h[rows] + np.uint64(j + 1 + 16 * attempt))
                terms[rows, j] = self._words(lang[rows], drawn)
                todo &= (terms[:, :j] == terms[:, j : j + 1]).any(axis=1)
                if not todo.any():
                    break
        return terms

    def terms(self, queries: np.ndarray) -> np.ndarray:
        """The words of queries after their edits: (n, MAX_TERMS), -1 past the last."""
        q = np.asarray(queries, dtype=np.int64)
        terms = self.base_terms(fields(q, "lang"), fields(q, "base"))
        drop = fields(q, "drop")
        for rows in np.unique(drop[drop > 0]).tolist():  # shift the rest left
            at = drop == rows
            j = rows - 1
            kept = np.delete(terms[at], j, axis=1)
            terms[at] = np.c_[kept, np.full(int(at.sum()), -1)]
        add = fields(q, "add")
        adding = np.flatnonzero(add > 0)
        if len(adding):
            count = (terms[adding] >= 0).sum(axis=1)
            slot = np.minimum(count, MAX_TERMS - 1)
            terms[adding, slot] = add[adding] - 1
        only_one = (terms >= 0).sum(axis=1) == 0  # a single term dropped: keep it
        if only_one.any():
            terms[only_one] = self.base_terms(
                fields(q[only_one], "lang"), fields(q[only_one], "base")
            )
        return terms

    def key(self, queries: np.ndarray) -> np.ndarray:
        """What makes two queries the same: language, words and typo (uint64)."""
        q = np.asarray(queries, dtype=np.int64)
        terms = self.terms(q)
        h = splitmix64(
            (fields(q, "lang") << 8 | fields(q, "typo")).astype(np.uint64) ^ np.uint64(self.salt)
        )
        for j in range(MAX_TERMS):
            h = splitmix64(h ^ (terms[:, j] + 1).astype(np.uint64))
        return h

    def texts(self, queries: np.ndarray) -> list[str]:
        """The text a user typed for each query (rendered once per distinct query)."""
        q = np.asarray(queries, dtype=np.int64) & ~np.int64(7 << _SHIFTS["edit"])
        if not len(q):
            return []
        unique, back = np.unique(q, return_inverse=True)
        terms = self.terms(unique).tolist()
        langs = fields(unique, "lang").tolist()
        typos = fields(unique, "typo").tolist()
        rendered = []
        for row, lang, typo in zip(terms, langs, typos, strict=True):
            words = self.words[lang]
            said = [words[w] for w in row if w >= 0]
            rendered.append(" ".join(_misspell(said, typo) if typo else said))
        return [rendered[i] for i in back.tolist()]

    def text(self, query: int) -> str:
        """The text a user typed for ``query``."""
        return self.texts(np.array([query]))[0]


def _misspell(terms: list[str], typo: int) -> list[str]:
    """One letter edit in the first term: a letter dropped, two swapped or one doubled,
    where a hash of the word says. The same words and typo read the same, and a word added
    at the end keeps it where it was."""
    i = 0
    word = terms[i]
    at = zlib.crc32(word.encode()) % max(1, len(word) - 1)
    kind = (typo - 1) % 3
    if kind == 0 and len(word) > 1:
        word = word[:at] + word[at + 1 :]
    elif kind == 1 and len(word) > 1 and word[at] != word[at + 1]:
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    else:
        word = word[: at + 1] + word[at] + word[at + 1 :]
    return [*terms[:i], word, *terms[i + 1 :]]
